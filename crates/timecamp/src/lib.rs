//! A client for the parts of TimeCamp's REST API that the sync uses:
//! users, groups, user settings, roles, invitations.
//!
//! Requests go through the shared HTTP layer (`scim-http`): every request has
//! a timeout; throttling (429) and transient failures (502, 503, 504,
//! connection errors, timeouts) are retried with exponential backoff and
//! jitter, honouring `Retry-After`; attempts and unanswered time are bounded.
//! The two writes that are not safe to repeat, group creation (`PUT group`)
//! and the invitation (`POST group/{id}/user`), are never sent again after a
//! failure that may have reached TimeCamp: they fail with an error whose
//! [`ApiError::outcome_unknown`] is true, and the next run reads what
//! happened. Group creation also retries TimeCamp's transient 403 ("wait about
//! one minute and retry"), a bounded number of times, each logged. Errors
//! name the setting to fix (`TIMECAMP_API_KEY` on 401, the URL settings on a
//! 404 or a host that does not resolve). The bearer token never reaches a log
//! line or an error message.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use scim_core::Secret;
use scim_http::{
    ClientOptions, ErrorKind, ErrorText, Hints, Method, Request, TransientRefusal, Url,
};
use serde_json::{Value, json};

// The API's data types live with the other models (serde only), so the
// planner and the tools use them without this client's HTTP stack.
pub use scim_model::timecamp::{
    AttendanceDay, DayType, Group, Me, Roles, Settings, User, decode_roles, decode_settings,
    parse_id,
};

/// A failed call: the shared HTTP layer's error (`status()`, `kind()`,
/// `outcome_unknown()`), whose message names the setting to fix.
pub type ApiError = scim_http::Error;
pub use scim_http::RequestCounts;

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

/// What TimeCamp's failures point at.
const HINTS: Hints = Hints {
    credentials: "TIMECAMP_API_KEY",
    forbidden: "TimeCamp refused it: the owner of TIMECAMP_API_KEY must be an administrator \
                of the groups the change touches",
    bad_request: "",
    location: "TIMECAMP_API_URL or TIMECAMP_DOMAIN",
    insecure_switch: Some("TIMECAMP_SSL_VERIFY"),
    timeout_setting: "TIMECAMP_HTTP_TIMEOUT_SECONDS",
    budget_setting: "TIMECAMP_HTTP_RETRY_BUDGET_SECONDS",
    wait_budget_setting: "TIMECAMP_HTTP_WAIT_BUDGET_SECONDS",
};

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
    /// The most time one run spends waiting because TimeCamp said "not now"
    /// (429, 502-504, a spent rate-limit window, a group creation refused for a
    /// while): [`scim_http::RetryPolicy::wait_budget`].
    pub wait_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let shared = scim_http::RetryPolicy::default();
        Self {
            max_attempts: shared.max_attempts,
            base_delay: shared.base_delay,
            max_delay: shared.max_delay,
            group_forbidden_attempts: 10,
            group_forbidden_delay: Duration::from_secs(15),
            unanswered_budget: shared.unanswered_budget,
            wait_budget: shared.wait_budget,
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

/// Cheap to clone; clones share the connection pool, counters and budget.
#[derive(Clone)]
pub struct Client {
    http: scim_http::Client,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.config.base_url)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        let http = scim_http::Client::new(ClientOptions {
            timeout: config.timeout,
            verify_tls: config.verify_tls,
            retry: scim_http::RetryPolicy {
                max_attempts: config.retry.max_attempts,
                base_delay: config.retry.base_delay,
                max_delay: config.retry.max_delay,
                unanswered_budget: config.retry.unanswered_budget,
                wait_budget: config.retry.wait_budget,
                ..scim_http::RetryPolicy::default()
            },
            error_text: ErrorText {
                json: &["/message"],
                headers: &[],
            },
            ..ClientOptions::new("TimeCamp", HINTS)
        })?;
        Ok(Self {
            http,
            config: Arc::new(config),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    pub fn request_counts(&self) -> RequestCounts {
        self.http.request_counts()
    }

    // ---- reads ----

    /// `GET /group`: every group of the account.
    pub async fn groups(&self) -> Result<Vec<Group>, ApiError> {
        let request = self.request(Method::GET, "group", &[])?;
        let v = self.json(request.clone(), None).await?;
        scim_model::timecamp::decode_list(v).map_err(|m| self.decode_err(&request, m))
    }

    /// `GET /me`: the user the API key belongs to, and the account's top group.
    pub async fn me(&self) -> Result<Me, ApiError> {
        let request = self.request(Method::GET, "me", &[])?;
        let v = self.json(request.clone(), None).await?;
        serde_json::from_value(v).map_err(|e| self.decode_err(&request, e.to_string()))
    }

    /// `GET /users`: every user, enabled or not.
    pub async fn users(&self) -> Result<Vec<User>, ApiError> {
        let request = self.request(Method::GET, "users", &[])?;
        let v = self.json(request.clone(), None).await?;
        scim_model::timecamp::decode_list(v).map_err(|m| self.decode_err(&request, m))
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
                // "Not found / empty" is a 404 with `[]` for users without settings.
                let request = self
                    .request(Method::GET, &path, query)?
                    .not_found_is_an_answer();
                match self.json(request.clone(), None).await {
                    Ok(v) => Ok((request, v)),
                    Err(e) if e.status() == Some(404) => Ok((request, Value::Array(vec![]))),
                    Err(e) => Err(e),
                }
            }
        });
        let mut all = Settings::new();
        let mut results = futures::stream::iter(batches).buffer_unordered(SETTINGS_CONCURRENCY);
        while let Some(result) = results.next().await {
            let (request, v) = result?;
            decode_settings(v, &mut all).map_err(|m| self.decode_err(&request, m))?;
        }
        Ok(all)
    }

    /// `GET /people_picker?context=admin`: every user's role in each group.
    pub async fn roles(&self) -> Result<Roles, ApiError> {
        let q = [("context", "admin".to_owned())];
        let request = self.request(Method::GET, "people_picker", &q)?;
        let v = self.json(request.clone(), None).await?;
        decode_roles(v).map_err(|m| self.decode_err(&request, m))
    }

    /// `GET /attendance/day_types`: day-type name → (id, is a day off).
    /// `data` is documented as an object keyed by id; a list is accepted too.
    pub async fn day_types(&self) -> Result<Vec<DayType>, ApiError> {
        let request = self.request(Method::GET, "attendance/day_types", &[])?;
        let v = self.json(request.clone(), None).await?;
        let items: Vec<Value> = match v.get("data") {
            Some(Value::Object(map)) => map.values().cloned().collect(),
            Some(Value::Array(list)) => list.clone(),
            _ => return Err(self.decode_err(&request, format!("no `data` in {v}"))),
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
        let request = self
            .request(Method::GET, &path, &q)?
            .not_found_is_an_answer();
        let v = match self.json(request, None).await {
            Ok(v) => v,
            Err(e) if e.status() == Some(404) => return Ok(Vec::new()),
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
    //
    // A 404 from a write is TimeCamp's answer about the user or group (the
    // URL was proven by the reads before it), so it names no URL setting.

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
        self.send(self.write(Method::POST, &path)?, body).await
    }

    /// `PUT /group`: creates `name` under `parent`, returns the new id. Not
    /// safe to repeat: after a failure that may have reached TimeCamp it is
    /// not sent again. A 403 right after other changes is transient in
    /// TimeCamp, so it is retried with growing waits, a bounded number of times.
    pub async fn create_group(&self, name: &str, parent: u64) -> Result<u64, ApiError> {
        let body = json!({"name": name, "parent_id": parent.to_string()});
        let policy = &self.config.retry;
        let request = self
            .write(Method::PUT, "group")?
            .unsafe_to_repeat()
            .transient_refusal(TransientRefusal {
                status: 403,
                attempts: policy.group_forbidden_attempts,
                step: policy.group_forbidden_delay,
            });
        let v = self.json(request.clone(), Some(body)).await?;
        v.get("group_id")
            .and_then(parse_id)
            .ok_or_else(|| self.decode_err(&request, format!("no group_id in {v}")))
    }

    /// `DELETE /group` with `{"group_id": id}` in the body, as the API documents
    /// (the original sent `DELETE group/<id>`).
    pub async fn delete_group(&self, group_id: u64) -> Result<(), ApiError> {
        let body = json!({"group_id": group_id});
        self.send(self.write(Method::DELETE, "group")?, body).await
    }

    /// `POST /group/<group>/user`: adds (invites) one e-mail to a group without
    /// sending an invitation e-mail. TimeCamp does not return the new user.
    pub async fn invite(&self, group_id: u64, email: &str) -> Result<(), ApiError> {
        self.invite_many(group_id, &[email]).await
    }

    /// `POST /group/{id}/user` with several addresses: one request adds them
    /// all to the group. TimeCamp refuses the whole request (400) if one
    /// address is invalid, so callers retry a refused batch one by one. Not
    /// safe to repeat: after a failure that may have reached TimeCamp it is
    /// not sent again ([`ApiError::outcome_unknown`]).
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
        let request = self.write(Method::POST, &path)?.unsafe_to_repeat();
        self.send(request, body).await
    }

    /// `POST /user`: sets the display name.
    pub async fn set_display_name(&self, user_id: u64, name: &str) -> Result<(), ApiError> {
        let body = json!({"display_name": name, "user_id": user_id.to_string()});
        self.send(self.write(Method::POST, "user")?, body).await
    }

    /// `POST /user`: changes the primary e-mail (the login).
    pub async fn set_email(&self, user_id: u64, email: &str) -> Result<(), ApiError> {
        let body = json!({"email": email, "user_id": user_id.to_string()});
        self.send(self.write(Method::POST, "user")?, body).await
    }

    /// `PUT /group/<from>/user`: moves a user to another group.
    pub async fn move_user(&self, user_id: u64, from: u64, to: u64) -> Result<(), ApiError> {
        self.move_users(&[user_id], from, to).await
    }

    /// `PUT /group/<from>/user` with several users: one request moves them
    /// all. TimeCamp refuses the whole request if one of them is not in
    /// `from`, so callers retry a refused batch one by one.
    pub async fn move_users(&self, user_ids: &[u64], from: u64, to: u64) -> Result<(), ApiError> {
        let body = json!({"group_id": to.to_string(), "user_id": user_ids_value(user_ids)});
        let path = format!("group/{from}/user");
        self.send(self.write(Method::PUT, &path)?, body).await
    }

    /// `PUT /group/<group>/user`: sets the user's role in the group they are in.
    pub async fn set_role(&self, user_id: u64, group_id: u64, role_id: u8) -> Result<(), ApiError> {
        self.set_roles(&[user_id], group_id, role_id).await
    }

    /// `PUT /group/<group>/user` with several users: one request gives them
    /// all the role. Refused whole like [`Client::move_users`].
    pub async fn set_roles(
        &self,
        user_ids: &[u64],
        group_id: u64,
        role_id: u8,
    ) -> Result<(), ApiError> {
        let body = json!({"role_id": role_id.to_string(), "user_id": user_ids_value(user_ids)});
        let path = format!("group/{group_id}/user");
        self.send(self.write(Method::PUT, &path)?, body).await
    }

    /// `PUT /user/<id>/setting`.
    pub async fn set_setting(&self, user_id: u64, name: &str, value: &str) -> Result<(), ApiError> {
        let body = json!({"name": name, "value": value});
        let path = format!("user/{user_id}/setting");
        self.send(self.write(Method::PUT, &path)?, body).await
    }

    /// A write to `path`: its 404 is an answer about the user or group.
    fn write(&self, method: Method, path: &str) -> Result<Request, ApiError> {
        Ok(self.request(method, path, &[])?.not_found_is_an_answer())
    }

    // ---- transport ----

    /// A request to `path` (below the base URL) with `query`, authenticated.
    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Request, ApiError> {
        let mut url: Url = self.http.url(&format!(
            "{}/{}",
            self.config.base_url,
            path.trim_start_matches('/')
        ))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(
            Request::new(method.clone(), url, format!("{method} {path}"))
                .bearer(&self.config.api_key),
        )
    }

    /// Sends `request` (with `body`), returning the answer as JSON.
    async fn json(&self, request: Request, body: Option<Value>) -> Result<Value, ApiError> {
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        self.http.json(&request).await
    }

    /// Sends `request` (with `body`); the answer's body is not needed.
    async fn send(&self, request: Request, body: Value) -> Result<(), ApiError> {
        self.http.send(&request.json(body)).await.map(drop)
    }

    /// An answer that is not what the API documents.
    fn decode_err(&self, request: &Request, message: String) -> ApiError {
        self.http.error(request, ErrorKind::Decode { message })
    }
}

/// `user_id` of `PUT /group/<id>/user`: one id as text, as the original sent
/// it; several as the list TimeCamp documents.
fn user_ids_value(ids: &[u64]) -> Value {
    match ids {
        [one] => json!(one.to_string()),
        many => json!(many),
    }
}
