//! Validated identifiers. Parsing happens once, at the edge (HTTP path, CLI flag,
//! JSON body); past that point a bad id cannot exist, so it can never become part
//! of an object key, a NATS subject or a Redis key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("`{0}` is not a valid {1} (expected a UUID)")]
    NotAUuid(String, &'static str),
    #[error("`{0}` is not a valid chunk index (expected an integer from 0 to {max})", max = ChunkIndex::MAX)]
    BadChunkIndex(String),
    #[error("`{0}` is not a SHA-256 (expected 64 lower-case hex digits)")]
    BadSha256(String),
}

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A ", $what, " id: always a UUID, printed in its canonical hyphenated lower-case form.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id (the server makes them; the web client only reads them).
            #[cfg(feature = "domain")]
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
            pub fn parse(s: &str) -> Result<Self, IdError> {
                // Only the canonical hyphenated form: `Uuid::parse_str` also takes
                // braces and `urn:uuid:` prefixes, which have no place in a key.
                if s.len() != 36 {
                    return Err(IdError::NotAUuid(s.to_string(), $what));
                }
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| IdError::NotAUuid(s.to_string(), $what))
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        #[cfg(feature = "domain")]
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(RoomId, "room");
uuid_id!(ParticipantId, "participant");
uuid_id!(HostId, "host account");

/// The position of a chunk in one participant's recording, counting from 0 across
/// segments. Bounded so that a hostile index cannot make a huge key or a huge
/// allocation: 100 000 chunks of 10 s are over 11 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct ChunkIndex(u32);

impl ChunkIndex {
    pub const MAX: u32 = 100_000;

    pub fn new(i: u32) -> Result<Self, IdError> {
        if i <= Self::MAX {
            Ok(Self(i))
        } else {
            Err(IdError::BadChunkIndex(i.to_string()))
        }
    }
    pub fn parse(s: &str) -> Result<Self, IdError> {
        // Digits only: no sign, no spaces, no leading `+`, at most 6 digits.
        if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::BadChunkIndex(s.to_string()));
        }
        let n: u32 = s
            .parse()
            .map_err(|_| IdError::BadChunkIndex(s.to_string()))?;
        Self::new(n)
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for ChunkIndex {
    type Error = IdError;
    fn try_from(v: u32) -> Result<Self, IdError> {
        Self::new(v)
    }
}

impl From<ChunkIndex> for u32 {
    fn from(c: ChunkIndex) -> u32 {
        c.0
    }
}

impl fmt::Display for ChunkIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A SHA-256 digest, written as 64 lower-case hex digits. Kept as bytes: the
/// aggregate holds one per stored chunk and copies them often.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256([u8; 32]);

impl Sha256 {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::BadSha256(s.chars().take(80).collect());
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let digit = |b: u8| match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                _ => None,
            };
            out[i] = (digit(pair[0]).ok_or_else(bad)? << 4) | digit(pair[1]).ok_or_else(bad)?;
        }
        Ok(Self(out))
    }
}

impl TryFrom<String> for Sha256 {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<Sha256> for String {
    fn from(h: Sha256) -> String {
        h.to_string()
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// OpenAPI schemas: each id is the JSON string or number it serializes to.
#[cfg(feature = "openapi")]
mod schemas {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::{PartialSchema, ToSchema};

    fn string(format: Option<SchemaFormat>, description: &str) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(format)
            .description(Some(description))
            .into()
    }

    macro_rules! schema {
        ($t:ty, $body:expr) => {
            impl PartialSchema for $t {
                fn schema() -> RefOr<Schema> {
                    $body
                }
            }
            impl ToSchema for $t {}
        };
    }

    schema!(
        super::RoomId,
        string(
            Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)),
            "A room id"
        )
    );
    schema!(
        super::ParticipantId,
        string(
            Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)),
            "A participant id"
        )
    );
    schema!(
        super::HostId,
        string(
            Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)),
            "A host account id"
        )
    );
    schema!(super::Sha256, string(None, "64 lower-case hex digits"));
    schema!(
        super::ChunkIndex,
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(super::ChunkIndex::MAX))
            .into()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_accept_only_canonical_uuids() {
        let id = RoomId::new();
        assert_eq!(RoomId::parse(&id.to_string()), Ok(id));
        for bad in [
            "",
            "..",
            "../etc",
            "a/b",
            "%2e%2e",
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
            "67e5504410b1426f9247bb680e5fe0c8",
            "67e55044-10b1-426f-9247-bb680e5fe0c8.x",
        ] {
            assert!(RoomId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn chunk_indexes_are_bounded_digits() {
        assert_eq!(ChunkIndex::parse("0").unwrap().get(), 0);
        assert_eq!(ChunkIndex::parse("100000").unwrap().get(), 100_000);
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1.0",
            "100001",
            "99999999999",
            "1e3",
            "0x10",
        ] {
            assert!(ChunkIndex::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(serde_json::from_str::<ChunkIndex>("100001").is_err());
    }

    #[test]
    fn sha256_round_trips_as_lower_case_hex_only() {
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(Sha256::parse(hex).unwrap().to_string(), hex);
        for bad in [
            "",
            "abc",
            &hex.to_uppercase(),
            &format!("{}g", &hex[..63]),
            &format!("{hex}0"),
        ] {
            assert!(Sha256::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(serde_json::from_str::<Sha256>("\"xyz\"").is_err());
    }
}
