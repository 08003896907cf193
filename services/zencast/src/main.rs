//! `zencast`: every Zencast service and operator tool in one binary.

use clap::{Parser, Subcommand};
use zencast::{Backends, Config, Parts};
use zencast_events::RoomId;

#[derive(Parser)]
#[command(
    name = "zencast",
    version,
    about = "Self-hosted podcast and video recording studio"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything in one process: migrations, api, outbox relay, projector.
    Up,
    /// Create the database if missing and apply migrations.
    Migrate,
    /// The HTTP api only.
    Api,
    /// The Redis projector only.
    Projector,
    /// The outbox relay (Postgres → JetStream) only.
    Relay,
    /// The render worker only; with `--force ROOM`, render that room now with
    /// what is stored (missing chunks become silence and black) and wait.
    Render {
        #[arg(long, value_name = "ROOM")]
        force: Option<RoomId>,
        /// With `--force`: the layout (default: the last one asked for, or the room's).
        #[arg(long, requires = "force")]
        layout: Option<String>,
    },
    /// Rebuild the Redis room state from the Postgres log.
    Replay {
        #[arg(long)]
        room: Option<RoomId>,
        /// Compare live state with the rebuilt state instead; exit 1 on any
        /// difference, or on a room whose projection lags its log for longer
        /// than --max-lag-ms.
        #[arg(long)]
        verify: bool,
        /// With --verify: how old the oldest unprojected event of a room may be
        /// before the room counts as stuck behind its log.
        #[arg(long, default_value_t = 10_000, requires = "verify")]
        max_lag_ms: u64,
    },
    /// Send the Postgres log to the event stream again (same `Nats-Msg-Id`s:
    /// what JetStream still has is dropped as a duplicate). For a stream that
    /// lost messages, so that ops tools following it see them.
    Republish {
        /// One room's events.
        #[arg(long, required_unless_present = "since", conflicts_with = "since")]
        room: Option<RoomId>,
        /// Every event stored at or after this time (RFC 3339, e.g. 2026-11-27T21:00:00Z).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A room's event timeline, from the Postgres log.
    Audit {
        room: RoomId,
        #[arg(long)]
        json: bool,
    },
    /// Follow the live event stream.
    Tail {
        #[arg(long)]
        room: Option<RoomId>,
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Start from the first event in the stream instead of new ones.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Host accounts: who may create sessions when ZENCAST_AUTH=accounts.
    Hosts {
        #[command(subcommand)]
        what: HostsWhat,
    },
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum HostsWhat {
    /// Add an account; the password is read from stdin (one line). Prints
    /// the account's API key, for scripts (`Authorization: Bearer …`).
    Add { email: String },
    /// Every account, with its id and whether it is active.
    List,
    /// Close an account: it signs in no more and its API key stops working;
    /// its recordings stay.
    Remove { email: String },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// ChunkUploaded commands through the whole path, against a raw baseline.
    Events {
        #[arg(long, default_value_t = 5000)]
        count: usize,
        /// Rooms written concurrently.
        #[arg(long, default_value_t = 16)]
        rooms: usize,
    },
    /// Chunk upload throughput through the api against a direct S3 PUT, and the
    /// api's peak memory under 50 concurrent 20 MB uploads.
    Uploads {
        #[arg(long, default_value_t = 24)]
        chunks: usize,
        #[arg(long, default_value_t = 8)]
        chunk_mib: usize,
        #[arg(long, default_value_t = 4)]
        concurrent: usize,
    },
    /// The render worker against a hand-written ffmpeg command on the same recordings.
    Render {
        /// Participant counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "2,4")]
        people: Vec<usize>,
        #[arg(long, default_value_t = 60)]
        seconds: u32,
    },
    /// The wait after the last chunk when rendering while recording, against
    /// the whole-session render and a hand-written ffmpeg command.
    Progressive {
        #[arg(long, default_value_t = 2)]
        people: usize,
        /// Session lengths to measure, in minutes.
        #[arg(long, value_delimiter = ',', default_value = "1,5,20")]
        minutes: Vec<u32>,
        /// A chunk of each participant every 10 s, instead of as soon as the
        /// worker has caught up.
        #[arg(long)]
        real_time: bool,
        /// Measure the hand-written command and the whole-session render this
        /// many times each, alternately, and print their medians (a shared
        /// machine's speed varies by ±10 % from one minute to the next).
        #[arg(long, default_value_t = 1)]
        repeat: usize,
    },
    /// Signaling latency across two api nodes against raw NATS, and rooms per node.
    Relay {
        /// Messages per second between the two sockets.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Stop the rooms-per-node search at this many rooms.
        #[arg(long, default_value_t = 400)]
        max_rooms: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Up => serve(&cli.config, Parts::ALL).await?,
        Command::Api => {
            serve(
                &cli.config,
                Parts {
                    api: true,
                    relay: false,
                    projector: false,
                    render: false,
                    embedded_s3: false,
                },
            )
            .await?
        }
        Command::Projector => {
            serve(
                &cli.config,
                Parts {
                    api: false,
                    relay: false,
                    projector: true,
                    render: false,
                    embedded_s3: false,
                },
            )
            .await?
        }
        Command::Relay => {
            serve(
                &cli.config,
                Parts {
                    api: false,
                    relay: true,
                    projector: false,
                    render: false,
                    embedded_s3: false,
                },
            )
            .await?
        }
        Command::Render { force: None, .. } => {
            serve(
                &cli.config,
                Parts {
                    api: false,
                    relay: false,
                    projector: false,
                    render: true,
                    embedded_s3: false,
                },
            )
            .await?
        }
        Command::Render {
            force: Some(room),
            layout,
        } => zencast::cli::render::force(&cli.config, room, layout.as_deref()).await?,
        Command::Migrate => {
            zencast_eventlog::db::connect_and_migrate(&cli.config.database_url, 2).await?;
            println!("database migrated");
            0
        }
        Command::Replay {
            room,
            verify,
            max_lag_ms,
        } => {
            let b = Backends::connect(&cli.config).await?;
            let max_lag = std::time::Duration::from_millis(max_lag_ms);
            zencast::cli::replay::run(&b, room, verify, max_lag).await?
        }
        Command::Republish { room, since } => {
            let b = Backends::connect(&cli.config).await?;
            let selection = match (room, since) {
                (Some(room), _) => zencast_eventlog::republish::Selection::Room(room),
                (None, Some(since)) => zencast_eventlog::republish::Selection::Since(since),
                (None, None) => unreachable!("clap requires --room or --since"),
            };
            zencast::cli::republish::run(&b, selection).await?
        }
        Command::Audit { room, json } => {
            let b = Backends::connect(&cli.config).await?;
            zencast::cli::audit::run(&b, room, json).await?
        }
        Command::Tail {
            room,
            event_type,
            all,
            json,
        } => {
            let b = Backends::connect(&cli.config).await?;
            zencast::cli::tail::run(&b, room, event_type, all, json).await?
        }
        Command::Hosts { what } => {
            let pool =
                zencast_eventlog::db::connect_and_migrate(&cli.config.database_url, 2).await?;
            match what {
                HostsWhat::Add { email } => zencast::cli::hosts::add(&pool, &email).await?,
                HostsWhat::List => zencast::cli::hosts::list(&pool).await?,
                HostsWhat::Remove { email } => zencast::cli::hosts::remove(&pool, &email).await?,
            }
        }
        Command::Bench {
            what: BenchWhat::Events { count, rooms },
        } => {
            zencast::cli::bench::events::run(&cli.config, count, rooms).await?;
            0
        }
        Command::Bench {
            what:
                BenchWhat::Uploads {
                    chunks,
                    chunk_mib,
                    concurrent,
                },
        } => {
            zencast::cli::bench::uploads::run(&cli.config, chunks, chunk_mib, concurrent).await?;
            0
        }
        Command::Bench {
            what:
                BenchWhat::Progressive {
                    people,
                    minutes,
                    real_time,
                    repeat,
                },
        } => {
            let runs = zencast::cli::bench::progressive::Runs {
                people,
                minutes,
                real_time,
                repeat: repeat.max(1),
            };
            zencast::cli::bench::progressive::run(&cli.config, &runs).await?;
            0
        }
        Command::Bench {
            what: BenchWhat::Render { people, seconds },
        } => {
            zencast::cli::bench::render::run(&cli.config, &people, seconds).await?;
            0
        }
        Command::Bench {
            what:
                BenchWhat::Relay {
                    rate,
                    seconds,
                    max_rooms,
                },
        } => {
            zencast::cli::bench::relay::run(&cli.config, rate, seconds, max_rooms).await?;
            0
        }
    };
    std::process::exit(code);
}

async fn serve(config: &Config, parts: Parts) -> anyhow::Result<i32> {
    let backends = Backends::connect(config).await?;
    let running = zencast::start(backends, parts).await?;
    if let Some(addr) = running.s3_addr {
        println!("zencast: embedded S3 store on http://{addr}");
    }
    if let Some(addr) = running.http_addr {
        // Tests and scripts wait for this line.
        println!("zencast: api listening on http://{addr}");
    }
    if let Some(link) = &running.first_run_link {
        println!("zencast: no host account yet; create the first one at {link}");
    }
    println!("zencast: ready ({})", describe(parts));
    zencast::run::until_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(0)
}

fn describe(p: Parts) -> String {
    let mut v = vec![];
    if p.api {
        v.push("api")
    }
    if p.relay {
        v.push("relay")
    }
    if p.projector {
        v.push("projector")
    }
    if p.render {
        v.push("render worker")
    }
    v.join(", ")
}
