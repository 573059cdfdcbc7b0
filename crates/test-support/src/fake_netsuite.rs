//! A stateful fake of NetSuite's REST web services as fetch-netsuite uses
//! them: the OAuth 2.0 token endpoint taking a client-credentials grant with
//! a certificate-signed JWT assertion (the signature checked with the
//! registered certificate's public key; `iss`, `aud`, `scope`, `kid`, `exp`
//! under an hour, `jti` never reused), and SuiteQL queries paged by
//! `limit`/`offset` with `hasMore`. The fake does not parse SQL: a query
//! `FROM department` returns the department rows, `FROM employee` the
//! employee rows, as the default queries name their columns. Faults: tokens
//! that expire after some queries (401), throttling (429 with
//! `Retry-After`), a gateway error on one page, a page that is not JSON.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::jwt::{TestKey, check_times, form, verify};

pub const NETSUITE_ACCOUNT: &str = "1234567_SB1";
pub const NETSUITE_CLIENT_ID: &str = "ns-client-id-0f3a";
pub const NETSUITE_CERTIFICATE_ID: &str = "ns-cert-kid-77";
const TOKEN_PATH: &str = "/services/rest/auth/oauth2/v1/token";

#[derive(Default)]
struct State_ {
    addr: Option<SocketAddr>,
    key: Option<(TestKey, &'static str)>,
    departments: Vec<Value>,
    employees: Vec<Value>,
    /// token → queries left
    tokens: HashMap<String, u32>,
    token_uses: u32,
    tokens_issued: u32,
    jtis: HashSet<String>,
    refused_assertions: Vec<String>,
    queries: Vec<(String, u64, u64)>,
    throttle_every: Option<u64>,
    fail_query: Option<(u64, u16)>,
    malformed_query: Option<u64>,
    empty_page_with_more: bool,
    counter: u64,
}

/// A running fake (its thread ends with the test process).
pub struct FakeNetsuite {
    served: crate::Served<State_>,
}

/// NetSuite's error body (`o:errorDetails`).
fn ns_error(status: StatusCode, title: &str, detail: &str, code: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15",
            "title": title,
            "status": status.as_u16(),
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}]
        })),
    )
        .into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

impl FakeNetsuite {
    /// A fake whose integration record has the certificate of `key`, signing
    /// with `alg` (`PS256`, `ES256` or `ES512`).
    pub fn start(key: TestKey, alg: &'static str) -> Self {
        let served = crate::Served::start(
            State_ {
                key: Some((key, alg)),
                token_uses: u32::MAX,
                ..State_::default()
            },
            Router::new()
                .route(TOKEN_PATH, post(token))
                .route("/services/rest/query/v1/suiteql", post(suiteql)),
        );
        let addr = served.addr();
        served.lock().addr = Some(addr);
        Self { served }
    }

    /// The value for `NETSUITE_BASE_URL`.
    pub fn url(&self) -> String {
        self.served.base()
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.served.lock()
    }

    /// A department row (`group_id`, `group_name`, `parent_id`).
    pub fn department(self, id: u64, name: &str, parent: Option<u64>) -> Self {
        self.lock().departments.push(json!({
            "group_id": id.to_string(), "group_name": name,
            "parent_id": parent.map(|p| p.to_string())
        }));
        self
    }

    /// An employee row, columns as the default query names them (lower case).
    pub fn employee(self, row: Value) -> Self {
        self.lock().employees.push(row);
        self
    }

    /// Each token answers `n` queries, then 401 (it "expired").
    pub fn tokens_expire_after(self, n: u32) -> Self {
        self.lock().token_uses = n;
        self
    }

    /// Every `n`-th query answers 429 with `Retry-After: 1`.
    pub fn throttle_every(self, n: u64) -> Self {
        self.lock().throttle_every = Some(n);
        self
    }

    /// The `n`-th query (1-based, retries counted) answers `status` once.
    pub fn fail_query(self, n: u64, status: u16) -> Self {
        self.lock().fail_query = Some((n, status));
        self
    }

    /// The `n`-th query and every later one answer a body that is not JSON.
    pub fn malformed_from_query(self, n: u64) -> Self {
        self.lock().malformed_query = Some(n);
        self
    }

    /// Employee pages announce `hasMore` but hold no items.
    pub fn empty_pages_with_more(self) -> Self {
        self.lock().empty_page_with_more = true;
        self
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u32 {
        self.lock().tokens_issued
    }

    /// Why each refused assertion was refused.
    pub fn refused_assertions(&self) -> Vec<String> {
        self.lock().refused_assertions.clone()
    }

    /// Each query received with a valid token: its text, `limit`, `offset`.
    pub fn queries(&self) -> Vec<(String, u64, u64)> {
        self.lock().queries.clone()
    }
}

async fn token(State(state): State<Arc<Mutex<State_>>>, body: Bytes) -> Response {
    let f = form(&body);
    let mut s = state.lock().unwrap();
    let token_url = format!("http://{}{TOKEN_PATH}", s.addr.unwrap());
    let (key, alg) = s.key.unwrap();
    let check = (|| {
        if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return Err("grant_type must be client_credentials".to_owned());
        }
        if f.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err("client_assertion_type must be the JWT bearer type".to_owned());
        }
        let assertion = f.get("client_assertion").ok_or("no client_assertion")?;
        let (header, claims) = verify(assertion, key, alg)?;
        if header["kid"] != NETSUITE_CERTIFICATE_ID {
            return Err(format!("kid {} is not the certificate id", header["kid"]));
        }
        if header["typ"] != "JWT" {
            return Err("typ must be JWT".into());
        }
        if claims["iss"] != NETSUITE_CLIENT_ID {
            return Err(format!("iss {} is not the client id", claims["iss"]));
        }
        if claims["aud"] != token_url.as_str() {
            return Err(format!("aud {} is not the token URL", claims["aud"]));
        }
        // Oracle documents a comma-separated string; the branch sent an array.
        let scopes: Vec<String> = match &claims["scope"] {
            Value::String(text) => text.split(',').map(|p| p.trim().to_owned()).collect(),
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if !scopes.iter().any(|p| p == "rest_webservices") {
            return Err("scope must include rest_webservices".into());
        }
        check_times(&claims, 3600)?;
        let jti = claims["jti"].as_str().unwrap_or_default();
        if jti.is_empty() || !s.jtis.insert(jti.to_owned()) {
            return Err("jti missing or used before".into());
        }
        Ok(())
    })();
    if let Err(why) = check {
        s.refused_assertions.push(why.clone());
        return oauth_error("invalid_grant", &format!("Invalid assertion: {why}"));
    }
    s.tokens_issued += 1;
    let token = format!("ns-access-{}", s.tokens_issued);
    let uses = s.token_uses;
    s.tokens.insert(token.clone(), uses);
    axum::Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}))
        .into_response()
}

async fn suiteql(
    State(state): State<Arc<Mutex<State_>>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().unwrap();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    match s.tokens.get_mut(&token) {
        Some(left) if *left > 0 => *left -= 1,
        _ => {
            return ns_error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.",
                "INVALID_LOGIN",
            );
        }
    }
    if headers.get("prefer").and_then(|v| v.to_str().ok()) != Some("transient") {
        return ns_error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "The request must have the header Prefer: transient.",
            "INVALID_HEADER",
        );
    }
    s.counter += 1;
    let n = s.counter;
    if let Some(every) = s.throttle_every
        && n.is_multiple_of(every)
    {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            axum::Json(json!({"title": "Too Many Requests", "status": 429})),
        )
            .into_response();
    }
    if let Some((at, status)) = s.fail_query
        && at == n
    {
        let status = StatusCode::from_u16(status).unwrap();
        return ns_error(
            status,
            "Service Unavailable",
            "Try again later.",
            "UNEXPECTED_ERROR",
        );
    }
    if s.malformed_query.is_some_and(|at| n >= at) {
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            "{\"links\": [], \"count\": 2, \"hasMore\": tr",
        )
            .into_response();
    }
    let Ok(q) = serde_json::from_slice::<Value>(&body) else {
        return ns_error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "Invalid JSON.",
            "INVALID_CONTENT",
        );
    };
    let query = q["q"].as_str().unwrap_or_default().to_owned();
    let limit: u64 = params
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let offset: u64 = params
        .get("offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if !(1..=1000).contains(&limit) {
        return ns_error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "Invalid limit: it must be between 1 and 1000.",
            "INVALID_PARAMETER",
        );
    }
    s.queries.push((query.clone(), limit, offset));
    let lower = query.to_lowercase();
    let (rows, empty) = if lower.contains("from department") {
        (&s.departments, false)
    } else if lower.contains("from employee") {
        (&s.employees, s.empty_page_with_more)
    } else {
        return ns_error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "Invalid search query. Detailed unprocessed description follows. Unknown identifier.",
            "INVALID_PARAMETER",
        );
    };
    let total = rows.len() as u64;
    let page: Vec<Value> = if empty {
        Vec::new()
    } else {
        rows.iter()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|r| {
                let mut r = r.clone();
                r["links"] = json!([]);
                r
            })
            .collect()
    };
    let has_more = empty || offset + (page.len() as u64) < total;
    axum::Json(json!({
        "links": [{"rel": "self", "href": format!("http://{}/services/rest/query/v1/suiteql?limit={limit}&offset={offset}", s.addr.unwrap())}],
        "count": page.len(),
        "hasMore": has_more,
        "items": page,
        "offset": offset,
        "totalResults": total
    }))
    .into_response()
}
