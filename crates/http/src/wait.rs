//! How long to wait before the next request: the server's own word
//! (`Retry-After`, a rate-limit window's reset, a JSON `retry_after`), else
//! exponential backoff with jitter.
//!
//! Every time value comes from a server and is read defensively: any text is
//! accepted without a panic (`inf`, `NaN`, `1e20`, `-5`, a date in the year
//! 9999, garbage), and a value is capped while it is still a number, before it
//! becomes a [`Duration`]. A value that means nothing (`NaN`, garbage) counts
//! as absent, so the caller falls back to its backoff. A wait longer than the
//! cap is reported as such ([`ServerWait::exceeds_cap`]): the client does not
//! make it, and says how long the server asked for.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{DATE, HeaderMap, RETRY_AFTER};

/// Headers holding the epoch second at which a rate-limit window resets
/// (`X-RateLimit-Reset` of HiBob and others, Okta's `X-Rate-Limit-Reset`).
const RESET_HEADERS: [&str; 2] = ["x-ratelimit-reset", "x-rate-limit-reset"];
/// Headers holding the requests left in the window.
const REMAINING_HEADERS: [&str; 2] = ["x-ratelimit-remaining", "x-rate-limit-remaining"];
/// Error bodies larger than this are not searched for a `retry_after` field.
const BODY_HINT_LIMIT: usize = 64 * 1024;

/// A wait a server asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerWait {
    /// What the server asked for, in seconds; may be huge or infinite.
    pub asked_secs: f64,
    /// The request in range: at least zero, at most the cap.
    pub wait: Duration,
    /// Where the server said it, for messages.
    pub source: &'static str,
}

impl ServerWait {
    /// Whether the server asked for more than the cap (by more than rounding).
    pub fn exceeds_cap(&self) -> bool {
        self.asked_secs > self.wait.as_secs_f64() + 0.5
    }

    /// What the server asked for, for a message: "0.5 s", "7 s", "1e20 s", "ever".
    pub fn asked(&self) -> String {
        if self.asked_secs.is_infinite() {
            "for ever".into()
        } else if self.asked_secs >= 1e9 {
            format!("{:e} s", self.asked_secs)
        } else if self.asked_secs < 1.0 {
            format!("{:.1} s", self.asked_secs.max(0.0))
        } else {
            format!("{:.0} s", self.asked_secs)
        }
    }
}

/// A number of seconds in a header's text (`7`, `1.5`, `1e3`, `inf`); `None`
/// for anything else, `NaN` included.
fn seconds(text: &str) -> Option<f64> {
    let value: f64 = text.trim().parse().ok()?;
    (!value.is_nan()).then_some(value)
}

/// `secs` as a wait between zero and `cap`, converted only once it is in range.
fn capped(secs: f64, cap: Duration, source: &'static str) -> ServerWait {
    let cap_secs = cap.as_secs_f64();
    let in_range = if secs > 0.0 { secs.min(cap_secs) } else { 0.0 };
    ServerWait {
        asked_secs: secs,
        // In range by construction; the fallback only keeps the conversion total.
        wait: Duration::try_from_secs_f64(in_range).unwrap_or(cap),
        source,
    }
}

/// Seconds from `now` to `at`, negative when `at` is past.
fn seconds_between(now: SystemTime, at: SystemTime) -> f64 {
    match at.duration_since(now) {
        Ok(ahead) => ahead.as_secs_f64(),
        Err(past) => -past.duration().as_secs_f64(),
    }
}

/// The server's clock (its `Date` header) when it sends one, so that a
/// skewed local clock does not stretch or skip a wait; else this machine's.
fn server_now(headers: &HeaderMap) -> SystemTime {
    headers
        .get(DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
        .unwrap_or_else(SystemTime::now)
}

fn header_seconds(headers: &HeaderMap, names: &[&str]) -> Option<f64> {
    names.iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .and_then(seconds)
    })
}

/// `Retry-After`: a number of seconds, or an HTTP date (read against the
/// server's `Date`).
pub fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<ServerWait> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    if let Some(secs) = seconds(text) {
        return Some(capped(secs, cap, "Retry-After"));
    }
    let at = httpdate::parse_http_date(text.trim()).ok()?;
    Some(capped(
        seconds_between(server_now(headers), at),
        cap,
        "Retry-After",
    ))
}

/// How long until the rate-limit window resets (its reset header holds an
/// epoch second); at least a second, since the window turns at a second's start.
pub fn window_reset(headers: &HeaderMap, cap: Duration) -> Option<ServerWait> {
    let reset = header_seconds(headers, &RESET_HEADERS)?;
    let now = seconds_between(UNIX_EPOCH, server_now(headers));
    Some(capped(
        (reset - now).max(1.0),
        cap,
        "the reset of its rate-limit window",
    ))
}

/// Whether an answer says no request is left in the rate-limit window.
pub fn window_spent(headers: &HeaderMap) -> bool {
    header_seconds(headers, &REMAINING_HEADERS).is_some_and(|left| left <= 0.0)
}

/// A `retry_after` number in a JSON error body (TimeCamp's edge answers a 502
/// with `{"retry_after": 60, ...}` instead of a header).
pub fn body_retry_after(body: &[u8], cap: Duration) -> Option<ServerWait> {
    if body.len() > BODY_HINT_LIMIT {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let secs = match value.get("retry_after")? {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => seconds(s)?,
        _ => return None,
    };
    (!secs.is_nan()).then(|| capped(secs, cap, "retry_after in its answer"))
}

/// A random wait between half and all of `base × 2^(attempt-1)`, capped at
/// `max`, so clients that failed together do not retry in step. `attempt`
/// starts at 1.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(max);
    exp.mul_f64(0.5 + fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const CAP: Duration = Duration::from_secs(300);

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn retry_after_of(value: &str) -> Option<Duration> {
        retry_after(&headers(&[("retry-after", value)]), CAP).map(|w| w.wait)
    }

    #[test]
    fn retry_after_in_seconds_is_read_and_capped() {
        assert_eq!(retry_after_of("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after_of(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after_of("99999"), Some(CAP));
    }

    #[test]
    fn hostile_retry_after_values_neither_panic_nor_wait_past_the_cap() {
        for huge in [
            "inf",
            "+inf",
            "infinity",
            "1e20",
            "1e308",
            "184467440737095516160",
        ] {
            let wait = retry_after(&headers(&[("retry-after", huge)]), CAP).unwrap();
            assert_eq!(wait.wait, CAP, "{huge}");
            assert!(wait.exceeds_cap(), "{huge}");
        }
        for nothing in ["-5", "-inf", "0", "-0"] {
            assert_eq!(retry_after_of(nothing), Some(Duration::ZERO), "{nothing}");
        }
        let at_cap = retry_after(&headers(&[("retry-after", "300")]), CAP).unwrap();
        assert!(!at_cap.exceeds_cap());
        let inf = retry_after(&headers(&[("retry-after", "inf")]), CAP).unwrap();
        assert_eq!(inf.asked(), "for ever");
        let huge = retry_after(&headers(&[("retry-after", "1e20")]), CAP).unwrap();
        assert_eq!(huge.asked(), "1e20 s");
        for meaningless in ["NaN", "soon", "", "0x10", "Wed, 99 Foo 2015"] {
            assert_eq!(retry_after_of(meaningless), None, "{meaningless}");
        }
    }

    #[test]
    fn retry_after_as_a_date_is_read_against_the_servers_clock() {
        let h = headers(&[
            ("date", "Tue, 01 Sep 2026 10:00:00 GMT"),
            ("retry-after", "Tue, 01 Sep 2026 10:00:09 GMT"),
        ]);
        assert_eq!(
            retry_after(&h, CAP).map(|w| w.wait),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            retry_after_of("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past: no wait"
        );
        assert_eq!(
            retry_after_of("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(CAP),
            "the year 9999"
        );
    }

    #[test]
    fn the_reset_time_is_read_against_the_servers_clock() {
        let date = ("date", "Tue, 01 Sep 2026 10:00:00 GMT");
        let wait = |reset: &str| {
            window_reset(&headers(&[date, ("x-rate-limit-reset", reset)]), CAP).map(|w| w.wait)
        };
        assert_eq!(wait("1788256807"), Some(Duration::from_secs(7)));
        assert_eq!(wait("1788256000"), Some(Duration::from_secs(1)), "past");
        assert_eq!(wait("1788266800"), Some(CAP), "far ahead");
        assert_eq!(wait("1e20"), Some(CAP));
        assert_eq!(wait("inf"), Some(CAP));
        assert_eq!(wait("-inf"), Some(Duration::from_secs(1)));
        assert_eq!(wait("NaN"), None);
        assert_eq!(wait("tomorrow"), None);
        assert_eq!(window_reset(&HeaderMap::new(), CAP), None);
        // A garbage Date falls back to this machine's clock.
        let garbage_date = headers(&[("date", "yesterday"), ("x-ratelimit-reset", "1")]);
        assert_eq!(
            window_reset(&garbage_date, CAP).map(|w| w.wait),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn a_spent_window_is_zero_or_fewer_requests_left() {
        assert!(window_spent(&headers(&[("x-rate-limit-remaining", "0")])));
        assert!(window_spent(&headers(&[("x-ratelimit-remaining", "-1")])));
        assert!(!window_spent(&headers(&[("x-rate-limit-remaining", "3")])));
        assert!(!window_spent(&headers(&[(
            "x-rate-limit-remaining",
            "NaN"
        )])));
        assert!(!window_spent(&HeaderMap::new()));
    }

    #[test]
    fn a_retry_after_in_the_body_is_read_and_capped() {
        let w = |body: &str| body_retry_after(body.as_bytes(), CAP).map(|w| w.wait);
        assert_eq!(
            w(r#"{"retryable": true, "retry_after": 60}"#),
            Some(Duration::from_secs(60))
        );
        assert_eq!(w(r#"{"retry_after": 1e300}"#), Some(CAP));
        assert_eq!(w(r#"{"retry_after": "inf"}"#), Some(CAP));
        assert_eq!(w(r#"{"retry_after": "NaN"}"#), None);
        assert_eq!(w(r#"{"retry_after": null}"#), None);
        assert_eq!(w("<html>"), None);
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let (base, max) = (Duration::from_millis(100), Duration::from_millis(350));
        for _ in 0..50 {
            let one = backoff(base, max, 1);
            assert!(one >= Duration::from_millis(50) && one <= Duration::from_millis(100));
            let three = backoff(base, max, 3);
            assert!(three >= Duration::from_millis(175) && three <= Duration::from_millis(350));
            assert!(backoff(base, max, u32::MAX) <= max);
        }
    }
}
