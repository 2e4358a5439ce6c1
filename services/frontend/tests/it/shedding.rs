//! Load shedding: past `MAX_IN_FLIGHT_REQUESTS` requests at once, the next
//! is refused at once with a 503 and `Retry-After`, health still answers,
//! and the shop serves again as soon as a request finishes.

use std::time::Duration;

use boutique_testkit::eventually;
use reqwest::{StatusCode, header};
use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::helpers::Shop;

/// Starts a form post that holds its request open: the headers promise a
/// body that never comes, so the handler waits for it.
async fn hold_a_request(origin: &str) -> TcpStream {
    let addr = origin.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /cart HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nproduct_id="
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn past_the_limit_requests_are_refused_at_once_and_health_still_answers() {
    let shop = Shop::start_with(&[("MAX_IN_FLIGHT_REQUESTS", "1")]).await;
    let browser = shop.browser();
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);

    let held = hold_a_request(&shop.origin()).await;
    let refused = eventually("a request shed", Duration::from_secs(10), || async {
        let response = browser.get("/").await;
        (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
    })
    .await;
    assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
    let html = refused.text().await.unwrap();
    assert!(html.contains("taking a short break"), "{html}");
    let problem = browser.get("/api/v1/products").await;
    assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        problem.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(browser.get("/_healthz").await.status(), StatusCode::OK);

    // The held request ends (its body cut short), and the shop serves again.
    drop(held);
    eventually(
        "the shop serving again",
        Duration::from_secs(10),
        || async { (browser.get("/").await.status() == StatusCode::OK).then_some(()) },
    )
    .await;
}
