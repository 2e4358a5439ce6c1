//! Reading the caller's deadline so the catalog call inherits it.
//!
//! gRPC sends the deadline as the `grpc-timeout` header: up to eight digits and
//! a unit (`H`, `M`, `S`, `m`, `u`, `n`).

use std::time::Duration;

use tonic::metadata::MetadataMap;

/// The time the caller allows, if it said.
pub(crate) fn caller_timeout(metadata: &MetadataMap) -> Option<Duration> {
    parse_grpc_timeout(metadata.get("grpc-timeout")?.to_str().ok()?)
}

fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let unit = value.chars().last()?;
    let digits = value.get(..value.len() - unit.len_utf8())?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    match unit {
        'H' => Some(Duration::from_secs(amount.checked_mul(3600)?)),
        'M' => Some(Duration::from_secs(amount.checked_mul(60)?)),
        'S' => Some(Duration::from_secs(amount)),
        'm' => Some(Duration::from_millis(amount)),
        'u' => Some(Duration::from_micros(amount)),
        'n' => Some(Duration::from_nanos(amount)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("4S"), Some(Duration::from_secs(4)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(
            parse_grpc_timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(parse_grpc_timeout("5n"), Some(Duration::from_nanos(5)));
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "",
            "m",
            "10",
            "10x",
            "123456789m",
            "-1S",
            "1.5S",
            "1 S",
            "5é",
        ] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_the_header() {
        let mut metadata = MetadataMap::new();
        assert_eq!(caller_timeout(&metadata), None);
        metadata.insert("grpc-timeout", "150m".parse().unwrap());
        assert_eq!(caller_timeout(&metadata), Some(Duration::from_millis(150)));
    }
}
