//! Static files, embedded in the binary: nothing is read from disk, so the
//! image runs on a read-only filesystem and there is no directory to list.
//!
//! Product pictures are our own SVG drawings. The catalog names them
//! `/static/img/products/<name>.jpg` (upstream's paths), so each drawing is
//! served at that path, and at `<name>.svg`, as `image/svg+xml`: browsers go by
//! the content type, and `nosniff` keeps them from guessing.
//!
//! The failure flag `imageSlowLoad` holds product pictures back (as the
//! OpenTelemetry demo's proxy does), so a slow page shows in the browser's
//! waterfall and the request's trace while the HTML itself stays fast.

use std::{sync::LazyLock, time::Duration};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use boutique_flags::names::IMAGE_SLOW_LOAD;

use crate::{REQUEST_TIMEOUT, State as AppState, error::AppError};

/// Assets may be cached for a day; a redeploy changes their ETags.
const CACHE_CONTROL: &str = "public, max-age=86400";

const SVG: &str = "image/svg+xml";

/// Where the product pictures are, under `/static/`.
const PICTURES: &str = "img/products/";

/// The longest `imageSlowLoad` delay: short of the request timeout, so a
/// held-back picture arrives late rather than as a 503.
const MAX_IMAGE_DELAY: Duration = REQUEST_TIMEOUT.saturating_sub(Duration::from_secs(5));

/// One embedded file.
#[derive(Debug)]
struct Asset {
    /// The path under `/static/`.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/", $file)),
        }
    };
}

macro_rules! picture {
    ($name:literal) => {{
        let body: &'static [u8] = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/static/img/products/",
            $name,
            ".svg"
        ));
        [
            Asset {
                path: concat!("img/products/", $name, ".jpg"),
                content_type: SVG,
                body,
            },
            Asset {
                path: concat!("img/products/", $name, ".svg"),
                content_type: SVG,
                body,
            },
        ]
    }};
}

static ASSETS: LazyLock<Vec<(Asset, HeaderValue)>> = LazyLock::new(|| {
    let mut assets = vec![
        asset!("styles.css", "styles.css", "text/css; charset=utf-8"),
        asset!("app.js", "app.js", "text/javascript; charset=utf-8"),
        asset!(
            "assistant.js",
            "assistant.js",
            "text/javascript; charset=utf-8"
        ),
        asset!("logo.svg", "logo.svg", SVG),
        asset!("favicon.svg", "favicon.svg", SVG),
    ];
    for pair in [
        picture!("sunglasses"),
        picture!("tank-top"),
        picture!("watch"),
        picture!("loafers"),
        picture!("hairdryer"),
        picture!("candle-holder"),
        picture!("salt-and-pepper-shakers"),
        picture!("bamboo-glass-jar"),
        picture!("mug"),
    ] {
        assets.extend(pair);
    }
    assets
        .into_iter()
        .map(|asset| {
            let etag = format!("\"{:016x}\"", fnv1a(asset.body));
            // A hex digest in quotes is always a valid header value.
            let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
            (asset, etag)
        })
        .collect()
});

/// `GET /static/{*path}`: an embedded file, 304 when the browser's copy is
/// current, or the 404 page (for directories too: nothing is listed).
pub(crate) async fn serve(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (asset, etag) = ASSETS
        .iter()
        .find(|(asset, _)| asset.path == path)
        .ok_or(AppError::NotFound)?;
    if asset.path.starts_with(PICTURES) && state.flags.is_configured() {
        let delay = image_delay(state.flags.number(IMAGE_SLOW_LOAD).await);
        if !delay.is_zero() {
            tracing::debug!(
                delay_ms = delay.as_millis(),
                "Holding a picture back (flag imageSlowLoad)."
            );
            tokio::time::sleep(delay).await;
        }
    }
    let cache = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
    ];
    let fresh = headers.get(header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.as_bytes()
            .split(|b| *b == b',')
            .any(|tag| tag.trim_ascii() == etag.as_bytes())
    });
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        cache,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response())
}

/// The `imageSlowLoad` value (milliseconds) as a delay: nothing for zero,
/// negatives and anything not a number, at most [`MAX_IMAGE_DELAY`].
fn image_delay(millis: f64) -> Duration {
    if millis.is_nan() || millis <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(millis / 1000.0)
        .map_or(MAX_IMAGE_DELAY, |delay| delay.min(MAX_IMAGE_DELAY))
}

/// FNV-1a, 64 bits: a cheap, stable fingerprint for ETags (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_delays_are_bounded_and_never_negative() {
        assert_eq!(image_delay(0.0), Duration::ZERO);
        assert_eq!(image_delay(-5.0), Duration::ZERO);
        assert_eq!(image_delay(f64::NAN), Duration::ZERO);
        assert_eq!(image_delay(5000.0), Duration::from_secs(5));
        assert_eq!(image_delay(10_000.0), Duration::from_secs(10));
        assert_eq!(image_delay(1e12), MAX_IMAGE_DELAY);
        assert_eq!(image_delay(f64::INFINITY), MAX_IMAGE_DELAY);
        assert!(MAX_IMAGE_DELAY < REQUEST_TIMEOUT);
    }

    #[test]
    fn every_catalog_picture_is_embedded() {
        let catalog = boutique_proto_pictures();
        for picture in catalog {
            let path = picture.trim_start_matches("/static/");
            let (asset, _) = ASSETS.iter().find(|(a, _)| a.path == path).unwrap();
            assert_eq!(asset.content_type, SVG);
            assert!(asset.body.starts_with(b"<svg"), "{path}");
        }
    }

    fn boutique_proto_pictures() -> [&'static str; 9] {
        [
            "/static/img/products/sunglasses.jpg",
            "/static/img/products/tank-top.jpg",
            "/static/img/products/watch.jpg",
            "/static/img/products/loafers.jpg",
            "/static/img/products/hairdryer.jpg",
            "/static/img/products/candle-holder.jpg",
            "/static/img/products/salt-and-pepper-shakers.jpg",
            "/static/img/products/bamboo-glass-jar.jpg",
            "/static/img/products/mug.jpg",
        ]
    }

    #[test]
    fn etags_differ_between_files() {
        let mut pairs: Vec<_> = ASSETS
            .iter()
            .map(|(asset, tag)| (asset.body, tag.as_bytes()))
            .collect();
        pairs.sort();
        pairs.dedup();
        let mut tags: Vec<_> = pairs.iter().map(|(_, tag)| *tag).collect();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), pairs.len(), "distinct files share an ETag");
        assert!(pairs.len() >= 13);
    }
}
