//! When to try an HTTP request again, shared by every client (TimeCamp and the
//! HR systems): exponential backoff with jitter, and the server's `Retry-After`.

use std::time::Duration;

/// Longest `Retry-After` honoured as given; longer values are capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Statuses that mean "try again later": throttling and gateway trouble.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// A random wait between half and all of `base × 2^(attempt-1)`, capped, so
/// clients that failed together do not retry in step. `attempt` starts at 1.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(max);
    exp.mul_f64(0.5 + fastrand::f64() / 2.0)
}

/// A `Retry-After` value: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<f64>() {
        Duration::from_secs_f64(secs.max(0.0))
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default()
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let (base, max) = (Duration::from_millis(100), Duration::from_millis(350));
        for _ in 0..50 {
            let one = backoff(base, max, 1);
            assert!(one >= Duration::from_millis(50) && one <= Duration::from_millis(100));
            let three = backoff(base, max, 3);
            assert!(three >= Duration::from_millis(175) && three <= Duration::from_millis(350));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_caps_them() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("99999"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn only_throttling_and_gateway_errors_are_retried() {
        assert!([429, 502, 503, 504].into_iter().all(retryable_status));
        assert!(![400, 401, 403, 404, 500].into_iter().any(retryable_status));
    }
}
