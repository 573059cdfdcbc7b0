//! `http-service`: runs the stages over HTTP, for schedulers that can only call URLs.
//!
//! Routes as in the original (`GET /health`, `GET /scripts`, `POST /run`,
//! `POST /run/<name>`), with its script names still accepted. Unlike it: every
//! route but `/health` needs `Authorization: Bearer $HTTP_SERVICE_TOKEN`; only
//! each stage's known flags pass through, once each (no paths, so no reading or
//! writing arbitrary files); one run of a stage at a time (409); a request
//! without a JSON body is fine; every answer is JSON.
//!
//! A stage belongs to the service, not to the request: a caller that hangs up
//! (a scheduler with a short HTTP timeout) does not stop it, and its result is
//! logged either way. Only `HTTP_SERVICE_TIMEOUT_SECONDS` stops a stage: first
//! SIGTERM, on which sync-users finishes its current request and stops, then
//! SIGKILL after `HTTP_SERVICE_STOP_GRACE_SECONDS`. The caller gets 408.
//!
//! Clients cannot exhaust it: a connection must send a request's headers
//! within `HTTP_SERVICE_READ_TIMEOUT_SECONDS` of opening or of its previous
//! answer (so idle and slow connections are closed), and the body within that
//! time again; at most `HTTP_SERVICE_MAX_CONNECTIONS` are open (fewer if the
//! open-file limit is low), and at the cap a new connection closes the oldest
//! one that has no request running, as nginx reuses idle connections, or is
//! answered 503 when every one is busy. Of a stage's output, the last
//! `HTTP_SERVICE_OUTPUT_TAIL_BYTES` of each stream are kept.
//!
//! SIGTERM (`docker stop`, Kubernetes) or Ctrl-C stop it gracefully: it stops
//! accepting, passes SIGTERM on to the stages running (sync-users finishes its
//! requests in flight and stops; the next run finishes its work), kills those
//! still running after `HTTP_SERVICE_STOP_GRACE_SECONDS`, answers their
//! callers (503, with the output), closes idle connections and exits 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use scim_core::stages::{Flag, STAGES, Stage};
use scim_core::{ConfigError, Env, Secret};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tracing::{info, warn};

/// Run the timecamp-scim stages over HTTP, for schedulers that can only call URLs.
///
/// Routes: GET /health, GET /scripts, POST /run {"script": ..., "args": [...]},
/// POST /run/<stage>. Every request but GET /health needs
/// "Authorization: Bearer $HTTP_SERVICE_TOKEN". The stages run with this process's
/// environment and .env, so they need their own settings too.
#[derive(Debug, Parser)]
#[command(
    name = "http-service",
    version,
    override_usage = "http-service [--debug]",
    after_help = scim_core::registry::short_help("http-service"),
    after_long_help = scim_core::registry::long_help("http-service")
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

/// Every stage binary http-service may run, as named on PATH.
pub fn stage_names() -> impl Iterator<Item = &'static str> {
    runnable().map(|s| s.name)
}

/// The stages of the one list that http-service starts.
fn runnable() -> impl Iterator<Item = &'static Stage> {
    STAGES.iter().filter(|s| s.runs_over_http())
}

/// Every name a caller may use: the binaries' and the original scripts'.
fn all_names() -> Vec<&'static str> {
    runnable()
        .flat_map(|s| std::iter::once(s.name).chain(s.original))
        .collect()
}

fn find_stage(name: &str) -> Option<&'static Stage> {
    let name = name.trim_start_matches('/');
    runnable().find(|s| s.name == name || s.original == Some(name))
}

/// Checks the arguments against the stage's flags.
fn check_args(stage: &Stage, args: &[String]) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (arg, None),
        };
        if seen.contains(&name) {
            return Err(format!("{name} is given more than once"));
        }
        seen.push(name);
        match stage
            .flags
            .iter()
            .find(|f| matches!(f, Flag::Switch(n) | Flag::Choice(n, _) if *n == name))
        {
            Some(Flag::Switch(_)) if inline.is_none() => i += 1,
            Some(Flag::Choice(_, values)) => {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i).map(String::as_str).unwrap_or_default()
                    }
                };
                if !values.contains(&value) {
                    return Err(format!("{name} takes one of: {}", values.join(", ")));
                }
                i += 1;
            }
            _ => return Err(format!("{arg:?} is not allowed for {}", stage.name)),
        }
    }
    Ok(())
}

fn allowed_flags(stage: &Stage) -> Vec<String> {
    stage
        .flags
        .iter()
        .map(|f| match f {
            Flag::Switch(n) => (*n).to_owned(),
            Flag::Choice(n, v) => format!("{n} {}", v.join("|")),
        })
        .collect()
}

/// The service's settings.
#[derive(Debug)]
struct Settings {
    token: Option<Secret>,
    addr: SocketAddr,
    timeout: Duration,
    stop_grace: Duration,
    read_timeout: Duration,
    max_connections: usize,
    output_tail: usize,
}

impl Settings {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let token = env.get("HTTP_SERVICE_TOKEN").map(Secret::new);
        let allow_no_auth = env.bool("HTTP_SERVICE_ALLOW_NO_AUTH", false)?;
        if token.is_none() && !allow_no_auth {
            return Err(ConfigError::Missing {
                var: "HTTP_SERVICE_TOKEN",
                why: "anyone who reaches the port could run syncs; set a long random token \
                      (e.g. `openssl rand -hex 32`), or HTTP_SERVICE_ALLOW_NO_AUTH=true on a closed network",
            });
        }
        let port: u16 = env.int_or("HTTP_SERVICE_PORT", "a TCP port number (1-65535)", 8181)?;
        let host = env.string("HTTP_SERVICE_HOST", "0.0.0.0");
        let addr = format!("{host}:{port}")
            .parse()
            .map_err(|_| ConfigError::Invalid {
                var: "HTTP_SERVICE_HOST",
                value: host.clone(),
                expected: "an IP address to listen on, e.g. 0.0.0.0 or 127.0.0.1",
            })?;
        let timeout = env.int_or::<u64>(
            "HTTP_SERVICE_TIMEOUT_SECONDS",
            "a whole number of seconds",
            300,
        )?;
        let stop_grace = env.int_or::<u64>(
            "HTTP_SERVICE_STOP_GRACE_SECONDS",
            "a whole number of seconds",
            30,
        )?;
        let read_timeout = bounded(
            env,
            "HTTP_SERVICE_READ_TIMEOUT_SECONDS",
            "a whole number of seconds from 1 to 300",
            1..=300,
            10,
        )?;
        let max_connections = bounded(
            env,
            "HTTP_SERVICE_MAX_CONNECTIONS",
            "a whole number from 4 to 10000",
            4..=10_000,
            64,
        )?;
        let output_tail = bounded(
            env,
            "HTTP_SERVICE_OUTPUT_TAIL_BYTES",
            "a whole number of bytes from 1024 to 16777216",
            1024..=16 * 1024 * 1024,
            256 * 1024,
        )?;
        Ok(Self {
            token,
            addr,
            timeout: Duration::from_secs(timeout.max(1)),
            stop_grace: Duration::from_secs(stop_grace),
            read_timeout: Duration::from_secs(read_timeout),
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            output_tail: usize::try_from(output_tail).unwrap_or(usize::MAX),
        })
    }
}

/// A whole-number setting within `range`, `default` when unset.
fn bounded(
    env: &Env,
    var: &'static str,
    expected: &'static str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    match env.int_or::<u64>(var, expected, default)? {
        n if range.contains(&n) => Ok(n),
        n => Err(ConfigError::Invalid {
            var,
            value: n.to_string(),
            expected,
        }),
    }
}

struct App {
    token: Option<Secret>,
    timeout: Duration,
    stop_grace: Duration,
    read_timeout: Duration,
    output_tail: usize,
    /// Becomes `true` on SIGTERM or Ctrl-C.
    stopping: watch::Receiver<bool>,
    bin_dir: PathBuf,
    /// Held by a stage's run from start to exit, whether or not its caller waits.
    running: HashMap<&'static str, Arc<tokio::sync::Mutex<()>>>,
}

type Shared = Arc<App>;

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    let settings = Settings::from_env(&env)?;
    if settings.token.is_none() {
        warn!("HTTP_SERVICE_ALLOW_NO_AUTH=true: the service accepts requests without a token");
    }
    let exe = std::env::current_exe().context("cannot find the http-service executable")?;
    let bin_dir = exe
        .parent()
        .map(PathBuf::from)
        .context("the http-service executable has no directory")?;
    let (stop, stopping) = watch::channel(false);
    let app = Arc::new(App {
        token: settings.token,
        timeout: settings.timeout,
        stop_grace: settings.stop_grace,
        read_timeout: settings.read_timeout,
        output_tail: settings.output_tail,
        stopping: stopping.clone(),
        bin_dir,
        running: runnable()
            .map(|s| (s.name, Arc::new(tokio::sync::Mutex::new(()))))
            .collect(),
    });
    let router = Router::new()
        .route("/scripts", get(scripts))
        .route("/run", post(run_body))
        .route("/run/{*name}", post(run_named))
        .route_layer(middleware::from_fn_with_state(app.clone(), authorize))
        .route("/health", get(health))
        .fallback(not_found)
        .layer(middleware::from_fn(json_errors))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (HTTP_SERVICE_HOST, HTTP_SERVICE_PORT)",
                settings.addr
            )
        })?;
    let bound = listener.local_addr().unwrap_or(settings.addr);
    let max_connections = crate::serve::fit_to_file_limit(
        settings.max_connections,
        RESERVED_FILES,
        "HTTP_SERVICE_MAX_CONNECTIONS",
    );
    info!("http-service listening on http://{bound}");
    tokio::spawn(stop_on_signal(stop));

    let server = crate::serve::Server::new(
        router,
        settings.read_timeout,
        max_connections,
        stopping,
        crate::serve::Refusal {
            content_type: "application/json",
            body: r#"{"error":"too many connections (HTTP_SERVICE_MAX_CONNECTIONS); try again later"}"#,
        },
    );
    let mut tasks = server.accept_until_stopped(listener).await;
    // Stopping: connections finish their requests (whose stages were asked to
    // stop) and close; bounded, in case a stage or a client never ends.
    let bound = app.stop_grace + settings.read_timeout + Duration::from_secs(5);
    let drained = tokio::time::timeout(bound, async {
        while tasks.join_next().await.is_some() {}
        for slot in app.running.values() {
            let _ = slot.lock().await;
        }
    })
    .await;
    match drained {
        Ok(()) => info!("http-service stopped"),
        Err(_) => warn!(
            "http-service stopped with requests still open after {} s",
            bound.as_secs()
        ),
    }
    Ok(())
}

/// Open files the service needs besides its connections: the listener, the
/// runtime, the log, and three pipes for each stage that may run.
const RESERVED_FILES: u64 = 32 + 3 * STAGES.len() as u64;

/// Waits for SIGTERM or Ctrl-C, then tells everyone to stop.
async fn stop_on_signal(stop: watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let why = match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "Interrupted",
        },
        Err(e) => {
            warn!("cannot watch for SIGTERM: {e}; only Ctrl-C stops the service gracefully");
            let _ = tokio::signal::ctrl_c().await;
            "Interrupted"
        }
    };
    info!("{why}: stopping; running stages are asked to stop and their callers answered");
    let _ = stop.send(true);
}

async fn authorize(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let Some(token) = &app.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::serve::bearer_token)
        .unwrap_or_default();
    if crate::serve::token_matches(given, token) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(json!({"error": "missing or wrong bearer token (Authorization: Bearer $HTTP_SERVICE_TOKEN)"})),
        )
            .into_response()
    }
}

/// Routes that do not exist answer JSON like the rest.
async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({"error": "no such route; see GET /health, GET /scripts, POST /run, POST /run/<stage>"}),
    )
}

/// Answers axum makes on its own (413 for a body too large, 405, 415) come
/// as plain text or empty; callers parse JSON, so they get it here too.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.is_success() || is_json {
        return response;
    }
    let text = match axum::body::to_bytes(response.into_body(), 64 * 1024).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).trim().to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    json_response(status, json!({"error": text}))
}

async fn health() -> Response {
    axum::Json(json!({"status": "healthy", "service": "timecamp-scim-http"})).into_response()
}

async fn scripts(State(app): State<Shared>) -> Response {
    let names = all_names();
    let stages: Vec<Value> = runnable()
        .map(|s| {
            json!({"name": s.name, "original_name": s.original, "flags": allowed_flags(s),
                   "installed": app.bin_dir.join(s.name).is_file()})
        })
        .collect();
    axum::Json(json!({"available_scripts": names, "stages": stages})).into_response()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({"error": message.into()}))
}

/// The JSON body, if any (`Null` when empty), and its `args`.
fn parse_body(body: &Bytes) -> Result<(Value, Vec<String>), String> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?
    };
    let args = match value.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or("args must be a list of strings")?,
        Some(_) => return Err("args must be a list of strings".into()),
    };
    Ok((value, args))
}

/// Request bodies are a script name and a few flags.
const MAX_BODY: usize = 64 * 1024;

/// The request's body, read within `HTTP_SERVICE_READ_TIMEOUT_SECONDS`.
async fn read_body(app: &App, body: Body) -> Result<Bytes, Response> {
    match tokio::time::timeout(app.read_timeout, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": format!("the body is larger than {MAX_BODY} bytes, or was cut off")}),
        )),
        Err(_) => Err(json_response(
            StatusCode::REQUEST_TIMEOUT,
            json!({"error": format!(
                "the body did not arrive within {} s (HTTP_SERVICE_READ_TIMEOUT_SECONDS)",
                app.read_timeout.as_secs()
            )}),
        )),
    }
}

async fn run_body(State(app): State<Shared>, body: Body) -> Response {
    let body = match read_body(&app, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let (body, args) = match parse_body(&body) {
        Ok(parsed) => parsed,
        Err(message) => return bad_request(message),
    };
    if body.is_null() || body.as_object().is_some_and(|o| o.is_empty()) {
        return bad_request("No JSON data provided");
    }
    let Some(name) = body.get("script").and_then(Value::as_str) else {
        return bad_request("Script name is required");
    };
    run_stage(&app, name, args).await
}

async fn run_named(State(app): State<Shared>, Path(name): Path<String>, body: Body) -> Response {
    let body = match read_body(&app, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    match parse_body(&body) {
        Ok((_, args)) => run_stage(&app, &name, args).await,
        Err(message) => bad_request(message),
    }
}

async fn run_stage(app: &App, name: &str, args: Vec<String>) -> Response {
    let Some(stage) = find_stage(name) else {
        let names = all_names();
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": format!("Script '{name}' not allowed"), "available_scripts": names}),
        );
    };
    if let Err(why) = check_args(stage, &args) {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": why, "allowed_flags": allowed_flags(stage)}),
        );
    }
    let binary = app.bin_dir.join(stage.name);
    if !binary.is_file() {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"error": format!("{} is not installed next to http-service", stage.name)}),
        );
    }
    // The map holds every stage, so the lookup cannot fail.
    let Some(slot) = app.running.get(stage.name) else {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "unknown stage"}),
        );
    };
    let Ok(running) = slot.clone().try_lock_owned() else {
        return json_response(
            StatusCode::CONFLICT,
            json!({"error": format!("{} is already running; try again when it has finished", stage.name)}),
        );
    };
    if *app.stopping.borrow() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "http-service is stopping; no new runs"}),
        );
    }
    info!("Running {} {}", stage.name, args.join(" "));
    let child = match tokio::process::Command::new(&binary)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": format!("cannot start {}: {e}", stage.name)}),
            );
        }
    };
    // The run is its own task: if the caller hangs up, this handler is
    // dropped, but the stage goes on and its result is still logged.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let limits = Limits {
        timeout: app.timeout,
        grace: app.stop_grace,
        tail: app.output_tail,
    };
    let stopping = app.stopping.clone();
    let stage_name = stage.name;
    tokio::spawn(async move {
        let finished = supervise(stage_name, child, limits, stopping).await;
        drop(running);
        if tx.send(finished).is_err() {
            info!("{stage_name}: the caller had hung up; the result above is its only record");
        }
    });
    let Ok(finished) = rx.await else {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": format!("lost track of {}", stage.name)}),
        );
    };
    let output = match finished {
        Finished::Exited(output) => output,
        Finished::TimedOut(output) => {
            return json_response(
                StatusCode::REQUEST_TIMEOUT,
                json!({
                    "error": format!(
                        "Script execution timed out ({} s, HTTP_SERVICE_TIMEOUT_SECONDS); it was stopped",
                        app.timeout.as_secs()
                    ),
                    "return_code": output.status.code(),
                    "stdout": output.stdout,
                    "stderr": output.stderr,
                }),
            );
        }
        Finished::Stopped(output) => {
            return json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({
                    "error": "http-service is stopping (SIGTERM); the stage was asked to stop, and the next run finishes its work",
                    "return_code": output.status.code(),
                    "stdout": output.stdout,
                    "stderr": output.stderr,
                }),
            );
        }
        Finished::Lost(e) => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": format!("cannot wait for {}: {e}", stage.name)}),
            );
        }
    };
    let code = output.status.code().unwrap_or(-1);
    let status = if code == 0 {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    json_response(
        status,
        json!({
            "script": name,
            "stage": stage.name,
            "args": args,
            "return_code": code,
            "stdout": output.stdout,
            "stderr": output.stderr,
            "success": code == 0,
        }),
    )
}

/// How long a stage may run and stop, and how much of its output is kept.
#[derive(Debug, Clone, Copy)]
struct Limits {
    timeout: Duration,
    grace: Duration,
    tail: usize,
}

/// What a stage left: its exit status and the tails of its output.
struct Output {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// How a stage's run ended.
enum Finished {
    Exited(Output),
    /// Stopped at the time limit (what it printed until then).
    TimedOut(Output),
    /// Stopped because the service is stopping.
    Stopped(Output),
    Lost(std::io::Error),
}

/// The last `limit` bytes of a stream, read to its end. When earlier bytes
/// were dropped, the text starts at a line boundary after a note saying how
/// many.
async fn tail(stream: Option<impl tokio::io::AsyncRead + Unpin>, limit: usize) -> String {
    let Some(mut stream) = stream else {
        return String::new();
    };
    let mut kept: Vec<u8> = Vec::new();
    let mut dropped: u64 = 0;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&chunk[..n]);
                // Compact now and then, not on every read.
                if kept.len() > 2 * limit {
                    let cut = kept.len() - limit;
                    dropped += cut as u64;
                    kept.drain(..cut);
                }
            }
        }
    }
    if kept.len() > limit {
        let cut = kept.len() - limit;
        dropped += cut as u64;
        kept.drain(..cut);
    }
    if dropped == 0 {
        return String::from_utf8_lossy(&kept).into_owned();
    }
    let start = kept.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
    dropped += start as u64;
    format!(
        "[{dropped} bytes of earlier output dropped; HTTP_SERVICE_OUTPUT_TAIL_BYTES]\n{}",
        String::from_utf8_lossy(&kept[start..])
    )
}

/// Waits for a stage; at the time limit, or when the service stops, asks it
/// to stop (SIGTERM), and kills it only if it is still running after the
/// grace period. Logs the end.
async fn supervise(
    stage: &'static str,
    mut child: tokio::process::Child,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) -> Finished {
    let pid = child.id();
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let output = async move {
        let (status, stdout, stderr) = tokio::join!(
            child.wait(),
            tail(stdout, limits.tail),
            tail(stderr, limits.tail)
        );
        status.map(|status| Output {
            status,
            stdout,
            stderr,
        })
    };
    tokio::pin!(output);
    let result = tokio::select! {
        result = tokio::time::timeout(limits.timeout, output.as_mut()) => match result {
            Ok(result) => result.map(Finished::Exited),
            Err(_) => {
                warn!(
                    "{stage} ran past {} s (HTTP_SERVICE_TIMEOUT_SECONDS); asking it to stop (SIGTERM)",
                    limits.timeout.as_secs()
                );
                stop_child(stage, pid, limits.grace, output.as_mut()).await.map(Finished::TimedOut)
            }
        },
        _ = crate::serve::stopped(&mut stopping) => {
            warn!("{stage}: the service is stopping; asking it to stop (SIGTERM)");
            stop_child(stage, pid, limits.grace, output.as_mut()).await.map(Finished::Stopped)
        }
    };
    let result = result.unwrap_or_else(Finished::Lost);
    match &result {
        Finished::Exited(out) | Finished::TimedOut(out) | Finished::Stopped(out) => {
            let code = out
                .status
                .code()
                .map_or_else(|| "none (killed by a signal)".to_owned(), |c| c.to_string());
            let last = out
                .stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or_default();
            info!("{stage} finished with exit code {code}; its last line: {last}");
        }
        Finished::Lost(e) => warn!("{stage}: cannot wait for it: {e}"),
    }
    result
}

/// Asks a stage to stop (SIGTERM); kills it if it still runs after `grace`.
async fn stop_child<F>(
    stage: &str,
    pid: Option<u32>,
    grace: Duration,
    mut output: std::pin::Pin<&mut F>,
) -> std::io::Result<Output>
where
    F: std::future::Future<Output = std::io::Result<Output>>,
{
    signal(pid, rustix::process::Signal::TERM);
    match tokio::time::timeout(grace, output.as_mut()).await {
        Ok(result) => result,
        Err(_) => {
            warn!(
                "{stage} still running {} s after SIGTERM (HTTP_SERVICE_STOP_GRACE_SECONDS); killing it",
                grace.as_secs()
            );
            signal(pid, rustix::process::Signal::KILL);
            output.await
        }
    }
}

fn signal(pid: Option<u32>, sig: rustix::process::Signal) {
    let pid = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid
        && let Err(e) = rustix::process::kill_process(pid, sig)
    {
        warn!("cannot signal process {}: {e}", pid.as_raw_nonzero());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn original_and_new_names_find_the_same_stage() {
        assert_eq!(
            find_stage("timecamp_sync_users.py").map(|s| s.name),
            Some("sync-users")
        );
        assert_eq!(
            find_stage("scripts/remove_empty_groups.py").map(|s| s.name),
            Some("remove-empty-groups")
        );
        assert_eq!(find_stage("sync-users").map(|s| s.name), Some("sync-users"));
        assert!(find_stage("rm").is_none());
    }

    #[test]
    fn only_known_flags_pass() {
        let sync = find_stage("sync-users").unwrap();
        assert!(check_args(sync, &args(&["--dry-run", "--output", "json"])).is_ok());
        assert!(check_args(sync, &args(&["--output=json"])).is_ok());
        assert!(check_args(sync, &args(&["--output", "yaml"])).is_err());
        assert!(check_args(sync, &args(&["--input", "/etc/passwd"])).is_err());
        assert!(check_args(sync, &args(&["--dry-run=1"])).is_err());
        let prepare = find_stage("prepare-timecamp").unwrap();
        assert!(check_args(prepare, &args(&["--output", "/tmp/x"])).is_err());
        assert!(check_args(sync, &args(&["--dry-run", "--dry-run"])).is_err());
        assert!(check_args(sync, &args(&["--output", "json", "--output=text"])).is_err());
    }
}
