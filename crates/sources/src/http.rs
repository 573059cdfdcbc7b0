//! The HTTP request loop the fetchers share: throttling and gateway answers
//! (429, 502, 503, 504) and connection failures are retried with `Retry-After`
//! or backoff, up to a bound; anything else comes back to the caller.

use std::time::Duration;

use scim_core::retry;
use tracing::warn;

/// Tries per request.
pub const MAX_ATTEMPTS: u32 = 5;

/// Why a request did not succeed, after the retries.
#[derive(Debug)]
pub enum Failure {
    /// The service answered with this status (and these headers and body).
    Status {
        status: u16,
        headers: reqwest::header::HeaderMap,
        body: Vec<u8>,
    },
    /// No answer: connection refused or reset, timeout. The message is the
    /// whole cause ("connection refused"), not "error sending request".
    Transport(String),
    /// The server's certificate was refused; not retried.
    Tls(scim_core::net::TlsRefusal),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status { status, .. } => write!(f, "HTTP {status}"),
            Failure::Transport(message) => f.write_str(message),
            Failure::Tls(refusal) => write!(f, "{refusal}"),
        }
    }
}

/// What a request that got no answer means: a refused certificate, or the
/// network cause, said in full.
pub fn transport_failure(e: &reqwest::Error) -> Failure {
    let chain = scim_core::net::error_chain(e);
    match scim_core::net::tls_problem(&chain) {
        Some(problem) => Failure::Tls(scim_core::net::TlsRefusal {
            host: e
                .url()
                .map(|u| scim_core::net::host_of(u.as_str()))
                .unwrap_or_default(),
            problem,
            // The HR systems are always verified; only a CA can be added.
            insecure_switch: None,
        }),
        None => Failure::Transport(scim_core::mask_url_credentials(&chain).into_owned()),
    }
}

/// Sends the request `build` makes, again while the answer says "later".
/// `service` and `what` name the call in the log lines.
pub async fn send(
    build: impl Fn() -> reqwest::RequestBuilder,
    service: &str,
    what: &str,
) -> Result<reqwest::Response, Failure> {
    let mut attempt = 1;
    loop {
        let wait = match build().send().await {
            Ok(resp) if resp.status().is_success() => return Ok(resp),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                if !retry::retryable_status(status) || attempt >= MAX_ATTEMPTS {
                    let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    return Err(Failure::Status {
                        status,
                        headers,
                        body,
                    });
                }
                warn!(
                    "{service} answered {status} to {what} (throttled); retrying (attempt {attempt} of {MAX_ATTEMPTS})"
                );
                headers
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry::parse_retry_after)
                    .unwrap_or_else(|| {
                        retry::backoff(Duration::from_secs(1), Duration::from_secs(60), attempt)
                    })
            }
            Err(e) => {
                let failure = transport_failure(&e);
                if matches!(failure, Failure::Tls(_)) || attempt >= MAX_ATTEMPTS {
                    return Err(failure);
                }
                warn!(
                    "{service}: {what} failed: {failure}; retrying (attempt {attempt} of {MAX_ATTEMPTS})"
                );
                retry::backoff(Duration::from_secs(1), Duration::from_secs(60), attempt)
            }
        };
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}
