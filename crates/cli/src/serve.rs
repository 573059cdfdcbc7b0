//! Serving HTTP to clients this project does not control: what http-service
//! and scim-server share.
//!
//! A connection must send a request's headers within the read timeout of
//! opening or of its previous answer, so idle and slow connections are
//! closed. At most so many connections are open (fewer when the open-file
//! limit is low); at the cap a new connection closes the oldest one that has
//! no request running, as nginx reuses idle connections (one that has just
//! opened gets a moment to send its request first), or is answered 503 when
//! every one is busy. When the service stops, connections finish the request
//! they are in and close. TLS (scim-server's own certificate files) is
//! optional; its handshake has the read timeout too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;
use tracing::{debug, warn};

/// `wanted` connections, lowered to what the open-file limit allows beside
/// the `reserved` files the service needs, so that accepting never fails for
/// want of a file descriptor. `setting` names the limit in the warning.
pub fn fit_to_file_limit(wanted: usize, reserved: u64, setting: &str) -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let Some(limit) = limit else {
        return wanted;
    };
    let fits = usize::try_from(limit.saturating_sub(reserved).max(4)).unwrap_or(usize::MAX);
    if fits < wanted {
        warn!(
            "{setting} lowered from {wanted} to {fits}: the open-file limit is {limit} (ulimit -n)"
        );
        return fits;
    }
    wanted
}

/// How long a new connection has to send its first request before, at the
/// cap, it may be closed to make room: a client sends its request within
/// milliseconds of connecting; one that sits silent is the one to close.
const FRESH: Duration = Duration::from_secs(1);

/// The open connections, oldest first (ids grow).
#[derive(Default)]
struct Connections {
    next: u64,
    open: BTreeMap<u64, Connection>,
    /// Told when a connection has closed.
    closed: Arc<Notify>,
}

#[derive(Clone)]
struct Connection {
    /// Requests being answered on it.
    busy: Arc<AtomicUsize>,
    /// Whether a request has come on it.
    used: Arc<AtomicBool>,
    opened: Instant,
    /// Closes it at once.
    close: Arc<Notify>,
}

impl Connection {
    fn new(now: Instant) -> Self {
        Self {
            busy: Arc::default(),
            used: Arc::default(),
            opened: now,
            close: Arc::default(),
        }
    }

    fn idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }

    /// Idle, and either done with a request or silent past [`FRESH`].
    fn closable(&self, now: Instant) -> bool {
        self.idle() && (self.used.load(Ordering::SeqCst) || now >= self.opened + FRESH)
    }
}

/// What to do with a new connection.
#[derive(Debug, PartialEq, Eq)]
enum Admit {
    Open(u64),
    /// At the cap, the others are new and may yet send their request: ask again then.
    Wait(Duration),
    /// Every connection is busy: answer 503.
    Refuse,
}

impl Connections {
    /// Makes room for a new connection: under the cap it is added; at the cap
    /// the oldest idle connection is closed for it, unless it is new (then
    /// the caller waits until it is not, or until one closes).
    fn admit(&mut self, cap: usize, now: Instant) -> (Admit, Option<Connection>) {
        if self.open.len() >= cap {
            let closable = self
                .open
                .iter()
                .find(|(_, c)| c.closable(now))
                .map(|(id, _)| *id);
            match closable.and_then(|id| self.open.remove(&id)) {
                Some(closed) => closed.close.notify_one(),
                None => {
                    let fresh = self
                        .open
                        .values()
                        .filter(|c| c.idle())
                        .map(|c| (c.opened + FRESH).saturating_duration_since(now))
                        .min();
                    return match fresh {
                        Some(wait) => (Admit::Wait(wait), None),
                        None => (Admit::Refuse, None),
                    };
                }
            }
        }
        let id = self.next;
        self.next += 1;
        let connection = Connection::new(now);
        self.open.insert(id, connection.clone());
        (Admit::Open(id), Some(connection))
    }

    /// Closes the oldest idle connection (to free a file descriptor).
    fn close_oldest_idle(&mut self) -> bool {
        let idle = self.open.iter().find(|(_, c)| c.idle()).map(|(id, _)| *id);
        match idle.and_then(|id| self.open.remove(&id)) {
            Some(closed) => {
                closed.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Counts a request on its connection while it is answered.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The answer to a connection over the cap when every open one is busy.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub content_type: &'static str,
    pub body: &'static str,
}

/// The accept loop and the connections' limits.
pub struct Server {
    router: Router,
    read_timeout: Duration,
    max_connections: usize,
    connections: Arc<Mutex<Connections>>,
    stopping: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    refusal: Refusal,
}

impl Server {
    pub fn new(
        router: Router,
        read_timeout: Duration,
        max_connections: usize,
        stopping: watch::Receiver<bool>,
        refusal: Refusal,
    ) -> Self {
        Self {
            router,
            read_timeout,
            max_connections: max_connections.max(1),
            connections: Arc::default(),
            stopping,
            tls: None,
            refusal,
        }
    }

    /// Serves HTTPS with `config` instead of plain HTTP.
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tokio_rustls::TlsAcceptor::from(config));
        self
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Connections> {
        // A panic while holding the lock leaves a table that is still whole.
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Accepts until told to stop; returns the connections' tasks, which
    /// finish their requests and close.
    pub async fn accept_until_stopped(
        &self,
        listener: tokio::net::TcpListener,
    ) -> tokio::task::JoinSet<()> {
        let mut tasks = tokio::task::JoinSet::new();
        let mut stopping = self.stopping.clone();
        loop {
            while tasks.try_join_next().is_some() {}
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopped(&mut stopping) => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors despite the cap (another part
                    // of the process): free one, and do not spin.
                    let freed = self.table().close_oldest_idle();
                    warn!(
                        "cannot accept a connection: {e}{}",
                        if freed {
                            "; closed the oldest idle one"
                        } else {
                            ""
                        }
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let admitted = loop {
                let (admit, closed) = {
                    let mut table = self.table();
                    (
                        table.admit(self.max_connections, Instant::now()),
                        table.closed.clone(),
                    )
                };
                match admit {
                    (Admit::Wait(wait), _) => tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = closed.notified() => {}
                        () = stopped(&mut stopping) => break None,
                    },
                    other => break Some(other),
                }
            };
            let Some(admitted) = admitted else { break };
            match admitted {
                (Admit::Open(id), Some(connection)) => {
                    let (router, read_timeout, stopping) = (
                        self.router.clone(),
                        self.read_timeout,
                        self.stopping.clone(),
                    );
                    let forget = Forget(id, self.connections.clone());
                    match &self.tls {
                        None => {
                            tasks.spawn(serve_connection(
                                stream,
                                router,
                                read_timeout,
                                connection,
                                stopping,
                                forget,
                            ));
                        }
                        Some(acceptor) => {
                            let acceptor = acceptor.clone();
                            tasks.spawn(async move {
                                let handshake =
                                    tokio::time::timeout(read_timeout, acceptor.accept(stream))
                                        .await;
                                match handshake {
                                    Ok(Ok(tls)) => {
                                        serve_connection(
                                            tls,
                                            router,
                                            read_timeout,
                                            connection,
                                            stopping,
                                            forget,
                                        )
                                        .await;
                                    }
                                    Ok(Err(e)) => debug!("TLS handshake failed: {e}"),
                                    Err(_) => debug!("TLS handshake timed out"),
                                }
                            });
                        }
                    }
                }
                _ => {
                    tasks.spawn(refuse(stream, self.refusal));
                }
            }
        }
        tasks
    }
}

/// Resolves once the service is stopping (the guard `wait_for` returns is
/// dropped here: it must not be held across an await).
pub async fn stopped(stopping: &mut watch::Receiver<bool>) {
    if stopping.wait_for(|s| *s).await.is_err() {
        // The sender is gone only when the service is ending anyway.
    }
}

/// Removes a connection from the table when its task ends.
struct Forget(u64, Arc<Mutex<Connections>>);

impl Drop for Forget {
    fn drop(&mut self) {
        let mut table = self
            .1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        table.open.remove(&self.0);
        table.closed.notify_one();
    }
}

/// Serves one connection until it closes, is closed for a newer one, or the
/// service stops (then its request in progress is finished first).
async fn serve_connection<S>(
    stream: S,
    router: Router,
    read_timeout: Duration,
    connection: Connection,
    mut stopping: watch::Receiver<bool>,
    _forget: Forget,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (busy, used) = (connection.busy.clone(), connection.used.clone());
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let busy = Busy::enter(&busy);
        used.store(true, Ordering::SeqCst);
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(Body::new)).await;
            drop(busy);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                debug!("connection closed: {e}");
            }
        }
        _ = connection.close.notified() => {
            // Idle by the table, yet its last answer may still be on its way
            // out (a request stops counting as busy when its answer is made,
            // not sent): finish writing it, then close, without reading another.
            debug!("closing an idle connection to make room for a new one");
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(read_timeout, conn.as_mut()).await;
        }
        _ = stopped(&mut stopping) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().await;
        }
    }
}

/// The answer to a connection over the cap when every open one is busy.
async fn refuse(mut stream: tokio::net::TcpStream, refusal: Refusal) {
    use tokio::io::AsyncWriteExt;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {}\r\ncontent-length: {}\r\nretry-after: 5\r\nconnection: close\r\n\r\n{}",
        refusal.content_type,
        refusal.body.len(),
        refusal.body
    );
    // Answer, then read what the client had sent before closing: a socket
    // closed with unread data is reset, and the client might lose the answer.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 8192];
        let mut read = 0;
        while read < 64 * 1024 {
            match tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? {
                0 => break,
                n => read += n,
            }
        }
        std::io::Result::Ok(())
    })
    .await;
}

/// A TLS configuration from a PEM certificate chain and its private key.
pub fn tls_config(cert_file: &str, key_file: &str) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("cannot read the certificate file {cert_file}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the certificate file {cert_file} is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "the certificate file {cert_file} holds no certificate"
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("cannot read a private key from {key_file}: {e}"))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "the certificate in {cert_file} and the key in {key_file} do not go together: {e}"
            )
        })
}

/// The credentials of a `Bearer` authorization; the scheme name is
/// case-insensitive (RFC 9110, section 11.1).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

/// Whether `given` is the token, compared without leaking through timing how
/// much of it matched, or its length: both are hashed to digests of one
/// length, which `subtle` compares in constant time (a hand-written loop may
/// be turned by the optimiser into one that stops at the first difference).
pub fn token_matches(given: &str, token: &scim_core::Secret) -> bool {
    use sha2::Digest;
    use subtle::ConstantTimeEq;
    let a = sha2::Sha256::digest(given.as_bytes());
    let b = sha2::Sha256::digest(token.expose().as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_an_idle_connection_makes_room_a_new_one_gets_time_and_busy_ones_stay() {
        let t0 = Instant::now();
        let mut table = Connections::default();
        let (_, used) = table.admit(2, t0);
        used.unwrap().used.store(true, Ordering::SeqCst);
        let (_, silent) = table.admit(2, t0);
        let silent = silent.unwrap();
        // The used, idle one (0) makes room.
        assert_eq!(table.admit(2, t0).0, Admit::Open(2));
        assert!(!table.open.contains_key(&0));
        // Now both are new: the next waits until the oldest has had its second.
        let later = t0 + Duration::from_millis(300);
        assert_eq!(
            table.admit(2, later).0,
            Admit::Wait(Duration::from_millis(700))
        );
        // A silent one past that is closed for it.
        assert_eq!(table.admit(2, t0 + FRESH).0, Admit::Open(3));
        assert!(!table.open.contains_key(&1));
        drop(silent);
        // Every open one busy: refused.
        for c in table.open.values() {
            c.busy.fetch_add(1, Ordering::SeqCst);
        }
        assert_eq!(table.admit(2, t0 + FRESH * 5).0, Admit::Refuse);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn token_comparison_needs_an_exact_match() {
        let token = scim_core::Secret::new("abc");
        assert!(token_matches("abc", &token));
        assert!(!token_matches("abd", &token));
        assert!(!token_matches("abcd", &token));
        assert!(!token_matches("", &token));
    }
}
