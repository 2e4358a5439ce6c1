//! The gRPC handler of `boutique.accounts.v1.AccountsService`: checks the
//! request, asks the account book, the hasher and the token keys, and says
//! what happened in status codes and reasons.
//!
//! Nothing here logs a password, a token or a password hash: requests are
//! never logged whole, and errors carry no secret.

use std::{sync::Arc, time::Duration};

use boutique_platform::{RpcError, telemetry::grpc::TracedChannel};
use boutique_proto::{
    boutique::accounts::v1::{
        self as pb, AuthenticateRequest, AuthenticateResponse, ChangePasswordRequest,
        ChangePasswordResponse, DeleteAccountRequest, DeleteAccountResponse, SignInRequest,
        SignInResponse, SignOutEverywhereRequest, SignOutEverywhereResponse, SignOutRequest,
        SignOutResponse, SignUpRequest, SignUpResponse, accounts_service_server::AccountsService,
    },
    boutique::orders::v1::{AnonymiseOrdersRequest, order_service_client::OrderServiceClient},
    reasons,
};
use boutique_store::{
    AccountBook, StoreError,
    accounts::{Account, Created, NewAccount},
};
use tonic::{Request, Response, Status, metadata::MetadataValue};

use crate::{
    hasher::{HashError, Hasher},
    input,
    metrics::{AccountsMetrics, SignIn, SignUp},
    password,
    throttle::{Refused, Throttle},
    tokens::{Claims, Issued, TokenError, Tokens},
};

#[derive(Debug, Clone)]
pub(crate) struct Accounts {
    pub(crate) book: AccountBook,
    pub(crate) hasher: Hasher,
    pub(crate) tokens: Tokens,
    pub(crate) throttle: Throttle,
    pub(crate) metrics: AccountsMetrics,
    /// A hash of a random password with our parameters: an unknown email is
    /// checked against it, so it costs the same time as a wrong password.
    pub(crate) dummy_hash: Arc<str>,
    /// The orders service, which anonymises a deleted account's orders.
    pub(crate) orders: OrderServiceClient<TracedChannel>,
}

/// How long the orders service may take to anonymise an account's orders.
const ANONYMISE_TIMEOUT: Duration = Duration::from_secs(5);

/// The store's failure as the caller sees it (logged here with its cause).
fn store_error(error: StoreError) -> RpcError {
    match error {
        StoreError::Invalid { .. } => RpcError::InvalidArgument(error.to_string()),
        error => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "The account store failed."
            );
            RpcError::Unavailable("the account store is unavailable".to_owned())
        }
    }
}

fn hash_error(error: HashError) -> RpcError {
    match error {
        HashError::Overloaded => RpcError::ResourceExhausted(
            "too many sign-ins are being checked right now; retry in a moment".to_owned(),
        )
        .with_reason(reasons::OVERLOADED, []),
        HashError::Failed(_) => RpcError::internal(error),
    }
}

fn invalid_token(error: TokenError) -> RpcError {
    RpcError::Unauthenticated(error.to_string()).with_reason(reasons::INVALID_TOKEN, [])
}

fn signed_out() -> RpcError {
    RpcError::Unauthenticated("the token was signed out".to_owned())
        .with_reason(reasons::INVALID_TOKEN, [])
}

/// The one answer to a wrong password, whether or not the email has an account.
fn bad_credentials() -> RpcError {
    RpcError::Unauthenticated("the email or password is wrong".to_owned())
        .with_reason(reasons::INVALID_CREDENTIALS, [])
}

/// RESOURCE_EXHAUSTED with the seconds to wait, in the reason's metadata and
/// in a `retry-after` header.
fn throttled(refused: Refused, now_ms: i64) -> Status {
    let seconds = ((refused.until_ms - now_ms).max(0) + 999) / 1000;
    let seconds = seconds.max(1).to_string();
    let mut status = Status::from(
        RpcError::ResourceExhausted(
            "too many failed sign-ins; wait before trying again".to_owned(),
        )
        .with_reason(
            reasons::SIGN_IN_THROTTLED,
            [("retry_after_seconds", seconds.clone())],
        ),
    );
    if let Ok(value) = MetadataValue::try_from(seconds.as_str()) {
        status.metadata_mut().insert("retry-after", value);
    }
    status
}

fn now_ms() -> Result<i64, RpcError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| RpcError::internal(anyhow::anyhow!("the clock is before 1970")))
}

/// The instant from which tokens count after their account ended its
/// sessions again (its sessions counted from `current_ms` until now): past
/// every token issued up to now. Tokens carry whole seconds, and a token
/// issued since the last end is dated no earlier than that end (see
/// `Accounts::issue`), so within a second of it a token may be dated ahead
/// of the clock: the new instant is the second after the later of now and
/// the last end, or a sign-out everywhere right after a password change
/// would spare the tokens issued in between.
fn sessions_valid_after(now_ms: i64, current_ms: i64) -> i64 {
    let now_s = now_ms.div_euclid(1000);
    let current_s = (current_ms + 999).div_euclid(1000);
    (now_s.max(current_s) + 1) * 1000
}

fn account_to_wire(account: &Account) -> pb::Account {
    pb::Account {
        id: account.id.clone(),
        email: account.email.clone(),
        display_name: account.display_name.clone(),
        created_at_ms: account.created_at_ms,
    }
}

impl Accounts {
    /// A token for `account`, never dated before the account's sessions
    /// became valid (another replica's clock may run a little behind).
    fn issue(&self, account: &Account) -> Result<Issued, RpcError> {
        let now_s = now_ms()?.div_euclid(1000);
        let valid_from_s = (account.sessions_valid_after_ms + 999).div_euclid(1000);
        self.tokens
            .issue(&account.id, now_s.max(valid_from_s))
            .map_err(RpcError::internal)
    }

    /// The claims of a token that is valid right now, and its account.
    async fn authenticate_token(&self, token: &str) -> Result<(Claims, Account), RpcError> {
        let token = input::token(token)?;
        let claims = self.tokens.verify(token).map_err(invalid_token)?;
        let session = self
            .book
            .session(&claims.sub, &claims.jti)
            .await
            .map_err(store_error)?
            // The account was deleted.
            .ok_or_else(|| invalid_token(TokenError::Invalid))?;
        if session.revoked
            || claims.iat.saturating_mul(1000) < session.account.sessions_valid_after_ms
        {
            return Err(signed_out());
        }
        Ok((claims, session.account))
    }

    /// Checks `password` for the email (and `account`, when it has one),
    /// throttled; an unknown email does the same work and gets the same
    /// answer as a wrong password.
    async fn check_password(
        &self,
        email_key: &str,
        address: Option<&str>,
        password: &str,
        account: Option<&Account>,
    ) -> Result<(), Status> {
        let now = now_ms()?;
        if let Some(refused) = self
            .throttle
            .check(email_key, address, now)
            .await
            .map_err(store_error)?
        {
            self.metrics.throttled(refused.by);
            self.metrics.sign_in(SignIn::Throttled);
            return Err(throttled(refused, now));
        }
        let hash = account.map_or_else(|| self.dummy_hash.to_string(), |a| a.password_hash.clone());
        let matches = self
            .hasher
            .verify(password.to_owned(), hash)
            .await
            .map_err(hash_error)?;
        if !(matches && account.is_some()) {
            self.throttle
                .failed(email_key, address, now)
                .await
                .map_err(store_error)?;
            self.metrics.sign_in(SignIn::BadCredentials);
            return Err(bad_credentials().into());
        }
        self.throttle
            .succeeded(email_key)
            .await
            .map_err(store_error)?;
        self.metrics.sign_in(SignIn::Success);
        Ok(())
    }

    /// Has the orders service anonymise the account's orders; any failure
    /// there refuses the deletion (UNAVAILABLE) before anything is deleted.
    async fn anonymise_orders(&self, account_id: &str) -> Result<(), RpcError> {
        let mut request = Request::new(AnonymiseOrdersRequest {
            owner: account_id.to_owned(),
        });
        request.set_timeout(ANONYMISE_TIMEOUT);
        let mut orders = self.orders.clone();
        match tokio::time::timeout(ANONYMISE_TIMEOUT, orders.anonymise_orders(request)).await {
            Ok(Ok(reply)) => {
                tracing::info!(
                    account_id = %account_id,
                    orders = reply.into_inner().anonymised,
                    "The account's orders are anonymised."
                );
                Ok(())
            }
            outcome => {
                let cause = match outcome {
                    Ok(Err(status)) => status.to_string(),
                    _ => "no answer in time".to_owned(),
                };
                tracing::warn!(account_id = %account_id, error = %cause, "Cannot anonymise the account's orders; the account is kept.");
                Err(RpcError::Unavailable(
                    "the account's orders cannot be anonymised right now, so it was not deleted; \
                     try again in a moment"
                        .to_owned(),
                ))
            }
        }
    }

    async fn sign_up_inner(&self, request: SignUpRequest) -> Result<SignUpResponse, Status> {
        let email = input::email(&request.email)?;
        let display_name = input::display_name(&request.display_name, &email)?;
        input::client_address(&request.client_address)?;
        if let Err(weakness) = password::check(&request.password, &email.key) {
            self.metrics.sign_up(SignUp::WeakPassword);
            return Err(weakness.into_error().into());
        }
        let taken = || {
            RpcError::AlreadyExists("an account with this email exists".to_owned())
                .with_reason(reasons::EMAIL_TAKEN, [])
        };
        // Cheap to ask before hashing; the insert still decides a race.
        if self
            .book
            .find_by_email(&email.key)
            .await
            .map_err(store_error)?
            .is_some()
        {
            self.metrics.sign_up(SignUp::EmailTaken);
            return Err(taken().into());
        }
        let password_hash = self
            .hasher
            .hash(request.password)
            .await
            .map_err(hash_error)?;
        let new = NewAccount {
            id: format!("acct-{}", uuid::Uuid::new_v4()),
            email: email.display,
            email_key: email.key,
            display_name,
            password_hash,
        };
        let account = match self.book.create(&new).await.map_err(store_error)? {
            Created::Created(account) => account,
            Created::EmailTaken => {
                self.metrics.sign_up(SignUp::EmailTaken);
                return Err(taken().into());
            }
        };
        self.metrics.sign_up(SignUp::Success);
        tracing::info!(account_id = %account.id, "Account created.");
        let issued = self.issue(&account)?;
        Ok(SignUpResponse {
            token: issued.token,
            account: Some(account_to_wire(&account)),
            expires_at_ms: issued.expires_at_ms,
        })
    }
}

#[tonic::async_trait]
impl AccountsService for Accounts {
    async fn sign_up(
        &self,
        request: Request<SignUpRequest>,
    ) -> Result<Response<SignUpResponse>, Status> {
        let result = self.sign_up_inner(request.into_inner()).await;
        if let Err(status) = &result
            && status.code() == tonic::Code::InvalidArgument
            && boutique_platform::error::error_reason(status).is_none()
        {
            self.metrics.sign_up(SignUp::Invalid);
        }
        result.map(Response::new)
    }

    async fn sign_in(
        &self,
        request: Request<SignInRequest>,
    ) -> Result<Response<SignInResponse>, Status> {
        let request = request.into_inner();
        let email = input::email(&request.email)?;
        input::password_to_check("password", &request.password)?;
        let address = input::client_address(&request.client_address)?;
        let account = self
            .book
            .find_by_email(&email.key)
            .await
            .map_err(store_error)?;
        self.check_password(
            &email.key,
            address.as_deref(),
            &request.password,
            account.as_ref(),
        )
        .await?;
        // `check_password` passes only with an account.
        let account = account.ok_or_else(bad_credentials)?;
        let issued = self.issue(&account)?;
        Ok(Response::new(SignInResponse {
            token: issued.token,
            account: Some(account_to_wire(&account)),
            expires_at_ms: issued.expires_at_ms,
        }))
    }

    async fn sign_out(
        &self,
        request: Request<SignOutRequest>,
    ) -> Result<Response<SignOutResponse>, Status> {
        let request = request.into_inner();
        let token = input::token(&request.token)?;
        match self.tokens.verify(token) {
            Ok(claims) => {
                self.book
                    .revoke_token(&claims.jti, &claims.sub, claims.exp.saturating_mul(1000))
                    .await
                    .map_err(store_error)?;
                Ok(Response::new(SignOutResponse {}))
            }
            // Nothing left to sign out.
            Err(TokenError::Expired) => Ok(Response::new(SignOutResponse {})),
            Err(error) => Err(invalid_token(error).into()),
        }
    }

    async fn sign_out_everywhere(
        &self,
        request: Request<SignOutEverywhereRequest>,
    ) -> Result<Response<SignOutEverywhereResponse>, Status> {
        let (_, account) = self.authenticate_token(&request.into_inner().token).await?;
        let valid_after = sessions_valid_after(now_ms()?, account.sessions_valid_after_ms);
        self.book
            .end_sessions(&account.id, valid_after)
            .await
            .map_err(store_error)?;
        tracing::info!(account_id = %account.id, "Every session of the account ended.");
        Ok(Response::new(SignOutEverywhereResponse {}))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<ChangePasswordResponse>, Status> {
        let request = request.into_inner();
        let (_, account) = self.authenticate_token(&request.token).await?;
        input::password_to_check("current_password", &request.current_password)?;
        let address = input::client_address(&request.client_address)?;
        password::check(&request.new_password, &account.email_key)
            .map_err(|weakness| Status::from(weakness.into_error()))?;
        self.check_password(
            &account.email_key,
            address.as_deref(),
            &request.current_password,
            Some(&account),
        )
        .await?;
        let password_hash = self
            .hasher
            .hash(request.new_password)
            .await
            .map_err(hash_error)?;
        let valid_after = sessions_valid_after(now_ms()?, account.sessions_valid_after_ms);
        let changed = self
            .book
            .change_password(&account.id, &password_hash, valid_after)
            .await
            .map_err(store_error)?;
        if !changed {
            // Deleted in between.
            return Err(invalid_token(TokenError::Invalid).into());
        }
        tracing::info!(account_id = %account.id, "Password changed; every other session ended.");
        let account = Account {
            sessions_valid_after_ms: valid_after.max(account.sessions_valid_after_ms),
            password_hash,
            ..account
        };
        let issued = self.issue(&account)?;
        Ok(Response::new(ChangePasswordResponse {
            token: issued.token,
            account: Some(account_to_wire(&account)),
            expires_at_ms: issued.expires_at_ms,
        }))
    }

    async fn delete_account(
        &self,
        request: Request<DeleteAccountRequest>,
    ) -> Result<Response<DeleteAccountResponse>, Status> {
        let request = request.into_inner();
        let (_, account) = self.authenticate_token(&request.token).await?;
        input::password_to_check("password", &request.password)?;
        let address = input::client_address(&request.client_address)?;
        self.check_password(
            &account.email_key,
            address.as_deref(),
            &request.password,
            Some(&account),
        )
        .await?;
        self.anonymise_orders(&account.id).await?;
        self.book.delete(&account.id).await.map_err(store_error)?;
        tracing::info!(account_id = %account.id, "Account deleted.");
        Ok(Response::new(DeleteAccountResponse {}))
    }

    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        let (claims, account) = self.authenticate_token(&request.into_inner().token).await?;
        Ok(Response::new(AuthenticateResponse {
            account: Some(account_to_wire(&account)),
            expires_at_ms: claims.exp.saturating_mul(1000),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_restart_at_the_next_whole_second() {
        assert_eq!(sessions_valid_after(1_000, 0), 2_000);
        assert_eq!(sessions_valid_after(1_999, 0), 2_000);
        // Any token issued up to now (whole seconds, rounded down) is before it.
        for now in [1_000, 1_500, 1_999] {
            assert!((now / 1000) * 1000 < sessions_valid_after(now, 0));
        }
    }

    #[test]
    fn sessions_end_past_tokens_dated_at_the_last_end() {
        // Ended at 2 000 (during second 1): tokens issued since are dated 2 s,
        // so ending again in second 1 must refuse them too.
        assert_eq!(sessions_valid_after(1_500, 2_000), 3_000);
        assert!(2 * 1000 < sessions_valid_after(1_500, 2_000));
        // Long after the last end, the next second as ever.
        assert_eq!(sessions_valid_after(9_500, 2_000), 10_000);
    }
}
