//! Fake shopper data for the checkout form, standing in for upstream's Faker.
//!
//! Small embedded lists are enough: the frontend only checks the shape of each
//! field (email format, lengths, a non-zero zip, a Luhn-valid card, a month of
//! 1-12, a non-zero year and CVV), so realistic variety matters less than every
//! value passing validation.

use rand::{Rng, seq::IndexedRandom};

/// The catalog's product ids, as upstream's locustfile lists them.
pub const PRODUCTS: [&str; 9] = [
    "0PUK6V6EV0",
    "1YMWWN1N4O",
    "2ZYFJ3GM2N",
    "66VCHSJNUP",
    "6E92ZMYYFZ",
    "9SIQT8TOJO",
    "L9ECAV7KIM",
    "LS4PSXUNUM",
    "OLJCESPC7Z",
];

/// The currencies upstream's shopper switches between.
pub const CURRENCIES: [&str; 6] = ["EUR", "USD", "JPY", "CAD", "GBP", "TRY"];

const FIRST_NAMES: [&str; 12] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar",
];
const LAST_NAMES: [&str; 10] = [
    "smith", "johnson", "garcia", "miller", "davis", "lopez", "wilson", "moore", "taylor", "lee",
];
const MAIL_DOMAINS: [&str; 4] = ["example.com", "example.org", "example.net", "mail.example"];
const STREET_NAMES: [&str; 10] = [
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
];
const STREET_SUFFIXES: [&str; 6] = ["Street", "Avenue", "Road", "Lane", "Boulevard", "Drive"];
const CITIES: [&str; 10] = [
    "Springfield",
    "Riverside",
    "Fairview",
    "Mountain View",
    "Franklin",
    "Greenville",
    "Bristol",
    "Clinton",
    "Madison",
    "Georgetown",
];
const STATES: [&str; 50] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY",
];
const COUNTRIES: [&str; 10] = [
    "United States",
    "Canada",
    "Mexico",
    "France",
    "Germany",
    "Japan",
    "Brazil",
    "India",
    "Australia",
    "Côte d'Ivoire",
];

/// Visa Electron prefixes. Upstream's payment service rejects these, which
/// makes about 0.5% of upstream's checkouts fail; skipping them keeps a smoke
/// run against an upstream shop at zero failures.
const ELECTRON_PREFIXES: [&str; 5] = ["4026", "4508", "4844", "4913", "4917"];

/// Picks one item; the lists above are never empty.
fn pick<'a>(rng: &mut impl Rng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

/// A random product id.
pub fn product(rng: &mut impl Rng) -> &'static str {
    pick(rng, &PRODUCTS)
}

/// A random currency code from upstream's list.
pub fn currency(rng: &mut impl Rng) -> &'static str {
    pick(rng, &CURRENCIES)
}

/// An add-to-cart quantity, `randint(1, 10)` as upstream.
pub fn quantity(rng: &mut impl Rng) -> u32 {
    rng.random_range(1..=10)
}

/// `first.last42@example.com`.
pub fn email(rng: &mut impl Rng) -> String {
    format!(
        "{}.{}{}@{}",
        pick(rng, &FIRST_NAMES),
        pick(rng, &LAST_NAMES),
        rng.random_range(1..100),
        pick(rng, &MAIL_DOMAINS)
    )
}

/// `1234 Oak Avenue`.
pub fn street_address(rng: &mut impl Rng) -> String {
    format!(
        "{} {} {}",
        rng.random_range(1..10_000),
        pick(rng, &STREET_NAMES),
        pick(rng, &STREET_SUFFIXES)
    )
}

/// Five digits, never `00000` (the frontend rejects a zero zip code).
pub fn zip_code(rng: &mut impl Rng) -> String {
    format!("{:05}", rng.random_range(1..100_000))
}

/// A city name.
pub fn city(rng: &mut impl Rng) -> &'static str {
    pick(rng, &CITIES)
}

/// A US state abbreviation, as Faker's `state_abbr`.
pub fn state(rng: &mut impl Rng) -> &'static str {
    pick(rng, &STATES)
}

/// A country name.
pub fn country(rng: &mut impl Rng) -> &'static str {
    pick(rng, &COUNTRIES)
}

/// A 16-digit Visa number: `4`, 14 random digits and the Luhn check digit.
pub fn visa(rng: &mut impl Rng) -> String {
    loop {
        let mut digits = String::with_capacity(16);
        digits.push('4');
        for _ in 0..14 {
            digits.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
        if ELECTRON_PREFIXES
            .iter()
            .any(|prefix| digits.starts_with(prefix))
        {
            continue;
        }
        digits.push(char::from(b'0' + luhn_check_digit(&digits)));
        return digits;
    }
}

/// The digit that makes `payload` followed by it pass the Luhn check.
pub fn luhn_check_digit(payload: &str) -> u8 {
    // Walking from the right, the check digit will sit at position 0, so the
    // payload's rightmost digit is the first one doubled.
    let sum: u32 = payload
        .bytes()
        .rev()
        .filter(u8::is_ascii_digit)
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    // `sum % 10` is below 10, so the result fits a digit.
    ((10 - sum % 10) % 10) as u8
}

/// Whether an all-digit string passes the Luhn check.
pub fn luhn_valid(number: &str) -> bool {
    match number.len().checked_sub(1) {
        Some(last) if number.bytes().all(|b| b.is_ascii_digit()) && last > 0 => {
            let (payload, check) = number.split_at(last);
            check.as_bytes()[0] - b'0' == luhn_check_digit(payload)
        }
        _ => false,
    }
}

/// Expiry month, `randint(1, 12)`.
pub fn expiration_month(rng: &mut impl Rng) -> u32 {
    rng.random_range(1..=12)
}

/// Expiry year: next year to seventy years on, as upstream's `randint(Y+1, Y+70)`.
pub fn expiration_year(rng: &mut impl Rng, this_year: i32) -> i32 {
    rng.random_range(this_year + 1..=this_year + 70)
}

/// CVV, `"100"`-`"999"`.
pub fn cvv(rng: &mut impl Rng) -> String {
    rng.random_range(100..=999u32).to_string()
}

/// The whole checkout form, field names as the frontend expects them.
pub fn checkout_form(rng: &mut impl Rng, this_year: i32) -> Vec<(&'static str, String)> {
    vec![
        ("email", email(rng)),
        ("street_address", street_address(rng)),
        ("zip_code", zip_code(rng)),
        ("city", city(rng).to_owned()),
        ("state", state(rng).to_owned()),
        ("country", country(rng).to_owned()),
        ("credit_card_number", visa(rng)),
        (
            "credit_card_expiration_month",
            expiration_month(rng).to_string(),
        ),
        (
            "credit_card_expiration_year",
            expiration_year(rng, this_year).to_string(),
        ),
        ("credit_card_cvv", cvv(rng)),
    ]
}

/// The current UTC year, for expiry dates in the future.
pub fn this_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    #[test]
    fn luhn_matches_known_numbers() {
        // Test numbers published by card networks.
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("4432801561520454"));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("4"));
        assert!(!luhn_valid("41111111111a1111"));
        assert_eq!(luhn_check_digit("7992739871"), 3);
    }

    #[test]
    fn visa_numbers_are_16_luhn_valid_digits_starting_with_4() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..5_000 {
            let number = visa(&mut rng);
            assert_eq!(number.len(), 16, "{number}");
            assert!(number.starts_with('4'), "{number}");
            assert!(luhn_valid(&number), "{number}");
            assert!(
                !ELECTRON_PREFIXES.iter().any(|p| number.starts_with(p)),
                "{number}"
            );
            distinct.insert(number);
        }
        assert!(distinct.len() > 4_900, "numbers should be random");
    }

    #[test]
    fn zip_codes_are_five_nonzero_digits() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..5_000 {
            let zip = zip_code(&mut rng);
            assert_eq!(zip.len(), 5, "{zip}");
            assert!(zip.bytes().all(|b| b.is_ascii_digit()), "{zip}");
            assert_ne!(zip.parse::<u32>().ok(), Some(0));
        }
    }

    #[test]
    fn expiry_is_in_the_future_and_cvv_in_range() {
        let mut rng = StdRng::seed_from_u64(2);
        let year = this_year();
        let (mut min_year, mut max_year) = (i32::MAX, i32::MIN);
        for _ in 0..5_000 {
            let month = expiration_month(&mut rng);
            assert!((1..=12).contains(&month));
            let expiry = expiration_year(&mut rng, year);
            min_year = min_year.min(expiry);
            max_year = max_year.max(expiry);
            let cvv: u32 = cvv(&mut rng).parse().unwrap();
            assert!((100..=999).contains(&cvv));
        }
        assert_eq!((min_year, max_year), (year + 1, year + 70));
    }

    #[test]
    fn emails_and_text_fields_look_right() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..1_000 {
            let email = email(&mut rng);
            let (local, domain) = email.split_once('@').unwrap();
            assert!(!local.is_empty() && domain.contains('.'), "{email}");
            assert!(!email.contains(' '));
            let state = state(&mut rng);
            assert!(state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase()));
            let street = street_address(&mut rng);
            assert!(street.chars().next().is_some_and(|c| c.is_ascii_digit()));
            assert!(street.len() <= 512 && city(&mut rng).len() <= 128);
            assert!(!country(&mut rng).is_empty());
        }
    }

    #[test]
    fn checkout_form_has_every_field_once() {
        let form = checkout_form(&mut StdRng::seed_from_u64(4), 2030);
        let names: Vec<_> = form.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "email",
                "street_address",
                "zip_code",
                "city",
                "state",
                "country",
                "credit_card_number",
                "credit_card_expiration_month",
                "credit_card_expiration_year",
                "credit_card_cvv"
            ]
        );
        assert!(form.iter().all(|(_, value)| !value.is_empty()));
    }
}
