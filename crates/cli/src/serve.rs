//! Serving HTTP to clients this project does not control, with bounds:
//! a client must send a request's headers within a time limit (the same
//! limit closes a connection left idle between requests), only so many
//! connections are served at once (the next wait in the kernel's queue),
//! and on shutdown the connections finish the request they are in, for a
//! limited time. TLS is optional, from certificate files.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tracing::{debug, warn};

/// The bounds of a server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time to send a request's headers (and to finish a TLS handshake);
    /// also how long a connection may sit idle between requests.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// On shutdown, how long connections may take to finish their request.
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// connections finish their requests (up to `limits.shutdown_grace`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: the listener
                    // itself is fine, so wait a moment rather than spin.
                    warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true);
            let result = match acceptor {
                None => {
                    let conn = http.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let conn = http.serve_connection(TokioIo::new(tls), service);
                            watcher.watch(conn).await
                        }
                        Ok(Err(e)) => {
                            debug!("TLS handshake with {peer} failed: {e}");
                            Ok(())
                        }
                        Err(_) => {
                            debug!("TLS handshake with {peer} timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = result {
                debug!("connection from {peer} ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            warn!(
                "connections still open {} s after the shutdown began; closing them",
                limits.shutdown_grace.as_secs()
            );
        }
    }
}

/// The address a listener got (the port, when 0 was asked for).
pub fn bound(listener: &TcpListener, asked: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(asked)
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
/// much of it matched, or its length: the digests of both are compared, every
/// byte of them.
pub fn token_matches(given: &str, token: &scim_core::Secret) -> bool {
    use sha2::Digest;
    let a = sha2::Sha256::digest(given.as_bytes());
    let b = sha2::Sha256::digest(token.expose().as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

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
