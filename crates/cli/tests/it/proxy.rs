//! A proxy set in `.env` is used: `.env` never reaches the process
//! environment, but reqwest reads its proxy variables from there, so they
//! are exported like `SSL_CERT_FILE`. The proxy here is a loopback listener
//! that records the request line it gets and answers 502.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use scim_test_support::Project;
use serde_json::json;

const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");

/// Starts the proxy; returns its URL and the request lines it got.
fn recording_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut first = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut first).is_ok() {
                lines.lock().unwrap().push(first.trim_end().to_owned());
            }
            let _ = stream.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (url, seen)
}

#[test]
fn a_proxy_set_in_dotenv_carries_the_requests() {
    let (proxy, seen) = recording_proxy();
    // Nothing listens at the TimeCamp address: only the proxy can answer.
    let run = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_API_KEY", "tc-key")
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .env("TIMECAMP_HTTP_MAX_ATTEMPTS", "1")
        .file(
            ".env",
            format!("TIMECAMP_API_URL=http://192.0.2.1:9/third_party/api\nHTTP_PROXY={proxy}\n"),
        )
        .prepared(
            &json!([{"timecamp_email": "a@x.com", "timecamp_status": "active",
                           "timecamp_user_name": "A", "timecamp_groups_breadcrumb": "",
                           "timecamp_role": "user"}]),
        )
        .run(SYNC, &["--dry-run"]);
    run.expect_code(1);
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|line| line.starts_with("GET http://192.0.2.1:9/third_party/api/")),
        "the proxy got {seen:?}; the run said:\n{}",
        run.stderr
    );
}
