//! Messages JetStream set aside. When a message has been delivered to a
//! consumer `max_deliver` times without an ack, the server delivers it no
//! more and publishes an advisory on
//! `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`. Every
//! zencast process listens in one queue group, so each advisory is reported
//! once per deployment, with the subject of the message (which names the
//! room and the event) while the stream still holds it.

use async_nats::jetstream;
use futures::StreamExt;
use serde::Deserialize;

/// One message set aside, as the advisory tells it.
#[derive(Debug, Clone, Deserialize)]
pub struct SetAside {
    pub stream: String,
    pub consumer: String,
    pub stream_seq: u64,
    pub deliveries: u64,
    /// The subject the message was published on (looked up in the stream).
    #[serde(skip)]
    pub subject: Option<String>,
}

/// The queue group of every zencast process's listener.
const QUEUE: &str = "zencast-set-aside";

fn advisories(stream: &str) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.*")
}

/// Calls `report` with each message set aside by the consumers of `streams`;
/// returns when the subscription ends (for `supervise` to start it again).
pub async fn watch(
    client: &async_nats::Client,
    js: &jetstream::Context,
    streams: &[String],
    mut report: impl FnMut(SetAside),
) -> Result<(), async_nats::SubscribeError> {
    let mut subscriptions = Vec::new();
    for stream in streams {
        subscriptions.push(
            client
                .queue_subscribe(advisories(stream), QUEUE.into())
                .await?,
        );
    }
    let mut all = futures::stream::select_all(subscriptions);
    while let Some(message) = all.next().await {
        let Ok(mut set_aside) = serde_json::from_slice::<SetAside>(&message.payload) else {
            continue;
        };
        set_aside.subject = subject_of(js, &set_aside.stream, set_aside.stream_seq).await;
        report(set_aside);
    }
    Ok(())
}

async fn subject_of(js: &jetstream::Context, stream: &str, seq: u64) -> Option<String> {
    let stream = js.get_stream_no_info(stream).await.ok()?;
    let message = stream.get_raw_message(seq).await.ok()?;
    Some(message.subject.to_string())
}
