//! The embedded S3-compatible store `zencast up` runs when no endpoint is
//! configured: s3s with its file-system backend (s3s-fs), data under
//! `{data_dir}/s3` (readable by its owner only), with the configured access
//! key. Only Zencast's own processes talk to it, never a browser, so it
//! answers no cross-origin requests; and it refuses to listen beyond loopback
//! with the well-known default credentials. s3s-fs calls itself a sample
//! implementation: fine for one machine; point ZENCAST_S3_ENDPOINT at a real
//! store for production.

use std::net::SocketAddr;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::task::JoinHandle;
use zencast_runtime::Shutdown;

use crate::config::{private_dir, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY};

/// Starts the store; returns the address it listens on.
pub async fn start(
    root: &Path,
    listen: SocketAddr,
    access_key: &str,
    secret_key: &str,
    mut shutdown: Shutdown,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    if !listen.ip().is_loopback()
        && (access_key == DEFAULT_ACCESS_KEY || secret_key == DEFAULT_SECRET_KEY)
    {
        anyhow::bail!(
            "the embedded S3 store would listen on {listen}, reachable from other machines, \
             with the default credentials anyone can read in Zencast's source: set \
             AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ZENCAST_S3_LISTEN to a loopback address"
        );
    }
    private_dir(root)?;
    // s3s-fs's error type is not std::error::Error: carry its text.
    let fs =
        s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("embedded S3 store: {e:?}"))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("embedded S3 store cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(e) => {
                        tracing::warn!(error = %e, "embedded S3: accept failed");
                        continue;
                    }
                },
                _ = shutdown.wait() => break,
            };
            let service = service.clone();
            let http = http.clone();
            tokio::spawn(async move {
                let _ = http.serve_connection(TokioIo::new(socket), service).await;
            });
        }
    });
    Ok((addr, task))
}
