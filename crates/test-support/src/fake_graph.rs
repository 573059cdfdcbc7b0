//! A stateful fake of the Microsoft identity platform's token endpoint and of
//! the parts of Microsoft Graph that fetch-azuread reads: users
//! with `$expand=manager`, paged through `@odata.nextLink`; groups by
//! `displayName`; a group's transitive user members. Tokens expire after a
//! set number of uses (401 `InvalidAuthenticationToken`), and throttling
//! answers 429 with `Retry-After`. The token answer can give any
//! `expires_in`, or be cut short.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const AZURE_TENANT: &str = "contoso-tenant";
pub const AZURE_CLIENT_ID: &str = "client-id-1";
pub const AZURE_CLIENT_SECRET: &str = "client-secret-value~9";

#[derive(Default)]
struct State_ {
    addr: Option<SocketAddr>,
    users: Vec<Value>,
    /// group id → (display name, member user ids, member group ids)
    groups: Vec<(String, String, Vec<String>, Vec<String>)>,
    page_size: usize,
    /// token → uses left
    tokens: HashMap<String, u32>,
    token_uses: u32,
    tokens_issued: u32,
    throttle_every: Option<u64>,
    failing_page: Option<usize>,
    counter: u64,
    /// The base URL the users' next links name instead of this fake's.
    next_link_base: Option<String>,
    /// Every users page links to the second one.
    repeat_next_link: bool,
    /// `expires_in` of the token answers, as given.
    expires_in: Option<Value>,
    token_cut_short: bool,
}

/// A running fake (its thread is detached and ends with the test process).
pub struct FakeGraph {
    served: crate::Served<State_>,
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message, "innerError": {"request-id": "test"}}})))
        .into_response()
}

impl FakeGraph {
    pub fn start() -> Self {
        let served = crate::Served::start(
            State_ {
                page_size: 100,
                token_uses: u32::MAX,
                ..State_::default()
            },
            Router::new()
                .route("/{tenant}/oauth2/v2.0/token", post(token))
                .route("/v1.0/users", get(users))
                .route("/v1.0/groups", get(groups))
                .route(
                    "/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user",
                    get(members),
                ),
        );
        let addr = served.addr();
        served.lock().addr = Some(addr);
        Self { served }
    }

    /// The value for both `AZURE_LOGIN_URL` and `AZURE_GRAPH_URL`.
    pub fn url(&self) -> String {
        self.served.base()
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.served.lock()
    }

    /// Adds a user (a Graph user object; `manager` as an id is expanded on read).
    pub fn user(self, user: Value) -> Self {
        self.lock().users.push(user);
        self
    }

    /// A group with direct user members and member groups.
    pub fn group(self, id: &str, name: &str, users: &[&str], groups: &[&str]) -> Self {
        self.lock().groups.push((
            id.into(),
            name.into(),
            users.iter().map(|s| (*s).to_owned()).collect(),
            groups.iter().map(|s| (*s).to_owned()).collect(),
        ));
        self
    }

    /// The most users one page returns, whatever `$top` asks for.
    pub fn page_size(self, n: usize) -> Self {
        self.lock().page_size = n;
        self
    }

    /// Each token works for `n` Graph requests, then answers 401.
    pub fn tokens_expire_after(self, n: u32) -> Self {
        self.lock().token_uses = n;
        self
    }

    pub fn throttle_every(self, n: u64) -> Self {
        self.lock().throttle_every = Some(n);
        self
    }

    /// User page `n` (1-based) answers 500.
    pub fn fail_page(self, n: usize) -> Self {
        self.lock().failing_page = Some(n);
        self
    }

    /// The users' `@odata.nextLink` names `base` (another server) instead of this fake.
    pub fn next_link_to(self, base: &str) -> Self {
        self.lock().next_link_base = Some(base.trim_end_matches('/').to_owned());
        self
    }

    /// Every users page links to the second page, for ever. After 50 repeats
    /// the fake answers 500, so that a client that loops still ends.
    pub fn repeat_next_link(self) -> Self {
        self.lock().repeat_next_link = true;
        self
    }

    /// Token answers say `expires_in` is `value`; the token works as usual.
    pub fn token_expires_in(self, value: Value) -> Self {
        self.lock().expires_in = Some(value);
        self
    }

    /// Token answers stop right after the token, as if a proxy cut them.
    pub fn token_answers_cut_short(self) -> Self {
        self.lock().token_cut_short = true;
        self
    }

    pub fn tokens_issued(&self) -> u32 {
        self.lock().tokens_issued
    }
}

async fn token(
    State(state): State<Arc<Mutex<State_>>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url_form(&body);
    if tenant != AZURE_TENANT {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}))).into_response();
    }
    if form.get("client_id").map(String::as_str) != Some(AZURE_CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(AZURE_CLIENT_SECRET)
        || form.get("grant_type").map(String::as_str) != Some("client_credentials")
    {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}))).into_response();
    }
    let mut s = state.lock().unwrap();
    s.tokens_issued += 1;
    let token = format!("token-{}", s.tokens_issued);
    let uses = s.token_uses;
    s.tokens.insert(token.clone(), uses);
    if s.token_cut_short {
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            format!("{{\"access_token\": \"{token}\", \"token_type\": \"Bea"),
        )
            .into_response();
    }
    let expires_in = s.expires_in.clone().unwrap_or(json!(3599));
    axum::Json(json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": 3599, "access_token": token})).into_response()
}

fn url_form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks the bearer token and the faults; `Err` is the answer to send.
fn admit(s: &mut State_, headers: &HeaderMap) -> Result<(), Box<Response>> {
    s.counter += 1;
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    match s.tokens.get_mut(&token) {
        Some(0) | None => {
            return Err(Box::new(graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            )));
        }
        Some(uses) => *uses -= 1,
    }
    if let Some(n) = s.throttle_every
        && s.counter.is_multiple_of(n)
    {
        let mut r = graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Please retry again later.",
        );
        r.headers_mut().insert("Retry-After", "0".parse().unwrap());
        return Err(Box::new(r));
    }
    Ok(())
}

fn page<T: Clone>(items: &[T], skip: usize, size: usize) -> (Vec<T>, Option<usize>) {
    let end = (skip + size).min(items.len());
    let next = (end < items.len()).then_some(end);
    (items[skip.min(items.len())..end].to_vec(), next)
}

async fn users(
    State(state): State<Arc<Mutex<State_>>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = state.lock().unwrap();
    if let Err(r) = admit(&mut s, &headers) {
        return *r;
    }
    let size = q
        .get("$top")
        .and_then(|t| t.parse().ok())
        .unwrap_or(100usize)
        .clamp(1, s.page_size);
    let skip: usize = q
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if s.repeat_next_link && s.counter > 50 {
        return graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "the fake's loop guard",
        );
    }
    if s.failing_page == Some(skip / size + 1) {
        return graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "An unexpected error occurred.",
        );
    }
    let expand = q.get("$expand").is_some_and(|e| e.starts_with("manager"));
    let by_id: HashMap<String, Value> = s
        .users
        .iter()
        .map(|u| (u["id"].as_str().unwrap_or_default().to_owned(), u.clone()))
        .collect();
    let (items, next) = page(&s.users, skip, size);
    let value: Vec<Value> = items
        .into_iter()
        .map(|mut u| {
            let manager = u.as_object_mut().and_then(|o| o.remove("manager"));
            if expand {
                let m = manager
                    .and_then(|m| m.as_str().map(str::to_owned))
                    .and_then(|id| {
                        by_id
                            .get(&id)
                            .map(|m| json!({"@odata.type": "#microsoft.graph.user", "id": m["id"]}))
                    });
                if let Some(m) = m {
                    u["manager"] = m;
                }
            }
            u
        })
        .collect();
    let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": value});
    // A server in a loop links every page to the second one.
    let next = if s.repeat_next_link {
        (size < s.users.len()).then_some(size)
    } else {
        next
    };
    if let (Some(next), Some(addr)) = (next, s.addr) {
        let base = s
            .next_link_base
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        body["@odata.nextLink"] = json!(format!(
            "{base}/v1.0/users?$top={size}&$skiptoken={next}{}",
            if expand { "&$expand=manager" } else { "" }
        ));
    }
    axum::Json(body).into_response()
}

async fn groups(
    State(state): State<Arc<Mutex<State_>>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = state.lock().unwrap();
    if let Err(r) = admit(&mut s, &headers) {
        return *r;
    }
    let filter = q.get("$filter").cloned().unwrap_or_default();
    let Some(quoted) = filter
        .strip_prefix("displayName eq '")
        .and_then(|f| f.strip_suffix('\''))
    else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid filter clause",
        );
    };
    if quoted.replace("''", "").contains('\'') {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid filter clause: unescaped quote",
        );
    }
    let name = quoted.replace("''", "'");
    let value: Vec<Value> = s
        .groups
        .iter()
        .filter(|(_, n, _, _)| *n == name)
        .map(|(id, n, _, _)| json!({"id": id, "displayName": n}))
        .collect();
    axum::Json(json!({"value": value})).into_response()
}

async fn members(
    State(state): State<Arc<Mutex<State_>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut s = state.lock().unwrap();
    if let Err(r) = admit(&mut s, &headers) {
        return *r;
    }
    let mut seen = vec![id.clone()];
    let mut users: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seen.len() {
        if let Some((_, _, u, g)) = s.groups.iter().find(|(gid, _, _, _)| *gid == seen[i]) {
            users.extend(u.iter().cloned());
            for sub in g {
                if !seen.contains(sub) {
                    seen.push(sub.clone());
                }
            }
        } else if i == 0 {
            return graph_error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                "Resource does not exist",
            );
        }
        i += 1;
    }
    users.sort();
    users.dedup();
    let value: Vec<Value> = users
        .iter()
        .map(|u| json!({"@odata.type": "#microsoft.graph.user", "id": u}))
        .collect();
    axum::Json(json!({"value": value})).into_response()
}
