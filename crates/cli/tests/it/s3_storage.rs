//! Stage files in an S3 bucket, against a real S3-compatible server (moto):
//! the whole pipeline prepare → sync, with and without a prefix, and the
//! errors an admin meets (missing bucket, bad keys, missing object).

use scim_test_support::{FakeTimecamp, MotoServer, Project, TOKEN};
use serde_json::{Value, json};

const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const BUCKET: &str = "hr-files";

fn users() -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({"users": [
        {"external_id": "1", "name": "Ada Boss", "email": "ada@x.com", "department": "Eng",
         "job_title": "CTO", "status": "active", "supervisor_id": ""},
        {"external_id": "2", "name": "Bob Dev", "email": "bob@x.com", "department": "Eng / Backend",
         "job_title": "Dev", "status": "active", "supervisor_id": "1"}
    ]}))
    .unwrap()
}

/// A project whose stages keep their files in the bucket.
fn project(s3: &MotoServer, prefix: &str) -> Project {
    Project::new()
        .env("USE_S3_STORAGE", "true")
        .env("S3_ENDPOINT_URL", &s3.url())
        .env("S3_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("S3_SECRET_ACCESS_KEY", "s3-secret-value-123")
        .env("S3_BUCKET_NAME", BUCKET)
        .env("S3_FORCE_PATH_STYLE", "true")
        .env("S3_PATH_PREFIX", prefix)
}

fn json_object(s3: &MotoServer, key: &str) -> Value {
    serde_json::from_slice(
        &s3.get(BUCKET, key)
            .unwrap_or_else(|| panic!("{key} not in the bucket")),
    )
    .unwrap()
}

#[test]
fn pipeline_runs_from_the_bucket_with_a_prefix() {
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    s3.put(BUCKET, "team-a/var/users.json", &users());
    let fake = FakeTimecamp::start(10);
    let p = project(&s3, "/team-a/")
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .env("TIMECAMP_NEW_USER_WAIT_SECONDS", "5");

    let run = p.run(PREPARE, &[]);
    run.expect_success()
        .expect_stderr("Stage files: S3 bucket s3://hr-files/team-a at http://127.0.0.1");
    let prepared = json_object(&s3, "team-a/var/timecamp_users.json");
    assert_eq!(prepared[1]["timecamp_groups_breadcrumb"], "Eng/Backend");
    assert!(
        !p.exists("var/timecamp_users.json"),
        "nothing written to local disk"
    );
    assert!(p.exists("var/logs/sync.log"), "logs stay local");
    assert!(!p.read("var/logs/sync.log").contains("s3-secret-value-123"));

    p.run(SYNC, &[]).expect_success();
    assert_eq!(fake.group_path_of("bob@x.com"), "Company/Eng/Backend");
    // The lock was an object beside the stage files (pods share no var/), and is gone.
    assert!(!p.exists("var/timecamp.lock"), "no local lock with S3");
    assert!(
        s3.get(BUCKET, "team-a/var/timecamp.lock").is_none(),
        "released"
    );
    // The change journal survives the pod: a copy of this run's entries in the bucket.
    let journals = s3.keys(BUCKET, "team-a/var/logs/changes/");
    assert_eq!(journals.len(), 1, "{journals:?}");
    assert!(journals[0].ends_with(".jsonl") && journals[0].contains("-sync-users-"));
    let text = String::from_utf8(s3.get(BUCKET, &journals[0]).unwrap()).unwrap();
    assert!(text.lines().any(|l| l.contains("bob@x.com")), "{text}");
    assert_eq!(text, p.read("var/logs/changes.jsonl"));
}

#[test]
fn a_lock_object_held_elsewhere_keeps_sync_and_removal_waiting_and_is_named() {
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    s3.put(BUCKET, "var/timecamp_users.json", b"[]");
    let now = chrono::Utc::now();
    let held = json!({"holder": "sync-users, pid 7 on pod-a", "started": now.to_rfc3339(),
        "expires": (now + chrono::Duration::minutes(5)).to_rfc3339(), "renewals": 0});
    s3.put(
        BUCKET,
        "var/timecamp.lock",
        &serde_json::to_vec(&held).unwrap(),
    );
    let fake = FakeTimecamp::start(10);
    let p = project(&s3, "")
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .env("TIMECAMP_LOCK_WAIT_SECONDS", "1");
    for stage in [SYNC, env!("CARGO_BIN_EXE_remove-empty-groups")] {
        p.run(stage, &[])
            .expect_code(1)
            .expect_stderr("another run is changing TimeCamp")
            .expect_stderr("pod-a");
    }
    assert!(
        fake.writes().is_empty(),
        "nothing changed while the lock was held"
    );
}

#[test]
fn pipeline_runs_from_the_bucket_root_without_a_prefix() {
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    s3.put(BUCKET, "var/users.json", &users());
    let fake = FakeTimecamp::start(10);
    let p = project(&s3, "")
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .env("TIMECAMP_NEW_USER_WAIT_SECONDS", "5");
    p.run(PREPARE, &["--output", "var/custom.json"])
        .expect_success();
    assert!(s3.get(BUCKET, "var/custom.json").is_some());
    p.run(SYNC, &["--input", "var/custom.json"])
        .expect_success();
    assert_eq!(fake.display_name("ada@x.com").as_deref(), Some("Ada Boss"));
    fake.clear_requests();
    p.run(SYNC, &["--input", "var/custom.json"])
        .expect_success();
    assert!(fake.writes().is_empty());
}

#[test]
fn a_failed_prepare_leaves_the_object_as_it_was() {
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    s3.put(BUCKET, "var/users.json", b"{\"users\": [");
    s3.put(BUCKET, "var/timecamp_users.json", b"[\"previous\"]");
    project(&s3, "")
        .run(PREPARE, &[])
        .expect_code(1)
        .expect_stderr("var/users.json is not valid JSON");
    assert_eq!(
        s3.get(BUCKET, "var/timecamp_users.json").unwrap(),
        b"[\"previous\"]"
    );
}

#[test]
fn a_missing_bucket_is_named() {
    let s3 = MotoServer::start();
    project(&s3, "")
        .run(PREPARE, &[])
        .expect_code(1)
        .expect_stderr("bucket \"hr-files\" does not exist at http://127.0.0.1");
}

#[test]
fn refused_credentials_are_named_without_printing_the_secret() {
    let s3 = MotoServer::start_checking_credentials();
    let run = project(&s3, "").run(PREPARE, &[]);
    run.expect_code(1).expect_stderr(
        "access to bucket \"hr-files\" was denied: check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY",
    );
    assert!(!run.stderr.contains("s3-secret-value-123"));
}

#[test]
fn a_missing_object_is_named_with_its_key() {
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    project(&s3, "team-b")
        .run(PREPARE, &[])
        .expect_code(1)
        .expect_stderr("s3://hr-files/team-b/var/users.json does not exist: run a fetcher first");
    let fake = FakeTimecamp::start(10);
    project(&s3, "team-b")
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .run(SYNC, &[])
        .expect_code(1)
        .expect_stderr(
            "s3://hr-files/team-b/var/timecamp_users.json does not exist: run prepare-timecamp first",
        );
    assert!(fake.requests().is_empty());
}

#[test]
fn an_unresolvable_bucket_host_suggests_path_style() {
    // Virtual-hosted addressing puts the bucket in the host name
    // (hr-files.minio.invalid), which no resolver knows.
    let run = Project::new()
        .env("USE_S3_STORAGE", "true")
        .env("S3_ENDPOINT_URL", "http://minio.invalid:9000")
        .env("S3_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("S3_SECRET_ACCESS_KEY", "s3-secret-value-123")
        .env("S3_BUCKET_NAME", BUCKET)
        .run(PREPARE, &[]);
    run.expect_code(1).expect_stderr("S3_FORCE_PATH_STYLE=true");
    assert!(!run.stderr.contains("s3-secret-value-123"));
}

#[test]
fn missing_s3_settings_exit_2_naming_them() {
    Project::new()
        .env("USE_S3_STORAGE", "true")
        .env("S3_ACCESS_KEY_ID", "AKIA")
        .env("S3_SECRET_ACCESS_KEY", "x")
        .run(PREPARE, &[])
        .expect_code(2)
        .expect_stderr("S3_BUCKET_NAME is not set");
}

#[test]
fn stage_files_carry_their_sha256_and_a_tampered_one_is_refused() {
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    s3.put(BUCKET, "var/users.json", &users());
    let p = project(&s3, "");
    p.run(PREPARE, &[])
        .expect_success()
        .expect_stderr("Artifact loaded: storage=s3 path=s3://hr-files/var/users.json")
        .expect_stderr("Artifact saved: storage=s3 path=s3://hr-files/var/timecamp_users.json");
    let body = s3.get(BUCKET, "var/timecamp_users.json").unwrap();
    let meta = s3.metadata(BUCKET, "var/timecamp_users.json");
    assert_eq!(meta["sha256"], scim_core::storage::sha256_hex(&body));
    assert!(meta.contains_key("generated-at"), "{meta:?}");

    // Edited by hand without updating the digest: refused, nothing written.
    let mut edited = users();
    edited.truncate(edited.len() - 10);
    s3.put_with_metadata(
        BUCKET,
        "var/users.json",
        &edited,
        &[("sha256", &scim_core::storage::sha256_hex(&users()))],
    );
    p.run(PREPARE, &[])
        .expect_code(1)
        .expect_stderr("s3://hr-files/var/users.json failed its integrity check");
    assert_eq!(s3.get(BUCKET, "var/timecamp_users.json").unwrap(), body);
}

/// A file from outside (an HR export) is read only up to a limit: an object
/// over it is refused by its length, before its body is read.
#[test]
fn an_object_over_the_readers_limit_is_refused() {
    use scim_core::storage::{Storage, StorageError};
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    s3.put(BUCKET, "var/users.csv", &[b'x'; 100]);
    let settings = scim_core::settings::S3Settings {
        endpoint_url: Some(s3.url()),
        access_key_id: "AKIAEXAMPLE".into(),
        secret_access_key: scim_core::Secret::new("s3-secret-value-123".to_owned()),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        prefix: String::new(),
        force_path_style: true,
        lock_expiry: std::time::Duration::from_secs(120),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let storage = runtime
        .block_on(scim_s3::S3Storage::connect(&settings))
        .unwrap();
    let read = |limit| runtime.block_on(storage.read_at_most("var/users.csv", limit));
    assert_eq!(read(100).unwrap().len(), 100);
    let err = read(99).unwrap_err();
    assert!(
        matches!(err, StorageError::TooLarge { limit: 99, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("s3://hr-files/var/users.csv"),
        "{err}"
    );
}
