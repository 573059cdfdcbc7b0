//! A stateful fake of Okta's Users and Groups APIs: `SSWS` token auth, users
//! listed by `filter=status eq "…"` or `search=<path> eq "…"`, one user by id
//! or login (404 with Okta's error body otherwise), groups found by a
//! name prefix (`q`), group members; every list paged by `limit` with
//! `Link: <…>; rel="next"` (cursor `after`). Each answer carries
//! `X-Rate-Limit-Limit/-Remaining/-Reset` for a window of one second; a
//! request past the window's limit gets 429, as Okta does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;

pub const OKTA_TOKEN: &str = "00okta-api-token-77";

#[derive(Default)]
struct State_ {
    addr: Option<SocketAddr>,
    users: Vec<Value>,
    /// (id, name, member user ids)
    groups: Vec<(String, String, Vec<String>)>,
    max_page: usize,
    /// Requests allowed per one-second window; `None`: unlimited.
    per_second: Option<u32>,
    window: (u64, u32),
    throttled: u32,
    requests: Vec<String>,
    /// Every answer says the window is spent and resets this many seconds on.
    window_resets_in: Option<u64>,
    /// Every page links to the same next page (a server caught in a loop).
    repeat_next_link: bool,
}

/// A running fake (its thread ends with the test process).
pub struct FakeOkta {
    served: crate::Served<State_>,
}

type Shared = Arc<Mutex<State_>>;

impl FakeOkta {
    pub fn start() -> Self {
        let served = crate::Served::start(
            State_ {
                max_page: 200,
                ..State_::default()
            },
            Router::new()
                .route("/api/v1/users", get(users))
                .route("/api/v1/users/{id}", get(user))
                .route("/api/v1/groups", get(groups))
                .route("/api/v1/groups/{id}/users", get(members)),
        );
        let addr = served.addr();
        served.lock().addr = Some(addr);
        Self { served }
    }

    /// The value for `OKTA_ORG_URL`.
    pub fn url(&self) -> String {
        self.served.base()
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.served.lock()
    }

    /// A user: `{"id", "status", "profile": {...}}`.
    pub fn user(self, user: Value) -> Self {
        self.lock().users.push(user);
        self
    }

    pub fn group(self, id: &str, name: &str, members: &[&str]) -> Self {
        self.lock().groups.push((
            id.into(),
            name.into(),
            members.iter().map(|m| (*m).to_owned()).collect(),
        ));
        self
    }

    /// The most items one page returns, whatever `limit` asks for.
    pub fn max_page(self, n: usize) -> Self {
        self.lock().max_page = n;
        self
    }

    /// Allows `n` requests per one-second window; more get 429.
    pub fn rate_limit(self, n: u32) -> Self {
        self.lock().per_second = Some(n);
        self
    }

    /// Every answer says no request is left in the window, which resets
    /// `secs` seconds on.
    pub fn window_resets_in(self, secs: u64) -> Self {
        self.lock().window_resets_in = Some(secs);
        self
    }

    /// Every page links to the second page, for ever. After 50 repeats the
    /// fake answers 500, so that a client that loops still ends.
    pub fn repeat_next_link(self) -> Self {
        self.lock().repeat_next_link = true;
        self
    }

    /// How many requests got 429.
    pub fn throttled(&self) -> u32 {
        self.lock().throttled
    }

    /// The paths and queries requested, in order.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn okta_error(status: StatusCode, code: &str, summary: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae1", "errorCauses": []})),
    )
        .into_response()
}

/// Authentication, the request log and the rate-limit window; `Err` is the
/// answer to give instead.
fn admit(
    s: &mut State_,
    headers: &HeaderMap,
    what: String,
) -> Result<[(&'static str, String); 3], Box<Response>> {
    s.requests.push(what);
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(format!("SSWS {OKTA_TOKEN}").as_str())
    {
        return Err(Box::new(okta_error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        )));
    }
    let second = now();
    if s.window.0 != second {
        s.window = (second, 0);
    }
    s.window.1 += 1;
    let limit = s.per_second.unwrap_or(1000);
    let rate = match s.window_resets_in {
        Some(secs) => [
            ("x-rate-limit-limit", limit.to_string()),
            ("x-rate-limit-remaining", "0".to_owned()),
            ("x-rate-limit-reset", (second + secs).to_string()),
        ],
        None => [
            ("x-rate-limit-limit", limit.to_string()),
            (
                "x-rate-limit-remaining",
                limit.saturating_sub(s.window.1).to_string(),
            ),
            ("x-rate-limit-reset", (second + 1).to_string()),
        ],
    };
    if s.repeat_next_link && s.requests.len() > 50 {
        return Err(Box::new(okta_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "E0000009",
            "Internal Server Error (the fake's loop guard)",
        )));
    }
    if s.window.1 > limit {
        s.throttled += 1;
        let mut resp = okta_error(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        );
        for (k, v) in &rate {
            resp.headers_mut().insert(*k, v.parse().unwrap());
        }
        return Err(Box::new(resp));
    }
    Ok(rate)
}

/// One page of `items` after the cursor, with the `Link` to the next.
fn page(
    s: &State_,
    path: &str,
    q: &HashMap<String, String>,
    items: Vec<Value>,
    rate: [(&'static str, String); 3],
) -> Response {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(200)
        .min(s.max_page);
    let start = match q.get("after") {
        Some(after) => items
            .iter()
            .position(|u| u["id"] == after.as_str())
            .map_or(items.len(), |p| p + 1),
        None => 0,
    };
    let chunk: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let mut resp = axum::Json(Value::Array(chunk.clone())).into_response();
    for (k, v) in &rate {
        resp.headers_mut().insert(*k, v.parse().unwrap());
    }
    // A server in a loop links every page to the second one.
    let last = if s.repeat_next_link {
        items
            .get(limit.saturating_sub(1))
            .filter(|_| limit < items.len())
    } else {
        chunk.last().filter(|_| start + limit < items.len())
    };
    if let Some(last) = last {
        let mut next = form_urlencoded::Serializer::new(String::new());
        for (k, v) in q {
            if k != "after" {
                next.append_pair(k, v);
            }
        }
        next.append_pair("after", last["id"].as_str().unwrap_or_default());
        let link = format!(
            "<http://{}{path}?{}>; rel=\"next\"",
            s.addr.unwrap(),
            next.finish()
        );
        resp.headers_mut().append(
            "link",
            format!("<http://{}{path}>; rel=\"self\"", s.addr.unwrap())
                .parse()
                .unwrap(),
        );
        resp.headers_mut().append("link", link.parse().unwrap());
    }
    resp
}

/// `path eq "value"` of a filter or search expression.
fn equality(expr: &str) -> Option<(String, String)> {
    let (path, rest) = expr.split_once(" eq ")?;
    let value = rest.trim().strip_prefix('"')?.strip_suffix('"')?;
    Some((
        path.trim().to_owned(),
        value.replace("\\\"", "\"").replace("\\\\", "\\"),
    ))
}

fn field_text(u: &Value, path: &str) -> String {
    let v = path.split('.').try_fold(u, |v, seg| v.get(seg));
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

async fn users(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    let what = format!("/api/v1/users?{}", serde_urlencoded(&q));
    let rate = match admit(&mut s, &headers, what) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let (path, value) = match (q.get("filter"), q.get("search")) {
        (Some(f), None) => match equality(f) {
            Some((p, v)) if p == "status" => (p, v),
            _ => {
                return okta_error(
                    StatusCode::BAD_REQUEST,
                    "E0000031",
                    "Invalid search criteria.",
                );
            }
        },
        (None, Some(expr)) => match equality(expr) {
            Some(pv) => pv,
            None => {
                return okta_error(
                    StatusCode::BAD_REQUEST,
                    "E0000031",
                    "Invalid search criteria.",
                );
            }
        },
        _ => (String::new(), String::new()),
    };
    let found: Vec<Value> = s
        .users
        .iter()
        // Okta compares strings without regard to case.
        .filter(|u| path.is_empty() || field_text(u, &path).eq_ignore_ascii_case(&value))
        .cloned()
        .collect();
    page(&s, "/api/v1/users", &q, found, rate)
}

async fn user(State(state): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut s = state.lock().unwrap();
    let rate = match admit(&mut s, &headers, format!("/api/v1/users/{id}")) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    // Okta finds a user by id, login, or the login's short name.
    let found = s.users.iter().find(|u| {
        let login = field_text(u, "profile.login");
        u["id"] == id.as_str()
            || login.eq_ignore_ascii_case(&id)
            || login
                .split('@')
                .next()
                .is_some_and(|short| short.eq_ignore_ascii_case(&id))
    });
    match found {
        Some(u) => {
            let mut resp = axum::Json(u.clone()).into_response();
            for (k, v) in &rate {
                resp.headers_mut().insert(*k, v.parse().unwrap());
            }
            resp
        }
        None => okta_error(
            StatusCode::NOT_FOUND,
            "E0000007",
            &format!("Not found: Resource not found: {id} (User)"),
        ),
    }
}

async fn groups(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    let what = format!("/api/v1/groups?{}", serde_urlencoded(&q));
    let rate = match admit(&mut s, &headers, what) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let prefix = q.get("q").cloned().unwrap_or_default().to_lowercase();
    let found: Vec<Value> = s
        .groups
        .iter()
        .filter(|(_, name, _)| name.to_lowercase().starts_with(&prefix))
        .map(|(id, name, _)| json!({"id": id, "type": "OKTA_GROUP", "profile": {"name": name, "description": null}}))
        .collect();
    page(&s, "/api/v1/groups", &q, found, rate)
}

async fn members(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    let rate = match admit(&mut s, &headers, format!("/api/v1/groups/{id}/users")) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let Some((_, _, ids)) = s.groups.iter().find(|(gid, _, _)| *gid == id) else {
        return okta_error(
            StatusCode::NOT_FOUND,
            "E0000007",
            &format!("Not found: Resource not found: {id} (UserGroup)"),
        );
    };
    let found: Vec<Value> = ids
        .iter()
        .filter_map(|m| s.users.iter().find(|u| u["id"] == m.as_str()).cloned())
        .collect();
    page(&s, &format!("/api/v1/groups/{id}/users"), &q, found, rate)
}

fn serde_urlencoded(q: &HashMap<String, String>) -> String {
    let mut keys: Vec<&String> = q.keys().collect();
    keys.sort();
    let mut out = form_urlencoded::Serializer::new(String::new());
    for k in keys {
        out.append_pair(k, &q[k]);
    }
    out.finish()
}
