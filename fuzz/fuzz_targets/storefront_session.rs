//! The storefront's cookies and signed sessions: the input is `Cookie`
//! header values (one per line), read as the request middleware reads them,
//! and its session cookie resolved by the verifier.
//!
//! Properties:
//! - nothing the input holds is trusted: no cookie it carries resolves to a
//!   kept or re-signed session (it cannot hold our signature), so a request
//!   gets a fresh session or a probe's marker;
//! - a session we mint round-trips: its `Set-Cookie` is seen by the
//!   middleware, and sent back (among the input's cookies) it resolves to
//!   the same id, kept; one signed with the previous key is re-signed;
//! - a tampered cookie (one byte of it changed, where and to what from the
//!   input) is never kept as the same session.
#![no_main]

use std::sync::LazyLock;

use boutique_frontend::fuzzing::{self, SessionCheck};
use libfuzzer_sys::fuzz_target;

const CURRENT: [u8; 32] = [1; 32];
const PREVIOUS: [u8; 32] = [2; 32];

static SESSIONS: LazyLock<SessionCheck> = LazyLock::new(|| {
    SessionCheck::new(&CURRENT, Some(&PREVIOUS), false).expect("a 32-byte secret")
});
static OLD_SESSIONS: LazyLock<SessionCheck> =
    LazyLock::new(|| SessionCheck::new(&PREVIOUS, None, false).expect("a 32-byte secret"));

fuzz_target!(|data: &[u8]| {
    let sessions = &*SESSIONS;
    let headers: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();

    // What the input carries is never trusted.
    let sent = fuzzing::cookies(headers.iter().copied());
    let resolved = sessions.resolve(sent.session.as_deref());
    assert!(
        matches!(resolved.origin, "minted" | "replaced" | "probe"),
        "{:?} was trusted: {resolved:?}",
        sent.session
    );
    match resolved.origin {
        "probe" => assert_eq!(Some(resolved.id.as_str()), sent.session.as_deref()),
        _ => assert!(resolved.cookie.is_some()),
    }

    // A minted session round-trips through Set-Cookie and Cookie, whatever
    // other cookies come after it.
    let minted = sessions.resolve(None);
    let value = minted.cookie.clone().expect("a minted cookie");
    let (set_cookie, seen) = fuzzing::set_session_cookie(&value).expect("a header");
    assert!(seen, "{set_cookie}");
    let pair = set_cookie.split(';').next().expect("name=value").to_owned();
    let mut with_ours = vec![pair.as_bytes()];
    with_ours.extend(headers.iter().copied());
    let back = fuzzing::cookies(with_ours);
    assert_eq!(back.session.as_deref(), Some(value.as_str()));
    let kept = sessions.resolve(back.session.as_deref());
    assert_eq!(
        (kept.origin, &kept.id, &kept.cookie),
        ("kept", &minted.id, &None)
    );

    // One signed with the previous key is re-signed with the current one.
    let old = OLD_SESSIONS.resolve(None).cookie.expect("a minted cookie");
    let resigned = sessions.resolve(Some(&old));
    assert_eq!(resigned.origin, "resigned");
    let fresh = resigned.cookie.expect("the re-signed cookie");
    assert_eq!(sessions.resolve(Some(&fresh)).origin, "kept");

    // Tampering: one byte of the cookie changed.
    if let [at, with, ..] = data {
        let mut tampered = value.clone().into_bytes();
        let at = usize::from(*at) % tampered.len();
        if tampered[at] != *with {
            tampered[at] = *with;
            if let Ok(tampered) = String::from_utf8(tampered) {
                let resolved = sessions.resolve(Some(&tampered));
                assert!(
                    resolved.origin != "kept" && resolved.id != minted.id,
                    "{tampered:?} was kept as {value:?}"
                );
            }
        }
    }
});
