//! Static files, embedded in the binary: nothing is read from disk, so the
//! image runs on a read-only filesystem and there is no directory to list.
//!
//! Product pictures are our own SVG drawings. The catalog names them
//! `/static/img/products/<name>.jpg` (upstream's paths), so each drawing is
//! served at that path, and at `<name>.svg`, as `image/svg+xml`: browsers go by
//! the content type, and `nosniff` keeps them from guessing.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::error::AppError;

/// Assets may be cached for a day; a redeploy changes their ETags.
const CACHE_CONTROL: &str = "public, max-age=86400";

const SVG: &str = "image/svg+xml";

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
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (asset, etag) = ASSETS
        .iter()
        .find(|(asset, _)| asset.path == path)
        .ok_or(AppError::NotFound)?;
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
