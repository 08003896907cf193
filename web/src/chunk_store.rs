//! The recording on this device until the server has it, in IndexedDB.
//!
//! - `slices`: what the recorder delivers every half second, keyed
//!   `{room}/{participant}/{index:08}/{slice:05}`, kept as it arrives, so a
//!   reload, a crash or a closed tab loses about the last half second.
//! - `chunks`: a chunk's slices joined into one blob once it is whole (the
//!   room's chunk length, or the recorder stopped, or its page is gone),
//!   keyed `{room}/{participant}/{index:08}`; the upload queue sends these
//!   and deletes each only once the server confirmed it.
//!
//! Keys sort as the recording runs, so a key range lists one participant's
//! chunks (or one chunk's slices) in order.

use js_sys::{Object, Reflect};
use rexie::{KeyRange, ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;
use zencast_events::{ParticipantId, RoomId};

const DATABASE: &str = "zencast";
/// Version 2 added `slices` (version 1 had `chunks` alone, which stays).
const VERSION: u32 = 2;
const STORE: &str = "chunks";
const SLICES: &str = "slices";

#[derive(Debug, Clone)]
pub struct PendingChunk {
    pub index: u32,
    /// When the recorder that made it started, in server time (ms since the epoch).
    pub recording_start_ms: f64,
    /// Where its recorder's media time zero lies, in server time, as far as
    /// its slices told (absent when the browser gives no timecodes).
    pub media_zero_ms: Option<f64>,
    pub blob: Blob,
}

/// What went wrong with IndexedDB (private browsing, a full disk, …).
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<rexie::Error> for StoreError {
    fn from(e: rexie::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<JsValue> for StoreError {
    fn from(e: JsValue) -> Self {
        StoreError(format!("{e:?}"))
    }
}

fn key(room: RoomId, participant: ParticipantId, index: u32) -> JsValue {
    format!("{room}/{participant}/{index:08}").into()
}

async fn open() -> Result<Rexie, StoreError> {
    Ok(Rexie::builder(DATABASE)
        .version(VERSION)
        .add_object_store(ObjectStore::new(STORE))
        .add_object_store(ObjectStore::new(SLICES))
        .build()
        .await?)
}

/// Runs `work` on `stores` in one transaction and waits for its commit.
async fn write(
    stores: &[&str],
    work: impl AsyncFnOnce(&rexie::Transaction) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let db = open().await?;
    let tx = db.transaction(stores, TransactionMode::ReadWrite)?;
    work(&tx).await?;
    let done = tx.done().await?;
    db.close();
    if done.is_committed() {
        Ok(())
    } else {
        Err(StoreError("the IndexedDB transaction was aborted".into()))
    }
}

pub async fn remove(
    room: RoomId,
    participant: ParticipantId,
    index: u32,
) -> Result<(), StoreError> {
    let at = key(room, participant, index);
    write(&[STORE], async |tx| Ok(tx.store(STORE)?.delete(at).await?)).await
}

/// What `work` reads from `store`, in one read-only transaction.
async fn read<T>(
    store: &str,
    work: impl AsyncFnOnce(&rexie::Store) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let db = open().await?;
    let tx = db.transaction(&[store], TransactionMode::ReadOnly)?;
    let read = work(&tx.store(store)?).await;
    db.close();
    read
}

/// This participant's waiting chunks, in index order.
pub async fn pending(
    room: RoomId,
    participant: ParticipantId,
) -> Result<Vec<PendingChunk>, StoreError> {
    let mine = under(&format!("{room}/{participant}/"))?;
    let all = read(STORE, async |store| {
        Ok(store.get_all(Some(mine), None).await?)
    })
    .await?;
    let mut out = vec![];
    for record in all {
        let field = |name: &str| Reflect::get(&record, &name.into());
        out.push(PendingChunk {
            index: field("index")?.as_f64().unwrap_or_default() as u32,
            recording_start_ms: field("recordingStart")?.as_f64().unwrap_or_default(),
            media_zero_ms: field("mediaZero")?.as_f64(),
            blob: field("blob")?.unchecked_into(),
        });
    }
    Ok(out)
}

/// Every key that begins with `prefix`.
fn under(prefix: &str) -> Result<KeyRange, StoreError> {
    Ok(KeyRange::bound(
        &prefix.into(),
        &format!("{prefix}\u{ffff}").into(),
        None,
        None,
    )
    .map_err(rexie::Error::from)?)
}

fn slice_key(room: RoomId, participant: ParticipantId, index: u32, slice: u32) -> JsValue {
    format!("{room}/{participant}/{index:08}/{slice:05}").into()
}

/// One slice as the recorder handed it over.
pub struct Slice<'a> {
    pub blob: &'a Blob,
    /// Its recorder's start, in server time (ms since the epoch).
    pub recording_start_ms: f64,
    /// Where its recorder's media zero lies so far (server time).
    pub media_zero_ms: Option<f64>,
}

/// Keeps slice `slice` of chunk `index` (the recorder's output of about a
/// second) until the chunk is sealed.
pub async fn put_slice(
    room: RoomId,
    participant: ParticipantId,
    index: u32,
    slice: u32,
    given: Slice<'_>,
) -> Result<(), StoreError> {
    let record = Object::new();
    Reflect::set(
        &record,
        &"recordingStart".into(),
        &given.recording_start_ms.into(),
    )?;
    if let Some(zero) = given.media_zero_ms {
        Reflect::set(&record, &"mediaZero".into(), &zero.into())?;
    }
    let blob = given.blob;
    Reflect::set(&record, &"blob".into(), blob)?;
    let at = slice_key(room, participant, index, slice);
    write(&[SLICES], async |tx| {
        tx.store(SLICES)?.put(&record, Some(&at)).await?;
        Ok(())
    })
    .await
}

/// Joins chunk `index`'s slices into the chunk the upload queue sends, and
/// forgets the slices, in one transaction: a crash leaves one or the other.
/// Nothing happens when the chunk has no slices.
pub async fn seal(room: RoomId, participant: ParticipantId, index: u32) -> Result<(), StoreError> {
    write(&[STORE, SLICES], async |tx| {
        let slices = tx.store(SLICES)?;
        let range = under(&format!("{room}/{participant}/{index:08}/"))?;
        let parts = slices.get_all(Some(range.clone()), None).await?;
        let Some(first) = parts.first() else {
            return Ok(());
        };
        let recording_start = Reflect::get(first, &"recordingStart".into())?;
        // The last slice knows the recorder's media zero best.
        let media_zero = match parts.last() {
            Some(last) => Reflect::get(last, &"mediaZero".into())?,
            None => JsValue::UNDEFINED,
        };
        let blobs = js_sys::Array::new();
        for part in &parts {
            blobs.push(&Reflect::get(part, &"blob".into())?);
        }
        let record = Object::new();
        Reflect::set(&record, &"index".into(), &index.into())?;
        Reflect::set(&record, &"recordingStart".into(), &recording_start)?;
        Reflect::set(&record, &"mediaZero".into(), &media_zero)?;
        let joined = Blob::new_with_blob_sequence(&blobs)?;
        Reflect::set(&record, &"blob".into(), &joined)?;
        tx.store(STORE)?
            .put(&record, Some(&key(room, participant, index)))
            .await?;
        slices.delete(range.into()).await?;
        Ok(())
    })
    .await
}

/// Seals every chunk this participant left unsealed: a page that was
/// reloaded, crashed or closed while recording. Call it before this page
/// records (its slices would be sealed too early).
pub async fn recover(room: RoomId, participant: ParticipantId) -> Result<u32, StoreError> {
    let mine = under(&format!("{room}/{participant}/"))?;
    let keys = read(SLICES, async |store| {
        Ok(store.get_all_keys(Some(mine), None).await?)
    })
    .await?;
    let mut indexes: Vec<u32> = keys
        .iter()
        .filter_map(|k| k.as_string()?.split('/').nth(2)?.parse().ok())
        .collect();
    indexes.dedup();
    for &index in &indexes {
        seal(room, participant, index).await?;
    }
    Ok(indexes.len() as u32)
}
