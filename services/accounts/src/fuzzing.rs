//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! checks each RPC makes on what it is sent before it asks the store or
//! hashes a password (the handler needs a database, and Argon2 costs tens of
//! milliseconds a call), and the tokens it issues and verifies. Not part of
//! the crate's API.

use std::time::Duration;

use boutique_proto::boutique::accounts::v1::{SignInRequest, SignUpRequest};
use tonic::Status;

use crate::{Claims, KeySet, input, password, tokens::Tokens};

/// SignUp's checks, in the handler's order: the email's key and the display
/// name, or the refusal.
pub fn sign_up(request: &SignUpRequest) -> Result<(String, String), Status> {
    let email = input::email(&request.email)?;
    let display_name = input::display_name(&request.display_name, &email)?;
    input::client_address(&request.client_address)?;
    password::check(&request.password, &email.key).map_err(|weakness| weakness.into_error())?;
    Ok((email.key, display_name))
}

/// SignIn's checks: the email's key and the client address counted against.
pub fn sign_in(request: &SignInRequest) -> Result<(String, Option<String>), Status> {
    let email = input::email(&request.email)?;
    input::password_to_check("password", &request.password)?;
    let address = input::client_address(&request.client_address)?;
    Ok((email.key, address))
}

/// The token check every token-carrying RPC starts with.
pub fn token(raw: &str) -> Result<String, Status> {
    Ok(input::token(raw)?.to_owned())
}

/// Issues and verifies tokens with a key set, as the service does.
#[derive(Debug, Clone)]
pub struct TokenCheck(Tokens);

impl TokenCheck {
    /// Tokens signed with `keys`' first key, valid for an hour.
    pub fn new(keys: KeySet) -> Self {
        Self(Tokens::new(keys, Duration::from_secs(3600)))
    }

    /// A token for `account_id` issued at `iat_s`.
    pub fn issue(&self, account_id: &str, iat_s: i64) -> Option<String> {
        self.0
            .issue(account_id, iat_s)
            .ok()
            .map(|issued| issued.token)
    }

    /// What a token says, if it verifies.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        self.0.verify(token).ok()
    }
}
