//! The first day: a stage started where there is no `.env` (cron runs jobs in
//! the home directory unless told to `cd`) says that no `.env` was found and
//! where it looked, and leaves that directory as it was.

use scim_test_support::Project;
use serde_json::json;

const STAGES: &[(&str, &str)] = &[
    ("sync-users", env!("CARGO_BIN_EXE_sync-users")),
    ("sync-time-off", env!("CARGO_BIN_EXE_sync-time-off")),
    (
        "remove-empty-groups",
        env!("CARGO_BIN_EXE_remove-empty-groups"),
    ),
    ("prepare-timecamp", env!("CARGO_BIN_EXE_prepare-timecamp")),
    ("display-tree", env!("CARGO_BIN_EXE_display-tree")),
    ("fetch-bamboohr", env!("CARGO_BIN_EXE_fetch-bamboohr")),
    ("http-service", env!("CARGO_BIN_EXE_http-service")),
];

/// Runs `bin` in `p` with no setting at all, not even the harness's
/// `DISABLE_FILE_LOGGING`.
fn run_bare(p: &Project, bin: &str) -> scim_test_support::Run {
    let out = p
        .command(bin, &[])
        .env_remove("DISABLE_FILE_LOGGING")
        .output()
        .unwrap();
    scim_test_support::Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn no_dotenv_above(p: &Project) {
    let found = p.root().ancestors().find(|d| d.join(".env").is_file());
    assert!(
        found.is_none(),
        "this test needs a directory with no .env above it; found {found:?}"
    );
}

#[test]
fn a_stage_run_where_there_is_no_dotenv_says_so_and_creates_nothing() {
    for (name, bin) in STAGES {
        let p = Project::new();
        no_dotenv_above(&p);
        let run = run_bare(&p, bin);
        assert!(
            matches!(run.code, Some(1 | 2)),
            "{name} failed: {:?}\n{}",
            run.code,
            run.stderr
        );
        run.expect_stderr(&format!(
            "No .env was found in {} or any directory above it",
            p.root().display()
        ));
        let left: Vec<_> = std::fs::read_dir(p.root()).unwrap().collect();
        assert!(left.is_empty(), "{name} left {left:?} behind");
    }
}

#[test]
fn a_run_where_there_is_no_dotenv_that_works_keeps_its_log() {
    let p = Project::new()
        .users(json!({"users": [
            {"external_id": "1", "name": "Ann", "email": "ann@x.com", "department": "Sales", "status": "active"}
        ]}));
    no_dotenv_above(&p);
    let run = run_bare(&p, env!("CARGO_BIN_EXE_prepare-timecamp"));
    run.expect_success();
    assert!(!run.stderr.contains("No .env was found"), "{}", run.stderr);
    let log = p.read("var/logs/sync.log");
    assert!(
        log.contains("prepare-timecamp 0.1.0"),
        "from the first line: {log}"
    );
    assert!(log.contains("Wrote 1 users"), "{log}");
}

#[test]
fn with_a_setting_in_the_environment_the_log_is_written_as_the_run_goes() {
    // A container passes its settings in the environment, without .env.
    let p = Project::new().env("TIMECAMP_SHOW_EXTERNAL_ID", "false");
    no_dotenv_above(&p);
    let run = run_bare(&p, env!("CARGO_BIN_EXE_prepare-timecamp"));
    run.expect_code(1);
    assert!(!run.stderr.contains("No .env was found"), "{}", run.stderr);
    assert!(p.read("var/logs/sync.log").contains("run a fetcher first"));
}
