//! The gRPC clients of the ten backends, behind one cloneable handle.
//!
//! Each backend has one lazily connecting channel made at startup and cloned
//! per call (a clone shares the connection), so the frontend starts while its
//! backends are still down, as upstream, and no request pays for a DNS lookup
//! or a handshake. Every call has a deadline, sent to the server and enforced
//! here too, so a hung backend costs a page at most [`CALL_TIMEOUT`].
//!
//! The currency list, the catalog and conversions are answered from short-lived
//! caches ([`crate::cache`]) when fresh: they are the same on almost every
//! page, and each call saved is a loopback round trip saved.

use std::{future::Future, sync::Arc, time::Duration};

use boutique_money::Money;
use boutique_platform::{
    Peers, ServerError, Telemetry, call::CallContext, telemetry::grpc::TracedChannel as Channel,
};
use boutique_proto::boutique::accounts::v1::{
    Account, AuthenticateRequest, ChangePasswordRequest, ChangePasswordResponse,
    DeleteAccountRequest, SignInRequest, SignInResponse, SignOutEverywhereRequest, SignOutRequest,
    SignUpRequest, SignUpResponse, accounts_service_client::AccountsServiceClient,
};
use boutique_proto::boutique::orders::v1::{
    GetOrderRequest, ListOrdersRequest, ListOrdersResponse, Order, TransferOrdersRequest,
    order_service_client::OrderServiceClient,
};
use boutique_proto::boutique::ratings::v1::{
    DeleteRatingRequest, GetRatingRequest, GetSummariesRequest, ListRatingsRequest,
    ListRatingsResponse, PutRatingRequest, Rating, RatingSummary,
    ratings_service_client::RatingsServiceClient,
};
use boutique_proto::{
    Ad, AdRequest, AddItemRequest, CartItem, CurrencyConversionRequest, Empty, EmptyCartRequest,
    GetCartRequest, GetProductRequest, GetQuoteRequest, ListRecommendationsRequest, OrderResult,
    PlaceOrderRequest, Product, SearchProductsRequest, ad_service_client::AdServiceClient,
    cart_service_client::CartServiceClient, checkout_service_client::CheckoutServiceClient,
    currency_service_client::CurrencyServiceClient,
    product_catalog_service_client::ProductCatalogServiceClient,
    recommendation_service_client::RecommendationServiceClient,
    shipping_service_client::ShippingServiceClient,
};
use tonic::{Code, Status, metadata::MetadataValue};

use boutique_proto::directory::{
    ACCOUNTS, AD, CART, CATALOG, CHECKOUT, CURRENCY, ORDERS, RATINGS, RECOMMENDATION, SHIPPING,
};

use crate::cache::{Caches, DEFAULT_TTL};

/// The deadline of an ordinary backend call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// The deadline of an ad lookup: upstream's 100 ms, since an ad is never worth
/// a slow page.
pub const AD_TIMEOUT: Duration = Duration::from_millis(100);

/// The deadline of placing an order, which itself calls six services in turn.
pub const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadline of an accounts call that checks a password (Argon2, maybe
/// behind a queue of others) or deletes an account (which first has the
/// orders service anonymise its orders).
pub const PASSWORD_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadline of the ratings summary on a product page: the page does not
/// wait longer for it, it leaves the stars out.
pub const SUMMARY_TIMEOUT: Duration = Duration::from_millis(300);

/// The page sizes whose newest reviews are cached (the product page's), all
/// forgotten when the product's ratings change.
pub const CACHED_REVIEW_PAGES: [u32; 1] = [crate::ratings::PAGE_SIZE];

/// Which backend a call went to, for logs and error pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The product catalog.
    Catalog,
    /// Currency conversion.
    Currency,
    /// Carts.
    Cart,
    /// Recommendations.
    Recommendation,
    /// Checkout.
    Checkout,
    /// Shipping quotes.
    Shipping,
    /// Ads.
    Ad,
    /// Order records.
    Orders,
    /// Shoppers' accounts.
    Accounts,
    /// Ratings and reviews.
    Ratings,
}

impl Backend {
    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Catalog => "productcatalog",
            Self::Currency => "currency",
            Self::Cart => "cart",
            Self::Recommendation => "recommendation",
            Self::Checkout => "checkout",
            Self::Shipping => "shipping",
            Self::Ad => "ad",
            Self::Orders => "orders",
            Self::Accounts => "accounts",
            Self::Ratings => "ratings",
        }
    }
}

/// A failed backend call. `Clone`, because one failed fetch of a cached
/// answer is handed to every request that waited for it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// The backend answered with an error status (or could not be reached).
    #[error("{} call failed: {status}", backend.name())]
    Status {
        /// Which backend.
        backend: Backend,
        /// What it said.
        status: Status,
    },
    /// The backend answered, but with something unusable (e.g. invalid money).
    #[error("{} sent an unusable reply: {reason}", backend.name())]
    Malformed {
        /// Which backend.
        backend: Backend,
        /// What was wrong.
        reason: String,
    },
}

impl BackendError {
    /// The gRPC code, if the backend answered with one.
    pub fn code(&self) -> Option<Code> {
        match self {
            Self::Status { status, .. } => Some(status.code()),
            Self::Malformed { .. } => None,
        }
    }

    /// True when the backend is down or overloaded rather than wrong: the
    /// shopper may simply try again (a 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.code(),
            Some(
                Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Aborted
                    | Code::Cancelled
            )
        )
    }

    fn malformed(backend: Backend, reason: impl std::fmt::Display) -> Self {
        Self::Malformed {
            backend,
            reason: reason.to_string(),
        }
    }
}

/// Clients of every backend; cheap to clone.
#[derive(Debug, Clone)]
pub struct Backends {
    catalog: ProductCatalogServiceClient<Channel>,
    currency: CurrencyServiceClient<Channel>,
    cart: CartServiceClient<Channel>,
    recommendation: RecommendationServiceClient<Channel>,
    checkout: CheckoutServiceClient<Channel>,
    shipping: ShippingServiceClient<Channel>,
    ad: AdServiceClient<Channel>,
    orders: OrderServiceClient<Channel>,
    accounts: AccountsServiceClient<Channel>,
    ratings: RatingsServiceClient<Channel>,
    /// Shared by every clone, so all requests reuse the same answers.
    caches: Arc<Caches>,
}

impl Backends {
    /// Makes one lazy channel per backend, each traced and counted for
    /// `telemetry`; nothing connects yet.
    pub fn connect(peers: &Peers, telemetry: &Telemetry) -> Result<Self, ServerError> {
        Ok(Self {
            catalog: ProductCatalogServiceClient::new(peers.channel(&CATALOG, telemetry)?),
            currency: CurrencyServiceClient::new(peers.channel(&CURRENCY, telemetry)?),
            cart: CartServiceClient::new(peers.channel(&CART, telemetry)?),
            recommendation: RecommendationServiceClient::new(
                peers.channel(&RECOMMENDATION, telemetry)?,
            ),
            checkout: CheckoutServiceClient::new(peers.channel(&CHECKOUT, telemetry)?),
            shipping: ShippingServiceClient::new(peers.channel(&SHIPPING, telemetry)?),
            ad: AdServiceClient::new(peers.channel(&AD, telemetry)?),
            orders: OrderServiceClient::new(peers.channel(&ORDERS, telemetry)?),
            accounts: AccountsServiceClient::new(peers.channel(&ACCOUNTS, telemetry)?),
            ratings: RatingsServiceClient::new(peers.channel(&RATINGS, telemetry)?),
            caches: Arc::new(Caches::new(DEFAULT_TTL)),
        })
    }

    /// The same clients with fresh caches keeping answers for `ttl` (`CACHE_TTL`;
    /// zero asks the backends on every request).
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.caches = Arc::new(Caches::new(ttl));
        self
    }

    /// The currency codes the currency service supports, in its order
    /// (cached for the cache TTL).
    pub async fn supported_currencies(&self) -> Result<Arc<Vec<String>>, BackendError> {
        self.caches
            .currencies
            .get_or_try((), || async {
                self.fetch_supported_currencies().await.map(Arc::new)
            })
            .await
    }

    /// The currency list for a page's switcher: the service's, else the last
    /// list it gave, else none (the switcher is hidden). Pages need the list
    /// for the switcher only, so they do not go down with the currency service.
    pub async fn currencies_for_page(&self) -> Arc<Vec<String>> {
        let fetched = self.supported_currencies().await;
        let mut last = self
            .caches
            .last_currencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match fetched {
            Ok(list) => {
                *last = Some(list.clone());
                list
            }
            Err(error) => {
                tracing::warn!(error = %error, "No currency list; the page shows the last one known, or none.");
                last.clone().unwrap_or_default()
            }
        }
    }

    async fn fetch_supported_currencies(&self) -> Result<Vec<String>, BackendError> {
        let reply = read(
            Backend::Currency,
            CALL_TIMEOUT,
            &self.currency,
            Empty {},
            |mut client, req| async move { client.get_supported_currencies(req).await },
        )
        .await?;
        Ok(reply.currency_codes)
    }

    /// Every product, in catalog order (cached for the cache TTL).
    pub async fn list_products(&self) -> Result<Arc<Vec<Product>>, BackendError> {
        self.caches
            .catalog
            .get_or_try((), || async { self.fetch_products().await.map(Arc::new) })
            .await
    }

    async fn fetch_products(&self) -> Result<Vec<Product>, BackendError> {
        let reply = read(
            Backend::Catalog,
            CALL_TIMEOUT,
            &self.catalog,
            Empty {},
            |mut client, req| async move { client.list_products(req).await },
        )
        .await?;
        Ok(reply.products)
    }

    /// One product; `NOT_FOUND` for an unknown id. With caching on, it comes
    /// from the (cached) catalog listing, the same data `GetProduct` returns;
    /// an id the listing lacks is still asked with `GetProduct`, so the catalog
    /// decides what is unknown and nothing negative is cached.
    pub async fn get_product(&self, id: &str) -> Result<Product, BackendError> {
        if self.caches.enabled()
            && let Some(product) = self
                .list_products()
                .await?
                .iter()
                .find(|product| product.id == id)
        {
            return Ok(product.clone());
        }
        self.fetch_product(id).await
    }

    async fn fetch_product(&self, id: &str) -> Result<Product, BackendError> {
        let request = GetProductRequest { id: id.to_owned() };
        read(
            Backend::Catalog,
            CALL_TIMEOUT,
            &self.catalog,
            request,
            |mut client, req| async move { client.get_product(req).await },
        )
        .await
    }

    /// The products matching `query` (the catalog's SearchProducts: a
    /// case-insensitive match on name or description), in catalog order.
    /// Not cached: queries are many and rarely repeat.
    pub async fn search_products(&self, query: &str) -> Result<Vec<Product>, BackendError> {
        let request = SearchProductsRequest {
            query: query.to_owned(),
        };
        let reply = read(
            Backend::Catalog,
            CALL_TIMEOUT,
            &self.catalog,
            request,
            |mut client, req| async move { client.search_products(req).await },
        )
        .await?;
        Ok(reply.results)
    }

    /// The items in a shopper's cart.
    pub async fn cart(&self, user_id: &str) -> Result<Vec<CartItem>, BackendError> {
        let request = GetCartRequest {
            user_id: user_id.to_owned(),
        };
        let cart = read(
            Backend::Cart,
            CALL_TIMEOUT,
            &self.cart,
            request,
            |mut client, req| async move { client.get_cart(req).await },
        )
        .await?;
        Ok(cart.items)
    }

    /// Adds `quantity` of a product to a cart.
    pub async fn add_to_cart(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i32,
    ) -> Result<(), BackendError> {
        let mut client = self.cart.clone();
        let request = AddItemRequest {
            user_id: user_id.to_owned(),
            item: Some(CartItem {
                product_id: product_id.to_owned(),
                quantity,
            }),
        };
        call(Backend::Cart, CALL_TIMEOUT, request, |req| async move {
            client.add_item(req).await
        })
        .await?;
        Ok(())
    }

    /// Empties a cart.
    pub async fn empty_cart(&self, user_id: &str) -> Result<(), BackendError> {
        let request = EmptyCartRequest {
            user_id: user_id.to_owned(),
        };
        read(
            Backend::Cart,
            CALL_TIMEOUT,
            &self.cart,
            request,
            |mut client, req| async move { client.empty_cart(req).await },
        )
        .await?;
        Ok(())
    }

    /// Converts an amount. A conversion to the amount's own currency is the
    /// amount itself, so it costs no call; others are cached for the cache TTL
    /// by (amount, target), since the currency service is the only authority
    /// on rates and nothing is converted here.
    pub async fn convert(
        &self,
        amount: Option<&boutique_proto::Money>,
        to: &str,
    ) -> Result<Money, BackendError> {
        let amount = amount.ok_or_else(|| BackendError::malformed(Backend::Catalog, "no price"))?;
        let checked =
            Money::try_from(amount).map_err(|e| BackendError::malformed(Backend::Catalog, e))?;
        if checked.currency_code() == to {
            return Ok(checked);
        }
        self.caches
            .conversions
            .get_or_try((checked, to.to_owned()), || {
                self.fetch_conversion(amount, to)
            })
            .await
    }

    async fn fetch_conversion(
        &self,
        amount: &boutique_proto::Money,
        to: &str,
    ) -> Result<Money, BackendError> {
        let request = CurrencyConversionRequest {
            from: Some(amount.clone()),
            to_code: to.to_owned(),
        };
        let converted = read(
            Backend::Currency,
            CALL_TIMEOUT,
            &self.currency,
            request,
            |mut client, req| async move { client.convert(req).await },
        )
        .await?;
        if converted.currency_code != to {
            return Err(BackendError::malformed(
                Backend::Currency,
                format!("asked for {to}, got {}", converted.currency_code),
            ));
        }
        Money::try_from(converted).map_err(|e| BackendError::malformed(Backend::Currency, e))
    }

    /// Product ids recommended to a shopper who looks at `product_ids`.
    pub async fn recommendations(
        &self,
        user_id: &str,
        product_ids: Vec<String>,
    ) -> Result<Vec<String>, BackendError> {
        let request = ListRecommendationsRequest {
            user_id: user_id.to_owned(),
            product_ids,
        };
        let reply = read(
            Backend::Recommendation,
            CALL_TIMEOUT,
            &self.recommendation,
            request,
            |mut client, req| async move { client.list_recommendations(req).await },
        )
        .await?;
        Ok(reply.product_ids)
    }

    /// The shipping cost of `items` in USD. Like upstream, no address is sent:
    /// the quote does not depend on it.
    pub async fn shipping_quote(
        &self,
        items: Vec<CartItem>,
    ) -> Result<boutique_proto::Money, BackendError> {
        let request = GetQuoteRequest {
            address: None,
            items,
        };
        let reply = read(
            Backend::Shipping,
            CALL_TIMEOUT,
            &self.shipping,
            request,
            |mut client, req| async move { client.get_quote(req).await },
        )
        .await?;
        reply
            .cost_usd
            .ok_or_else(|| BackendError::malformed(Backend::Shipping, "no cost"))
    }

    /// Ads for the given categories, within [`AD_TIMEOUT`].
    pub async fn ads(&self, context_keys: Vec<String>) -> Result<Vec<Ad>, BackendError> {
        let request = AdRequest { context_keys };
        let reply = read(
            Backend::Ad,
            AD_TIMEOUT,
            &self.ad,
            request,
            |mut client, req| async move { client.get_ads(req).await },
        )
        .await?;
        Ok(reply.ads)
    }

    /// Places an order; `key` (the form's `order_key`) makes a resubmission
    /// the same order: checkout answers it with the first outcome.
    pub async fn place_order(
        &self,
        request: PlaceOrderRequest,
        key: Option<&str>,
    ) -> Result<OrderResult, BackendError> {
        let mut client = self.checkout.clone();
        // Checkout answers a repeated key with the first outcome.
        let key = key.and_then(|key| MetadataValue::try_from(key).ok());
        let reply = call(
            Backend::Checkout,
            CHECKOUT_TIMEOUT,
            request,
            |mut req| async move {
                if let Some(key) = key {
                    req.metadata_mut().insert("idempotency-key", key);
                }
                client.place_order(req).await
            },
        )
        .await?;
        reply
            .order
            .ok_or_else(|| BackendError::malformed(Backend::Checkout, "no order in the reply"))
    }
}

// === Orders ===
//
// Never cached: a shopper who just placed an order, or watches one move,
// must see it as it is now.

impl Backends {
    /// One page of `owner`'s orders, newest first: at most `page_size`
    /// (the orders service caps it), after the position `page_token` names
    /// (empty for the first page).
    pub async fn list_orders(
        &self,
        owner: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<ListOrdersResponse, BackendError> {
        let request = ListOrdersRequest {
            owner: owner.to_owned(),
            page_size,
            page_token: page_token.to_owned(),
        };
        read(
            Backend::Orders,
            CALL_TIMEOUT,
            &self.orders,
            request,
            |mut client, req| async move { client.list_orders(req).await },
        )
        .await
    }

    /// One order, whoever owns it: callers check the owner.
    pub async fn get_order(&self, order_id: &str) -> Result<Order, BackendError> {
        let request = GetOrderRequest {
            order_id: order_id.to_owned(),
        };
        read(
            Backend::Orders,
            CALL_TIMEOUT,
            &self.orders,
            request,
            |mut client, req| async move { client.get_order(req).await },
        )
        .await
    }

    /// Makes every order of `from_owner` (a guest's session) `to_owner`'s
    /// (the account the guest signed in to); how many moved.
    pub async fn transfer_orders(
        &self,
        from_owner: &str,
        to_owner: &str,
    ) -> Result<u32, BackendError> {
        let mut client = self.orders.clone();
        let request = TransferOrdersRequest {
            from_owner: from_owner.to_owned(),
            to_owner: to_owner.to_owned(),
        };
        let reply = call(Backend::Orders, CALL_TIMEOUT, request, |req| async move {
            client.transfer_orders(req).await
        })
        .await?;
        Ok(reply.transferred)
    }
}

// === Accounts ===
//
// Never cached. Passwords and tokens travel only in these messages: never in
// a log line or an error (a `BackendError` carries the service's status,
// whose messages name no secret).

impl Backends {
    /// Creates an account and signs it in.
    pub async fn sign_up(&self, request: SignUpRequest) -> Result<SignUpResponse, BackendError> {
        let mut client = self.accounts.clone();
        call(
            Backend::Accounts,
            PASSWORD_TIMEOUT,
            request,
            |req| async move { client.sign_up(req).await },
        )
        .await
    }

    /// Checks an email and password; a token on success.
    pub async fn sign_in(&self, request: SignInRequest) -> Result<SignInResponse, BackendError> {
        let mut client = self.accounts.clone();
        call(
            Backend::Accounts,
            PASSWORD_TIMEOUT,
            request,
            |req| async move { client.sign_in(req).await },
        )
        .await
    }

    /// The account a token belongs to (with the token's expiry, ms since the
    /// epoch), or `UNAUTHENTICATED`.
    pub async fn authenticate(&self, token: &str) -> Result<(Account, i64), BackendError> {
        let request = AuthenticateRequest {
            token: token.to_owned(),
        };
        let reply = read(
            Backend::Accounts,
            CALL_TIMEOUT,
            &self.accounts,
            request,
            |mut client, req| async move { client.authenticate(req).await },
        )
        .await?;
        let account = reply
            .account
            .ok_or_else(|| BackendError::malformed(Backend::Accounts, "no account"))?;
        Ok((account, reply.expires_at_ms))
    }

    /// Signs one token out.
    pub async fn sign_out(&self, token: &str) -> Result<(), BackendError> {
        let mut client = self.accounts.clone();
        let request = SignOutRequest {
            token: token.to_owned(),
        };
        call(Backend::Accounts, CALL_TIMEOUT, request, |req| async move {
            client.sign_out(req).await
        })
        .await?;
        Ok(())
    }

    /// Signs out every token of the token's account.
    pub async fn sign_out_everywhere(&self, token: &str) -> Result<(), BackendError> {
        let mut client = self.accounts.clone();
        let request = SignOutEverywhereRequest {
            token: token.to_owned(),
        };
        call(Backend::Accounts, CALL_TIMEOUT, request, |req| async move {
            client.sign_out_everywhere(req).await
        })
        .await?;
        Ok(())
    }

    /// Changes the password; a fresh token (every other one is signed out).
    pub async fn change_password(
        &self,
        request: ChangePasswordRequest,
    ) -> Result<ChangePasswordResponse, BackendError> {
        let mut client = self.accounts.clone();
        call(
            Backend::Accounts,
            PASSWORD_TIMEOUT,
            request,
            |req| async move { client.change_password(req).await },
        )
        .await
    }

    /// Deletes the account (its orders stay, anonymised by the accounts service).
    pub async fn delete_account(&self, request: DeleteAccountRequest) -> Result<(), BackendError> {
        let mut client = self.accounts.clone();
        call(
            Backend::Accounts,
            PASSWORD_TIMEOUT,
            request,
            |req| async move { client.delete_account(req).await },
        )
        .await?;
        Ok(())
    }
}

// === Ratings ===
//
// A product's summary and its newest reviews are on every view of its page,
// so they are cached for the cache TTL like the catalog; a rating written
// through this process forgets its product's entries, so the shopper who
// wrote it sees it at once.

impl Backends {
    /// One product's summary (cached for the cache TTL), within
    /// [`SUMMARY_TIMEOUT`].
    pub async fn rating_summary(&self, product_id: &str) -> Result<RatingSummary, BackendError> {
        self.caches
            .rating_summaries
            .get_or_try(product_id.to_owned(), || async {
                self.rating_summaries(vec![product_id.to_owned()])
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| BackendError::malformed(Backend::Ratings, "no summary"))
            })
            .await
    }

    /// The first page of a product's ratings (cached for the cache TTL).
    pub async fn newest_ratings(
        &self,
        product_id: &str,
        page_size: u32,
    ) -> Result<Arc<ListRatingsResponse>, BackendError> {
        self.caches
            .newest_reviews
            .get_or_try((product_id.to_owned(), page_size), || async {
                self.list_ratings(product_id, page_size, "")
                    .await
                    .map(Arc::new)
            })
            .await
    }

    /// Forgets what is cached about a product's ratings.
    async fn forget_ratings(&self, product_id: &str, page_sizes: &[u32]) {
        self.caches
            .rating_summaries
            .invalidate(&product_id.to_owned())
            .await;
        for size in page_sizes {
            self.caches
                .newest_reviews
                .invalidate(&(product_id.to_owned(), *size))
                .await;
        }
    }

    /// The summaries of `product_ids` (one per id, in order), within
    /// [`SUMMARY_TIMEOUT`]; not cached (a page of the API's product list).
    pub async fn rating_summaries(
        &self,
        product_ids: Vec<String>,
    ) -> Result<Vec<RatingSummary>, BackendError> {
        let request = GetSummariesRequest { product_ids };
        let reply = read(
            Backend::Ratings,
            SUMMARY_TIMEOUT,
            &self.ratings,
            request,
            |mut client, req| async move { client.get_summaries(req).await },
        )
        .await?;
        Ok(reply.summaries)
    }

    /// A page of a product's ratings, most recently written first.
    pub async fn list_ratings(
        &self,
        product_id: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<ListRatingsResponse, BackendError> {
        let request = ListRatingsRequest {
            product_id: product_id.to_owned(),
            page_size,
            page_token: page_token.to_owned(),
        };
        read(
            Backend::Ratings,
            CALL_TIMEOUT,
            &self.ratings,
            request,
            |mut client, req| async move { client.list_ratings(req).await },
        )
        .await
    }

    /// The account's rating of the product, if any.
    pub async fn rating(
        &self,
        account_id: &str,
        product_id: &str,
    ) -> Result<Option<Rating>, BackendError> {
        let request = GetRatingRequest {
            account_id: account_id.to_owned(),
            product_id: product_id.to_owned(),
        };
        match read(
            Backend::Ratings,
            CALL_TIMEOUT,
            &self.ratings,
            request,
            |mut client, req| async move { client.get_rating(req).await },
        )
        .await
        {
            Ok(rating) => Ok(Some(rating)),
            Err(error) if error.code() == Some(Code::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates or replaces the account's rating of the product; what is
    /// cached about the product's ratings is forgotten.
    pub async fn put_rating(&self, request: PutRatingRequest) -> Result<Rating, BackendError> {
        let mut client = self.ratings.clone();
        let product_id = request.product_id.clone();
        let written = call(Backend::Ratings, CALL_TIMEOUT, request, |req| async move {
            client.put_rating(req).await
        })
        .await;
        self.forget_ratings(&product_id, &CACHED_REVIEW_PAGES).await;
        written
    }

    /// Deletes the account's rating of the product; false when there was none.
    pub async fn delete_rating(
        &self,
        account_id: &str,
        product_id: &str,
    ) -> Result<bool, BackendError> {
        let mut client = self.ratings.clone();
        let request = DeleteRatingRequest {
            account_id: account_id.to_owned(),
            product_id: product_id.to_owned(),
        };
        let reply = call(Backend::Ratings, CALL_TIMEOUT, request, |req| async move {
            client.delete_rating(req).await
        })
        .await;
        self.forget_ratings(product_id, &CACHED_REVIEW_PAGES).await;
        Ok(reply?.deleted)
    }
}

/// Runs one unary call, sent once, with a deadline: sent as `grpc-timeout`
/// so the server can give up too, and enforced here in case the server never
/// answers. For writes that are not safe to repeat.
async fn call<T, R, F, Fut>(
    backend: Backend,
    timeout: Duration,
    message: T,
    send: F,
) -> Result<R, BackendError>
where
    F: FnOnce(tonic::Request<T>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<R>, Status>>,
{
    CallContext::with_budget(timeout)
        .call(backend.name(), message, send)
        .await
        .map_err(|status| BackendError::Status { backend, status })
}

/// Runs one call that is safe to repeat (a read, or emptying a cart): like
/// [`call`], and tried again through a clone of `client` under the
/// backend's resilience policy (only on `UNAVAILABLE`, within its retry
/// budget and `timeout` for every attempt together), so a restarting
/// replica or a dropped connection costs a retry, not an error page.
async fn read<C, T, R, F, Fut>(
    backend: Backend,
    timeout: Duration,
    client: &C,
    message: T,
    send: F,
) -> Result<R, BackendError>
where
    C: Clone,
    T: Clone,
    F: Fn(C, tonic::Request<T>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<R>, Status>>,
{
    CallContext::with_budget(timeout)
        .call_idempotent(backend.name(), client, message, send)
        .await
        .map_err(|status| BackendError::Status { backend, status })
}
