//! Bounds on what one participant may hold at once, so that a stranger with a
//! leaked token (or a client in a retry loop) cannot tie up the api: chunk
//! uploads in flight on this node, and live sockets across all nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zencast_events::ParticipantId;

/// Chunk uploads one participant may have in flight on one api node. The web
/// client sends one at a time; a retry may overlap the attempt it replaces.
pub const UPLOADS_PER_PARTICIPANT: usize = 3;

/// Live sockets one participant may hold (a few tabs or devices, a reconnect
/// overlapping the socket it replaces).
pub const SOCKETS_PER_PARTICIPANT: u64 = 4;

/// The uploads in flight on this node, per participant.
#[derive(Debug, Default)]
pub struct UploadSlots {
    busy: Mutex<HashMap<ParticipantId, usize>>,
}

/// One upload in flight; its slot is free again when this is dropped.
#[derive(Debug)]
pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    participant: ParticipantId,
}

impl UploadSlots {
    /// A slot for one more upload of `participant`, or `None` when it has
    /// `UPLOADS_PER_PARTICIPANT` in flight already.
    pub fn take(self: &Arc<Self>, participant: ParticipantId) -> Option<UploadSlot> {
        let mut busy = self.busy.lock().expect("upload slots poisoned");
        let n = busy.entry(participant).or_default();
        if *n >= UPLOADS_PER_PARTICIPANT {
            return None;
        }
        *n += 1;
        Some(UploadSlot {
            slots: self.clone(),
            participant,
        })
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut busy = self.slots.busy.lock().expect("upload slots poisoned");
        if let Some(n) = busy.get_mut(&self.participant) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.participant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_gets_its_slots_back_and_others_are_not_affected() {
        let slots = Arc::new(UploadSlots::default());
        let (a, b) = (ParticipantId::new(), ParticipantId::new());
        let held: Vec<_> = (0..UPLOADS_PER_PARTICIPANT)
            .map(|_| slots.take(a).unwrap())
            .collect();
        assert!(slots.take(a).is_none());
        assert!(
            slots.take(b).is_some(),
            "another participant is not held up"
        );
        drop(held);
        assert!(slots.take(a).is_some());
        assert!(
            slots.busy.lock().unwrap().is_empty(),
            "nothing kept for idle participants"
        );
    }
}
