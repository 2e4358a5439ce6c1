//! The shopping assistant client: upstream's optional Python service, spoken
//! to over plain HTTP/JSON (`POST http://{SHOPPING_ASSISTANT_SERVICE_ADDR}/`
//! with `{message, image}`, answered with `{"content": ...}`).
//!
//! Unlike upstream's pass-through, every exchange has a deadline
//! (`ASSISTANT_TIMEOUT`) and a bounded answer ([`MAX_ANSWER_BYTES`]), and each
//! way it can fail is an [`AssistantError`] with the status the shopper's
//! browser gets: 503 when the assistant cannot be reached, 504 when it is too
//! slow, 502 when its answer is unusable.

use std::time::Duration;

use axum::{body::Bytes, http::StatusCode};
use serde::Deserialize;

/// The largest answer read from the assistant: far above any chat reply, and
/// small enough that a broken assistant cannot exhaust our memory.
pub(crate) const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why the assistant gave no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AssistantError {
    /// Nothing listens at the address, or the connection broke: 503.
    #[error("cannot reach the assistant")]
    Unreachable(#[source] reqwest::Error),
    /// No complete answer within the deadline: 504.
    #[error("the assistant did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// It answered with an error status: 502.
    #[error("the assistant answered HTTP {0}")]
    Status(StatusCode),
    /// Its answer is larger than [`MAX_ANSWER_BYTES`]: 502.
    #[error("the assistant's answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    /// Its answer is not `{"content": "..."}`: 502.
    #[error("the assistant's answer is not the expected JSON: {0}")]
    Malformed(#[source] serde_json::Error),
}

impl AssistantError {
    /// The status `POST /bot` answers with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Status(_) | Self::TooLarge | Self::Malformed(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// What the shopper's browser is told: no addresses, no internals.
    pub(crate) fn public_message(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "the shopping assistant is unavailable",
            Self::Timeout(_) => "the shopping assistant did not answer in time",
            Self::Status(_) | Self::TooLarge | Self::Malformed(_) => {
                "the shopping assistant gave an unusable answer"
            }
        }
    }

    /// The error and its causes, for the log.
    pub(crate) fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// The part of the assistant's answer we use.
#[derive(Debug, Deserialize)]
struct Answer {
    content: String,
}

/// A client for one assistant.
#[derive(Debug, Clone)]
pub(crate) struct Assistant {
    url: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl Assistant {
    /// A client for the assistant at `addr` (`host:port`); nothing connects yet.
    pub(crate) fn new(addr: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            // Its address comes from our settings; a redirect is not part of
            // the protocol and is not followed anywhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            url: format!("http://{addr}/"),
            timeout,
            http,
        })
    }

    /// Sends the shopper's JSON `question` and returns the answer's `content`.
    pub(crate) async fn ask(&self, question: Bytes) -> Result<String, AssistantError> {
        tokio::time::timeout(self.timeout, self.exchange(question))
            .await
            .map_err(|_| AssistantError::Timeout(self.timeout))?
    }

    async fn exchange(&self, question: Bytes) -> Result<String, AssistantError> {
        let mut response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(question)
            .send()
            .await
            .map_err(AssistantError::Unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(AssistantError::Status(status));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
        {
            return Err(AssistantError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(AssistantError::Unreachable)?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(AssistantError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(AssistantError::Malformed)?;
        Ok(answer.content)
    }
}
