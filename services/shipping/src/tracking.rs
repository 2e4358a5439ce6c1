//! Tracking ids in the upstream shape.

use std::fmt::Write;

use boutique_proto::Address;
use rand::Rng;

/// Makes a tracking id such as `XY-20123-101234567`: two capital letters, then
/// the length of `"{street}, {city}, {state}"` followed by 3 random digits, then
/// half that length followed by 7 random digits. Unlike upstream, all 26
/// letters can occur.
pub fn tracking_id(address: &Address) -> String {
    let salt_len = format!(
        "{}, {}, {}",
        address.street_address, address.city, address.state
    )
    .len();
    let mut rng = rand::rng();
    let mut id = String::with_capacity(24);
    for _ in 0..2 {
        id.push(char::from(rng.random_range(b'A'..=b'Z')));
    }
    // Writing to a String cannot fail.
    let _ = write!(
        id,
        "-{salt_len}{}-{}{}",
        digits(&mut rng, 3),
        salt_len / 2,
        digits(&mut rng, 7)
    );
    id
}

fn digits(rng: &mut impl Rng, count: usize) -> String {
    (0..count)
        .map(|_| char::from(rng.random_range(b'0'..=b'9')))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_the_upstream_shape() {
        let address = Address {
            street_address: "Muffin Man".into(),
            city: "London".into(),
            ..Address::default()
        };
        // "Muffin Man, London, " is 20 bytes long.
        let id = tracking_id(&address);
        assert_eq!(id.len(), 18, "{id}");
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert!(
            parts[0].len() == 2 && parts[0].bytes().all(|b| b.is_ascii_uppercase()),
            "{id}"
        );
        assert!(parts[1].starts_with("20") && parts[1].len() == 5, "{id}");
        assert!(parts[2].starts_with("10") && parts[2].len() == 9, "{id}");
        assert!(
            parts[1..]
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_digit())),
            "{id}"
        );
    }

    #[test]
    fn ids_differ() {
        let address = Address::default();
        let ids: std::collections::HashSet<String> =
            (0..100).map(|_| tracking_id(&address)).collect();
        assert_eq!(ids.len(), 100);
    }
}
