//! What one evaluation costs, measured and printed, never asserted (timing
//! depends on the machine): `cargo test -p boutique-flags --test cost --release
//! -- --nocapture`. The figures are noted in docs/flags.md.

use std::time::{Duration, Instant};

use boutique_flags::{Flags, FlagsConfig, config::OFFLINE_PATH_VAR};
use boutique_platform::{Env, Telemetry};
use boutique_testkit::eventually;

const ROUNDS: u32 = 20_000;

async fn per_call<F: Future<Output = bool>>(mut evaluate: impl FnMut() -> F) -> Duration {
    let start = Instant::now();
    let mut hits = 0u32;
    for _ in 0..ROUNDS {
        hits += u32::from(evaluate().await);
    }
    std::hint::black_box(hits);
    start.elapsed() / ROUNDS
}

#[tokio::test]
async fn print_the_cost_of_an_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.json");
    let repo_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/flags/boutique.flagd.json"
    );
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_file).unwrap()).unwrap();
    file["flags"]["adFailure"]["defaultVariant"] = "on".into();
    file["flags"]["productCatalogFailure"]["defaultVariant"] = "on".into();
    std::fs::write(&path, file.to_string()).unwrap();

    let off = Flags::new(&FlagsConfig::Off, &Telemetry::detached("ad"));
    let env = Env::from_pairs([(OFFLINE_PATH_VAR, path.to_str().unwrap())]);
    let flags = Flags::new(
        &FlagsConfig::from_env(&env).unwrap(),
        &Telemetry::detached("ad"),
    );
    eventually("the file is loaded", Duration::from_secs(10), || async {
        flags.bool("adFailure").await.then_some(())
    })
    .await;

    let no_source = per_call(|| off.bool("adFailure")).await;
    let statically_off = per_call(|| flags.bool("adHighCpu")).await;
    let on = per_call(|| flags.bool("adFailure")).await;
    let targeted =
        per_call(|| flags.bool_in("productCatalogFailure", &[("product_id", "66VCHSJNUP")])).await;
    eprintln!(
        "per evaluation: no source {no_source:?}; file, flag off {statically_off:?}; \
         file, flag on (recorded) {on:?}; file, targeted flag (recorded) {targeted:?}"
    );
}
