//! A client for the parts of TimeCamp's REST API that the sync uses:
//! users, groups, user settings, roles, invitations.
//!
//! Every request has a timeout. Throttling (429) and transient failures (502,
//! 503, 504, connection errors, timeouts) are retried with exponential backoff
//! and jitter, honouring `Retry-After`; attempts are bounded. Group creation
//! also retries TimeCamp's transient 403 ("wait about one minute and retry").
//! The bearer token never reaches a log line or an error message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use scim_core::Secret;
use scim_core::retry::{self, MAX_RETRY_AFTER};
use serde_json::{Value, json};
use tracing::{debug, warn};

// The API's data types live with the other models (serde only), so the
// planner and the tools use them without this client's HTTP stack.
pub use scim_model::timecamp::{
    AttendanceDay, DayType, Group, Roles, Settings, User, decode_roles, decode_settings, parse_id,
};

/// The settings the sync reads and writes.
pub const SETTING_NAMES: [&str; 4] = [
    "disabled_user",
    "additional_email",
    "external_id",
    "added_manually",
];

/// User ids per settings request (the newer upstream's batch size).
const SETTINGS_BATCH: usize = 100;
/// Settings requests in flight at once.
const SETTINGS_CONCURRENCY: usize = 4;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Attempts of a group creation answered 403.
    pub group_forbidden_attempts: u32,
    /// Wait after the n-th such 403 is `n ×` this.
    pub group_forbidden_delay: Duration,
    /// The most time one run spends on requests that got no answer (timeouts,
    /// refused or reset connections) and the waits after them. Past it, such a
    /// failure is final: a TimeCamp that never answers fails the run in bounded
    /// time instead of once per request. Throttling (429, 503) does not count:
    /// a server that answers "later" is alive.
    pub unanswered_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            group_forbidden_attempts: 10,
            group_forbidden_delay: Duration::from_secs(15),
            unanswered_budget: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Up to and including `/third_party/api`, without a trailing slash.
    pub base_url: String,
    pub api_key: Secret,
    pub verify_tls: bool,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{method} {path}: HTTP {status}: {message}")]
    Status {
        method: Method,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{method} {path}: {message}")]
    Transport {
        method: Method,
        path: String,
        message: String,
    },
    /// The server's certificate was refused; retrying cannot help.
    #[error("{method} {path}: {refusal}")]
    Tls {
        method: Method,
        path: String,
        refusal: scim_core::net::TlsRefusal,
    },
    #[error("{method} {path}: unexpected answer from TimeCamp: {message}")]
    Decode {
        method: Method,
        path: String,
        message: String,
    },
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl ApiError {
    /// The HTTP status, when TimeCamp answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Requests made, for the run summary and benchmarks.
#[derive(Debug, Default)]
struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
    retries: AtomicU64,
    /// Milliseconds spent on unanswered requests and the waits after them.
    unanswered_ms: AtomicU64,
    /// Whether a slow request was already reported (once per run is enough).
    slow_reported: std::sync::atomic::AtomicBool,
}

/// Cheap to clone; clones share the connection pool and counters.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.config.base_url)
            .finish_non_exhaustive()
    }
}

/// Counts of requests sent (retries included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestCounts {
    pub reads: u64,
    pub writes: u64,
    pub retries: u64,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        if !config.verify_tls {
            warn!(
                "TLS certificate verification is OFF for {} (TIMECAMP_SSL_VERIFY=false): \
                 the API key could be intercepted",
                config.base_url
            );
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .danger_accept_invalid_certs(!config.verify_tls)
            .user_agent(concat!("timecamp-scim/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Setup(e.to_string()))?;
        Ok(Self {
            http,
            config: Arc::new(config),
            counters: Arc::default(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    pub fn request_counts(&self) -> RequestCounts {
        RequestCounts {
            reads: self.counters.reads.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
        }
    }

    // ---- reads ----

    /// `GET /group`: every group of the account.
    pub async fn groups(&self) -> Result<Vec<Group>, ApiError> {
        let v = self.json(Method::GET, "group", &[], None).await?;
        scim_model::timecamp::decode_list(v).map_err(|m| decode_err(Method::GET, "group", m))
    }

    /// `GET /users`: every user, enabled or not.
    pub async fn users(&self) -> Result<Vec<User>, ApiError> {
        let v = self.json(Method::GET, "users", &[], None).await?;
        scim_model::timecamp::decode_list(v).map_err(|m| decode_err(Method::GET, "users", m))
    }

    /// `GET /user/<ids>/setting?name[]=...` in batches, a few batches at a time.
    pub async fn settings(&self, user_ids: &[u64], names: &[&str]) -> Result<Settings, ApiError> {
        let query: Vec<(&str, String)> =
            names.iter().map(|n| ("name[]", (*n).to_owned())).collect();
        let batches = user_ids.chunks(SETTINGS_BATCH).map(|batch| {
            let path = format!(
                "user/{}/setting",
                batch
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let query = &query;
            async move {
                match self.json(Method::GET, &path, query, None).await {
                    Ok(v) => Ok((path, v)),
                    // "Not found / empty" is a 404 with `[]` for users without settings.
                    Err(ApiError::Status { status: 404, .. }) => Ok((path, Value::Array(vec![]))),
                    Err(e) => Err(e),
                }
            }
        });
        let mut all = Settings::new();
        let mut results = futures::stream::iter(batches).buffer_unordered(SETTINGS_CONCURRENCY);
        while let Some(result) = results.next().await {
            let (path, v) = result?;
            decode_settings(v, &mut all).map_err(|m| decode_err(Method::GET, &path, m))?;
        }
        Ok(all)
    }

    /// `GET /people_picker?context=admin`: every user's role in each group.
    pub async fn roles(&self) -> Result<Roles, ApiError> {
        let q = [("context", "admin".to_owned())];
        let v = self.json(Method::GET, "people_picker", &q, None).await?;
        decode_roles(v).map_err(|m| decode_err(Method::GET, "people_picker", m))
    }

    /// `GET /attendance/day_types`: day-type name → (id, is a day off).
    /// `data` is documented as an object keyed by id; a list is accepted too.
    pub async fn day_types(&self) -> Result<Vec<DayType>, ApiError> {
        let v = self
            .json(Method::GET, "attendance/day_types", &[], None)
            .await?;
        let items: Vec<Value> = match v.get("data") {
            Some(Value::Object(map)) => map.values().cloned().collect(),
            Some(Value::Array(list)) => list.clone(),
            _ => {
                return Err(decode_err(
                    Method::GET,
                    "attendance/day_types",
                    format!("no `data` in {v}"),
                ));
            }
        };
        Ok(items
            .iter()
            .filter_map(|t| {
                Some(DayType {
                    id: t.get("id").and_then(parse_id)?,
                    name: t.get("name")?.as_str()?.to_owned(),
                    day_off: t.get("isDayOff").and_then(Value::as_bool).unwrap_or(false),
                })
            })
            .collect())
    }

    /// `GET /attendance/<user>/user?start=&end=`: the days recorded, with their day type.
    pub async fn attendance(
        &self,
        user_id: u64,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, u64)>, ApiError> {
        let path = format!("attendance/{user_id}/user");
        let q = [("start", start.to_owned()), ("end", end.to_owned())];
        let v = match self.json(Method::GET, &path, &q, None).await {
            Ok(v) => v,
            Err(ApiError::Status { status: 404, .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let items: Vec<Value> = match v.get("data") {
            Some(Value::Object(map)) => map.values().cloned().collect(),
            Some(Value::Array(list)) => list.clone(),
            _ => Vec::new(),
        };
        Ok(items
            .iter()
            .filter_map(|d| {
                Some((
                    d.get("day")?.as_str()?.to_owned(),
                    d.get("dayTypeId").and_then(parse_id)?,
                ))
            })
            .collect())
    }

    // ---- writes ----

    /// `POST /attendance/<user>/user` with up to 100 days' span in one request.
    pub async fn add_attendance(
        &self,
        user_id: u64,
        days: &[AttendanceDay],
    ) -> Result<(), ApiError> {
        let body = Value::Array(
            days.iter()
                .map(|d| json!({"day": d.day, "dayTypeId": d.day_type_id, "shouldBe": d.should_be, "vacationTime": d.vacation_time}))
                .collect(),
        );
        let path = format!("attendance/{user_id}/user");
        self.send(Method::POST, &path, &[], Some(&body)).await?;
        Ok(())
    }

    /// `PUT /group`: creates `name` under `parent`, returns the new id. A 403
    /// right after other changes is transient in TimeCamp, so it is retried
    /// with growing waits.
    pub async fn create_group(&self, name: &str, parent: u64) -> Result<u64, ApiError> {
        let body = json!({"name": name, "parent_id": parent.to_string()});
        let policy = &self.config.retry;
        let mut attempt = 1;
        loop {
            match self.json(Method::PUT, "group", &[], Some(&body)).await {
                Ok(v) => {
                    return v.get("group_id").and_then(parse_id).ok_or_else(|| {
                        decode_err(Method::PUT, "group", format!("no group_id in {v}"))
                    });
                }
                Err(e) if e.status() == Some(403) && attempt < policy.group_forbidden_attempts => {
                    let wait = policy.group_forbidden_delay * attempt;
                    warn!(
                        "TimeCamp refused to create group {name:?} (403); this is often transient, \
                         retrying in {} s (attempt {attempt} of {})",
                        wait.as_secs(),
                        policy.group_forbidden_attempts
                    );
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `DELETE /group` with `{"group_id": id}` in the body, as the API documents
    /// (the original sent `DELETE group/<id>`).
    pub async fn delete_group(&self, group_id: u64) -> Result<(), ApiError> {
        let body = json!({"group_id": group_id});
        self.send(Method::DELETE, "group", &[], Some(&body)).await?;
        Ok(())
    }

    /// `POST /group/<group>/user`: adds (invites) one e-mail to a group without
    /// sending an invitation e-mail. TimeCamp does not return the new user.
    pub async fn invite(&self, group_id: u64, email: &str) -> Result<(), ApiError> {
        self.invite_many(group_id, &[email]).await
    }

    /// `POST /group/{id}/user` with several addresses: one request adds them
    /// all to the group. TimeCamp refuses the whole request (400) if one
    /// address is invalid, so callers retry a refused batch one by one.
    pub async fn invite_many(&self, group_id: u64, emails: &[&str]) -> Result<(), ApiError> {
        // Both spellings of the "no e-mail" flag: the spec documents `send_mail`,
        // its example and the original tool use `send_email`.
        let body = json!({
            "email": emails,
            "tt_global_admin": "0",
            "tt_can_create_level_1_tasks": "0",
            "can_view_rates": "0",
            "add_to_all_projects": "0",
            "send_email": "0",
            "send_mail": "0",
            "force_change_password": "0",
        });
        let path = format!("group/{group_id}/user");
        self.send(Method::POST, &path, &[], Some(&body)).await?;
        Ok(())
    }

    /// `POST /user`: sets the display name.
    pub async fn set_display_name(&self, user_id: u64, name: &str) -> Result<(), ApiError> {
        let body = json!({"display_name": name, "user_id": user_id.to_string()});
        self.send(Method::POST, "user", &[], Some(&body)).await?;
        Ok(())
    }

    /// `POST /user`: changes the primary e-mail (the login).
    pub async fn set_email(&self, user_id: u64, email: &str) -> Result<(), ApiError> {
        let body = json!({"email": email, "user_id": user_id.to_string()});
        self.send(Method::POST, "user", &[], Some(&body)).await?;
        Ok(())
    }

    /// `PUT /group/<from>/user`: moves a user to another group.
    pub async fn move_user(&self, user_id: u64, from: u64, to: u64) -> Result<(), ApiError> {
        let body = json!({"group_id": to.to_string(), "user_id": user_id.to_string()});
        let path = format!("group/{from}/user");
        self.send(Method::PUT, &path, &[], Some(&body)).await?;
        Ok(())
    }

    /// `PUT /group/<group>/user`: sets the user's role in the group they are in.
    pub async fn set_role(&self, user_id: u64, group_id: u64, role_id: u8) -> Result<(), ApiError> {
        let body = json!({"role_id": role_id.to_string(), "user_id": user_id.to_string()});
        let path = format!("group/{group_id}/user");
        self.send(Method::PUT, &path, &[], Some(&body)).await?;
        Ok(())
    }

    /// `PUT /user/<id>/setting`.
    pub async fn set_setting(&self, user_id: u64, name: &str, value: &str) -> Result<(), ApiError> {
        let body = json!({"name": name, "value": value});
        let path = format!("user/{user_id}/setting");
        self.send(Method::PUT, &path, &[], Some(&body)).await?;
        Ok(())
    }

    // ---- transport ----

    async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let bytes = self.send(method.clone(), path, query, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
            decode_err(method, path, format!("not JSON ({e}): {head:?}"))
        })
    }

    /// Sends with retries; returns the body of a 2xx answer (possibly empty).
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Vec<u8>, ApiError> {
        let url = format!("{}/{}", self.config.base_url, path.trim_start_matches('/'));
        let policy = &self.config.retry;
        let counter = if method == Method::GET {
            &self.counters.reads
        } else {
            &self.counters.writes
        };
        let mut attempt: u32 = 1;
        loop {
            debug!(
                "TimeCamp request: {method} {url} query={query:?} body={}",
                body.map(|b| b.to_string()).unwrap_or_default()
            );
            counter.fetch_add(1, Ordering::Relaxed);
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.config.api_key.expose())
                .header("Accept", "application/json")
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let started = tokio::time::Instant::now();
            let outcome = match self.send_noting_slowness(request, &method, path).await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    match response.bytes().await {
                        Ok(bytes) => Ok((status, retry_after, bytes.to_vec())),
                        Err(e) => Err(transport_message(&e, self.config.timeout)),
                    }
                }
                Err(e) => {
                    let chain = scim_core::net::error_chain(&e);
                    if let Some(problem) = scim_core::net::tls_problem(&chain) {
                        return Err(ApiError::Tls {
                            method,
                            path: path.to_owned(),
                            refusal: scim_core::net::TlsRefusal {
                                host: scim_core::net::host_of(&url),
                                problem,
                                insecure_switch: Some("TIMECAMP_SSL_VERIFY"),
                            },
                        });
                    }
                    Err(transport_message(&e, self.config.timeout))
                }
            };
            let last = attempt >= policy.max_attempts;
            let wait = match outcome {
                Ok((status, _, bytes)) if status.is_success() => {
                    debug!("TimeCamp response: {method} {url} -> {status}");
                    return Ok(bytes);
                }
                Ok((status, retry_after, bytes)) => {
                    let message = error_message(&bytes);
                    if !retryable(status) || last {
                        return Err(ApiError::Status {
                            method,
                            path: path.to_owned(),
                            status: status.as_u16(),
                            message,
                        });
                    }
                    let wait = retry_after
                        .or_else(|| body_retry_after(&bytes))
                        .unwrap_or_else(|| backoff(policy, attempt));
                    warn!(
                        "TimeCamp answered {} to {method} {path}; retrying in {:.1} s (attempt {attempt} of {})",
                        status.as_u16(),
                        wait.as_secs_f64(),
                        policy.max_attempts
                    );
                    wait
                }
                Err(message) => {
                    let wait = backoff(policy, attempt);
                    let spent = self.counters.unanswered_ms.fetch_add(
                        u64::try_from((started.elapsed() + wait).as_millis()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                    let budget = policy.unanswered_budget;
                    if Duration::from_millis(spent) + wait > budget {
                        return Err(ApiError::Transport {
                            method,
                            path: path.to_owned(),
                            message: format!(
                                "{message}; giving up: TimeCamp has left requests of this run \
                                 unanswered for {} s in all (TIMECAMP_HTTP_RETRY_BUDGET_SECONDS={})",
                                spent / 1000,
                                budget.as_secs()
                            ),
                        });
                    }
                    if last {
                        return Err(ApiError::Transport {
                            method,
                            path: path.to_owned(),
                            message,
                        });
                    }
                    warn!(
                        "{method} {path} failed: {message}; retrying in {:.1} s (attempt {attempt} of {})",
                        wait.as_secs_f64(),
                        policy.max_attempts
                    );
                    wait
                }
            };
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

impl Client {
    /// Sends one attempt. If it has no answer after a while (at most 10 s),
    /// says so once for the run, so a person at the terminal is not left
    /// looking at silence until the timeout and its retries have passed.
    async fn send_noting_slowness(
        &self,
        request: reqwest::RequestBuilder,
        method: &Method,
        path: &str,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let patience = (self.config.timeout / 2).min(SLOW_NOTICE);
        let response = request.send();
        tokio::pin!(response);
        tokio::select! {
            done = &mut response => return done,
            () = tokio::time::sleep(patience) => {}
        }
        if !self.counters.slow_reported.swap(true, Ordering::Relaxed) {
            warn!(
                "no answer from {} to {method} {path} after {} s; still waiting (up to {} s, \
                 TIMECAMP_HTTP_TIMEOUT_SECONDS)",
                scim_core::net::host_of(&self.config.base_url),
                patience.as_secs(),
                self.config.timeout.as_secs()
            );
        }
        response.await
    }
}

/// How long a request may go unanswered before the run says so.
const SLOW_NOTICE: Duration = Duration::from_secs(10);

fn decode_err(method: Method, path: &str, message: String) -> ApiError {
    ApiError::Decode {
        method,
        path: path.to_owned(),
        message,
    }
}

fn retryable(status: StatusCode) -> bool {
    retry::retryable_status(status.as_u16())
}

fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    retry::backoff(policy.base_delay, policy.max_delay, attempt)
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    retry::parse_retry_after(headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?)
}

/// TimeCamp's edge answers a 502 with `{"retry_after": 60, ...}` instead of a header.
fn body_retry_after(bytes: &[u8]) -> Option<Duration> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let secs = v.get("retry_after")?.as_f64()?;
    Some(Duration::from_secs_f64(secs.max(0.0)).min(MAX_RETRY_AFTER))
}

/// The `message` of a JSON error body, else the start of the body.
fn error_message(bytes: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes)
        && let Some(m) = v.get("message").and_then(Value::as_str)
    {
        return m.to_owned();
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        .trim()
        .to_owned();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}

fn transport_message(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!(
            "no answer within {} s (TIMECAMP_HTTP_TIMEOUT_SECONDS)",
            timeout.as_secs()
        )
    } else if e.is_connect() {
        format!("cannot connect: {}", root_cause(e))
    } else {
        format!("connection failed: {}", root_cause(e))
    }
}

/// The innermost cause, which says what happened ("connection reset by peer").
/// reqwest errors print the URL, which carries no secret (the token is a header).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_prefers_the_json_message() {
        assert_eq!(
            error_message(br#"{"message":"invalid email "}"#),
            "invalid email "
        );
        assert_eq!(error_message(b""), "(empty body)");
        assert_eq!(error_message(b"<html>oops</html>"), "<html>oops</html>");
    }
}
