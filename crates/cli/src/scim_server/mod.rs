//! `scim-server`: a SCIM 2.0 endpoint that Entra ID and Okta provision
//! TimeCamp through.
//!
//! A provider's pushes change the pushed population ([`store`]), which is
//! saved before each answer; after a quiet period the usual prepare and sync
//! run on it in-process ([`pipeline`]), so TimeCamp is changed by the same
//! rules, guards, lock, journal and alerts as from cron. The protocol itself
//! is the pure crate `scim-protocol`; [`http`] maps routes onto it.
//!
//! SIGTERM (or Ctrl-C): no new connection is taken, the requests in flight
//! are answered (10 s at most), a sync in progress stops after its requests
//! in flight (as sync-users does on SIGTERM), the population is saved, and
//! the process exits 0. Changes a sync did not finish are synced after the
//! next start.

pub mod http;
pub mod pipeline;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use scim_core::settings::{PrepareSettings, StorageSettings, SyncSettings, TimecampApi};
use scim_core::{ConfigError, Env, Secret};
use scim_protocol::GroupSource;
use tokio::sync::watch;
use tracing::{info, warn};

/// Be a SCIM 2.0 endpoint (RFC 7643, 7644) for Entra ID and Okta: their pushes
/// become var/users.json, and after a quiet period the usual prepare and sync
/// make TimeCamp match it.
///
/// The SCIM base URL is https://<host>/scim/v2 (the start-up line names it);
/// GET /health answers without a token.
#[derive(Debug, Parser)]
#[command(
    name = "scim-server",
    version,
    override_usage = "scim-server [--debug]",
    after_help = scim_core::registry::short_help("scim-server"),
    after_long_help = scim_core::registry::long_help("scim-server")
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

/// Connections served at once; more wait in the kernel's queue (which holds
/// [`BACKLOG`]). Below the usual limit of 1,024 open files.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections the kernel queues for the server beyond those it serves.
const BACKLOG: u32 = 4096;
/// Time to send a request's headers, and most idle time between requests.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// On SIGTERM, time for the requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Open files the server needs besides its connections: the listener, the
/// runtime, the log, the stage files and the sync's TimeCamp connections.
const RESERVED_FILES: u64 = 64;
/// Shortest bearer token accepted.
const MIN_TOKEN: usize = 16;

/// The endpoint's own settings.
#[derive(Debug)]
pub struct Settings {
    pub token: Secret,
    pub addr: SocketAddr,
    pub delay: Duration,
    pub groups: GroupSource,
    /// Certificate chain and private key files, for TLS without a proxy.
    pub tls: Option<(String, String)>,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let token = env
            .get("SCIM_BEARER_TOKEN")
            .map(Secret::new)
            .ok_or(ConfigError::Missing {
                var: "SCIM_BEARER_TOKEN",
                why: "the identity provider authenticates with it, and anyone without it must be \
                      refused; set a long random token (e.g. `openssl rand -hex 32`) here and as the \
                      secret token in Entra ID or Okta",
            })?;
        if token.expose().len() < MIN_TOKEN {
            return Err(ConfigError::Invalid {
                var: "SCIM_BEARER_TOKEN",
                value: "***".into(),
                expected: "at least 16 characters (e.g. `openssl rand -hex 32`)",
            });
        }
        let port: u16 = env
            .int(
                "SCIM_PORT",
                "a TCP port number (0-65535; 0 picks a free one)",
            )?
            .unwrap_or(8282);
        let host = env.string("SCIM_HOST", "127.0.0.1");
        let addr = format!("{host}:{port}")
            .parse()
            .or_else(|_| format!("[{host}]:{port}").parse())
            .map_err(|_| ConfigError::Invalid {
                var: "SCIM_HOST",
                value: host.clone(),
                expected: "an IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0",
            })?;
        let delay = env
            .int::<u64>("SCIM_SYNC_DELAY_SECONDS", "a whole number of seconds")?
            .unwrap_or(30);
        let groups = match env
            .get("SCIM_GROUP_SOURCE")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("department") => GroupSource::Department,
            Some("groups") => GroupSource::Groups,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "SCIM_GROUP_SOURCE",
                    value: other.to_owned(),
                    expected: "department or groups",
                });
            }
        };
        let tls = match (env.get("SCIM_TLS_CERT_FILE"), env.get("SCIM_TLS_KEY_FILE")) {
            (None, None) => None,
            (Some(c), Some(k)) => Some((c.to_owned(), k.to_owned())),
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    var: "SCIM_TLS_KEY_FILE",
                    why: "SCIM_TLS_CERT_FILE is set: TLS needs the certificate's private key too",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    var: "SCIM_TLS_CERT_FILE",
                    why: "SCIM_TLS_KEY_FILE is set: TLS needs the certificate too",
                });
            }
        };
        Ok(Self {
            token,
            addr,
            delay: Duration::from_secs(delay),
            groups,
            tls,
        })
    }
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    let settings = Settings::from_env(&env)?;
    // Everything the sync will need is checked now, not at the first push.
    let timecamp = TimecampApi::from_env(&env)?;
    timecamp.require_api()?;
    let prepare_settings = PrepareSettings::from_env(&env)?;
    let prepare = crate::prepare::options(&prepare_settings)?;
    let sync = SyncSettings::from_env(&env)?;
    let lock_wait = Duration::from_secs(scim_core::settings::lock_wait_seconds(&env)?);
    let notify = crate::notify::NotifySettings::from_env(&env)?;
    let tls = settings
        .tls
        .as_ref()
        .map(|(cert, key)| crate::serve::tls_config(cert, key).map(Arc::new))
        .transpose()
        .map_err(|message| ConfigError::Rule {
            var: "SCIM_TLS_CERT_FILE",
            message,
        })?;
    let storage_settings = StorageSettings::from_env(&env)?;
    let storage: Arc<dyn scim_core::storage::Storage> =
        Arc::from(crate::open_storage(&storage_settings).await?);
    let lock = crate::open_lock(&storage_settings).await?;
    let store = store::Store::open(storage.clone()).await?;

    let listener = listen(settings.addr)
        .with_context(|| format!("cannot listen on {} (SCIM_HOST, SCIM_PORT)", settings.addr))?;
    let bound = listener.local_addr().unwrap_or(settings.addr);
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!(
        "scim-server listening on {scheme}://{bound}; SCIM base URL {scheme}://{bound}{} \
         (give the identity provider this path on your public host name); syncs {} s after the last change; \
         groups from {}",
        http::BASE_PATH,
        settings.delay.as_secs(),
        match settings.groups {
            GroupSource::Department => "the enterprise department",
            GroupSource::Groups => "the pushed groups",
        }
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_flag = scim_sync::StopFlag::default();
    // The writer stops last, once the sync has recorded what it did.
    let (writer_stop, writer_stop_rx) = watch::channel(false);
    let writer = tokio::spawn(store.clone().run_writer(writer_stop_rx));
    let pipeline = pipeline::Pipeline {
        store: store.clone(),
        storage,
        timecamp,
        prepare_settings,
        prepare,
        sync,
        lock_wait,
        groups: settings.groups,
        notify,
        stop: stop_flag.clone(),
        lock,
    };
    let app = Arc::new(http::App {
        store: store.clone(),
        token: settings.token,
        tls: tls.is_some(),
        turns: Arc::new(tokio::sync::Semaphore::new(http::MAX_IN_FLIGHT)),
    });
    let max_connections = crate::serve::fit_to_file_limit(
        MAX_CONNECTIONS,
        RESERVED_FILES,
        "scim-server's connection limit",
    );
    let mut server = crate::serve::Server::new(
        http::router(app),
        HEADER_TIMEOUT,
        max_connections,
        stop_rx.clone(),
        crate::serve::Refusal {
            content_type: "application/scim+json",
            body: r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"503","detail":"too many connections; try again later"}"#,
        },
    );
    if let Some(tls) = tls {
        server = server.with_tls(tls);
    }
    tokio::spawn(stop_on_signal(stop_tx));
    let serving = async {
        let mut tasks = server.accept_until_stopped(listener).await;
        info!("Stopping: a sync in progress stops after its requests in flight");
        stop_flag.request();
        // Connections finish the request they are in and close.
        if tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            warn!(
                "requests still open {} s after the stop began; closing them",
                SHUTDOWN_GRACE.as_secs()
            );
        }
    };
    // The sync runs on this task, beside the server (whose connections have
    // tasks of their own). A sync stops between requests; one still reading
    // TimeCamp is left when the time is up: reading changes nothing, and the
    // next start syncs again.
    let mut stopped = stop_rx.clone();
    let sync = async {
        tokio::select! {
            () = pipeline.run(settings.delay, stop_rx) => {}
            () = async {
                crate::serve::stopped(&mut stopped).await;
                tokio::time::sleep(SHUTDOWN_GRACE * 2).await;
            } => warn!("the sync did not stop in time; it runs again after the next start"),
        }
    };
    tokio::join!(serving, sync);
    let _ = writer_stop.send(true);
    match tokio::time::timeout(SHUTDOWN_GRACE, writer).await {
        Ok(_) => {}
        Err(_) => anyhow::bail!(
            "the last changes could not be saved before stopping ({}); the provider sends them again",
            store
                .last_save_error()
                .unwrap_or_else(|| "storage did not answer".into())
        ),
    }
    info!("scim-server stopped");
    Ok(())
}

/// A listening socket with a long queue: a provider's burst of connections
/// waits there instead of having its connection attempts dropped and retried
/// seconds later.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Waits for SIGTERM (Docker, Kubernetes) or Ctrl-C, then tells everyone to stop.
async fn stop_on_signal(stop: watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let why = match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => "SIGTERM received",
            _ = tokio::signal::ctrl_c() => "Interrupted",
        },
        Err(e) => {
            warn!("cannot watch for SIGTERM: {e}; only Ctrl-C stops the server gracefully");
            let _ = tokio::signal::ctrl_c().await;
            "Interrupted"
        }
    };
    info!("{why}");
    let _ = stop.send(true);
}
