//! A real S3-compatible server for tests: moto's server mode (PyPI `moto[server]`),
//! started on a loopback port of its own choosing (port 0; it prints the port
//! it bound) and stopped on drop.
//!
//! `scripts/test` installs it into `target/test-tools/moto`; `MOTO_SERVER` may
//! point at another `moto_server`. The tests seed and read buckets with the
//! AWS SDK's own client and credentials, not through the code under test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct MotoServer {
    child: Child,
    port: u16,
    /// Holds the server's log, where it says which port it bound.
    _dir: tempfile::TempDir,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> PathBuf {
    #[allow(clippy::disallowed_methods)] // the test harness's own variable, not a setting
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-tools/moto/bin/moto_server");
    if local.exists() {
        return local;
    }
    PathBuf::from("moto_server")
}

impl MotoServer {
    /// A server that accepts any credentials.
    pub fn start() -> Self {
        Self::spawn(false)
    }

    /// A server that checks credentials against its (empty) IAM: every key is refused.
    pub fn start_checking_credentials() -> Self {
        Self::spawn(true)
    }

    fn spawn(check_credentials: bool) -> Self {
        let dir = tempfile::tempdir().expect("a directory for moto's log");
        let log = dir.path().join("moto.log");
        let binary = moto_binary();
        let mut cmd = Command::new(&binary);
        cmd.args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("moto's log file"));
        if check_credentials {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}); run scripts/test, which installs moto into target/test-tools, \
                 or set MOTO_SERVER",
                binary.display()
            )
        });
        // Werkzeug prints ` * Running on http://127.0.0.1:<port>` once it listens.
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) = text
                .split("Running on http://127.0.0.1:")
                .nth(1)
                .and_then(|rest| {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse::<u16>().ok()
                })
            {
                break port;
            }
            let exited = child.try_wait().ok().flatten().is_some();
            assert!(
                Instant::now() < deadline && !exited,
                "moto_server did not start: {text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    /// The value for `S3_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.block_on(self.client().create_bucket().bucket(bucket).send())
            .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
    }

    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        let body = aws_sdk_s3::primitives::ByteStream::from(body.to_vec());
        self.block_on(
            self.client()
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body)
                .send(),
        )
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }

    /// The keys under `prefix`, sorted.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self
            .block_on(
                self.client()
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("list {prefix}: {e:?}"));
        let mut keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }

    /// Puts an object with user metadata (`x-amz-meta-<key>`).
    pub fn put_with_metadata(&self, bucket: &str, key: &str, body: &[u8], meta: &[(&str, &str)]) {
        let mut req = self
            .client()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()));
        for (k, v) in meta {
            req = req.metadata(*k, *v);
        }
        self.block_on(req.send())
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }

    /// The object's user metadata.
    pub fn metadata(&self, bucket: &str, key: &str) -> std::collections::HashMap<String, String> {
        self.block_on(self.client().head_object().bucket(bucket).key(key).send())
            .unwrap_or_else(|e| panic!("head {key}: {e:?}"))
            .metadata()
            .cloned()
            .unwrap_or_default()
    }

    /// The object's bytes, or `None` when it does not exist.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.block_on(async {
            match self
                .client()
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => Some(
                    out.body
                        .collect()
                        .await
                        .expect("object body")
                        .into_bytes()
                        .to_vec(),
                ),
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => None,
                Err(e) => panic!("get {key}: {e:?}"),
            }
        })
    }

    fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(self.url())
            .force_path_style(true)
            // Plain HTTP to moto; the SDK has no default client here (see the workspace manifest).
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f)
    }
}
