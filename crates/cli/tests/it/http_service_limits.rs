//! http-service against idle, slow and many clients, and its stop on SIGTERM.
//! The service listens on port 0 and the test reads the port from its log.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use scim_test_support::{FakeTimecamp, Project, TOKEN};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_http-service");
const SECRET: &str = "service-token-5c2e";
/// Waits that only keep a broken build from hanging the suite; never a speed check.
const HANG_GUARD: Duration = Duration::from_secs(60);

struct Service {
    child: Child,
    port: u16,
}

impl Service {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log(p: &Project) -> String {
    std::fs::read_to_string(p.path("service.log")).unwrap_or_default()
}

/// Starts the service under `ulimit -n <files>` (a shell sets the limit, then
/// becomes the service), on port 0, and reads the port from its log.
fn start(p: &Project, files: u32, extra: &[(&str, &str)]) -> Service {
    let mut cmd = p.command(
        "sh",
        &["-c", &format!("ulimit -n {files} && exec \"$0\""), BIN],
    );
    cmd.env("HTTP_SERVICE_HOST", "127.0.0.1")
        .env("HTTP_SERVICE_PORT", "0")
        .env("HTTP_SERVICE_TOKEN", SECRET)
        .env("DISABLE_FILE_LOGGING", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(p.path("service.log")).unwrap());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + HANG_GUARD;
    let port = loop {
        if let Some(rest) = log(p).split("listening on http://127.0.0.1:").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "no start-up line: {}", log(p));
        std::thread::sleep(Duration::from_millis(20));
    };
    Service { child, port }
}

async fn get_health(s: &Service) -> reqwest::Result<u16> {
    let client = reqwest::Client::builder().timeout(HANG_GUARD).build()?;
    Ok(client.get(s.url("/health")).send().await?.status().as_u16())
}

/// Reads until the peer closes; `true` if it did (EOF or reset), `false` if
/// the hang guard ran out first.
fn closed_by_peer(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[tokio::test]
async fn health_answers_while_three_hundred_idle_clients_hold_connections() {
    let p = Project::new();
    // Fewer open files than idle clients: the service cannot keep them all.
    let s = start(&p, 256, &[("HTTP_SERVICE_READ_TIMEOUT_SECONDS", "300")]);
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port)).unwrap())
        .collect();
    assert_eq!(get_health(&s).await.unwrap(), 200, "{}", log(&p));
    // A second time, with the idle clients still there.
    assert_eq!(get_health(&s).await.unwrap(), 200, "{}", log(&p));
    drop(idle);
}

#[tokio::test]
async fn at_the_cap_the_oldest_idle_connection_makes_room() {
    let p = Project::new();
    let s = start(
        &p,
        4096,
        &[
            ("HTTP_SERVICE_MAX_CONNECTIONS", "4"),
            ("HTTP_SERVICE_READ_TIMEOUT_SECONDS", "300"),
        ],
    );
    let mut oldest = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let _others: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port)).unwrap())
        .collect();
    assert_eq!(get_health(&s).await.unwrap(), 200);
    assert!(
        closed_by_peer(&mut oldest),
        "the oldest idle connection was closed"
    );
}

#[test]
fn a_client_that_sends_nothing_or_trickles_its_headers_is_disconnected() {
    let p = Project::new();
    let s = start(&p, 4096, &[("HTTP_SERVICE_READ_TIMEOUT_SECONDS", "1")]);
    let mut silent = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    assert!(closed_by_peer(&mut silent), "an idle connection stays open");

    // A byte every 200 ms: the headers never complete within the limit.
    let mut slow = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut_off = false;
    for byte in request {
        if slow.write_all(&[*byte]).is_err() {
            cut_off = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        cut_off || closed_by_peer(&mut slow),
        "a trickled request was served"
    );
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(!answer.contains("healthy"), "{answer}");
}

#[test]
fn sigterm_with_nothing_running_exits_zero() {
    let p = Project::new();
    let mut s = start(&p, 4096, &[]);
    let _idle = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    terminate(&s.child);
    let status = wait(&mut s.child);
    assert_eq!(status.code(), Some(0), "{status:?}: {}", log(&p));
    assert!(log(&p).contains("SIGTERM: stopping"), "{}", log(&p));
}

#[tokio::test]
async fn sigterm_stops_a_running_sync_answers_its_caller_and_the_next_run_finishes() {
    let fake = FakeTimecamp::start(10)
        .user(2, "a@x.com", "A Old", 10)
        .latency(Duration::from_millis(250));
    let mut records = vec![
        json!({"timecamp_user_name": "A New", "timecamp_email": "a@x.com",
        "timecamp_groups_breadcrumb": "", "timecamp_status": "active", "timecamp_role": "user"}),
    ];
    for i in 0..12 {
        records.push(json!({"timecamp_user_name": format!("N {i}"), "timecamp_email": format!("n{i}@x.com"),
            "timecamp_groups_breadcrumb": "Team", "timecamp_status": "active", "timecamp_role": "user"}));
    }
    let p = Project::new()
        .prepared(&Value::Array(records))
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .env("TIMECAMP_CONCURRENCY", "1")
        .env("TIMECAMP_MAX_DEACTIVATIONS", "100%")
        .env("DISABLE_FILE_LOGGING", "true");
    let mut s = start(&p, 4096, &[]);
    let client = reqwest::Client::builder()
        .timeout(HANG_GUARD)
        .build()
        .unwrap();
    let call = client
        .post(s.url("/run/sync-users"))
        .bearer_auth(SECRET)
        .send();
    let stop = async {
        let deadline = Instant::now() + HANG_GUARD;
        // The sync is under way once TimeCamp has seen a write.
        while fake.writes().is_empty() {
            assert!(Instant::now() < deadline, "the sync never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        terminate(&s.child);
    };
    let (response, ()) = tokio::join!(call, stop);
    let response = response.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.unwrap();
    let stderr = body["stderr"].as_str().unwrap();
    assert!(
        stderr.contains("SIGTERM: stopping after the requests in flight"),
        "the stage was asked to stop, not killed: {stderr}"
    );
    let status = wait(&mut s.child);
    assert_eq!(status.code(), Some(0), "{status:?}: {}", log(&p));

    p.run(env!("CARGO_BIN_EXE_sync-users"), &[])
        .expect_success();
    fake.clear_requests();
    p.run(env!("CARGO_BIN_EXE_sync-users"), &[])
        .expect_success();
    assert!(
        fake.writes().is_empty(),
        "the second run finished everything"
    );
}

#[tokio::test]
async fn a_stage_output_is_kept_to_its_last_bytes() {
    let users: Vec<Value> = (0..400)
        .map(|i| {
            json!({"external_id": i.to_string(), "name": format!("Person {i}"),
            "email": format!("p{i}@x.com"), "department": format!("Dept {i}"),
            "status": "active", "supervisor_id": ""})
        })
        .collect();
    let p = Project::new().users(json!({ "users": users }));
    let s = start(&p, 4096, &[("HTTP_SERVICE_OUTPUT_TAIL_BYTES", "1024")]);
    let client = reqwest::Client::builder()
        .timeout(HANG_GUARD)
        .build()
        .unwrap();
    p.run(env!("CARGO_BIN_EXE_prepare-timecamp"), &[])
        .expect_success();
    let body: Value = client
        .post(s.url("/run/display-tree"))
        .bearer_auth(SECRET)
        .json(&json!({"args": ["--detailed"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["return_code"], 0, "{body}");
    let stdout = body["stdout"].as_str().unwrap();
    assert!(stdout.len() <= 1024 + 100, "{} bytes kept", stdout.len());
    assert!(
        stdout.starts_with('[') && stdout.contains("bytes of earlier output dropped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("p399@x.com")
            || stdout.contains("Person 399")
            || stdout.contains("Dept 99"),
        "the end is kept: {stdout}"
    );
}

fn terminate(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the service did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}
