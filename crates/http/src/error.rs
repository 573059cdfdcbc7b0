//! The one error type of every HTTP client: what went wrong stays typed
//! ([`ErrorKind`], matched by callers and tests, never parsed from text), and
//! the message names the setting to fix, from the [`Hints`] its client
//! declared.

use std::fmt;
use std::time::Duration;

use crate::paging::PagingError;
use crate::tls::TlsRefusal;

/// The settings a client's failures point at, declared once per client. An
/// empty text means there is nothing to name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    /// The settings holding the credentials, named on 401 (and on 403 when
    /// [`Hints::forbidden`] is empty): `"TIMECAMP_API_KEY"`.
    pub credentials: &'static str,
    /// What a 403 means for this service, when it is not the credentials.
    pub forbidden: &'static str,
    /// What a 400 means, when the request is built from settings.
    pub bad_request: &'static str,
    /// The settings that make the URL, named on 404, on a host name that does
    /// not resolve and on a refused connection: `"TIMECAMP_API_URL or TIMECAMP_DOMAIN"`.
    pub location: &'static str,
    /// The switch that turns certificate checks off, if the service has one.
    pub insecure_switch: Option<&'static str>,
    /// The setting of the request timeout, if the admin can change it.
    pub timeout_setting: &'static str,
    /// The setting of the unanswered-time budget, if the admin can change it.
    pub budget_setting: &'static str,
    /// The setting of the budget of time spent waiting because the service
    /// said "not now", if the admin can change it.
    pub wait_budget_setting: &'static str,
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectRefused {
    /// To another origin: the request's credentials would go with it.
    OtherOrigin,
    /// One more than the redirects followed within the origin.
    TooMany,
    /// A 301, 302 or 303 to a write: HTTP clients repeat it as a GET without
    /// its body, so the write would be lost and the GET's answer taken for it.
    WriteAsRead,
}

/// A wait the run's wait budget had no room for.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitRefused {
    /// The status of the answer that said "not now" (429, 502, 503, 504, a
    /// refusal that passes); `None` when the wait was for a spent rate-limit
    /// window, which a successful answer announced.
    pub status: Option<u16>,
    /// The service's own explanation, from its error body or header.
    pub message: String,
    /// What the service asked for, if it said (`Retry-After`, a reset).
    pub asked: Option<crate::wait::ServerWait>,
    /// The wait that was not made.
    pub wait: Duration,
    /// The time the client had spent waiting so far.
    pub waited: Duration,
    pub budget: Duration,
    /// The host that asked for the waits, named in the message.
    pub host: String,
}

/// Which call failed, for messages.
#[derive(Debug, Clone)]
pub struct Context {
    /// The service's name in messages: `TimeCamp`, `BambooHR`, `Graph`.
    pub service: &'static str,
    /// The call: `GET group`, `users, page 2`.
    pub call: String,
    /// `scheme://host/path` of the request (no query, credentials masked);
    /// `None` when the URL is itself a secret (a webhook's).
    pub url: Option<String>,
    pub hints: Hints,
}

/// A failed call: its context and its cause.
#[derive(Debug)]
pub struct Error {
    context: Box<Context>,
    kind: ErrorKind,
}

/// Why a call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The service answered with an error status (after the retries, for
    /// throttling and gateway errors).
    Status {
        status: u16,
        /// The service's own explanation, from its error body or header.
        message: String,
        /// The start of the error body, for callers that read error codes.
        body: Vec<u8>,
        /// A 404 the request expected as an answer ("no such user"), not a wrong URL.
        not_found_is_an_answer: bool,
    },
    /// The host name does not resolve; not retried.
    NameNotResolved { host: String },
    /// No connection could be made (refused, unreachable), after the retries.
    Connect { host: String, cause: String },
    /// No answer within the request's timeout, after the retries.
    Timeout {
        after: Duration,
        /// No connection was made in time (the connection timeout, at most
        /// 10 s: a TCP or TLS handshake that stalls); else no whole answer.
        connecting: bool,
    },
    /// The connection broke (reset, closed) after the request was sent, after the retries.
    Transport { cause: String },
    /// A request that is not safe to repeat failed after it may have reached
    /// the server: it may or may not have taken effect, and it was not sent again.
    OutcomeUnknown { cause: String },
    /// The run's budget of unanswered time is spent: this failure is final.
    BudgetSpent {
        cause: String,
        spent: Duration,
        budget: Duration,
    },
    /// The run's budget of time spent waiting because the service said "not
    /// now" ([`crate::RetryPolicy::wait_budget`]) is spent: this wait was not
    /// made, and the call fails.
    WaitBudgetSpent(Box<WaitRefused>),
    /// A parsed answer would take more memory than the client gives one
    /// ([`crate::ClientOptions::max_json_memory`]); it was not parsed further.
    TooMuchMemory { limit: u64 },
    /// The server asked to wait longer than the client waits
    /// ([`crate::RetryPolicy::max_wait`]); the wait was not made.
    WaitTooLong {
        /// The status of the answer that asked, if the ask came with one
        /// (else it came with the rate-limit headers of a successful answer).
        status: Option<u16>,
        wait: crate::wait::ServerWait,
        cap: Duration,
    },
    /// The server's certificate was refused; not retried.
    Tls(TlsRefusal),
    /// The request cannot be put on the wire (a next page's URL longer than
    /// any request line, a header value with a line break); it was not sent.
    Unsendable { cause: String },
    /// The answer is larger than the client reads.
    TooLarge { limit: u64 },
    /// A redirect not followed; `refused` says why.
    Redirect {
        status: u16,
        /// The origin redirected to.
        to: String,
        refused: RedirectRefused,
    },
    /// The listing's pages could not be walked.
    Paging(PagingError),
    /// The answer is not what the API documents.
    Decode { message: String },
    /// The HTTP client could not be built, or a URL could not be made.
    Setup { message: String },
}

impl Error {
    pub(crate) fn new(context: Context, kind: ErrorKind) -> Self {
        Self {
            context: Box::new(context),
            kind,
        }
    }

    /// The same error with `secrets` hidden from every text it carries that
    /// came from outside (a server's explanation, its body, a link, a cause).
    pub(crate) fn redacted(mut self, secrets: &crate::request::Hidden) -> Self {
        if secrets.is_empty() {
            return self;
        }
        let hide = |text: &mut String| *text = secrets.redact(text);
        match &mut self.kind {
            ErrorKind::Status { message, body, .. } => {
                hide(message);
                if let Ok(text) = std::str::from_utf8(body) {
                    *body = secrets.redact(text).into_bytes();
                }
            }
            ErrorKind::NameNotResolved { host: text }
            | ErrorKind::Connect { cause: text, .. }
            | ErrorKind::Transport { cause: text }
            | ErrorKind::OutcomeUnknown { cause: text }
            | ErrorKind::BudgetSpent { cause: text, .. }
            | ErrorKind::Redirect { to: text, .. }
            | ErrorKind::Decode { message: text }
            | ErrorKind::Unsendable { cause: text }
            | ErrorKind::Setup { message: text } => hide(text),
            ErrorKind::WaitBudgetSpent(refused) => hide(&mut refused.message),
            ErrorKind::Paging(e) => match e {
                PagingError::OtherOrigin { origin: text }
                | PagingError::RepeatedUrl { url: text }
                | PagingError::BadNextLink { link: text, .. }
                | PagingError::UnexpectedValue { value: text, .. }
                | PagingError::NotJson { message: text, .. } => hide(text),
                PagingError::RepeatedPage { .. }
                | PagingError::TooManyPages { .. }
                | PagingError::TooManyItems { .. }
                | PagingError::TooMuchMemory { .. }
                | PagingError::EmptyPageWithMore { .. }
                | PagingError::NoList { .. }
                | PagingError::NoCursor { .. }
                | PagingError::CredentialsInLink { .. } => {}
            },
            ErrorKind::Timeout { .. }
            | ErrorKind::WaitTooLong { .. }
            | ErrorKind::Tls(_)
            | ErrorKind::TooLarge { .. }
            | ErrorKind::TooMuchMemory { .. } => {}
        }
        self
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The HTTP status, when the service answered with an error.
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error body as JSON, when the service answered with one.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        match &self.kind {
            ErrorKind::Status { body, .. } => serde_json::from_slice(body).ok(),
            _ => None,
        }
    }

    /// Whether the call may have taken effect although it failed.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self.kind, ErrorKind::OutcomeUnknown { .. })
    }

    /// The same failure for another call (a caller's own label).
    pub fn for_call(mut self, call: impl Into<String>) -> Self {
        self.context.call = call.into();
        self
    }
}

/// " at <host>" of a request's shown URL, for a message; "" without one.
fn at_host(url: Option<&str>) -> String {
    url.and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(|h| format!(" at {h}")))
        .unwrap_or_default()
}

/// A duration for a message: tenths under 10 s, whole seconds above.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs())
    }
}

fn advise(f: &mut fmt::Formatter<'_>, check: &str) -> fmt::Result {
    if check.is_empty() {
        Ok(())
    } else {
        write!(f, "; check {check}")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Context {
            service,
            call,
            url,
            hints,
        } = &*self.context;
        let unreachable =
            |f: &mut fmt::Formatter<'_>| write!(f, "{service} could not be reached ({call}): ");
        match &self.kind {
            ErrorKind::Status {
                status,
                message,
                not_found_is_an_answer,
                ..
            } => {
                write!(f, "{service} answered {status} to {call}")?;
                if *status == 404
                    && !not_found_is_an_answer
                    && let Some(url) = url
                {
                    write!(f, " at {url}")?;
                }
                write!(f, ": {message}")?;
                match status {
                    401 => advise(f, hints.credentials),
                    403 if !hints.forbidden.is_empty() => write!(f, "; {}", hints.forbidden),
                    403 => advise(f, hints.credentials),
                    404 if !not_found_is_an_answer => advise(f, hints.location),
                    400 if !hints.bad_request.is_empty() => {
                        write!(f, "; {}", hints.bad_request)
                    }
                    _ => Ok(()),
                }
            }
            ErrorKind::NameNotResolved { host } => {
                unreachable(f)?;
                write!(f, "the host name {host} does not resolve")?;
                advise(f, hints.location)
            }
            ErrorKind::Connect { host, cause } => {
                unreachable(f)?;
                write!(f, "cannot connect to {host}: {cause}")?;
                advise(f, hints.location)
            }
            ErrorKind::Timeout {
                after,
                connecting: true,
            } => {
                unreachable(f)?;
                write!(f, "no connection within {} s", after.as_secs())?;
                advise(f, hints.location)
            }
            ErrorKind::Timeout { after, .. } => {
                unreachable(f)?;
                write!(f, "no answer within {} s", after.as_secs())?;
                if !hints.timeout_setting.is_empty() {
                    write!(f, " ({})", hints.timeout_setting)?;
                }
                Ok(())
            }
            ErrorKind::Transport { cause } => {
                unreachable(f)?;
                write!(f, "connection failed: {cause}")
            }
            ErrorKind::OutcomeUnknown { cause } => write!(
                f,
                "{call} may or may not have taken effect at {service} ({cause}); it was not \
                 sent again, because repeating it is not safe: the next run reads what happened"
            ),
            ErrorKind::BudgetSpent {
                cause,
                spent,
                budget,
            } => {
                unreachable(f)?;
                write!(
                    f,
                    "{cause}; giving up: {service} has left requests of this run unanswered \
                     for {} s in all",
                    spent.as_secs()
                )?;
                if hints.budget_setting.is_empty() {
                    write!(f, " (at most {} s)", budget.as_secs())
                } else {
                    write!(f, " ({}={})", hints.budget_setting, budget.as_secs())
                }
            }
            ErrorKind::WaitBudgetSpent(refused) => {
                let WaitRefused {
                    status,
                    message,
                    asked,
                    wait,
                    waited,
                    budget,
                    host,
                } = &**refused;
                match status {
                    Some(status) => {
                        write!(f, "{service} answered {status} to {call}")?;
                        if !message.is_empty() {
                            write!(f, ": {message}")?;
                        }
                        match asked {
                            Some(asked) => write!(
                                f,
                                ", and asks to wait {} ({})",
                                asked.asked(),
                                asked.source
                            )?,
                            None => write!(f, "; the next wait would be {}", seconds(*wait))?,
                        }
                    }
                    None => write!(
                        f,
                        "before {call}, {service}'s rate-limit window is spent for {} more",
                        seconds(*wait)
                    )?,
                }
                write!(
                    f,
                    "; not waited: this run has already waited {} in all for {service} ({host}) \
                     to take requests again",
                    seconds(*waited)
                )?;
                if hints.wait_budget_setting.is_empty() {
                    write!(f, " (at most {})", seconds(*budget))?;
                } else {
                    write!(f, " ({}={})", hints.wait_budget_setting, budget.as_secs())?;
                }
                write!(f, "; run again later")
            }
            ErrorKind::TooMuchMemory { limit } => write!(
                f,
                "the answer of {service}{} to {call} would take more than {} MiB of memory once \
                 read, the most this tool gives one answer; not read",
                at_host(url.as_deref()),
                limit / (1024 * 1024)
            ),
            ErrorKind::WaitTooLong { status, wait, cap } => {
                match status {
                    Some(status) => write!(f, "{service} answered {status} to {call} and")?,
                    None => write!(f, "before {call}, {service}")?,
                }
                write!(
                    f,
                    " asks to wait {} ({}), longer than the {} s this tool waits; run again later",
                    wait.asked(),
                    wait.source,
                    cap.as_secs()
                )
            }
            ErrorKind::Tls(refusal) => {
                unreachable(f)?;
                write!(f, "{refusal}")
            }
            ErrorKind::Unsendable { cause } => {
                write!(f, "cannot send {call} to {service}: {cause}")
            }
            ErrorKind::TooLarge { limit } => write!(
                f,
                "the answer of {service} to {call} is larger than {} MiB, the most this tool \
                 reads; not read",
                limit / (1024 * 1024)
            ),
            ErrorKind::Redirect {
                status,
                to,
                refused,
            } => {
                write!(f, "{service} answered {status} to {call}: ")?;
                match refused {
                    RedirectRefused::OtherOrigin => write!(
                        f,
                        "a redirect to {to}, not followed (redirects to another origin would \
                         take the request's credentials with them)"
                    ),
                    RedirectRefused::TooMany => write!(
                        f,
                        "more than {} redirects within {to}; not followed further",
                        crate::client::MAX_REDIRECTS
                    ),
                    RedirectRefused::WriteAsRead => write!(
                        f,
                        "a redirect, not followed (it would repeat the write as a read, \
                         without its content)"
                    ),
                }
            }
            // A listing past its bounds names the host too: which service's
            // answer was so large is the first question.
            ErrorKind::Paging(
                e @ (PagingError::TooManyItems { .. } | PagingError::TooMuchMemory { .. }),
            ) => write!(
                f,
                "unexpected answer from {service}{} ({call}): {e}",
                at_host(url.as_deref())
            ),
            ErrorKind::Paging(e) => write!(f, "unexpected answer from {service} ({call}): {e}"),
            ErrorKind::Decode { message } => {
                write!(f, "unexpected answer from {service} ({call}): {message}")
            }
            ErrorKind::Setup { message } => {
                write!(f, "cannot set up the HTTP client for {service}: {message}")
            }
        }
    }
}

impl std::error::Error for Error {}
