//! What a request must hold before anything is asked or stored: each rule
//! answers `INVALID_ARGUMENT` with a message naming the field, never a panic.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use boutique_platform::RpcError;
use boutique_proto::boutique::ratings::v1::{ListRatingsRequest, PutRatingRequest};
use boutique_store::ratings::{MAX_ID_LEN, MAX_TEXT_CHARS};
use uuid::Uuid;

/// Pages hold at most this many ratings.
pub const MAX_PAGE: u32 = 50;
/// Pages hold this many ratings when the caller does not say.
const DEFAULT_PAGE: u32 = 10;
/// GetSummaries answers for at most this many product ids at once.
pub const MAX_SUMMARIES: usize = 100;

/// The prefix of every account id the accounts service gives out.
const ACCOUNT_PREFIX: &str = "acct-";

/// An account id as the accounts service makes them: `acct-` and a UUID in
/// its lowercase hyphenated form. Only that form, so one account cannot rate
/// twice under two spellings of its id.
pub(crate) fn account_id(value: &str) -> Result<(), RpcError> {
    if value.is_empty() {
        return Err(RpcError::invalid(
            "account_id is required: only signed-in shoppers can rate",
        ));
    }
    let canonical = value
        .strip_prefix(ACCOUNT_PREFIX)
        .and_then(|rest| Uuid::try_parse(rest).ok().map(|uuid| (rest, uuid)))
        .is_some_and(|(rest, uuid)| uuid.hyphenated().to_string() == rest);
    if !canonical {
        return Err(RpcError::invalid(
            "account_id must be an account id (acct- and a lowercase UUID): guests cannot rate",
        ));
    }
    Ok(())
}

/// A product id worth asking the catalog about.
pub(crate) fn product_id(value: &str) -> Result<(), RpcError> {
    if value.trim().is_empty() {
        return Err(RpcError::invalid("product_id is required"));
    }
    if value.len() > MAX_ID_LEN || value.chars().any(char::is_control) {
        return Err(RpcError::invalid(format!(
            "product_id must be at most {MAX_ID_LEN} bytes without control characters"
        )));
    }
    Ok(())
}

/// Stars, 1 to 5.
pub(crate) fn stars(value: i32) -> Result<u8, RpcError> {
    u8::try_from(value)
        .ok()
        .filter(|stars| (1..=5).contains(stars))
        .ok_or_else(|| RpcError::invalid(format!("stars must be 1 to 5, not {value}")))
}

/// Review text: at most [`MAX_TEXT_CHARS`] characters, and no control
/// characters but newline and tab (a stray carriage return, escape or NUL is
/// refused rather than silently changed: the text is stored as sent).
pub(crate) fn text(value: &str) -> Result<(), RpcError> {
    let mut count = 0;
    for (at, c) in value.chars().enumerate() {
        if c.is_control() && c != '\n' && c != '\t' {
            return Err(RpcError::invalid(format!(
                "text must not contain control characters other than newline and tab \
                 (U+{:04X} at character {})",
                u32::from(c),
                at + 1
            )));
        }
        count += 1;
    }
    if count > MAX_TEXT_CHARS {
        return Err(RpcError::invalid(format!(
            "text must be at most {MAX_TEXT_CHARS} characters, not {count}"
        )));
    }
    Ok(())
}

/// A PutRating request's fields: the stars as a number, or the first rule broken.
pub(crate) fn put(request: &PutRatingRequest) -> Result<u8, RpcError> {
    account_id(&request.account_id)?;
    product_id(&request.product_id)?;
    let stars = stars(request.stars)?;
    text(&request.text)?;
    Ok(stars)
}

/// The key of one rating (GetRating, DeleteRating): an account and a product.
pub(crate) fn key(account: &str, product: &str) -> Result<(), RpcError> {
    account_id(account)?;
    product_id(product)
}

/// A ListRatings request: the page size and the position after which the
/// page starts, if any.
pub(crate) fn list(request: &ListRatingsRequest) -> Result<(u32, Option<(i64, String)>), RpcError> {
    product_id(&request.product_id)?;
    let size = page_size(request.page_size);
    let after = parse_page_token(&request.product_id, &request.page_token)?;
    Ok((size, after))
}

/// The page size asked for, bounded.
pub(crate) fn page_size(asked: u32) -> u32 {
    match asked {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

/// The ids of a GetSummaries request, bounded.
pub(crate) fn summary_ids(ids: &[String]) -> Result<(), RpcError> {
    if ids.len() > MAX_SUMMARIES {
        return Err(RpcError::invalid(format!(
            "at most {MAX_SUMMARIES} product_ids per call, not {}",
            ids.len()
        )));
    }
    ids.iter().try_for_each(|id| product_id(id))
}

/// The token naming the position after a rating (its time and account) in
/// one product's list. Opaque to callers: base64 of our own text.
pub(crate) fn page_token(product_id: &str, updated_at_ms: i64, account_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("1:{updated_at_ms}:{account_id}:{product_id}"))
}

/// The position a page token names, or `INVALID_ARGUMENT` for a token this
/// service did not give out for this product.
pub(crate) fn parse_page_token(
    product_id: &str,
    token: &str,
) -> Result<Option<(i64, String)>, RpcError> {
    if token.is_empty() {
        return Ok(None);
    }
    let refused = || RpcError::invalid("page_token is not one this service gave out");
    let text = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(refused)?;
    let mut parts = text.splitn(4, ':');
    let (Some("1"), Some(ms), Some(account), Some(product)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    if product != product_id {
        return Err(RpcError::invalid(
            "page_token belongs to another product's list",
        ));
    }
    let ms = ms.parse().map_err(|_| refused())?;
    Ok(Some((ms, account.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_acct_and_a_canonical_uuid() {
        let id = format!("acct-{}", Uuid::new_v4());
        assert!(account_id(&id).is_ok());
        for bad in [
            String::new(),
            "guest-session-1".to_owned(),
            "acct-".to_owned(),
            "acct-not-a-uuid".to_owned(),
            id.to_uppercase(),
            id.replace("acct-", "ACCT-"),
            format!("acct-{}", Uuid::new_v4().simple()),
            format!("{id} "),
        ] {
            assert!(account_id(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stars_are_one_to_five() {
        assert_eq!(stars(1).unwrap(), 1);
        assert_eq!(stars(5).unwrap(), 5);
        for bad in [0, 6, -1, 256, i32::MAX, i32::MIN] {
            assert!(stars(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_allows_newlines_tabs_and_markup_but_no_other_controls() {
        assert!(text("").is_ok());
        assert!(text("Great.\n\tReally <b>great</b> & cheap").is_ok());
        assert!(text(&"日".repeat(MAX_TEXT_CHARS)).is_ok());
        let long = text(&"a".repeat(MAX_TEXT_CHARS + 1)).unwrap_err();
        assert!(long.to_string().contains("2000"), "{long}");
        for bad in ["a\rb", "a\0b", "\u{1b}[31m", "\u{7f}", "\u{85}"] {
            let error = text(bad).unwrap_err();
            assert!(error.to_string().contains("control"), "{bad:?}: {error}");
        }
        assert!(text("a\r\nb").unwrap_err().to_string().contains("U+000D"));
    }

    #[test]
    fn page_tokens_round_trip_for_their_product_only() {
        let token = page_token("OLJCESPC7Z", 42, "acct-x");
        assert_eq!(
            parse_page_token("OLJCESPC7Z", &token).unwrap(),
            Some((42, "acct-x".to_owned()))
        );
        assert!(parse_page_token("66VCHSJNUP", &token).is_err());
        assert_eq!(parse_page_token("p", "").unwrap(), None);
        for junk in ["nope", "MTo0Mg", "%%%", "MTp4OmE6cA"] {
            assert!(parse_page_token("p", junk).is_err(), "{junk}");
        }
        // Product ids may hold colons.
        let token = page_token("a:b", 7, "acct-y");
        assert_eq!(
            parse_page_token("a:b", &token).unwrap(),
            Some((7, "acct-y".to_owned()))
        );
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(0), DEFAULT_PAGE);
        assert_eq!(page_size(3), 3);
        assert_eq!(page_size(10_000), MAX_PAGE);
    }
}
