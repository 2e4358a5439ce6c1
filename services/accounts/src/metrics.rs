//! The accounts service's metrics: sign-ins and sign-ups by outcome, and
//! throttled attempts by what they were throttled on. Label values come from
//! the closed enums below.

use boutique_platform::{Telemetry, telemetry::Counter};

/// How a sign-in (or another password check) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignIn {
    Success,
    BadCredentials,
    Throttled,
}

impl SignIn {
    const ALL: [Self; 3] = [Self::Success, Self::BadCredentials, Self::Throttled];

    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::BadCredentials => "bad_credentials",
            Self::Throttled => "throttled",
        }
    }
}

/// How a sign-up ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignUp {
    Success,
    EmailTaken,
    WeakPassword,
    Invalid,
}

impl SignUp {
    const ALL: [Self; 4] = [
        Self::Success,
        Self::EmailTaken,
        Self::WeakPassword,
        Self::Invalid,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::EmailTaken => "email_taken",
            Self::WeakPassword => "weak_password", // pragma: allowlist secret (a metric label)
            Self::Invalid => "invalid",
        }
    }
}

/// What an attempt was throttled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    Email,
    Address,
}

impl By {
    const ALL: [Self; 2] = [Self::Email, Self::Address];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Address => "address",
        }
    }
}

/// The accounts service's metric families. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AccountsMetrics {
    sign_ins: Counter,
    sign_ups: Counter,
    throttled: Counter,
}

impl AccountsMetrics {
    /// Registers the families; every label value starts at zero.
    pub(crate) fn register(telemetry: &Telemetry) -> Self {
        let metrics = telemetry.metrics();
        let sign_ins = metrics.counter(
            "boutique_accounts_sign_ins_total",
            "Password checks (sign-ins, password changes, deletions), by outcome.",
            &["outcome"],
        );
        let sign_ups = metrics.counter(
            "boutique_accounts_sign_ups_total",
            "Sign-ups, by outcome.",
            &["outcome"],
        );
        let throttled = metrics.counter(
            "boutique_accounts_throttled_total",
            "Password checks refused for too many recent failures, by what was counted.",
            &["by"],
        );
        for outcome in SignIn::ALL {
            sign_ins.start_at_zero(&[outcome.as_str()]);
        }
        for outcome in SignUp::ALL {
            sign_ups.start_at_zero(&[outcome.as_str()]);
        }
        for by in By::ALL {
            throttled.start_at_zero(&[by.as_str()]);
        }
        Self {
            sign_ins,
            sign_ups,
            throttled,
        }
    }

    pub(crate) fn sign_in(&self, outcome: SignIn) {
        self.sign_ins.inc(&[outcome.as_str()]);
    }

    pub(crate) fn sign_up(&self, outcome: SignUp) {
        self.sign_ups.inc(&[outcome.as_str()]);
    }

    pub(crate) fn throttled(&self, by: By) {
        self.throttled.inc(&[by.as_str()]);
    }
}
