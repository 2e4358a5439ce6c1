//! The Redis store (layout in the crate docs).
//!
//! One [`ConnectionManager`] multiplexes all requests over a single connection
//! and reconnects by itself after Redis restarts. Its retry budget is kept
//! short, so during an outage a request fails within about two seconds with
//! `UNAVAILABLE` instead of hanging until the caller's deadline.

use std::{collections::HashMap, time::Duration};

use boutique_proto::CartItem;
use redis::{
    Client, RedisError, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use super::{CartStore, MAX_LINE_QUANTITY, StoreError};

/// AddItem in one step, so concurrent adds cannot interleave between the check
/// and the write, and a rejected add writes nothing.
///
/// KEYS: the cart hash, the order list. ARGV: product id, quantity to add,
/// line limit, idle expiry in ms (0: none).
/// Returns `{1, new quantity}` on success, `{0, current quantity}` when the
/// line would exceed the limit.
const ADD_ITEM_LUA: &str = r"
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local added = tonumber(ARGV[2])
if current + added > tonumber(ARGV[3]) then
  return {0, current}
end
if current == 0 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
local total = redis.call('HINCRBY', KEYS[1], ARGV[1], added)
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
else
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
return {1, total}
";

/// Each connection attempt gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A command without an answer after this long fails.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection attempts per outage before requests fail; the next request
/// starts a new round, so the store recovers once Redis is back.
const RECONNECT_RETRIES: usize = 1;

/// Carts in Redis.
#[derive(Debug, Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    add_item: Script,
    ttl_ms: u64,
}

/// The HASH of a cart: product id -> quantity.
pub fn cart_key(user_id: &str) -> String {
    format!("cart:{{{user_id}}}")
}

/// The LIST of a cart's product ids in insertion order.
pub fn order_key(user_id: &str) -> String {
    format!("cart:{{{user_id}}}:order")
}

impl RedisStore {
    /// Sets up a lazily connecting client for `url` (`redis://` or
    /// `rediss://`). No I/O happens here; the first request connects.
    /// `ttl` is the idle expiry (`None`: keys never expire).
    pub fn connect(url: &str, ttl: Option<Duration>) -> Result<Self, StoreError> {
        if url.starts_with("rediss://") {
            // rustls needs a process-wide crypto provider; an error only means
            // another part of the program installed one already.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = Client::open(url).map_err(StoreError::unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(StoreError::unavailable)?;
        Ok(Self {
            connection,
            add_item: Script::new(ADD_ITEM_LUA),
            // Saturates at ~584 million years, which is "forever" anyway.
            ttl_ms: ttl.map_or(0, |ttl| u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
        })
    }
}

fn unavailable(error: &RedisError) -> StoreError {
    StoreError::unavailable(error)
}

#[tonic::async_trait]
impl CartStore for RedisStore {
    async fn add_item(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i32,
    ) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let (accepted, current): (i64, i64) = self
            .add_item
            .key(cart_key(user_id))
            .key(order_key(user_id))
            .arg(product_id)
            .arg(quantity)
            .arg(MAX_LINE_QUANTITY)
            .arg(self.ttl_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| unavailable(&e))?;
        if accepted == 1 {
            Ok(())
        } else {
            Err(StoreError::LineLimit {
                product_id: product_id.to_owned(),
                current,
                added: quantity,
            })
        }
    }

    async fn get_cart(&self, user_id: &str) -> Result<Vec<CartItem>, StoreError> {
        let mut connection = self.connection.clone();
        let (order, mut quantities): (Vec<String>, HashMap<String, i64>) = redis::pipe()
            .atomic()
            .lrange(order_key(user_id), 0, -1)
            .hgetall(cart_key(user_id))
            .query_async(&mut connection)
            .await
            .map_err(|e| unavailable(&e))?;
        let mut items = Vec::with_capacity(quantities.len());
        for product_id in order {
            if let Some(quantity) = quantities.remove(&product_id) {
                items.push(item(product_id, quantity)?);
            }
        }
        // Lines missing from the order list (written by hand, say) still show,
        // after the ordered ones and sorted so the answer is stable.
        let mut rest: Vec<_> = quantities.into_iter().collect();
        rest.sort();
        for (product_id, quantity) in rest {
            items.push(item(product_id, quantity)?);
        }
        Ok(items)
    }

    async fn empty_cart(&self, user_id: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("DEL")
            .arg(cart_key(user_id))
            .arg(order_key(user_id))
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| unavailable(&e))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| unavailable(&e))
    }
}

/// A stored line, refusing quantities our writes can never produce.
fn item(product_id: String, quantity: i64) -> Result<CartItem, StoreError> {
    match i32::try_from(quantity) {
        Ok(quantity) if (1..=MAX_LINE_QUANTITY).contains(&quantity) => Ok(CartItem {
            product_id,
            quantity,
        }),
        _ => Err(StoreError::Unavailable(format!(
            "stored quantity {quantity} of product {product_id:?} is out of range"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_a_hash_tag_and_never_collide() {
        assert_eq!(cart_key("u1"), "cart:{u1}");
        assert_eq!(order_key("u1"), "cart:{u1}:order");
        // A user id shaped like another user's order key stays distinct.
        assert_ne!(cart_key("u1}:order"), order_key("u1"));
    }
}
