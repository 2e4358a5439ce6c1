#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/) from
example requests: gRPC requests written in protobuf text format and encoded
with protoc (grpcio-tools, in tests/compat/requirements.txt), form bodies,
cookies, JSON bodies and flag files as a browser, an API client or an operator
sends them. Run from the repository root: `.venv/bin/python fuzz/seeds.py`.
The money target's seeds are structured input (`arbitrary`) kept from a fuzz
run, not written here."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"

# The RPC numbers of fuzz_targets/grpc_requests.rs, with example requests.
CARD = 'credit_card_number: "4432-8015-6152-0454" credit_card_cvv: 672 credit_card_expiration_year: 2039 credit_card_expiration_month: 1'
ADDRESS = 'street_address: "1600 Amphitheatre Parkway" city: "Mountain View" state: "CA" country: "United States" zip_code: 94043'
USER = "b3f1c0de-9a8e-4c1b-8f3e-2a6d5e4c3b21"
ACCT = "acct-0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11"
GRPC = [
    (0, "hipstershop.AddItemRequest", f'user_id: "{USER}" item {{ product_id: "OLJCESPC7Z" quantity: 2 }}'),
    (1, "hipstershop.GetCartRequest", f'user_id: "{USER}"'),
    (2, "hipstershop.EmptyCartRequest", f'user_id: "{USER}"'),
    (3, "hipstershop.ListRecommendationsRequest", f'user_id: "{USER}" product_ids: "OLJCESPC7Z" product_ids: "66VCHSJNUP"'),
    (4, "hipstershop.Empty", ""),
    (5, "hipstershop.GetProductRequest", 'id: "OLJCESPC7Z"'),
    (6, "hipstershop.SearchProductsRequest", 'query: "sunglasses"'),
    (7, "hipstershop.GetQuoteRequest", f'address {{ {ADDRESS} }} items {{ product_id: "OLJCESPC7Z" quantity: 1 }}'),
    (8, "hipstershop.ShipOrderRequest", f'address {{ {ADDRESS} }} items {{ product_id: "OLJCESPC7Z" quantity: 3 }}'),
    (9, "hipstershop.Empty", ""),
    (10, "hipstershop.CurrencyConversionRequest", 'from { currency_code: "USD" units: 19 nanos: 990000000 } to_code: "JPY"'),
    (11, "hipstershop.ChargeRequest", f'amount {{ currency_code: "USD" units: 68 nanos: 670000000 }} credit_card {{ {CARD} }}'),
    (12, "boutique.payment.v1.SettleChargeRequest", 'idempotency_key: "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11"'),
    (13, "hipstershop.SendOrderConfirmationRequest",
     f'email: "someone@example.com" order {{ order_id: "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11" shipping_tracking_id: "AB-12345-6789012" '
     f'shipping_cost {{ currency_code: "USD" units: 8 nanos: 990000000 }} shipping_address {{ {ADDRESS} }} '
     f'items {{ item {{ product_id: "OLJCESPC7Z" quantity: 1 }} cost {{ currency_code: "USD" units: 19 nanos: 990000000 }} }} }}'),
    (14, "hipstershop.PlaceOrderRequest", f'user_id: "{USER}" user_currency: "EUR" address {{ {ADDRESS} }} email: "someone@example.com" credit_card {{ {CARD} }}'),
    (15, "hipstershop.AdRequest", 'context_keys: "clothing" context_keys: "kitchen"'),
    (16, "boutique.orders.v1.BeginOrderRequest",
     f'owner: "{USER}" cart_id: "{USER}" currency_code: "EUR" email: "someone@example.com" shipping_address {{ {ADDRESS} }} card_last_four: "0454"'),
    (21, "boutique.orders.v1.GetOrderRequest", 'order_id: "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11"'),
    (22, "boutique.orders.v1.ListOrdersRequest", f'owner: "{USER}" page_size: 20'),
    (24, "boutique.ratings.v1.PutRatingRequest", f'account_id: "{ACCT}" product_id: "OLJCESPC7Z" stars: 4 text: "Great.\\nReally."'),
    (26, "boutique.ratings.v1.GetRatingRequest", f'account_id: "{ACCT}" product_id: "OLJCESPC7Z"'),
    (27, "boutique.ratings.v1.ListRatingsRequest", 'product_id: "OLJCESPC7Z" page_size: 10 page_token: "MTo0MjphY2N0LXg6T0xKQ0VTUEM3Wg"'),
    (28, "boutique.ratings.v1.GetSummariesRequest", 'product_ids: "OLJCESPC7Z" product_ids: "66VCHSJNUP"'),
    (29, "boutique.accounts.v1.SignUpRequest", 'email: "Ada@Example.com" password: "correct horse battery staple" display_name: "Ada" client_address: "127.0.0.1:50000"'),  # pragma: allowlist secret
    (30, "boutique.accounts.v1.SignInRequest", 'email: "ada@example.com" password: "correct horse battery staple" client_address: "::1"'),
    (35, "boutique.accounts.v1.AuthenticateRequest", 'token: "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhY2N0LXgifQ.c2lnbmF0dXJl"'),  # pragma: allowlist secret
]

FORMS = {
    "add-to-cart": "product_id=OLJCESPC7Z&quantity=1",
    "checkout": "email=someone%40example.com&street_address=1600+Amphitheatre+Parkway&zip_code=94043"
    "&city=Mountain+View&state=CA&country=United+States&credit_card_number=4432-8015-6152-0454"
    "&credit_card_expiration_month=1&credit_card_expiration_year=2039&credit_card_cvv=672"
    "&order_key=0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11",
    "checkout-spaced-card": "email=a.b%2Bc%40sub.example.org&street_address=x&zip_code=1&city=y&state=z"
    "&country=w&credit_card_number=4432+8015+6152+0454&credit_card_expiration_month=12"
    "&credit_card_expiration_year=2099&credit_card_cvv=1",
    "set-currency": "currency_code=EUR",
    "orders-page": "page_size=20&page_token=17%3Aab-cd",
    "api-page": "page_size=4&page_token=cHJvZHVjdHM6NA&currency=JPY&q=sunglasses",
}

COOKIES = {
    "upstream-bare-uuid": f"shop_session-id={USER}; shop_currency=EUR",
    "signed-elsewhere": f"shop_session-id={USER}.Cr7NQ8y2Tr9qfE3K0l5k0m7pQ9hX4Zb3q1Y2w5v6u8s; shop_currency=JPY",
    "probe": "shop_session-id=x-readiness-probe",
    "two-headers": "a=1; shop_session-id=abc; junk\nshop_currency=GBP; shop_session-id=second",
}

JSON = {
    "add-cart-item": '{"product_id": "OLJCESPC7Z", "quantity": 1}',
    "checkout": '{"email": "someone@example.com", "address": {"street_address": "1600 Amphitheatre Parkway",'
    ' "city": "Mountain View", "state": "CA", "country": "United States", "zip_code": 94043},'
    ' "credit_card": {"number": "4432 8015 6152 0454", "cvv": 672, "expiration_month": 1, "expiration_year": 2039}}',
    "checkout-card-as-number": '0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11\n{"email": "x@y", "address": {}, "credit_card": {"number": 4432801561520454}}',
    "rating": '{"stars": 4, "text": "  Sturdy.\\r\\nWould buy again. "}',
    "sign-up": '{"email": "ada@example.com", "password": "plum tart at noon", "display_name": "Ada"}',  # pragma: allowlist secret
}

FLAGS = {
    "toggle": '{"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": {"adFailure": {"state": "ENABLED",'
    ' "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}',
    "fraction": '{"flags": {"paymentFailure": {"state": "ENABLED", "variants": {"50%": 0.5, "off": 0},'
    ' "defaultVariant": "off", "targeting": {"fractional": [{"var": "session"}, ["50%", 50], ["off", 50]]}}}}',
    "targeted": '{"flags": {"latency": {"state": "ENABLED", "variants": {"slow": 500, "off": 0}, "defaultVariant": "off",'
    ' "targeting": {"if": [{"==": [{"var": "method"}, "GetQuote"]}, "slow", null]}},'
    ' "gone": {"state": "DISABLED", "variants": {"x": "y"}, "defaultVariant": "x"}},'
    ' "$evaluators": {"shared": {"in": ["shipping", {"var": "service"}]}}}',
}


def write(target: str, name: str, data: bytes) -> None:
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def encode(message: str, text: str) -> bytes:
    proto = ROOT / "proto"
    files = ["demo.proto"] + [str(p.relative_to(proto)) for p in proto.glob("boutique/**/*.proto")]
    return subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto}", f"--encode={message}", *files],
        input=text.encode(), capture_output=True, check=True,
    ).stdout


def main() -> None:
    for rpc, message, text in GRPC:
        write("grpc_requests", f"{rpc:02}-{message.rsplit('.', 1)[1]}", bytes([rpc]) + encode(message, text))
    # With an idempotency-key (high bit of the first byte, then its length).
    key = b"0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11"
    write("grpc_requests", "14-PlaceOrderRequest-keyed",
          bytes([14 | 0x80, len(key)]) + key + encode(GRPC[14][1], GRPC[14][2]))
    for name, body in FORMS.items():
        write("storefront_form", name, body.encode())
    for name, headers in COOKIES.items():
        write("storefront_session", name, headers.encode())
    for name, body in JSON.items():
        write("api_json", name, body.encode())
    for name, body in FLAGS.items():
        write("flag_file", name, body.encode())


if __name__ == "__main__":
    main()
