//! An error says each cause once: in its own message, or as its `source()`
//! (which the stages' `{:#}` prints after it), never both. A cause said twice
//! made lines such as `var/timecamp_users.json is not valid JSON: … :
//! var/timecamp_users.json is not valid JSON: …`.

use scim_core::files::read_regular_at_most;
use scim_core::storage::{self, LocalStorage, StageFileError};
use scim_test_support::{FakeTimecamp, Project};
use serde_json::Value;

/// Fails when an error of the chain shows its source's message as well, or
/// when the one-line form of the chain holds a segment twice.
fn assert_each_cause_once(err: &anyhow::Error) {
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    for pair in chain.windows(2) {
        assert!(
            !pair[0].contains(&pair[1]),
            "{:?} shows its source {:?} in its own message too",
            pair[0],
            pair[1]
        );
    }
    assert_no_repeated_segment(&format!("{err:#}"));
}

/// `{:#}` joins the chain with ": "; a segment that an earlier one already
/// said (or ended with, as `cannot show var/x.json: var/x.json: ...`) is a
/// cause, or a name, said twice.
fn assert_no_repeated_segment(line: &str) {
    let segments: Vec<&str> = line.split(": ").map(str::trim).collect();
    for (i, segment) in segments.iter().enumerate() {
        assert!(
            segment.len() < 4 || !segments[..i].iter().any(|s| s.ends_with(segment)),
            "{segment:?} is said twice in {line:?}"
        );
    }
}

/// A directory whose `var` is a file, so every path under it fails: a read
/// with "Not a directory", a write (which makes `var` first) with "File
/// exists" (root may read any file, so permissions would not do).
fn var_is_a_file() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("var"), "not a directory").unwrap();
    dir
}

#[tokio::test]
async fn stage_file_errors_say_their_cause_once() {
    let dir = var_is_a_file();
    let local = LocalStorage::new(dir.path());
    let read = storage::read_json::<Value>(&local, "var/users.json", "a list")
        .await
        .unwrap_err();
    let read = anyhow::Error::new(read).context("prepare stopped, var/out.json is unchanged");
    assert!(format!("{read:#}").contains("Not a directory"), "{read:#}");
    assert_each_cause_once(&read);

    let write = storage::write_json(&local, "var/out.json", &[1, 2])
        .await
        .unwrap_err();
    let write = anyhow::Error::new(write).context("cannot write the prepared users");
    assert!(format!("{write:#}").contains("(os error"), "{write:#}");
    assert_each_cause_once(&write);

    // Keys that are not text cannot be JSON keys.
    let not_json =
        serde_json::to_vec(&std::collections::BTreeMap::from([((1, 2), 3)])).unwrap_err();
    let serialise = anyhow::Error::new(StageFileError::Serialise {
        name: "var/out.json".into(),
        cause: not_json,
    });
    assert!(format!("{serialise:#}").contains("key must be a string"));
    assert_each_cause_once(&serialise);
}

#[test]
fn file_and_lock_errors_say_their_cause_once() {
    let dir = var_is_a_file();
    let file = read_regular_at_most(&dir.path().join("var/key.pem"), 10).unwrap_err();
    let file = anyhow::Error::new(file).context("GOOGLE_SERVICE_ACCOUNT_KEY_FILE=var/key.pem");
    assert!(format!("{file:#}").contains("Not a directory"), "{file:#}");
    assert_each_cause_once(&file);

    let lock = scim_core::lock::acquire(
        &dir.path().join("var/timecamp.lock"),
        "sync-users",
        std::time::Duration::ZERO,
    )
    .unwrap_err();
    let lock = anyhow::Error::new(lock).context("sync stopped");
    assert!(format!("{lock:#}").contains("(os error"), "{lock:#}");
    assert_each_cause_once(&lock);
}

/// The line an admin reads when the prepared file is broken.
#[test]
fn sync_users_names_a_malformed_file_once() {
    let fake = FakeTimecamp::start(10);
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .timecamp(&fake, 10)
        .file("var/timecamp_users.json", r#"[{"timecamp_email": "#);
    let run = p.run(env!("CARGO_BIN_EXE_sync-users"), &[]);
    run.expect_code(1)
        .expect_stderr("var/timecamp_users.json is not valid JSON");
    let errors = run.error_lines();
    assert!(!errors.is_empty(), "{}", run.stderr);
    for line in errors {
        let message = line.split_once(" - ERROR - ").map_or(line, |(_, m)| m);
        assert_no_repeated_segment(message);
    }
}

/// prepare writing where a directory is: the error names the file once.
#[test]
fn prepare_says_a_write_error_once() {
    let p = Project::new().env("DISABLE_FILE_LOGGING", "true").users(
        serde_json::json!({"users": [{"external_id": "1", "name": "Ada",
            "email": "ada@x.com", "status": "active"}]}),
    );
    std::fs::create_dir_all(p.path("var/timecamp_users.json/inside")).unwrap();
    let run = p.run(env!("CARGO_BIN_EXE_prepare-timecamp"), &[]);
    run.expect_code(1).expect_stderr("(os error");
    let errors = run.error_lines();
    assert!(!errors.is_empty(), "{}", run.stderr);
    for line in errors {
        let message = line.split_once(" - ERROR - ").map_or(line, |(_, m)| m);
        assert_no_repeated_segment(message);
    }
}

/// Each stage that reads a stage file, on a project whose `var` is a file:
/// reading or locking fails with an I/O error, whose text must come once.
#[test]
fn stages_say_an_io_error_once() {
    let fake = FakeTimecamp::start(10);
    for (bin, env) in [
        (env!("CARGO_BIN_EXE_prepare-timecamp"), vec![]),
        (env!("CARGO_BIN_EXE_sync-users"), vec![]),
        (env!("CARGO_BIN_EXE_display-tree"), vec![]),
        (
            env!("CARGO_BIN_EXE_fetch-csv"),
            vec![("CSV_FILE", "var/users.csv")],
        ),
    ] {
        let mut p = Project::new()
            .env("DISABLE_FILE_LOGGING", "true")
            .timecamp(&fake, 10)
            .file("var", "not a directory");
        for (key, value) in env {
            p = p.env(key, value);
        }
        let run = p.run(bin, &[]);
        assert_ne!(run.code, Some(0), "{bin}: {}", run.stderr);
        let errors = run.error_lines();
        assert!(
            errors.iter().any(|l| l.contains("(os error")),
            "{bin}: {}",
            run.stderr
        );
        for line in errors {
            let message = line.split_once(" - ERROR - ").map_or(line, |(_, m)| m);
            assert_no_repeated_segment(message);
        }
    }
}
