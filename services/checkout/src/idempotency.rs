//! Retries must not charge twice.
//!
//! A client that times out and retries PlaceOrder (or a shopper who clicks
//! twice) sends the same request again. Each request gets a key: the
//! `idempotency-key` metadata value when the client sends one, otherwise a
//! fingerprint of the request (user, currency, address, email, card). Both are
//! HMAC-SHA256 under a key drawn at random when the process starts, so the
//! card number only ever enters the hash and cannot be recovered from what is
//! kept, nor matched across processes.
//!
//! Requests with the same key run one at a time (a per-key async mutex), and
//! the outcome of an order that charged a card is kept for a while. Without an
//! explicit key, the cart decides whether a repeat is a retry: the cart is
//! part of the fingerprint, compared after GetCart rather than hashed, because
//! the first order empties it. A repeat is a retry if the cart is empty and
//! the first order emptied it, or if the cart still holds exactly what the
//! first order held and the first order did not empty it (shipping failed, or
//! EmptyCart did). Anything else is a new order. With an explicit key the key
//! alone decides, but reusing a key for a different request is refused.
//!
//! Declines and failures before a charge are not kept: retrying those is
//! safe and may succeed.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use boutique_platform::RpcError;
use boutique_proto::{CartItem, OrderResult};
use ring::hmac;
use tokio::{
    sync::{Mutex as AsyncMutex, OwnedMutexGuard},
    time::Instant,
};

use crate::validate::ValidRequest;

/// How long outcomes are kept by default.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How often idle keys are swept out.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// An HMAC of a request or an explicit key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint([u8; 32]);

#[cfg(test)]
impl Fingerprint {
    /// A fingerprint made of one repeated byte.
    pub(crate) fn for_tests(byte: u8) -> Self {
        Self([byte; 32])
    }
}

/// Shows only a prefix: enough to tell keys apart in a log.
impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint(")?;
        for byte in &self.0[..6] {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "…)")
    }
}

/// Makes fingerprints under this process's random key.
pub(crate) struct Fingerprinter {
    key: hmac::Key,
}

impl fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprinter { key: <secret> }")
    }
}

impl Fingerprinter {
    /// A fingerprinter with a fresh random key.
    pub(crate) fn new() -> Self {
        let secret: [u8; 32] = rand::random();
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        }
    }

    /// The fingerprint of what the shopper sent. Every field is
    /// length-prefixed, so no two different requests encode alike. The card
    /// number is reduced to its digits, as the payment service reads it.
    pub(crate) fn request(&self, request: &ValidRequest) -> Fingerprint {
        let address = &request.address;
        let card = &request.card;
        let digits: String = card
            .credit_card_number
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        self.sign(&[
            b"request",
            request.user_id.as_bytes(),
            request.currency.as_bytes(),
            address.street_address.as_bytes(),
            address.city.as_bytes(),
            address.state.as_bytes(),
            address.country.as_bytes(),
            &address.zip_code.to_be_bytes(),
            request.email.as_bytes(),
            digits.as_bytes(),
            &card.credit_card_cvv.to_be_bytes(),
            &card.credit_card_expiration_year.to_be_bytes(),
            &card.credit_card_expiration_month.to_be_bytes(),
        ])
    }

    /// The key for an explicit `idempotency-key`, scoped to the shopper so
    /// one shopper's key can never return another shopper's order.
    pub(crate) fn explicit(&self, user_id: &str, key: &str) -> Fingerprint {
        self.sign(&[b"idempotency-key", user_id.as_bytes(), key.as_bytes()])
    }

    fn sign(&self, fields: &[&[u8]]) -> Fingerprint {
        let mut context = hmac::Context::with_key(&self.key);
        for field in fields {
            context.update(&(field.len() as u64).to_be_bytes());
            context.update(field);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(context.sign().as_ref());
        Fingerprint(out)
    }
}

/// The cart's lines, merged per product and sorted, so the same cart
/// compares equal whatever order the store returns it in.
pub(crate) fn cart_contents(items: &[CartItem]) -> Vec<(String, i64)> {
    let mut merged: Vec<(String, i64)> = Vec::with_capacity(items.len());
    let mut sorted: Vec<&CartItem> = items.iter().collect();
    sorted.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    for item in sorted {
        match merged.last_mut() {
            Some((id, quantity)) if *id == item.product_id => {
                *quantity += i64::from(item.quantity);
            }
            _ => merged.push((item.product_id.clone(), i64::from(item.quantity))),
        }
    }
    merged
}

/// How a charged order ended, to be told again to a retry.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// The order went through.
    Placed(OrderResult),
    /// It failed after the card was (or may have been) charged; the message
    /// says so.
    Failed(Failure),
}

/// A failure after the card was (or may have been) charged, kept for
/// retries: the status it was answered with, and the reason a caller
/// recognises it by (`boutique_proto::reasons`).
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// `UNAVAILABLE` when a dependency was down, else `FAILED_PRECONDITION`.
    pub(crate) unavailable: bool,
    /// What the shopper reads.
    pub(crate) message: String,
    /// `PAYMENT_UNCERTAIN` or `CHARGED_NOT_SHIPPED`.
    pub(crate) reason: &'static str,
    /// The order it concerns.
    pub(crate) order_id: String,
}

impl From<Failure> for RpcError {
    fn from(failure: Failure) -> Self {
        let error = if failure.unavailable {
            RpcError::Unavailable(failure.message)
        } else {
            RpcError::FailedPrecondition(failure.message)
        };
        error.with_reason(failure.reason, [("order_id", failure.order_id)])
    }
}

impl Outcome {
    /// The answer a retry gets.
    pub(crate) fn replay(&self) -> Result<OrderResult, RpcError> {
        match self {
            Self::Placed(result) => Ok(result.clone()),
            Self::Failed(failure) => Err(failure.clone().into()),
        }
    }
}

/// What is kept about a charged order for its retries.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The fingerprint of the request (the key itself when there is no
    /// explicit key).
    pub(crate) request: Fingerprint,
    /// The cart the order was placed from (see [`cart_contents`]).
    pub(crate) cart: Vec<(String, i64)>,
    /// Whether the order emptied the cart.
    pub(crate) cart_emptied: bool,
    /// How it ended.
    pub(crate) outcome: Outcome,
    /// When it ended.
    pub(crate) at: Instant,
}

impl Entry {
    /// Whether a repeat that finds `cart` is a retry of this order (see the
    /// module docs).
    pub(crate) fn is_retry_with(&self, cart: &[(String, i64)]) -> bool {
        if self.cart_emptied {
            cart.is_empty()
        } else {
            cart == self.cart.as_slice()
        }
    }
}

/// The outcomes of recent orders, one slot per key.
#[derive(Debug)]
pub(crate) struct Registry {
    window: Duration,
    slots: Mutex<Slots>,
}

#[derive(Debug)]
struct Slots {
    by_key: HashMap<Fingerprint, Arc<AsyncMutex<Option<Entry>>>>,
    last_prune: Instant,
}

/// Exclusive use of one key until dropped: a concurrent duplicate waits here
/// for the first request to finish, then sees its outcome.
#[derive(Debug)]
pub(crate) struct Slot {
    guard: OwnedMutexGuard<Option<Entry>>,
    window: Duration,
}

impl Slot {
    /// The outcome kept for this key, unless it is older than the window.
    pub(crate) fn recent(&self) -> Option<&Entry> {
        self.guard
            .as_ref()
            .filter(|entry| entry.at.elapsed() < self.window)
    }

    /// Keeps the outcome of a charged order.
    pub(crate) fn keep(&mut self, entry: Entry) {
        *self.guard = Some(entry);
    }
}

impl Registry {
    /// Keeps outcomes for `window`.
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            slots: Mutex::new(Slots {
                by_key: HashMap::new(),
                last_prune: Instant::now(),
            }),
        }
    }

    /// Waits until no other request holds `key`, then holds it.
    pub(crate) async fn acquire(&self, key: Fingerprint) -> Slot {
        let slot = {
            // The map is only touched briefly and never across an await; a
            // poisoned lock still holds a consistent map.
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.prune(self.window);
            slots.by_key.entry(key).or_default().clone()
        };
        Slot {
            guard: slot.lock_owned().await,
            window: self.window,
        }
    }

    /// How many keys are tracked (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_key
            .len()
    }
}

impl Slots {
    /// Drops keys nobody holds or waits for whose outcome is missing or
    /// stale, at most once per [`PRUNE_EVERY`].
    fn prune(&mut self, window: Duration) {
        if self.last_prune.elapsed() < PRUNE_EVERY {
            return;
        }
        self.last_prune = Instant::now();
        self.by_key.retain(|_, slot| {
            // Only the map holds this slot, and new holders need the map
            // lock we hold, so `try_lock` cannot race with a waiter.
            if Arc::strong_count(slot) > 1 {
                return true;
            }
            match slot.try_lock() {
                Ok(entry) => entry.as_ref().is_some_and(|e| e.at.elapsed() < window),
                Err(_) => true,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use boutique_proto::{Address, CreditCardInfo};

    use super::*;

    fn request(card: &str) -> ValidRequest {
        ValidRequest {
            user_id: "u".into(),
            currency: "USD".into(),
            address: Address::default(),
            email: "a@b.c".into(),
            card: CreditCardInfo {
                credit_card_number: card.into(),
                credit_card_cvv: 123,
                credit_card_expiration_year: 2030,
                credit_card_expiration_month: 1,
            },
        }
    }

    #[test]
    fn fingerprints_depend_on_the_request_and_the_process_key() {
        let a = Fingerprinter::new();
        let b = Fingerprinter::new();
        let visa = request("4432801561520454");
        assert_eq!(a.request(&visa), a.request(&request("4432-8015-6152-0454")));
        assert_ne!(a.request(&visa), a.request(&request("4432801561520455")));
        assert_ne!(a.request(&visa), b.request(&visa));
        assert_ne!(a.explicit("u", "k"), a.explicit("v", "k"));
        // Length prefixes keep field boundaries apart.
        assert_ne!(a.explicit("ab", "c"), a.explicit("a", "bc"));
        assert!(!format!("{:?}", a.request(&visa)).contains("4432"));
    }

    #[test]
    fn carts_compare_by_content() {
        let item = |id: &str, quantity| CartItem {
            product_id: id.into(),
            quantity,
        };
        assert_eq!(
            cart_contents(&[item("b", 1), item("a", 2), item("b", 3)]),
            cart_contents(&[item("a", 2), item("b", 4)]),
        );
        let entry = |cart_emptied| Entry {
            request: Fingerprinter::new().explicit("u", "k"),
            cart: cart_contents(&[item("a", 1)]),
            cart_emptied,
            outcome: Outcome::Placed(OrderResult::default()),
            at: Instant::now(),
        };
        let same = cart_contents(&[item("a", 1)]);
        assert!(entry(true).is_retry_with(&[]));
        assert!(!entry(true).is_retry_with(&same));
        assert!(entry(false).is_retry_with(&same));
        assert!(!entry(false).is_retry_with(&[]));
        assert!(!entry(false).is_retry_with(&cart_contents(&[item("a", 2)])));
    }

    #[tokio::test(start_paused = true)]
    async fn keeps_outcomes_for_the_window_then_forgets_them() {
        let registry = Registry::new(Duration::from_secs(600));
        let key = Fingerprinter::new().explicit("u", "k");
        let mut slot = registry.acquire(key).await;
        assert!(slot.recent().is_none());
        slot.keep(Entry {
            request: key,
            cart: vec![],
            cart_emptied: true,
            outcome: Outcome::Placed(OrderResult::default()),
            at: Instant::now(),
        });
        drop(slot);
        tokio::time::advance(Duration::from_secs(599)).await;
        assert!(registry.acquire(key).await.recent().is_some());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(registry.acquire(key).await.recent().is_none());
        // A later acquire of any key sweeps the stale one out.
        tokio::time::advance(PRUNE_EVERY).await;
        let other = Fingerprinter::new().explicit("u", "other");
        drop(registry.acquire(other).await);
        assert_eq!(registry.len(), 1);
    }

    #[tokio::test]
    async fn a_second_holder_waits_for_the_first() {
        let registry = Arc::new(Registry::new(DEFAULT_WINDOW));
        let key = Fingerprinter::new().explicit("u", "k");
        let first = registry.acquire(key).await;
        let waiter = tokio::spawn({
            let registry = registry.clone();
            async move { registry.acquire(key).await.recent().is_some() }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let mut first = first;
        first.keep(Entry {
            request: key,
            cart: vec![],
            cart_emptied: true,
            outcome: Outcome::Placed(OrderResult::default()),
            at: Instant::now(),
        });
        drop(first);
        assert!(waiter.await.unwrap());
    }
}
