//! An API behind an OAuth 2.0 access token, for the sources that get one
//! from a token endpoint (NetSuite, Google, Personio): the token is asked
//! for once, kept for its lifetime (less a minute), and renewed once when
//! the API answers 401 (it expired, or was revoked, early). Listings are
//! walked with the shared paging ([`scim_http::Pages`]), each page sent
//! through the same renewal. Retries, waits, size limits and the paging
//! checks are the HTTP layer's; this adds only the token.
//!
//! A token answer is never quoted in an error, since it holds the token;
//! and its lifetime is read with care: a lifetime beyond any clock is capped,
//! one that is not a number of seconds is warned about.

use std::time::{Duration, Instant};

use scim_core::Secret;
use scim_http::{Client, Error, ErrorKind, Pages, Paging, Request, Response};
use serde_json::Value;
use tracing::{info, warn};

/// Renewed this long before the token endpoint said it expires.
const EARLY: Duration = Duration::from_secs(60);

/// The longest a token is kept, whatever the endpoint says: longer than any
/// run, and short enough that no clock overflows when it is added.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The lifetime taken when the answer gives none (or none that can be read).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// A way to get an access token.
pub trait TokenSource {
    /// A new token and how long it lives.
    fn token(&mut self) -> impl Future<Output = Result<(Secret, Duration), Error>>;
}

/// Reads a token endpoint's answer: `access_token`, and `expires_in`
/// seconds (an hour when absent; at most [`MAX_LIFETIME`]). An answer that
/// is not JSON is refused without showing it: it may hold the token.
pub fn read_token(service: &str, response: &Response) -> Result<(Secret, Duration), Error> {
    let body: Value = serde_json::from_slice(response.body()).map_err(|e| {
        response.error(format!(
            "not JSON ({e}); the answer is not shown, as it may hold a token"
        ))
    })?;
    let token = body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| response.error("the answer has no access_token"))?;
    let lifetime = match &body["expires_in"] {
        Value::Null => DEFAULT_LIFETIME,
        given => match given
            .as_f64()
            .or_else(|| given.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|s| *s >= 0.0)
        {
            // Capped before it becomes a Duration, which a lifetime past its
            // range (1e300, or infinity from text) would not fit.
            Some(seconds) => Duration::from_secs_f64(seconds.min(MAX_LIFETIME.as_secs_f64())),
            None => {
                warn!(
                    "{service}'s token answer has expires_in {given}, not a number of seconds; \
                     the token is kept for an hour, or until it is refused"
                );
                DEFAULT_LIFETIME
            }
        },
    };
    Ok((Secret::new(token), lifetime))
}

/// When a token of `lifetime` is renewed: `early` before it expires, and
/// never further ahead than [`MAX_LIFETIME`].
pub fn renew_at(lifetime: Duration, early: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(lifetime.min(MAX_LIFETIME).saturating_sub(early))
        .unwrap_or(now)
}

/// An API client with its token.
pub struct Authorized<T> {
    pub api: Client,
    source: T,
    token: Option<(Secret, Instant)>,
    /// Tokens asked for in this run.
    pub tokens: u32,
}

impl<T: TokenSource> Authorized<T> {
    pub fn new(api: Client, source: T) -> Self {
        Self {
            api,
            source,
            token: None,
            tokens: 0,
        }
    }

    /// The kept token, or a new one when there is none, it is about to
    /// expire, or `fresh`.
    async fn bearer(&mut self, fresh: bool) -> Result<Secret, Error> {
        if !fresh
            && let Some((token, until)) = &self.token
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.source.token().await?;
        self.tokens += 1;
        let until = renew_at(lifetime, EARLY);
        self.token = Some((token.clone(), until));
        Ok(token)
    }

    /// Sends `request` with the token; a 401 gets one new token.
    pub async fn send(&mut self, request: &Request) -> Result<Response, Error> {
        let mut fresh = false;
        loop {
            let token = self.bearer(fresh).await?;
            match self.api.send(&request.clone().bearer(&token)).await {
                Err(e) if e.status() == Some(401) && !fresh => {
                    info!(
                        "{}: the access token was refused; asking for a new one",
                        self.api.options().service
                    );
                    fresh = true;
                }
                result => return result,
            }
        }
    }

    /// Every item of a listing, from `request`'s URL, page after page.
    pub async fn all(&mut self, request: &Request, paging: Paging) -> Result<Vec<Value>, Error> {
        let mut pages = Pages::new(request.url().clone(), paging);
        let mut items = Vec::new();
        while let Some(url) = pages.next_url() {
            let call = format!("{}, page {}", request.call(), pages.page());
            let response = self.send(&request.to(url.clone(), call.clone())).await?;
            let page = pages
                .accept(response.headers(), response.body())
                .map_err(|e| response.failure(ErrorKind::Paging(e)))?;
            items.extend(page);
            info!(
                "{}: {} read so far ({call})",
                self.api.options().service,
                items.len()
            );
        }
        Ok(items)
    }
}
