//! The HTTP request loop the fetchers share: throttling and gateway answers
//! (429, 502, 503, 504) and connection failures are retried with `Retry-After`,
//! the rate-limit window's reset time (`X-RateLimit-Reset`, Okta's
//! `X-Rate-Limit-Reset`) or backoff, up to a bound; anything else comes back
//! to the caller. An answer that says no request is left in the window makes
//! the loop wait for the reset before the caller's next request.

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

/// Names of the header holding the epoch second a rate-limit window resets.
const RESET_HEADERS: [&str; 2] = ["x-ratelimit-reset", "x-rate-limit-reset"];
const REMAINING_HEADERS: [&str; 2] = ["x-ratelimit-remaining", "x-rate-limit-remaining"];
/// The longest wait for a window to reset.
const MAX_RESET_WAIT: Duration = Duration::from_secs(60);

fn header_number(headers: &reqwest::header::HeaderMap, names: &[&str]) -> Option<i64> {
    names.iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    })
}

/// How long until the rate-limit window resets, from the reset header
/// (epoch seconds) and the server's clock (`Date`) when it sends one, so a
/// skewed local clock does not matter; at least a second, at most a minute.
fn reset_wait(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let reset = header_number(headers, &RESET_HEADERS)?;
    let now = headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        .map(|d| d.timestamp())
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let secs = u64::try_from(reset.saturating_sub(now)).unwrap_or(0);
    Some(Duration::from_secs(secs.max(1)).min(MAX_RESET_WAIT))
}

/// Whether the answer says the window has no request left.
fn window_spent(headers: &reqwest::header::HeaderMap) -> bool {
    header_number(headers, &REMAINING_HEADERS) == Some(0)
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
            Ok(resp) if resp.status().is_success() => {
                if window_spent(resp.headers())
                    && let Some(wait) = reset_wait(resp.headers())
                {
                    warn!(
                        "{service}: rate limit reached after {what}; waiting {}s for the window to reset",
                        wait.as_secs()
                    );
                    tokio::time::sleep(wait).await;
                }
                return Ok(resp);
            }
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
                    .or_else(|| reset_wait(&headers))
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_reset_time_is_read_against_the_servers_clock() {
        let h = headers(&[
            ("date", "Tue, 01 Sep 2026 10:00:00 GMT"),
            ("x-rate-limit-reset", "1788256807"),
        ]);
        assert_eq!(reset_wait(&h), Some(Duration::from_secs(7)));
        let past = headers(&[
            ("date", "Tue, 01 Sep 2026 10:00:00 GMT"),
            ("x-ratelimit-reset", "1788256000"),
        ]);
        assert_eq!(reset_wait(&past), Some(Duration::from_secs(1)));
        let far = headers(&[
            ("date", "Tue, 01 Sep 2026 10:00:00 GMT"),
            ("x-ratelimit-reset", "1788266800"),
        ]);
        assert_eq!(reset_wait(&far), Some(MAX_RESET_WAIT));
        assert_eq!(reset_wait(&HeaderMap::new()), None);
        assert!(window_spent(&headers(&[("x-rate-limit-remaining", "0")])));
        assert!(!window_spent(&headers(&[("x-rate-limit-remaining", "3")])));
    }
}
