//! `productCatalogFailure` over real gRPC, with the demo's targeting: only
//! `GetProduct` of OLJCESPC7Z fails; other products, listing and search work.

use std::time::Duration;

use boutique_proto::{Empty, GetProductRequest};
use boutique_testkit::{eventually, flags::FlagFile};
use tonic::Code;

use crate::helpers::spawn_app_with;

/// The repository's flag file with `productCatalogFailure` switched on
/// (`defaultVariant: on`; its targeting keeps other products off).
fn switched_on(file: &FlagFile, on: bool) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/flags/boutique.flagd.json"
    ))
    .unwrap();
    let mut flags: serde_json::Value = serde_json::from_str(&text).unwrap();
    flags["flags"]["productCatalogFailure"]["defaultVariant"] =
        (if on { "on" } else { "off" }).into();
    let aside = file.path().with_extension("tmp");
    std::fs::write(&aside, flags.to_string()).unwrap();
    std::fs::rename(&aside, file.path()).unwrap();
}

#[tokio::test]
async fn product_catalog_failure_fails_one_product_only() {
    let file = FlagFile::with(&[]);
    switched_on(&file, true);
    let settings = file.env();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&settings).await;
    let get = |id: &'static str| {
        let mut client = app.client.clone();
        async move {
            client
                .get_product(GetProductRequest { id: id.into() })
                .await
        }
    };
    let status = eventually(
        "OLJCESPC7Z fails on purpose",
        Duration::from_secs(10),
        || async { get("OLJCESPC7Z").await.err() },
    )
    .await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    get("66VCHSJNUP").await.expect("another product");
    let listed = app.client.clone().list_products(Empty {}).await.unwrap();
    assert_eq!(listed.into_inner().products.len(), 9);

    switched_on(&file, false);
    eventually("OLJCESPC7Z is back", Duration::from_secs(10), || async {
        get("OLJCESPC7Z").await.ok()
    })
    .await;
    app.server.stop().await;
}
