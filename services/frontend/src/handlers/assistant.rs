//! `GET /assistant` (the chat page) and `POST /bot` (its pass-through to the
//! shopping assistant), as upstream, except that the assistant is optional.
//!
//! Without `SHOPPING_ASSISTANT_SERVICE_ADDR` the page says the assistant is
//! not set up, with status 200: the page itself is served as it should be (a
//! 5xx would count a deliberate setting against the shop's error rate, and a
//! 404 would say the page does not exist while upstream clients expect it),
//! and `POST /bot` answers 503 with a JSON `error`, which a script can act on.

use askama::Template;
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use serde::Serialize;

use crate::{State as AppState, ctx::Ctx, error::AppError, handlers::json_error, views::Chrome};

/// The largest question accepted: the message plus a photo as a data URL.
pub(crate) const MAX_QUESTION_BYTES: usize = 8 * 1024 * 1024;

/// The chat page, or the note that there is no assistant.
#[derive(Debug, Template)]
#[template(path = "assistant.html")]
pub(crate) struct AssistantPage {
    pub(crate) chrome: Chrome,
    pub(crate) configured: bool,
}

/// `GET /assistant`. No backend is asked (upstream fetched the currencies
/// only to hide the switcher), so the page works while they are down.
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Html<String>, AppError> {
    let page = AssistantPage {
        chrome: Chrome::new(&state, &ctx, "Shopping assistant", &[], None),
        configured: state.assistant.is_some(),
    };
    Ok(Html(page.render()?))
}

/// What `POST /bot` answers, as upstream.
#[derive(Debug, Serialize)]
struct Reply {
    message: String,
}

/// `POST /bot`: the JSON body goes to the assistant as it is; its answer's
/// `content` comes back as `{"message": ...}`. Every failure is a JSON
/// `error` with a 4xx or 5xx status.
pub(crate) async fn bot(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(assistant) = &state.assistant else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the shopping assistant is not configured",
        );
    };
    let question = match body {
        Ok(question) => question,
        Err(rejection) => return json_error(rejection.status(), &rejection.body_text()),
    };
    let is_object =
        serde_json::from_slice::<serde_json::Value>(&question).is_ok_and(|value| value.is_object());
    if !is_object {
        return json_error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object such as {\"message\": \"...\"}",
        );
    }
    match assistant.ask(question).await {
        Ok(message) => Json(Reply { message }).into_response(),
        Err(error) => {
            let status = error.status();
            // The shopper's question is theirs: only the failure is logged.
            tracing::warn!(
                status = status.as_u16(),
                error = %error.chain(),
                "The assistant gave no answer."
            );
            json_error(status, error.public_message())
        }
    }
}
