//! Marks the SMTP delivery tests `ignored` when `aiosmtpd` is not installed
//! (the rule lives in the test kit's build script).

#[path = "../../crates/testkit/build.rs"]
mod servers;

fn main() {
    servers::mark_missing(&[("aiosmtpd", "AIOSMTPD_BIN")]);
}
