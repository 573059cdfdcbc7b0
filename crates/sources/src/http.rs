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
    /// No answer: connection refused or reset, timeout.
    Transport(String),
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
                if attempt >= MAX_ATTEMPTS {
                    return Err(Failure::Transport(e.to_string()));
                }
                warn!(
                    "{service}: {what} failed: {e}; retrying (attempt {attempt} of {MAX_ATTEMPTS})"
                );
                retry::backoff(Duration::from_secs(1), Duration::from_secs(60), attempt)
            }
        };
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}
