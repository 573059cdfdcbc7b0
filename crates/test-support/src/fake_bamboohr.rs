//! A stateful fake of BambooHR's dataset API: `POST
//! /{subdomain}/v1/datasets/employee?page=N&page_size=M` with Basic auth (the
//! API key as user name), `filters` evaluated server-side, only the requested
//! `fields` returned, pages capped at a maximum size with `pagination.next_page`
//! as a URL, and throttling answered 503 (old) or 429 (new) with `Retry-After`.
//! A subdomain other than [`BAMBOOHR_SUBDOMAIN`] answers 404.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const BAMBOOHR_KEY: &str = "bamboo-api-key-42";
pub const BAMBOOHR_SUBDOMAIN: &str = "acme";

#[derive(Default)]
struct State_ {
    employees: Vec<Value>,
    max_page_size: usize,
    /// Every n-th request answers this status with `Retry-After: 0`.
    throttle: Option<(u64, u16)>,
    /// Listing requests for this page answer 500.
    failing_page: Option<usize>,
    counter: u64,
    requests: Vec<Value>,
}

/// A running fake; stops with the test process (its thread is detached).
pub struct FakeBambooHr {
    served: crate::Served<State_>,
}

impl FakeBambooHr {
    pub fn start() -> Self {
        let served = crate::Served::start(
            State_ {
                max_page_size: 1000,
                ..State_::default()
            },
            Router::new().route("/{subdomain}/v1/datasets/employee", post(handle)),
        );
        Self { served }
    }

    /// The value for `BAMBOOHR_API_URL`.
    pub fn url(&self) -> String {
        self.served.base()
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.served.lock()
    }

    /// Adds an employee (a dataset row: field name → value).
    pub fn employee(self, row: Value) -> Self {
        self.lock().employees.push(row);
        self
    }

    /// The most rows one page returns, whatever `page_size` asks for.
    pub fn max_page_size(self, n: usize) -> Self {
        self.lock().max_page_size = n;
        self
    }

    /// Every `n`-th request answers `status` (429 or 503) with `Retry-After: 0`.
    pub fn throttle_every(self, n: u64, status: u16) -> Self {
        self.lock().throttle = Some((n, status));
        self
    }

    /// Listing page `page` answers 500.
    pub fn fail_page(self, page: usize) -> Self {
        self.lock().failing_page = Some(page);
        self
    }

    /// The bodies received, with `page` added from the query.
    pub fn requests(&self) -> Vec<Value> {
        self.lock().requests.clone()
    }
}

fn field_text(row: &Value, field: &str) -> String {
    match row.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// One filter of the dataset API, or an error for an unknown operator.
fn matches(row: &Value, filter: &Value) -> Result<bool, String> {
    let field = filter["field"].as_str().unwrap_or_default();
    let have = field_text(row, field);
    let values: Vec<String> = match &filter["value"] {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect(),
        Value::String(s) => vec![s.clone()],
        Value::Null => vec![],
        other => vec![other.to_string()],
    };
    Ok(match filter["operator"].as_str().unwrap_or_default() {
        "equal" => values.first() == Some(&have),
        "not_equal" => values.first() != Some(&have),
        "includes" => values.contains(&have),
        "does_not_include" => !values.contains(&have),
        "checked" => have == "true" || have == "1",
        "not_checked" => !(have == "true" || have == "1"),
        "empty" => have.is_empty(),
        "not_empty" => !have.is_empty(),
        op => return Err(format!("Unsupported operator {op}")),
    })
}

async fn handle(
    State(state): State<Arc<Mutex<State_>>>,
    Path(subdomain): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().unwrap();
    s.counter += 1;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let page: usize = query
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut recorded = body.clone();
    recorded["page"] = json!(page);
    s.requests.push(recorded);

    // Basic base64("<key>:x"), built the way a client would.
    let expected = format!(
        "Basic {}",
        crate::base64(format!("{BAMBOOHR_KEY}:x").as_bytes())
    );
    // BambooHR's gateway knows no such company.
    if subdomain != BAMBOOHR_SUBDOMAIN {
        return StatusCode::NOT_FOUND.into_response();
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"code": 401, "message": "Unauthorized"}})),
        )
            .into_response();
    }
    if let Some((n, status)) = s.throttle
        && s.counter.is_multiple_of(n)
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return (status, [("Retry-After", "0")], "rate limited").into_response();
    }
    let listing = body["filters"]["match"] == "all";
    if listing && s.failing_page == Some(page) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": {"code": 500, "message": "Internal error"}})),
        )
            .into_response();
    }
    let any = body["filters"]["match"] == "any";
    let filters = body["filters"]["filters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut rows = Vec::new();
    for row in &s.employees {
        let results: Result<Vec<bool>, String> = filters.iter().map(|f| matches(row, f)).collect();
        let results = match results {
            Ok(r) => r,
            Err(message) => {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": {"code": 400, "message": message}})),
                )
                    .into_response();
            }
        };
        let keep = results.is_empty()
            || if any {
                results.iter().any(|r| *r)
            } else {
                results.iter().all(|r| *r)
            };
        if keep {
            rows.push(row);
        }
    }
    let fields: Vec<String> = body["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let size = query
        .get("page_size")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(500)
        .clamp(1, s.max_page_size);
    let total_pages = rows.len().div_ceil(size).max(1);
    let data: Vec<Value> = rows
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|row| {
            Value::Object(
                fields
                    .iter()
                    .map(|f| (f.clone(), row.get(f).cloned().unwrap_or(Value::Null)))
                    .collect(),
            )
        })
        .collect();
    let link = |p: usize| {
        json!(format!(
            "https://{subdomain}.bamboohr.com/api/v1/datasets/employee?page={p}&page_size={size}"
        ))
    };
    axum::Json(json!({
        "data": data,
        "aggregations": [],
        "pagination": {
            "total_records": rows.len(),
            "current_page": page,
            "total_pages": total_pages,
            "next_page": if page < total_pages { link(page + 1) } else { Value::Null },
            "prev_page": if page > 1 { link(page - 1) } else { Value::Null },
        }
    }))
    .into_response()
}
