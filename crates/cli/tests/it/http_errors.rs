//! What the HTTP stages say when a setting is wrong (the message names the
//! setting to fix), and how they end when a server is hostile (a wait of
//! `inf` seconds, an answer too large): cleanly, with exit 1, never a panic.

use scim_test_support::{BAMBOOHR_KEY, FakeBambooHr, FakeTimecamp, Project, Run};
use serde_json::json;

const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const BAMBOO: &str = env!("CARGO_BIN_EXE_fetch-bamboohr");
const ROOT: u64 = 10;

fn sync(fake: &FakeTimecamp) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .timecamp(fake, ROOT)
        .prepared(
            &json!([{"timecamp_email": "a@x.com", "timecamp_status": "active",
            "timecamp_user_name": "A", "timecamp_groups_breadcrumb": "", "timecamp_role": "user"}]),
        )
}

fn no_retries(run: &Run) {
    assert!(
        !run.stderr.contains("retrying"),
        "not retried:\n{}",
        run.stderr
    );
}

#[test]
fn a_wrong_api_key_names_timecamp_api_key() {
    let fake = FakeTimecamp::start(ROOT);
    let run = sync(&fake)
        .env("TIMECAMP_API_KEY", "wrong-key-77")
        .run(SYNC, &[]);
    run.expect_code(1)
        .expect_stderr("TimeCamp answered 401 to GET ")
        .expect_stderr("; check TIMECAMP_API_KEY");
    assert!(!run.stderr.contains("wrong-key-77"));
    assert!(fake.writes().is_empty());
}

#[test]
fn a_wrong_url_path_names_the_url_and_the_url_settings() {
    let fake = FakeTimecamp::start(ROOT);
    let wrong = fake.url().replace("/third_party/api", "/api");
    let run = sync(&fake).env("TIMECAMP_API_URL", &wrong).run(SYNC, &[]);
    run.expect_code(1)
        .expect_stderr("TimeCamp answered 404")
        .expect_stderr(&format!(" at {wrong}/"))
        .expect_stderr("check TIMECAMP_API_URL or TIMECAMP_DOMAIN");
}

#[test]
fn a_host_that_does_not_resolve_is_named_and_not_retried() {
    let fake = FakeTimecamp::start(ROOT);
    let run = sync(&fake)
        .env("TIMECAMP_API_URL", "")
        .env("TIMECAMP_DOMAIN", "timecamp.no-such-host.invalid")
        .run(SYNC, &[]);
    run.expect_code(1)
        .expect_stderr("the host name timecamp.no-such-host.invalid does not resolve")
        .expect_stderr("check TIMECAMP_API_URL or TIMECAMP_DOMAIN");
    no_retries(&run);
}

#[test]
fn a_bamboohr_404_names_the_subdomain() {
    let fake = FakeBambooHr::start();
    let run = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("BAMBOOHR_API_URL", &fake.url())
        .env("BAMBOOHR_SUBDOMAIN", "acne")
        .env("BAMBOOHR_API_KEY", BAMBOOHR_KEY)
        .run(BAMBOO, &[]);
    run.expect_code(1)
        .expect_stderr("BambooHR answered 404")
        .expect_stderr("check BAMBOOHR_SUBDOMAIN");
}

#[test]
fn a_retry_after_of_inf_or_1e20_ends_the_run_cleanly() {
    for (value, said) in [("inf", "for ever"), ("1e20", "1e20 s")] {
        let fake = FakeTimecamp::start(ROOT).throttle_every_saying(1, value);
        let run = sync(&fake).run(SYNC, &[]);
        run.expect_code(1)
            .expect_stderr(&format!("asks to wait {said} (Retry-After)"))
            .expect_stderr("longer than the 300 s this tool waits");
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        // The state is read with a few requests at once; none is sent twice.
        let mut paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
        let all = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(
            paths.len(),
            all,
            "{value}: a request was repeated: {paths:?}"
        );
    }
}

#[test]
fn an_answer_larger_than_the_limit_is_refused() {
    let fake = FakeTimecamp::start(ROOT).pad_answers("group", 65 * 1024 * 1024);
    let run = sync(&fake).run(SYNC, &[]);
    run.expect_code(1)
        .expect_stderr("is larger than 64 MiB, the most this tool reads")
        .expect_stderr("nothing was changed");
    assert!(fake.writes().is_empty());
}
