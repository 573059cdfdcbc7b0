//! http-service over real HTTP: the service binary runs as a child process on
//! a loopback port it binds itself (port 0, read back from its start-up
//! line) and runs the real stage binaries next to it.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use scim_test_support::{FakeTimecamp, Project, TOKEN};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_http-service");
const SECRET: &str = "service-token-8d1f";

struct Service {
    child: Child,
    url: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(project: &Project, extra: &[(&str, &str)]) -> Service {
    start_binary(BIN, project, extra)
}

/// Starts the service on port 0 and waits for the line naming the port it
/// bound: no port is picked, released and handed over, so no other test can
/// take it in between.
fn start_binary(bin: &str, project: &Project, extra: &[(&str, &str)]) -> Service {
    let mut cmd = project.command(bin, &[]);
    cmd.env("HTTP_SERVICE_HOST", "127.0.0.1")
        .env("HTTP_SERVICE_PORT", "0")
        .env("HTTP_SERVICE_TOKEN", SECRET)
        .env("DISABLE_FILE_LOGGING", "true")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(project.path("service.log")).unwrap());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let port = bound_port(project, &mut child);
    Service {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// The port of the service's start-up line (`listening on http://127.0.0.1:<port>`).
fn bound_port(project: &Project, child: &mut Child) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = service_log(project);
        if let Some(rest) = log.split("listening on http://127.0.0.1:").nth(1) {
            return rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("no port in the start-up line: {log}"));
        }
        let exited = child.try_wait().ok().flatten().is_some();
        assert!(
            Instant::now() < deadline && !exited,
            "http-service did not start: {log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn users_project() -> Project {
    Project::new().users(json!({"users": [
        {"external_id": "1", "name": "Ada", "email": "ada@x.com", "department": "Eng", "status": "active", "supervisor_id": ""}
    ]}))
}

async fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn refuses_to_start_without_a_token() {
    let run = Project::new().run(BIN, &[]);
    run.expect_code(2)
        .expect_stderr("HTTP_SERVICE_TOKEN is not set");
}

#[tokio::test]
async fn health_is_open_and_everything_else_needs_the_token() {
    let p = Project::new();
    let s = start(&p, &[]);
    let (status, body) = call("GET", &format!("{}/health", s.url), None, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("healthy")));
    assert_eq!(
        call("GET", &format!("{}/scripts", s.url), None, None)
            .await
            .0,
        401
    );
    assert_eq!(
        call("GET", &format!("{}/scripts", s.url), Some("wrong"), None)
            .await
            .0,
        401
    );
    let (status, body) = call(
        "POST",
        &format!("{}/run/prepare-timecamp", s.url),
        None,
        None,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = call("GET", &format!("{}/scripts", s.url), Some(SECRET), None).await;
    assert_eq!(status, 200);
    let names = body["available_scripts"].as_array().unwrap();
    assert!(names.contains(&json!("fetch_bamboohr.py")) && names.contains(&json!("sync-users")));
}

#[tokio::test]
async fn original_script_names_run_the_new_binaries() {
    let p = users_project();
    let s = start(&p, &[]);
    let (status, body) = call(
        "POST",
        &format!("{}/run", s.url),
        Some(SECRET),
        Some(json!({"script": "prepare_timecamp_json_from_fetch.py", "args": ["--debug"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["stage"], "prepare-timecamp");
    assert!(body["stderr"].as_str().unwrap().contains("Wrote 1 users"));
    assert!(p.exists("var/timecamp_users.json"));

    // A bare POST (no body, no content type) and a `scripts/...` name work too.
    let (status, body) = call(
        "POST",
        &format!("{}/run/scripts/display_timecamp_tree.py", s.url),
        Some(SECRET),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["stdout"]
            .as_str()
            .unwrap()
            .contains("TIMECAMP GROUP STRUCTURE")
    );
}

#[tokio::test]
async fn unknown_scripts_flags_and_missing_binaries_are_refused() {
    let p = users_project();
    let s = start(&p, &[]);
    let url = format!("{}/run", s.url);
    let run = |body: Value| call("POST", &url, Some(SECRET), Some(body));
    let (status, body) = run(json!({"script": "rm -rf"})).await;
    assert_eq!(status, 400);
    assert!(body["available_scripts"].is_array());
    let (status, body) =
        run(json!({"script": "prepare-timecamp", "args": ["--output", "/etc/cron.d/x"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not allowed"));
    let (status, _) =
        run(json!({"script": "display-tree", "args": ["--file", "/etc/passwd"]})).await;
    assert_eq!(status, 400);
    let (status, body) = call("POST", &format!("{}/run", s.url), Some(SECRET), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("No JSON data provided"))
    );
    let (status, _) = run(json!({"args": []})).await;
    assert_eq!(status, 400);
    let (status, _) = run(json!({"script": "sync-users", "args": "--dry-run"})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_failing_stage_answers_500_with_its_output() {
    let p = Project::new();
    let s = start(&p, &[]);
    let (status, body) = call(
        "POST",
        &format!("{}/run/prepare-timecamp", s.url),
        Some(SECRET),
        None,
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body["return_code"], 1);
    assert_eq!(body["success"], false);
    assert!(
        body["stderr"]
            .as_str()
            .unwrap()
            .contains("run a fetcher first")
    );
}

fn slow_sync_project(fake: &FakeTimecamp) -> Project {
    Project::new()
        .file(
            "var/timecamp_users.json",
            serde_json::to_string(&json!([
                {"timecamp_user_name": "A", "timecamp_email": "a@x.com", "timecamp_groups_breadcrumb": "",
                 "timecamp_status": "active", "timecamp_role": "user"}
            ]))
            .unwrap(),
        )
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
}

#[tokio::test]
async fn one_run_of_a_stage_at_a_time() {
    let fake = FakeTimecamp::start(10);
    let p = slow_sync_project(&fake);
    let env: Vec<(String, String)> = vec![
        ("TIMECAMP_API_URL".into(), fake.url()),
        ("TIMECAMP_API_KEY".into(), TOKEN.into()),
        ("TIMECAMP_ROOT_GROUP_ID".into(), "10".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = start(&p, &env);
    let url = format!("{}/run", s.url);
    let body = json!({"script": "timecamp_sync_users.py", "args": ["--dry-run"]});
    // The first run is held at its first request to TimeCamp: it is running
    // for certain when the second request comes, however slow the machine.
    fake.hold_requests();
    let first = tokio::spawn({
        let (url, body) = (url.clone(), body.clone());
        async move { call("POST", &url, Some(SECRET), Some(body)).await }
    });
    eventually("the first sync waits on TimeCamp", || fake.held() > 0).await;
    let (s2, b2) = call("POST", &url, Some(SECRET), Some(body.clone())).await;
    fake.release_requests();
    let (s1, b1) = first.await.unwrap();
    assert_eq!(s1, 200, "{b1}");
    assert_eq!(s2, 409, "{b2}");
    assert!(b2["error"].as_str().unwrap().contains("already running"));
}

#[tokio::test]
async fn a_stage_running_past_the_timeout_is_stopped_with_408() {
    let fake = FakeTimecamp::start(10).latency(Duration::from_secs(3));
    let p = slow_sync_project(&fake);
    let url = fake.url();
    let s = start(
        &p,
        &[
            ("TIMECAMP_API_URL", url.as_str()),
            ("TIMECAMP_API_KEY", TOKEN),
            ("TIMECAMP_ROOT_GROUP_ID", "10"),
            ("HTTP_SERVICE_TIMEOUT_SECONDS", "1"),
        ],
    );
    let (status, body) = call(
        "POST",
        &format!("{}/run/sync-users", s.url),
        Some(SECRET),
        Some(json!({"args": ["--dry-run"]})),
    )
    .await;
    assert_eq!(status, 408, "{body}");
    assert!(body["error"].as_str().unwrap().contains("timed out"));
}

#[tokio::test]
async fn a_stage_missing_next_to_the_service_answers_404() {
    // A service installed alone: no stage binary beside it.
    let p = users_project();
    let alone = p.path("bin/http-service");
    std::fs::create_dir_all(alone.parent().unwrap()).unwrap();
    std::fs::copy(BIN, &alone).unwrap();
    let s = start_binary(alone.to_str().unwrap(), &p, &[]);
    let (status, body) = call(
        "POST",
        &format!("{}/run", s.url),
        Some(SECRET),
        Some(json!({"script": "fetch_factorialhr.py"})),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("fetch-factorial is not installed")
    );
}

/// The service's own log so far.
fn service_log(p: &Project) -> String {
    std::fs::read_to_string(p.path("service.log")).unwrap_or_default()
}

/// Waits up to 60 s for `done`.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A sync with work to do: one rename and `new` people to invite.
fn sync_with_work(fake: &FakeTimecamp, new: usize) -> Project {
    let mut records = vec![
        json!({"timecamp_user_name": "A New", "timecamp_email": "a@x.com",
        "timecamp_groups_breadcrumb": "", "timecamp_status": "active", "timecamp_role": "user"}),
    ];
    for i in 0..new {
        records.push(json!({"timecamp_user_name": format!("N {i}"), "timecamp_email": format!("n{i}@x.com"),
            "timecamp_groups_breadcrumb": "Team", "timecamp_status": "active", "timecamp_role": "user"}));
    }
    Project::new()
        .prepared(&Value::Array(records))
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .env("TIMECAMP_CONCURRENCY", "1")
        .env("TIMECAMP_MAX_DEACTIVATIONS", "100%")
        .env("DISABLE_FILE_LOGGING", "true")
}

fn service_env(
    fake: &FakeTimecamp,
    extra: &[(&'static str, &'static str)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("TIMECAMP_API_URL".into(), fake.url()),
        ("TIMECAMP_API_KEY".into(), TOKEN.into()),
        ("TIMECAMP_ROOT_GROUP_ID".into(), "10".into()),
        ("TIMECAMP_CONCURRENCY".into(), "1".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    env
}

#[tokio::test]
async fn a_caller_hanging_up_does_not_stop_the_stage() {
    let fake = FakeTimecamp::start(10)
        .user(2, "a@x.com", "A Old", 10)
        .latency(Duration::from_millis(100));
    let p = sync_with_work(&fake, 5);
    let env = service_env(&fake, &[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = start(&p, &env);
    // A scheduler that gives up after 300 ms.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let hung_up = impatient
        .post(format!("{}/run/sync-users", s.url))
        .bearer_auth(SECRET)
        .send()
        .await;
    assert!(hung_up.is_err(), "the caller gave up before the sync ended");
    eventually("the sync has finished and logged its result", || {
        service_log(&p).contains("sync-users finished with exit code 0")
    })
    .await;
    assert!(
        service_log(&p).contains("the caller had hung up"),
        "{}",
        service_log(&p)
    );
    assert_eq!(fake.display_name("a@x.com").as_deref(), Some("A New"));
    for i in 0..5 {
        let email = format!("n{i}@x.com");
        assert_eq!(
            fake.setting_of(&email, "added_manually").as_deref(),
            Some("0"),
            "{email}"
        );
    }
}

#[tokio::test]
async fn the_time_limit_stops_a_sync_between_requests_and_the_next_run_finishes() {
    let fake = FakeTimecamp::start(10)
        .user(2, "a@x.com", "A Old", 10)
        .latency(Duration::from_millis(250));
    let p = sync_with_work(&fake, 12);
    let env = service_env(&fake, &[("HTTP_SERVICE_TIMEOUT_SECONDS", "2")]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = start(&p, &env);
    let (status, body) = call(
        "POST",
        &format!("{}/run/sync-users", s.url),
        Some(SECRET),
        None,
    )
    .await;
    assert_eq!(status, 408, "{body}");
    let stderr = body["stderr"].as_str().unwrap();
    // SIGTERM, not SIGKILL: sync-users said why it stopped, and exited on its own.
    assert!(
        stderr.contains("SIGTERM: stopping after the requests in flight"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped on request"), "{stderr}");
    assert_eq!(body["return_code"], 1, "{body}");
    assert!(service_log(&p).contains("asking it to stop (SIGTERM)"));

    p.run(env!("CARGO_BIN_EXE_sync-users"), &[])
        .expect_success();
    fake.clear_requests();
    p.run(env!("CARGO_BIN_EXE_sync-users"), &[])
        .expect_success();
    assert!(
        fake.writes().is_empty(),
        "the second run finished everything"
    );
    assert_eq!(
        fake.setting_of("n11@x.com", "added_manually").as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn repeated_flags_lowercase_bearer_and_every_error_as_json() {
    let p = users_project();
    let s = start(&p, &[]);
    let (status, body) = call(
        "POST",
        &format!("{}/run/sync-users", s.url),
        Some(SECRET),
        Some(json!({"args": ["--dry-run", "--dry-run"]})),
    )
    .await;
    assert_eq!(
        status, 400,
        "a repeated flag is refused by the service: {body}"
    );
    assert!(
        body["error"].as_str().unwrap().contains("more than once"),
        "{body}"
    );

    let lower = reqwest::Client::new()
        .get(format!("{}/scripts", s.url))
        .header("Authorization", format!("bearer {SECRET}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lower.status().as_u16(),
        200,
        "the scheme is case-insensitive"
    );

    let big = reqwest::Client::new()
        .post(format!("{}/run", s.url))
        .bearer_auth(SECRET)
        .header("Content-Type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);
    let body: Value = serde_json::from_str(&big.text().await.unwrap()).expect("413 is JSON");
    assert!(body["error"].is_string(), "{body}");

    let (status, body) = call("GET", &format!("{}/nowhere", s.url), Some(SECRET), None).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string(), "{body}");
    let (status, body) = call("GET", &format!("{}/run", s.url), Some(SECRET), None).await;
    assert_eq!(status, 405);
    assert!(body["error"].is_string(), "{body}");
}

#[test]
fn start_up_line_names_the_port_actually_bound() {
    let p = Project::new();
    let s = start(&p, &[]);
    let port: u16 = s.url.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
}
