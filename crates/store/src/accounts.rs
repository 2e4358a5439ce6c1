//! The accounts service's tables: accounts, tokens signed out one by one,
//! and failed sign-ins (for throttling).
//!
//! [`AccountBook`] is the only code that touches them. What it guarantees,
//! on both engines and across replicas sharing the database:
//!
//! - **One account per email**, whatever its case: the caller passes the
//!   normalised key and the `UNIQUE` constraint on `email_key` decides, so two
//!   concurrent sign-ups of one address make one account
//!   ([`Created::EmailTaken`] for the other).
//! - **Revocation is shared**: a token signed out on one replica
//!   ([`AccountBook::revoke_token`]) or all of an account's tokens ended
//!   ([`AccountBook::end_sessions`]) are refused by every replica, because
//!   [`AccountBook::session`] reads both in the same query as the account.
//! - **Throttling is shared**: failures are rows, counted by
//!   [`AccountBook::throttled_until`] over a window, so a replica cannot be
//!   used to get around another's count.
//!
//! Owner: the accounts service (see ARCHITECTURE.md).

use sqlx::AnyPool;
use uuid::Uuid;

use crate::{Database, StoreError, now_ms};

/// The longest account id, email, display name, token id or throttling
/// subject kept, in bytes.
pub const MAX_FIELD_LEN: usize = 512;

/// An account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Its id (`acct-<uuid>`).
    pub id: String,
    /// The email as given.
    pub email: String,
    /// The email normalised (trimmed, lowercase): what makes it unique.
    pub email_key: String,
    /// The name shown to the shopper.
    pub display_name: String,
    /// The Argon2id PHC string of the password.
    pub password_hash: String,
}

/// An account as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: String,
    /// The email as given.
    pub email: String,
    /// The email normalised.
    pub email_key: String,
    /// The name shown to the shopper.
    pub display_name: String,
    /// The Argon2id PHC string of the password.
    pub password_hash: String,
    /// Tokens issued before this instant are refused (ms since the epoch).
    pub sessions_valid_after_ms: i64,
    /// When it was created (ms since the epoch).
    pub created_at_ms: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at_ms: i64,
}

// By hand, so the password hash never reaches a log through `{:?}`.
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("sessions_valid_after_ms", &self.sessions_valid_after_ms)
            .field("created_at_ms", &self.created_at_ms)
            .finish_non_exhaustive()
    }
}

/// What [`AccountBook::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The account is stored.
    Created(Account),
    /// Another account has this email (in any case).
    EmailTaken,
}

/// An account and whether the token asked about was signed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The account the token names.
    pub account: Account,
    /// True when that very token was signed out.
    pub revoked: bool,
}

/// What [`AccountBook::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Signed-out tokens past their expiry.
    pub tokens: u64,
    /// Failed sign-ins older than the window.
    pub failures: u64,
}

/// The account tables. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AccountBook {
    db: Database,
    pool: AnyPool,
}

/// `SELECT`s the columns of an account row (a macro, so every query stays a
/// literal).
macro_rules! select_accounts {
    ($($rest:literal)+) => {
        concat!(
            "SELECT id, email, email_key, display_name, password_hash, \
             sessions_valid_after_ms, created_at_ms, updated_at_ms FROM accounts ",
            $($rest),+
        )
    };
}

type AccountRow = (String, String, String, String, String, i64, i64, i64);

/// An account row and the count of signed-out tokens with the asked `jti`.
type SessionRow = (String, String, String, String, String, i64, i64, i64, i64);

fn account_from_row(row: AccountRow) -> Account {
    let (
        id,
        email,
        email_key,
        display_name,
        password_hash,
        sessions_valid_after_ms,
        created_at_ms,
        updated_at_ms,
    ) = row;
    Account {
        id,
        email,
        email_key,
        display_name,
        password_hash,
        sessions_valid_after_ms,
        created_at_ms,
        updated_at_ms,
    }
}

fn validate(what: &'static str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::invalid(what, "is empty"));
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(StoreError::invalid(
            what,
            format!("is longer than {MAX_FIELD_LEN} bytes"),
        ));
    }
    Ok(())
}

impl AccountBook {
    /// The account tables in `db` (migrated).
    pub fn new(db: &Database) -> Self {
        Self {
            db: db.clone(),
            pool: db.pool().clone(),
        }
    }

    /// Creates the account unless its email is taken.
    pub async fn create(&self, new: &NewAccount) -> Result<Created, StoreError> {
        validate("account id", &new.id)?;
        validate("email", &new.email)?;
        validate("email key", &new.email_key)?;
        validate("display name", &new.display_name)?;
        validate("password hash", &new.password_hash)?;
        let now = now_ms()?;
        let inserted = {
            let _turn = self.db.write_lock().await;
            // No conflict target: a taken email (or, impossibly, id) inserts
            // nothing, and the unique index makes exactly one sign-up win.
            sqlx::query(
                "INSERT INTO accounts (id, email, email_key, display_name, password_hash, \
                 sessions_valid_after_ms, created_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $6) ON CONFLICT DO NOTHING",
            )
            .bind(&new.id)
            .bind(&new.email)
            .bind(&new.email_key)
            .bind(&new.display_name)
            .bind(&new.password_hash)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("creating an account"))?
            .rows_affected()
        };
        if inserted == 0 {
            return Ok(Created::EmailTaken);
        }
        Ok(Created::Created(Account {
            id: new.id.clone(),
            email: new.email.clone(),
            email_key: new.email_key.clone(),
            display_name: new.display_name.clone(),
            password_hash: new.password_hash.clone(),
            sessions_valid_after_ms: 0,
            created_at_ms: now,
            updated_at_ms: now,
        }))
    }

    /// The account whose normalised email is `email_key`.
    pub async fn find_by_email(&self, email_key: &str) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = sqlx::query_as(select_accounts!("WHERE email_key = $1"))
            .bind(email_key)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("finding an account by email"))?;
        Ok(row.map(account_from_row))
    }

    /// The account `id`.
    pub async fn get(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = sqlx::query_as(select_accounts!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("reading an account"))?;
        Ok(row.map(account_from_row))
    }

    /// The account `id` and whether the token `jti` was signed out, in one
    /// query (every authenticated request asks this).
    pub async fn session(&self, id: &str, jti: &str) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id, email, email_key, display_name, password_hash, \
                 sessions_valid_after_ms, created_at_ms, updated_at_ms, \
                 (SELECT COUNT(*) FROM account_revoked_tokens WHERE jti = $2) \
                 FROM accounts WHERE id = $1",
        )
        .bind(id)
        .bind(jti)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("reading a session"))?;
        Ok(row.map(|(a, b, c, d, e, f, g, h, revoked)| Session {
            account: account_from_row((a, b, c, d, e, f, g, h)),
            revoked: revoked > 0,
        }))
    }

    /// Signs the token `jti` out until `expires_at_ms`, when it would have
    /// been refused anyway (and the row is pruned). Signing out twice is fine.
    pub async fn revoke_token(
        &self,
        jti: &str,
        account_id: &str,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        validate("token id", jti)?;
        validate("account id", account_id)?;
        let _turn = self.db.write_lock().await;
        sqlx::query(
            "INSERT INTO account_revoked_tokens (jti, account_id, expires_at_ms) \
             VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(account_id)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("signing a token out"))?;
        Ok(())
    }

    /// Refuses every token of the account issued before `valid_after_ms`
    /// (never moving that instant back). False when there is no such account.
    pub async fn end_sessions(&self, id: &str, valid_after_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms()?;
        let _turn = self.db.write_lock().await;
        let changed = sqlx::query(
            "UPDATE accounts SET sessions_valid_after_ms = \
             CASE WHEN sessions_valid_after_ms < $2 THEN $2 ELSE sessions_valid_after_ms END, \
             updated_at_ms = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(valid_after_ms)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("ending an account's sessions"))?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Replaces the password hash and, in the same statement, refuses every
    /// token issued before `valid_after_ms`. False when there is no such account.
    pub async fn change_password(
        &self,
        id: &str,
        password_hash: &str,
        valid_after_ms: i64,
    ) -> Result<bool, StoreError> {
        validate("password hash", password_hash)?;
        let now = now_ms()?;
        let _turn = self.db.write_lock().await;
        let changed = sqlx::query(
            "UPDATE accounts SET password_hash = $2, sessions_valid_after_ms = \
             CASE WHEN sessions_valid_after_ms < $3 THEN $3 ELSE sessions_valid_after_ms END, \
             updated_at_ms = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(password_hash)
        .bind(valid_after_ms)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("changing a password"))?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Deletes the account and its signed-out tokens (its other tokens are
    /// refused from now on, as they name no account). False when there was none.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let action = "deleting an account";
        let (_turn, mut tx) = self.db.begin_write(action).await?;
        let deleted = sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?
            .rows_affected();
        sqlx::query("DELETE FROM account_revoked_tokens WHERE account_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(deleted > 0)
    }

    /// Until when `subject` (of `scope`) may not try again: `Some` when it
    /// has `limit` failures or more at or after `since_ms`, and then the
    /// instant the `limit`-th newest of them was recorded, plus `window_ms`
    /// (once it leaves the window, fewer than `limit` remain).
    pub async fn throttled_until(
        &self,
        scope: &str,
        subject: &str,
        since_ms: i64,
        window_ms: i64,
        limit: u32,
    ) -> Result<Option<i64>, StoreError> {
        if limit == 0 {
            return Ok(None);
        }
        let nth: Option<(i64,)> = sqlx::query_as(
            "SELECT at_ms FROM account_sign_in_failures \
             WHERE scope = $1 AND subject = $2 AND at_ms >= $3 \
             ORDER BY at_ms DESC LIMIT 1 OFFSET $4",
        )
        .bind(scope)
        .bind(subject)
        .bind(since_ms)
        .bind(i64::from(limit) - 1)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("counting failed sign-ins"))?;
        Ok(nth.map(|(at,)| at.saturating_add(window_ms)))
    }

    /// Records one failed sign-in at `at_ms` for each `(scope, subject)`, in
    /// one transaction.
    pub async fn record_failures(
        &self,
        subjects: &[(&str, &str)],
        at_ms: i64,
    ) -> Result<(), StoreError> {
        for (scope, subject) in subjects {
            validate("throttling scope", scope)?;
            validate("throttling subject", subject)?;
        }
        let action = "recording a failed sign-in";
        let (_turn, mut tx) = self.db.begin_write(action).await?;
        for (scope, subject) in subjects {
            sqlx::query(
                "INSERT INTO account_sign_in_failures (id, scope, subject, at_ms) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(*scope)
            .bind(*subject)
            .bind(at_ms)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        }
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(())
    }

    /// Forgets the failures of `subject` (of `scope`): after a successful
    /// sign-in, the account's count starts again.
    pub async fn clear_failures(&self, scope: &str, subject: &str) -> Result<(), StoreError> {
        let _turn = self.db.write_lock().await;
        sqlx::query("DELETE FROM account_sign_in_failures WHERE scope = $1 AND subject = $2")
            .bind(scope)
            .bind(subject)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("clearing failed sign-ins"))?;
        Ok(())
    }

    /// Removes signed-out tokens that expired before `now_ms` and failures
    /// recorded before `failures_before_ms`.
    pub async fn prune(&self, now_ms: i64, failures_before_ms: i64) -> Result<Pruned, StoreError> {
        let _turn = self.db.write_lock().await;
        let tokens = sqlx::query("DELETE FROM account_revoked_tokens WHERE expires_at_ms < $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("pruning signed-out tokens"))?
            .rows_affected();
        let failures = sqlx::query("DELETE FROM account_sign_in_failures WHERE at_ms < $1")
            .bind(failures_before_ms)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("pruning failed sign-ins"))?
            .rows_affected();
        Ok(Pruned { tokens, failures })
    }

    /// How many signed-out tokens and failures are kept (for tests and gauges).
    pub async fn counts(&self) -> Result<Pruned, StoreError> {
        let (tokens, failures): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM account_revoked_tokens), \
             (SELECT COUNT(*) FROM account_sign_in_failures)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query("counting kept rows"))?;
        Ok(Pruned {
            tokens: u64::try_from(tokens).unwrap_or(0),
            failures: u64::try_from(failures).unwrap_or(0),
        })
    }
}
