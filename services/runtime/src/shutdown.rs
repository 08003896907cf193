//! Graceful shutdown, passed explicitly to every long-running task.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// The sending half: `trigger` tells every task to finish.
#[derive(Clone)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// The receiving half each task holds.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

pub fn shutdown_pair() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }
    /// Resolves once shutdown is triggered (or its trigger is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }
}

/// Runs `work` until shutdown. When it returns (an outage of Postgres, NATS or
/// Redis), the failure is logged and `work` starts again after a second: a
/// service survives its dependencies going away and coming back.
pub async fn supervise<F, Fut, E>(what: &str, mut shutdown: Shutdown, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    while !shutdown.is_triggered() {
        tokio::select! {
            result = work() => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "{what} interrupted; retrying in 1 s");
                }
            }
            _ = shutdown.wait() => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait() => break,
        }
    }
}
