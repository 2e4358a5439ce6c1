//! The flag-file parser (`crates/flags`, `FlagFile`): the input is a flag
//! file's bytes, checked as the engine checks a changed file (our check,
//! then flagd's parser) and, if it passes, every flag in it evaluated
//! through the provider with a few targeting contexts.
//!
//! Properties: no panic (a bad file must be refused, never crash the
//! poller, and a file put in force must never crash an evaluation); a
//! flag's default variant is one of its variants; and the engine's shortcut
//! is sound: a flag that `may_be_on` says is always off evaluates to an off
//! value (`false`, `0`, `""`, `null`) or an error (then the default, off,
//! is used), for every context.
#![no_main]

use boutique_flags::{FlagFile, fuzzing};
use libfuzzer_sys::fuzz_target;

const CONTEXTS: [&[(&str, &str)]; 3] = [
    &[],
    &[("method", "GetQuote"), ("service", "shipping")],
    &[("productId", "OLJCESPC7Z"), ("session", "on")],
];

fuzz_target!(|data: &[u8]| {
    let parsed = FlagFile::parse(data);
    let Ok(checked) = fuzzing::check(data) else {
        return;
    };
    assert_eq!(parsed.as_ref(), Ok(&checked.file));
    for (name, flag) in checked.file.flags.iter().take(16) {
        assert!(flag.variants.contains_key(&flag.default_variant));
        let _ = flag.default_value();
        let may_be_on = flag.may_be_on();
        for context in CONTEXTS {
            let Ok(resolved) = checked.evaluate(name, context) else {
                continue;
            };
            assert!(
                may_be_on || fuzzing::is_off(&resolved.value),
                "{name}: answered off without evaluating, but evaluates to {resolved:?} \
                 with {context:?}"
            );
        }
    }
});
