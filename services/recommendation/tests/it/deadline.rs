//! The caller's deadline reaches the catalog call.

use std::time::Duration;

use boutique_platform::{Env, GrpcServer, Telemetry, testing::TestServer};
use boutique_proto::{
    Empty, GetProductRequest, ListProductsResponse, ListRecommendationsRequest, Product,
    SearchProductsRequest, SearchProductsResponse,
    product_catalog_service_server::{ProductCatalogService, ProductCatalogServiceServer},
};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use crate::helpers::spawn_app_with;

/// A catalog that reports the `grpc-timeout` each ListProducts call carried.
struct RecordingCatalog {
    timeouts: mpsc::UnboundedSender<Option<String>>,
}

#[tonic::async_trait]
impl ProductCatalogService for RecordingCatalog {
    async fn list_products(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        let timeout = request
            .metadata()
            .get("grpc-timeout")
            .map(|v| v.to_str().unwrap().to_owned());
        self.timeouts.send(timeout).unwrap();
        Ok(Response::new(ListProductsResponse { products: vec![] }))
    }

    async fn get_product(
        &self,
        _: Request<GetProductRequest>,
    ) -> Result<Response<Product>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn search_products(
        &self,
        _: Request<SearchProductsRequest>,
    ) -> Result<Response<SearchProductsResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }
}

async fn spawn_recording_catalog() -> (TestServer, mpsc::UnboundedReceiver<Option<String>>) {
    let (timeouts, received) = mpsc::unbounded_channel();
    let listen = Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")])
        .listen_addr(0)
        .unwrap();
    let server = GrpcServer::bind(&Telemetry::detached("fake-catalog"), listen)
        .await
        .unwrap()
        .add_service(ProductCatalogServiceServer::new(RecordingCatalog {
            timeouts,
        }));
    let addr = server.local_addr();
    (
        TestServer::spawn(addr, |stop| server.run_until(stop)),
        received,
    )
}

/// Parses the `grpc-timeout` shapes tonic writes (it picks the unit).
fn as_duration(value: &str) -> Duration {
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().unwrap();
    match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        other => panic!("unknown unit {other}"),
    }
}

#[tokio::test]
async fn the_callers_deadline_is_passed_on_and_a_default_applies_without_one() {
    let (catalog, mut timeouts) = spawn_recording_catalog().await;
    // Uncached, so each recommendation calls the catalog and shows its deadline.
    let mut app = spawn_app_with(&catalog, &[("CACHE_TTL", "0")]).await;

    let mut request = Request::new(ListRecommendationsRequest::default());
    request.set_timeout(Duration::from_millis(1500));
    let reply = app.client.list_recommendations(request).await.unwrap();
    assert!(reply.into_inner().product_ids.is_empty());
    let sent = timeouts
        .recv()
        .await
        .unwrap()
        .expect("a grpc-timeout header");
    // What is left of the caller's 1.5 s when the catalog is called: the
    // deadline is absolute, so time already spent is not given again.
    let left = as_duration(&sent);
    assert!(
        left <= Duration::from_millis(1500) && left > Duration::from_millis(1000),
        "{sent}"
    );

    app.client
        .list_recommendations(ListRecommendationsRequest::default())
        .await
        .unwrap();
    let sent = timeouts
        .recv()
        .await
        .unwrap()
        .expect("a grpc-timeout header");
    assert_eq!(as_duration(&sent), Duration::from_secs(10), "{sent}");

    app.server.stop().await;
    catalog.stop().await;
}
