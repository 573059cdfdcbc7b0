//! The SCIM routes under [`BASE_PATH`], and `/health`.
//!
//! Every route under the base path needs `Authorization: Bearer
//! $SCIM_BEARER_TOKEN`. Every answer is `application/scim+json`, errors
//! included (axum's own 405 and 413 are rewritten into SCIM errors). Request
//! bodies are bounded ([`MAX_BODY`]) and a request has [`REQUEST_TIMEOUT`]
//! from its first byte to its answer. Handlers are thin: the protocol is in
//! `scim-protocol`, the saving in [`super::store`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use scim_core::Secret;
use scim_protocol::schema::{self, ALL};
use scim_protocol::{Kind, Query, ScimError, ScimType, Selection, Stamp};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::store::Store;

/// Where the SCIM endpoint is: the URL to give the identity provider is
/// `https://<host><BASE_PATH>`.
pub const BASE_PATH: &str = "/scim/v2";
/// Most bytes of a request body (a group of some 10,000 members fits).
pub const MAX_BODY: usize = 1024 * 1024;
/// Most time from a request's first byte to its answer (the body included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests handled at once (their bodies read, their changes made); the
/// others wait for a turn, so memory stays bounded however many connect.
pub const MAX_IN_FLIGHT: usize = 64;
const SCIM_JSON: &str = "application/scim+json";

pub struct App {
    pub store: Arc<Store>,
    pub token: Secret,
    /// Whether this process terminates TLS itself (for the URLs in answers).
    pub tls: bool,
    /// Turns for [`MAX_IN_FLIGHT`].
    pub turns: Arc<tokio::sync::Semaphore>,
}

type Shared = Arc<App>;

pub fn router(app: Shared) -> Router {
    let scim = Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema_by_id))
        .route(
            "/Users",
            get(|s, h, q| list(s, h, q, Kind::User))
                .post(|s, h, q, b| create(s, h, q, b, Kind::User)),
        )
        .route(
            "/Users/{id}",
            get(|s, h, p, q| one(s, h, p, q, Kind::User))
                .put(|s, h, p, q, b| replace(s, h, p, q, b, Kind::User))
                .patch(|s, h, p, q, b| patch(s, h, p, q, b, Kind::User))
                .delete(|s, p| delete(s, p, Kind::User)),
        )
        .route(
            "/Groups",
            get(|s, h, q| list(s, h, q, Kind::Group))
                .post(|s, h, q, b| create(s, h, q, b, Kind::Group)),
        )
        .route(
            "/Groups/{id}",
            get(|s, h, p, q| one(s, h, p, q, Kind::Group))
                .put(|s, h, p, q, b| replace(s, h, p, q, b, Kind::Group))
                .patch(|s, h, p, q, b| patch(s, h, p, q, b, Kind::Group))
                .delete(|s, p| delete(s, p, Kind::Group)),
        )
        .route("/.search", post(not_implemented))
        .route("/Users/.search", post(not_implemented))
        .route("/Groups/.search", post(not_implemented))
        .route("/Bulk", any(not_implemented))
        .route("/Me", any(not_implemented))
        .fallback(not_found)
        // A turn is taken once the token is checked, and only under the base
        // path: requests that wait for a turn (bodies that come slowly, or
        // never) keep neither `/health` (a liveness probe) nor a caller
        // without the token waiting.
        .layer(middleware::from_fn_with_state(app.clone(), one_turn))
        .layer(middleware::from_fn_with_state(app.clone(), authorize));
    Router::new()
        .nest(BASE_PATH, scim)
        .route("/health", get(health))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(scim_errors))
        .layer(middleware::from_fn(time_limit))
        .with_state(app)
}

/// An answer in SCIM's content type.
fn scim(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, SCIM_JSON)],
        body.to_string(),
    )
        .into_response()
}

fn error(e: &ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        warn!("answered {}: {}", e.status, e.detail);
    } else {
        debug!("answered {}: {}", e.status, e.detail);
    }
    scim(status, &e.to_json())
}

async fn authorize(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::serve::bearer_token);
    if given.is_some_and(|g| crate::serve::token_matches(g, &app.token)) {
        return next.run(request).await;
    }
    let mut response = error(&ScimError::new(
        401,
        None,
        "missing or wrong bearer token: send Authorization: Bearer <SCIM_BEARER_TOKEN>",
    ));
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// A request gets [`REQUEST_TIMEOUT`] in all, its body included; one that
/// announces a body over [`MAX_BODY`] is refused before it is read (a body
/// without a length is cut off at the limit as it streams).
async fn time_limit(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY as u64) {
        return error(&ScimError::new(
            413,
            None,
            format!("the body is larger than {MAX_BODY} bytes"),
        ));
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(&ScimError::new(
            408,
            None,
            format!(
                "the request took longer than {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// Waits for one of the [`MAX_IN_FLIGHT`] turns (within the request's time
/// limit) before the body is read.
async fn one_turn(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let Ok(_turn) = app.turns.clone().acquire_owned().await else {
        return error(&ScimError::new(503, None, "the server is stopping"));
    };
    next.run(request).await
}

/// axum answers some errors itself (405, 413, 415) in plain text; clients
/// of a SCIM endpoint get SCIM errors.
async fn scim_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(SCIM_JSON) || v.starts_with("application/json"));
    if status.is_success() || is_json {
        return response;
    }
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed here".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => format!("the body is larger than {MAX_BODY} bytes"),
        other => other.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut out = error(&ScimError::new(status.as_u16(), None, detail));
    if let Some(allow) = response.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

async fn not_found() -> Response {
    error(&ScimError::not_found(format!(
        "no such endpoint; the SCIM endpoint is {BASE_PATH} (/Users, /Groups, /Schemas, /ResourceTypes, /ServiceProviderConfig)"
    )))
}

async fn not_implemented() -> Response {
    error(&ScimError::new(
        501,
        None,
        "not supported (see /ServiceProviderConfig): use GET with filter to search, one request per change",
    ))
}

/// The endpoint's URL as the client reached it, for `meta.location`.
fn base_url(app: &App, headers: &HeaderMap) -> String {
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or_default().trim().to_owned())
    };
    let scheme = match header_text("x-forwarded-proto").as_deref() {
        Some("https") => "https",
        Some("http") => "http",
        _ if app.tls => "https",
        _ => "http",
    };
    let host = header_text("x-forwarded-host")
        .or_else(|| header_text("host"))
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{scheme}://{host}{BASE_PATH}")
}

/// The query parameters SCIM defines (names in any case); others are not SCIM's and are let be.
#[derive(Debug, Default)]
struct Params {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

impl Params {
    fn parse(raw: Option<String>) -> Result<Self, ScimError> {
        let mut p = Params::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let slot = match key.to_ascii_lowercase().as_str() {
                "filter" => &mut p.filter,
                "startindex" => &mut p.start_index,
                "count" => &mut p.count,
                "attributes" => &mut p.attributes,
                "excludedattributes" => &mut p.excluded_attributes,
                "sortby" => &mut p.sort_by,
                "sortorder" => &mut p.sort_order,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(ScimError::bad(
                    ScimType::InvalidValue,
                    format!("the query parameter {key} is given more than once"),
                ));
            }
        }
        Ok(p)
    }

    fn selection(&self, kind: Kind) -> Result<Selection, ScimError> {
        Selection::parse(
            kind,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }
}

/// The JSON body of a write, checked for its content type.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ScimError> {
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let ct = ct.to_ascii_lowercase();
        if !ct.starts_with(SCIM_JSON) && !ct.starts_with("application/json") {
            return Err(ScimError::new(
                415,
                None,
                format!("the body must be {SCIM_JSON} (or application/json), not {ct}"),
            ));
        }
    }
    scim_protocol::resource::parse_body(body)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A random id in the form of a version 4 UUID.
fn new_id() -> String {
    let mut b: [u8; 16] = fastrand::u128(..).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn who(kind: Kind, value: &Value) -> String {
    let key = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
    };
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn list(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    kind: Kind,
) -> Response {
    let base = base_url(&app, &headers);
    let result = Params::parse(raw).and_then(|p| {
        let query = Query {
            filter: p.filter.as_deref(),
            start_index: p.start_index.as_deref(),
            count: p.count.as_deref(),
            attributes: p.attributes.as_deref(),
            excluded_attributes: p.excluded_attributes.as_deref(),
            sort_by: p.sort_by.as_deref(),
            sort_order: p.sort_order.as_deref(),
        };
        app.store.read(|pop| pop.list(kind, &query, &base))
    });
    match result {
        Ok(body) => scim(StatusCode::OK, &body),
        Err(e) => error(&e),
    }
}

async fn one(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    kind: Kind,
) -> Response {
    let base = base_url(&app, &headers);
    let result = Params::parse(raw)
        .and_then(|p| p.selection(kind))
        .and_then(|sel| app.store.read(|pop| pop.get(kind, &id, &base, &sel)));
    match result {
        Ok(body) => scim(StatusCode::OK, &body),
        Err(e) => error(&e),
    }
}

/// Saves a change, then answers with the resource as it now is.
async fn answer_write(
    app: &App,
    kind: Kind,
    id: &str,
    generation: u64,
    base: &str,
    selection: &Selection,
    status: StatusCode,
) -> Response {
    if let Err(e) = app.store.saved(generation).await {
        return error(&e);
    }
    match app.store.read(|pop| pop.get(kind, id, base, selection)) {
        Ok(body) => {
            let mut response = scim(status, &body);
            if status == StatusCode::CREATED
                && let Some(location) = body["meta"]["location"].as_str()
                && let Ok(v) = HeaderValue::from_str(location)
            {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
        // Deleted by another request in the meantime.
        Err(e) => error(&e),
    }
}

async fn create(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
    kind: Kind,
) -> Response {
    let base = base_url(&app, &headers);
    let prepared = Params::parse(raw)
        .and_then(|p| p.selection(kind))
        .and_then(|sel| json_body(&headers, &body).map(|v| (sel, v)));
    let (selection, value) = match prepared {
        Ok(x) => x,
        Err(e) => return error(&e),
    };
    let now = now();
    let written = app.store.write(|pop| {
        pop.create(
            kind,
            &value,
            Stamp {
                now: &now,
                new_id: &mut new_id,
            },
        )
    });
    match written {
        Ok((id, generation)) => {
            info!(
                "Created {} {} ({id})",
                kind.name().to_lowercase(),
                who(kind, &value)
            );
            answer_write(
                &app,
                kind,
                &id,
                generation,
                &base,
                &selection,
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => {
            info!(
                "Refused to create {} {}: {}",
                kind.name().to_lowercase(),
                who(kind, &value),
                e.detail
            );
            error(&e)
        }
    }
}

async fn replace(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
    kind: Kind,
) -> Response {
    change(&app, &headers, &id, raw, &body, kind, Change::Replace).await
}

async fn patch(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
    kind: Kind,
) -> Response {
    change(&app, &headers, &id, raw, &body, kind, Change::Patch).await
}

/// How a PUT or a PATCH changes a resource that exists: the rest of their
/// handling (parameters, body, the save, the answer, the log) is one.
#[derive(Clone, Copy)]
enum Change {
    Replace,
    Patch,
}

async fn change(
    app: &Shared,
    headers: &HeaderMap,
    id: &str,
    raw: Option<String>,
    body: &Bytes,
    kind: Kind,
    how: Change,
) -> Response {
    let base = base_url(app, headers);
    let prepared = Params::parse(raw)
        .and_then(|p| p.selection(kind))
        .and_then(|sel| json_body(headers, body).map(|v| (sel, v)));
    let (selection, value) = match prepared {
        Ok(x) => x,
        Err(e) => return error(&e),
    };
    let now = now();
    let (done, refused) = match how {
        Change::Replace => ("Replaced", "replace"),
        Change::Patch => ("Patched", "patch"),
    };
    let written = app.store.write(|pop| match how {
        Change::Replace => pop.replace(kind, id, &value, &now),
        Change::Patch => pop.patch(kind, id, &value, &now),
    });
    match written {
        Ok(((), generation)) => {
            info!("{done} {} {id}", kind.name().to_lowercase());
            answer_write(app, kind, id, generation, &base, &selection, StatusCode::OK).await
        }
        Err(e) => {
            info!(
                "Refused to {refused} {} {id}: {}",
                kind.name().to_lowercase(),
                e.detail
            );
            error(&e)
        }
    }
}

async fn delete(State(app): State<Shared>, Path(id): Path<String>, kind: Kind) -> Response {
    let now = now();
    match app.store.write(|pop| pop.delete(kind, &id, &now)) {
        Ok(((), generation)) => {
            info!("Deleted {} {id}", kind.name().to_lowercase());
            match app.store.saved(generation).await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => error(&e),
            }
        }
        Err(e) => error(&e),
    }
}

async fn service_provider_config(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let base = base_url(&app, &headers);
    scim(StatusCode::OK, &schema::service_provider_config(&base))
}

fn list_of(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [scim_protocol::population::LIST_RESPONSE_URN],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

async fn resource_types(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let base = base_url(&app, &headers);
    let all = [Kind::User, Kind::Group].map(|k| k.resource_type_json(&base));
    scim(StatusCode::OK, &list_of(all.into()))
}

async fn resource_type(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let base = base_url(&app, &headers);
    match [Kind::User, Kind::Group]
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(&id))
    {
        Some(kind) => scim(StatusCode::OK, &kind.resource_type_json(&base)),
        None => error(&ScimError::not_found(format!(
            "no resource type {id}; there are User and Group"
        ))),
    }
}

async fn schemas(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let base = base_url(&app, &headers);
    scim(
        StatusCode::OK,
        &list_of(ALL.iter().map(|s| s.to_json(&base)).collect()),
    )
}

async fn schema_by_id(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let base = base_url(&app, &headers);
    match schema::by_id(&id) {
        Some(s) => scim(StatusCode::OK, &s.to_json(&base)),
        None => error(&ScimError::not_found(format!(
            "no schema {id} (see /Schemas)"
        ))),
    }
}

/// Open to anyone: whether the process answers, and whether it can save.
async fn health(State(app): State<Shared>) -> Response {
    let (users, groups, unsynced) = app.store.read(|p| {
        (
            p.user_counts().0,
            p.group_count(),
            p.revision() != p.synced().revision,
        )
    });
    let syncs = app.store.sync_status();
    let body = json!({
        "status": if app.store.last_save_error().is_none() { "healthy" } else { "unhealthy" },
        "service": "timecamp-scim-server",
        "users": users,
        "groups": groups,
        "unsynced_changes": unsynced,
        "syncs": {"runs": syncs.runs, "last": syncs.last, "last_started": syncs.last_started, "last_finished": syncs.last_finished},
        // The error itself can name the bucket or its endpoint, and this
        // route is open: it is in the log, every second while it lasts.
        "saving": if app.store.last_save_error().is_none() { "ok" } else { "failing; the log says why" },
    });
    let status = if app.store.last_save_error().is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_uuids_and_differ() {
        let a = new_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, new_id());
    }

    #[test]
    fn query_names_are_read_in_any_case_and_only_once() {
        let p = Params::parse(Some(
            "FILTER=userName%20eq%20%22a%22&startIndex=2&x=1".into(),
        ))
        .unwrap();
        assert_eq!(p.filter.as_deref(), Some("userName eq \"a\""));
        assert_eq!(p.start_index.as_deref(), Some("2"));
        assert!(Params::parse(Some("count=1&Count=2".into())).is_err());
    }
}
