//! A stateful fake of HiBob's people search: `POST /v1/people/search` with
//! Basic auth (service-user id and token), no paging, only the requested
//! `fields` returned (root fields at the top level, other categories nested,
//! unknown paths silently left out), `humanReadable: "APPEND"` adding the
//! readable values, `showInactive`, `equals` filters (anything else is a 400
//! with HiBob's `{key, error}` body), and 429 with the rate-limit headers
//! (`X-RateLimit-Reset`, no `Retry-After`) on demand.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

pub const HIBOB_SERVICE_USER: &str = "SERVICE-4711";
pub const HIBOB_TOKEN: &str = "hibob-token-secret-9";

#[derive(Default)]
struct State_ {
    employees: Vec<Value>,
    throttle_every: Option<u64>,
    counter: u64,
    requests: Vec<Value>,
    refused_logins: u64,
}

/// A running fake (its thread ends with the test process).
pub struct FakeHibob {
    served: crate::Served<State_>,
}

impl FakeHibob {
    pub fn start() -> Self {
        let served = crate::Served::start(
            State_::default(),
            Router::new().route("/v1/people/search", post(search)),
        );
        Self { served }
    }

    /// The value for `HIBOB_API_URL`.
    pub fn url(&self) -> String {
        self.served.base()
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.served.lock()
    }

    /// An employee as HiBob holds it: root fields at the top level, `work`,
    /// `internal` and custom categories nested, and the readable text of list
    /// fields under `humanReadable`. `internal.status` `Inactive` marks a
    /// former employee, returned only with `showInactive`.
    pub fn employee(self, employee: Value) -> Self {
        self.lock().employees.push(employee);
        self
    }

    /// Every `n`-th request answers 429.
    pub fn throttle_every(self, n: u64) -> Self {
        self.lock().throttle_every = Some(n);
        self
    }

    /// How many requests were refused for their credentials.
    pub fn refused_logins(&self) -> u64 {
        self.lock().refused_logins
    }

    /// The request bodies received (with valid credentials).
    pub fn requests(&self) -> Vec<Value> {
        self.lock().requests.clone()
    }
}

fn error(status: StatusCode, key: &str, message: &str) -> Response {
    (status, axum::Json(json!({"key": key, "error": message}))).into_response()
}

/// Where a field path lives in the stored employee: `root.x` at the top.
fn stored_path(path: &str) -> Vec<&str> {
    path.strip_prefix("root.")
        .unwrap_or(path)
        .split('.')
        .collect()
}

fn get_path<'v>(v: &'v Value, segments: &[&str]) -> Option<&'v Value> {
    segments.iter().try_fold(v, |v, s| v.get(*s))
}

fn put_path(out: &mut Map<String, Value>, segments: &[&str], value: Value) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut at = out;
    for p in parents {
        at = at
            .entry(p.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap();
    }
    at.insert(last.to_string(), value);
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

async fn search(
    State(state): State<Arc<Mutex<State_>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let expected = format!(
        "Basic {}",
        crate::base64(format!("{HIBOB_SERVICE_USER}:{HIBOB_TOKEN}").as_bytes())
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        state.lock().unwrap().refused_logins += 1;
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad.request", "Malformed JSON");
    };
    let mut s = state.lock().unwrap();
    s.requests.push(body.clone());
    s.counter += 1;
    if let Some(n) = s.throttle_every
        && s.counter % n == 0
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [
                ("x-ratelimit-limit", "50".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", (now + 1).to_string()),
            ],
            axum::Json(json!({"key": "rate.limit", "error": "Too many requests"})),
        )
            .into_response();
    }
    let fields: Vec<String> = body["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let show_inactive = body["showInactive"].as_bool().unwrap_or(false);
    let human = body["humanReadable"].as_str() == Some("APPEND");
    let mut filters = Vec::new();
    for f in body["filters"].as_array().into_iter().flatten() {
        if f["operator"] != "equals" {
            return error(
                StatusCode::BAD_REQUEST,
                "filter.operator",
                "Unsupported filter operator",
            );
        }
        let values: Vec<String> = f["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| text(Some(v)))
            .collect();
        filters.push((
            f["fieldPath"].as_str().unwrap_or_default().to_owned(),
            values,
        ));
    }
    let mut out = Vec::new();
    for e in &s.employees {
        if !show_inactive && text(get_path(e, &["internal", "status"])) == "Inactive" {
            continue;
        }
        if !filters
            .iter()
            .all(|(path, values)| values.contains(&text(get_path(e, &stored_path(path)))))
        {
            continue;
        }
        let mut shown = Map::new();
        let mut readable = Map::new();
        for f in &fields {
            let segments = stored_path(f);
            if let Some(v) = get_path(e, &segments) {
                put_path(&mut shown, &segments, v.clone());
            }
            if human && let Some(v) = get_path(&e["humanReadable"], &segments) {
                put_path(&mut readable, &segments, v.clone());
            }
        }
        if human {
            shown.insert("humanReadable".into(), Value::Object(readable));
        }
        out.push(Value::Object(shown));
    }
    axum::Json(json!({"employees": out})).into_response()
}
