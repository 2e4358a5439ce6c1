//! Starts the service and hands out a client, plus request builders and a
//! card number generator.

use boutique_payment::{Config, FixedClock};
use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::{
    ChargeRequest, CreditCardInfo, Money, payment_service_client::PaymentServiceClient,
};
use rand::Rng;
use time::{Date, Month, OffsetDateTime};
use tonic::transport::Channel;

pub(crate) struct TestApp {
    pub(crate) server: TestServer,
    pub(crate) client: PaymentServiceClient<Channel>,
}

/// The instant the service's clock is pinned to in most tests: mid-June 2030.
pub(crate) fn pinned_now() -> OffsetDateTime {
    Date::from_calendar_date(2030, Month::June, 15)
        .unwrap()
        .with_hms(12, 0, 0)
        .unwrap()
        .assume_utc()
}

/// A service whose clock reads [`pinned_now`].
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_at(Some(pinned_now())).await
}

/// A service whose clock reads `now`, or the system clock for `None`.
pub(crate) async fn spawn_app_at(now: Option<OffsetDateTime>) -> TestApp {
    spawn(now, &[]).await
}

/// A service whose clock reads [`pinned_now`], with extra settings.
pub(crate) async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    spawn(Some(pinned_now()), settings).await
}

async fn spawn(now: Option<OffsetDateTime>, settings: &[(&str, &str)]) -> TestApp {
    let mut env = Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]);
    for (name, value) in settings {
        env = env.with(name, *value);
    }
    let mut config = Config::from_env(&env).unwrap();
    if let Some(now) = now {
        config = config.with_clock(FixedClock(now));
    }
    let server = TestServer::start(config).await;
    let client = PaymentServiceClient::new(server.channel().await);
    TestApp { server, client }
}

pub(crate) fn usd(units: i64, nanos: i32) -> Money {
    Money {
        currency_code: "USD".into(),
        units,
        nanos,
    }
}

/// A charge of USD 42.50 on `number`, expiring December 2031, CVV 123.
pub(crate) fn charge(number: &str) -> ChargeRequest {
    ChargeRequest {
        amount: Some(usd(42, 500_000_000)),
        credit_card: Some(CreditCardInfo {
            credit_card_number: number.into(),
            credit_card_cvv: 123,
            credit_card_expiration_year: 2031,
            credit_card_expiration_month: 12,
        }),
    }
}

/// `charge(number)` with the card's fields changed by `edit`.
pub(crate) fn charge_with(number: &str, edit: impl FnOnce(&mut CreditCardInfo)) -> ChargeRequest {
    let mut request = charge(number);
    if let Some(card) = request.credit_card.as_mut() {
        edit(card);
    }
    request
}

/// The digit that makes `body` + digit pass Luhn.
pub(crate) fn luhn_check_digit(body: &str) -> char {
    // Position 0 from the right is the check digit itself, so the body's
    // rightmost digit is doubled.
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let d = d * 2;
                if d > 9 { d - 9 } else { d }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + u8::try_from((10 - sum % 10) % 10).unwrap())
}

/// `prefix`, random digits up to `length - 1`, and the Luhn check digit.
pub(crate) fn luhn_number(prefix: &str, length: usize, rng: &mut impl Rng) -> String {
    let mut body = prefix.to_owned();
    while body.len() < length - 1 {
        body.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let check = luhn_check_digit(&body);
    body.push(check);
    body
}
