//! The order event: what happened to an order, as versioned JSON.
//!
//! An event says which order reached which state, and when; nothing about the
//! customer (no email, address or card), so the queues, the dead-letter queue
//! and any log line that quotes an event hold no personal data. A consumer that
//! needs more asks the service that owns the order.
//!
//! The `schema` field names the format. A change that old consumers could
//! misread gets a new name (`boutique.order-event.v2`) and, for a while, both
//! formats are published; consumers treat any schema they do not know as poison
//! (dead-lettered, kept for an operator) rather than guess.

use std::fmt;

use boutique_platform::clock::now_ms;

use serde::{Deserialize, Serialize};

/// The name of this format, in every event's `schema` field.
pub const SCHEMA: &str = "boutique.order-event.v1";

/// Something that happened to an order.
///
/// On the wire (all fields required, no others used):
///
/// ```json
/// {"schema":"boutique.order-event.v1","id":"5f0c…","type":"OrderCharged",
///  "order_id":"o-123","state":"charged","occurred_at_ms":1764504000000}
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OrderEvent {
    /// Always [`SCHEMA`]; [`OrderEvent::from_json`] rejects anything else.
    pub schema: String,
    /// Unique per event (UUID v4 text): consumers de-duplicate on it, since
    /// delivery is at least once. It is also the AMQP `message_id`.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The order it happened to.
    pub order_id: String,
    /// The state the order reached, e.g. `"charged"`.
    pub state: String,
    /// When, in milliseconds since the Unix epoch.
    pub occurred_at_ms: i64,
}

/// The kinds of order event. Serialized by name (`"OrderPlaced"`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The order was accepted.
    OrderPlaced,
    /// The payment went through.
    OrderCharged,
    /// The shipping service accepted the parcel.
    OrderShipped,
    /// The parcel left the warehouse.
    OrderDispatched,
    /// The parcel arrived.
    OrderDelivered,
    /// The order cannot be completed.
    OrderFailed,
    /// The charge got no clear answer; the order is being checked.
    OrderPaymentUncertain,
    /// The order is stuck and a person must look at it.
    OrderNeedsAttention,
}

/// Why a message body is not an order event we can handle: such a message is
/// poison (retrying cannot fix it), so it goes to the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not the shape of an order event.
    #[error("not an order event: {0}")]
    Json(#[from] serde_json::Error),
    /// An order event in a format this build does not know.
    #[error("unknown schema {0:?} (expected {SCHEMA:?})")]
    Schema(String),
}

impl OrderEvent {
    /// A new event of `kind` for `order_id`, which reached `state` now, with a
    /// fresh id.
    pub fn new(kind: EventKind, order_id: impl Into<String>, state: impl Into<String>) -> Self {
        Self {
            schema: SCHEMA.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            order_id: order_id.into(),
            state: state.into(),
            occurred_at_ms: now_ms(),
        }
    }

    /// The event as JSON text (what is published).
    pub fn to_json(&self) -> String {
        // Plain strings, an enum and an integer: serializing cannot fail.
        serde_json::to_string(self).expect("an order event always serializes")
    }

    /// Reads an event published by [`OrderEvent::to_json`] (or by any producer
    /// of this schema). An error means poison: see [`DecodeError`].
    pub fn from_json(body: &[u8]) -> Result<Self, DecodeError> {
        let event: Self = serde_json::from_slice(body)?;
        if event.schema != SCHEMA {
            return Err(DecodeError::Schema(event.schema));
        }
        Ok(event)
    }

    /// The AMQP routing key of this event: its kind's.
    pub fn routing_key(&self) -> &'static str {
        self.kind.routing_key()
    }
}

impl EventKind {
    /// Every kind, in the order an order usually goes through them.
    pub const ALL: [Self; 8] = [
        Self::OrderPlaced,
        Self::OrderCharged,
        Self::OrderShipped,
        Self::OrderDispatched,
        Self::OrderDelivered,
        Self::OrderFailed,
        Self::OrderPaymentUncertain,
        Self::OrderNeedsAttention,
    ];

    /// The routing key events of this kind are published with: `order.placed`,
    /// `order.charged`, … (`order.needs_attention`). Bindings select on it
    /// (`order.#` takes them all).
    pub fn routing_key(self) -> &'static str {
        match self {
            Self::OrderPlaced => "order.placed",
            Self::OrderCharged => "order.charged",
            Self::OrderShipped => "order.shipped",
            Self::OrderDispatched => "order.dispatched",
            Self::OrderDelivered => "order.delivered",
            Self::OrderFailed => "order.failed",
            Self::OrderPaymentUncertain => "order.payment_uncertain",
            Self::OrderNeedsAttention => "order.needs_attention",
        }
    }

    /// The kind named `name` (as [`EventKind::name`] spells it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The kind's name as serialized (`"OrderPlaced"`); also the AMQP `type` property.
    pub fn name(self) -> &'static str {
        match self {
            Self::OrderPlaced => "OrderPlaced",
            Self::OrderCharged => "OrderCharged",
            Self::OrderShipped => "OrderShipped",
            Self::OrderDispatched => "OrderDispatched",
            Self::OrderDelivered => "OrderDelivered",
            Self::OrderFailed => "OrderFailed",
            Self::OrderPaymentUncertain => "OrderPaymentUncertain",
            Self::OrderNeedsAttention => "OrderNeedsAttention",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let event = OrderEvent::new(EventKind::OrderCharged, "o-1", "charged");
        let back = OrderEvent::from_json(event.to_json().as_bytes()).unwrap();
        assert_eq!(back, event);
        assert_eq!(event.schema, SCHEMA);
        assert!(uuid::Uuid::parse_str(&event.id).is_ok(), "{}", event.id);
        assert!(event.occurred_at_ms > 1_700_000_000_000);
    }

    #[test]
    fn wire_format_is_stable() {
        let event = OrderEvent {
            schema: SCHEMA.to_owned(),
            id: "e-1".to_owned(),
            kind: EventKind::OrderNeedsAttention,
            order_id: "o-1".to_owned(),
            state: "stuck".to_owned(),
            occurred_at_ms: 1_764_504_000_000,
        };
        assert_eq!(
            event.to_json(),
            r#"{"schema":"boutique.order-event.v1","id":"e-1","type":"OrderNeedsAttention","order_id":"o-1","state":"stuck","occurred_at_ms":1764504000000}"#
        );
    }

    #[test]
    fn rejects_other_schemas_and_bodies_as_poison() {
        let mut event = OrderEvent::new(EventKind::OrderPlaced, "o-1", "placed");
        event.schema = "boutique.order-event.v2".to_owned();
        assert!(matches!(
            OrderEvent::from_json(event.to_json().as_bytes()),
            Err(DecodeError::Schema(schema)) if schema == "boutique.order-event.v2"
        ));
        for body in [
            &b"not json"[..],
            b"{}",
            br#"{"schema":"boutique.order-event.v1","id":"e","type":"OrderLost","order_id":"o","state":"s","occurred_at_ms":1}"#,
        ] {
            assert!(
                matches!(OrderEvent::from_json(body), Err(DecodeError::Json(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn kinds_have_routing_keys_and_names() {
        let keys: Vec<_> = EventKind::ALL.iter().map(|k| k.routing_key()).collect();
        assert_eq!(
            keys,
            [
                "order.placed",
                "order.charged",
                "order.shipped",
                "order.dispatched",
                "order.delivered",
                "order.failed",
                "order.payment_uncertain",
                "order.needs_attention"
            ]
        );
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
            // The name is what serde writes.
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.name())
            );
            assert!(kind.routing_key().starts_with("order."));
        }
    }
}
