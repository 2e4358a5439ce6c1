//! The account pages: `GET/POST {BASE_URL}/signin`, `GET/POST
//! {BASE_URL}/signup`, `POST {BASE_URL}/signout`, `GET {BASE_URL}/account`
//! and its forms (`POST /account/password`, `/account/signout-everywhere`,
//! `/account/delete`).
//!
//! Plain forms, no JavaScript; cross-site posts are refused by the request
//! middleware like every other form. A refused form comes back with the
//! shopper's entries (never a password) and what went wrong, with a status
//! that says it too: 422 for a wrong password or a weak one, 409 for an email
//! that has an account, 429 (and `Retry-After`) after too many failed
//! sign-ins, 503 when the accounts service is busy or down. A successful
//! sign-in or sign-up brings the guest's cart and orders into the account
//! (see [`crate::account::adopt`]) and answers 302 to where the shopper was.

use askama::Template;
use axum::{
    Extension, Form,
    extract::{Query, State, rejection::FormRejection, rejection::QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use boutique_proto::boutique::accounts::v1::{
    ChangePasswordRequest, DeleteAccountRequest, SignInRequest, SignUpRequest,
};
use cookie::time::Duration as CookieDuration;

use crate::{
    State as AppState,
    account::{self, Refusal, RefusalKind, SignedIn, Token},
    cookies::{ACCOUNT_COOKIE, CookieJar, SESSION_COOKIE},
    ctx::Ctx,
    error::AppError,
    handlers::{form_fields, found, query_fields},
    orders::{display_date, query_value, utc},
    views::{AccountForm, AccountPage, Chrome, SignInPage, SignUpPage},
};

type FormResult = Result<Form<Vec<(String, String)>>, FormRejection>;
type QueryResult = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The fewest characters the sign-up form asks for (the accounts service
/// enforces it; the form only says so up front).
const MIN_PASSWORD: usize = 10;

/// The longest `next` path followed.
const MAX_NEXT_LEN: usize = 1000;

/// `GET /signin`: the form; a signed-in shopper goes to their account.
pub(crate) async fn sign_in_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    query: QueryResult,
) -> Result<Response, AppError> {
    let fields = query_fields(query)?;
    let base = &state.config.base_url;
    if ctx.account.is_some() {
        return Ok(found(&format!("{base}/account")));
    }
    let notice = match fields.get("done") {
        "signed-out" => Some("You are signed out."),
        "deleted" => {
            Some("Your account is deleted. Your orders are kept, with nothing that names you.")
        }
        "expired" => Some("You have been signed out. Please sign in again."),
        _ => None,
    };
    let page = SignInPage {
        chrome: Chrome::new(&state, &ctx, "Sign in", &[], None),
        email: String::new(),
        next: safe_next(base, fields.get("next")),
        error: None,
        notice,
    };
    Ok(Html(page.render()?).into_response())
}

/// `POST /signin`: checks the email and password with the accounts service.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    form: FormResult,
) -> Result<Response, AppError> {
    let fields = form_fields(form)?;
    let base = &state.config.base_url;
    let next = safe_next(base, fields.get("next"));
    let email = fields.get("email").to_owned();
    let refused = |refusal: Refusal| {
        let page = SignInPage {
            chrome: Chrome::new(&state, &ctx, "Sign in", &[], None),
            email: email.clone(),
            next: next.clone(),
            error: Some(refusal.message.clone()),
            notice: None,
        };
        Ok::<_, AppError>(form_refused(page.render()?, &refusal))
    };
    if email.is_empty() || fields.raw("password").is_empty() {
        return refused(missing("Enter your email and your password."));
    }
    let request = SignInRequest {
        email: email.clone(),
        password: fields.raw("password").to_owned(),
        client_address: ctx.client_address.clone(),
    };
    match state.backends.sign_in(request).await {
        Ok(reply) => {
            let signed_in = SignedIn::from_reply(reply.account, reply.token, reply.expires_at_ms)
                .ok_or_else(|| {
                AppError::Internal("a sign-in without its account".to_owned())
            })?;
            tracing::info!(account_id = %signed_in.id, "Signed in.");
            Ok(enter(&state, &ctx, &signed_in, &next).await)
        }
        Err(error) => {
            let refusal = account::refusal(&error);
            log_refusal(&refusal, &error);
            refused(refusal)
        }
    }
}

/// `GET /signup`: the form; a signed-in shopper goes to their account.
pub(crate) async fn sign_up_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    query: QueryResult,
) -> Result<Response, AppError> {
    let fields = query_fields(query)?;
    let base = &state.config.base_url;
    if ctx.account.is_some() {
        return Ok(found(&format!("{base}/account")));
    }
    let page = SignUpPage {
        chrome: Chrome::new(&state, &ctx, "Create your account", &[], None),
        email: String::new(),
        display_name: String::new(),
        next: safe_next(base, fields.get("next")),
        error: None,
        min_password: MIN_PASSWORD,
    };
    Ok(Html(page.render()?).into_response())
}

/// `POST /signup`: creates the account and signs it in.
pub(crate) async fn sign_up(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    form: FormResult,
) -> Result<Response, AppError> {
    let fields = form_fields(form)?;
    let base = &state.config.base_url;
    let next = safe_next(base, fields.get("next"));
    let email = fields.get("email").to_owned();
    let display_name = fields.get("display_name").to_owned();
    let refused = |refusal: Refusal| {
        let page = SignUpPage {
            chrome: Chrome::new(&state, &ctx, "Create your account", &[], None),
            email: email.clone(),
            display_name: display_name.clone(),
            next: next.clone(),
            error: Some(refusal.message.clone()),
            min_password: MIN_PASSWORD,
        };
        Ok::<_, AppError>(form_refused(page.render()?, &refusal))
    };
    if email.is_empty() {
        return refused(missing("Enter your email."));
    }
    if fields.raw("password").is_empty() {
        return refused(missing("Choose a password."));
    }
    let request = SignUpRequest {
        email: email.clone(),
        display_name: display_name.clone(),
        password: fields.raw("password").to_owned(),
        client_address: ctx.client_address.clone(),
    };
    match state.backends.sign_up(request).await {
        Ok(reply) => {
            let signed_in = SignedIn::from_reply(reply.account, reply.token, reply.expires_at_ms)
                .ok_or_else(|| {
                AppError::Internal("a sign-up without its account".to_owned())
            })?;
            tracing::info!(account_id = %signed_in.id, "Signed up.");
            Ok(enter(&state, &ctx, &signed_in, &next).await)
        }
        Err(error) => {
            let refusal = account::refusal(&error);
            log_refusal(&refusal, &error);
            refused(refusal)
        }
    }
}

/// `POST /signout`: signs the token out, drops the cookie and starts a new
/// guest session; 302 to the sign-in page, which says so.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Response {
    if let Some(account) = &ctx.account
        && let Err(error) = state.backends.sign_out(account.token.as_str()).await
    {
        // The cookie goes anyway; the token expires in its time.
        tracing::warn!(error = %error, "Cannot sign the token out.");
    }
    leave(&state, &ctx, "signed-out")
}

/// `GET /account`: the account page; a guest is sent to sign in first.
pub(crate) async fn account_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    query: QueryResult,
) -> Result<Response, AppError> {
    let fields = query_fields(query)?;
    let Some(account) = &ctx.account else {
        return Ok(to_sign_in(&state, &ctx));
    };
    let done = match fields.get("done") {
        "password" => Some("Your password is changed. Everywhere else you are signed out."),
        "signed-up" => Some("Welcome! Your account is ready."),
        _ => None,
    };
    let html = render_account(&state, &ctx, account, done, None)?;
    Ok(Html(html).into_response())
}

/// `POST /account/password`: changes the password; the new token replaces
/// the cookie (every other session of the account is signed out).
pub(crate) async fn change_password(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    form: FormResult,
) -> Result<Response, AppError> {
    let fields = form_fields(form)?;
    let Some(account) = &ctx.account else {
        return Ok(to_sign_in(&state, &ctx));
    };
    if fields.raw("current_password").is_empty() || fields.raw("new_password").is_empty() {
        return account_refused(
            &state,
            &ctx,
            account,
            AccountForm::Password,
            &missing("Enter your current password and a new one."),
        );
    }
    let request = ChangePasswordRequest {
        token: account.token.as_str().to_owned(),
        current_password: fields.raw("current_password").to_owned(),
        new_password: fields.raw("new_password").to_owned(),
        client_address: ctx.client_address.clone(),
    };
    match state.backends.change_password(request).await {
        Ok(reply) => {
            tracing::info!(account_id = %account.id, "Password changed.");
            let signed_in = SignedIn {
                token: Token::new(reply.token),
                expires_at_ms: reply.expires_at_ms,
                ..account.clone()
            };
            let mut response = found(&format!("{}/account?done=password", state.config.base_url));
            set_account_cookie(&mut response, &jar(&state, &ctx), &signed_in);
            Ok(response)
        }
        Err(error) => {
            let refusal = account::refusal(&error);
            log_refusal(&refusal, &error);
            account_refused(&state, &ctx, account, AccountForm::Password, &refusal)
        }
    }
}

/// `POST /account/signout-everywhere`: every token of the account stops
/// working, this one too.
pub(crate) async fn sign_out_everywhere(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, AppError> {
    let Some(account) = &ctx.account else {
        return Ok(to_sign_in(&state, &ctx));
    };
    match state
        .backends
        .sign_out_everywhere(account.token.as_str())
        .await
    {
        Ok(()) => {
            tracing::info!(account_id = %account.id, "Signed out everywhere.");
            Ok(leave(&state, &ctx, "signed-out"))
        }
        Err(error) => {
            let refusal = account::refusal(&error);
            log_refusal(&refusal, &error);
            account_refused(&state, &ctx, account, AccountForm::Everywhere, &refusal)
        }
    }
}

/// `POST /account/delete`: deletes the account once the password is checked
/// and the box ticked (its orders stay, anonymised by the accounts service).
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    form: FormResult,
) -> Result<Response, AppError> {
    let fields = form_fields(form)?;
    let Some(account) = &ctx.account else {
        return Ok(to_sign_in(&state, &ctx));
    };
    if fields.get("confirm") != "yes" || fields.raw("password").is_empty() {
        return account_refused(
            &state,
            &ctx,
            account,
            AccountForm::Delete,
            &missing("Enter your password and tick the box to delete your account."),
        );
    }
    let request = DeleteAccountRequest {
        token: account.token.as_str().to_owned(),
        password: fields.raw("password").to_owned(),
        client_address: ctx.client_address.clone(),
    };
    match state.backends.delete_account(request).await {
        Ok(()) => {
            tracing::info!(account_id = %account.id, "Account deleted.");
            // Its cart names nobody now; it would expire anyway.
            if let Err(error) = state.backends.empty_cart(&account.id).await {
                tracing::warn!(error = %error, "Cannot empty a deleted account's cart.");
            }
            Ok(leave(&state, &ctx, "deleted"))
        }
        Err(error) => {
            let refusal = account::refusal(&error);
            log_refusal(&refusal, &error);
            account_refused(&state, &ctx, account, AccountForm::Delete, &refusal)
        }
    }
}

/// A path of this shop to go to after signing in: `next` when it is one
/// (under `BASE_URL`, not `//host`, no backslash or control character), else
/// the home page. Anything else could send the shopper off-site.
pub(crate) fn safe_next(base: &str, next: &str) -> String {
    let ours = next.len() <= MAX_NEXT_LEN
        && next
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/') && !rest.starts_with("//"))
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if ours {
        next.to_owned()
    } else {
        format!("{base}/")
    }
}

/// The signed-in shopper goes to `next` with the account cookie; the guest's
/// cart and orders become the account's, and the guest session is replaced
/// when they did (see [`account::adopt`]).
async fn enter(state: &AppState, ctx: &Ctx, signed_in: &SignedIn, next: &str) -> Response {
    let adopted = account::adopt(state, ctx.session_id(), ctx.new_session, &signed_in.id).await;
    let jar = jar(state, ctx);
    let mut response = found(next);
    set_account_cookie(&mut response, &jar, signed_in);
    if adopted {
        new_session(&mut response, state, &jar);
    }
    response
}

/// The shopper leaves their account: the cookie goes and a new guest session
/// starts; 302 to the sign-in page with `done` saying why.
fn leave(state: &AppState, ctx: &Ctx, done: &str) -> Response {
    let jar = jar(state, ctx);
    let mut response = found(&format!("{}/signin?done={done}", state.config.base_url));
    if let Some(cookie) = jar.expire(ACCOUNT_COOKIE) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    new_session(&mut response, state, &jar);
    response
}

/// A guest at an account page: 302 to sign in, and back here afterwards.
fn to_sign_in(state: &AppState, ctx: &Ctx) -> Response {
    let base = &state.config.base_url;
    let back = if ctx.path.starts_with(&format!("{base}/account")) {
        format!("{base}/account")
    } else {
        ctx.path.clone()
    };
    found(&format!("{base}/signin?next={}", query_value(&back)))
}

fn jar(state: &AppState, ctx: &Ctx) -> CookieJar {
    state.cookies.for_request(ctx.https)
}

fn set_account_cookie(response: &mut Response, jar: &CookieJar, signed_in: &SignedIn) {
    let max_age = CookieDuration::seconds(signed_in.seconds_left());
    if let Some(cookie) = jar.set_for(ACCOUNT_COOKIE, signed_in.token.as_str(), max_age) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

fn new_session(response: &mut Response, state: &AppState, jar: &CookieJar) {
    let (_, value) = state.sessions.fresh();
    if let Some(cookie) = jar.set(SESSION_COOKIE, &value) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// A form the shop did not send to the accounts service.
fn missing(message: &str) -> Refusal {
    Refusal {
        kind: RefusalKind::Invalid,
        message: message.to_owned(),
        retry_after: None,
    }
}

/// The status a refused account form comes back with.
fn status_of(refusal: &Refusal) -> StatusCode {
    match refusal.kind {
        RefusalKind::BadCredentials | RefusalKind::WeakPassword | RefusalKind::Invalid => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        RefusalKind::EmailTaken => StatusCode::CONFLICT,
        RefusalKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
        RefusalKind::SignedOut => StatusCode::UNAUTHORIZED,
        RefusalKind::Overloaded | RefusalKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        RefusalKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn log_refusal(refusal: &Refusal, error: &crate::backends::BackendError) {
    match refusal.kind {
        RefusalKind::Internal | RefusalKind::Unavailable | RefusalKind::Overloaded => {
            tracing::error!(error = %error, "An accounts call failed.");
        }
        // The refusal's kind says enough; the message may echo the email.
        kind => tracing::info!(refusal = ?kind, "An accounts call was refused."),
    }
}

/// The re-rendered form with the refusal's status (and `Retry-After`).
fn form_refused(html: String, refusal: &Refusal) -> Response {
    let mut response = (status_of(refusal), Html(html)).into_response();
    if let Some(seconds) = refusal.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The account page again, with what went wrong beside the form it came
/// from; a token that stopped working sends the shopper to sign in.
fn account_refused(
    state: &AppState,
    ctx: &Ctx,
    account: &SignedIn,
    form: AccountForm,
    refusal: &Refusal,
) -> Result<Response, AppError> {
    if refusal.kind == RefusalKind::SignedOut {
        let mut response = found(&format!("{}/signin?done=expired", state.config.base_url));
        if let Some(cookie) = jar(state, ctx).expire(ACCOUNT_COOKIE) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        return Ok(response);
    }
    let html = render_account(
        state,
        ctx,
        account,
        None,
        Some((form, refusal.message.clone())),
    )?;
    Ok(form_refused(html, refusal))
}

fn render_account(
    state: &AppState,
    ctx: &Ctx,
    account: &SignedIn,
    done: Option<&'static str>,
    error: Option<(AccountForm, String)>,
) -> Result<String, AppError> {
    let since = utc(account.created_at_ms)
        .map(display_date)
        .unwrap_or_default();
    let page = AccountPage {
        chrome: Chrome::new(state, ctx, "Your account", &[], None),
        display_name: account.display_name.clone(),
        email: account.email.clone(),
        since,
        done,
        error,
        min_password: MIN_PASSWORD,
    };
    Ok(page.render()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_only_paths_of_the_shop() {
        assert_eq!(safe_next("", "/product/X?a=1"), "/product/X?a=1");
        assert_eq!(safe_next("/shop", "/shop/cart"), "/shop/cart");
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/other",
            "/shop//evil.example",
            "/shop/a\nb",
        ] {
            assert_eq!(safe_next("/shop", bad), "/shop/", "{bad:?}");
        }
        assert_eq!(safe_next("", "//evil.example"), "/");
        assert_eq!(safe_next("", &format!("/{}", "a".repeat(2000))), "/");
    }

    #[test]
    fn refusals_have_their_statuses() {
        let with = |kind| Refusal {
            kind,
            message: String::new(),
            retry_after: None,
        };
        assert_eq!(
            status_of(&with(RefusalKind::BadCredentials)),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of(&with(RefusalKind::EmailTaken)),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status_of(&with(RefusalKind::Throttled)),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            status_of(&with(RefusalKind::Overloaded)),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
