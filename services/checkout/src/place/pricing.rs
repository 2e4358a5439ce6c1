//! The quote step's work: every line's unit price and the shipping cost in
//! the shopper's currency, and the total they add up to.
//!
//! Every converted amount (a unit price, the shipping cost) is rounded once,
//! to the minor unit of the shopper's currency (the cent, the whole yen); a
//! line is that unit price × quantity and the total is the exact sum of the
//! lines and the shipping. So the total has no fraction of a cent, and the
//! lines the storefront and the email show (which compute the same way, and
//! format with the same `boutique_money::format_price`) add up to exactly
//! the amount charged.
//!
//! The lines and the shipping quote do not depend on one another, so they
//! are fetched concurrently (up to [`MAX_CONCURRENT_LINES`] lines at a time).
//! Each failure is tagged with the [`CheckoutStage`] it happened in, for
//! `boutique_checkout_failures_total`.

use boutique_money::{Money, MoneyError};
use boutique_platform::{RpcError, call::CallContext};
use boutique_proto::{
    Address, CartItem, CurrencyConversionRequest, GetProductRequest, GetQuoteRequest,
};
use futures::{StreamExt, TryStreamExt, stream};
use tonic::Code;

use super::Checkout;
use crate::{metrics::CheckoutStage, validate::ValidRequest};

/// How many cart lines are priced at once.
const MAX_CONCURRENT_LINES: usize = 16;

/// One priced line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderLine {
    /// The catalog id.
    pub(crate) product_id: String,
    /// How many.
    pub(crate) quantity: i32,
    /// The price of one, in the shopper's currency.
    pub(crate) unit_cost: Money,
}

/// The priced order, in the shopper's currency.
#[derive(Debug)]
pub(crate) struct Priced {
    pub(crate) lines: Vec<OrderLine>,
    pub(crate) shipping: Money,
    pub(crate) total: Money,
}

/// A failure and the step of PlaceOrder it happened in, for
/// `boutique_checkout_failures_total`.
#[derive(Debug)]
pub(super) struct Staged {
    pub(super) stage: CheckoutStage,
    pub(super) error: RpcError,
}

/// Tags an error with its stage.
trait AtStage<T> {
    fn at(self, stage: CheckoutStage) -> Result<T, Staged>;
}

impl<T> AtStage<T> for Result<T, RpcError> {
    fn at(self, stage: CheckoutStage) -> Result<T, Staged> {
        self.map_err(|error| Staged { stage, error })
    }
}

/// Faults of our dependencies that the shopper cannot fix; logged in full,
/// answered opaquely.
#[derive(Debug, thiserror::Error)]
enum Fault {
    #[error("the product catalog returned {0} without a price")]
    MissingPrice(String),
    #[error("the shipping service returned a quote without a cost")]
    MissingQuote,
    #[error("the currency service returned an invalid amount")]
    BadAmount(#[source] MoneyError),
    #[error("the currency service answered in {got:?} when asked for {wanted:?}")]
    WrongCurrency { got: String, wanted: String },
    #[error("the order total cannot be computed")]
    Total(#[source] MoneyError),
}

impl Checkout {
    /// Prices every line and the shipping, concurrently, and totals them.
    pub(super) async fn price(
        &self,
        calls: &CallContext,
        cart: &[CartItem],
        request: &ValidRequest,
    ) -> Result<Priced, Staged> {
        let currency = request.currency.as_str();
        // Concurrent, but bounded: a cart may hold many lines, and each
        // costs two calls. `buffered` keeps the cart's order.
        // (Collected first: a stream holding the closure trips the
        // compiler's `Send` check for the spawned order task.)
        let pricing: Vec<_> = cart
            .iter()
            .map(|item| self.price_line(calls, item, currency))
            .collect();
        let lines = stream::iter(pricing)
            .buffered(MAX_CONCURRENT_LINES)
            .try_collect::<Vec<_>>();
        let shipping = self.quote_shipping(calls, &request.address, cart, currency);
        let (lines, shipping) = futures::try_join!(lines, shipping)?;

        let mut amounts = Vec::with_capacity(lines.len() + 1);
        amounts.push(shipping.clone());
        for line in &lines {
            let line_total = line
                .unit_cost
                .checked_mul(i64::from(line.quantity))
                .map_err(|e| RpcError::internal(Fault::Total(e)))
                .at(CheckoutStage::Currency)?;
            amounts.push(line_total);
        }
        let total = Money::sum(currency, &amounts).map_err(|e| RpcError::internal(Fault::Total(e)));
        let total = total.at(CheckoutStage::Currency)?;
        Ok(Priced {
            lines,
            shipping,
            total,
        })
    }

    /// The unit price of one cart line in the shopper's currency.
    async fn price_line(
        &self,
        calls: &CallContext,
        item: &CartItem,
        currency: &str,
    ) -> Result<OrderLine, Staged> {
        if item.quantity < 1 {
            return Err(RpcError::FailedPrecondition(format!(
                "the cart holds {} with quantity {}",
                item.product_id, item.quantity
            )))
            .at(CheckoutStage::Cart);
        }
        let message = GetProductRequest {
            id: item.product_id.clone(),
        };
        let client = &self.clients.catalog;
        let product = calls
            .call_idempotent(
                "product catalog",
                client,
                message,
                |mut client, r| async move { client.get_product(r).await },
            )
            .await
            .map_err(|status| match status.code() {
                Code::NotFound => RpcError::FailedPrecondition(format!(
                    "product {} in the cart is no longer in the catalog",
                    item.product_id
                )),
                _ => RpcError::from_downstream("product catalog", &status),
            })
            .at(CheckoutStage::Catalog)?;
        let price = product
            .price_usd
            .ok_or_else(|| RpcError::internal(Fault::MissingPrice(product.id.clone())))
            .at(CheckoutStage::Catalog)?;
        Ok(OrderLine {
            product_id: item.product_id.clone(),
            quantity: item.quantity,
            unit_cost: self
                .convert(calls, price, currency)
                .await
                .at(CheckoutStage::Currency)?,
        })
    }

    /// The shipping cost for the cart in the shopper's currency.
    async fn quote_shipping(
        &self,
        calls: &CallContext,
        address: &Address,
        cart: &[CartItem],
        currency: &str,
    ) -> Result<Money, Staged> {
        let message = GetQuoteRequest {
            address: Some(address.clone()),
            items: cart.to_vec(),
        };
        let client = &self.clients.shipping;
        let quote = calls
            .call_idempotent("shipping", client, message, |mut client, r| async move {
                client.get_quote(r).await
            })
            .await
            .map_err(|status| RpcError::from_downstream("shipping", &status))
            .at(CheckoutStage::Quote)?;
        let cost = quote
            .cost_usd
            .ok_or_else(|| RpcError::internal(Fault::MissingQuote))
            .at(CheckoutStage::Quote)?;
        self.convert(calls, cost, currency)
            .await
            .at(CheckoutStage::Currency)
    }

    /// Converts `amount` with the currency service, checks the answer, and
    /// rounds it to the currency's minor unit: the one rounding an order's
    /// amounts get.
    async fn convert(
        &self,
        calls: &CallContext,
        amount: boutique_proto::Money,
        to: &str,
    ) -> Result<Money, RpcError> {
        let message = CurrencyConversionRequest {
            from: Some(amount),
            to_code: to.to_owned(),
        };
        let client = &self.clients.currency;
        let converted = calls
            .call_idempotent("currency", client, message, |mut client, r| async move {
                client.convert(r).await
            })
            .await
            .map_err(|status| RpcError::from_downstream("currency", &status))?;
        let converted =
            Money::try_from(converted).map_err(|e| RpcError::internal(Fault::BadAmount(e)))?;
        if converted.currency_code() != to {
            return Err(RpcError::internal(Fault::WrongCurrency {
                got: converted.currency_code().to_owned(),
                wanted: to.to_owned(),
            }));
        }
        converted
            .round_to_minor_unit()
            .map_err(|e| RpcError::internal(Fault::BadAmount(e)))
    }
}
