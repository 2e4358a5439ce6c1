//! Reads are tried again: a cart service that fails every other `GetCart`
//! with `UNAVAILABLE` (a replica restarting, a dropped connection) costs the
//! storefront one retry per read, not an error page. Writes are sent once.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use boutique_platform::{GrpcServer, Telemetry, testing::TestServer};
use boutique_proto::{
    AddItemRequest, Cart, Empty, EmptyCartRequest, GetCartRequest,
    cart_service_server::{CartService, CartServiceServer},
};
use reqwest::StatusCode;
use tonic::{Request, Response, Status};

use crate::helpers::Shop;

/// A cart that is always empty, fails every odd `GetCart` and every
/// `AddItem`, and counts both.
#[derive(Debug, Clone, Default)]
struct StutteringCart {
    reads: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl CartService for StutteringCart {
    async fn add_item(&self, _: Request<AddItemRequest>) -> Result<Response<Empty>, Status> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        Err(Status::unavailable("stuttering"))
    }

    async fn get_cart(&self, request: Request<GetCartRequest>) -> Result<Response<Cart>, Status> {
        if self.reads.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
            return Err(Status::unavailable("stuttering"));
        }
        Ok(Response::new(Cart {
            user_id: request.into_inner().user_id,
            items: Vec::new(),
        }))
    }

    async fn empty_cart(&self, _: Request<EmptyCartRequest>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }
}

async fn spawn(cart: &StutteringCart) -> TestServer {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = GrpcServer::bind(&Telemetry::detached("stuttering-cart"), listen)
        .await
        .unwrap()
        .add_service(CartServiceServer::new(cart.clone()));
    TestServer::spawn(server.local_addr(), |stop| server.run_until(stop))
}

#[tokio::test]
async fn a_failed_read_is_tried_again_and_a_failed_write_is_not() {
    let cart = StutteringCart::default();
    let server = spawn(&cart).await;
    let addr = server.addr().to_string();
    let shop = Shop::start_with(&[("CART_SERVICE_ADDR", &addr)]).await;
    let browser = shop.browser();

    // The cart page needs the cart: each view's first GetCart fails, its
    // retry answers.
    for view in 1..=3 {
        assert_eq!(browser.get("/cart").await.status(), StatusCode::OK);
        assert_eq!(cart.reads.load(Ordering::SeqCst), 2 * view);
    }
    // Adding to the cart is not safe to repeat: one attempt, then the page
    // that says to try again.
    let added = browser
        .post("/cart", &[("product_id", "OLJCESPC7Z"), ("quantity", "1")])
        .await;
    assert_eq!(added.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(cart.writes.load(Ordering::SeqCst), 1);
    shop.stop_frontend().await;
    server.stop().await;
}
