//! The order service's tables: orders, their history, cart claims,
//! idempotency keys and the outbox of order events.
//!
//! [`OrderBook`] is the only code that writes them. Every change is one
//! transaction that also writes what must go with it, so no reader ever sees
//! half of it:
//!
//! - [`OrderBook::begin`] creates the order, claims its cart and records its
//!   idempotency key together: two checkouts of one cart, on any replica,
//!   cannot both hold the claim, and a key names exactly one order.
//! - [`OrderBook::advance`] moves the state (checked against the machine in
//!   [`OrderState::can_move_to`] by compare-and-set, so concurrent movers
//!   cannot both win), appends the history and writes the event to the
//!   outbox; an order that ends with nothing charged frees its cart.
//! - [`OrderBook::note`] records that the cart was emptied (which frees the
//!   claim) or the confirmation sent.
//!
//! Owner: the orders service (see ARCHITECTURE.md).

use std::{collections::HashMap, fmt};

use boutique_money::Money;
use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyPool, Row, Transaction, any::AnyRow};

use crate::{Database, StoreError, now_ms};

/// The longest owner, cart id, order id or idempotency key kept, in bytes.
pub const MAX_ID_LEN: usize = 255;

/// How many ids one statement binds at most (outbox rows deleted, orders
/// whose history is read): well under SQLite's limit of bound parameters.
const IDS_PER_STATEMENT: usize = 100;

/// How often a compare-and-set that lost to a concurrent change is retried.
const ATTEMPTS: usize = 5;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Opened (its cart claimed); priced once it has a total; not charged.
    Created,
    /// The card is charged.
    Charged,
    /// Handed to shipping.
    Shipped,
    /// Left the warehouse.
    Dispatched,
    /// Delivered.
    Delivered,
    /// The card was refused; nothing charged.
    Declined,
    /// Ended before any charge.
    Failed,
    /// The charge got no clear answer: the card may have been charged.
    PaymentUncertain,
    /// Charged (or maybe charged) and not finished after bounded tries: for a
    /// person to ship by hand or refund.
    NeedsAttention,
}

impl OrderState {
    /// Every state.
    pub const ALL: [Self; 9] = [
        Self::Created,
        Self::Charged,
        Self::Shipped,
        Self::Dispatched,
        Self::Delivered,
        Self::Declined,
        Self::Failed,
        Self::PaymentUncertain,
        Self::NeedsAttention,
    ];

    /// The states a checkout or the reconciler must still finish.
    pub const INTERMEDIATE: [Self; 3] = [Self::Created, Self::Charged, Self::PaymentUncertain];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Charged => "charged",
            Self::Shipped => "shipped",
            Self::Dispatched => "dispatched",
            Self::Delivered => "delivered",
            Self::Declined => "declined",
            Self::Failed => "failed",
            Self::PaymentUncertain => "payment_uncertain",
            Self::NeedsAttention => "needs_attention",
        }
    }

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The state machine: created → charged → shipped → dispatched →
    /// delivered; a created order may instead be declined, fail or become
    /// payment-uncertain; an uncertain charge settles as charged or failed;
    /// an order with money at stake that cannot be finished needs attention.
    pub fn can_move_to(self, to: Self) -> bool {
        use OrderState::*;
        matches!(
            (self, to),
            (Created, Charged | Declined | Failed | PaymentUncertain)
                | (PaymentUncertain, Charged | Failed | NeedsAttention)
                | (Charged, Shipped | NeedsAttention)
                | (Shipped, Dispatched)
                | (Dispatched, Delivered)
        )
    }

    /// True when nothing was charged and nothing will be.
    pub fn charged_nothing(self) -> bool {
        matches!(self, Self::Declined | Self::Failed)
    }

    /// The event announcing that an order reached this state.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Created => EVENT_PLACED,
            Self::Charged => "OrderCharged",
            Self::Shipped => "OrderShipped",
            Self::Dispatched => "OrderDispatched",
            Self::Delivered => "OrderDelivered",
            Self::Declined | Self::Failed => "OrderFailed",
            Self::PaymentUncertain => "OrderPaymentUncertain",
            Self::NeedsAttention => "OrderNeedsAttention",
        }
    }
}

/// The event written when an order is priced (it has contents and a total).
pub const EVENT_PLACED: &str = "OrderPlaced";

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an order goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    /// Street and number.
    pub street_address: String,
    /// City.
    pub city: String,
    /// State or region.
    pub state: String,
    /// Country.
    pub country: String,
    /// Postal code (upstream's is a number).
    pub zip_code: i32,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// The catalog id.
    pub product_id: String,
    /// How many.
    pub quantity: i32,
    /// The price of one, in the order's currency.
    pub unit_cost: Money,
}

/// One state an order reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The state.
    pub state: OrderState,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Why, for moves that need a reason.
    pub note: String,
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The order id.
    pub id: String,
    /// Who placed it.
    pub owner: String,
    /// The cart it was placed from.
    pub cart_id: String,
    /// Where it is.
    pub state: OrderState,
    /// Where the confirmation goes.
    pub email: String,
    /// Where it goes.
    pub address: ShippingAddress,
    /// The currency of every amount.
    pub currency_code: String,
    /// What was ordered; empty until priced.
    pub lines: Vec<OrderLine>,
    /// Shipping, once priced.
    pub shipping_cost: Option<Money>,
    /// What the card is charged, once priced.
    pub total: Option<Money>,
    /// At most the last four digits of the card.
    pub card_last_four: String,
    /// The payment's transaction id, once charged.
    pub transaction_id: Option<String>,
    /// The shipment's tracking id, once shipped.
    pub tracking_id: Option<String>,
    /// Why it failed or needs attention.
    pub reason: String,
    /// Whether the cart was emptied after the charge.
    pub cart_emptied: bool,
    /// Whether the confirmation email went out.
    pub confirmation_sent: bool,
    /// Problems that did not stop the order.
    pub warnings: Vec<String>,
    /// How often a reconciler leased it.
    pub reconcile_attempts: u32,
    /// Every state reached, oldest first.
    pub history: Vec<HistoryEntry>,
    /// When it was opened.
    pub created_at_ms: i64,
    /// When it last changed.
    pub updated_at_ms: i64,
}

impl Order {
    /// True once the order has lines and a total.
    pub fn is_priced(&self) -> bool {
        self.total.is_some()
    }
}

/// What [`OrderBook::begin`] needs.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The new order's id (made by the caller, unique).
    pub id: String,
    /// Who places it.
    pub owner: String,
    /// The cart it is placed from.
    pub cart_id: String,
    /// The client's idempotency key, if it sent one.
    pub idempotency_key: Option<String>,
    /// A digest of the request, to refuse a key reused for another request.
    pub request_digest: String,
    /// Where the confirmation goes.
    pub email: String,
    /// Where it goes.
    pub address: ShippingAddress,
    /// The currency the shopper pays in.
    pub currency_code: String,
    /// At most the last four digits of the card.
    pub card_last_four: String,
}

/// What [`OrderBook::begin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// A new order holds the cart.
    Created(Order),
    /// The key was seen with the same request: the order it opened.
    Replayed(Order),
    /// The key was seen with a different request.
    KeyReused,
    /// Another order holds the cart.
    CartBusy {
        /// That order.
        order_id: String,
    },
}

/// A move along the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// Where to.
    pub to: OrderState,
    /// The transaction id (with `Charged`).
    pub transaction_id: Option<String>,
    /// The tracking id (with `Shipped`).
    pub tracking_id: Option<String>,
    /// Why (with a failure).
    pub reason: String,
    /// The event that caused the move: made once per cause.
    pub cause: Option<String>,
    /// Noted with the move: the cart was emptied (frees the cart).
    pub cart_emptied: bool,
    /// Noted with the move: the confirmation went out.
    pub confirmation_sent: bool,
    /// Noted with the move: problems that did not stop the order.
    pub warnings: Vec<String>,
    /// A move from `Created` that also records the charge made at this time
    /// (with `transaction_id`): the order passes through `Charged` on the way,
    /// with its own history entry and event, in the same write. Checkout
    /// records a placed order this way, in one write instead of three.
    pub charged_at_ms: Option<i64>,
}

impl Move {
    /// A move to `to` with nothing else.
    pub fn to(to: OrderState) -> Self {
        Self {
            to,
            transaction_id: None,
            tracking_id: None,
            reason: String::new(),
            cause: None,
            cart_emptied: false,
            confirmation_sent: false,
            warnings: Vec::new(),
            charged_at_ms: None,
        }
    }

    /// The states the move passes through, with their times: `Charged` at
    /// the charge's time first when it records one (kept between the order's
    /// last change, `since`, and `now`, so the history stays in order), then
    /// `to` at `now`.
    fn path(&self, since: i64, now: i64) -> Vec<(OrderState, i64, &str)> {
        let mut path = Vec::with_capacity(2);
        if let Some(at) = self.charged_at_ms {
            path.push((OrderState::Charged, at.clamp(since.min(now), now), ""));
        }
        path.push((self.to, now, self.reason.as_str()));
        path
    }
}

/// What [`OrderBook::advance`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moved {
    /// The order moved.
    Changed(Order),
    /// The order had already made this move (or this cause's): unchanged.
    Unchanged(Order),
    /// The machine does not allow the move from where the order is.
    NotAllowed {
        /// Where the order is.
        from: OrderState,
    },
    /// No such order.
    NotFound,
}

/// What happened after the charge, for [`OrderBook::note`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Note {
    /// The cart was emptied (frees the cart for a new order).
    pub cart_emptied: bool,
    /// The confirmation went out.
    pub confirmation_sent: bool,
    /// A problem that did not stop the order.
    pub warning: Option<String>,
}

/// An event waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Unique and stable: a republished event keeps its id.
    pub event_id: String,
    /// The order.
    pub order_id: String,
    /// `OrderPlaced`, `OrderCharged`, ….
    pub event_type: String,
    /// The state the order reached.
    pub state: OrderState,
    /// When.
    pub occurred_at_ms: i64,
}

/// How many events wait, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxBacklog {
    /// Events not yet published.
    pub events: i64,
    /// When the oldest happened, if any wait.
    pub oldest_at_ms: Option<i64>,
}

/// What [`OrderBook::lease_unsettled`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsettledQuery {
    /// Orders unchanged for at least this long.
    pub older_than_ms: i64,
    /// Held by the caller for this long.
    pub lease_ms: i64,
    /// At most this many.
    pub limit: u32,
    /// Orders past their intermediate states (shipped and on, with the cart
    /// or the email left to do) are given up after this many leases.
    pub max_attempts: u32,
}

/// The order tables. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OrderBook {
    db: Database,
    pool: AnyPool,
}

/// The columns of an order row (of `orders o`), as [`from_row`] reads them.
macro_rules! order_columns {
    () => {
        "o.id AS id, o.owner AS owner, o.cart_id AS cart_id, o.state AS state, o.email AS email, \
         o.address AS address, o.currency_code AS currency_code, o.lines AS lines, \
         o.shipping_units AS shipping_units, o.shipping_nanos AS shipping_nanos, \
         o.total_units AS total_units, o.total_nanos AS total_nanos, \
         o.card_last_four AS card_last_four, o.transaction_id AS transaction_id, \
         o.tracking_id AS tracking_id, o.reason AS reason, o.cart_emptied AS cart_emptied, \
         o.confirmation_sent AS confirmation_sent, o.warnings AS warnings, \
         o.reconcile_attempts AS reconcile_attempts, o.created_at_ms AS created_at_ms, \
         o.updated_at_ms AS updated_at_ms"
    };
}

/// `SELECT`s the columns of an order row: a macro, so that every query stays
/// a literal (sqlx refuses SQL built at run time).
macro_rules! select_orders {
    ($($rest:literal)+) => {
        concat!("SELECT ", order_columns!(), " FROM orders o ", $($rest),+)
    };
}

/// A line as kept in the `lines` JSON.
#[derive(Serialize, Deserialize)]
struct StoredLine {
    product_id: String,
    quantity: i32,
    currency_code: String,
    units: i64,
    nanos: i32,
}

impl OrderBook {
    /// The order tables in `db` (migrated).
    pub fn new(db: &Database) -> Self {
        Self {
            db: db.clone(),
            pool: db.pool().clone(),
        }
    }

    /// Opens an order: creates it, claims its cart, records its key, in one
    /// transaction. See [`Begun`] for the outcomes.
    pub async fn begin(&self, new: &NewOrder) -> Result<Begun, StoreError> {
        let (book, new) = (self.clone(), new.clone());
        self.db
            .write(async move { book.begin_here(&new).await })
            .await
    }

    async fn begin_here(&self, new: &NewOrder) -> Result<Begun, StoreError> {
        for (what, value) in [
            ("order id", &new.id),
            ("owner", &new.owner),
            ("cart id", &new.cart_id),
        ] {
            validate_id(what, value)?;
        }
        if let Some(key) = &new.idempotency_key {
            validate_id("idempotency key", key)?;
        }
        validate_last_four(&new.card_last_four)?;
        let now = now_ms()?;
        let address = to_json("address", &new.address)?;
        let action = "opening an order";
        let (_turn, mut tx) = self.db.begin_write(action).await?;
        sqlx::query(
            "INSERT INTO orders (id, owner, cart_id, state, email, address, currency_code, lines, \
             card_last_four, reason, cart_emptied, confirmation_sent, warnings, reconcile_attempts, \
             lease_until_ms, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '[]', $8, '', 0, 0, '[]', 0, 0, $9, $9)",
        )
        .bind(&new.id)
        .bind(&new.owner)
        .bind(&new.cart_id)
        .bind(OrderState::Created.as_str())
        .bind(&new.email)
        .bind(&address)
        .bind(&new.currency_code)
        .bind(&new.card_last_four)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(action))?;
        if let Some(key) = &new.idempotency_key {
            let inserted = sqlx::query(
                "INSERT INTO order_idempotency_keys \
                 (owner, idempotency_key, request_digest, order_id, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner, idempotency_key) DO NOTHING",
            )
            .bind(&new.owner)
            .bind(key)
            .bind(&new.request_digest)
            .bind(&new.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?
            .rows_affected();
            if inserted == 0 {
                // The key names an earlier order (whose insert we waited for).
                tx.rollback().await.map_err(StoreError::query(action))?;
                return self.replay(&new.owner, key, &new.request_digest).await;
            }
        }
        let claimed = sqlx::query(
            "INSERT INTO order_cart_claims (cart_id, order_id, claimed_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (cart_id) DO NOTHING",
        )
        .bind(&new.cart_id)
        .bind(&new.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(action))?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await.map_err(StoreError::query(action))?;
            let holder: Option<(String,)> =
                sqlx::query_as("SELECT order_id FROM order_cart_claims WHERE cart_id = $1")
                    .bind(&new.cart_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::query(action))?;
            return Ok(Begun::CartBusy {
                // Released in between: the caller may simply try again.
                order_id: holder.map(|(id,)| id).unwrap_or_default(),
            });
        }
        append_history(
            &mut tx,
            &new.id,
            1,
            OrderState::Created,
            now,
            "",
            None,
            action,
        )
        .await?;
        tx.commit().await.map_err(StoreError::query(action))?;
        // What was just written, without reading it back.
        Ok(Begun::Created(Order {
            id: new.id.clone(),
            owner: new.owner.clone(),
            cart_id: new.cart_id.clone(),
            state: OrderState::Created,
            email: new.email.clone(),
            address: new.address.clone(),
            currency_code: new.currency_code.clone(),
            lines: Vec::new(),
            shipping_cost: None,
            total: None,
            card_last_four: new.card_last_four.clone(),
            transaction_id: None,
            tracking_id: None,
            reason: String::new(),
            cart_emptied: false,
            confirmation_sent: false,
            warnings: Vec::new(),
            reconcile_attempts: 0,
            history: vec![HistoryEntry {
                state: OrderState::Created,
                at_ms: now,
                note: String::new(),
            }],
            created_at_ms: now,
            updated_at_ms: now,
        }))
    }

    /// The order an already-used key opened, or [`Begun::KeyReused`].
    async fn replay(&self, owner: &str, key: &str, digest: &str) -> Result<Begun, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT request_digest, order_id FROM order_idempotency_keys \
             WHERE owner = $1 AND idempotency_key = $2",
        )
        .bind(owner)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("reading an idempotency key"))?;
        let Some((stored_digest, order_id)) = row else {
            // Its order was abandoned in between; a retry starts afresh.
            return Err(StoreError::invalid(
                "idempotency key",
                "its order was abandoned while this request ran; send it again",
            ));
        };
        if stored_digest != digest {
            return Ok(Begun::KeyReused);
        }
        Ok(Begun::Replayed(self.require(&order_id).await?))
    }

    /// Forgets an order that never got a price: nothing was charged, so its
    /// cart, key and history go with it. False when the order is priced (or
    /// gone).
    pub async fn abandon(&self, order_id: &str) -> Result<bool, StoreError> {
        let (book, order_id) = (self.clone(), order_id.to_owned());
        self.db
            .write(async move { book.abandon_here(&order_id).await })
            .await
    }

    async fn abandon_here(&self, order_id: &str) -> Result<bool, StoreError> {
        let _turn = self.db.write_lock().await;
        let deleted =
            sqlx::query("DELETE FROM orders WHERE id = $1 AND state = $2 AND total_units IS NULL")
                .bind(order_id)
                .bind(OrderState::Created.as_str())
                .execute(&self.pool)
                .await
                .map_err(StoreError::query("abandoning an order"))?
                .rows_affected();
        Ok(deleted == 1)
    }

    /// Records the lines and the total of a created order and announces it
    /// ([`EVENT_PLACED`]). Pricing again with the same total changes nothing.
    pub async fn price(
        &self,
        order_id: &str,
        lines: &[OrderLine],
        shipping_cost: &Money,
        total: &Money,
    ) -> Result<Moved, StoreError> {
        let book = self.clone();
        let (order_id, lines) = (order_id.to_owned(), lines.to_vec());
        let (shipping_cost, total) = (shipping_cost.clone(), total.clone());
        self.db
            .write(async move {
                book.price_here(&order_id, &lines, &shipping_cost, &total)
                    .await
            })
            .await
    }

    async fn price_here(
        &self,
        order_id: &str,
        lines: &[OrderLine],
        shipping_cost: &Money,
        total: &Money,
    ) -> Result<Moved, StoreError> {
        let stored: Vec<StoredLine> = lines
            .iter()
            .map(|l| StoredLine {
                product_id: l.product_id.clone(),
                quantity: l.quantity,
                currency_code: l.unit_cost.currency_code().to_owned(),
                units: l.unit_cost.units(),
                nanos: l.unit_cost.nanos(),
            })
            .collect();
        let lines_json = to_json("lines", &stored)?;
        let now = now_ms()?;
        let action = "pricing an order";
        let (turn, mut tx) = self.db.begin_write(action).await?;
        let updated = sqlx::query(
            "UPDATE orders SET lines = $2, shipping_units = $3, shipping_nanos = $4, \
             total_units = $5, total_nanos = $6, updated_at_ms = $7 \
             WHERE id = $1 AND state = $8 AND total_units IS NULL",
        )
        .bind(order_id)
        .bind(&lines_json)
        .bind(shipping_cost.units())
        .bind(shipping_cost.nanos())
        .bind(total.units())
        .bind(total.nanos())
        .bind(now)
        .bind(OrderState::Created.as_str())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(action))?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await.map_err(StoreError::query(action))?;
            return Ok(match self.get(order_id).await? {
                None => Moved::NotFound,
                Some(order) if order.total.as_ref() == Some(total) => Moved::Unchanged(order),
                Some(order) => Moved::NotAllowed { from: order.state },
            });
        }
        write_event(
            &mut tx,
            order_id,
            EVENT_PLACED,
            OrderState::Created,
            now,
            0,
            action,
        )
        .await?;
        tx.commit().await.map_err(StoreError::query(action))?;
        // Read back after the turn is given up: other writers need not wait for it.
        drop(turn);
        Ok(Moved::Changed(self.require(order_id).await?))
    }

    /// Moves an order (see [`Moved`] for the outcomes): the state, the
    /// history and the outbox in one transaction. A move to a state where
    /// nothing was charged, or one noting the cart emptied, frees the cart.
    pub async fn advance(&self, order_id: &str, step: &Move) -> Result<Moved, StoreError> {
        let (book, order_id, step) = (self.clone(), order_id.to_owned(), step.clone());
        self.db
            .write(async move { book.advance_here(&order_id, &step).await })
            .await
    }

    async fn advance_here(&self, order_id: &str, step: &Move) -> Result<Moved, StoreError> {
        let action = "moving an order";
        if step.charged_at_ms.is_some() && step.transaction_id.is_none() {
            return Err(StoreError::invalid(
                "move",
                "recording the charge on the way needs its transaction id",
            ));
        }
        for _ in 0..ATTEMPTS {
            let Some((order, seen)) = self.read(order_id, step.cause.as_deref()).await? else {
                return Ok(Moved::NotFound);
            };
            if seen {
                return Ok(Moved::Unchanged(order));
            }
            if order.state == step.to && same_ids(&order, step) {
                return Ok(Moved::Unchanged(order));
            }
            if !allowed(&order, step) {
                return Ok(Moved::NotAllowed { from: order.state });
            }
            let now = now_ms()?.max(order.updated_at_ms);
            let mut warnings = order.warnings.clone();
            warnings.extend(step.warnings.iter().cloned());
            let warnings = to_json("warnings", &warnings)?;
            let (turn, mut tx) = self.db.begin_write(action).await?;
            // Compare-and-set on the state and the last change, so a note
            // written since the read (its warnings) is not overwritten.
            let updated = sqlx::query(
                "UPDATE orders SET state = $2, \
                 transaction_id = COALESCE($3, transaction_id), \
                 tracking_id = COALESCE($4, tracking_id), \
                 reason = CASE WHEN $5 = '' THEN reason ELSE $5 END, \
                 updated_at_ms = $6, \
                 cart_emptied = CASE WHEN $8 = 1 THEN 1 ELSE cart_emptied END, \
                 confirmation_sent = CASE WHEN $9 = 1 THEN 1 ELSE confirmation_sent END, \
                 warnings = $10 \
                 WHERE id = $1 AND state = $7 AND updated_at_ms = $11",
            )
            .bind(order_id)
            .bind(step.to.as_str())
            .bind(step.transaction_id.as_deref())
            .bind(step.tracking_id.as_deref())
            .bind(&step.reason)
            .bind(now)
            .bind(order.state.as_str())
            .bind(i32::from(step.cart_emptied))
            .bind(i32::from(step.confirmation_sent))
            .bind(&warnings)
            .bind(order.updated_at_ms)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?
            .rows_affected();
            if updated == 0 {
                // Someone else changed it first: look again.
                tx.rollback().await.map_err(StoreError::query(action))?;
                continue;
            }
            // The compare-and-set above makes this the order's only writer,
            // so its history read before is still whole.
            let mut seq = i64::try_from(order.history.len()).unwrap_or(i64::MAX);
            let path = step.path(order.updated_at_ms, now);
            let last = path.len() - 1;
            for (i, (state, at_ms, note)) in path.into_iter().enumerate() {
                seq += 1;
                // The cause marks the move's last entry (it is unique per order).
                let cause = if i == last {
                    step.cause.as_deref()
                } else {
                    None
                };
                append_history(&mut tx, order_id, seq, state, at_ms, note, cause, action).await?;
                write_event(
                    &mut tx,
                    order_id,
                    state.event_type(),
                    state,
                    at_ms,
                    seq,
                    action,
                )
                .await?;
            }
            if step.to.charged_nothing() || step.cart_emptied {
                release_claim(&mut tx, order_id, action).await?;
            }
            tx.commit().await.map_err(StoreError::query(action))?;
            drop(turn);
            return Ok(Moved::Changed(moved(order, step, now)));
        }
        Err(StoreError::corrupt(
            "order",
            "it kept changing under concurrent moves",
        ))
    }

    /// Notes what happened after the charge. Emptying the cart frees it.
    pub async fn note(&self, order_id: &str, note: &Note) -> Result<Option<Order>, StoreError> {
        let (book, order_id, note) = (self.clone(), order_id.to_owned(), note.clone());
        self.db
            .write(async move { book.note_here(&order_id, &note).await })
            .await
    }

    async fn note_here(&self, order_id: &str, note: &Note) -> Result<Option<Order>, StoreError> {
        let action = "noting on an order";
        let (turn, mut tx) = self.db.begin_write(action).await?;
        let row: Option<(String,)> = sqlx::query_as("SELECT warnings FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        let Some((warnings,)) = row else {
            return Ok(None);
        };
        let mut warnings: Vec<String> = from_json("warnings", &warnings)?;
        warnings.extend(note.warning.clone());
        sqlx::query(
            "UPDATE orders SET \
             cart_emptied = CASE WHEN $2 = 1 THEN 1 ELSE cart_emptied END, \
             confirmation_sent = CASE WHEN $3 = 1 THEN 1 ELSE confirmation_sent END, \
             warnings = $4, updated_at_ms = $5 WHERE id = $1",
        )
        .bind(order_id)
        .bind(i32::from(note.cart_emptied))
        .bind(i32::from(note.confirmation_sent))
        .bind(to_json("warnings", &warnings)?)
        .bind(now_ms()?)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(action))?;
        if note.cart_emptied {
            release_claim(&mut tx, order_id, action).await?;
        }
        tx.commit().await.map_err(StoreError::query(action))?;
        drop(turn);
        self.get(order_id).await
    }

    /// One order, with its history.
    pub async fn get(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        Ok(self.read(order_id, None).await?.map(|(order, _)| order))
    }

    /// One order with its history, in one query (the history joined: each
    /// statement is a round trip to the connection's thread on SQLite, and
    /// one over the network on PostgreSQL), and whether an entry of its
    /// history was made by `cause`.
    async fn read(
        &self,
        order_id: &str,
        cause: Option<&str>,
    ) -> Result<Option<(Order, bool)>, StoreError> {
        let action = "reading an order";
        let rows = sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            ", h.state AS entry_state, h.at_ms AS entry_at_ms, h.note AS entry_note, \
             h.cause AS entry_cause \
             FROM orders o LEFT JOIN order_history h ON h.order_id = o.id \
             WHERE o.id = $1 ORDER BY h.seq"
        ))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut order = from_row(first)?;
        let mut seen = false;
        for row in &rows {
            let column = |name: &str| -> Result<Option<String>, StoreError> {
                row.try_get::<Option<String>, _>(name)
                    .map_err(|e| StoreError::corrupt("order history", e))
            };
            let Some(state) = column("entry_state")? else {
                continue; // No history (the join found none).
            };
            seen |= cause.is_some() && column("entry_cause")?.as_deref() == cause;
            order.history.push(HistoryEntry {
                state: parse_state(&state)?,
                at_ms: row
                    .try_get::<i64, _>("entry_at_ms")
                    .map_err(|e| StoreError::corrupt("order history", e))?,
                note: column("entry_note")?.unwrap_or_default(),
            });
        }
        Ok(Some((order, seen)))
    }

    async fn require(&self, order_id: &str) -> Result<Order, StoreError> {
        self.get(order_id)
            .await?
            .ok_or_else(|| StoreError::corrupt("order", "it vanished right after it was written"))
    }

    /// Attaches each of `orders`' history, read in one query per
    /// [`IDS_PER_STATEMENT`] orders (or, with `whole_table`, for
    /// [`OrderBook::all`], in one query of the whole history table) rather
    /// than one query per order.
    async fn with_histories(
        &self,
        mut orders: Vec<Order>,
        whole_table: bool,
    ) -> Result<Vec<Order>, StoreError> {
        let action = "reading orders' histories";
        let ids: Vec<String> = orders.iter().map(|order| order.id.clone()).collect();
        // An empty batch stands for the whole table.
        let batches: Vec<&[String]> = if whole_table {
            vec![&[]]
        } else {
            ids.chunks(IDS_PER_STATEMENT).collect()
        };
        let at: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        for batch in batches {
            let columns = "SELECT order_id, state, at_ms, note FROM order_history";
            let text = if batch.is_empty() {
                format!("{columns} ORDER BY order_id, seq")
            } else {
                // Only placeholders are put in the text; the ids are bound.
                let placeholders: Vec<String> =
                    (1..=batch.len()).map(|n| format!("${n}")).collect();
                format!(
                    "{columns} WHERE order_id IN ({}) ORDER BY order_id, seq",
                    placeholders.join(", ")
                )
            };
            let mut query =
                sqlx::query_as::<_, (String, String, i64, String)>(sqlx::AssertSqlSafe(text));
            for id in batch {
                query = query.bind(id);
            }
            let rows = query
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::query(action))?;
            for (order_id, state, at_ms, note) in rows {
                if let Some(&i) = at.get(order_id.as_str()) {
                    orders[i].history.push(HistoryEntry {
                        state: parse_state(&state)?,
                        at_ms,
                        note,
                    });
                }
            }
        }
        Ok(orders)
    }

    /// `owner`'s orders, newest first: up to `limit` after `after` (the last
    /// order of the previous page, as `(created_at_ms, id)`).
    pub async fn list_by_owner(
        &self,
        owner: &str,
        limit: u32,
        after: Option<(i64, &str)>,
    ) -> Result<Vec<Order>, StoreError> {
        let (before_ms, before_id) = after.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(select_orders!(
            "WHERE owner = $1 AND (created_at_ms < $2 OR (created_at_ms = $2 AND id < $3)) "
            "ORDER BY created_at_ms DESC, id DESC LIMIT $4"
        ))
        .bind(owner)
        .bind(before_ms)
        // For the first page every id sorts after "": the first clause decides.
        .bind(if after.is_some() { before_id } else { "" })
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("listing orders"))?;
        let orders = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        self.with_histories(orders, false).await
    }

    /// Leases orders left unfinished for `query.older_than_ms`: in an
    /// intermediate state, or shipped and on with the cart or the email left
    /// to do (until `max_attempts`). Each is held for `lease_ms`, so replicas
    /// do not work on one order together, and its attempts are counted.
    pub async fn lease_unsettled(&self, query: UnsettledQuery) -> Result<Vec<Order>, StoreError> {
        let action = "leasing unsettled orders";
        let now = now_ms()?;
        let candidates: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM orders WHERE updated_at_ms <= $1 AND lease_until_ms <= $2 AND \
             (state IN ($3, $4, $5) OR (state IN ($6, $7, $8) AND reconcile_attempts < $9 \
              AND (cart_emptied = 0 OR confirmation_sent = 0))) \
             ORDER BY updated_at_ms LIMIT $10",
        )
        .bind(now.saturating_sub(query.older_than_ms))
        .bind(now)
        .bind(OrderState::Created.as_str())
        .bind(OrderState::Charged.as_str())
        .bind(OrderState::PaymentUncertain.as_str())
        .bind(OrderState::Shipped.as_str())
        .bind(OrderState::Dispatched.as_str())
        .bind(OrderState::Delivered.as_str())
        .bind(i64::from(query.max_attempts))
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        let mut leased = Vec::new();
        for (id,) in candidates {
            let turn = self.db.write_lock().await;
            let taken = sqlx::query(
                "UPDATE orders SET lease_until_ms = $2, reconcile_attempts = reconcile_attempts + 1 \
                 WHERE id = $1 AND lease_until_ms <= $3",
            )
            .bind(&id)
            .bind(now.saturating_add(query.lease_ms))
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query(action))?
            .rows_affected();
            drop(turn);
            if taken == 1
                && let Some(order) = self.get(&id).await?
            {
                leased.push(order);
            }
        }
        Ok(leased)
    }

    /// How many orders sit in each intermediate state unchanged for at least
    /// `older_than_ms` (zero counts included).
    pub async fn stuck(&self, older_than_ms: i64) -> Result<Vec<(OrderState, i64)>, StoreError> {
        let cutoff = now_ms()?.saturating_sub(older_than_ms);
        let mut counts = Vec::new();
        for state in OrderState::INTERMEDIATE {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM orders WHERE state = $1 AND updated_at_ms <= $2",
            )
            .bind(state.as_str())
            .bind(cutoff)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("counting stuck orders"))?;
            counts.push((state, n));
        }
        Ok(counts)
    }

    /// Up to `limit` events waiting in the outbox, oldest first.
    pub async fn outbox(&self, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT event_id, order_id, event_type, state, occurred_at_ms FROM order_outbox \
             ORDER BY occurred_at_ms, order_id, seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("reading the outbox"))?;
        rows.into_iter()
            .map(|(event_id, order_id, event_type, state, occurred_at_ms)| {
                Ok(OutboxEvent {
                    event_id,
                    order_id,
                    event_type,
                    state: parse_state(&state)?,
                    occurred_at_ms,
                })
            })
            .collect()
    }

    /// Removes published events from the outbox: one statement per batch
    /// of up to [`IDS_PER_STATEMENT`] ids.
    pub async fn remove_published(&self, event_ids: &[String]) -> Result<(), StoreError> {
        let (book, event_ids) = (self.clone(), event_ids.to_vec());
        self.db
            .write(async move { book.remove_published_here(&event_ids).await })
            .await
    }

    async fn remove_published_here(&self, event_ids: &[String]) -> Result<(), StoreError> {
        let action = "clearing published events";
        let (_turn, mut tx) = self.db.begin_write(action).await?;
        for batch in event_ids.chunks(IDS_PER_STATEMENT) {
            // Only placeholders are put in the text; the ids are bound.
            let placeholders: Vec<String> = (1..=batch.len()).map(|n| format!("${n}")).collect();
            let text = format!(
                "DELETE FROM order_outbox WHERE event_id IN ({})",
                placeholders.join(", ")
            );
            let mut delete = sqlx::query(sqlx::AssertSqlSafe(text));
            for id in batch {
                delete = delete.bind(id);
            }
            delete
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(action))?;
        }
        tx.commit().await.map_err(StoreError::query(action))
    }

    /// How many events wait in the outbox, and since when.
    pub async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        let (events, oldest_at_ms): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MIN(occurred_at_ms) FROM order_outbox")
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::query("measuring the outbox"))?;
        Ok(OutboxBacklog {
            events,
            oldest_at_ms,
        })
    }

    /// Makes every order of `from` (a guest's session) `to`'s (the account
    /// the guest signed in to), with its idempotency keys, in one
    /// transaction; a key `to` already holds stays with `from` (the primary
    /// key forbids two). The cart each was placed from stays as it was.
    /// Returns how many orders moved; repeating it moves none.
    pub async fn transfer_owner(&self, from: &str, to: &str) -> Result<u64, StoreError> {
        validate_id("owner", from)?;
        validate_id("new owner", to)?;
        if from == to {
            return Err(StoreError::invalid("new owner", "it is the owner itself"));
        }
        let (book, from, to) = (self.clone(), from.to_owned(), to.to_owned());
        self.db
            .write(async move { book.transfer_here(&from, &to).await })
            .await
    }

    async fn transfer_here(&self, from: &str, to: &str) -> Result<u64, StoreError> {
        let action = "transferring orders";
        let (_turn, mut tx) = self.db.begin_write(action).await?;
        let moved = sqlx::query("UPDATE orders SET owner = $2 WHERE owner = $1")
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?
            .rows_affected();
        sqlx::query(
            "UPDATE order_idempotency_keys SET owner = $2 WHERE owner = $1 AND NOT EXISTS \
             (SELECT 1 FROM order_idempotency_keys AS held \
              WHERE held.owner = $2 AND held.idempotency_key = order_idempotency_keys.idempotency_key)",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(action))?;
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(moved)
    }

    /// Anonymises every order of `owner` (a deleted account) in one
    /// transaction: each gets an owner and cart id of its own that name
    /// nobody (`deleted-<uuid>`), and loses its email, shipping address and
    /// card digits; lines, amounts, states and history stay. The owner's
    /// idempotency keys go. Returns how many orders were anonymised;
    /// repeating it finds none.
    pub async fn anonymise_owner(&self, owner: &str) -> Result<u64, StoreError> {
        validate_id("owner", owner)?;
        let (book, owner) = (self.clone(), owner.to_owned());
        self.db
            .write(async move { book.anonymise_here(&owner).await })
            .await
    }

    async fn anonymise_here(&self, owner: &str) -> Result<u64, StoreError> {
        let action = "anonymising orders";
        let no_address = to_json("address", &ShippingAddress::default())?;
        let (_turn, mut tx) = self.db.begin_write(action).await?;
        let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM orders WHERE owner = $1")
            .bind(owner)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        for (id,) in &ids {
            // One stand-in per order, so nothing ties the orders together.
            let nobody = format!("deleted-{}", uuid::Uuid::new_v4());
            sqlx::query(
                "UPDATE orders SET owner = $2, cart_id = $2, email = '', address = $3, \
                 card_last_four = '' WHERE id = $1",
            )
            .bind(id)
            .bind(&nobody)
            .bind(&no_address)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        }
        sqlx::query("DELETE FROM order_idempotency_keys WHERE owner = $1")
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(u64::try_from(ids.len()).unwrap_or(u64::MAX))
    }

    /// Every order, oldest first (audits, tests; not for request paths).
    pub async fn all(&self) -> Result<Vec<Order>, StoreError> {
        let rows = sqlx::query(select_orders!("ORDER BY created_at_ms, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("listing every order"))?;
        let orders = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        self.with_histories(orders, true).await
    }

    /// Every charged order's `(order id, transaction id)`, for the audit.
    pub async fn charged(&self) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as(
            "SELECT id, transaction_id FROM orders WHERE transaction_id IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("listing charged orders"))
    }
}

/// `order` after `step` was written at `now` (what the update did, without
/// reading it back).
fn moved(mut order: Order, step: &Move, now: i64) -> Order {
    order.state = step.to;
    if step.transaction_id.is_some() {
        order.transaction_id.clone_from(&step.transaction_id);
    }
    if step.tracking_id.is_some() {
        order.tracking_id.clone_from(&step.tracking_id);
    }
    if !step.reason.is_empty() {
        order.reason.clone_from(&step.reason);
    }
    order.cart_emptied |= step.cart_emptied;
    order.confirmation_sent |= step.confirmation_sent;
    order.warnings.extend(step.warnings.iter().cloned());
    let since = order.updated_at_ms;
    order.updated_at_ms = now;
    for (state, at_ms, note) in step.path(since, now) {
        order.history.push(HistoryEntry {
            state,
            at_ms,
            note: note.to_owned(),
        });
    }
    order
}

/// True when the state machine allows every state the move passes through,
/// from where `order` is (a created order only once priced).
fn allowed(order: &Order, step: &Move) -> bool {
    if order.state == OrderState::Created && !order.is_priced() {
        return false;
    }
    let mut at = order.state;
    for (state, _, _) in step.path(0, 0) {
        if !at.can_move_to(state) {
            return false;
        }
        at = state;
    }
    true
}

/// True when the move, if repeated, asks for what the order already has.
fn same_ids(order: &Order, step: &Move) -> bool {
    let same = |asked: &Option<String>, has: &Option<String>| asked.is_none() || asked == has;
    same(&step.transaction_id, &order.transaction_id) && same(&step.tracking_id, &order.tracking_id)
}

/// Appends history entry `seq` (the primary key refuses a duplicate).
#[allow(clippy::too_many_arguments)] // One row's columns; a struct would only rename them.
async fn append_history(
    tx: &mut Transaction<'static, Any>,
    order_id: &str,
    seq: i64,
    state: OrderState,
    at_ms: i64,
    note: &str,
    cause: Option<&str>,
    action: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_history (order_id, seq, state, at_ms, note, cause) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(order_id)
    .bind(seq)
    .bind(state.as_str())
    .bind(at_ms)
    .bind(note)
    .bind(cause)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::query(action))?;
    Ok(())
}

/// Writes an event to the outbox. Its id is made of the order id and the
/// history entry it announces, so it is unique and stable.
async fn write_event(
    tx: &mut Transaction<'static, Any>,
    order_id: &str,
    event_type: &str,
    state: OrderState,
    at_ms: i64,
    seq: i64,
    action: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_outbox (event_id, order_id, event_type, state, occurred_at_ms, seq) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(format!("{order_id}/{seq}/{event_type}"))
    .bind(order_id)
    .bind(event_type)
    .bind(state.as_str())
    .bind(at_ms)
    .bind(seq)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::query(action))?;
    Ok(())
}

async fn release_claim(
    tx: &mut Transaction<'static, Any>,
    order_id: &str,
    action: &'static str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM order_cart_claims WHERE order_id = $1")
        .bind(order_id)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::query(action))?;
    Ok(())
}

fn from_row(row: &AnyRow) -> Result<Order, StoreError> {
    let get_str = |name: &str| -> Result<String, StoreError> {
        row.try_get::<String, _>(name)
            .map_err(|e| StoreError::corrupt("order", e))
    };
    let get_i64 = |name: &str| -> Result<i64, StoreError> {
        row.try_get::<i64, _>(name)
            .map_err(|e| StoreError::corrupt("order", e))
    };
    let get_flag = |name: &str| -> Result<bool, StoreError> {
        row.try_get::<i32, _>(name)
            .map(|v| v != 0)
            .map_err(|e| StoreError::corrupt("order", e))
    };
    let opt_str = |name: &str| -> Result<Option<String>, StoreError> {
        row.try_get::<Option<String>, _>(name)
            .map_err(|e| StoreError::corrupt("order", e))
    };
    let currency_code = get_str("currency_code")?;
    let money = |units: &str, nanos: &str| -> Result<Option<Money>, StoreError> {
        let units = row
            .try_get::<Option<i64>, _>(units)
            .map_err(|e| StoreError::corrupt("order", e))?;
        let nanos = row
            .try_get::<Option<i32>, _>(nanos)
            .map_err(|e| StoreError::corrupt("order", e))?;
        match (units, nanos) {
            (Some(units), Some(nanos)) => Money::new(currency_code.clone(), units, nanos)
                .map(Some)
                .map_err(|e| StoreError::corrupt("order amount", e)),
            _ => Ok(None),
        }
    };
    let lines: Vec<StoredLine> = from_json("lines", &get_str("lines")?)?;
    let lines = lines
        .into_iter()
        .map(|l| {
            Ok(OrderLine {
                unit_cost: Money::new(l.currency_code, l.units, l.nanos)
                    .map_err(|e| StoreError::corrupt("order line", e))?,
                product_id: l.product_id,
                quantity: l.quantity,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Order {
        id: get_str("id")?,
        owner: get_str("owner")?,
        cart_id: get_str("cart_id")?,
        state: parse_state(&get_str("state")?)?,
        email: get_str("email")?,
        address: from_json("address", &get_str("address")?)?,
        lines,
        shipping_cost: money("shipping_units", "shipping_nanos")?,
        total: money("total_units", "total_nanos")?,
        currency_code: currency_code.clone(),
        card_last_four: get_str("card_last_four")?,
        transaction_id: opt_str("transaction_id")?,
        tracking_id: opt_str("tracking_id")?,
        reason: get_str("reason")?,
        cart_emptied: get_flag("cart_emptied")?,
        confirmation_sent: get_flag("confirmation_sent")?,
        warnings: from_json("warnings", &get_str("warnings")?)?,
        reconcile_attempts: u32::try_from(
            row.try_get::<i32, _>("reconcile_attempts")
                .map_err(|e| StoreError::corrupt("order", e))?,
        )
        .unwrap_or(0),
        history: Vec::new(),
        created_at_ms: get_i64("created_at_ms")?,
        updated_at_ms: get_i64("updated_at_ms")?,
    })
}

fn parse_state(name: &str) -> Result<OrderState, StoreError> {
    OrderState::parse(name).ok_or_else(|| StoreError::corrupt("order state", name))
}

fn to_json(what: &'static str, value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::invalid(what, e))
}

fn from_json<T: for<'de> Deserialize<'de>>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(what, e))
}

/// Refuses an empty id or one longer than [`MAX_ID_LEN`] (the ratings book
/// checks its ids with it too).
pub(crate) fn validate_id(what: &'static str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::invalid(what, "it is empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(StoreError::invalid(
            what,
            format_args!("it is longer than {MAX_ID_LEN} bytes"),
        ));
    }
    Ok(())
}

fn validate_last_four(value: &str) -> Result<(), StoreError> {
    if value.len() > 4 || !value.bytes().all(|b| b.is_ascii_digit()) {
        // Never echo the value: it could be a whole card number.
        return Err(StoreError::invalid(
            "order",
            "card_last_four must be at most four digits",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_the_machine_moves_forward_only() {
        for state in OrderState::ALL {
            assert_eq!(OrderState::parse(state.as_str()), Some(state));
            assert!(!state.can_move_to(state), "{state} to itself is a repeat");
            assert!(!state.can_move_to(OrderState::Created));
        }
        assert!(OrderState::Created.can_move_to(OrderState::Charged));
        assert!(!OrderState::Created.can_move_to(OrderState::Shipped));
        assert!(!OrderState::Declined.can_move_to(OrderState::Charged));
        assert!(!OrderState::Delivered.can_move_to(OrderState::NeedsAttention));
        assert!(OrderState::PaymentUncertain.can_move_to(OrderState::Charged));
    }
}
