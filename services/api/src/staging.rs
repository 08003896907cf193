//! Receiving a chunk body: streamed to a local staging file while it is hashed
//! and counted, so memory does not grow with the chunk and nothing reaches the
//! object store until the whole body has arrived.

use std::path::{Path, PathBuf};

use axum::body::Body;
use futures::StreamExt;
use sha2::Digest;
use tokio::io::AsyncWriteExt;
use zencast_events::Sha256;

/// A received chunk on local disk; the file is removed when this is dropped.
pub struct Staged {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: Sha256,
    /// The bytes begin with the EBML magic: the first chunk of a recorder (a
    /// segment of its own on the timeline).
    pub starts_with_header: bool,
}

/// The four bytes every WebM (EBML) file starts with.
pub const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the chunk is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error("cannot stage the chunk: {0}")]
    Disk(#[from] std::io::Error),
    #[error("no part of the chunk arrived for {0:?}: send it again")]
    Stalled(std::time::Duration),
}

/// Removes a half-written file if staging fails part-way.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Streams `body` to a staging file under `dir`: at most `max` bytes, and a
/// body that sends nothing for `idle` is given up (a stalled or hostile client
/// does not hold a connection and a staging file for ever).
pub async fn stage(
    dir: &Path,
    body: Body,
    max: u64,
    idle: std::time::Duration,
) -> Result<Staged, StageError> {
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(format!("{}.part", uuid::Uuid::new_v4()));
    let mut partial = Partial(Some(path.clone()));
    let mut file = tokio::fs::File::create(&path).await?;
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    let mut head = Vec::with_capacity(EBML_MAGIC.len());
    let mut stream = body.into_data_stream();
    loop {
        let next = tokio::time::timeout(idle, stream.next())
            .await
            .map_err(|_| StageError::Stalled(idle))?;
        let Some(piece) = next else { break };
        let piece = piece.map_err(|e| StageError::Interrupted(e.to_string()))?;
        size += piece.len() as u64;
        if size > max {
            return Err(StageError::TooLarge(max));
        }
        hasher.update(&piece);
        let wanted = EBML_MAGIC.len().saturating_sub(head.len()).min(piece.len());
        head.extend_from_slice(&piece[..wanted]);
        file.write_all(&piece).await?;
    }
    file.sync_all().await?;
    drop(file);
    partial.0 = None;
    Ok(Staged {
        path,
        size,
        sha256: Sha256::from_bytes(hasher.finalize().into()),
        starts_with_header: head == EBML_MAGIC,
    })
}
