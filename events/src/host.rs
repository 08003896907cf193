//! Host accounts: who may create rooms when the api runs with accounts. One
//! account is one aggregate (`Host`) in the same event log as the rooms; its
//! rules are few, so it is decided and folded here without cqrs-es.
//!
//! The log keeps only hashes: the password's argon2 PHC string and the
//! SHA-256 of the API key (a key is 32 random bytes, so a fast hash is
//! enough). Copies published to NATS leave both out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The aggregate type of host accounts in the event log.
pub const HOST_TYPE: &str = "Host";

pub const MAX_EMAIL_CHARS: usize = 254;
pub const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HostEvent {
    HostAdded {
        /// Lower-cased and trimmed.
        email: String,
        password_hash: String,
        api_key_hash: String,
    },
    /// Every sign-in made before `at` ends (the sign-out button).
    HostSignedOut { at: DateTime<Utc> },
    /// The account is closed: it signs in no more and its API key stops
    /// working. Its rooms and their events stay.
    HostRemoved {},
}

impl HostEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::HostAdded { .. } => "HostAdded",
            Self::HostSignedOut { .. } => "HostSignedOut",
            Self::HostRemoved {} => "HostRemoved",
        }
    }

    /// The payload as published to NATS: without the password and key hashes.
    pub fn public_payload(&self) -> serde_json::Value {
        match self {
            Self::HostAdded { email, .. } => serde_json::json!({ "email": email }),
            Self::HostSignedOut { at } => serde_json::json!({ "at": at }),
            Self::HostRemoved {} => serde_json::json!({}),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("`{0}` is not an e-mail address")]
    BadEmail(String),
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
    #[error("there is already an account for {0}")]
    EmailTaken(String),
    #[error("no such account")]
    NotFound,
}

/// The e-mail address as accounts are keyed: trimmed, lower-cased, checked.
pub fn normalize_email(email: &str) -> Result<String, HostError> {
    let email = email.trim().to_lowercase();
    let plausible = email.len() <= MAX_EMAIL_CHARS
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
    if plausible {
        Ok(email)
    } else {
        Err(HostError::BadEmail(email))
    }
}

pub fn check_password(password: &str) -> Result<(), HostError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(HostError::ShortPassword);
    }
    Ok(())
}

/// One account's state, folded from its events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Host {
    pub email: String,
    pub password_hash: String,
    pub api_key_hash: String,
    pub signed_out_at: Option<DateTime<Utc>>,
    pub added: bool,
    pub removed: bool,
}

impl Host {
    pub fn apply(&mut self, event: HostEvent) {
        match event {
            HostEvent::HostAdded {
                email,
                password_hash,
                api_key_hash,
            } => {
                *self = Host {
                    email,
                    password_hash,
                    api_key_hash,
                    added: true,
                    ..Host::default()
                }
            }
            HostEvent::HostSignedOut { at } => self.signed_out_at = Some(at),
            HostEvent::HostRemoved {} => self.removed = true,
        }
    }

    /// Open: added and not removed.
    pub fn active(&self) -> bool {
        self.added && !self.removed
    }

    /// Whether a sign-in made at `issued` still holds.
    pub fn session_valid(&self, issued: DateTime<Utc>) -> bool {
        self.active() && self.signed_out_at.is_none_or(|out| issued > out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.ORG ").unwrap(),
            "ada@example.org"
        );
        for bad in [
            "",
            "ada",
            "@example.org",
            "ada@localhost",
            "a da@example.org",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn sign_out_ends_earlier_sessions_only_and_removal_ends_all() {
        let t0 = Utc::now();
        let mut host = Host::default();
        host.apply(HostEvent::HostAdded {
            email: "ada@example.org".into(),
            password_hash: "h".into(),
            api_key_hash: "k".into(),
        });
        assert!(host.session_valid(t0));
        host.apply(HostEvent::HostSignedOut {
            at: t0 + chrono::Duration::seconds(1),
        });
        assert!(!host.session_valid(t0));
        assert!(host.session_valid(t0 + chrono::Duration::seconds(2)));
        host.apply(HostEvent::HostRemoved {});
        assert!(!host.session_valid(t0 + chrono::Duration::seconds(2)));
    }
}
