//! A throw-away working directory for running stage binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of a binary of the workspace by its name on `PATH`, for tests
/// that go over the stage list instead of naming each binary with
/// `env!("CARGO_BIN_EXE_<name>")`. Cargo builds every binary before it runs
/// integration tests, next to the directory of the test executable.
pub fn binary(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is not built: is {name} a file of crates/cli/src/bin/?",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// A temporary working directory for one test.
pub struct Project {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("create a temporary directory"),
            env: vec![("DISABLE_FILE_LOGGING".into(), "false".into())],
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating directories) relative to the project root.
    pub fn file(self, rel: &str, contents: impl AsRef<[u8]>) -> Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    /// Writes `var/users.json` from a JSON value.
    pub fn users(self, value: serde_json::Value) -> Self {
        let text = serde_json::to_string_pretty(&value).unwrap();
        self.file("var/users.json", text)
    }

    /// Points the TimeCamp stages at a fake TimeCamp, syncing under group `root`
    /// (new users are waited for 5 s at most).
    pub fn timecamp(self, fake: &crate::FakeTimecamp, root: u64) -> Self {
        self.env("TIMECAMP_API_URL", &fake.url())
            .env("TIMECAMP_API_KEY", crate::TOKEN)
            .env("TIMECAMP_ROOT_GROUP_ID", &root.to_string())
            .env("TIMECAMP_NEW_USER_WAIT_SECONDS", "5")
    }

    /// Writes `var/timecamp_users.json` from a JSON value.
    pub fn prepared(self, records: &serde_json::Value) -> Self {
        let text = serde_json::to_string_pretty(records).unwrap();
        self.file("var/timecamp_users.json", text)
    }

    /// Sets an environment variable for every command run in this project.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets variables from `KEY=VALUE` lines (blank lines and `#` comments skipped).
    pub fn env_lines(mut self, text: &str) -> Self {
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once('=').expect("KEY=VALUE line");
            self.env.push((k.trim().into(), v.trim().into()));
        }
        self
    }

    /// The command for a binary (give `env!("CARGO_BIN_EXE_<name>")`), run in
    /// the project root with exactly the project's environment.
    pub fn command(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.args(args).current_dir(self.root()).env_clear();
        #[allow(clippy::disallowed_methods)] // the test harness's own variable, not a setting
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Starts a binary in the background (its output discarded), for tests
    /// that interrupt it.
    pub fn spawn(&self, bin: &str, args: &[&str]) -> std::process::Child {
        self.command(bin, args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"))
    }

    /// Runs a binary (give `env!("CARGO_BIN_EXE_<name>")`) in the project root.
    pub fn run(&self, bin: &str, args: &[&str]) -> Run {
        let out = self
            .command(bin, args)
            .output()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a binary like [`Project::run`], but fails the test (instead of
    /// hanging it) when the binary has not ended within 30 s: for inputs
    /// that could block a stage (a FIFO, a device).
    pub fn run_within_deadline(&self, bin: &str, args: &[&str]) -> Run {
        use std::time::{Duration, Instant};
        let stderr = self.path("stderr.log");
        let mut child = self
            .command(bin, args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{bin} did not end within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: std::fs::read_to_string(&stderr).unwrap_or_default(),
        }
    }

    /// Makes a FIFO at `rel` that nobody writes to.
    pub fn fifo(self, rel: &str) -> Self {
        let path = self.path(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        let made = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(made.success(), "mkfifo {rel}");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
    }

    pub fn read_json(&self, rel: &str) -> serde_json::Value {
        serde_json::from_str(&self.read(rel)).unwrap()
    }

    /// The `users` list of `var/users.json`, as a fetcher wrote it.
    pub fn source_users(&self) -> Vec<serde_json::Value> {
        self.read_json("var/users.json")["users"]
            .as_array()
            .expect("var/users.json has a users list")
            .clone()
    }

    /// Asserts every fetched user keeps the source's own record, with `field` in it.
    pub fn assert_fetched_with_raw_data(&self, field: &str) {
        assert!(
            self.source_users()
                .iter()
                .all(|u| u["raw_data"][field].is_string()),
            "every fetched user keeps raw_data"
        );
    }

    /// Asserts the prepared file does not carry the source's own records.
    pub fn assert_prepared_without_raw_data(&self) {
        assert!(
            self.read_json("var/timecamp_users.json")
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u.get("raw_data").is_none()),
            "the prepared file does not carry raw_data"
        );
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn expect_success(&self) -> &Self {
        self.expect_code(0)
    }

    /// The ERROR lines of the log on stderr.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains(" - ERROR - "))
            .collect()
    }

    /// Asserts that stderr contains `needle`.
    pub fn expect_stderr(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr does not contain {needle:?}:\n{}",
            self.stderr
        );
        self
    }
}
