//! Private Redis and NATS servers for the fault tests, which kill and restart
//! them: the machine's shared servers serve every other test at the same time.
//! Each listens on a free port and keeps its files in the test's directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on now, chosen below the kernel's range for the
/// local ports of outgoing connections (`ip_local_port_range`): a port from
/// that range (what binding port 0 gives) can be taken by any process's next
/// outgoing connection before our server binds it, and a loaded CI run lost a
/// nats-server and an api node that way. Ports below it are only ever taken
/// on purpose, and a random one collides with another test's rarely.
pub fn free_port() -> u16 {
    let below = ephemeral_low().max(20_000);
    loop {
        let port = 10_000 + (uuid::Uuid::new_v4().as_u128() % u128::from(below - 10_000)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The first port of the kernel's range for outgoing connections.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Waits until something listens on `port` (up to 30 s); fails at once with
/// its status if `child`, which should, exits instead.
pub fn wait_listening(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on {port}: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not start on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A redis-server that keeps nothing on disk: killed, it comes back empty.
pub struct RedisServer {
    pub port: u16,
    child: Child,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = free_port();
        Self {
            port,
            child: Self::spawn(port),
        }
    }

    fn spawn(port: u16) -> Child {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/setup.sh installs it)");
        wait_listening(port, "redis-server", &mut child);
        child
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, then a new empty server on the same port.
    pub fn kill_and_restart(&mut self) {
        kill(&mut self.child);
        self.child = Self::spawn(self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// One nats-server with JetStream, alone or as a node of a cluster.
pub struct NatsNode {
    pub port: u16,
    name: String,
    store: PathBuf,
    /// `--cluster` and `--routes` arguments, for a cluster node.
    cluster: Vec<String>,
    child: Option<Child>,
}

impl NatsNode {
    /// A single server keeping its streams under `dir`.
    pub fn single(dir: &Path) -> Self {
        let mut node = Self {
            port: free_port(),
            name: "single".into(),
            store: dir.join("nats-single"),
            cluster: Vec::new(),
            child: None,
        };
        node.start();
        node
    }

    /// `n` servers forming one JetStream cluster. Returns once every node
    /// listens; the cluster elects its meta leader shortly after (see
    /// `wait_for_jetstream`).
    pub fn cluster(dir: &Path, n: usize) -> Vec<Self> {
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let all_routes = routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes: Vec<Self> = routes
            .iter()
            .enumerate()
            .map(|(i, route)| Self {
                port: free_port(),
                name: format!("n{i}"),
                store: dir.join(format!("nats-n{i}")),
                cluster: vec![
                    "--cluster_name".into(),
                    "zencast-test".into(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{route}"),
                    "--routes".into(),
                    all_routes.clone(),
                ],
                child: None,
            })
            .collect();
        for node in &mut nodes {
            node.start();
        }
        nodes
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let mut child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-n", &self.name, "-sd"])
            .arg(&self.store)
            .args(&self.cluster)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (scripts/setup.sh installs it)");
        wait_listening(self.port, "nats-server", &mut child);
        self.child = Some(child);
    }

    /// SIGKILL: the node is gone until `start`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }

    /// A clean restart (SIGTERM, wait, start): its streams stay on disk.
    pub fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
        self.start();
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The servers of `nodes` as one NATS_URL.
pub fn nats_urls(nodes: &[NatsNode]) -> String {
    nodes
        .iter()
        .map(NatsNode::url)
        .collect::<Vec<_>>()
        .join(",")
}

/// Waits until JetStream on `urls` answers stream requests with `replicas`
/// copies (a new cluster first elects its meta leader).
pub async fn wait_for_jetstream(urls: &str, replicas: usize) {
    let client = zencast_nats::servers::connect(urls).await.expect("nats");
    let js = async_nats::jetstream::new(client);
    let deadline = Instant::now() + Duration::from_secs(60);
    let name = format!("READY_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    loop {
        let made = js
            .create_stream(async_nats::jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![format!("{name}.>")],
                num_replicas: replicas,
                ..Default::default()
            })
            .await;
        match made {
            Ok(_) => {
                let _ = js.delete_stream(&name).await;
                return;
            }
            Err(e) => assert!(
                Instant::now() < deadline,
                "JetStream on {urls} not ready: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
