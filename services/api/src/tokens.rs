//! Signed, expiring tokens that say room, participant and role.
//!
//! Form: `base64url(claims JSON) "." base64url(HMAC-SHA256(secret, first part))`.
//! HMAC comes from the RustCrypto `hmac` crate and is verified in constant time.
//!
//! Keys rotate without logging anyone out: tokens are signed with the current
//! secret and name its key id (`kid`); the secrets before it
//! (`ZENCAST_PREVIOUS_SECRETS`) still verify the tokens they signed until those
//! expire (two weeks; invites a week; sign-ins 30 days), then can be dropped.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zencast_events::{HostId, ParticipantId, Role, RoomId};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub room: RoomId,
    /// `None` in an invite: whoever holds it may join once as a new guest.
    pub participant: Option<ParticipantId>,
    pub role: Role,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// An invite's generation: the room refuses it once the host replaced or
    /// revoked it (tokens without one are the room's first link, 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u32,
    /// The id of the key that signed it (absent in tokens from before keys
    /// had ids: any key is tried for those).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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
    /// The current key first (it signs), then the previous ones (they only verify).
    keys: Vec<Key>,
    lifetime: Duration,
}

#[derive(Clone)]
struct Key {
    /// Derived from the secret, so an operator configures secrets only.
    id: String,
    secret: Vec<u8>,
}

impl Key {
    fn new(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"zencast token key id");
        let id = B64.encode(&mac.finalize().into_bytes()[..6]);
        Self {
            id,
            secret: secret.to_vec(),
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length")
    }
}

/// How long a participant's token works: long enough to come back days
/// after a closed tab and upload what the browser kept (late uploads).
/// Removing the participant ends it at once.
pub const PARTICIPANT_TOKEN_DAYS: i64 = 14;

/// How long an invite link stays valid.
pub const INVITE_LIFETIME_DAYS: i64 = 7;

/// How long a download link works. Short, since a link gets copied and
/// forwarded; it is checked when the download starts, so a long download
/// finishes. The room view hands out fresh links on every read.
pub const DOWNLOAD_LIFETIME_MINUTES: i64 = 15;

/// How long a host stays signed in.
pub const HOST_SESSION_DAYS: i64 = 30;

/// How long the first-run link printed at start works.
pub const SETUP_LIFETIME_HOURS: i64 = 24;

/// A download link's query: `?expires={unix seconds}&signature={base64url}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DownloadSignature {
    /// Text, parsed when checked, so a bad value is a 401 like a bad signature.
    pub expires: Option<String>,
    pub signature: Option<String>,
}

impl Tokens {
    pub fn new(secret: &[u8], lifetime: Duration) -> Self {
        Self {
            keys: vec![Key::new(secret)],
            lifetime,
        }
    }

    /// Also accepts what `previous` secrets signed (a rotation in progress).
    pub fn with_previous(mut self, previous: &[Vec<u8>]) -> Self {
        self.keys.extend(previous.iter().map(|s| Key::new(s)));
        self
    }

    fn current(&self) -> &Key {
        &self.keys[0]
    }

    /// A participant's token: who it is, in which room, with which role.
    pub fn issue(
        &self,
        room: RoomId,
        participant: ParticipantId,
        role: Role,
        now: DateTime<Utc>,
    ) -> String {
        self.sign(Claims {
            room,
            participant: Some(participant),
            role,
            exp: (now + self.lifetime).timestamp(),
            generation: 0,
            kid: None,
        })
    }

    /// A guest invite for the room, of the room's current invite generation.
    pub fn invite(&self, room: RoomId, generation: u32, now: DateTime<Utc>) -> String {
        self.sign(Claims {
            room,
            participant: None,
            role: Role::Guest,
            exp: (now + Duration::days(INVITE_LIFETIME_DAYS)).timestamp(),
            generation,
            kid: None,
        })
    }

    /// A link to one file of one room that works for a few minutes, instead of
    /// a participant's long-lived token in a URL (which browsers keep in
    /// history and servers in their access logs).
    pub fn download_link(&self, room: RoomId, name: &str, now: DateTime<Utc>) -> String {
        let expires = (now + Duration::minutes(DOWNLOAD_LIFETIME_MINUTES)).timestamp();
        let signature = B64.encode(
            Self::download_mac(self.current(), room, name, expires)
                .finalize()
                .into_bytes(),
        );
        format!("/api/recordings/{room}/files/{name}?expires={expires}&signature={signature}")
    }

    /// Checks a download link's signature for exactly this room and file.
    pub fn verify_download(
        &self,
        room: RoomId,
        name: &str,
        link: &DownloadSignature,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        let (Some(expires), Some(signature)) = (&link.expires, &link.signature) else {
            return Err(TokenError::Malformed);
        };
        let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        let signature = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
        // Links live minutes and name no key: any key that signed one counts.
        let signed = self.keys.iter().any(|key| {
            Self::download_mac(key, room, name, expires)
                .verify_slice(&signature)
                .is_ok()
        });
        if !signed {
            return Err(TokenError::BadSignature);
        }
        if expires <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(())
    }

    /// The MAC over a download's room, file and expiry. Its input starts with
    /// `download` and holds newlines, which a token's base64 body never does,
    /// so a download signature can never pass as a token or the reverse.
    fn download_mac(key: &Key, room: RoomId, name: &str, expires: i64) -> HmacSha256 {
        let mut mac = key.mac();
        mac.update(format!("download\n{room}\n{name}\n{expires}").as_bytes());
        mac
    }

    /// A host's sign-in (the cookie): `{host}.{issued ms}.{expires}.{signature}`.
    /// `issued` lets a sign-out end every sign-in made before it.
    pub fn host_session(&self, host: HostId, now: DateTime<Utc>) -> String {
        let fields = format!(
            "{host}.{}.{}",
            now.timestamp_millis(),
            (now + Duration::days(HOST_SESSION_DAYS)).timestamp()
        );
        format!(
            "{fields}.{}",
            self.purpose_signature("host-session", &fields)
        )
    }

    /// The host and the time of a sign-in the api issued and that has not expired.
    pub fn verify_host_session(
        &self,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<(HostId, DateTime<Utc>), TokenError> {
        let (fields, signature) = value.rsplit_once('.').ok_or(TokenError::Malformed)?;
        self.verify_purpose("host-session", fields, signature)?;
        let mut parts = fields.split('.');
        let (Some(host), Some(issued), Some(expires), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let host = HostId::parse(host).map_err(|_| TokenError::Malformed)?;
        let issued = issued
            .parse()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or(TokenError::Malformed)?;
        let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if expires <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok((host, issued))
    }

    /// The first-run link's token: `{expires}.{signature}`. It creates an
    /// account only while none exists (the api checks that).
    pub fn setup_token(&self, now: DateTime<Utc>) -> String {
        let expires = (now + Duration::hours(SETUP_LIFETIME_HOURS))
            .timestamp()
            .to_string();
        format!("{expires}.{}", self.purpose_signature("setup", &expires))
    }

    pub fn verify_setup_token(&self, token: &str, now: DateTime<Utc>) -> Result<(), TokenError> {
        let (expires, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        self.verify_purpose("setup", expires, signature)?;
        let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if expires <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(())
    }

    /// A MAC over `purpose`, a newline and `fields`: as with download links, no
    /// such input is a token's base64 body, so no signature passes for another
    /// purpose's.
    fn purpose_signature(&self, purpose: &str, fields: &str) -> String {
        let mut mac = self.current().mac();
        mac.update(format!("{purpose}\n{fields}").as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    fn verify_purpose(
        &self,
        purpose: &str,
        fields: &str,
        signature: &str,
    ) -> Result<(), TokenError> {
        let signature = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
        let signed = self.keys.iter().any(|key| {
            let mut mac = key.mac();
            mac.update(format!("{purpose}\n{fields}").as_bytes());
            mac.verify_slice(&signature).is_ok()
        });
        if signed {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }

    fn sign(&self, mut claims: Claims) -> String {
        let key = self.current();
        claims.kid = Some(key.id.clone());
        let body = B64.encode(serde_json::to_vec(&claims).expect("claims serialize"));
        let mut mac = key.mac();
        mac.update(body.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{body}.{sig}")
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let (body, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
        // Read before it is verified only to pick the key; nothing else of it
        // is used until the signature holds.
        let claims: Claims =
            serde_json::from_slice(&B64.decode(body).map_err(|_| TokenError::Malformed)?)
                .map_err(|_| TokenError::Malformed)?;
        let signed = self
            .keys
            .iter()
            .filter(|key| claims.kid.as_ref().is_none_or(|kid| *kid == key.id))
            .any(|key| {
                let mut mac = key.mac();
                mac.update(body.as_bytes());
                mac.verify_slice(&sig).is_ok()
            });
        if !signed {
            return Err(TokenError::BadSignature);
        }
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
    fn host_sessions_and_setup_tokens_verify_and_refuse_tampering_expiry_and_other_purposes() {
        let t = Tokens::new(b"secret", Duration::hours(1));
        let now = Utc::now();
        let host = HostId::from(uuid::Uuid::new_v4());
        let session = t.host_session(host, now);
        let (who, issued) = t.verify_host_session(&session, now).unwrap();
        assert_eq!(
            (who, issued.timestamp_millis()),
            (host, now.timestamp_millis())
        );
        let later = now + Duration::days(HOST_SESSION_DAYS + 1);
        assert_eq!(
            t.verify_host_session(&session, later),
            Err(TokenError::Expired)
        );
        let other = HostId::from(uuid::Uuid::new_v4());
        let forged = session.replacen(&host.to_string(), &other.to_string(), 1);
        assert_eq!(
            t.verify_host_session(&forged, now),
            Err(TokenError::BadSignature)
        );
        let setup = t.setup_token(now);
        assert!(t.verify_setup_token(&setup, now).is_ok());
        // A setup signature is not a session signature, nor the reverse.
        assert!(t.verify_host_session(&setup, now).is_err());
        assert!(t.verify_setup_token(&session, now).is_err());
        let other_key = Tokens::new(b"other", Duration::hours(1));
        assert_eq!(
            other_key.verify_setup_token(&setup, now),
            Err(TokenError::BadSignature)
        );
    }

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
        let invite = t.verify(&t.invite(room, 3, now), now).unwrap();
        assert_eq!(
            (
                invite.room,
                invite.participant,
                invite.role,
                invite.generation
            ),
            (room, None, Role::Guest, 3)
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

    #[test]
    fn a_rotated_key_still_verifies_what_it_signed_and_nothing_is_signed_with_it() {
        let now = Utc::now();
        let (old, new) = (b"old-secret".to_vec(), b"new-secret".to_vec());
        let before = Tokens::new(&old, Duration::hours(1));
        let rotated = Tokens::new(&new, Duration::hours(1)).with_previous(&[old.clone()]);
        let dropped = Tokens::new(&new, Duration::hours(1));
        let room = RoomId::new();
        let token = before.issue(room, ParticipantId::new(), Role::Guest, now);
        let link = query(&before.download_link(room, "final.mp4", now));
        assert!(rotated.verify(&token, now).is_ok());
        assert_eq!(
            rotated.verify_download(room, "final.mp4", &link, now),
            Ok(())
        );
        assert_eq!(dropped.verify(&token, now), Err(TokenError::BadSignature));
        assert_eq!(
            dropped.verify_download(room, "final.mp4", &link, now),
            Err(TokenError::BadSignature)
        );
        // New tokens are signed with the new key, which the old server lacks.
        let fresh = rotated.issue(room, ParticipantId::new(), Role::Guest, now);
        let claims = rotated.verify(&fresh, now).unwrap();
        assert_eq!(claims.kid, Some(Key::new(&new).id));
        assert_eq!(before.verify(&fresh, now), Err(TokenError::BadSignature));
        // A token naming a key id is checked with that key only.
        assert_ne!(Key::new(&old).id, Key::new(&new).id);
    }

    fn query(link: &str) -> DownloadSignature {
        let (_, q) = link.split_once('?').unwrap();
        let get = |k: &str| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .map(str::to_string)
        };
        DownloadSignature {
            expires: get("expires"),
            signature: get("signature"),
        }
    }

    #[test]
    fn download_links_work_for_their_file_only_and_expire() {
        let t = Tokens::new(b"secret", Duration::hours(1));
        let now = Utc::now();
        let room = RoomId::new();
        let link = t.download_link(room, "final.mp4", now);
        assert!(link.starts_with(&format!("/api/recordings/{room}/files/final.mp4?expires=")));
        let sig = query(&link);
        assert_eq!(t.verify_download(room, "final.mp4", &sig, now), Ok(()));
        assert_eq!(
            t.verify_download(room, "tracks/x.wav", &sig, now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            t.verify_download(RoomId::new(), "final.mp4", &sig, now),
            Err(TokenError::BadSignature)
        );
        let later = now + Duration::minutes(DOWNLOAD_LIFETIME_MINUTES) + Duration::seconds(1);
        assert_eq!(
            t.verify_download(room, "final.mp4", &sig, later),
            Err(TokenError::Expired)
        );
        let stretched = DownloadSignature {
            expires: sig
                .expires
                .as_ref()
                .map(|e| (e.parse::<i64>().unwrap() + 86_400).to_string()),
            ..sig.clone()
        };
        assert_eq!(
            t.verify_download(room, "final.mp4", &stretched, now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            t.verify_download(room, "final.mp4", &DownloadSignature::default(), now),
            Err(TokenError::Malformed)
        );
    }
}
