//! The pages: askama templates (checked at compile time, in `templates/`) and
//! the plain view structs they read.
//!
//! Handlers turn backend replies into these structs; templates only lay them
//! out. Askama escapes every value, so catalog text cannot inject markup.

use askama::Template;
use axum::http::StatusCode;
use boutique_proto::Product;

use crate::{
    State,
    ctx::Ctx,
    error::{ErrorPage, PageKind},
    price,
};

/// What every page shows around its content: banner, header, footer.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    /// `BASE_URL`, prefixed to every link.
    pub(crate) base: String,
    pub(crate) shop_name: &'static str,
    pub(crate) message: Option<String>,
    pub(crate) platform_class: &'static str,
    pub(crate) platform_label: &'static str,
    /// The currency switcher; empty hides it.
    pub(crate) currencies: Vec<CurrencyOption>,
    /// The cart badge (sum of quantities); `None` hides the count.
    pub(crate) cart_size: Option<i64>,
    /// The header links to the shopping assistant (`ENABLE_ASSISTANT`).
    pub(crate) assistant: bool,
    /// The session's tag (a short hash, as logged), never the id itself: a
    /// page can be screenshotted, shared or cached by a browser extension,
    /// and the tag is what support needs to find the shopper's log lines.
    pub(crate) session_tag: String,
    pub(crate) request_id: String,
    pub(crate) year: i32,
    /// The page title before the shop's name.
    pub(crate) title: String,
    /// The signed-in shopper's display name (the account menu); `None` for
    /// a guest, whose header offers to sign in.
    pub(crate) account_name: Option<String>,
    /// This page's path, percent-encoded, for the sign-in link to bring the
    /// shopper back (`?next=`).
    pub(crate) next: String,
}

/// One entry of the currency switcher.
#[derive(Debug, Clone)]
pub(crate) struct CurrencyOption {
    pub(crate) code: String,
    /// The shop's symbol for the currency (every offered one has one).
    pub(crate) symbol: Option<&'static str>,
    pub(crate) selected: bool,
}

impl Chrome {
    /// The chrome of a page. `supported` is the currency service's list (the
    /// switcher shows the offered subset); pass an empty list to hide it.
    pub(crate) fn new(
        state: &State,
        ctx: &Ctx,
        title: impl Into<String>,
        supported: &[String],
        cart_size: Option<i64>,
    ) -> Self {
        let config = &state.config;
        let currencies = price::offered(supported)
            .into_iter()
            .map(|code| CurrencyOption {
                symbol: boutique_money::symbol(&code),
                selected: code == ctx.currency,
                code,
            })
            .collect();
        Self {
            base: config.base_url.clone(),
            shop_name: config.shop_name(),
            message: config.message.clone(),
            platform_class: config.platform.css_class(),
            platform_label: config.platform.label(),
            currencies,
            cart_size,
            assistant: config.enable_assistant,
            session_tag: ctx.session_tag().to_owned(),
            request_id: ctx.request_id.clone(),
            year: current_year(),
            title: title.into(),
            account_name: ctx
                .account
                .as_ref()
                .map(|account| account.display_name.clone()),
            // The path alone: a query (a page token) is not worth keeping.
            next: crate::orders::query_value(ctx.path.split(['?', '#']).next().unwrap_or_default()),
        }
    }

    /// The alt text of the cart link.
    pub(crate) fn cart_label(&self) -> String {
        match self.cart_size {
            Some(1) => "Cart, 1 item".to_owned(),
            Some(n) => format!("Cart, {n} items"),
            None => "Cart".to_owned(),
        }
    }
}

/// The current year (UTC), for the footer and the card expiry choices.
pub(crate) fn current_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

/// A product as the pages show it.
#[derive(Debug, Clone)]
pub(crate) struct ProductCard {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    /// The picture's URL, already under `BASE_URL`.
    pub(crate) picture: String,
    /// The price in the shopper's currency; empty where no price is shown.
    pub(crate) price: String,
}

impl ProductCard {
    pub(crate) fn new(base: &str, product: &Product, price: String) -> Self {
        Self {
            id: product.id.clone(),
            name: product.name.clone(),
            description: product.description.clone(),
            picture: picture_url(base, &product.picture),
            price,
        }
    }
}

/// Catalog pictures are site paths (`/static/img/...`); they live under `BASE_URL`.
pub(crate) fn picture_url(base: &str, picture: &str) -> String {
    if picture.starts_with('/') {
        format!("{base}{picture}")
    } else {
        picture.to_owned()
    }
}

/// The home page.
#[derive(Debug, Template)]
#[template(path = "home.html")]
pub(crate) struct HomePage {
    pub(crate) chrome: Chrome,
    pub(crate) products: Vec<ProductCard>,
}

/// An ad under a product.
#[derive(Debug, Clone)]
pub(crate) struct AdView {
    pub(crate) url: String,
    pub(crate) text: String,
}

/// A product page.
#[derive(Debug, Template)]
#[template(path = "product.html")]
pub(crate) struct ProductPage {
    pub(crate) chrome: Chrome,
    pub(crate) product: ProductCard,
    pub(crate) quantities: [u8; 6],
    pub(crate) recommendations: Vec<ProductCard>,
    pub(crate) ad: Option<AdView>,
    pub(crate) ratings: RatingsView,
}

/// A product's average and count, as the pages show them.
#[derive(Debug, Clone)]
pub(crate) struct SummaryView {
    pub(crate) count: i64,
    /// One decimal: `4.3`.
    pub(crate) average: String,
    /// Five glyphs, the average rounded to whole stars: `★★★★☆`.
    pub(crate) stars: String,
}

/// One review on a product page. Its text is plain text, escaped by the
/// template like every value.
#[derive(Debug, Clone)]
pub(crate) struct ReviewView {
    pub(crate) stars: i32,
    pub(crate) glyphs: String,
    pub(crate) text: String,
    pub(crate) verified: bool,
    pub(crate) date: String,
    pub(crate) datetime: String,
    /// Written by the shopper looking at it.
    pub(crate) mine: bool,
}

/// The signed-in shopper's own rating, to fill the form.
#[derive(Debug, Clone, Default)]
pub(crate) struct MyRating {
    pub(crate) stars: i32,
    pub(crate) text: String,
}

/// The ratings section of a product page.
#[derive(Debug, Clone, Default)]
pub(crate) struct RatingsView {
    /// `None` when the ratings service did not answer: the section says so
    /// and the rest of the page is as usual.
    pub(crate) summary: Option<SummaryView>,
    pub(crate) reviews: Vec<ReviewView>,
    /// The link to older reviews, if there are more.
    pub(crate) next_page: Option<String>,
    /// True past the first page of reviews.
    pub(crate) later_page: bool,
    /// The form is shown to signed-in shoppers only.
    pub(crate) signed_in: bool,
    /// The shopper's own rating, when they have one.
    pub(crate) mine: Option<MyRating>,
}

impl RatingsView {
    /// 1 to 5, for the form's choices.
    pub(crate) fn choices(&self) -> [i32; 5] {
        [5, 4, 3, 2, 1]
    }

    /// The form's stars: the shopper's own, else none chosen.
    pub(crate) fn chosen(&self) -> i32 {
        self.mine.as_ref().map_or(0, |mine| mine.stars)
    }

    /// The form's text: the shopper's own, else empty.
    pub(crate) fn my_text(&self) -> &str {
        self.mine.as_ref().map_or("", |mine| mine.text.as_str())
    }
}

/// Five glyphs for `stars` of five (clamped).
pub(crate) fn star_glyphs(stars: i64) -> String {
    let full = usize::try_from(stars.clamp(0, 5)).unwrap_or(0);
    "★".repeat(full) + &"☆".repeat(5 - full)
}

impl SummaryView {
    /// From the ratings service's count and average in hundredths of a star
    /// (no floats: `433` is 4.33, shown as `4.3`).
    pub(crate) fn new(count: i64, average_centistars: u32) -> Self {
        let tenths = (average_centistars + 5) / 10;
        Self {
            count,
            average: format!("{}.{}", tenths / 10, tenths % 10),
            stars: star_glyphs(i64::from((average_centistars + 50) / 100)),
        }
    }
}

/// The sign-in page.
#[derive(Debug, Template)]
#[template(path = "signin.html")]
pub(crate) struct SignInPage {
    pub(crate) chrome: Chrome,
    pub(crate) email: String,
    /// Where to go after signing in (a path of ours).
    pub(crate) next: String,
    /// Why the last attempt failed.
    pub(crate) error: Option<String>,
    /// A word after an action elsewhere (signed out, account deleted).
    pub(crate) notice: Option<&'static str>,
}

/// The sign-up page.
#[derive(Debug, Template)]
#[template(path = "signup.html")]
pub(crate) struct SignUpPage {
    pub(crate) chrome: Chrome,
    pub(crate) email: String,
    pub(crate) display_name: String,
    pub(crate) next: String,
    pub(crate) error: Option<String>,
    pub(crate) min_password: usize,
}

/// The account page.
#[derive(Debug, Template)]
#[template(path = "account.html")]
pub(crate) struct AccountPage {
    pub(crate) chrome: Chrome,
    pub(crate) display_name: String,
    pub(crate) email: String,
    /// When the account was made, as a date.
    pub(crate) since: String,
    /// What the last action did.
    pub(crate) done: Option<&'static str>,
    /// Why the last action failed, and which form it came from.
    pub(crate) error: Option<(AccountForm, String)>,
    pub(crate) min_password: usize,
}

/// The forms of the account page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountForm {
    Password,
    Delete,
    Everywhere,
}

impl AccountPage {
    /// The error for `form`, if the last action was that form's.
    pub(crate) fn error_for(&self, form: AccountForm) -> Option<&str> {
        match &self.error {
            Some((which, message)) if *which == form => Some(message),
            _ => None,
        }
    }

    pub(crate) fn password_error(&self) -> Option<&str> {
        self.error_for(AccountForm::Password)
    }

    pub(crate) fn delete_error(&self) -> Option<&str> {
        self.error_for(AccountForm::Delete)
    }

    pub(crate) fn everywhere_error(&self) -> Option<&str> {
        self.error_for(AccountForm::Everywhere)
    }
}

/// The quantities a shopper can pick, as upstream.
pub(crate) const QUANTITIES: [u8; 6] = [1, 2, 3, 4, 5, 10];

/// One line of the cart.
#[derive(Debug, Clone)]
pub(crate) struct CartLine {
    pub(crate) product: ProductCard,
    pub(crate) quantity: i32,
    /// Unit price × quantity.
    pub(crate) price: String,
}

/// What the checkout form shows: upstream's defaults, or what was submitted.
#[derive(Debug, Clone)]
pub(crate) struct CheckoutForm {
    pub(crate) email: String,
    pub(crate) street_address: String,
    pub(crate) zip_code: String,
    pub(crate) city: String,
    pub(crate) state: String,
    pub(crate) country: String,
    pub(crate) card_number: String,
    pub(crate) cvv: String,
    pub(crate) month: i32,
    pub(crate) year: i32,
    /// The hidden `order_key`: the same for every submission of this form, so
    /// a resubmitted form is the same order, not a second charge.
    pub(crate) order_key: String,
}

impl CheckoutForm {
    /// Upstream's prefilled demo values, so a shopper can check out in one click.
    pub(crate) fn demo() -> Self {
        Self {
            email: "someone@example.com".to_owned(),
            street_address: "1600 Amphitheatre Parkway".to_owned(),
            zip_code: "94043".to_owned(),
            city: "Mountain View".to_owned(),
            state: "CA".to_owned(),
            country: "United States".to_owned(),
            card_number: "4432801561520454".to_owned(),
            cvv: "672".to_owned(),
            month: 1,
            year: current_year() + 1,
            order_key: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// Month numbers and names for the expiry select (upstream mislabelled December).
pub(crate) const MONTHS: [(i32, &str); 12] = [
    (1, "January"),
    (2, "February"),
    (3, "March"),
    (4, "April"),
    (5, "May"),
    (6, "June"),
    (7, "July"),
    (8, "August"),
    (9, "September"),
    (10, "October"),
    (11, "November"),
    (12, "December"),
];

/// A message on the cart page after a failed checkout.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    pub(crate) heading: &'static str,
    pub(crate) text: String,
}

/// The cart page.
#[derive(Debug, Template)]
#[template(path = "cart.html")]
pub(crate) struct CartPage {
    pub(crate) chrome: Chrome,
    pub(crate) lines: Vec<CartLine>,
    pub(crate) item_count: i64,
    pub(crate) shipping: String,
    pub(crate) total: String,
    pub(crate) recommendations: Vec<ProductCard>,
    pub(crate) form: CheckoutForm,
    pub(crate) years: Vec<i32>,
    pub(crate) months: [(i32, &'static str); 12],
    pub(crate) notice: Option<Notice>,
}

/// One line of a placed order.
#[derive(Debug, Clone)]
pub(crate) struct OrderLine {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) picture: String,
    pub(crate) quantity: i32,
    /// Unit cost × quantity, in the order's currency.
    pub(crate) price: String,
}

/// The order confirmation.
#[derive(Debug, Template)]
#[template(path = "order.html")]
pub(crate) struct OrderPage {
    pub(crate) chrome: Chrome,
    pub(crate) order_id: String,
    pub(crate) tracking_id: String,
    pub(crate) lines: Vec<OrderLine>,
    pub(crate) shipping: String,
    pub(crate) total: String,
    pub(crate) recommendations: Vec<ProductCard>,
}

/// One order in the list of a shopper's orders.
#[derive(Debug, Clone)]
pub(crate) struct OrderSummary {
    pub(crate) id: String,
    /// The id's first group, enough to tell orders apart in a list.
    pub(crate) short_id: String,
    /// When it was placed, as a date.
    pub(crate) date: String,
    /// The same moment in RFC 3339, for `<time datetime>`.
    pub(crate) datetime: String,
    pub(crate) state: OrderStateView,
    pub(crate) item_count: i64,
    /// The total in the order's currency; empty before it is priced.
    pub(crate) total: String,
}

/// An order state as the pages show it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderStateView {
    /// Words for people ("Payment being checked").
    pub(crate) label: &'static str,
    /// The API's name ("payment_uncertain"), for the CSS class.
    pub(crate) name: &'static str,
}

/// The shopper's orders, a page at a time.
#[derive(Debug, Template)]
#[template(path = "orders.html")]
pub(crate) struct OrdersPage {
    pub(crate) chrome: Chrome,
    pub(crate) orders: Vec<OrderSummary>,
    /// The link to the next page, if there is one.
    pub(crate) next_page: Option<String>,
    /// True past the first page (an empty later page is not "no orders").
    pub(crate) later_page: bool,
}

/// One state an order reached, on its timeline.
#[derive(Debug, Clone)]
pub(crate) struct TimelineEntry {
    pub(crate) state: OrderStateView,
    /// When, for people, in UTC.
    pub(crate) at: String,
    /// The same moment in RFC 3339, for `<time datetime>`.
    pub(crate) datetime: String,
    /// Why, when the move had a reason.
    pub(crate) note: Option<String>,
}

/// One of the shopper's orders in full.
#[derive(Debug, Template)]
#[template(path = "order_detail.html")]
pub(crate) struct OrderDetailPage {
    pub(crate) chrome: Chrome,
    pub(crate) id: String,
    /// When it was placed, for people, in UTC.
    pub(crate) placed: String,
    /// The same moment in RFC 3339, for `<time datetime>`.
    pub(crate) placed_datetime: String,
    pub(crate) state: OrderStateView,
    pub(crate) lines: Vec<OrderLine>,
    /// Empty before the order is priced.
    pub(crate) shipping: String,
    /// Empty before the order is priced.
    pub(crate) total: String,
    /// Empty until it ships.
    pub(crate) tracking_id: String,
    /// The shipping address, one line per part, empty parts left out.
    pub(crate) address: Vec<String>,
    /// Oldest first.
    pub(crate) timeline: Vec<TimelineEntry>,
    pub(crate) warnings: Vec<String>,
}

/// An error page.
#[derive(Debug, Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorView {
    pub(crate) chrome: Chrome,
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
    pub(crate) heading: &'static str,
    pub(crate) message: &'static str,
    pub(crate) lines: Vec<String>,
}

/// Renders the page for an error response.
pub(crate) fn error_page(
    state: &State,
    ctx: &Ctx,
    status: StatusCode,
    page: &ErrorPage,
) -> Result<String, askama::Error> {
    let (heading, message) = match page.kind {
        PageKind::NotFound => (
            "We couldn't find that page",
            "The page or product you asked for doesn't exist. It may have moved, or the link may be mistyped.",
        ),
        PageKind::Invalid => (
            "Some details need another look",
            "We couldn't accept the form because of the following:",
        ),
        PageKind::BadRequest => (
            "We couldn't read that request",
            "The form arrived in a shape we don't understand. Please go back and try again.",
        ),
        PageKind::BadQuery => (
            "That link doesn't look right",
            "Part of the address isn't one we understand; it may have been cut short or edited:",
        ),
        PageKind::Forbidden => (
            "That request came from another site",
            "For your safety, forms are accepted only from this shop's own pages. Please go back to the shop and try again.",
        ),
        PageKind::Unavailable => (
            "Part of the shop is taking a short break",
            "We couldn't finish your request because one of our services isn't answering right now. Your cart is safe; please try again in a moment.",
        ),
        PageKind::OrderFailed => (
            "Your order could not be placed",
            "We couldn't complete your order:",
        ),
        PageKind::Internal => (
            "Something went wrong on our side",
            "We're sorry: your request failed because of a problem in the shop, not anything you did. Please try again.",
        ),
        PageKind::TooMany => (
            "Please slow down a little",
            "You did that too often in a short time:",
        ),
    };
    ErrorView {
        chrome: Chrome::new(state, ctx, heading, &[], None),
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or(""),
        heading,
        message,
        lines: page.lines.clone(),
    }
    .render()
}
