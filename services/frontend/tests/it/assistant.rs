//! `/assistant` and `/bot`: without an assistant, with a tiny one (an axum
//! server on 127.0.0.1:0 speaking upstream's protocol), and with one that
//! fails in each way an assistant can.

use std::future::pending;

use axum::{
    Json, Router,
    http::{HeaderMap, StatusCode as AxumStatus},
    response::{IntoResponse, Response},
    routing::post,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::Shop;

/// The assistant: upstream's `POST /` with `{message, image}`, answering
/// `{"content": ...}`. The message picks how it behaves.
async fn assistant(headers: HeaderMap, body: String) -> Response {
    let question: Value = serde_json::from_str(&body).unwrap_or_default();
    let message = question["message"].as_str().unwrap_or_default();
    match message {
        "fail" => (AxumStatus::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "garbage" => "<html>not json</html>".into_response(),
        "huge" => "x".repeat(2 * 1024 * 1024).into_response(),
        "hang" => pending().await,
        _ => {
            let json = headers
                .get("content-type")
                .is_some_and(|v| v == "application/json");
            let image = question["image"].as_str().unwrap_or_default();
            Json(json!({
                "content": format!("You said {message:?} (json: {json}, image: {image:?}). Try [OLJCESPC7Z]."),
                "details": {"ignored": true},
            }))
            .into_response()
        }
    }
}

/// The assistant, listening; its `host:port`.
async fn start_assistant() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/", post(assistant));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr.to_string()
}

async fn bot(shop: &Shop, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/bot", shop.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/json", "{status}");
    // reqwest's `json` feature is off in the workspace.
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

#[tokio::test]
async fn without_an_assistant_the_page_says_so_and_bot_is_503() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let html = browser.page("/assistant").await;
    assert!(html.contains("data-testid=\"assistant-off\""), "{html}");
    assert!(!html.contains("assistant.js"));
    // The header links to it only with ENABLE_ASSISTANT.
    assert!(!browser.page("/").await.contains("/assistant\""));

    let (status, body) = bot(&shop, r#"{"message": "hi"}"#).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "the shopping assistant is not configured");
}

#[tokio::test]
async fn the_assistant_answers_through_bot() {
    let addr = start_assistant().await;
    let shop = Shop::start_with(&[
        ("SHOPPING_ASSISTANT_SERVICE_ADDR", &addr),
        ("ENABLE_ASSISTANT", "true"),
    ])
    .await;
    let browser = shop.browser();
    let html = browser.page("/assistant").await;
    assert!(html.contains("data-assistant"), "{html}");
    assert!(html.contains("data-bot-url=\"/bot\""), "{html}");
    // Our own script, no inline one (the CSP allows only 'self').
    assert!(html.contains("<script src=\"/static/assistant.js\" defer></script>"));
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count()
    );
    let script = browser.get("/static/assistant.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.text().await.unwrap().contains("dataset.botUrl"));
    // ENABLE_ASSISTANT puts the link in every page's header.
    assert!(browser.page("/").await.contains("href=\"/assistant\""));

    let question = json!({"message": "a lamp for my desk", "image": "data:image/png;base64,AAAA"});
    let (status, body) = bot(&shop, question.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"message": "You said \"a lamp for my desk\" (json: true, image: \"data:image/png;base64,AAAA\"). Try [OLJCESPC7Z]."})
    );
}

#[tokio::test]
async fn bad_questions_are_refused_before_the_assistant() {
    let addr = start_assistant().await;
    let shop = Shop::start_with(&[("SHOPPING_ASSISTANT_SERVICE_ADDR", &addr)]).await;
    for bad in ["", "not json", "[1, 2]", "\"a string\""] {
        let (status, body) = bot(&shop, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            body["error"].as_str().unwrap().contains("JSON object"),
            "{bad}"
        );
    }
    let photo = format!(
        r#"{{"message": "hi", "image": "data:image/png;base64,{}"}}"#,
        "A".repeat(9 * 1024 * 1024)
    );
    let (status, body) = bot(&shop, photo).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn assistant_failures_are_clean_json_errors() {
    let addr = start_assistant().await;
    let shop = Shop::start_with(&[
        ("SHOPPING_ASSISTANT_SERVICE_ADDR", &addr),
        // Long enough for a busy machine; the hanging case waits it out.
        ("ASSISTANT_TIMEOUT", "2s"),
    ])
    .await;
    let cases = [
        ("fail", StatusCode::BAD_GATEWAY),
        ("garbage", StatusCode::BAD_GATEWAY),
        ("huge", StatusCode::BAD_GATEWAY),
        ("hang", StatusCode::GATEWAY_TIMEOUT),
    ];
    for (message, expected) in cases {
        let (status, body) = bot(&shop, json!({"message": message}).to_string()).await;
        assert_eq!(status, expected, "{message}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.starts_with("the shopping assistant "), "{error}");
        assert!(!error.contains("127.0.0.1"), "{error}");
    }
    // The shop still answers after all that.
    let (status, _) = bot(&shop, json!({"message": "still there?"}).to_string()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreachable_assistant_is_503() {
    // Port 1 (tcpmux) is privileged and unused: connections are refused. A
    // port freed by this test could be taken by another test's server.
    let shop = Shop::start_with(&[("SHOPPING_ASSISTANT_SERVICE_ADDR", "127.0.0.1:1")]).await;
    let (status, body) = bot(&shop, r#"{"message": "hello?"}"#).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "the shopping assistant is unavailable");
    // The page is still the chat page: the assistant is configured, only down.
    assert!(
        shop.browser()
            .page("/assistant")
            .await
            .contains("data-assistant")
    );
}
