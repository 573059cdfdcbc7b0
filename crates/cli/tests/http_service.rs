//! http-service over real HTTP: the service binary runs as a child process on
//! a free loopback port and runs the real stage binaries next to it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic by design

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(project: &Project, extra: &[(&str, &str)]) -> Service {
    start_binary(BIN, project, extra)
}

fn start_binary(bin: &str, project: &Project, extra: &[(&str, &str)]) -> Service {
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.current_dir(project.root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HTTP_SERVICE_HOST", "127.0.0.1")
        .env("HTTP_SERVICE_PORT", port.to_string())
        .env("HTTP_SERVICE_TOKEN", SECRET)
        .env("DISABLE_FILE_LOGGING", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http-service did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Service {
        child,
        url: format!("http://127.0.0.1:{port}"),
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
    let fake = FakeTimecamp::start(10).latency(Duration::from_millis(700));
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
    let first = call("POST", &url, Some(SECRET), Some(body.clone()));
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        call("POST", &url, Some(SECRET), Some(body.clone())).await
    };
    let ((s1, b1), (s2, b2)) = tokio::join!(first, second);
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
