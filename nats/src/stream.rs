//! The JetStream stream `ZENCAST_EVENTS` and its durable consumers, created or
//! brought up to date at start-up. Idempotent: every process calls it.
//!
//! Only stream and consumer create/info/update requests are used: Debian's
//! nats-server 2.9.10 answers account-info requests in a form async-nats 0.51
//! cannot parse, and has no usable key-value store for it.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};

use crate::subjects::Subjects;

/// How long JetStream remembers a `Nats-Msg-Id` to drop a re-publish.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// How long the projector's consumer waits for an ack before redelivering. Short:
/// applying an event takes milliseconds, and after a crash the events the dead
/// process held come back only when this runs out.
pub const PROJECTOR_ACK_WAIT: Duration = Duration::from_secs(5);

pub const PROJECTOR_CONSUMER: &str = "projector";
pub const RENDER_CONSUMER: &str = "render";
/// The ingest workers' consumer of `ChunkUploaded`.
pub const INGEST_CONSUMER: &str = "ingest";
/// The render workers' consumer of window jobs.
pub const WINDOW_CONSUMER: &str = "window";

/// Deliveries of one message to an event consumer before JetStream sets it
/// aside and says so in an advisory (see `set_aside`). Every duty these
/// consumers serve is re-driven from Postgres by its reconciler, so a message
/// set aside delays its duty by one reconciler pass instead of holding a
/// consumer for ever; failures come back at growing intervals
/// (`retry_delay`), so 20 deliveries span about 14 minutes of failing.
pub const MAX_DELIVER: i64 = 20;
/// The render consumer's bound: its messages are handed back every ack wait
/// while another worker renders the room, which is waiting, not failing;
/// 1,000 deliveries are more than eight hours of that.
pub const RENDER_MAX_DELIVER: i64 = 1000;

/// How long a message that failed for the `delivered`th time waits before it
/// comes back: 1 s, doubling up to a minute.
fn retry_delay(delivered: i64) -> Duration {
    let doublings = delivered.clamp(1, 7) - 1;
    Duration::from_secs((1u64 << doublings).min(60))
}

/// The answer to a message its handler failed on: back after `retry_delay`
/// of its delivery count, every consumer alike.
pub fn retry_after_failure(message: &jetstream::Message) -> jetstream::AckKind {
    let delivered = message.info().map_or(1, |i| i.delivered);
    jetstream::AckKind::Nak(Some(retry_delay(delivered)))
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("cannot create or read stream {0}: {1}")]
    Stream(String, String),
    #[error("cannot update stream {0}: {1}")]
    Update(String, String),
    #[error("cannot create consumer {0}: {1}")]
    Consumer(String, String),
}

fn desired(subjects: &Subjects, replicas: usize) -> stream::Config {
    stream::Config {
        name: subjects.stream(),
        subjects: vec![subjects.all_events(), subjects.all_hosts()],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        retention: stream::RetentionPolicy::Limits,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Creates the stream with `replicas` copies (1 on a single server, 3 on a
/// three-node cluster; consumers inherit it), or updates its subjects,
/// duplicate window and replicas if an older version of it exists.
pub async fn ensure_stream(
    js: &jetstream::Context,
    subjects: &Subjects,
    replicas: usize,
) -> Result<stream::Stream, StreamError> {
    let want = desired(subjects, replicas);
    let name = want.name.clone();
    let mut stream = js
        .get_or_create_stream(want.clone())
        .await
        .map_err(|e| StreamError::Stream(name.clone(), e.to_string()))?;
    let have = &stream
        .info()
        .await
        .map_err(|e| StreamError::Stream(name.clone(), e.to_string()))?
        .config;
    if have.subjects != want.subjects
        || have.duplicate_window < want.duplicate_window
        || have.num_replicas != want.num_replicas
    {
        js.update_stream(want)
            .await
            .map_err(|e| StreamError::Update(name.clone(), e.to_string()))?;
        stream = js
            .get_stream(&name)
            .await
            .map_err(|e| StreamError::Stream(name.clone(), e.to_string()))?;
    }
    Ok(stream)
}

/// The durable pull consumer `name` over every event of the stream.
pub async fn ensure_consumer(
    stream: &stream::Stream,
    subjects: &Subjects,
    name: &str,
    ack_wait: Duration,
    max_deliver: i64,
) -> Result<consumer::PullConsumer, StreamError> {
    ensure_filtered_consumer(stream, name, subjects.all_events(), ack_wait, max_deliver).await
}

/// The durable pull consumer `name` over the events matching `filter`. A
/// consumer that exists keeps its configuration (nats-server 2.9 cannot
/// change most of it): delete it to take a new `max_deliver`.
pub async fn ensure_filtered_consumer(
    stream: &stream::Stream,
    name: &str,
    filter: String,
    ack_wait: Duration,
    max_deliver: i64,
) -> Result<consumer::PullConsumer, StreamError> {
    get_or_create(
        stream,
        name,
        consumer::pull::Config {
            durable_name: Some(name.to_string()),
            filter_subject: filter,
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait,
            deliver_policy: consumer::DeliverPolicy::All,
            max_ack_pending: 10_000,
            max_deliver,
            ..Default::default()
        },
    )
    .await
}

/// The work queue of render jobs (`{PREFIX}_JOBS`, subjects `{prefix}.jobs.>`):
/// each message is taken by one worker and gone once acknowledged. Jobs are
/// derived from the log and published again when still due, so a lost one
/// only delays its work.
pub async fn ensure_jobs_stream(
    js: &jetstream::Context,
    subjects: &Subjects,
    replicas: usize,
) -> Result<stream::Stream, StreamError> {
    let name = subjects.jobs_stream();
    js.get_or_create_stream(stream::Config {
        name: name.clone(),
        subjects: vec![subjects.all_jobs()],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        retention: stream::RetentionPolicy::WorkQueue,
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .map_err(|e| StreamError::Stream(name, e.to_string()))
}

/// The durable pull consumer `name` over every message of `stream`.
pub async fn ensure_job_consumer(
    stream: &stream::Stream,
    name: &str,
    ack_wait: Duration,
    max_deliver: i64,
) -> Result<consumer::PullConsumer, StreamError> {
    get_or_create(
        stream,
        name,
        consumer::pull::Config {
            durable_name: Some(name.to_string()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait,
            max_deliver,
            ..Default::default()
        },
    )
    .await
}

/// How often creating a consumer is tried while the server times out.
const CONSUMER_TRIES: u32 = 5;

/// The durable consumer `name`, tried again while the server times out: a
/// clustered stream answers only once its nodes agree on a leader, which on
/// a loaded three-node test run took longer than a request's timeout (and
/// the api, unable to start, exited).
async fn get_or_create(
    stream: &stream::Stream,
    name: &str,
    config: consumer::pull::Config,
) -> Result<consumer::PullConsumer, StreamError> {
    let mut tries = 1;
    loop {
        match stream.get_or_create_consumer(name, config.clone()).await {
            Ok(c) => return Ok(c),
            Err(e) if e.kind() == stream::ConsumerErrorKind::TimedOut && tries < CONSUMER_TRIES => {
                tries += 1;
            }
            Err(e) => return Err(StreamError::Consumer(name.to_string(), e.to_string())),
        }
    }
}
