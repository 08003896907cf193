//! Recorded chunks waiting for upload, in IndexedDB: a chunk is written here
//! before its first upload attempt and deleted only once the server confirmed
//! it, so a reload, a crash or a dropped network never loses one.
//!
//! One object store, `chunks`, keyed `{room}/{participant}/{index:08}` so that a
//! key range lists one participant's chunks in index order.

use js_sys::{Object, Reflect};
use rexie::{KeyRange, ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;
use zencast_events::{ParticipantId, RoomId};

const DATABASE: &str = "zencast";
const STORE: &str = "chunks";

#[derive(Debug, Clone)]
pub struct PendingChunk {
    pub index: u32,
    /// When the recorder that made it started, in server time (ms since the epoch).
    pub recording_start_ms: f64,
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
        .version(1)
        .add_object_store(ObjectStore::new(STORE))
        .build()
        .await?)
}

/// Runs `work` on the store in one transaction and waits for its commit.
async fn write(
    work: impl AsyncFnOnce(&rexie::Store) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let db = open().await?;
    let tx = db.transaction(&[STORE], TransactionMode::ReadWrite)?;
    work(&tx.store(STORE)?).await?;
    let done = tx.done().await?;
    db.close();
    if done.is_committed() {
        Ok(())
    } else {
        Err(StoreError("the IndexedDB transaction was aborted".into()))
    }
}

/// Keeps a chunk until [`remove`]; resolves once the write is committed.
pub async fn put(
    room: RoomId,
    participant: ParticipantId,
    chunk: &PendingChunk,
) -> Result<(), StoreError> {
    let record = Object::new();
    Reflect::set(&record, &"index".into(), &chunk.index.into())?;
    Reflect::set(
        &record,
        &"recordingStart".into(),
        &chunk.recording_start_ms.into(),
    )?;
    Reflect::set(&record, &"blob".into(), &chunk.blob)?;
    let at = key(room, participant, chunk.index);
    write(async |store| {
        store.put(&record, Some(&at)).await?;
        Ok(())
    })
    .await
}

pub async fn remove(
    room: RoomId,
    participant: ParticipantId,
    index: u32,
) -> Result<(), StoreError> {
    let at = key(room, participant, index);
    write(async |store| Ok(store.delete(at).await?)).await
}

/// This participant's waiting chunks, in index order.
pub async fn pending(
    room: RoomId,
    participant: ParticipantId,
) -> Result<Vec<PendingChunk>, StoreError> {
    let db = open().await?;
    let tx = db.transaction(&[STORE], TransactionMode::ReadOnly)?;
    let prefix = format!("{room}/{participant}/");
    let range = KeyRange::bound(
        &prefix.clone().into(),
        &format!("{prefix}\u{ffff}").into(),
        None,
        None,
    )
    .map_err(rexie::Error::from)?;
    let all = tx.store(STORE)?.get_all(Some(range), None).await?;
    db.close();
    let mut out = vec![];
    for record in all {
        let field = |name: &str| Reflect::get(&record, &name.into());
        out.push(PendingChunk {
            index: field("index")?.as_f64().unwrap_or_default() as u32,
            recording_start_ms: field("recordingStart")?.as_f64().unwrap_or_default(),
            blob: field("blob")?.unchecked_into(),
        });
    }
    Ok(out)
}
