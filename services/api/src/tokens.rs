//! Signed, expiring tokens that say room, participant and role.
//!
//! Form: `base64url(claims JSON) "." base64url(HMAC-SHA256(secret, first part))`.
//! HMAC comes from the RustCrypto `hmac` crate and is verified in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zencast_events::{ParticipantId, Role, RoomId};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub room: RoomId,
    /// `None` in an invite: whoever holds it may join once as a new guest.
    pub participant: Option<ParticipantId>,
    pub role: Role,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signature is not valid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
}

#[derive(Clone)]
pub struct Tokens {
    secret: Vec<u8>,
    lifetime: Duration,
}

/// How long an invite link stays valid.
pub const INVITE_LIFETIME_DAYS: i64 = 7;

impl Tokens {
    pub fn new(secret: &[u8], lifetime: Duration) -> Self {
        Self {
            secret: secret.to_vec(),
            lifetime,
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length")
    }

    /// A participant's token: who it is, in which room, with which role.
    pub fn issue(
        &self,
        room: RoomId,
        participant: ParticipantId,
        role: Role,
        now: DateTime<Utc>,
    ) -> String {
        self.sign(&Claims {
            room,
            participant: Some(participant),
            role,
            exp: (now + self.lifetime).timestamp(),
        })
    }

    /// A guest invite for the room.
    pub fn invite(&self, room: RoomId, now: DateTime<Utc>) -> String {
        self.sign(&Claims {
            room,
            participant: None,
            role: Role::Guest,
            exp: (now + Duration::days(INVITE_LIFETIME_DAYS)).timestamp(),
        })
    }

    fn sign(&self, claims: &Claims) -> String {
        let body = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{body}.{sig}")
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let (body, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims =
            serde_json::from_slice(&B64.decode(body).map_err(|_| TokenError::Malformed)?)
                .map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_refuse_tampering_and_expiry() {
        let t = Tokens::new(b"secret", Duration::hours(1));
        let now = Utc::now();
        let (room, p) = (RoomId::new(), ParticipantId::new());
        let token = t.issue(room, p, Role::Host, now);
        let claims = t.verify(&token, now).unwrap();
        assert_eq!(
            (claims.room, claims.participant, claims.role),
            (room, Some(p), Role::Host)
        );
        let invite = t.verify(&t.invite(room, now), now).unwrap();
        assert_eq!(
            (invite.room, invite.participant, invite.role),
            (room, None, Role::Guest)
        );
        assert_eq!(
            t.verify(&token, now + Duration::hours(2)),
            Err(TokenError::Expired)
        );
        let other = Tokens::new(b"other", Duration::hours(1));
        assert_eq!(other.verify(&token, now), Err(TokenError::BadSignature));
        let (body, sig) = token.split_once('.').unwrap();
        let forged = format!("{}x.{sig}", body);
        assert!(t.verify(&forged, now).is_err());
        assert_eq!(t.verify("nodot", now), Err(TokenError::Malformed));
    }
}
