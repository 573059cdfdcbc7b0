//! A stateful fake of Factorial's API: teams, employees and leaves
//! under `/resources/...`, `x-api-key` auth, cursor pagination (`limit`,
//! `after_id`, `meta.has_next_page` / `end_cursor`) capped at a page size, and
//! 429 with `Retry-After` on demand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

pub const FACTORIAL_KEY: &str = "factorial-key-5";

#[derive(Default)]
struct State_ {
    teams: Vec<Value>,
    employees: Vec<Value>,
    leaves: Vec<Value>,
    page_size: usize,
    throttle_every: Option<u64>,
    counter: u64,
}

/// A running fake (its thread ends with the test process).
pub struct FakeFactorial {
    served: crate::Served<State_>,
}

impl FakeFactorial {
    pub fn start() -> Self {
        let served = crate::Served::start(
            State_ {
                page_size: 100,
                ..State_::default()
            },
            Router::new()
                .route(
                    "/api/2025-07-01/resources/teams/teams",
                    get(|s, q, h| list(s, q, h, "teams")),
                )
                .route(
                    "/api/2025-07-01/resources/employees/employees",
                    get(|s, q, h| list(s, q, h, "employees")),
                )
                .route(
                    "/api/2025-07-01/resources/timeoff/leaves",
                    get(|s, q, h| list(s, q, h, "leaves")),
                ),
        );
        Self { served }
    }

    /// The value for `FACTORIAL_API_URL` (the versioned base).
    pub fn url(&self) -> String {
        format!("{}/api/2025-07-01", self.served.base())
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.served.lock()
    }

    pub fn team(self, team: Value) -> Self {
        self.lock().teams.push(team);
        self
    }

    pub fn employee(self, employee: Value) -> Self {
        self.lock().employees.push(employee);
        self
    }

    pub fn leave(self, leave: Value) -> Self {
        self.lock().leaves.push(leave);
        self
    }

    /// The most items one page returns.
    pub fn page_size(self, n: usize) -> Self {
        self.lock().page_size = n;
        self
    }

    pub fn throttle_every(self, n: u64) -> Self {
        self.lock().throttle_every = Some(n);
        self
    }
}

async fn list(
    State(state): State<Arc<Mutex<State_>>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    what: &'static str,
) -> Response {
    let mut s = state.lock().unwrap();
    s.counter += 1;
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(FACTORIAL_KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "Unauthorized"})),
        )
            .into_response();
    }
    if let Some(n) = s.throttle_every
        && s.counter.is_multiple_of(n)
    {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", "0")],
            axum::Json(json!({"error": "Too many requests"})),
        )
            .into_response();
    }
    let items = match what {
        "teams" => &s.teams,
        "employees" => &s.employees,
        _ => &s.leaves,
    };
    let mut sorted: Vec<&Value> = items.iter().collect();
    sorted.sort_by_key(|v| v["id"].as_u64().unwrap_or(0));
    let after: u64 = q.get("after_id").and_then(|a| a.parse().ok()).unwrap_or(0);
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100usize)
        .clamp(1, s.page_size);
    let rest: Vec<&Value> = sorted
        .into_iter()
        .filter(|v| v["id"].as_u64().unwrap_or(0) > after)
        .collect();
    let page: Vec<Value> = rest.iter().take(limit).map(|v| (*v).clone()).collect();
    let end = page.last().and_then(|v| v["id"].as_u64());
    axum::Json(json!({
        "data": page,
        "meta": {"has_next_page": rest.len() > limit, "has_previous_page": after > 0,
                 "start_cursor": null, "end_cursor": end.map(|e| e.to_string()), "total": items.len(), "limit": limit}
    }))
    .into_response()
}
