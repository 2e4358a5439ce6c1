//! `bench-ceiling IP:PORT [BYTES]`: serves `GET /` with a fixed HTML body of
//! BYTES bytes (default 6144) and nothing else. The fastest the shop's own
//! HTTP stack (axum on a multi-threaded tokio runtime) can answer on this
//! machine: the ceiling that `scripts/bench/run.sh` compares the shop with.

use axum::{Router, body::Bytes, http::header, response::IntoResponse, routing::get};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18999".to_owned());
    let size: usize = args
        .next()
        .map_or(6144, |s| s.parse().expect("BYTES must be a number"));
    let body = Bytes::from(page(size));
    let app =
        Router::new().route(
            "/",
            get(move || {
                let body = body.clone();
                async move {
                    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!(
        "ceiling listening on {}",
        listener.local_addr().expect("addr")
    );
    axum::serve(listener, app).await.expect("serve");
}

/// An HTML page of exactly `size` bytes (at least the skeleton's length).
fn page(size: usize) -> String {
    let head =
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ceiling</title></head><body><p>";
    let tail = "</p></body></html>\n";
    let filler = size.saturating_sub(head.len() + tail.len());
    let mut html = String::with_capacity(size);
    html.push_str(head);
    html.extend(std::iter::repeat_n('x', filler));
    html.push_str(tail);
    html
}
