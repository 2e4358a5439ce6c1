//! The caller's deadline and trace context reach the downstream calls.

use std::time::Duration;

use tonic::Request;

use crate::{
    fakes::{CountingPayment, FakeShipping, Seen},
    helpers::{Shop, order_request},
};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn methods(calls: &[Seen]) -> Vec<&'static str> {
    calls.iter().map(|c| c.method).collect()
}

#[tokio::test]
async fn deadline_and_trace_context_are_passed_on() {
    let payment = CountingPayment::default();
    let shipping = FakeShipping::default();
    let mut shop = Shop::start_with(vec![
        ("payment", payment.spawn().await),
        ("shipping", shipping.spawn().await),
    ])
    .await;

    // With a deadline and trace headers.
    shop.add("traced", "6E92ZMYYFZ", 1).await;
    let mut request = Request::new(order_request("traced", "USD"));
    request.set_timeout(Duration::from_secs(5));
    let metadata = request.metadata_mut();
    metadata.insert("traceparent", TRACEPARENT.parse().unwrap());
    metadata.insert("tracestate", "vendor=value".parse().unwrap());
    metadata.insert("baggage", "shop=boutique".parse().unwrap());
    metadata.insert("x-unrelated", "kept-out".parse().unwrap());
    shop.client.place_order(request).await.unwrap();

    let mut calls = shipping.recorder.calls();
    calls.extend(payment.recorder.calls());
    assert_eq!(methods(&calls), ["GetQuote", "ShipOrder", "Charge"]);
    for call in &calls {
        let timeout = call.timeout.expect("a grpc-timeout");
        // After the charge the order runs on its own budget (the caller's
        // deadline no longer decides whether a charged order ships).
        let budget = match call.method {
            "ShipOrder" => boutique_checkout::DEFAULT_POST_CHARGE_TIMEOUT,
            _ => Duration::from_secs(5),
        };
        assert!(
            timeout <= budget && timeout > budget - Duration::from_secs(2),
            "{call:?}"
        );
        assert_eq!(call.traceparent.as_deref(), Some(TRACEPARENT), "{call:?}");
        assert_eq!(call.tracestate.as_deref(), Some("vendor=value"), "{call:?}");
        assert_eq!(call.baggage.as_deref(), Some("shop=boutique"), "{call:?}");
    }
    // Later calls before the charge get what is left, never more.
    let (quote, charge) = (&calls[0], &calls[2]);
    assert!(charge.timeout <= quote.timeout, "{calls:?}");

    // Without a deadline each call gets the default, and no trace headers
    // are made up.
    shop.add("untraced", "6E92ZMYYFZ", 1).await;
    shop.client
        .place_order(order_request("untraced", "USD"))
        .await
        .unwrap();
    let charge = payment.recorder.calls().pop().unwrap();
    assert_eq!(
        charge.timeout,
        Some(boutique_checkout::DEFAULT_CALL_TIMEOUT)
    );
    assert_eq!(charge.traceparent, None);
    assert_eq!(charge.baggage, None);
    assert_eq!(payment.amounts().len(), 2);
    shop.stop().await;
}
