//! Connecting to NATS: `NATS_URL` names one server or, comma-separated, the
//! servers of a cluster. The client tries them in turn at start-up, so a
//! process starts while any one of them is up, and reconnects to another
//! when its server goes away.

use async_nats::ServerAddr;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("bad NATS url {0:?}: {1}")]
    Url(String, std::io::Error),
    #[error("cannot reach NATS at {0}: {1}")]
    Connect(String, async_nats::ConnectError),
}

/// The servers of a comma-separated list of NATS urls.
pub fn addresses(urls: &str) -> Result<Vec<ServerAddr>, ConnectError> {
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            url.parse::<ServerAddr>()
                .map_err(|e| ConnectError::Url(url.to_string(), e))
        })
        .collect()
}

/// A client connected to one of the servers in `urls`.
pub async fn connect(urls: &str) -> Result<async_nats::Client, ConnectError> {
    let servers = addresses(urls)?;
    if servers.is_empty() {
        return Err(ConnectError::Url(
            urls.to_string(),
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no server"),
        ));
    }
    async_nats::connect(servers.as_slice())
        .await
        .map_err(|e| ConnectError::Connect(urls.to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_is_a_comma_separated_list() {
        let servers = addresses("nats://127.0.0.1:4222, nats://127.0.0.1:4223,").unwrap();
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[1].port(), 4223);
        assert!(matches!(addresses("nats://:x"), Err(ConnectError::Url(..))));
    }
}
