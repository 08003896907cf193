//! Recorded chunks waiting for upload, in IndexedDB: a chunk is written here
//! before its first upload attempt and deleted only once the server confirmed
//! it, so a reload, a crash or a dropped network never loses one.
//!
//! One object store, `chunks`, keyed `{room}/{participant}/{index:08}` so that a
//! key range lists one participant's chunks in index order.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, IdbDatabase, IdbKeyRange, IdbOpenDbRequest, IdbRequest, IdbTransaction,
    IdbTransactionMode,
};
use zencast_events::{ParticipantId, RoomId};

use crate::browser::window;

const DATABASE: &str = "zencast";
const STORE: &str = "chunks";

#[derive(Debug, Clone)]
pub struct PendingChunk {
    pub index: u32,
    /// When the recorder that made it started, in server time (ms since the epoch).
    pub recording_start_ms: f64,
    pub blob: Blob,
}

fn key(room: RoomId, participant: ParticipantId, index: u32) -> String {
    format!("{room}/{participant}/{index:08}")
}

/// Resolves when `target` fires `ok_event`, fails on `error`.
async fn settle(target: &web_sys::EventTarget, ok_event: &str) -> Result<(), JsValue> {
    let target = target.clone();
    let ok_event = ok_event.to_string();
    let promise = Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let fail = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("IndexedDB failed"));
        });
        let _ = target.add_event_listener_with_callback(&ok_event, ok.unchecked_ref());
        let _ = target.add_event_listener_with_callback("error", fail.unchecked_ref());
        let _ = target.add_event_listener_with_callback("abort", fail.unchecked_ref());
    });
    JsFuture::from(promise).await.map(|_| ())
}

async fn result(request: &IdbRequest) -> Result<JsValue, JsValue> {
    settle(request, "success").await?;
    request.result()
}

async fn open() -> Result<IdbDatabase, JsValue> {
    let factory = window().indexed_db()?.ok_or("IndexedDB is not available")?;
    let request: IdbOpenDbRequest = factory.open_with_u32(DATABASE, 1)?;
    let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        let request: IdbOpenDbRequest = e.target().unwrap().unchecked_into();
        if let Ok(db) = request.result() {
            let db: IdbDatabase = db.unchecked_into();
            if !db.object_store_names().contains(STORE) {
                let _ = db.create_object_store(STORE);
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = result(&request).await;
    drop(upgrade);
    Ok(db?.unchecked_into())
}

fn transaction(
    db: &IdbDatabase,
    mode: IdbTransactionMode,
) -> Result<(IdbTransaction, web_sys::IdbObjectStore), JsValue> {
    let tx = db.transaction_with_str_and_mode(STORE, mode)?;
    let store = tx.object_store(STORE)?;
    Ok((tx, store))
}

/// Keeps a chunk until [`remove`]; resolves once the write is committed.
pub async fn put(
    room: RoomId,
    participant: ParticipantId,
    chunk: &PendingChunk,
) -> Result<(), JsValue> {
    let db = open().await?;
    let (tx, store) = transaction(&db, IdbTransactionMode::Readwrite)?;
    let record = Object::new();
    Reflect::set(&record, &"index".into(), &chunk.index.into())?;
    Reflect::set(
        &record,
        &"recordingStart".into(),
        &chunk.recording_start_ms.into(),
    )?;
    Reflect::set(&record, &"blob".into(), &chunk.blob)?;
    store.put_with_key(&record, &key(room, participant, chunk.index).into())?;
    settle(&tx, "complete").await?;
    db.close();
    Ok(())
}

pub async fn remove(room: RoomId, participant: ParticipantId, index: u32) -> Result<(), JsValue> {
    let db = open().await?;
    let (tx, store) = transaction(&db, IdbTransactionMode::Readwrite)?;
    store.delete(&key(room, participant, index).into())?;
    settle(&tx, "complete").await?;
    db.close();
    Ok(())
}

/// This participant's waiting chunks, in index order.
pub async fn pending(
    room: RoomId,
    participant: ParticipantId,
) -> Result<Vec<PendingChunk>, JsValue> {
    let db = open().await?;
    let (_tx, store) = transaction(&db, IdbTransactionMode::Readonly)?;
    let prefix = format!("{room}/{participant}/");
    let range = IdbKeyRange::bound(&prefix.clone().into(), &format!("{prefix}\u{ffff}").into())?;
    let all = result(&store.get_all_with_key(&range)?).await?;
    db.close();
    let mut out = vec![];
    for record in js_sys::Array::from(&all).iter() {
        let field = |name: &str| Reflect::get(&record, &name.into());
        out.push(PendingChunk {
            index: field("index")?.as_f64().unwrap_or_default() as u32,
            recording_start_ms: field("recordingStart")?.as_f64().unwrap_or_default(),
            blob: field("blob")?.unchecked_into(),
        });
    }
    Ok(out)
}
