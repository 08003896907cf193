//! One object stored from the concatenation of byte ranges (a header in
//! memory, ranges of files on disk), without writing the joined file first:
//! a render's WAV tracks are a header plus every window's PCM.
//!
//! Large objects go up as a multipart upload whose parts are read straight
//! from the ranges, two parts in flight (one read while the other is sent).
//! Parts are 16 MiB: above S3's 5 MiB minimum, and 10,000 of them (S3's
//! maximum count) reach 160 GiB.

use std::path::PathBuf;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{s3, ChunkStore, StorageError};

/// Bytes per part of a multipart upload.
pub const PART: u64 = 16 << 20;

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

/// Bytes `[from, to)` of the concatenation of `pieces`.
async fn read_range(pieces: &[Piece], from: u64, to: u64) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::with_capacity((to - from) as usize);
    let mut at = 0u64;
    for piece in pieces {
        let (start, end) = (at, at + piece.len());
        at = end;
        if end <= from || start >= to {
            continue;
        }
        let (a, b) = (from.max(start) - start, to.min(end) - start);
        match piece {
            Piece::Bytes(bytes) => out.extend_from_slice(&bytes[a as usize..b as usize]),
            Piece::File { path, offset, .. } => {
                let mut file = tokio::fs::File::open(path).await?;
                file.seek(std::io::SeekFrom::Start(offset + a)).await?;
                let mut buf = vec![0; (b - a) as usize];
                file.read_exact(&mut buf).await?;
                out.extend_from_slice(&buf);
            }
        }
    }
    Ok(out)
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
        if total <= PART {
            let body = read_range(pieces, 0, total).await?;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(s3)?;
            return Ok(total);
        }
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            // Each part carries the CRC32 the SDK computes for it.
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(s3)?;
        let id = upload
            .upload_id()
            .ok_or_else(|| StorageError::S3("no upload id for a multipart upload".into()))?
            .to_string();
        match self.upload_parts(key, &id, pieces, total).await {
            Ok(parts) => {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(s3)?;
                Ok(total)
            }
            Err(e) => {
                // The store would otherwise keep the parts until a lifecycle
                // rule removes them.
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&id)
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        key: &str,
        id: &str,
        pieces: &[Piece],
        total: u64,
    ) -> Result<Vec<CompletedPart>, StorageError> {
        let count = total.div_ceil(PART);
        futures::stream::iter(0..count)
            .map(|i| async move {
                let body = read_range(pieces, i * PART, ((i + 1) * PART).min(total)).await?;
                let number = i as i32 + 1;
                let sent = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(id)
                    .part_number(number)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(s3)?;
                Ok::<_, StorageError>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(sent.e_tag().map(str::to_string))
                        .set_checksum_crc32(sent.checksum_crc32().map(str::to_string))
                        .build(),
                )
            })
            .buffered(2)
            .try_collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_range_spans_memory_and_files_in_order() {
        let dir = std::env::temp_dir().join(format!("zencast-concat-{}", std::process::id()));
        tokio::fs::create_dir_all(&dir).await.unwrap();
        let file = dir.join("f");
        tokio::fs::write(&file, b"0123456789").await.unwrap();
        let pieces = [
            Piece::Bytes(b"ab".to_vec()),
            Piece::File {
                path: file.clone(),
                offset: 3,
                len: 4,
            },
            Piece::Bytes(b"xyz".to_vec()),
        ];
        assert_eq!(read_range(&pieces, 0, 9).await.unwrap(), b"ab3456xyz");
        assert_eq!(read_range(&pieces, 1, 7).await.unwrap(), b"b3456x");
        assert_eq!(read_range(&pieces, 3, 4).await.unwrap(), b"4");
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }
}
