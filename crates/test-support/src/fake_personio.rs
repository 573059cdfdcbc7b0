//! A stateful fake of Personio's API v2 as fetch-personio uses it: the
//! client-credentials token endpoint (`POST /v2/auth/token`, form-encoded,
//! rate-limited: a client that asks for a token per request is refused), the
//! persons listing (`GET /v2/persons`, at most 50 a page, cursor paging
//! through `_meta.links.next.href`, the `status` filter), each person's
//! employments (most recent first) and the department listing
//! (`GET /v2/org-units?type=department`, paged the same way). Errors are
//! `application/problem+json`. Faults: tokens that expire after some requests
//! (401), throttling (429 with `Retry-After`), a 5xx on one request, a page
//! that is not JSON, a token answer with any `expires_in` or cut short.

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

use crate::jwt::form;

pub const PERSONIO_CLIENT_ID: &str = "papi-client-5e1d";
pub const PERSONIO_CLIENT_SECRET: &str = "papi-secret-8c0ffee";

#[derive(Default)]
struct State_ {
    addr: Option<SocketAddr>,
    persons: Vec<Value>,
    /// person id → employments, most recent first
    employments: HashMap<String, Vec<Value>>,
    departments: Vec<Value>,
    page_size: usize,
    tokens: HashMap<String, u32>,
    token_uses: u32,
    tokens_issued: u32,
    max_tokens: u32,
    requests: Vec<String>,
    throttle_every: Option<u64>,
    fail_request: Option<(u64, u16)>,
    malformed_request: Option<u64>,
    /// `expires_in` of the token answers, as given.
    expires_in: Option<Value>,
    token_cut_short: bool,
    counter: u64,
}

/// A running fake (its thread ends with the test process).
pub struct FakePersonio {
    served: crate::Served<State_>,
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        [("content-type", "application/problem+json")],
        json!({"type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail})
            .to_string(),
    )
        .into_response()
}

impl FakePersonio {
    pub fn start() -> Self {
        let served = crate::Served::start(
            State_ {
                page_size: 50,
                token_uses: u32::MAX,
                max_tokens: 3,
                ..State_::default()
            },
            Router::new()
                .route("/v2/auth/token", post(token))
                .route("/v2/persons", get(persons))
                .route("/v2/persons/{id}/employments", get(employments))
                .route("/v2/org-units", get(org_units)),
        );
        let addr = served.addr();
        served.lock().addr = Some(addr);
        Self { served }
    }

    /// The value for `PERSONIO_API_URL`.
    pub fn url(&self) -> String {
        self.served.base()
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.served.lock()
    }

    /// A person (`id`, `email`, `first_name`, `last_name`, `preferred_name`)
    /// and their employments, most recent first (`status`, `supervisor`,
    /// `org_units`, `position`); `employments: [{"id"}]` on the person is filled in.
    pub fn person(self, mut person: Value, employments: Vec<Value>) -> Self {
        let id = person["id"].as_str().unwrap().to_owned();
        person["employments"] = Value::Array(
            employments
                .iter()
                .map(|e| json!({"id": e["id"].clone()}))
                .collect(),
        );
        person["_meta"] = json!({"links": {"employments": {"href": format!("{}/v2/persons/{id}/employments", self.url())}}});
        let mut s = self.lock();
        s.persons.push(person);
        s.employments.insert(id, employments);
        drop(s);
        self
    }

    /// A department org unit.
    pub fn department(self, id: &str, name: &str, parent: Option<&str>) -> Self {
        self.lock().departments.push(json!({
            "id": id, "type": "department", "name": name, "abbreviation": "",
            "description": "", "parent_id": parent
        }));
        self
    }

    /// The most resources a page holds, whatever `limit` asks for.
    pub fn page_size(self, n: usize) -> Self {
        self.lock().page_size = n;
        self
    }

    /// Each token works for `n` requests, then answers 401.
    pub fn tokens_expire_after(self, n: u32) -> Self {
        self.lock().token_uses = n;
        self
    }

    /// Every `n`-th data request answers 429 with `Retry-After: 1`.
    pub fn throttle_every(self, n: u64) -> Self {
        self.lock().throttle_every = Some(n);
        self
    }

    /// The `n`-th data request (1-based, retries counted) answers `status` once.
    pub fn fail_request(self, n: u64, status: u16) -> Self {
        self.lock().fail_request = Some((n, status));
        self
    }

    /// The `n`-th data request and every later one answer a body that is not JSON.
    pub fn malformed_from_request(self, n: u64) -> Self {
        self.lock().malformed_request = Some(n);
        self
    }

    /// Token answers say `expires_in` is `value` (a lifetime past any
    /// clock, a negative one, text); the token works as usual.
    pub fn token_expires_in(self, value: Value) -> Self {
        self.lock().expires_in = Some(value);
        self
    }

    /// Token answers stop right after the token, as if a proxy cut them: not
    /// JSON, with a working token in them.
    pub fn token_answers_cut_short(self) -> Self {
        self.lock().token_cut_short = true;
        self
    }

    pub fn tokens_issued(&self) -> u32 {
        self.lock().tokens_issued
    }

    /// The path and query of each data request with a valid token.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }
}

async fn token(State(state): State<Arc<Mutex<State_>>>, body: Bytes) -> Response {
    let f = form(&body);
    let mut s = state.lock().unwrap();
    if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return problem(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type.",
        );
    }
    if f.get("client_id").map(String::as_str) != Some(PERSONIO_CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(PERSONIO_CLIENT_SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client", "error_description": "Client authentication failed."})),
        )
            .into_response();
    }
    // The token endpoint is rate-limited: a client must keep its token.
    if s.tokens_issued >= s.max_tokens {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "60")],
            axum::Json(json!({"error": "rate_limited"})),
        )
            .into_response();
    }
    s.tokens_issued += 1;
    let token = format!("papi-fake-token-{}", s.tokens_issued);
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
    let expires_in = s.expires_in.clone().unwrap_or(json!(86400));
    axum::Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": "personio:persons:read personio:employments:read"}))
        .into_response()
}

/// The checks every data request passes: token, faults. `None`: go on.
fn gate(s: &mut State_, headers: &HeaderMap, what: String) -> Option<Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    match s.tokens.get_mut(&token) {
        Some(left) if *left > 0 => *left -= 1,
        _ => {
            return Some(problem(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "The access token is invalid or expired.",
            ));
        }
    }
    s.counter += 1;
    let n = s.counter;
    if let Some(every) = s.throttle_every
        && n.is_multiple_of(every)
    {
        return Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("retry-after", "1"),
                    ("content-type", "application/problem+json"),
                ],
                "{\"title\": \"Too Many Requests\", \"status\": 429}",
            )
                .into_response(),
        );
    }
    if let Some((at, status)) = s.fail_request
        && at == n
    {
        return Some(problem(
            StatusCode::from_u16(status).unwrap(),
            "Service Unavailable",
            "Try again later.",
        ));
    }
    if s.malformed_request.is_some_and(|at| n >= at) {
        return Some(
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"_data\": [{\"id\": ",
            )
                .into_response(),
        );
    }
    s.requests.push(what);
    None
}

/// One page of `items` from the cursor `cursor`, with the next page's link.
fn page(s: &State_, path: &str, items: Vec<Value>, params: &HashMap<String, String>) -> Response {
    let limit: usize = match params.get("limit").map(|v| v.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if (1..=50).contains(&n) => n,
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "limit must be between 1 and 50.",
            );
        }
    };
    let size = limit.min(s.page_size);
    let start: usize = match params.get("cursor") {
        None => 0,
        Some(c) => match c.strip_prefix("cur_").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return problem(StatusCode::BAD_REQUEST, "Bad Request", "Invalid cursor."),
        },
    };
    let data: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
    let base = format!("http://{}{path}", s.addr.unwrap());
    let mut links = json!({"self": {"href": base}});
    if start + size < items.len() {
        let mut next = format!("{base}?cursor=cur_{}&limit={limit}", start + size);
        for (k, v) in params {
            if k != "cursor" && k != "limit" {
                next.push_str(&format!("&{k}={v}"));
            }
        }
        links["next"] = json!({"href": next});
    }
    axum::Json(json!({"_data": data, "_meta": {"links": links}})).into_response()
}

async fn persons(
    State(state): State<Arc<Mutex<State_>>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = state.lock().unwrap();
    if let Some(r) = gate(&mut s, &headers, format!("/v2/persons {params:?}")) {
        return r;
    }
    let wanted = params.get("status").cloned();
    let items: Vec<Value> = s
        .persons
        .iter()
        .filter(|p| {
            let latest = s
                .employments
                .get(p["id"].as_str().unwrap_or_default())
                .and_then(|e| e.first())
                .and_then(|e| e["status"].as_str())
                .unwrap_or("INACTIVE");
            let active = latest != "INACTIVE";
            match wanted.as_deref() {
                Some("ACTIVE") => active,
                Some("INACTIVE") => !active,
                _ => true,
            }
        })
        .cloned()
        .collect();
    page(&s, "/v2/persons", items, &params)
}

async fn employments(
    State(state): State<Arc<Mutex<State_>>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = state.lock().unwrap();
    if let Some(r) = gate(&mut s, &headers, format!("/v2/persons/{id}/employments")) {
        return r;
    }
    let Some(items) = s.employments.get(&id).cloned() else {
        return problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            "The person was not found.",
        );
    };
    let path = format!("/v2/persons/{id}/employments");
    page(&s, &path, items, &params)
}

async fn org_units(
    State(state): State<Arc<Mutex<State_>>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let mut s = state.lock().unwrap();
    if let Some(r) = gate(&mut s, &headers, format!("/v2/org-units {params:?}")) {
        return r;
    }
    if params.get("type").map(String::as_str) != Some("department") {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "type is required: department or team.",
        );
    }
    let items = s.departments.clone();
    page(&s, "/v2/org-units", items, &params)
}
