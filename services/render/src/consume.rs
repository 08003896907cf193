//! The one way every render-side worker reads its durable consumer: one
//! message at a time, so a long job holds only this worker and messages it
//! has not started stay free for the others. (`batch` waits for a message;
//! `fetch` would return at once and spin.)

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt;
use zencast_nats::stream::retry_after_failure;

/// What to do with a message once handled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Done with it: completed, failed for good, or not a job.
    Ack,
    /// Look again after this long (waiting, not failing).
    RetryIn(Duration),
    /// Handling failed: again after a delay that grows with each delivery,
    /// until the consumer's `max_deliver` sets it aside.
    Failed,
}

/// Handles `consumer`'s messages one by one with `handle`, acknowledging
/// (waiting for the server) or handing each back with a delay. Returns only
/// on a consumer error, for `supervise` to restart it.
pub async fn one_at_a_time<F, Fut>(consumer: &PullConsumer, mut handle: F) -> Result<(), String>
where
    F: FnMut(Message) -> Fut,
    Fut: Future<Output = Next>,
{
    loop {
        let mut batch = consumer
            .batch()
            .max_messages(1)
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| e.to_string())?;
            let _ = match handle(m.clone()).await {
                Next::Ack => m.double_ack().await,
                Next::RetryIn(d) => m.ack_with(AckKind::Nak(Some(d))).await,
                Next::Failed => m.ack_with(retry_after_failure(&m)).await,
            };
        }
    }
}
