//! The gRPC handler of `boutique.orders.v1.OrderService`: checks the request,
//! asks the order book, and says what happened in status codes and reasons.

use std::sync::Arc;

use boutique_platform::RpcError;
use boutique_proto::{
    boutique::orders::v1::{
        self as pb, AbandonOrderRequest, AbandonOrderResponse, AdvanceOrderRequest,
        AnonymiseOrdersRequest, AnonymiseOrdersResponse, BeginOrderRequest, BeginOrderResponse,
        GetOrderRequest, LeaseUnsettledOrdersRequest, ListOrdersRequest, ListOrdersResponse,
        NoteOrderRequest, PriceOrderRequest, TransferOrdersRequest, TransferOrdersResponse,
        order_service_server::OrderService,
    },
    reasons,
};
use boutique_store::{
    OrderBook, StoreError,
    orders::{Begun, Move, Moved, NewOrder, Note, OrderState, UnsettledQuery},
};
use tokio::sync::Notify;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    convert::{
        address_from_wire, lines_from_wire, money_from_wire, order_to_wire, page_token,
        parse_page_token, state_from_wire,
    },
    metrics::OrdersMetrics,
};

/// Pages hold at most this many orders.
const MAX_PAGE: u32 = 100;
/// Pages hold this many orders when the caller does not say.
const DEFAULT_PAGE: u32 = 20;
/// Leases are given up after this many attempts when the caller does not say.
const DEFAULT_MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone)]
pub(crate) struct Orders {
    pub(crate) book: OrderBook,
    pub(crate) metrics: OrdersMetrics,
    /// Wakes the outbox relay when a change wrote an event.
    pub(crate) relay: Arc<Notify>,
}

/// The store's failure as the caller sees it: its own mistake, or an outage
/// (logged here with the whole cause, never shown).
fn store_error(error: StoreError) -> RpcError {
    match error {
        StoreError::Invalid { .. } => RpcError::InvalidArgument(error.to_string()),
        error => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "The order store failed."
            );
            RpcError::Unavailable("the order store is unavailable".to_owned())
        }
    }
}

fn required(what: &str, value: &str) -> Result<(), RpcError> {
    if value.trim().is_empty() {
        return Err(RpcError::invalid(format!("{what} is required")));
    }
    Ok(())
}

impl Orders {
    /// The order after a move, or the status that says why it did not move.
    fn moved(&self, order_id: &str, moved: Moved) -> Result<pb::Order, RpcError> {
        match moved {
            Moved::Changed(order) => {
                self.metrics.moved(order.state);
                self.relay.notify_one();
                Ok(order_to_wire(order))
            }
            Moved::Unchanged(order) => Ok(order_to_wire(order)),
            Moved::NotAllowed { from } => Err(RpcError::FailedPrecondition(format!(
                "order {order_id} is {from}: that move is not allowed from there"
            ))),
            Moved::NotFound => Err(RpcError::NotFound(format!("no order {order_id}"))),
        }
    }
}

#[tonic::async_trait]
impl OrderService for Orders {
    async fn begin_order(
        &self,
        request: Request<BeginOrderRequest>,
    ) -> Result<Response<BeginOrderResponse>, Status> {
        let request = request.into_inner();
        required("owner", &request.owner)?;
        required("cart_id", &request.cart_id)?;
        required("currency_code", &request.currency_code)?;
        let new = NewOrder {
            id: Uuid::new_v4().to_string(),
            owner: request.owner,
            cart_id: request.cart_id,
            idempotency_key: Some(request.idempotency_key).filter(|k| !k.is_empty()),
            request_digest: request.request_digest,
            email: request.email,
            address: address_from_wire(request.shipping_address),
            currency_code: request.currency_code,
            card_last_four: request.card_last_four,
        };
        let begun = self.book.begin(&new).await.map_err(store_error)?;
        let (order, replayed) = match begun {
            Begun::Created(order) => {
                self.metrics.moved(order.state);
                (order, false)
            }
            Begun::Replayed(order) => (order, true),
            Begun::KeyReused => {
                return Err(RpcError::invalid(
                    "this idempotency-key was already used for a different order request",
                )
                .with_reason(reasons::IDEMPOTENCY_KEY_REUSED, [])
                .into());
            }
            Begun::CartBusy { order_id } => {
                return Err(RpcError::FailedPrecondition(
                    "another order for this cart is being placed".to_owned(),
                )
                .with_reason(reasons::ORDER_IN_PROGRESS, [("order_id", order_id)])
                .into());
            }
        };
        Ok(Response::new(BeginOrderResponse {
            order: Some(order_to_wire(order)),
            replayed,
        }))
    }

    async fn abandon_order(
        &self,
        request: Request<AbandonOrderRequest>,
    ) -> Result<Response<AbandonOrderResponse>, Status> {
        let order_id = request.into_inner().order_id;
        if self.book.abandon(&order_id).await.map_err(store_error)? {
            return Ok(Response::new(AbandonOrderResponse {}));
        }
        Err(match self.book.get(&order_id).await.map_err(store_error)? {
            Some(order) => RpcError::FailedPrecondition(format!(
                "order {order_id} is priced ({}): it cannot be abandoned",
                order.state
            )),
            None => RpcError::NotFound(format!("no order {order_id}")),
        }
        .into())
    }

    async fn price_order(
        &self,
        request: Request<PriceOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let request = request.into_inner();
        let lines = lines_from_wire(request.lines)?;
        let shipping = money_from_wire("shipping_cost", request.shipping_cost)?;
        let total = money_from_wire("total", request.total)?;
        let moved = self
            .book
            .price(&request.order_id, &lines, &shipping, &total)
            .await
            .map_err(store_error)?;
        if matches!(moved, Moved::Changed(_)) {
            self.relay.notify_one();
        }
        let order = match moved {
            Moved::Changed(order) | Moved::Unchanged(order) => order_to_wire(order),
            other => self.moved(&request.order_id, other)?,
        };
        Ok(Response::new(order))
    }

    async fn advance_order(
        &self,
        request: Request<AdvanceOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let request = request.into_inner();
        let step = Move {
            to: state_from_wire(request.to)?,
            transaction_id: Some(request.transaction_id).filter(|s| !s.is_empty()),
            tracking_id: Some(request.tracking_id).filter(|s| !s.is_empty()),
            reason: request.reason,
            cause: Some(request.cause).filter(|s| !s.is_empty()),
            cart_emptied: request.cart_emptied,
            confirmation_sent: request.confirmation_sent,
            warnings: request.warnings,
            charged_at_ms: Some(request.charged_at_ms).filter(|&at| at > 0),
        };
        let moved = self
            .book
            .advance(&request.order_id, &step)
            .await
            .map_err(store_error)?;
        if step.charged_at_ms.is_some() && matches!(moved, Moved::Changed(_)) {
            // The charge recorded on the way is a transition of its own.
            self.metrics.moved(OrderState::Charged);
        }
        Ok(Response::new(self.moved(&request.order_id, moved)?))
    }

    async fn note_order(
        &self,
        request: Request<NoteOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let request = request.into_inner();
        let note = Note {
            cart_emptied: request.cart_emptied,
            confirmation_sent: request.confirmation_sent,
            warning: Some(request.warning).filter(|w| !w.is_empty()),
        };
        let order = self
            .book
            .note(&request.order_id, &note)
            .await
            .map_err(store_error)?
            .ok_or_else(|| RpcError::NotFound(format!("no order {}", request.order_id)))?;
        Ok(Response::new(order_to_wire(order)))
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let order_id = request.into_inner().order_id;
        let order = self
            .book
            .get(&order_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| RpcError::NotFound(format!("no order {order_id}")))?;
        Ok(Response::new(order_to_wire(order)))
    }

    async fn list_orders(
        &self,
        request: Request<ListOrdersRequest>,
    ) -> Result<Response<ListOrdersResponse>, Status> {
        let request = request.into_inner();
        required("owner", &request.owner)?;
        let size = match request.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let after = parse_page_token(&request.page_token)?;
        // One more than the page, to know whether another page follows.
        let mut orders = self
            .book
            .list_by_owner(
                &request.owner,
                size + 1,
                after.as_ref().map(|(ms, id)| (*ms, id.as_str())),
            )
            .await
            .map_err(store_error)?;
        let more = orders.len() > size as usize;
        orders.truncate(size as usize);
        let orders: Vec<pb::Order> = orders.into_iter().map(order_to_wire).collect();
        let next_page_token = match orders.last() {
            Some(last) if more => page_token(last),
            _ => String::new(),
        };
        Ok(Response::new(ListOrdersResponse {
            orders,
            next_page_token,
        }))
    }

    async fn lease_unsettled_orders(
        &self,
        request: Request<LeaseUnsettledOrdersRequest>,
    ) -> Result<Response<ListOrdersResponse>, Status> {
        let request = request.into_inner();
        if request.older_than_ms < 0 || request.lease_ms <= 0 {
            return Err(RpcError::invalid(
                "older_than_ms must not be negative and lease_ms must be positive",
            )
            .into());
        }
        let query = UnsettledQuery {
            older_than_ms: request.older_than_ms,
            lease_ms: request.lease_ms,
            limit: match request.limit {
                0 => DEFAULT_PAGE,
                n => n.min(MAX_PAGE),
            },
            max_attempts: match request.max_attempts {
                0 => DEFAULT_MAX_ATTEMPTS,
                n => n,
            },
        };
        let orders = self
            .book
            .lease_unsettled(query)
            .await
            .map_err(store_error)?;
        Ok(Response::new(ListOrdersResponse {
            orders: orders.into_iter().map(order_to_wire).collect(),
            next_page_token: String::new(),
        }))
    }

    async fn transfer_orders(
        &self,
        request: Request<TransferOrdersRequest>,
    ) -> Result<Response<TransferOrdersResponse>, Status> {
        let request = request.into_inner();
        required("from_owner", &request.from_owner)?;
        required("to_owner", &request.to_owner)?;
        if request.from_owner == request.to_owner {
            return Err(RpcError::invalid("from_owner and to_owner are the same").into());
        }
        let moved = self
            .book
            .transfer_owner(&request.from_owner, &request.to_owner)
            .await
            .map_err(store_error)?;
        if moved > 0 {
            // Neither owner is logged: a session id is a secret of its shopper.
            tracing::info!(orders = moved, "Orders transferred to a new owner.");
        }
        Ok(Response::new(TransferOrdersResponse {
            transferred: u32::try_from(moved).unwrap_or(u32::MAX),
        }))
    }

    async fn anonymise_orders(
        &self,
        request: Request<AnonymiseOrdersRequest>,
    ) -> Result<Response<AnonymiseOrdersResponse>, Status> {
        let owner = request.into_inner().owner;
        required("owner", &owner)?;
        let anonymised = self
            .book
            .anonymise_owner(&owner)
            .await
            .map_err(store_error)?;
        tracing::info!(orders = anonymised, "Orders anonymised.");
        Ok(Response::new(AnonymiseOrdersResponse {
            anonymised: u32::try_from(anonymised).unwrap_or(u32::MAX),
        }))
    }
}
