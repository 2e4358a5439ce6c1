//! What the dispatch tests share: an order made ready for dispatch through
//! the orders service's own API.

use boutique_money::Money;
use boutique_proto::boutique::orders::v1::{
    AdvanceOrderRequest, BeginOrderRequest, OrderLine, OrderState, PriceOrderRequest,
    order_service_client::OrderServiceClient,
};
use tonic::transport::Channel;

fn usd(units: i64) -> Option<boutique_proto::Money> {
    Some(Money::new("USD", units, 0).unwrap().into())
}

/// Opens, prices, charges and ships an order for `cart`; its id.
pub(crate) async fn shipped_order(client: &mut OrderServiceClient<Channel>, cart: &str) -> String {
    let begun = client
        .begin_order(BeginOrderRequest {
            owner: cart.to_owned(),
            cart_id: cart.to_owned(),
            currency_code: "USD".to_owned(),
            card_last_four: "0454".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let id = begun.order.unwrap().id;
    client
        .price_order(PriceOrderRequest {
            order_id: id.clone(),
            lines: vec![OrderLine {
                product_id: "OLJCESPC7Z".to_owned(),
                quantity: 1,
                unit_cost: usd(10),
            }],
            shipping_cost: usd(5),
            total: usd(15),
        })
        .await
        .unwrap();
    for (to, transaction_id, tracking_id) in [
        (OrderState::Charged, "tx", ""),
        (OrderState::Shipped, "", "TRACK"),
    ] {
        client
            .advance_order(AdvanceOrderRequest {
                order_id: id.clone(),
                to: to.into(),
                transaction_id: transaction_id.to_owned(),
                tracking_id: tracking_id.to_owned(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    id
}
