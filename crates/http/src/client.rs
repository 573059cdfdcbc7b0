//! The client: one `reqwest` set-up, and the one loop that sends a request,
//! waits and retries.

use std::error::Error as StdError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::time::Instant;
use tracing::{debug, info, warn};
use url::Url;

use crate::dns::{NameNotResolved, Resolver};
use crate::error::{Context, Error, ErrorKind, Hints, RedirectRefused, WaitRefused};
use crate::json::{DEFAULT_MAX_JSON_MEMORY, Meter, ParseError};
use crate::paging::{Next, Pages, Paging};
use crate::request::{Auth, Body, Hidden, Repeat, Request};
use crate::tls::{self, TlsRefusal};
use crate::wait::{self, ServerWait};

/// The largest answer read by default: far above any page or listing the
/// supported APIs return (a TimeCamp account of 10,000 users lists in about
/// 3 MiB), and small enough that a hostile or broken server cannot exhaust
/// memory.
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024 * 1024;
/// The most of an error answer read: enough for any error message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// The longest URL the HTTP library puts in a request line.
const MAX_URL_LENGTH: usize = 65_534;
/// Redirects followed (same origin only).
pub(crate) const MAX_REDIRECTS: usize = 5;
/// How long a request may go unanswered before the run says so, at most.
const SLOW_NOTICE: Duration = Duration::from_secs(10);
/// The default [`RetryPolicy::wait_budget`]: 15 minutes. An hourly job (a
/// fetch, then a sync, each with its own clients) still ends well within its
/// hour, while a run rides out any ordinary rate limit: a window that resets
/// every minute costs at most a minute per window, and fifteen of them fit,
/// as do three of the longest waits a server may ask for
/// ([`RetryPolicy::max_wait`]). A first import cut short by it is finished by
/// the next run.
pub const DEFAULT_WAIT_BUDGET: Duration = Duration::from_secs(15 * 60);

/// When and how often to try a request again; one policy for every client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest wait a server may ask for (`Retry-After`, a rate-limit
    /// reset); longer requests are cut to this and said so.
    pub max_wait: Duration,
    /// The most time one client (one run) spends on requests that got no
    /// answer (timeouts, refused or reset connections) and the waits after
    /// them. Past it, such a failure is final: a service that never answers
    /// fails the run in bounded time instead of once per request. Throttling
    /// does not count: a server that answers "later" is alive.
    pub unanswered_budget: Duration,
    /// The most time one client (one run) spends waiting because the
    /// service answered "not now": the waits after a 429, a 502, 503 or 504
    /// and a refusal that passes ([`crate::TransientRefusal`]), whether the
    /// service said how long (`Retry-After`, a reset) or not, and the waits
    /// for a spent rate-limit window. Waits made side by side by concurrent
    /// requests count once (it is the time the run's clock sees). A wait
    /// that would end past it is not made: the call fails at once, saying how
    /// long the run waited and what the service asked. A service that keeps
    /// answering "in 5 minutes" cannot stretch a run to hours.
    pub wait_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_wait: Duration::from_secs(300),
            unanswered_budget: Duration::from_secs(120),
            wait_budget: DEFAULT_WAIT_BUDGET,
        }
    }
}

/// Where a service puts the explanation of an error: JSON pointers into its
/// error body, then headers, tried in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorText {
    pub json: &'static [&'static str],
    pub headers: &'static [&'static str],
}

/// Everything a client is, declared once per service.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The service's name in messages: `TimeCamp`, `BambooHR`.
    pub service: &'static str,
    /// The timeout of each attempt, from sending to the end of the answer.
    /// Waits between attempts are not part of it.
    pub timeout: Duration,
    /// Whether certificates are checked (the switch is [`Hints::insecure_switch`]).
    pub verify_tls: bool,
    pub retry: RetryPolicy,
    pub hints: Hints,
    pub error_text: ErrorText,
    /// The largest successful answer read ([`DEFAULT_MAX_BODY`]); enforced
    /// while the answer streams in.
    pub max_body: u64,
    /// The URL is a secret (a webhook's key is in its path): messages and
    /// logs name its host only.
    pub secret_url: bool,
    /// The most memory an answer read with [`Response::json`] may take once
    /// parsed ([`DEFAULT_MAX_JSON_MEMORY`]; a listing's bound is its
    /// [`Paging::max_memory`]).
    pub max_json_memory: u64,
}

impl ClientOptions {
    /// Options with the defaults: one-minute timeout, the default retry
    /// policy, [`DEFAULT_MAX_BODY`], certificates checked.
    pub fn new(service: &'static str, hints: Hints) -> Self {
        Self {
            service,
            timeout: Duration::from_secs(60),
            verify_tls: true,
            retry: RetryPolicy::default(),
            hints,
            error_text: ErrorText::default(),
            max_body: DEFAULT_MAX_BODY,
            secret_url: false,
            max_json_memory: DEFAULT_MAX_JSON_MEMORY,
        }
    }
}

/// Requests sent, for the run summary and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestCounts {
    pub reads: u64,
    pub writes: u64,
    pub retries: u64,
}

#[derive(Debug, Default)]
struct State {
    reads: AtomicU64,
    writes: AtomicU64,
    retries: AtomicU64,
    /// Milliseconds spent on unanswered requests and the waits after them.
    unanswered_ms: AtomicU64,
    /// Whether a slow request was already reported (once per run is enough).
    slow_reported: AtomicBool,
    /// No request before this instant: the rate-limit window is spent.
    not_before: Mutex<Option<(Instant, ServerWait)>>,
    /// The time spent waiting because the service said "not now".
    waits: Mutex<Waits>,
}

/// The time a client spent waiting because its service said "not now": the
/// union of its waits, so that waits made side by side by concurrent
/// requests count once, as the run's clock sees them.
#[derive(Debug, Default)]
struct Waits {
    /// Waits in progress.
    inside: u32,
    /// When the waits in progress began (the first of them).
    since: Option<Instant>,
    /// When the last of the waits in progress is to end.
    until: Option<Instant>,
    /// Waited before `since`.
    total: Duration,
}

impl Waits {
    /// The time waited so far.
    fn spent(&self, now: Instant) -> Duration {
        self.total
            + self
                .since
                .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// The time waited once the waits in progress, and one of `wait` from
    /// `now`, have ended.
    fn spent_after(&self, now: Instant, wait: Duration) -> Duration {
        let end = now + wait;
        match (self.since, self.until) {
            (Some(since), Some(until)) => {
                self.total + until.max(end).saturating_duration_since(since)
            }
            _ => self.total + wait,
        }
    }
}

/// A wait in progress, counted in [`Waits`] until it ends or its request is
/// dropped.
struct Waiting<'a> {
    state: &'a State,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waits = lock(&self.state.waits);
        waits.inside = waits.inside.saturating_sub(1);
        if waits.inside == 0
            && let Some(since) = waits.since.take()
        {
            waits.total += Instant::now().saturating_duration_since(since);
            waits.until = None;
        }
    }
}

/// A lock whose holder cannot leave its data half-changed (each holder
/// changes it in one step), so a poisoned one is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A client of one service. Cheap to clone; clones share the connections,
/// the rate-limit window, the counters and the unanswered budget.
#[derive(Clone)]
pub struct Client {
    /// For reads (GET, HEAD).
    http: reqwest::Client,
    /// For everything else: the same, but following only the redirects that
    /// keep the method and the body (307, 308).
    http_writes: reqwest::Client,
    options: Arc<ClientOptions>,
    state: Arc<State>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("service", &self.options.service)
            .finish_non_exhaustive()
    }
}

/// A successful answer, read whole (within the size limit).
#[derive(Debug)]
pub struct Response {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
    context: Context,
    /// The request's credentials, hidden from errors about this answer.
    secrets: Hidden,
    /// The most memory [`Response::json`] may take.
    max_json_memory: u64,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as JSON; a body that is not JSON is a [`ErrorKind::Decode`],
    /// one that would take more than [`ClientOptions::max_json_memory`] once
    /// parsed an [`ErrorKind::TooMuchMemory`] (parsing stops there).
    pub fn json(&self) -> Result<Value, Error> {
        let mut meter = Meter::new(self.max_json_memory, u64::MAX);
        crate::json::value(&self.body, &mut meter).map_err(|e| match e {
            ParseError::Over(_) => self.failure(ErrorKind::TooMuchMemory {
                limit: self.max_json_memory,
            }),
            ParseError::Syntax(e) => {
                let head =
                    String::from_utf8_lossy(&self.body[..self.body.len().min(120)]).into_owned();
                self.error(format!("not JSON ({e}): {head:?}"))
            }
        })
    }

    /// A [`ErrorKind::Decode`] for this answer: it is not what the API documents.
    pub fn error(&self, message: impl Into<String>) -> Error {
        self.failure(ErrorKind::Decode {
            message: message.into(),
        })
    }

    /// An error of any kind about this answer (a page that cannot be walked).
    pub fn failure(&self, kind: ErrorKind) -> Error {
        Error::new(self.context.clone(), kind).redacted(&self.secrets)
    }
}

/// How one attempt went wrong.
enum Failure {
    /// Retrying cannot help (a certificate, a name that does not resolve, a
    /// body too large, a redirect elsewhere).
    Final(ErrorKind),
    /// The request did not leave this machine: safe to send again, whatever it is.
    NotSent(ErrorKind),
    /// The request may have reached the server.
    MaybeSent(ErrorKind),
}

/// A status answer, before it is judged.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Self, Error> {
        if !options.verify_tls {
            warn!(
                "TLS certificate verification is OFF for {}{}: its credentials could be intercepted",
                options.service,
                options
                    .hints
                    .insecure_switch
                    .map(|s| format!(" ({s}=false)"))
                    .unwrap_or_default()
            );
        }
        let setup_error = |e: reqwest::Error| {
            Error::new(
                Context {
                    service: options.service,
                    call: "set-up".into(),
                    url: None,
                    hints: options.hints,
                },
                ErrorKind::Setup {
                    message: tls::error_chain(&e),
                },
            )
        };
        let http = build_http(&options, Redirects::Any).map_err(setup_error)?;
        let http_writes = build_http(&options, Redirects::KeepingTheMethod).map_err(setup_error)?;
        Ok(Self {
            http,
            http_writes,
            options: Arc::new(options),
            state: Arc::default(),
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub fn request_counts(&self) -> RequestCounts {
        RequestCounts {
            reads: self.state.reads.load(Ordering::Relaxed),
            writes: self.state.writes.load(Ordering::Relaxed),
            retries: self.state.retries.load(Ordering::Relaxed),
        }
    }

    /// Sends `request` until it succeeds, fails for good, or the policy says
    /// stop; returns a 2xx answer.
    pub async fn send(&self, request: &Request) -> Result<Response, Error> {
        let policy = &self.options.retry;
        let mut attempt: u32 = 1;
        let mut refusals: u32 = 0;
        loop {
            self.wait_for_window(request).await?;
            self.count(request);
            let started = Instant::now();
            let (wait, waiting) = match self.attempt(request).await {
                Ok(answer) => {
                    self.note_window(&answer.headers);
                    if (200..300).contains(&answer.status) {
                        debug!(
                            "{} answered {} to {}",
                            self.options.service, answer.status, request.call
                        );
                        return Ok(Response {
                            status: answer.status,
                            headers: answer.headers,
                            body: answer.body,
                            context: self.context(request),
                            secrets: self.secrets(request),
                            max_json_memory: self.options.max_json_memory,
                        });
                    }
                    self.after_status(request, answer, attempt, &mut refusals)?
                }
                Err(Failure::Final(kind)) => return Err(self.error(request, kind)),
                Err(Failure::MaybeSent(kind)) if request.repeat == Repeat::Unsafe => {
                    return Err(self.error(
                        request,
                        ErrorKind::OutcomeUnknown {
                            cause: cause_of(&kind),
                        },
                    ));
                }
                Err(Failure::NotSent(kind) | Failure::MaybeSent(kind)) => {
                    let wait = wait::backoff(policy.base_delay, policy.max_delay, attempt);
                    let this_ms =
                        u64::try_from((started.elapsed() + wait).as_millis()).unwrap_or(u64::MAX);
                    // The total with this attempt and the wait after it: an
                    // attempt that would start past the budget is not made.
                    let spent = Duration::from_millis(
                        self.state
                            .unanswered_ms
                            .fetch_add(this_ms, Ordering::Relaxed)
                            .saturating_add(this_ms),
                    );
                    if spent > policy.unanswered_budget {
                        return Err(self.error(
                            request,
                            ErrorKind::BudgetSpent {
                                cause: cause_of(&kind),
                                spent,
                                budget: policy.unanswered_budget,
                            },
                        ));
                    }
                    if attempt >= policy.max_attempts {
                        return Err(self.error(request, kind));
                    }
                    warn!(
                        "{}: {} failed: {}; retrying in {:.1} s (attempt {attempt} of {})",
                        self.options.service,
                        request.call,
                        cause_of(&kind),
                        wait.as_secs_f64(),
                        policy.max_attempts
                    );
                    (wait, None)
                }
            };
            self.state.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            drop(waiting);
            attempt += 1;
        }
    }

    /// [`Client::send`], and the answer as JSON.
    pub async fn json(&self, request: &Request) -> Result<Value, Error> {
        self.send(request).await?.json()
    }

    /// Every item of a listing: `request` is sent for the first page, and
    /// again with each next page's URL, named `<call>, page <n>` (a listing
    /// in one answer, [`Next::None`], keeps the request's name).
    pub async fn all(&self, request: &Request, paging: Paging) -> Result<Vec<Value>, Error> {
        let one_answer = paging.next == Next::None;
        let mut pages = Pages::new(request.url.clone(), paging);
        let mut items = Vec::new();
        while let Some(url) = pages.next_url() {
            let call = if one_answer {
                request.call.clone()
            } else {
                format!("{}, page {}", request.call, pages.page())
            };
            let response = self.send(&request.to(url.clone(), call)).await?;
            let page = pages
                .accept(response.headers(), response.body())
                .map_err(|e| response.failure(ErrorKind::Paging(e)))?;
            items.extend(page);
            info!(
                "{}: {} read so far ({})",
                self.options.service,
                items.len(),
                response.context.call
            );
        }
        Ok(items)
    }

    /// Parses a URL built from settings; a text that is no URL is an
    /// [`ErrorKind::Setup`] error of this client.
    pub fn url(&self, text: &str) -> Result<Url, Error> {
        Url::parse(text).map_err(|e| {
            Error::new(
                Context {
                    service: self.options.service,
                    call: "set-up".into(),
                    url: None,
                    hints: self.options.hints,
                },
                ErrorKind::Setup {
                    message: format!(
                        "{:?} is not a URL ({e})",
                        scim_core::mask_url_credentials(text)
                    ),
                },
            )
        })
    }

    /// An error about `request` that no answer produced (a URL that cannot
    /// be built, a shape the caller rejects).
    pub fn error(&self, request: &Request, kind: ErrorKind) -> Error {
        Error::new(self.context(request), kind).redacted(&self.secrets(request))
    }

    /// What messages about `request` must not show: its credentials, and
    /// the parts of a secret URL (a webhook's key, in its path or query).
    fn secrets(&self, request: &Request) -> Hidden {
        let mut secrets = request.secrets();
        if self.options.secret_url {
            let url = &request.url;
            secrets.extend(url.path_segments().into_iter().flatten().map(str::to_owned));
            secrets.extend(url.query().map(str::to_owned));
            secrets.extend(url.query_pairs().map(|(_, v)| v.into_owned()));
        }
        Hidden::new(secrets)
    }

    fn context(&self, request: &Request) -> Context {
        Context {
            service: self.options.service,
            call: request.call.clone(),
            url: (!self.options.secret_url).then(|| display_url(&request.url)),
            hints: self.options.hints,
        }
    }

    fn count(&self, request: &Request) {
        let counter = if matches!(request.method, Method::GET | Method::HEAD) {
            &self.state.reads
        } else {
            &self.state.writes
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits, before a request, until the rate-limit window an earlier
    /// answer spent has reset. The wait is between requests, never inside
    /// one: it does not eat a request's timeout. A reset further away than
    /// the policy waits fails the request instead.
    async fn wait_for_window(&self, request: &Request) -> Result<(), Error> {
        let pending = *lock(&self.state.not_before);
        let Some((until, reset)) = pending else {
            return Ok(());
        };
        if reset.exceeds_cap() {
            return Err(self.error(
                request,
                ErrorKind::WaitTooLong {
                    status: None,
                    wait: reset,
                    cap: self.options.retry.max_wait,
                },
            ));
        }
        let now = Instant::now();
        if until > now {
            let wait = until - now;
            let waiting = self.start_wait(wait).map_err(|waited| {
                self.error(
                    request,
                    ErrorKind::WaitBudgetSpent(Box::new(WaitRefused {
                        status: None,
                        message: String::new(),
                        asked: Some(reset),
                        wait,
                        waited,
                        budget: self.options.retry.wait_budget,
                        host: request.url.host_str().unwrap_or_default().to_owned(),
                    })),
                )
            })?;
            warn!(
                "{}: no request left in the rate-limit window; waiting {:.1} s for it to reset \
                 before {}",
                self.options.service,
                wait.as_secs_f64(),
                request.call
            );
            tokio::time::sleep_until(until).await;
            drop(waiting);
        }
        Ok(())
    }

    /// Starts a wait of `wait` that the service caused, if the run's
    /// [`RetryPolicy::wait_budget`] has room for it to its end; else returns
    /// how long the run has waited so far. The wait counts until the
    /// returned guard is dropped.
    fn start_wait(&self, wait: Duration) -> Result<Option<Waiting<'_>>, Duration> {
        if wait.is_zero() {
            return Ok(None);
        }
        let mut waits = lock(&self.state.waits);
        let now = Instant::now();
        // Where it overlaps waits in progress, this wait adds nothing.
        if waits.spent_after(now, wait) > self.options.retry.wait_budget {
            return Err(waits.spent(now));
        }
        if waits.inside == 0 {
            waits.since = Some(now);
        }
        waits.until = Some(
            waits
                .until
                .map_or(now + wait, |until| until.max(now + wait)),
        );
        waits.inside += 1;
        Ok(Some(Waiting { state: &self.state }))
    }

    /// A [`Client::start_wait`] after an answer that said "not now".
    fn start_wait_after(
        &self,
        request: &Request,
        answer: &Answer,
        wait: Duration,
        asked: Option<ServerWait>,
    ) -> Result<Option<Waiting<'_>>, Error> {
        self.start_wait(wait).map_err(|waited| {
            self.error(
                request,
                ErrorKind::WaitBudgetSpent(Box::new(WaitRefused {
                    status: Some(answer.status),
                    message: error_message(
                        &self.options.error_text,
                        answer.status,
                        &answer.headers,
                        &answer.body,
                    ),
                    asked,
                    wait,
                    waited,
                    budget: self.options.retry.wait_budget,
                    host: request.url.host_str().unwrap_or_default().to_owned(),
                })),
            )
        })
    }

    /// Remembers a spent rate-limit window, for the next request to wait on.
    fn note_window(&self, headers: &HeaderMap) {
        if wait::window_spent(headers)
            && let Some(reset) = wait::window_reset(headers, self.options.retry.max_wait)
        {
            *lock(&self.state.not_before) = Some((Instant::now() + reset.wait, reset));
        }
    }

    /// Judges an error status: the wait before the next attempt (counted
    /// until its guard is dropped), or the error.
    fn after_status(
        &self,
        request: &Request,
        answer: Answer,
        attempt: u32,
        refusals: &mut u32,
    ) -> Result<(Duration, Option<Waiting<'_>>), Error> {
        let policy = &self.options.retry;
        let service = self.options.service;
        let status = answer.status;
        if let Some(refusal) = request.transient
            && refusal.status == status
            && *refusals + 1 < refusal.attempts
        {
            *refusals += 1;
            let wait = refusal.step.saturating_mul(*refusals);
            let waiting = self.start_wait_after(request, &answer, wait, None)?;
            warn!(
                "{service} refused {} ({status}); this is often transient, retrying in {} s \
                 (try {} of {})",
                request.call,
                wait.as_secs(),
                *refusals + 1,
                refusal.attempts
            );
            return Ok((wait, waiting));
        }
        let throttled = status == 429;
        let gateway = matches!(status, 502..=504);
        if gateway && request.repeat == Repeat::Unsafe {
            // A gateway may have passed the request on before it failed.
            return Err(self.error(
                request,
                ErrorKind::OutcomeUnknown {
                    cause: format!("{service} answered {status}"),
                },
            ));
        }
        if !(throttled || gateway) || attempt >= policy.max_attempts {
            return Err(self.status_error(request, answer));
        }
        let asked = wait::retry_after(&answer.headers, policy.max_wait)
            .or_else(|| wait::window_reset(&answer.headers, policy.max_wait))
            .or_else(|| wait::body_retry_after(&answer.body, policy.max_wait));
        if let Some(asked) = asked
            && asked.exceeds_cap()
        {
            return Err(self.error(
                request,
                ErrorKind::WaitTooLong {
                    status: Some(status),
                    wait: asked,
                    cap: policy.max_wait,
                },
            ));
        }
        let wait = asked.map_or_else(
            || wait::backoff(policy.base_delay, policy.max_delay, attempt),
            |w| w.wait,
        );
        let waiting = self.start_wait_after(request, &answer, wait, asked)?;
        warn!(
            "{service} answered {status} to {}; retrying in {:.1} s{} (attempt {attempt} of {})",
            request.call,
            wait.as_secs_f64(),
            asked.map_or_else(String::new, |w| format!(" ({})", w.source)),
            policy.max_attempts
        );
        Ok((wait, waiting))
    }

    fn status_error(&self, request: &Request, answer: Answer) -> Error {
        let message = error_message(
            &self.options.error_text,
            answer.status,
            &answer.headers,
            &answer.body,
        );
        self.error(
            request,
            ErrorKind::Status {
                status: answer.status,
                message,
                body: answer.body,
                not_found_is_an_answer: request.not_found_is_an_answer,
            },
        )
    }

    /// One attempt: the request sent and its answer read, within the timeout.
    async fn attempt(&self, request: &Request) -> Result<Answer, Failure> {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let body = match &request.body {
                Body::Json(v) => v.to_string(),
                Body::Form(_) => "(form)".into(),
                Body::None => String::new(),
            };
            debug!(
                "{} request: {} {} {body}",
                self.options.service,
                request.method,
                self.shown_url(&request.url)
            );
        }
        let mut response = match self.send_noting_slowness(request).await {
            Ok(response) => response,
            Err(e) => return Err(self.failure(request, &e)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_redirection() {
            // Relative to the answer's URL: redirects within the origin may
            // have been followed before this one.
            let target = headers
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| response.url().join(l).ok());
            if request.repeat == Repeat::Unsafe && matches!(status.as_u16(), 301..=303) {
                // "Done, see there": the server may have acted before redirecting.
                return Err(Failure::Final(ErrorKind::OutcomeUnknown {
                    cause: format!(
                        "{} answered {} (a redirect, not followed)",
                        self.options.service,
                        status.as_u16()
                    ),
                }));
            }
            let within_origin = target
                .as_ref()
                .is_some_and(|t| t.origin() == request.url.origin());
            let reading = matches!(request.method, Method::GET | Method::HEAD);
            return Err(Failure::Final(ErrorKind::Redirect {
                status: status.as_u16(),
                refused: if !within_origin {
                    RedirectRefused::OtherOrigin
                } else if reading || matches!(status.as_u16(), 307 | 308) {
                    RedirectRefused::TooMany
                } else {
                    RedirectRefused::WriteAsRead
                },
                to: target.map_or_else(
                    || "an unknown place".to_owned(),
                    |u| u.origin().ascii_serialization(),
                ),
            }));
        }
        let limit = if status.is_success() {
            self.options.max_body
        } else {
            ERROR_BODY_LIMIT
        };
        let body = match read_body(&mut response, limit).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) if status.is_success() => {
                return Err(Failure::Final(ErrorKind::TooLarge { limit }));
            }
            Err(BodyError::TooLarge) => Vec::new(),
            Err(BodyError::Read(e)) => return Err(self.failure(request, &e)),
        };
        Ok(Answer {
            status: status.as_u16(),
            headers,
            body,
        })
    }

    /// Sends one attempt. If it has no answer after a while (at most 10 s),
    /// says so once for the run, so a person at the terminal is not left
    /// looking at silence until the timeout and its retries have passed.
    async fn send_noting_slowness(
        &self,
        request: &Request,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let timeout = self.options.timeout;
        let patience = (timeout / 2).min(SLOW_NOTICE);
        let response = self.build(request).send();
        tokio::pin!(response);
        tokio::select! {
            done = &mut response => return done,
            () = tokio::time::sleep(patience) => {}
        }
        if !self.state.slow_reported.swap(true, Ordering::Relaxed) {
            let setting = self.options.hints.timeout_setting;
            warn!(
                "no answer from {} to {} after {} s; still waiting (up to {} s{})",
                host_port(&request.url),
                request.call,
                patience.as_secs(),
                timeout.as_secs(),
                if setting.is_empty() {
                    String::new()
                } else {
                    format!(", {setting}")
                }
            );
        }
        response.await
    }

    fn build(&self, request: &Request) -> reqwest::RequestBuilder {
        let http = if matches!(request.method, Method::GET | Method::HEAD) {
            &self.http
        } else {
            &self.http_writes
        };
        let mut builder = http
            .request(request.method.clone(), request.url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        builder = match &request.auth {
            Auth::None => builder,
            Auth::Bearer(token) => builder.bearer_auth(token.expose()),
            Auth::Basic { user, password } => builder.basic_auth(user, Some(password.expose())),
            Auth::Header { name, value } => {
                match reqwest::header::HeaderValue::from_str(value.expose()) {
                    Ok(mut v) => {
                        v.set_sensitive(true);
                        builder.header(*name, v)
                    }
                    // A value no header can carry is sent as nothing; the
                    // service answers 401, which names the setting.
                    Err(_) => builder,
                }
            }
        };
        match &request.body {
            Body::None => builder,
            Body::Json(value) => builder.json(value),
            Body::Form(fields) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (name, value) in fields {
                    form.append_pair(name, value.expose());
                }
                builder
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form.finish())
            }
        }
    }

    /// What an attempt that got no (whole) answer means.
    fn failure(&self, request: &Request, e: &reqwest::Error) -> Failure {
        if let Some(dns) = find_in_chain::<NameNotResolved>(e) {
            return Failure::Final(ErrorKind::NameNotResolved {
                host: dns.host.clone(),
            });
        }
        // A handshake is part of connecting; nothing else is read as TLS.
        if e.is_connect()
            && let Some(problem) = tls::classify(e)
        {
            return Failure::Final(ErrorKind::Tls(TlsRefusal {
                host: host_port(&request.url),
                problem,
                insecure_switch: self.options.hints.insecure_switch,
            }));
        }
        let cause = scim_core::mask_url_credentials(&root_cause(e)).into_owned();
        if e.is_builder() {
            // Refused before anything was sent; sending it again cannot help.
            let length = request.url.as_str().len();
            return Failure::Final(ErrorKind::Unsendable {
                cause: if length > MAX_URL_LENGTH {
                    format!(
                        "{cause}: the URL is {length} characters long, more than a request carries"
                    )
                } else {
                    cause
                },
            });
        }
        if e.is_timeout() {
            let kind = ErrorKind::Timeout {
                after: if e.is_connect() {
                    connect_timeout(&self.options)
                } else {
                    self.options.timeout
                },
                connecting: e.is_connect(),
            };
            return if e.is_connect() {
                Failure::NotSent(kind)
            } else {
                Failure::MaybeSent(kind)
            };
        }
        if e.is_connect() {
            return Failure::NotSent(ErrorKind::Connect {
                host: host_port(&request.url),
                cause,
            });
        }
        Failure::MaybeSent(ErrorKind::Transport { cause })
    }

    fn shown_url(&self, url: &Url) -> String {
        if self.options.secret_url {
            host_port(url)
        } else {
            scim_core::mask_url_credentials(url.as_str()).into_owned()
        }
    }
}

/// Which redirects within the origin a `reqwest` client follows.
#[derive(Clone, Copy)]
enum Redirects {
    /// Any (reads: a GET stays a GET).
    Any,
    /// Only 307 and 308. On 301, 302 and 303 an HTTP client repeats a POST or
    /// PUT as a GET without its body: the write would be lost and the GET's
    /// answer taken for the write's.
    KeepingTheMethod,
}

/// The one place a `reqwest` client is configured: timeouts, certificate
/// checks, redirects (same origin only), no `Referer`, the named resolver.
/// The TLS library and its crypto provider are chosen by the workspace's
/// `reqwest` features, not here.
fn build_http(
    options: &ClientOptions,
    which: Redirects,
) -> Result<reqwest::Client, reqwest::Error> {
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        let keeps_the_method = match which {
            Redirects::Any => true,
            Redirects::KeepingTheMethod => matches!(attempt.status().as_u16(), 307 | 308),
        };
        if same_origin && keeps_the_method && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(connect_timeout(options))
        .danger_accept_invalid_certs(!options.verify_tls)
        .user_agent(concat!("timecamp-scim/", env!("CARGO_PKG_VERSION")))
        .redirect(redirects)
        .referer(false)
        .dns_resolver(Arc::new(Resolver))
        .build()
}

/// How long making a connection (TCP and TLS handshakes) may take: the
/// request's timeout, at most 10 s; a service that takes longer to accept a
/// connection is not going to answer.
fn connect_timeout(options: &ClientOptions) -> Duration {
    options.timeout.min(Duration::from_secs(10))
}

enum BodyError {
    TooLarge,
    Read(reqwest::Error),
}

/// Reads an answer's body, chunk by chunk, refusing it as soon as it is
/// larger than `limit` (announced or not).
async fn read_body(response: &mut reqwest::Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The explanation a service gives for an error, else the start of the body,
/// else the status's name.
fn error_message(text: &ErrorText, status: u16, headers: &HeaderMap, body: &[u8]) -> String {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let from_json = json.as_ref().and_then(|v| {
        text.json.iter().find_map(|at| match v.pointer(at) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        })
    });
    let from_header = || {
        text.headers.iter().find_map(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
    };
    if let Some(message) = from_json.or_else(from_header) {
        return one_line(&message, 300);
    }
    let text = one_line(&String::from_utf8_lossy(&body[..body.len().min(200)]), 200);
    if text.is_empty() {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("(empty body)")
            .to_owned()
    } else {
        text
    }
}

/// A server's text as one line of at most `max` characters: control
/// characters (a line break, an escape sequence) become spaces, so the text
/// cannot start a forged log line or drive the terminal.
fn one_line(text: &str, max: usize) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

/// The cause an error kind carries, for retry lines and wrapped errors.
fn cause_of(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::Timeout {
            after,
            connecting: true,
        } => format!("no connection within {} s", after.as_secs()),
        ErrorKind::Timeout { after, .. } => format!("no answer within {} s", after.as_secs()),
        ErrorKind::Connect { host, cause } => format!("cannot connect to {host}: {cause}"),
        ErrorKind::Transport { cause } => format!("connection failed: {cause}"),
        other => format!("{other:?}"),
    }
}

/// The first error of type `T` in `e`'s chain, looking inside `io::Error`s.
fn find_in_chain<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = find_in_chain::<T>(inner)
        {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// The innermost cause, which says what happened ("connection reset by peer").
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// `host:port` of a URL, for messages.
pub fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => url.origin().ascii_serialization(),
    }
}

/// `scheme://host[:port]/path` of a URL: no credentials, no query.
fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_message_comes_from_the_declared_places() {
        let text = ErrorText {
            json: &["/error/message", "/message"],
            headers: &["x-error"],
        };
        let h = HeaderMap::new();
        assert_eq!(
            error_message(&text, 401, &h, br#"{"error": {"message": "bad token"}}"#),
            "bad token"
        );
        assert_eq!(
            error_message(&text, 400, &h, br#"{"message": "invalid email "}"#),
            "invalid email"
        );
        let mut with_header = HeaderMap::new();
        with_header.insert("x-error", "no such subdomain".parse().unwrap());
        assert_eq!(
            error_message(&text, 404, &with_header, b""),
            "no such subdomain"
        );
        assert_eq!(error_message(&text, 404, &h, b""), "Not Found");
        assert_eq!(error_message(&text, 599, &h, b""), "(empty body)");
        assert_eq!(
            error_message(&text, 500, &h, b"<html>oops</html>"),
            "<html>oops</html>"
        );
    }

    #[test]
    fn a_servers_explanation_cannot_forge_log_lines() {
        let text = ErrorText {
            json: &["/message"],
            headers: &["x-error"],
        };
        let forged = "bad key\n2026-12-06 03:00:00,000 - INFO - all users in step\u{1b}[2J\r\t";
        let body = serde_json::to_vec(&serde_json::json!({ "message": forged })).unwrap();
        let mut with_header = HeaderMap::new();
        with_header.insert("x-error", "a\tb".parse().unwrap());
        for message in [
            error_message(&text, 401, &HeaderMap::new(), &body),
            error_message(&text, 401, &with_header, b""),
            error_message(&text, 500, &HeaderMap::new(), forged.as_bytes()),
        ] {
            assert!(!message.contains(char::is_control), "{message:?}");
        }
        assert_eq!(
            error_message(&text, 401, &HeaderMap::new(), &body),
            "bad key 2026-12-06 03:00:00,000 - INFO - all users in step [2J"
        );
    }

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        let url = Url::parse("https://u:p@api.example:8443/v1/users?token=x#f").unwrap();
        assert_eq!(display_url(&url), "https://api.example:8443/v1/users");
        assert_eq!(host_port(&url), "api.example:8443");
        assert_eq!(
            host_port(&Url::parse("https://api.bamboohr.com/api").unwrap()),
            "api.bamboohr.com:443"
        );
    }
}
