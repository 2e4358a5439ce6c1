"""An upstream-style client (Python stubs generated from the hipstershop proto by
grpcio-tools) calls every RPC of the backend services over real gRPC and gets
the documented answers and status codes."""

import re
import subprocess
import uuid

import grpc
import pytest

from conftest import Service, boutique_binary

PRODUCT_IDS = {
    "OLJCESPC7Z", "66VCHSJNUP", "1YMWWN1N4O", "L9ECAV7KIM", "2ZYFJ3GM2N",
    "0PUK6V6EV0", "LS4PSXUNUM", "9SIQT8TOJO", "6E92ZMYYFZ",
}
UPSTREAM_CURRENCIES = (
    "EUR USD JPY BGN CZK DKK GBP HUF PLN RON SEK CHF ISK NOK HRK RUB TRY AUD BRL CAD CNY HKD IDR ILS INR KRW "
    "MXN MYR NZD PHP SGD THB ZAR"
).split()


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code()


def usd(pb, units, nanos):
    return pb[0].Money(currency_code="USD", units=units, nanos=nanos)


def address(pb):
    return pb[0].Address(
        street_address="1600 Amphitheatre Parkway", city="Mountain View", state="CA", country="United States",
        zip_code=94043,
    )


def test_catalog(pb, services):
    m, g = pb
    stub = g.ProductCatalogServiceStub(services("catalog").channel)
    products = stub.ListProducts(m.Empty()).products
    assert {p.id for p in products} == PRODUCT_IDS
    sunglasses = stub.GetProduct(m.GetProductRequest(id="OLJCESPC7Z"))
    assert (sunglasses.name, sunglasses.picture) == ("Sunglasses", "/static/img/products/sunglasses.jpg")
    assert (sunglasses.price_usd.currency_code, sunglasses.price_usd.units, sunglasses.price_usd.nanos) == ("USD", 19, 990000000)
    assert list(sunglasses.categories) == ["accessories"]
    assert code_of(lambda: stub.GetProduct(m.GetProductRequest(id="NOPE"))) == grpc.StatusCode.NOT_FOUND
    hits = stub.SearchProducts(m.SearchProductsRequest(query="SUNGLASSES")).results
    assert "OLJCESPC7Z" in {p.id for p in hits}
    assert len(stub.SearchProducts(m.SearchProductsRequest(query="")).results) == 9


def test_currency(pb, services):
    m, g = pb
    stub = g.CurrencyServiceStub(services("currency").channel)
    assert list(stub.GetSupportedCurrencies(m.Empty()).currency_codes) == UPSTREAM_CURRENCIES
    eur = stub.Convert(m.CurrencyConversionRequest(**{"from": usd(pb, 19, 990000000), "to_code": "EUR"}))
    assert (eur.currency_code, eur.units, eur.nanos) == ("EUR", 17, 682441398)
    bad = m.CurrencyConversionRequest(**{"from": usd(pb, 1, 0), "to_code": "XXX"})
    assert code_of(lambda: stub.Convert(bad)) == grpc.StatusCode.INVALID_ARGUMENT
    mixed = m.CurrencyConversionRequest(**{"from": usd(pb, 1, -5), "to_code": "EUR"})
    assert code_of(lambda: stub.Convert(mixed)) == grpc.StatusCode.INVALID_ARGUMENT


def test_payment(pb, services):
    m, g = pb
    stub = g.PaymentServiceStub(services("payment").channel)

    def charge(number, year=2099, month=12):
        card = m.CreditCardInfo(
            credit_card_number=number, credit_card_cvv=672, credit_card_expiration_year=year,
            credit_card_expiration_month=month,
        )
        return stub.Charge(m.ChargeRequest(amount=usd(pb, 30, 0), credit_card=card))

    transaction = charge("4432-8015-6152-0454").transaction_id
    assert uuid.UUID(transaction).version == 4
    assert code_of(lambda: charge("4432801561520455")) == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: charge("378282246310005")) == grpc.StatusCode.FAILED_PRECONDITION  # amex
    assert code_of(lambda: charge("4432801561520454", year=2001)) == grpc.StatusCode.FAILED_PRECONDITION


def test_shipping(pb, services):
    m, g = pb
    stub = g.ShippingServiceStub(services("shipping").channel)
    items = [m.CartItem(product_id="OLJCESPC7Z", quantity=3)]
    cost = stub.GetQuote(m.GetQuoteRequest(items=items)).cost_usd
    assert (cost.currency_code, cost.units, cost.nanos) == ("USD", 8, 990000000)
    tracking = stub.ShipOrder(m.ShipOrderRequest(address=address(pb), items=items)).tracking_id
    assert re.fullmatch(r"[A-Z]{2}-\d+-\d+", tracking), tracking
    assert code_of(lambda: stub.ShipOrder(m.ShipOrderRequest(items=items))) == grpc.StatusCode.INVALID_ARGUMENT


def test_email(pb, services):
    m, g = pb
    stub = g.EmailServiceStub(services("email").channel)
    order = m.OrderResult(
        order_id="c0ffee00-0000-1000-8000-000000000000", shipping_tracking_id="AB-44123-221234567",
        shipping_cost=usd(pb, 8, 990000000), shipping_address=address(pb),
        items=[m.OrderItem(item=m.CartItem(product_id="OLJCESPC7Z", quantity=1), cost=usd(pb, 19, 990000000))],
    )
    stub.SendOrderConfirmation(m.SendOrderConfirmationRequest(email="someone@example.com", order=order))
    bad = m.SendOrderConfirmationRequest(email="not an address", order=order)
    assert code_of(lambda: stub.SendOrderConfirmation(bad)) == grpc.StatusCode.INVALID_ARGUMENT


def test_cart(pb, services):
    m, g = pb
    stub = g.CartServiceStub(services("cart").channel)
    user = str(uuid.uuid4())
    for _ in range(2):
        stub.AddItem(m.AddItemRequest(user_id=user, item=m.CartItem(product_id="66VCHSJNUP", quantity=2)))
    cart = stub.GetCart(m.GetCartRequest(user_id=user))
    assert [(i.product_id, i.quantity) for i in cart.items] == [("66VCHSJNUP", 4)]
    zero = m.AddItemRequest(user_id=user, item=m.CartItem(product_id="66VCHSJNUP", quantity=0))
    assert code_of(lambda: stub.AddItem(zero)) == grpc.StatusCode.INVALID_ARGUMENT
    stub.EmptyCart(m.EmptyCartRequest(user_id=user))
    assert list(stub.GetCart(m.GetCartRequest(user_id=user)).items) == []


def test_recommendation(pb, services):
    m, g = pb
    catalog = services("catalog")
    stub = g.RecommendationServiceStub(services("recommendation", PRODUCT_CATALOG_SERVICE_ADDR=catalog.addr).channel)
    asked = ["OLJCESPC7Z", "66VCHSJNUP"]
    ids = list(stub.ListRecommendations(m.ListRecommendationsRequest(user_id="u", product_ids=asked)).product_ids)
    assert 1 <= len(ids) <= 5 and len(set(ids)) == len(ids)
    assert set(ids) <= PRODUCT_IDS - set(asked)


def test_ad(pb, services):
    m, g = pb
    stub = g.AdServiceStub(services("ad").channel)
    ads = stub.GetAds(m.AdRequest(context_keys=["clothing"])).ads
    assert [a.redirect_url for a in ads] == ["/product/66VCHSJNUP"]
    assert len(stub.GetAds(m.AdRequest()).ads) == 2


def test_checkout(pb, services):
    m, g = pb
    deps = {
        "PRODUCT_CATALOG_SERVICE_ADDR": services("catalog").addr, "CURRENCY_SERVICE_ADDR": services("currency").addr,
        "CART_SERVICE_ADDR": services("cart").addr, "SHIPPING_SERVICE_ADDR": services("shipping").addr,
        "PAYMENT_SERVICE_ADDR": services("payment").addr, "EMAIL_SERVICE_ADDR": services("email").addr,
        # Ours, not upstream's: where checkout keeps its orders.
        "ORDERS_SERVICE_ADDR": services("orders", DATABASE_URL="sqlite::memory:").addr,
    }
    stub = g.CheckoutServiceStub(services("checkout", **deps).channel)
    cart = g.CartServiceStub(services("cart").channel)
    user = str(uuid.uuid4())
    card = m.CreditCardInfo(
        credit_card_number="4432801561520454", credit_card_cvv=672, credit_card_expiration_year=2099,
        credit_card_expiration_month=1,
    )
    request = m.PlaceOrderRequest(user_id=user, user_currency="EUR", address=address(pb), email="someone@example.com", credit_card=card)
    assert code_of(lambda: stub.PlaceOrder(request)) == grpc.StatusCode.FAILED_PRECONDITION  # empty cart

    cart.AddItem(m.AddItemRequest(user_id=user, item=m.CartItem(product_id="OLJCESPC7Z", quantity=2)))
    order = stub.PlaceOrder(request).order
    assert uuid.UUID(order.order_id)
    assert re.fullmatch(r"[A-Z]{2}-\d+-\d+", order.shipping_tracking_id)
    # 8.99 USD and 19.99 USD in EUR at the reference rates (see the currency vectors: 7.952233525
    # and 17.682441398), each rounded once to the cent, which is what the shopper is charged.
    assert (order.shipping_cost.currency_code, order.shipping_cost.units, order.shipping_cost.nanos) == ("EUR", 7, 950000000)
    [line] = order.items
    assert (line.item.product_id, line.item.quantity) == ("OLJCESPC7Z", 2)
    assert (line.cost.currency_code, line.cost.units, line.cost.nanos) == ("EUR", 17, 680000000)
    assert order.shipping_address.city == "Mountain View"
    assert list(cart.GetCart(m.GetCartRequest(user_id=user)).items) == []
    bad_currency = m.PlaceOrderRequest(user_id=user, user_currency="XXX", address=address(pb), email="a@b.example", credit_card=card)
    assert code_of(lambda: stub.PlaceOrder(bad_currency)) == grpc.StatusCode.INVALID_ARGUMENT


UPSTREAM_PORTS = {
    "catalog": 3550, "currency": 7000, "payment": 50051, "shipping": 50051,
    "email": 8080, "cart": 7070, "recommendation": 8080, "ad": 9555, "checkout": 5050,
}
CHECKOUT_DEPS = [
    "PRODUCT_CATALOG_SERVICE_ADDR", "CURRENCY_SERVICE_ADDR", "CART_SERVICE_ADDR", "SHIPPING_SERVICE_ADDR",
    "PAYMENT_SERVICE_ADDR", "EMAIL_SERVICE_ADDR", "ORDERS_SERVICE_ADDR",
]


@pytest.mark.parametrize("name", sorted(UPSTREAM_PORTS))
def test_each_service_serves_health_on_its_upstream_port(name):
    # One at a time: payment and shipping (and email and recommendation) share a port upstream.
    # Dependencies are connected lazily, so an address nobody listens on is enough to start.
    needs = {"recommendation": ["PRODUCT_CATALOG_SERVICE_ADDR"], "checkout": CHECKOUT_DEPS}.get(name, [])
    env = {var: "127.0.0.1:1" for var in needs}
    service = Service(name, UPSTREAM_PORTS[name], env)
    assert service.stop() == 0, service.output()


def test_bad_config_exits_64():
    result = subprocess.run(
        [str(boutique_binary()), "catalog"], env={"PORT": "not-a-port", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=20,
    )
    assert result.returncode == 64, result
    assert "PORT" in result.stderr
