//! Every service's request handling from arbitrary protobuf bytes.
//!
//! The first byte picks an RPC; with its high bit set, the next byte is the
//! length of an `idempotency-key` metadata value that follows. The rest is
//! decoded with prost as that RPC's request message; what decodes is handed
//! to the service in process: the real handler where it needs no network
//! (cart and payment in memory, orders on an in-memory SQLite, catalog,
//! currency, shipping, email, ad), else the checks the handler makes before
//! it calls another service or the store (checkout, ratings, accounts) or
//! what it does with the answer (recommendation's pick).
//!
//! Properties: no panic, and a request can be refused only as the caller's
//! mistake (`INVALID_ARGUMENT`, `NOT_FOUND`, `FAILED_PRECONDITION`,
//! `OUT_OF_RANGE`, `ALREADY_EXISTS`, `RESOURCE_EXHAUSTED`), never as a fault
//! of ours (`INTERNAL`, `UNKNOWN`, `UNAVAILABLE`, `DATA_LOSS`); answers hold
//! valid money in the right currency, carts hold positive quantities, and a
//! page token ratings gives out reads back as the position it names.
#![no_main]

use std::sync::{LazyLock, OnceLock};

use boutique_money::Money;
use boutique_proto::{
    AdRequest, AddItemRequest, ChargeRequest, CurrencyConversionRequest, Empty, EmptyCartRequest,
    GetCartRequest, GetProductRequest, GetQuoteRequest, ListRecommendationsRequest,
    PlaceOrderRequest, SearchProductsRequest, SendOrderConfirmationRequest, ShipOrderRequest,
    ad_service_server::AdService,
    boutique::{
        accounts::v1 as accounts,
        orders::v1 as orders,
        orders::v1::order_service_server::OrderService,
        payment::v1::{SettleChargeRequest, payment_ledger_server::PaymentLedger},
        ratings::v1 as ratings,
    },
    cart_service_server::CartService,
    currency_service_server::CurrencyService,
    email_service_server::EmailService,
    payment_service_server::PaymentService,
    product_catalog_service_server::ProductCatalogService,
    shipping_service_server::ShippingService,
};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use tonic::{Code, Request, Response, Status, metadata::MetadataValue};

/// The services, made once: state (carts, charges, orders) carries over
/// between inputs, as in a running shop.
struct Shop {
    runtime: tokio::runtime::Runtime,
    cart: Box<dyn CartService>,
    catalog: Box<dyn ProductCatalogService>,
    currency: Box<dyn CurrencyService>,
    shipping: Box<dyn ShippingService>,
    email: Box<dyn EmailService>,
    ad: Box<dyn AdService>,
    orders: Box<dyn OrderService>,
    payment: PaymentBoth,
    catalog_ids: Vec<String>,
}

trait Payment: PaymentService + PaymentLedger {}
impl<T: PaymentService + PaymentLedger> Payment for T {}
type PaymentBoth = Box<dyn Payment>;

static SHOP: LazyLock<Shop> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let orders = runtime
        .block_on(boutique_orders::fuzzing::service())
        .expect("an in-memory order book");
    let catalog_ids = boutique_catalog::embedded_catalog()
        .products()
        .iter()
        .map(|product| product.id.clone())
        .collect();
    let rates = boutique_currency::Rates::builtin().expect("the built-in rates");
    Shop {
        cart: Box::new(boutique_cart::fuzzing::service()),
        catalog: Box::new(boutique_catalog::fuzzing::service()),
        currency: Box::new(boutique_currency::fuzzing::service(rates)),
        shipping: Box::new(boutique_shipping::fuzzing::service()),
        email: Box::new(boutique_email::fuzzing::service()),
        ad: Box::new(boutique_ad::fuzzing::service()),
        orders: Box::new(orders),
        payment: Box::new(boutique_payment::fuzzing::service()),
        catalog_ids,
        runtime,
    }
});

/// Token keys for the accounts checks, made once.
static TOKENS: OnceLock<boutique_accounts::fuzzing::TokenCheck> = OnceLock::new();

fn decode<M: Message + Default>(bytes: &[u8]) -> Option<M> {
    M::decode(bytes).ok()
}

/// A refusal must be the caller's mistake, never a fault of ours.
fn caller_fault(method: &str, status: &Status) {
    assert!(
        matches!(
            status.code(),
            Code::InvalidArgument
                | Code::NotFound
                | Code::FailedPrecondition
                | Code::OutOfRange
                | Code::AlreadyExists
                | Code::ResourceExhausted
                | Code::Unauthenticated
                | Code::PermissionDenied
        ),
        "{method}: {status:?}"
    );
}

fn answer<T>(method: &str, result: Result<Response<T>, Status>) -> Option<T> {
    match result {
        Ok(response) => Some(response.into_inner()),
        Err(status) => {
            caller_fault(method, &status);
            None
        }
    }
}

fn checked<T>(method: &str, result: Result<T, Status>) -> Option<T> {
    result.map_err(|status| caller_fault(method, &status)).ok()
}

fn valid_money(method: &str, money: Option<&boutique_proto::Money>) -> Money {
    let money = money.unwrap_or_else(|| panic!("{method}: no amount"));
    Money::try_from(money).unwrap_or_else(|error| panic!("{method}: {money:?}: {error}"))
}

fn request<M>(message: M, key: Option<&[u8]>) -> Request<M> {
    let mut request = Request::new(message);
    if let Some(value) = key.and_then(|key| MetadataValue::try_from(key).ok()) {
        request.metadata_mut().insert("idempotency-key", value);
    }
    request
}

/// RPCs by number (the first byte, modulo their count).
const RPCS: u8 = 36;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (key, body) = match rest.split_first() {
        Some((&len, tail)) if first & 0x80 != 0 && tail.len() >= usize::from(len) => {
            let (key, body) = tail.split_at(usize::from(len));
            (Some(key), body)
        }
        _ => (None, rest),
    };
    let shop = &*SHOP;
    shop.runtime.block_on(handle(shop, first % RPCS, key, body));
});

async fn handle(shop: &Shop, rpc: u8, key: Option<&[u8]>, body: &[u8]) {
    match rpc {
        0 => {
            let Some(message) = decode::<AddItemRequest>(body) else {
                return;
            };
            let user_id = message.user_id.clone();
            if answer("AddItem", shop.cart.add_item(request(message, key)).await).is_some() {
                let cart = shop
                    .cart
                    .get_cart(Request::new(GetCartRequest { user_id }))
                    .await
                    .expect("the cart just added to");
                assert!(cart.get_ref().items.iter().all(|item| item.quantity > 0));
            }
        }
        1 => {
            let Some(message) = decode::<GetCartRequest>(body) else {
                return;
            };
            if let Some(cart) = answer("GetCart", shop.cart.get_cart(request(message, key)).await) {
                assert!(cart.items.iter().all(|item| item.quantity > 0), "{cart:?}");
            }
        }
        2 => {
            let Some(message) = decode::<EmptyCartRequest>(body) else {
                return;
            };
            let user_id = message.user_id.clone();
            if answer(
                "EmptyCart",
                shop.cart.empty_cart(request(message, key)).await,
            )
            .is_some()
            {
                let cart = shop
                    .cart
                    .get_cart(Request::new(GetCartRequest { user_id }))
                    .await
                    .expect("the cart just emptied");
                assert!(cart.get_ref().items.is_empty());
            }
        }
        3 => {
            let Some(message) = decode::<ListRecommendationsRequest>(body) else {
                return;
            };
            let picked = boutique_recommendation::fuzzing::recommend(
                &shop.catalog_ids,
                &message.product_ids,
            );
            assert!(picked.len() <= boutique_recommendation::MAX_RECOMMENDATIONS);
            let mut seen = std::collections::HashSet::new();
            for id in &picked {
                assert!(shop.catalog_ids.contains(id) && !message.product_ids.contains(id));
                assert!(seen.insert(id), "{id} twice");
            }
        }
        4 => {
            let Some(message) = decode::<Empty>(body) else {
                return;
            };
            let listed = answer(
                "ListProducts",
                shop.catalog.list_products(request(message, key)).await,
            );
            assert!(listed.is_some_and(|list| !list.products.is_empty()));
        }
        5 => {
            let Some(message) = decode::<GetProductRequest>(body) else {
                return;
            };
            let id = message.id.clone();
            if let Some(product) = answer(
                "GetProduct",
                shop.catalog.get_product(request(message, key)).await,
            ) {
                assert_eq!(product.id, id);
                valid_money("GetProduct", product.price_usd.as_ref());
            }
        }
        6 => {
            let Some(message) = decode::<SearchProductsRequest>(body) else {
                return;
            };
            answer(
                "SearchProducts",
                shop.catalog.search_products(request(message, key)).await,
            );
        }
        7 => {
            let Some(message) = decode::<GetQuoteRequest>(body) else {
                return;
            };
            if let Some(quote) = answer(
                "GetQuote",
                shop.shipping.get_quote(request(message, key)).await,
            ) {
                let cost = valid_money("GetQuote", quote.cost_usd.as_ref());
                assert_eq!(cost.currency_code(), "USD");
                assert!(!cost.is_negative());
            }
        }
        8 => {
            let Some(message) = decode::<ShipOrderRequest>(body) else {
                return;
            };
            if let Some(shipped) = answer(
                "ShipOrder",
                shop.shipping.ship_order(request(message, key)).await,
            ) {
                assert!(!shipped.tracking_id.is_empty());
            }
        }
        9 => {
            let Some(message) = decode::<Empty>(body) else {
                return;
            };
            let codes = answer(
                "GetSupportedCurrencies",
                shop.currency
                    .get_supported_currencies(request(message, key))
                    .await,
            );
            assert!(codes.is_some_and(|codes| codes.currency_codes.iter().any(|c| c == "EUR")));
        }
        10 => {
            let Some(message) = decode::<CurrencyConversionRequest>(body) else {
                return;
            };
            let (from, to_code) = (message.from.clone(), message.to_code.clone());
            if let Some(converted) = answer(
                "Convert",
                shop.currency.convert(request(message, key)).await,
            ) {
                let converted = valid_money("Convert", Some(&converted));
                assert_eq!(converted.currency_code(), to_code);
                let from = valid_money("Convert (from)", from.as_ref());
                assert!(converted.is_zero() || converted.is_negative() == from.is_negative());
                if from.currency_code() == to_code {
                    assert_eq!(converted, from);
                }
            }
        }
        11 => {
            let Some(message) = decode::<ChargeRequest>(body) else {
                return;
            };
            if let Some(charged) =
                answer("Charge", shop.payment.charge(request(message, key)).await)
            {
                assert!(!charged.transaction_id.is_empty());
            }
        }
        12 => {
            let Some(message) = decode::<SettleChargeRequest>(body) else {
                return;
            };
            answer(
                "SettleCharge",
                shop.payment.settle_charge(request(message, key)).await,
            );
        }
        13 => {
            let Some(message) = decode::<SendOrderConfirmationRequest>(body) else {
                return;
            };
            answer(
                "SendOrderConfirmation",
                shop.email
                    .send_order_confirmation(request(message, key))
                    .await,
            );
        }
        14 => {
            let Some(message) = decode::<PlaceOrderRequest>(body) else {
                return;
            };
            let metadata = request((), key).into_parts().0;
            if let Some(key) = checked(
                "PlaceOrder",
                boutique_checkout::fuzzing::check(message, &metadata),
            )
            .flatten()
            {
                assert!(!key.is_empty() && key.len() <= 255 && key.trim() == key);
            }
        }
        15 => {
            let Some(message) = decode::<AdRequest>(body) else {
                return;
            };
            let asked = message.context_keys.len();
            let ads = answer("GetAds", shop.ad.get_ads(request(message, key)).await);
            if asked <= boutique_ad::MAX_CONTEXT_KEYS {
                assert!(ads.is_some_and(|ads| !ads.ads.is_empty()), "never empty");
            } else {
                assert!(ads.is_none(), "{asked} context keys are refused");
            }
        }
        16..=23 => orders_rpc(shop, rpc, key, body).await,
        24..=28 => ratings_rpc(rpc, body),
        _ => accounts_rpc(rpc, body),
    }
}

async fn orders_rpc(shop: &Shop, rpc: u8, key: Option<&[u8]>, body: &[u8]) {
    let service = &shop.orders;
    match rpc {
        16 => {
            let Some(message) = decode::<orders::BeginOrderRequest>(body) else {
                return;
            };
            if let Some(begun) = answer(
                "BeginOrder",
                service.begin_order(request(message, key)).await,
            ) {
                assert!(begun.order.is_some());
            }
        }
        17 => {
            let Some(message) = decode::<orders::AbandonOrderRequest>(body) else {
                return;
            };
            answer(
                "AbandonOrder",
                service.abandon_order(request(message, key)).await,
            );
        }
        18 => {
            let Some(message) = decode::<orders::PriceOrderRequest>(body) else {
                return;
            };
            answer(
                "PriceOrder",
                service.price_order(request(message, key)).await,
            );
        }
        19 => {
            let Some(message) = decode::<orders::AdvanceOrderRequest>(body) else {
                return;
            };
            answer(
                "AdvanceOrder",
                service.advance_order(request(message, key)).await,
            );
        }
        20 => {
            let Some(message) = decode::<orders::NoteOrderRequest>(body) else {
                return;
            };
            answer("NoteOrder", service.note_order(request(message, key)).await);
        }
        21 => {
            let Some(message) = decode::<orders::GetOrderRequest>(body) else {
                return;
            };
            answer("GetOrder", service.get_order(request(message, key)).await);
        }
        22 => {
            let Some(message) = decode::<orders::ListOrdersRequest>(body) else {
                return;
            };
            answer(
                "ListOrders",
                service.list_orders(request(message, key)).await,
            );
        }
        _ => {
            let Some(message) = decode::<orders::LeaseUnsettledOrdersRequest>(body) else {
                return;
            };
            answer(
                "LeaseUnsettledOrders",
                service.lease_unsettled_orders(request(message, key)).await,
            );
        }
    }
}

fn ratings_rpc(rpc: u8, body: &[u8]) {
    use boutique_ratings::fuzzing as check;
    match rpc {
        24 => {
            let Some(message) = decode::<ratings::PutRatingRequest>(body) else {
                return;
            };
            if let Some(stars) = checked("PutRating", check::put(&message)) {
                assert!((1..=5).contains(&stars));
                // A rating that is stored can be listed page by page.
                let token = check::page_token(&message.product_id, 42, &message.account_id);
                let list = ratings::ListRatingsRequest {
                    product_id: message.product_id.clone(),
                    page_size: 0,
                    page_token: token,
                };
                let (_, after) = check::list(&list).expect("a token we gave out");
                assert_eq!(after, Some((42, message.account_id)));
            }
        }
        25 => {
            let Some(message) = decode::<ratings::DeleteRatingRequest>(body) else {
                return;
            };
            checked(
                "DeleteRating",
                check::key(&message.account_id, &message.product_id),
            );
        }
        26 => {
            let Some(message) = decode::<ratings::GetRatingRequest>(body) else {
                return;
            };
            checked(
                "GetRating",
                check::key(&message.account_id, &message.product_id),
            );
        }
        27 => {
            let Some(message) = decode::<ratings::ListRatingsRequest>(body) else {
                return;
            };
            if let Some((size, _)) = checked("ListRatings", check::list(&message)) {
                assert!((1..=boutique_ratings::MAX_PAGE).contains(&size));
            }
        }
        _ => {
            let Some(message) = decode::<ratings::GetSummariesRequest>(body) else {
                return;
            };
            checked("GetSummaries", check::summaries(&message));
        }
    }
}

fn accounts_rpc(rpc: u8, body: &[u8]) {
    use boutique_accounts::fuzzing as check;
    match rpc {
        29 => {
            let Some(message) = decode::<accounts::SignUpRequest>(body) else {
                return;
            };
            if let Some((email_key, name)) = checked("SignUp", check::sign_up(&message)) {
                assert_eq!(email_key, email_key.to_lowercase());
                assert!(!name.chars().any(char::is_control));
            }
        }
        30 => {
            let Some(message) = decode::<accounts::SignInRequest>(body) else {
                return;
            };
            checked("SignIn", check::sign_in(&message));
        }
        _ => {
            // Every other RPC starts from a token: it must be one we issued.
            let Some(message) = decode::<accounts::AuthenticateRequest>(body) else {
                return;
            };
            let Some(token) = checked("Authenticate", check::token(&message.token)) else {
                return;
            };
            let tokens = TOKENS.get_or_init(|| {
                let key = boutique_accounts::TokenKey::new("k1", &[7; 32]).expect("a key");
                check::TokenCheck::new(boutique_accounts::KeySet::new(vec![key]).expect("keys"))
            });
            assert!(
                tokens.verify(&token).is_none(),
                "a token we never issued verified"
            );
            // One we issue verifies, as itself only.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs() as i64);
            let account = format!("acct-{}", uuid_of(&token));
            let issued = tokens.issue(&account, now).expect("a token");
            let claims = tokens.verify(&issued).expect("our own token");
            assert_eq!(claims.sub, account);
            // Any one character changed (where and to what, from the input),
            // it no longer does.
            let hash = fnv(&token);
            let mut tampered = issued.clone().into_bytes();
            let at = (hash as usize) % tampered.len();
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
            let with = ALPHABET[((hash >> 32) as usize) % ALPHABET.len()];
            if tampered[at] != with {
                tampered[at] = with;
                let tampered = String::from_utf8(tampered).expect("ASCII");
                assert!(tokens.verify(&tampered).is_none(), "{tampered} verified");
            }
        }
    }
}

/// FNV-1a: a stable number from an input, to vary what is derived from it.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A UUID-shaped text for an input, so account ids vary.
fn uuid_of(text: &str) -> String {
    let digest = fnv(text);
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        digest >> 32,
        digest & 0xffff_ffff_ffff
    )
}
