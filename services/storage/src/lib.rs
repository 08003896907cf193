//! S3 access for every part of Zencast (any S3-compatible endpoint,
//! path-style addressing): the api stores chunks, the render worker reads them
//! and writes what it renders. Neither depends on the other for it.
//!
//! Keys: `{roomId}/{participantId}/{chunkIndex}.webm`, built only from validated
//! ids. Every object carries its SHA-256 as metadata (`x-amz-meta-sha256`) and
//! is sent with a SHA-256 checksum, so the store itself refuses a body that
//! does not match.

mod composite;

pub use composite::{Opened, Range, Span, MANIFEST_TYPE};

use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use base64::Engine;
use zencast_events::{ChunkIndex, ParticipantId, RoomId, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object store: {0}")]
    S3(String),
    #[error("reading the staged chunk: {0}")]
    Io(#[from] std::io::Error),
    #[error("no object `{0}` in the store")]
    Missing(String),
    #[error("a composite file does not match the store: {0}")]
    Corrupt(String),
}

fn s3<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> StorageError {
    let detail = match e.as_service_error() {
        Some(se) if se.code().is_some() => format!(
            "{} {}",
            se.code().unwrap_or("error"),
            se.message().unwrap_or("")
        ),
        // No code to tell (some stores answer with an empty body): the status.
        _ => format!("{e:?}").chars().take(600).collect(),
    };
    StorageError::S3(detail)
}

/// Where and how to reach the object store.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
}

/// What is stored under a key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub size: u64,
    pub sha256: Option<Sha256>,
    pub age: Duration,
}

#[derive(Clone)]
pub struct ChunkStore {
    client: Client,
    bucket: String,
}

/// Whether the endpoint's host is this machine (`localhost` or a loopback
/// address).
fn is_loopback(endpoint: &str) -> bool {
    let authority = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub fn chunk_key(room: RoomId, participant: ParticipantId, index: ChunkIndex) -> String {
    format!("{room}/{participant}/{index}.webm")
}

impl ChunkStore {
    pub fn new(s: &S3Settings) -> Self {
        // Over a wire the SDK sends each body with a CRC32 and, over plain
        // HTTP, signs it 64 KiB at a time (SHA-256). To a store on this
        // machine no byte crosses a wire, and that SHA-256 was 12 % of all
        // CPU while a 5-minute session's files were assembled (perf): both
        // are skipped there. Chunks keep the SHA-256 they are sent with,
        // which the store checks wherever it is.
        let checksums = if is_loopback(&s.endpoint) {
            RequestChecksumCalculation::WhenRequired
        } else {
            RequestChecksumCalculation::WhenSupported
        };
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .request_checksum_calculation(checksums)
            .region(Region::new(s.region.clone()))
            .endpoint_url(&s.endpoint)
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                &s.access_key,
                &s.secret_key,
                None,
                None,
                "zencast",
            ))
            .build();
        Self {
            client: Client::from_conf(config),
            bucket: s.bucket.clone(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the bucket when it does not exist.
    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error().and_then(|se| se.code()) {
                Some("BucketAlreadyOwnedByYou") | Some("BucketAlreadyExists") => Ok(()),
                _ => Err(s3(e)),
            },
        }
    }

    /// Stores the staged file under `key`. With `only_new`, the store refuses
    /// to replace an existing object (`If-None-Match: *`): returns `false` then.
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        sha256: Sha256,
        only_new: bool,
    ) -> Result<bool, StorageError> {
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(size as i64)
            .content_type("video/webm")
            .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(sha256.as_bytes()))
            .metadata("sha256", sha256.to_string())
            .body(
                ByteStream::from_path(path)
                    .await
                    .map_err(|e| StorageError::S3(e.to_string()))?,
            );
        if only_new {
            put = put.if_none_match("*");
        }
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if only_new
                    && e.as_service_error().and_then(|se| se.code())
                        == Some("PreconditionFailed") =>
            {
                Ok(false)
            }
            Err(e) if only_new && e.raw_response().map(|r| r.status().as_u16()) == Some(412) => {
                Ok(false)
            }
            Err(e) => Err(s3(e)),
        }
    }

    /// Stores a file written by the render (it may replace an earlier render's
    /// file: outputs are derived, the events are the record). The body is
    /// streamed from disk.
    pub async fn put_output(
        &self,
        key: &str,
        path: &Path,
        content_type: &str,
    ) -> Result<u64, StorageError> {
        let size = tokio::fs::metadata(path).await?.len();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(size as i64)
            .content_type(content_type)
            .body(
                ByteStream::from_path(path)
                    .await
                    .map_err(|e| StorageError::S3(e.to_string()))?,
            )
            .send()
            .await
            .map_err(s3)?;
        Ok(size)
    }

    /// The object under `key` as a stream, with its length and content type.
    pub async fn get(
        &self,
        key: &str,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, StorageError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(o),
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {
                Err(StorageError::Missing(key.to_string()))
            }
            Err(e) => Err(s3(e)),
        }
    }

    /// What is stored under `key`, if anything.
    pub async fn head(&self, key: &str) -> Result<Option<StoredObject>, StorageError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(h) => {
                let age = h
                    .last_modified()
                    .and_then(|t| SystemTime::try_from(*t).ok())
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .unwrap_or_default();
                Ok(Some(StoredObject {
                    size: h.content_length().unwrap_or(0).max(0) as u64,
                    sha256: h
                        .metadata()
                        .and_then(|m| m.get("sha256"))
                        .and_then(|v| Sha256::parse(v).ok()),
                    age,
                }))
            }
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(None),
            Err(e) => Err(s3(e)),
        }
    }
}

impl ChunkStore {
    /// Deletes every object whose key starts with `prefix`; returns how many.
    /// Lists again after each page, so objects written meanwhile go too.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        let mut deleted = 0;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(s3)?;
            let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
            if keys.is_empty() {
                return Ok(deleted);
            }
            for key in keys {
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(s3)?;
                deleted += 1;
            }
        }
    }

    /// The whole object under `key`, in memory: for chunks, which are bounded
    /// by the api's chunk limit.
    pub async fn bytes(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        let mut out = Vec::new();
        self.append_to(key, &mut out).await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn a_store_on_this_machine_is_told_from_one_over_a_wire() {
        for local in [
            "http://127.0.0.1:9000",
            "http://localhost:9000/",
            "https://key:secret@127.0.0.2",
            "http://[::1]:9000/bucket",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in [
            "https://s3.eu-west-1.amazonaws.com",
            "http://10.0.0.5:9000",
            "http://[2001:db8::1]:9000",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
        ] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }
}
