//! One order per cart at a time, in this process.
//!
//! Two different PlaceOrder requests for the same cart (the same session with
//! a changed email, two tabs) would each read the full cart and each charge
//! it. While one order for a cart runs, another is refused at once with the
//! reason `ORDER_IN_PROGRESS` (nothing charged), so a cart is charged once.
//! Identical repeats (the same key) share the claim: they queue behind the
//! first and replay its outcome (see the `idempotency` module). Replicas do
//! not see each other's claims: that needs the shared order store.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use crate::idempotency::Fingerprint;

/// Per cart: the key of the request holding it, and how many hold it.
type Holders = Arc<Mutex<HashMap<String, (Fingerprint, usize)>>>;

/// The carts with an order in progress.
#[derive(Debug, Default)]
pub(crate) struct CartClaims {
    carts: Holders,
}

/// A claimed cart, released when the last holder drops it (the order
/// finished, whichever way).
#[derive(Debug)]
pub(crate) struct CartClaim {
    carts: Holders,
    user_id: String,
}

impl CartClaims {
    /// Claims `user_id`'s cart for the request keyed `key`, or `None` while a
    /// request with another key holds it.
    pub(crate) fn try_claim(&self, user_id: &str, key: Fingerprint) -> Option<CartClaim> {
        let mut carts = self.carts.lock().unwrap_or_else(PoisonError::into_inner);
        let holder = carts.entry(user_id.to_owned()).or_insert((key, 0));
        if holder.0 != key {
            return None;
        }
        holder.1 += 1;
        Some(CartClaim {
            carts: self.carts.clone(),
            user_id: user_id.to_owned(),
        })
    }
}

impl Drop for CartClaim {
    fn drop(&mut self) {
        let mut carts = self.carts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(holder) = carts.get_mut(&self.user_id) {
            holder.1 -= 1;
            if holder.1 == 0 {
                carts.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_per_cart_until_released() {
        let (a, b) = (Fingerprint::for_tests(1), Fingerprint::for_tests(2));
        let claims = CartClaims::default();
        let first = claims.try_claim("ana", a).unwrap();
        assert!(
            claims.try_claim("ana", b).is_none(),
            "another request waits"
        );
        let repeat = claims
            .try_claim("ana", a)
            .expect("a repeat shares the claim");
        assert!(claims.try_claim("bo", b).is_some(), "other carts are free");
        drop(first);
        assert!(
            claims.try_claim("ana", b).is_none(),
            "the repeat still holds it"
        );
        drop(repeat);
        assert!(claims.try_claim("ana", b).is_some());
    }
}
