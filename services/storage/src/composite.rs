//! A file stored as byte ranges of objects already in the store.
//!
//! A render's files are the windows it rendered during the session, joined.
//! Writing them out again after the last chunk copied every byte of the
//! session once more (and the embedded store hashes every byte it takes), a
//! wait that grew with the session. Instead the file's own bytes (an MP4's
//! index, a WAV's header) go in one small object beside it (`{key}.{digest}.bytes`),
//! and the object under the file's key is a manifest: the file's type, its
//! size and the ranges it is made of, in order. [`ChunkStore::open`] reads
//! either kind, so a download cannot tell them apart.

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::io::AsyncWriteExt;

use crate::{s3, ChunkStore, StorageError};

/// The content type of a manifest.
pub const MANIFEST_TYPE: &str = "application/vnd.zencast.composite+json";

/// `len` bytes of the object `key`, from `offset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub key: String,
    pub offset: u64,
    pub len: u64,
}

/// A part of a composite file.
#[derive(Debug, Clone, PartialEq)]
pub enum Span {
    /// Bytes of the file's own.
    Bytes(Vec<u8>),
    /// Bytes of an object already stored.
    Stored(Range),
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    content_type: String,
    size: u64,
    ranges: Vec<Range>,
}

/// A stored file, opened for reading.
pub struct Opened {
    pub content_type: String,
    pub size: u64,
    pub body: BoxStream<'static, Result<Bytes, StorageError>>,
}

/// The manifest's ranges for `spans` and the file's own bytes, whose ranges
/// carry the key [`OWN`] until the bytes are named; ranges that follow on in
/// one object are one.
fn ranges(spans: Vec<Span>) -> (Vec<Range>, Vec<u8>) {
    let mut own = Vec::new();
    let mut ranges: Vec<Range> = Vec::new();
    for span in spans {
        let range = match span {
            Span::Bytes(bytes) => {
                let r = Range {
                    key: OWN.to_string(),
                    offset: own.len() as u64,
                    len: bytes.len() as u64,
                };
                own.extend(bytes);
                r
            }
            Span::Stored(r) => r,
        };
        if range.len == 0 {
            continue;
        }
        match ranges.last_mut() {
            Some(last) if last.key == range.key && last.offset + last.len == range.offset => {
                last.len += range.len
            }
            _ => ranges.push(range),
        }
    }
    (ranges, own)
}

/// The key of the file's own bytes before they are named (no object has it).
const OWN: &str = "";

/// The first 8 bytes of `digest`, in hex.
fn hex16(digest: &[u8]) -> String {
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn stream(body: ByteStream) -> impl Stream<Item = Result<Bytes, StorageError>> {
    tokio_util::io::ReaderStream::new(body.into_async_read()).map_err(StorageError::from)
}

impl ChunkStore {
    /// Stores the file made of `spans` under `key`; returns its size.
    pub async fn put_composite(
        &self,
        key: &str,
        content_type: &str,
        spans: Vec<Span>,
    ) -> Result<u64, StorageError> {
        // Named by their content: a download still reading an earlier
        // render's manifest keeps reading that render's bytes.
        let (mut ranges, own) = ranges(spans);
        let own_key = format!("{key}.{}.bytes", hex16(&sha2::Sha256::digest(&own)));
        for r in ranges.iter_mut().filter(|r| r.key == OWN) {
            r.key.clone_from(&own_key);
        }
        let size = ranges.iter().map(|r| r.len).sum();
        self.put_bytes(&own_key, "application/octet-stream", own)
            .await?;
        let manifest = Manifest {
            content_type: content_type.to_string(),
            size,
            ranges,
        };
        let json = serde_json::to_vec(&manifest).expect("a manifest serialises");
        self.put_bytes(key, MANIFEST_TYPE, json).await?;
        Ok(size)
    }

    async fn put_bytes(
        &self,
        key: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(s3)?;
        Ok(())
    }

    /// The file under `key`: an object as it is stored, or a composite's
    /// ranges read one after another as the body is read.
    pub async fn open(&self, key: &str) -> Result<Opened, StorageError> {
        let object = self.get(key).await?;
        let content_type = object
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        if content_type != MANIFEST_TYPE {
            return Ok(Opened {
                content_type,
                size: object.content_length().unwrap_or(0).max(0) as u64,
                body: stream(object.body).boxed(),
            });
        }
        let json = object
            .body
            .collect()
            .await
            .map_err(|e| StorageError::S3(format!("{key}: {e}")))?
            .into_bytes();
        let manifest: Manifest = serde_json::from_slice(&json)
            .map_err(|e| StorageError::Corrupt(format!("{key}: {e}")))?;
        let store = self.clone();
        let body = futures::stream::iter(manifest.ranges)
            .then(move |range| {
                let store = store.clone();
                async move { store.range(range).await }
            })
            .try_flatten()
            .boxed();
        Ok(Opened {
            content_type: manifest.content_type,
            size: manifest.size,
            body,
        })
    }

    async fn range(
        &self,
        r: Range,
    ) -> Result<BoxStream<'static, Result<Bytes, StorageError>>, StorageError> {
        if r.len == 0 {
            return Ok(futures::stream::empty().boxed());
        }
        let last = r.offset + r.len - 1;
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&r.key)
            .range(format!("bytes={}-{last}", r.offset))
            .send()
            .await
            .map_err(|e| match e.raw_response().map(|r| r.status().as_u16()) {
                Some(404) => StorageError::Missing(r.key.clone()),
                _ => s3(e),
            })?;
        // A store answers a range past the object's end with what it has.
        if object.content_length() != Some(r.len as i64) {
            return Err(StorageError::Corrupt(format!(
                "{}: {} bytes from {} are not all stored",
                r.key, r.len, r.offset
            )));
        }
        Ok(stream(object.body).boxed())
    }

    /// The bytes of `range`, in memory (for small ranges: an index, a header).
    pub async fn read_range(&self, range: Range) -> Result<Vec<u8>, StorageError> {
        let mut body = self.range(range).await?;
        let mut out = Vec::new();
        while let Some(bytes) = body.try_next().await? {
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    /// Streams the file under `key` into `out`, appending; returns its size.
    /// Never holds the whole file in memory.
    pub async fn append_to<W>(&self, key: &str, out: &mut W) -> Result<u64, StorageError>
    where
        W: tokio::io::AsyncWrite + Unpin,
    {
        let mut body = self.open(key).await?.body;
        let mut size = 0;
        while let Some(bytes) = body.try_next().await? {
            out.write_all(&bytes).await?;
            size += bytes.len() as u64;
        }
        out.flush().await?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(key: &str, offset: u64, len: u64) -> Span {
        Span::Stored(Range {
            key: key.into(),
            offset,
            len,
        })
    }

    #[test]
    fn own_bytes_go_to_one_object_and_ranges_that_follow_on_are_one() {
        let spans = vec![
            Span::Bytes(b"head".to_vec()),
            stored("w0", 8, 100),
            stored("w0", 108, 20),
            stored("w1", 0, 0),
            stored("w1", 0, 5),
            Span::Bytes(b"tail".to_vec()),
        ];
        let (ranges, own) = ranges(spans);
        assert_eq!(own, b"headtail");
        let got: Vec<(&str, u64, u64)> = ranges
            .iter()
            .map(|r| (r.key.as_str(), r.offset, r.len))
            .collect();
        assert_eq!(
            got,
            [(OWN, 0, 4), ("w0", 8, 120), ("w1", 0, 5), (OWN, 4, 4)]
        );
    }
}
