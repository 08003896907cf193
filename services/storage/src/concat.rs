//! One object stored from the concatenation of byte ranges (a header in
//! memory, ranges of files on disk), without writing the joined file first:
//! a render's WAV tracks are a header plus every window's PCM.
//!
//! It goes up as one PUT whose body is read from the ranges as it is sent
//! (a task reads ahead while the connection sends). One PUT, not a multipart
//! upload: the embedded store (s3s-fs) completes a multipart upload by
//! reading, hashing and writing every part once more, and a WAV (at most
//! 4 GiB, its header's limit) fits S3's 5 GiB for one PUT.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{s3, ChunkStore, StorageError};

/// S3's largest object stored with one PUT.
const ONE_PUT: u64 = 5 << 30;
/// Bytes read from a file at a time.
const READ: usize = 1 << 20;

/// A range of the object's bytes.
#[derive(Debug, Clone)]
pub enum Piece {
    Bytes(Vec<u8>),
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::File { len, .. } => *len,
        }
    }
}

type Sent = mpsc::Sender<std::io::Result<Bytes>>;

/// Sends the bytes of `pieces`, in order, into `to`.
async fn read_into(pieces: &[Piece], to: &mut Sent) -> std::io::Result<()> {
    // A send fails only when the request dropped the body: nothing to do then.
    for piece in pieces {
        match piece {
            Piece::Bytes(bytes) => {
                if to.send(Ok(Bytes::copy_from_slice(bytes))).await.is_err() {
                    return Ok(());
                }
            }
            Piece::File { path, offset, len } => {
                let mut file = tokio::fs::File::open(path).await?;
                file.seek(SeekFrom::Start(*offset)).await?;
                let mut left = *len;
                while left > 0 {
                    let mut buf = vec![0; left.min(READ as u64) as usize];
                    file.read_exact(&mut buf).await?;
                    left -= buf.len() as u64;
                    if to.send(Ok(buf.into())).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
    Ok(())
}

/// A body that reads `pieces` while it is sent; made again for a retry.
fn body(pieces: Arc<[Piece]>) -> SdkBody {
    let (mut tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        if let Err(e) = read_into(&pieces, &mut tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    let frames = rx.map_ok(http_body::Frame::data);
    SdkBody::from_body_1_x(http_body_util::StreamBody::new(frames))
}

impl ChunkStore {
    /// Stores the concatenation of `pieces` under `key`; returns its size.
    pub async fn put_concat(
        &self,
        key: &str,
        content_type: &str,
        pieces: &[Piece],
    ) -> Result<u64, StorageError> {
        let total: u64 = pieces.iter().map(Piece::len).sum();
        if total > ONE_PUT {
            return Err(StorageError::S3(format!(
                "{key}: {total} bytes are more than one PUT stores ({ONE_PUT})"
            )));
        }
        let pieces: Arc<[Piece]> = pieces.into();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(total as i64)
            .body(ByteStream::new(SdkBody::retryable(move || {
                body(pieces.clone())
            })))
            .send()
            .await
            .map_err(s3)?;
        Ok(total)
    }
}
