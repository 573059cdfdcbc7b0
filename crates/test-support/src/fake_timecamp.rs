//! A stateful fake of TimeCamp's REST API, served over real HTTP
//! on a loopback port from its own thread, so both plain and async tests (and
//! stage binaries run as child processes) can use it.
//!
//! It keeps groups, users, settings and roles, and answers like the real
//! service: ids as strings, writes that return empty bodies, an invite that
//! does not return the new user (who may appear in `GET /users` only later),
//! 404 past the fourth group level, 403 for a role change addressed to a group
//! the user is not in, 401 without the right bearer token. Faults (throttling,
//! 500s for one user, latency, malformed JSON) are switched on per test.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The bearer token the fake accepts.
pub const TOKEN: &str = "fake-timecamp-token";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path below `/third_party/api/`, e.g. `group/10/user`.
    pub path: String,
    pub query: String,
    pub body: Value,
}

impl Recorded {
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

#[derive(Debug, Clone)]
struct FakeGroup {
    name: String,
    parent: u64,
}

#[derive(Debug, Clone)]
struct FakeUser {
    email: String,
    display_name: Option<String>,
    group_id: u64,
    /// Role in the group the user is in.
    role: u8,
    /// `GET /users` calls left before the user is listed (eventual consistency).
    hidden_for: u32,
}

#[derive(Debug, Default)]
struct Faults {
    /// Every n-th request answers 429 with `Retry-After: <retry_after>`.
    throttle_every: Option<u64>,
    retry_after: String,
    /// Successful answers to GETs whose path starts with this are padded with
    /// white space to this many bytes (still valid JSON).
    padded: Option<(String, usize)>,
    /// Writes about these user ids or e-mails answer 500.
    failing: HashSet<String>,
    /// Requests (method, path prefix) that answer 500.
    failing_requests: Vec<(String, String)>,
    /// Invited users stay out of `GET /users` for this many calls.
    invite_hidden_for: u32,
    latency: Duration,
    /// Requests whose path starts with this get a malformed JSON body.
    malformed_prefix: Option<String>,
    /// The next n requests stall (the client times out).
    stall_next: u64,
    /// Every n-th request answers with this status (a gateway error, say).
    fail_every: Option<(u64, u16)>,
    /// Deleting these groups answers 500.
    failing_group_deletions: HashSet<u64>,
    /// The next n group creations answer 403 (TimeCamp's transient refusal).
    forbid_group_creations: u64,
    /// Requests (method, path prefix) that are applied and then lose their
    /// answer: the connection is dropped, the next n of them.
    lose_answers: Option<(String, String, u64)>,
    /// Writes after the first n hang for an hour: before they are applied
    /// (`false`) or after, with the answer never sent (`true`). A test kills
    /// the client while it waits, at a point it chose.
    hang_writes: Option<(u64, bool)>,
}

#[derive(Debug, Default)]
struct State_ {
    /// The user the token belongs to (`GET /me`); by default one not in
    /// `GET /users`, so tests that do not care have no protected user.
    owner: Option<u64>,
    groups: BTreeMap<u64, FakeGroup>,
    users: BTreeMap<u64, FakeUser>,
    settings: HashMap<u64, BTreeMap<String, String>>,
    next_id: u64,
    requests: Vec<Recorded>,
    invitation_emails_sent: Vec<String>,
    /// user id → day → day type id
    attendance: HashMap<u64, BTreeMap<String, u64>>,
    faults: Faults,
    counter: u64,
    /// Write requests received, for `hang_writes`.
    writes_seen: u64,
    /// Write requests now hanging.
    hanging: u64,
    /// `true` while requests are held (see [`FakeTimecamp::hold_requests`]).
    gate: Gate,
    /// Requests waiting at the gate now.
    held: u64,
}

/// Holds requests until the test opens it: a point a test can wait for
/// instead of guessing how long a client takes to get there.
#[derive(Debug)]
struct Gate(tokio::sync::watch::Sender<bool>);

impl Default for Gate {
    fn default() -> Self {
        Self(tokio::sync::watch::Sender::new(false))
    }
}

/// Accepts connections, but resets (RST, via SO_LINGER 0) the next
/// `resets` of them before a byte is read: what a client sees when a proxy or
/// load balancer drops it.
struct ResettingListener {
    inner: tokio::net::TcpListener,
    resets: Arc<AtomicU64>,
}

impl axum::serve::Listener for ResettingListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.inner.accept().await else {
                continue;
            };
            let reset = self
                .resets
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if reset {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                drop(stream);
                continue;
            }
            return (stream, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A running fake; the server stops when this is dropped.
pub struct FakeTimecamp {
    state: Arc<Mutex<State_>>,
    resets: Arc<AtomicU64>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakeTimecamp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Not joined: a stalled request would keep the graceful shutdown waiting.
        // The thread ends with its last connection, or with the test process.
        drop(self.thread.take());
    }
}

impl FakeTimecamp {
    /// Starts an empty account whose top group is `root` ("Company").
    pub fn start(root: u64) -> Self {
        let state = Arc::new(Mutex::new(State_ {
            next_id: 1000,
            ..State_::default()
        }));
        state.lock().unwrap().groups.insert(
            root,
            FakeGroup {
                name: "Company".into(),
                parent: 0,
            },
        );
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let app_state = state.clone();
        let resets = Arc::new(AtomicU64::new(0));
        let listener_resets = resets.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let inner = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(inner.local_addr().unwrap()).unwrap();
                let listener = ResettingListener {
                    inner,
                    resets: listener_resets,
                };
                let app = Router::new().fallback(handle).with_state(app_state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Self {
            state,
            resets,
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// The value for `TIMECAMP_API_URL`.
    pub fn url(&self) -> String {
        format!("http://{}/third_party/api", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        self.state.lock().unwrap()
    }

    // ---- seeding ----

    /// Ids the fake hands out later (new groups and users) stay above the seeded ones.
    fn reserve(&self, id: u64) {
        let mut s = self.lock();
        s.next_id = s.next_id.max(id);
    }

    pub fn group(self, id: u64, name: &str, parent: u64) -> Self {
        self.reserve(id);
        self.lock().groups.insert(
            id,
            FakeGroup {
                name: name.into(),
                parent,
            },
        );
        self
    }

    /// A user with role 3 (user) in `group`.
    pub fn user(self, id: u64, email: &str, name: &str, group: u64) -> Self {
        self.reserve(id);
        self.lock().users.insert(
            id,
            FakeUser {
                email: email.into(),
                display_name: Some(name.into()),
                group_id: group,
                role: 3,
                hidden_for: 0,
            },
        );
        self
    }

    /// The user the token belongs to: `GET /me` answers with them.
    pub fn owner(self, id: u64) -> Self {
        self.lock().owner = Some(id);
        self
    }

    pub fn role(self, id: u64, role: u8) -> Self {
        self.lock()
            .users
            .get_mut(&id)
            .expect("seed the user first")
            .role = role;
        self
    }

    pub fn setting(self, id: u64, name: &str, value: &str) -> Self {
        self.lock()
            .settings
            .entry(id)
            .or_default()
            .insert(name.into(), value.into());
        self
    }

    pub fn disabled(self, id: u64) -> Self {
        self.setting(id, "disabled_user", "1")
    }

    // ---- faults ----

    /// Every `n`-th request is answered 429 with `Retry-After: retry_after`.
    pub fn throttle_every(self, n: u64, retry_after: u64) -> Self {
        self.throttle_every_saying(n, &retry_after.to_string())
    }

    /// Every `n`-th request is answered 429 with this `Retry-After` text,
    /// whatever it is (`inf`, `1e20`, a date).
    pub fn throttle_every_saying(self, n: u64, retry_after: &str) -> Self {
        {
            let mut s = self.lock();
            s.faults.throttle_every = Some(n);
            s.faults.retry_after = retry_after.to_owned();
        }
        self
    }

    /// Answers to GETs whose path starts with `path_prefix` are padded with
    /// white space to `bytes` bytes: valid JSON, only too large.
    pub fn pad_answers(self, path_prefix: &str, bytes: usize) -> Self {
        self.lock().faults.padded = Some((path_prefix.to_owned(), bytes));
        self
    }

    /// Every `n`-th request answers `status` with TimeCamp's edge error body.
    pub fn fail_every(self, n: u64, status: u16) -> Self {
        self.lock().faults.fail_every = Some((n, status));
        self
    }

    /// Writes concerning this user (id or e-mail) answer 500.
    pub fn fail_writes_for(self, who: &str) -> Self {
        self.lock().faults.failing.insert(who.to_lowercase());
        self
    }

    /// Requests of `method` whose path starts with `prefix` answer 500.
    pub fn fail_requests(self, method: &str, prefix: &str) -> Self {
        self.lock()
            .faults
            .failing_requests
            .push((method.into(), prefix.into()));
        self
    }

    pub fn clear_faults(&self) {
        self.lock().faults = Faults::default();
    }

    /// Invited users appear in `GET /users` only after `calls` listings.
    pub fn invites_visible_after(self, calls: u32) -> Self {
        self.lock().faults.invite_hidden_for = calls;
        self
    }

    /// Every request from now on waits, unanswered, until
    /// [`FakeTimecamp::release_requests`]; [`FakeTimecamp::held`] says how
    /// many wait. A test holds a client in the middle of its run this way.
    pub fn hold_requests(&self) {
        self.lock().gate.0.send_replace(true);
    }

    /// Answers the held requests, and no longer holds new ones.
    pub fn release_requests(&self) {
        self.lock().gate.0.send_replace(false);
    }

    /// Requests waiting now (see [`FakeTimecamp::hold_requests`]).
    pub fn held(&self) -> u64 {
        self.lock().held
    }

    pub fn latency(self, latency: Duration) -> Self {
        self.lock().faults.latency = latency;
        self
    }

    /// Deleting this group answers 500.
    pub fn fail_deleting_group(self, id: u64) -> Self {
        self.lock().faults.failing_group_deletions.insert(id);
        self
    }

    /// The next `n` group creations answer 403 "You can not change this group".
    pub fn forbid_group_creations(self, n: u64) -> Self {
        self.lock().faults.forbid_group_creations = n;
        self
    }

    pub fn malformed_json_for(self, path_prefix: &str) -> Self {
        self.lock().faults.malformed_prefix = Some(path_prefix.into());
        self
    }

    /// The next `n` connections are reset as soon as they are accepted.
    pub fn reset_connections(self, n: u64) -> Self {
        self.resets.store(n, Ordering::SeqCst);
        self
    }

    /// Every write after the first `n` hangs: unapplied, or (with
    /// `applied`) applied but never answered. [`FakeTimecamp::hanging`] tells
    /// when the client is stuck on one, so a test can kill it there.
    pub fn hang_writes_after(&self, n: u64, applied: bool) {
        let mut s = self.lock();
        s.writes_seen = 0;
        s.faults.hang_writes = Some((n, applied));
    }

    /// Write requests hanging now (see [`FakeTimecamp::hang_writes_after`]).
    pub fn hanging(&self) -> u64 {
        self.lock().hanging
    }

    /// The whole account as sorted lines without ids: every group path, and
    /// every user with group path, name, role and settings. Two runs that
    /// reach the same state print the same lines, whatever ids they assigned.
    pub fn snapshot(&self) -> Vec<String> {
        let s = self.lock();
        let mut lines: Vec<String> = s
            .groups
            .keys()
            .map(|id| format!("group {}", path_of(&s, *id)))
            .collect();
        for (id, u) in &s.users {
            let settings: Vec<String> = s
                .settings
                .get(id)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            lines.push(format!(
                "user {} in {:?} named {:?} role {} [{}]",
                u.email.to_lowercase(),
                path_of(&s, u.group_id),
                u.display_name.as_deref().unwrap_or_default(),
                u.role,
                settings.join(", ")
            ));
        }
        lines.sort();
        lines
    }

    /// The next `n` requests of `method` whose path starts with `prefix` are
    /// applied, then their connection is dropped without an answer: what a
    /// client sees when a proxy or the network loses TimeCamp's reply.
    pub fn lose_answers(self, method: &str, prefix: &str, n: u64) -> Self {
        self.lock().faults.lose_answers = Some((method.into(), prefix.into(), n));
        self
    }

    /// The next `n` requests get no answer for an hour (the client times out).
    pub fn stall_next(self, n: u64) -> Self {
        self.lock().faults.stall_next = n;
        self
    }

    // ---- inspection ----

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_write)
            .collect()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    pub fn user_id(&self, email: &str) -> Option<u64> {
        let s = self.lock();
        s.users
            .iter()
            .find(|(_, u)| u.email.eq_ignore_ascii_case(email))
            .map(|(id, _)| *id)
    }

    pub fn display_name(&self, email: &str) -> Option<String> {
        let id = self.user_id(email)?;
        self.lock().users[&id].display_name.clone()
    }

    /// The user's group as a path of names from the account's top group.
    pub fn group_path_of(&self, email: &str) -> String {
        let id = self.user_id(email).expect("user exists");
        let s = self.lock();
        path_of(&s, s.users[&id].group_id)
    }

    pub fn group_id_of(&self, email: &str) -> u64 {
        let id = self.user_id(email).expect("user exists");
        self.lock().users[&id].group_id
    }

    pub fn role_of(&self, email: &str) -> u8 {
        let id = self.user_id(email).expect("user exists");
        self.lock().users[&id].role
    }

    pub fn setting_of(&self, email: &str, name: &str) -> Option<String> {
        let id = self.user_id(email).expect("user exists");
        self.lock().settings.get(&id)?.get(name).cloned()
    }

    pub fn is_enabled(&self, email: &str) -> bool {
        self.setting_of(email, "disabled_user").as_deref() != Some("1")
    }

    /// Every group as its full path of names.
    pub fn group_paths(&self) -> Vec<String> {
        let s = self.lock();
        let mut paths: Vec<String> = s.groups.keys().map(|id| path_of(&s, *id)).collect();
        paths.sort();
        paths
    }

    pub fn user_count(&self) -> usize {
        self.lock().users.len()
    }

    /// The day type recorded for a user on a day (`YYYY-MM-DD`).
    pub fn attendance_of(&self, email: &str, day: &str) -> Option<u64> {
        let id = self.user_id(email)?;
        self.lock().attendance.get(&id)?.get(day).copied()
    }

    /// Records a day for a user, as if entered in TimeCamp.
    pub fn attendance_day(self, user_id: u64, day: &str, day_type: u64) -> Self {
        self.lock()
            .attendance
            .entry(user_id)
            .or_default()
            .insert(day.into(), day_type);
        self
    }

    /// E-mails to which TimeCamp would have sent an invitation.
    pub fn invitation_emails_sent(&self) -> Vec<String> {
        self.lock().invitation_emails_sent.clone()
    }
}

fn path_of(s: &State_, mut id: u64) -> String {
    let mut parts = Vec::new();
    let mut guard = 0;
    while let Some(g) = s.groups.get(&id) {
        parts.push(g.name.trim().to_owned());
        id = g.parent;
        guard += 1;
        if guard > 64 {
            break;
        }
    }
    parts.reverse();
    parts.join("/")
}

fn level_of(s: &State_, id: u64) -> usize {
    let mut level = 0;
    let mut cur = id;
    while let Some(g) = s.groups.get(&cur) {
        level += 1;
        cur = g.parent;
        if level > 64 {
            break;
        }
    }
    level
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({"message": text}))).into_response()
}

fn ok_json(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

fn id_text(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

async fn handle(
    State(state): State<Arc<Mutex<State_>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut gate = state.lock().unwrap().gate.0.subscribe();
    if *gate.borrow_and_update() {
        /// Counts a held request until it goes on or its client hangs up.
        struct Waiting<'s>(&'s Mutex<State_>);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                if let Ok(mut s) = self.0.lock() {
                    s.held -= 1;
                }
            }
        }
        state.lock().unwrap().held += 1;
        let _waiting = Waiting(&state);
        let _ = gate.wait_for(|held| !held).await;
    }
    let (latency, stall) = {
        let mut s = state.lock().unwrap();
        let stall = s.faults.stall_next > 0;
        if stall {
            s.faults.stall_next -= 1;
        }
        (s.faults.latency, stall)
    };
    if stall {
        // A handler cannot reset the socket; a very long stall makes the client's
        // timeout fire instead, which the client treats like a broken connection.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let hang = {
        let mut s = state.lock().unwrap();
        match s.faults.hang_writes {
            Some((after, applied)) if method != Method::GET => {
                s.writes_seen += 1;
                (s.writes_seen > after).then_some(applied)
            }
            _ => None,
        }
    };
    let hang_for_good = || async {
        state.lock().unwrap().hanging += 1;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    };
    if hang == Some(false) {
        hang_for_good().await;
    }
    let padding = {
        let s = state.lock().unwrap();
        s.faults.padded.clone().filter(|(prefix, _)| {
            method == Method::GET
                && uri
                    .path()
                    .trim_start_matches("/third_party/api/")
                    .starts_with(prefix.as_str())
        })
    };
    let lose = {
        let mut s = state.lock().unwrap();
        let path = uri.path().trim_start_matches("/third_party/api/");
        match &mut s.faults.lose_answers {
            Some((m, prefix, n))
                if *n > 0 && m == method.as_str() && path.starts_with(&**prefix) =>
            {
                *n -= 1;
                true
            }
            _ => false,
        }
    };
    let mut response = respond(&state, method, uri, headers, body);
    if hang == Some(true) {
        hang_for_good().await;
    }
    if let Some((_, bytes)) = padding
        && response.status().is_success()
    {
        let (parts, body) = response.into_parts();
        let mut text = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default()
            .to_vec();
        text.resize(text.len().max(bytes), b' ');
        let mut padded = Response::from_parts(parts, axum::body::Body::from(text));
        padded.headers_mut().remove("content-length");
        response = padded;
    }
    if lose {
        // Unwinding out of the handler ends the connection's task: the socket
        // closes with no answer. resume_unwind skips the panic hook, so no
        // noise in the test output.
        drop(response);
        std::panic::resume_unwind(Box::new("the fake drops this answer"));
    }
    response
}

/// The answer to one request, after the fault switches that delay it.
fn respond(
    state: &Mutex<State_>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().unwrap();
    let path = uri
        .path()
        .trim_start_matches("/third_party/api/")
        .to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return message(StatusCode::BAD_REQUEST, "Invalid JSON body"),
        }
    };
    s.requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        body: body.clone(),
    });
    s.counter += 1;

    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"));
    if !authorized {
        return message(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if let Some(n) = s.faults.throttle_every
        && s.counter.is_multiple_of(n)
    {
        let retry_after = s.faults.retry_after.clone();
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", retry_after)],
            axum::Json(json!({"message": "Too Many Requests"})),
        )
            .into_response();
    }
    if let Some((n, status)) = s.faults.fail_every
        && s.counter.is_multiple_of(n)
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        return (
            status,
            axum::Json(
                json!({"retryable": true, "retry_after": 0, "error_name": "origin_bad_gateway"}),
            ),
        )
            .into_response();
    }
    if let Some(prefix) = &s.faults.malformed_prefix
        && path.starts_with(prefix.as_str())
    {
        return (StatusCode::OK, "{\"groups\": [ this is not json").into_response();
    }
    let failing_request = s
        .faults
        .failing_requests
        .iter()
        .any(|(m, prefix)| m == method.as_str() && path.starts_with(prefix.as_str()));
    if failing_request || (method != Method::GET && touches_failing_user(&s, &path, &body)) {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }

    let segments: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["users"]) => list_users(&mut s),
        ("GET", ["me"]) => me(&s),
        ("GET", ["group"]) => ok_json(Value::Array(
            s.groups
                .iter()
                .map(|(id, g)| {
                    json!({"group_id": id.to_string(), "name": g.name, "parent_id": g.parent.to_string()})
                })
                .collect(),
        )),
        ("PUT", ["group"]) => create_group(&mut s, &body),
        ("DELETE", ["group"]) => delete_group(&mut s, &body),
        ("GET", ["attendance", "day_types"]) => day_types(&s),
        ("GET", ["attendance", uid, "user"]) => read_attendance(&s, uid, &query),
        ("POST", ["attendance", uid, "user"]) => write_attendance(&mut s, uid, &body),
        ("GET", ["people_picker"]) => people_picker(&s),
        ("GET", ["user", ids, "setting"]) => read_settings(&s, ids, &query),
        ("PUT", ["user", id, "setting"]) => write_setting(&mut s, id, &body),
        ("POST", ["user"]) => update_user(&mut s, &body),
        ("POST", ["group", gid, "user"]) => invite(&mut s, gid, &body),
        ("PUT", ["group", gid, "user"]) => change_membership(&mut s, gid, &body),
        _ => message(StatusCode::NOT_FOUND, "Not found"),
    }
}

fn touches_failing_user(s: &State_, path: &str, body: &Value) -> bool {
    if s.faults.failing.is_empty() {
        return false;
    }
    let mut who: Vec<String> = Vec::new();
    let ids: Vec<u64> = match body.get("user_id") {
        Some(Value::Array(ids)) => ids.iter().filter_map(|v| id_text(Some(v))).collect(),
        one => id_text(one).into_iter().collect(),
    };
    for id in ids {
        who.push(id.to_string());
        if let Some(u) = s.users.get(&id) {
            who.push(u.email.to_lowercase());
        }
    }
    if let Some(emails) = body.get("email").and_then(Value::as_array) {
        who.extend(
            emails
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase),
        );
    }
    let segments: Vec<&str> = path.split('/').collect();
    if let ["user", id, "setting"] = segments.as_slice()
        && let Ok(id) = id.parse::<u64>()
    {
        who.push(id.to_string());
        if let Some(u) = s.users.get(&id) {
            who.push(u.email.to_lowercase());
        }
    }
    who.iter().any(|w| s.faults.failing.contains(w))
}

fn list_users(s: &mut State_) -> Response {
    let mut out = Vec::new();
    for (id, u) in s.users.iter_mut() {
        if u.hidden_for > 0 {
            u.hidden_for -= 1;
            continue;
        }
        out.push(json!({
            "group_id": u.group_id.to_string(),
            "user_id": id.to_string(),
            "email": u.email,
            "login_count": "0",
            "login_time": "1970-01-01 00:00:00",
            "display_name": u.display_name,
            "synch_time": "1970-01-01 00:00:00",
        }));
    }
    ok_json(Value::Array(out))
}

/// `GET /me`: the token's user, with the account's top group.
fn me(s: &State_) -> Response {
    let root = s
        .groups
        .iter()
        .find(|(_, g)| g.parent == 0)
        .map_or(0, |(id, _)| *id);
    let (id, email, name) = match s.owner.and_then(|id| Some((id, s.users.get(&id)?))) {
        Some((id, u)) => (id, u.email.clone(), u.display_name.clone()),
        None => (
            999_999,
            "key.owner@example.com".into(),
            Some("Key Owner".into()),
        ),
    };
    ok_json(json!({
        "user_id": id.to_string(), "email": email, "display_name": name,
        "register_time": "2020-01-01 00:00:00", "synch_time": "2020-01-01 00:00:00",
        "root_group_id": root.to_string(),
        "permissions": {"time_tracking_admin": true, "create_projects": true, "can_view_rates": true}
    }))
}

fn create_group(s: &mut State_, body: &Value) -> Response {
    if s.faults.forbid_group_creations > 0 {
        s.faults.forbid_group_creations -= 1;
        return message(StatusCode::FORBIDDEN, "You can not change this group");
    }
    let Some(name) = body.get("name").and_then(Value::as_str) else {
        return message(StatusCode::BAD_REQUEST, "You must send group name");
    };
    let Some(parent) = id_text(body.get("parent_id")) else {
        return message(StatusCode::BAD_REQUEST, "You must send parent_id");
    };
    if !s.groups.contains_key(&parent) {
        return message(StatusCode::FORBIDDEN, "You can not change this group");
    }
    if level_of(s, parent) + 1 > 4 {
        return message(
            StatusCode::NOT_FOUND,
            "You can create groups only up to level 4",
        );
    }
    s.next_id += 1;
    let id = s.next_id;
    s.groups.insert(
        id,
        FakeGroup {
            name: name.into(),
            parent,
        },
    );
    let mut root = parent;
    while let Some(g) = s.groups.get(&root).filter(|g| g.parent != 0) {
        root = g.parent;
    }
    ok_json(
        json!({"group_id": id.to_string(), "name": name, "admin_id": "0",
                   "parent_id": parent.to_string(), "root_group_id": root.to_string()}),
    )
}

/// The account's day types: 12 Working Day, 13 Vacation, 14 Sick Leave (a day off), 15 Holiday.
fn day_types(_s: &State_) -> Response {
    ok_json(json!({"data": {
        "12": {"id": 12, "slug": "normal", "name": "Working Day", "isDayOff": false, "isDefault": true, "isActive": true},
        "13": {"id": 13, "slug": "vacation", "name": "Vacation", "isDayOff": true, "isDefault": false, "isActive": true},
        "14": {"id": 14, "slug": "sick", "name": "Sick Leave", "isDayOff": true, "isDefault": false, "isActive": true},
        "15": {"id": 15, "slug": "holiday", "name": "Holiday", "isDayOff": true, "isDefault": false, "isActive": true}
    }}))
}

fn read_attendance(s: &State_, uid: &str, query: &str) -> Response {
    let Some(uid) = uid.parse::<u64>().ok().filter(|u| s.users.contains_key(u)) else {
        return message(StatusCode::NOT_FOUND, "User not found");
    };
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    };
    let (start, end) = (param("start"), param("end"));
    let data: serde_json::Map<String, Value> = s
        .attendance
        .get(&uid)
        .map(|days| {
            days.iter()
                .filter(|(d, _)| d.as_str() >= start.as_str() && d.as_str() <= end.as_str())
                .map(|(d, t)| {
                    (
                        d.clone(),
                        json!({"userId": uid.to_string(), "day": d, "dayTypeId": t}),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    ok_json(json!({"data": data}))
}

fn write_attendance(s: &mut State_, uid: &str, body: &Value) -> Response {
    let Some(uid) = uid.parse::<u64>().ok().filter(|u| s.users.contains_key(u)) else {
        return message(StatusCode::NOT_FOUND, "User not found");
    };
    let Some(days) = body.as_array() else {
        return message(StatusCode::BAD_REQUEST, "Invalid payload.");
    };
    let dates: Vec<&str> = days.iter().filter_map(|d| d["day"].as_str()).collect();
    if let (Some(first), Some(last)) = (dates.iter().min(), dates.iter().max()) {
        let span = days_between(first, last);
        if span > 100 {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"message": "Invalid payload.", "error": format!("The provided date range exceeds the allowed limit of 100 days. Given range: {span} days.")})),
            )
                .into_response();
        }
    }
    for d in days {
        if let (Some(day), Some(t)) = (d["day"].as_str(), d["dayTypeId"].as_u64()) {
            s.attendance
                .entry(uid)
                .or_default()
                .insert(day.to_owned(), t);
        }
    }
    ok_json(json!({"message": "Attendance was updated successfully."}))
}

/// Days from `a` to `b` (YYYY-MM-DD), by a civil-date day count.
fn days_between(a: &str, b: &str) -> i64 {
    fn day_number(d: &str) -> i64 {
        let p: Vec<i64> = d.split('-').filter_map(|x| x.parse().ok()).collect();
        let (y, m, d) = (p[0] - i64::from(p[1] <= 2), p[1], p[2]);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy
    }
    day_number(b) - day_number(a)
}

/// `DELETE /group {"group_id"}`: the top group cannot go; subgroups and users
/// of a deleted group move to the account's top group, as TimeCamp documents.
fn delete_group(s: &mut State_, body: &Value) -> Response {
    let Some(id) = id_text(body.get("group_id")) else {
        return message(StatusCode::BAD_REQUEST, "You must send group_id");
    };
    if s.faults.failing_group_deletions.contains(&id) {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    let Some(group) = s.groups.get(&id) else {
        return message(StatusCode::NOT_FOUND, "Group not found");
    };
    if group.parent == 0 {
        return message(StatusCode::FORBIDDEN, "You can not remove this group");
    }
    let top = s
        .groups
        .iter()
        .find(|(_, g)| g.parent == 0)
        .map_or(0, |(id, _)| *id);
    s.groups.remove(&id);
    for g in s.groups.values_mut().filter(|g| g.parent == id) {
        g.parent = top;
    }
    for u in s.users.values_mut().filter(|u| u.group_id == id) {
        u.group_id = top;
    }
    ok_empty()
}

fn people_picker(s: &State_) -> Response {
    let mut groups = serde_json::Map::new();
    for gid in s.groups.keys() {
        let members: serde_json::Map<String, Value> = s
            .users
            .iter()
            .filter(|(_, u)| u.group_id == *gid && u.hidden_for == 0)
            .map(|(id, u)| (id.to_string(), json!({"role_id": u.role.to_string()})))
            .collect();
        let users = if members.is_empty() {
            json!([])
        } else {
            Value::Object(members)
        };
        groups.insert(
            gid.to_string(),
            json!({"group_id": gid.to_string(), "users": users}),
        );
    }
    ok_json(json!({"groups": groups}))
}

fn read_settings(s: &State_, ids: &str, query: &str) -> Response {
    let names: Vec<String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "name%5B%5D" || *k == "name[]" || *k == "name")
        .map(|(_, v)| v.to_owned())
        .collect();
    let mut out = serde_json::Map::new();
    for id in ids.split(',').filter_map(|i| i.trim().parse::<u64>().ok()) {
        if !s.users.contains_key(&id) {
            continue;
        }
        let list: Vec<Value> = s
            .settings
            .get(&id)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| names.is_empty() || names.contains(k))
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(id.to_string(), Value::Array(list));
    }
    ok_json(Value::Object(out))
}

fn write_setting(s: &mut State_, id: &str, body: &Value) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return message(StatusCode::NOT_FOUND, "User not found");
    };
    if !s.users.contains_key(&id) {
        return message(StatusCode::NOT_FOUND, "User not found");
    }
    let (Some(name), Some(value)) = (
        body.get("name").and_then(Value::as_str),
        body.get("value").and_then(Value::as_str),
    ) else {
        return message(StatusCode::BAD_REQUEST, "You must send name and value");
    };
    if ![
        "disabled_user",
        "additional_email",
        "external_id",
        "added_manually",
    ]
    .contains(&name)
    {
        return message(
            StatusCode::FORBIDDEN,
            &format!("Setting {name} cannot be changed"),
        );
    }
    s.settings
        .entry(id)
        .or_default()
        .insert(name.into(), value.into());
    ok_json(json!({"userId": id.to_string(), "name": name, "value": value}))
}

fn update_user(s: &mut State_, body: &Value) -> Response {
    let Some(id) = id_text(body.get("user_id")) else {
        return message(StatusCode::FORBIDDEN, "You can change one user at time");
    };
    // A login is one account's: the fake refuses another's address (what
    // TimeCamp answers then is not documented; a refusal is the safe guess).
    if let Some(email) = body.get("email").and_then(Value::as_str)
        && s.users
            .iter()
            .any(|(other, u)| *other != id && u.email.eq_ignore_ascii_case(email.trim()))
    {
        return message(StatusCode::BAD_REQUEST, "This e-mail is already used");
    }
    let Some(user) = s.users.get_mut(&id) else {
        return message(StatusCode::FORBIDDEN, "You can not change this user");
    };
    if let Some(name) = body.get("display_name").and_then(Value::as_str) {
        user.display_name = Some(name.into());
    }
    if let Some(email) = body.get("email").and_then(Value::as_str) {
        user.email = email.into();
    }
    ok_empty()
}

fn invite(s: &mut State_, gid: &str, body: &Value) -> Response {
    let Some(gid) = gid.parse::<u64>().ok().filter(|g| s.groups.contains_key(g)) else {
        return message(
            StatusCode::FORBIDDEN,
            "You cannot invite people to this group",
        );
    };
    let Some(emails) = body.get("email").and_then(Value::as_array) else {
        return message(StatusCode::BAD_REQUEST, "invalid email ");
    };
    let silent = [body.get("send_mail"), body.get("send_email")]
        .iter()
        .any(|f| {
            matches!(f, Some(Value::String(v)) if v == "0")
                || matches!(f, Some(Value::Number(n)) if n.as_u64() == Some(0))
        });
    let mut statuses = serde_json::Map::new();
    for email in emails {
        let Some(email) = email.as_str().filter(|e| {
            let e = e.trim();
            e.split('@').count() == 2 && !e.starts_with('@') && !e.ends_with('@')
        }) else {
            return message(StatusCode::BAD_REQUEST, "invalid email ");
        };
        if s.users
            .values()
            .any(|u| u.email.eq_ignore_ascii_case(email))
        {
            statuses.insert(email.into(), json!({"status": "Already exists"}));
            continue;
        }
        s.next_id += 1;
        let id = s.next_id;
        let hidden_for = s.faults.invite_hidden_for;
        s.users.insert(
            id,
            FakeUser {
                email: email.into(),
                // TimeCamp names a new user after the e-mail's local part.
                display_name: Some(email.split('@').next().unwrap_or(email).into()),
                group_id: gid,
                role: 3,
                hidden_for,
            },
        );
        // The worst case for a sync: the invitee looks added by hand until
        // the sync writes added_manually=0.
        s.settings
            .entry(id)
            .or_default()
            .insert("added_manually".into(), "1".into());
        if !silent {
            s.invitation_emails_sent.push(email.into());
        }
        let status = if silent { "Add to group" } else { "Invite" };
        statuses.insert(email.into(), json!({"status": status}));
    }
    ok_json(json!({"statuses": statuses}))
}

/// `PUT /group/<gid>/user`: moves users (`group_id`) or sets their role
/// (`role_id`). `user_id` is one id or a list, as TimeCamp documents; the
/// request is refused whole when one of them is not in the group.
fn change_membership(s: &mut State_, gid: &str, body: &Value) -> Response {
    let Ok(gid) = gid.parse::<u64>() else {
        return message(StatusCode::NOT_FOUND, "Group not found");
    };
    let uids: Vec<u64> = match body.get("user_id") {
        Some(Value::Array(ids)) => ids.iter().filter_map(|v| id_text(Some(v))).collect(),
        one => id_text(one).into_iter().collect(),
    };
    if uids.is_empty() {
        return message(StatusCode::FORBIDDEN, "User with specified ID wasn't found");
    }
    for uid in &uids {
        let Some(user) = s.users.get(uid) else {
            return message(StatusCode::FORBIDDEN, "User with specified ID wasn't found");
        };
        if user.group_id != gid {
            return message(StatusCode::FORBIDDEN, "User does not belong to this group");
        }
    }
    let target = id_text(body.get("group_id"));
    let role = id_text(body.get("role_id"));
    if let Some(target) = target
        && !s.groups.contains_key(&target)
    {
        return message(
            StatusCode::FORBIDDEN,
            "You cannot move people to this group",
        );
    }
    if let Some(role) = role
        && ![1, 2, 3, 5].contains(&role)
    {
        return message(
            StatusCode::FORBIDDEN,
            "You cannot change roles in this group",
        );
    }
    for uid in &uids {
        if let Some(u) = s.users.get_mut(uid) {
            if let Some(target) = target {
                u.group_id = target;
            }
            if let Some(role) = role {
                u.role = role as u8;
            }
        }
    }
    ok_json(
        json!({"user_id": uids, "role_id": role.unwrap_or(0), "group_id": target.unwrap_or(gid)}),
    )
}
