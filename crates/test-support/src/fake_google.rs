//! A stateful fake of Google's OAuth token endpoint for service accounts and
//! of the Admin SDK Directory API's user listing, as fetch-google uses them.
//!
//! The token endpoint takes the JWT-bearer grant: the assertion's RS256
//! signature is checked with the service account's public key, its `iss`
//! (the account's e-mail), `aud` (the token URL), `scope` (the read-only
//! directory scope) and `exp` (at most an hour after `iat`), and `sub` must
//! be an administrator the account may act for (domain-wide delegation);
//! anything else is Google's `{"error": ..., "error_description": ...}`.
//! The listing pages with `maxResults` (at most 500) and `nextPageToken`.
//! Faults: tokens that expire after some requests (401), throttling (429 with
//! `Retry-After`), a 503 on one page, a page that is not JSON, and a
//! `nextPageToken` that leads back to the same page.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::jwt::{TestKey, check_times, form, verify};

pub const GOOGLE_SERVICE_ACCOUNT: &str = "timecamp-sync@acme-hr.iam.gserviceaccount.com";
pub const GOOGLE_ADMIN: &str = "it-admin@acme.com";
const SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";

#[derive(Default)]
struct State_ {
    addr: Option<SocketAddr>,
    users: Vec<Value>,
    page_size: usize,
    tokens: HashMap<String, u32>,
    token_uses: u32,
    tokens_issued: u32,
    refused_assertions: Vec<String>,
    listings: Vec<HashMap<String, String>>,
    throttle_every: Option<u64>,
    fail_request: Option<(u64, u16)>,
    malformed_request: Option<u64>,
    repeat_token: bool,
    counter: u64,
}

/// A running fake (its thread ends with the test process).
pub struct FakeGoogle {
    served: crate::Served<State_>,
}

fn api_error(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {
            "code": status.as_u16(), "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": reason.to_uppercase()
        }})),
    )
        .into_response()
}

impl FakeGoogle {
    pub fn start() -> Self {
        let served = crate::Served::start(
            State_ {
                page_size: 500,
                token_uses: u32::MAX,
                ..State_::default()
            },
            Router::new()
                .route("/token", post(token))
                .route("/admin/directory/v1/users", get(users)),
        );
        let addr = served.addr();
        served.lock().addr = Some(addr);
        Self { served }
    }

    /// The value for `GOOGLE_API_URL`.
    pub fn url(&self) -> String {
        self.served.base()
    }

    /// The key file Google issues for the service account, its `token_uri`
    /// pointing at this fake.
    pub fn key_file(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "acme-hr",
            "private_key_id": "4f3c2b1a00",
            "private_key": TestKey::Rsa.private_pem(),
            "client_email": GOOGLE_SERVICE_ACCOUNT,
            "client_id": "104230000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": format!("{}/token", self.url()),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/timecamp-sync%40acme-hr.iam.gserviceaccount.com",
            "universe_domain": "googleapis.com"
        })
        .to_string()
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.served.lock()
    }

    /// A user as the Directory API returns it (`projection=full`).
    pub fn user(self, user: Value) -> Self {
        self.lock().users.push(user);
        self
    }

    /// The most users a page holds, whatever `maxResults` asks for.
    pub fn page_size(self, n: usize) -> Self {
        self.lock().page_size = n;
        self
    }

    /// Each token works for `n` listing requests, then answers 401.
    pub fn tokens_expire_after(self, n: u32) -> Self {
        self.lock().token_uses = n;
        self
    }

    /// Every `n`-th listing request answers 429 with `Retry-After: 1`.
    pub fn throttle_every(self, n: u64) -> Self {
        self.lock().throttle_every = Some(n);
        self
    }

    /// The `n`-th listing request (1-based, retries counted) answers `status` once.
    pub fn fail_request(self, n: u64, status: u16) -> Self {
        self.lock().fail_request = Some((n, status));
        self
    }

    /// The `n`-th listing request and every later one answer a body that is not JSON.
    pub fn malformed_from_request(self, n: u64) -> Self {
        self.lock().malformed_request = Some(n);
        self
    }

    /// Every page names the first page's token as the next one.
    pub fn repeat_next_page_token(self) -> Self {
        self.lock().repeat_token = true;
        self
    }

    pub fn tokens_issued(&self) -> u32 {
        self.lock().tokens_issued
    }

    pub fn refused_assertions(&self) -> Vec<String> {
        self.lock().refused_assertions.clone()
    }

    /// The query of each listing request that had a valid token.
    pub fn listings(&self) -> Vec<HashMap<String, String>> {
        self.lock().listings.clone()
    }
}

async fn token(State(state): State<Arc<Mutex<State_>>>, body: Bytes) -> Response {
    let f = form(&body);
    let mut s = state.lock().unwrap();
    let token_url = format!("http://{}/token", s.addr.unwrap());
    let check = (|| {
        if f.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return Err(("unsupported_grant_type", "Invalid grant_type".to_owned()));
        }
        let assertion = f.get("assertion").ok_or((
            "invalid_request",
            "Missing required parameter: assertion".to_owned(),
        ))?;
        let (_, claims) = verify(assertion, TestKey::Rsa, "RS256")
            .map_err(|e| ("invalid_grant", format!("Invalid JWT Signature: {e}")))?;
        if claims["iss"] != GOOGLE_SERVICE_ACCOUNT {
            return Err(("invalid_grant", "Invalid issuer".to_owned()));
        }
        if claims["aud"] != token_url.as_str() {
            return Err(("invalid_grant", "Invalid JWT: audience".to_owned()));
        }
        check_times(&claims, 3600).map_err(|e| ("invalid_grant", format!("Invalid JWT: {e}")))?;
        let scopes: Vec<&str> = claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .collect();
        if !scopes.contains(&SCOPE) {
            return Err((
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".to_owned(),
            ));
        }
        if claims["sub"] != GOOGLE_ADMIN {
            return Err((
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".to_owned(),
            ));
        }
        Ok(())
    })();
    if let Err((error, why)) = check {
        s.refused_assertions.push(why.clone());
        let status = if error == "unauthorized_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        return (
            status,
            axum::Json(json!({"error": error, "error_description": why})),
        )
            .into_response();
    }
    s.tokens_issued += 1;
    let token = format!("ya29.fake-{}", s.tokens_issued);
    let uses = s.token_uses;
    s.tokens.insert(token.clone(), uses);
    axum::Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

async fn users(
    State(state): State<Arc<Mutex<State_>>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
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
            return api_error(
                StatusCode::UNAUTHORIZED,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            );
        }
    }
    s.counter += 1;
    let n = s.counter;
    if let Some(every) = s.throttle_every
        && n.is_multiple_of(every)
    {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            axum::Json(json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}})),
        )
            .into_response();
    }
    if let Some((at, status)) = s.fail_request
        && at == n
    {
        return api_error(
            StatusCode::from_u16(status).unwrap(),
            "backendError",
            "The service is currently unavailable.",
        );
    }
    if s.malformed_request.is_some_and(|at| n >= at) {
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            "{\"kind\": \"admin#directory#users\", \"users\": [{",
        )
            .into_response();
    }
    if !params.contains_key("customer") && !params.contains_key("domain") {
        return api_error(StatusCode::BAD_REQUEST, "badRequest", "Bad Request");
    }
    let max: usize = params
        .get("maxResults")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    if !(1..=500).contains(&max) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "Invalid Input: maxResults",
        );
    }
    s.listings.push(params.clone());
    let size = max.min(s.page_size);
    let start: usize = match params.get("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix("page-at-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "Invalid Input: pageToken",
                );
            }
        },
    };
    let page: Vec<Value> = s.users.iter().skip(start).take(size).cloned().collect();
    let mut body = json!({"kind": "admin#directory#users", "etag": "\"etag\"", "users": page});
    if start + size < s.users.len() {
        let next = if s.repeat_token { size } else { start + size };
        body["nextPageToken"] = json!(format!("page-at-{next}"));
    }
    axum::Json(body).into_response()
}
