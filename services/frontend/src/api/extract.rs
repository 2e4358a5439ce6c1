//! What the API's handlers read from a request, each read failing with a
//! problem document instead of axum's plain-text rejections: the JSON body
//! ([`ApiJson`]), the query string ([`query`]), the currency prices are
//! shown in ([`currency`]) and a page of a list ([`Page`]).

use axum::{
    body::Bytes,
    extract::{FromRequest, Query, Request, rejection::QueryRejection},
    http::header,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::de::DeserializeOwned;

use crate::{
    State as AppState,
    api::{
        caller::ApiCaller,
        problem::{ApiError, Code},
    },
    validate::Fields,
};

/// The longest body the API reads; a checkout is well under 1 KiB.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// Longest `?q=` accepted.
pub(crate) const MAX_QUERY_LEN: usize = 100;

/// A JSON body. The media type must be `application/json` (415 otherwise),
/// which is also what keeps a cross-site HTML form from posting here. A body
/// that is not JSON is a 400; JSON of the wrong shape a 422 naming the field
/// by JSON pointer, never echoing its value (it may be a card number).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                Code::UnsupportedMediaType,
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    Code::PayloadTooLarge,
                    format!("the body may be at most {MAX_BODY_BYTES} bytes"),
                )
            } else {
                ApiError::new(Code::BadRequest, "the body could not be read")
                    .caused_by(rejection.body_text())
            }
        })?;
        parse(&bytes).map(Self)
    }
}

/// `application/json`, with parameters (`; charset=utf-8`) allowed.
fn is_json(value: Option<&header::HeaderValue>) -> bool {
    value
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The body as `T`; see [`ApiJson`].
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |error: &serde_json::Error| {
        ApiError::new(
            Code::MalformedJson,
            format!(
                "the body is not JSON (line {}, column {})",
                error.line(),
                error.column()
            ),
        )
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let inner = error.inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let mut field = pointer(error.path());
                let reason = reason(inner);
                // serde names a missing field in its message, at the parent's path.
                if let Some(name) = reason
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.strip_suffix('`'))
                {
                    field = format!("{field}/{name}");
                    return ApiError::field(Code::ValidationFailed, &field, "is required");
                }
                ApiError::field(Code::ValidationFailed, &field, reason)
            }
            _ => malformed(inner),
        }
    })?;
    // Trailing text after the document is as malformed as a cut-short one.
    deserializer.end().map_err(|error| malformed(&error))?;
    Ok(value)
}

/// A serde path (`credit_card.number`, `items[0]`) as a JSON pointer.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => pointer.push_str(variant),
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

/// serde's reason without the value it quotes (`invalid type: string
/// "4432…", expected i64` becomes `expected i64`) and without the position.
fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let text = text.split(" at line ").next().unwrap_or_default();
    match text.rsplit_once(", expected ") {
        Some((_, expected)) if text.starts_with("invalid ") => format!("expected {expected}"),
        _ if text.starts_with("invalid ") => "has the wrong type or value".to_owned(),
        _ => text.to_owned(),
    }
}

/// The query string as fields; one that does not decode is a 400.
pub(crate) fn query(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Fields, ApiError> {
    query
        .map(|Query(pairs)| Fields::new(pairs))
        .map_err(|_| ApiError::field(Code::InvalidParameter, "query", "cannot be decoded"))
}

/// The currency to price in: `?currency=` if given, else the session's
/// currency cookie, else USD. It must be one the currency service supports
/// (422 otherwise).
pub(crate) async fn currency(
    state: &AppState,
    caller: &ApiCaller,
    fields: &Fields,
) -> Result<String, ApiError> {
    let asked = fields.get("currency");
    let code = if asked.is_empty() {
        caller.currency()
    } else {
        asked
    };
    let supported = state.backends.supported_currencies().await?;
    if supported.iter().any(|known| known == code) {
        Ok(code.to_owned())
    } else {
        Err(ApiError::field(
            Code::UnsupportedCurrency,
            "currency",
            "is not a currency GET /api/v1/currencies lists",
        ))
    }
}

/// A page of a list held whole in memory (the catalog): `page_size` 1 to
/// 100 (default 20) and an opaque `page_token` from the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) size: usize,
    pub(crate) offset: usize,
}

/// What page tokens of the product list encode before base64.
const TOKEN_PREFIX: &str = "products:";

impl Page {
    /// The page the query asks for; 400 naming each bad parameter.
    pub(crate) fn from_fields(fields: &Fields) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let size = match fields.get("page_size") {
            "" => 20,
            raw => match raw.parse::<usize>() {
                Ok(size @ 1..=100) => size,
                _ => {
                    errors.push(("page_size", "must be a whole number from 1 to 100"));
                    0
                }
            },
        };
        let offset = match fields.get("page_token") {
            "" => 0,
            raw => Self::decode(raw).unwrap_or_else(|| {
                errors.push(("page_token", "is not a token this API gave out"));
                0
            }),
        };
        if errors.is_empty() {
            Ok(Self { size, offset })
        } else {
            Err(ApiError::fields(
                Code::InvalidParameter,
                errors
                    .into_iter()
                    .map(|(field, reason)| crate::api::problem::FieldProblem {
                        field: field.to_owned(),
                        reason: reason.to_owned(),
                    })
                    .collect(),
            ))
        }
    }

    /// The slice of `items` on this page and the next page's token.
    pub(crate) fn slice<'a, T>(&self, items: &'a [T]) -> (&'a [T], Option<String>) {
        let start = self.offset.min(items.len());
        let end = start.saturating_add(self.size).min(items.len());
        let next = (end < items.len()).then(|| Self::encode(end));
        (&items[start..end], next)
    }

    fn encode(offset: usize) -> String {
        URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{offset}"))
    }

    fn decode(token: &str) -> Option<usize> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let digits = text.strip_prefix(TOKEN_PREFIX)?;
        // Only what `encode` writes: no sign, no leading zeros.
        if digits.starts_with('+') || (digits.len() > 1 && digits.starts_with('0')) {
            return None;
        }
        digits.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // Read only through Debug.
    struct Card {
        number: String,
        cvv: i64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        credit_card: Card,
    }

    #[test]
    fn bodies_fail_with_pointers_and_never_echo_values() {
        let error = parse::<Body>(br#"{"credit_card": {"number": 4432801561520454, "cvv": 1}}"#)
            .unwrap_err();
        assert_eq!(error.code(), Code::ValidationFailed);
        let text = format!("{error:?}");
        assert!(text.contains("/credit_card/number"), "{text}");
        assert!(!text.contains("4432801561520454"), "{text}");
        let missing = parse::<Body>(br#"{"credit_card": {"number": "x"}}"#).unwrap_err();
        assert!(format!("{missing:?}").contains("/credit_card/cvv"));
        for broken in [
            &b"{"[..],
            b"",
            b"nope",
            br#"{"credit_card": {"number": "x", "cvv": 1}} {}"#,
        ] {
            assert_eq!(
                parse::<Body>(broken).unwrap_err().code(),
                Code::MalformedJson
            );
        }
    }

    #[test]
    fn only_json_is_json() {
        let value = |text: &'static str| Some(header::HeaderValue::from_static(text));
        assert!(is_json(value("application/json").as_ref()));
        assert!(is_json(value("Application/JSON; charset=utf-8").as_ref()));
        assert!(!is_json(value("text/plain").as_ref()));
        assert!(!is_json(
            value("application/x-www-form-urlencoded").as_ref()
        ));
        assert!(!is_json(None));
    }

    #[test]
    fn pages_round_trip_and_refuse_foreign_tokens() {
        let fields = |pairs: &[(&str, &str)]| {
            Fields::new(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        let items: Vec<u32> = (0..9).collect();
        let first = Page::from_fields(&fields(&[("page_size", "4")])).unwrap();
        let (got, next) = first.slice(&items);
        assert_eq!(got, [0, 1, 2, 3]);
        let next = next.unwrap();
        let second =
            Page::from_fields(&fields(&[("page_size", "4"), ("page_token", &next)])).unwrap();
        assert_eq!(second.slice(&items).0, [4, 5, 6, 7]);
        let last = Page::from_fields(&fields(&[
            ("page_size", "4"),
            ("page_token", &second.slice(&items).1.unwrap()),
        ]))
        .unwrap();
        assert_eq!(last.slice(&items), (&[8][..], None));
        for bad in [
            ("page_size", "0"),
            ("page_size", "101"),
            ("page_size", "-1"),
            ("page_size", "x"),
            ("page_token", "garbage!"),
            ("page_token", "cHJvZHVjdHM6MDE"),
        ] {
            assert!(Page::from_fields(&fields(&[bad])).is_err(), "{bad:?}");
        }
        // Past the end is an empty last page, not an error.
        let far = Page {
            size: 5,
            offset: 50,
        };
        assert_eq!(far.slice(&items), (&[][..], None));
    }
}
