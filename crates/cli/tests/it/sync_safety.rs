//! sync-users protecting the people in the directory: guards against mass
//! deactivation, one run at a time, faults of the server, and bad input.

use std::time::Duration;

use scim_test_support::{FakeTimecamp, Project, Run};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_sync-users");
const ROOT: u64 = 10;

fn active(email: &str) -> Value {
    json!({"timecamp_external_id": "", "timecamp_user_name": email.split('@').next().unwrap(),
           "timecamp_email": email, "timecamp_groups_breadcrumb": "", "timecamp_status": "active",
           "timecamp_role": "user"})
}

/// TimeCamp with `n` enabled users `u1@x.com` … `un@x.com` in the root group,
/// named as the prepared file names them.
fn company_of(n: u64) -> FakeTimecamp {
    (1..=n).fold(FakeTimecamp::start(ROOT), |f, i| {
        f.user(i, &format!("u{i}@x.com"), &format!("u{i}"), ROOT)
    })
}

/// The prepared file listing `u1` … `uk` as active.
fn first(k: u64) -> Value {
    Value::Array((1..=k).map(|i| active(&format!("u{i}@x.com"))).collect())
}

fn project(fake: &FakeTimecamp, records: &Value) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .timecamp(fake, ROOT)
        .prepared(records)
}

fn run(p: &Project, args: &[&str]) -> Run {
    p.run(BIN, args)
}

// ---- guards ----

#[test]
fn empty_input_is_refused_before_any_request() {
    let fake = company_of(3);
    let p = project(&fake, &json!([]));
    run(&p, &[])
        .expect_code(3)
        .expect_stderr("has no active user: refusing to sync");
    assert!(fake.requests().is_empty());
    assert!((1..=3).all(|i| fake.is_enabled(&format!("u{i}@x.com"))));
}

#[test]
fn input_with_only_inactive_users_is_refused() {
    let fake = company_of(2);
    let mut records = first(2);
    for r in records.as_array_mut().unwrap() {
        r["timecamp_status"] = json!("inactive");
    }
    run(&project(&fake, &records), &[])
        .expect_code(3)
        .expect_stderr("no active user");
    assert!(fake.writes().is_empty());
}

#[test]
fn mass_deactivation_is_refused_with_instructions_and_nothing_changes() {
    // A truncated file: 20 people in TimeCamp, only 12 in the source.
    let fake = company_of(20);
    let mut records = first(12);
    records.as_array_mut().unwrap().push(active("new@x.com"));
    let p = project(&fake, &records);
    run(&p, &[])
        .expect_code(3)
        .expect_stderr("refusing to disable or demote 8 of 20 enabled users")
        .expect_stderr("TIMECAMP_MAX_DEACTIVATIONS=10% allows 2 per run")
        .expect_stderr("--allow-mass-deactivation");
    assert!(
        fake.writes().is_empty(),
        "not even the new user was created"
    );
    assert!((13..=20).all(|i| fake.is_enabled(&format!("u{i}@x.com"))));
}

#[test]
fn mass_moves_to_the_disabled_users_group_are_refused_like_disables() {
    // Deactivation is off, so a truncated file would only move people out of
    // their groups; that is just as wrong, and counts against the same limit.
    let fake = company_of(20).group(99, "Disabled", ROOT);
    let p = project(&fake, &first(8))
        .env("TIMECAMP_DISABLE_USER_DEACTIVATION", "true")
        .env("TIMECAMP_DISABLED_USERS_GROUP_ID", "99");
    run(&p, &[]).expect_code(3).expect_stderr(
        "refusing to disable or demote 12 of 20 enabled users (moves to the disabled-users group and role changes that take rights away count too)",
    );
    assert!(fake.writes().is_empty());
    assert!((9..=20).all(|i| fake.group_id_of(&format!("u{i}@x.com")) == ROOT));
    run(&p, &["--allow-mass-deactivation"]).expect_success();
    assert!((9..=20).all(|i| fake.group_id_of(&format!("u{i}@x.com")) == 99));
    assert!((9..=20).all(|i| fake.is_enabled(&format!("u{i}@x.com"))));
}

#[test]
fn dry_run_gives_the_same_verdict() {
    let fake = company_of(20);
    let p = project(&fake, &first(12));
    let text = run(&p, &["--dry-run"]);
    text.expect_code(3)
        .expect_stderr("a real run would stop here: refusing to disable or demote 8 of 20");
    assert!(text.stdout.contains("disable (8):"), "{}", text.stdout);
    let json = run(&p, &["--dry-run", "--output", "json"]);
    json.expect_code(3);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["refused"], true);
    assert_eq!(v["deactivation_check"]["planned"], 8);
    assert_eq!(v["deactivation_check"]["allowed"], 2);
    assert!(fake.writes().is_empty());
}

#[test]
fn allow_mass_deactivation_lets_one_run_through() {
    let fake = company_of(20);
    let p = project(&fake, &first(12));
    run(&p, &["--allow-mass-deactivation"])
        .expect_success()
        .expect_stderr("--allow-mass-deactivation: disabling 8 of 20");
    assert!((13..=20).all(|i| !fake.is_enabled(&format!("u{i}@x.com"))));
}

#[test]
fn limit_can_be_a_count_or_a_percentage() {
    let fake = company_of(20);
    run(
        &project(&fake, &first(12)).env("TIMECAMP_MAX_DEACTIVATIONS", "8"),
        &[],
    )
    .expect_success();
    let fake = company_of(20);
    run(
        &project(&fake, &first(12)).env("TIMECAMP_MAX_DEACTIVATIONS", "7"),
        &[],
    )
    .expect_code(3);
    let fake = company_of(20);
    run(
        &project(&fake, &first(12)).env("TIMECAMP_MAX_DEACTIVATIONS", "40%"),
        &[],
    )
    .expect_success();
}

#[test]
fn one_leaver_in_a_five_person_company_goes_through_two_do_not() {
    let fake = company_of(5);
    run(&project(&fake, &first(4)), &[]).expect_success();
    assert!(!fake.is_enabled("u5@x.com"));
    let fake = company_of(5);
    run(&project(&fake, &first(3)), &[]).expect_code(3);
}

#[test]
fn ignored_and_protected_users_do_not_count_towards_the_limit_base() {
    // 3 enabled users, 2 of them ignored: only u3 is managed, and u3 may leave (1 of 1).
    let fake = company_of(3);
    let p = project(&fake, &json!([active("u1@x.com")])).env("TIMECAMP_IGNORED_USER_IDS", "1,2");
    run(&p, &[]).expect_success();
    assert!(!fake.is_enabled("u3@x.com"));
    assert!(fake.is_enabled("u2@x.com"));
}

#[test]
fn disable_user_deactivation_keeps_leavers_enabled() {
    let fake = company_of(10).group(99, "Former", ROOT);
    // 8 of 10 leave: more than the default limit, so it is raised here.
    let p = project(&fake, &first(2))
        .env("TIMECAMP_DISABLE_USER_DEACTIVATION", "true")
        .env("TIMECAMP_DISABLED_USERS_GROUP_ID", "99")
        .env("TIMECAMP_MAX_DEACTIVATIONS", "8");
    run(&p, &[]).expect_success();
    assert!((3..=10).all(|i| fake.is_enabled(&format!("u{i}@x.com"))));
    assert_eq!(
        fake.group_id_of("u3@x.com"),
        99,
        "moved, as the newer upstream does"
    );
}

// ---- settings ----

#[test]
fn a_near_miss_of_a_setting_stops_every_stage_before_any_request() {
    // One letter off TIMECAMP_IGNORED_USER_IDS: read as unset, it would let the
    // run disable and demote the very users the admin meant to protect.
    let fake = company_of(2);
    let p = project(&fake, &first(1))
        .env("TIMECAMP_MAX_DEACTIVATIONS", "100%")
        .file(".env", "# protected\nTIMECAMP_IGNORE_USER_IDS=1,2\n");
    let out = run(&p, &[]);
    out.expect_code(2).expect_stderr(
        "TIMECAMP_IGNORE_USER_IDS is not a setting; did you mean TIMECAMP_IGNORED_USER_IDS?",
    );
    assert!(out.stderr.contains(".env, line 2"), "{}", out.stderr);
    assert!(fake.requests().is_empty(), "no request at all");
    assert!(fake.is_enabled("u2@x.com"));

    // Every stage, not only the sync.
    p.run(env!("CARGO_BIN_EXE_prepare-timecamp"), &[])
        .expect_code(2)
        .expect_stderr("did you mean TIMECAMP_IGNORED_USER_IDS?");
    p.run(env!("CARGO_BIN_EXE_remove-empty-groups"), &[])
        .expect_code(2)
        .expect_stderr("did you mean TIMECAMP_IGNORED_USER_IDS?");
    assert!(fake.requests().is_empty());
}

#[test]
fn an_unrelated_unknown_variable_is_only_warned_about() {
    let fake = company_of(1);
    let p = project(&fake, &first(1)).env("TIMECAMP_SOMETHING_ELSE_ENTIRELY", "1");
    run(&p, &[]).expect_success().expect_stderr(
        "TIMECAMP_SOMETHING_ELSE_ENTIRELY is not a setting of this version and is ignored",
    );
}

// ---- one run at a time ----

#[test]
fn a_second_run_waits_a_bounded_time_then_explains() {
    let fake = company_of(2);
    let p = project(&fake, &first(2)).env("TIMECAMP_LOCK_WAIT_SECONDS", "1");
    let held = scim_core::lock::acquire(
        &p.path("var/timecamp.lock"),
        "sync-users (test)",
        Duration::ZERO,
    )
    .unwrap();
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("another run is changing TimeCamp (pid")
        .expect_stderr("sync-users (test)");
    assert!(fake.requests().is_empty());
    run(&p, &["--dry-run"]).expect_success();
    drop(held);
    run(&p, &[]).expect_success();
}

#[test]
fn a_lock_left_by_a_killed_run_does_not_block() {
    let fake = company_of(2);
    let p = project(&fake, &first(2))
        .env("TIMECAMP_LOCK_WAIT_SECONDS", "0")
        .file(
            "var/timecamp.lock",
            "pid 4242 (sync-users), started 2026-01-01 03:00:00\n",
        );
    run(&p, &[]).expect_success();
}

// ---- faults of the server ----

#[test]
fn throttling_on_every_third_request_with_retry_after_converges() {
    let fake = FakeTimecamp::start(ROOT).throttle_every(3, 1);
    let records = json!([active("a@x.com"), active("b@x.com")]);
    let p = project(&fake, &records);
    run(&p, &[])
        .expect_success()
        .expect_stderr("TimeCamp answered 429");
    fake.clear_faults();
    fake.clear_requests();
    run(&p, &[]).expect_success();
    assert!(fake.writes().is_empty());
    assert_eq!(fake.display_name("b@x.com").as_deref(), Some("b"));
}

#[test]
fn reset_connections_are_retried() {
    let fake = company_of(2).reset_connections(3);
    let p = project(&fake, &json!([active("u1@x.com"), active("new@x.com")]));
    run(&p, &["--allow-mass-deactivation"]).expect_success();
    assert!(fake.user_id("new@x.com").is_some());
}

#[test]
fn a_slow_request_is_retried_after_the_timeout() {
    let fake = company_of(1).stall_next(1);
    let p = project(&fake, &json!([active("u1@x.com"), active("new@x.com")]))
        .env("TIMECAMP_HTTP_TIMEOUT_SECONDS", "1");
    let run = run(&p, &[]);
    run.expect_success()
        .expect_stderr("no answer within 1 s")
        // Said while waiting, before the timeout: a person at the terminal is not left guessing.
        .expect_stderr("after 0 s; still waiting (up to 1 s, TIMECAMP_HTTP_TIMEOUT_SECONDS)");
    assert_eq!(
        run.stderr.matches("still waiting").count(),
        1,
        "said once per run"
    );
    assert!(fake.user_id("new@x.com").is_some());
}

#[test]
fn a_server_that_never_answers_is_given_up_on_within_the_run_budget() {
    let fake = company_of(1).stall_next(1_000);
    let p = project(&fake, &json!([active("u1@x.com")]))
        .env("TIMECAMP_HTTP_TIMEOUT_SECONDS", "1")
        .env("TIMECAMP_HTTP_MAX_ATTEMPTS", "1000")
        .env("TIMECAMP_HTTP_RETRY_BUDGET_SECONDS", "2");
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("giving up: TimeCamp has left requests of this run unanswered")
        .expect_stderr("nothing was changed");
}

#[test]
fn a_server_that_always_throttles_is_given_up_on_within_the_wait_budget() {
    // Every request is answered 429 "in 1 s": one wait (the reads' waits
    // side by side) fits in the run's budget of 2 s, a second does not,
    // though the attempts would allow four.
    let fake = company_of(1).throttle_every_saying(1, "1");
    let p = project(&fake, &json!([active("u1@x.com"), active("new@x.com")]))
        .env("TIMECAMP_HTTP_MAX_ATTEMPTS", "5")
        .env("TIMECAMP_HTTP_WAIT_BUDGET_SECONDS", "2");
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("asks to wait 1 s (Retry-After); not waited: this run has already waited ")
        .expect_stderr(
            " in all for TimeCamp (127.0.0.1) to take requests again \
             (TIMECAMP_HTTP_WAIT_BUDGET_SECONDS=2); run again later",
        )
        .expect_stderr("nothing was changed");
    let mut asked: std::collections::BTreeMap<String, usize> = Default::default();
    for r in fake.requests() {
        *asked.entry(r.path).or_default() += 1;
    }
    // Which reads get their second attempt depends on how closely their
    // waits overlap on a busy machine; none gets a third, and the first
    // wait always fits.
    assert!(
        asked.values().all(|&n| n <= 2) && asked.values().any(|&n| n == 2),
        "each read sent at most twice, one of them twice: {asked:?}"
    );
    assert!(fake.writes().is_empty());
}

#[test]
fn a_server_that_never_answers_fails_the_run_without_changes() {
    let fake = company_of(1).stall_next(100);
    let p = project(&fake, &json!([active("u1@x.com"), active("new@x.com")]))
        .env("TIMECAMP_HTTP_TIMEOUT_SECONDS", "1")
        .env("TIMECAMP_HTTP_MAX_ATTEMPTS", "2");
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("cannot read the current state of TimeCamp; nothing was changed");
    assert!(fake.writes().is_empty());
}

#[test]
fn malformed_json_from_the_server_fails_the_run_without_changes() {
    let fake = company_of(1).malformed_json_for("people_picker");
    let p = project(&fake, &json!([active("u1@x.com"), active("new@x.com")]));
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("unexpected answer from TimeCamp (GET people_picker): not JSON");
    assert!(fake.writes().is_empty());
}

// ---- bad input ----

fn project_with_text(fake: &FakeTimecamp, text: &str) -> Project {
    project(fake, &json!([])).file("var/timecamp_users.json", text)
}

#[test]
fn truncated_input_names_the_file_and_position() {
    let fake = company_of(2);
    let full = serde_json::to_string_pretty(&first(2)).unwrap();
    let p = project_with_text(&fake, &full[..full.len() / 2]);
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("var/timecamp_users.json is not valid JSON")
        .expect_stderr("line ");
    assert!(fake.requests().is_empty());
}

#[test]
fn wrong_types_are_a_shape_error() {
    let fake = company_of(1);
    let p = project_with_text(
        &fake,
        r#"[{"timecamp_email": "u1@x.com", "timecamp_status": 5}]"#,
    );
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("does not have the expected shape");
    let p = project_with_text(&fake, r#"{"users": []}"#);
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("does not have the expected shape");
    assert!(fake.requests().is_empty());
}

#[test]
fn duplicate_emails_are_reported_not_merged() {
    let fake = company_of(2);
    let p = project(
        &fake,
        &json!([active("u1@x.com"), active("U1@x.com"), active("u2@x.com")]),
    );
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("records #1 and #2 have the same e-mail u1@x.com")
        .expect_stderr("nothing was changed");
    assert!(fake.requests().is_empty());
}

#[test]
fn unknown_role_names_are_rejected() {
    let fake = company_of(1);
    let mut record = active("u1@x.com");
    record["timecamp_role"] = json!("owner");
    let p = project(&fake, &json!([record]));
    run(&p, &[])
        .expect_code(1)
        .expect_stderr("unknown variant `owner`");
    assert!(fake.requests().is_empty());
}

// ---- scale ----

#[test]
fn concurrent_writes_keep_groups_before_users_and_converge() {
    let fake = FakeTimecamp::start(ROOT).latency(Duration::from_millis(5));
    let records: Vec<Value> = (0..40)
        .map(|i| {
            let mut r = active(&format!("p{i}@x.com"));
            r["timecamp_groups_breadcrumb"] = json!(format!("D{}/T{}/S{}", i % 3, i % 5, i % 2));
            r["timecamp_role"] = json!(if i % 4 == 0 { "supervisor" } else { "user" });
            r["timecamp_external_id"] = json!(format!("E{i}"));
            r
        })
        .collect();
    let p = project(&fake, &Value::Array(records)).env("TIMECAMP_CONCURRENCY", "16");
    run(&p, &[]).expect_success().expect_stderr("created 40,");
    assert_eq!(fake.group_path_of("p7@x.com"), "Company/D1/T2/S1");
    assert_eq!(fake.role_of("p8@x.com"), 2);
    assert_eq!(
        fake.setting_of("p39@x.com", "external_id").as_deref(),
        Some("E39")
    );
    fake.clear_requests();
    run(&p, &[]).expect_success();
    assert!(fake.writes().is_empty());
}

// ---- interrupted runs converge ----

/// A company in mid-life: people to rename, move, promote and disable, and
/// people to invite into groups that do not exist yet. Hand-made users are
/// protected, so a half-finished invitee would be stranded if the sync lost
/// track of it.
fn busy_company() -> (FakeTimecamp, Value) {
    let mut fake = FakeTimecamp::start(ROOT).group(11, "Eng", ROOT);
    let mut records = Vec::new();
    for i in 1..=24u64 {
        let email = format!("u{i}@x.com");
        fake = fake
            .user(i, &email, &format!("U{i}"), 11)
            .setting(i, "added_manually", "0");
        if i > 20 {
            continue; // left the company
        }
        let mut r = active(&email);
        r["timecamp_user_name"] = json!(if i % 2 == 0 {
            format!("U{i} Renamed")
        } else {
            format!("U{i}")
        });
        r["timecamp_groups_breadcrumb"] = json!(if i % 3 == 0 { "Sales" } else { "Eng" });
        r["timecamp_role"] = json!(if i % 5 == 0 { "supervisor" } else { "user" });
        r["timecamp_external_id"] = json!(format!("E{i}"));
        records.push(r);
    }
    for i in 1..=30u64 {
        let mut r = active(&format!("n{i}@x.com"));
        r["timecamp_user_name"] = json!(format!("New {i}"));
        r["timecamp_groups_breadcrumb"] = json!(format!("Ops/Team {}", i % 3));
        r["timecamp_role"] = json!(if i % 7 == 0 { "supervisor" } else { "user" });
        r["timecamp_external_id"] = json!(format!("N{i}"));
        r["timecamp_real_email"] = json!(format!("new{i}@home.org"));
        records.push(r);
    }
    (fake, Value::Array(records))
}

fn busy_project(fake: &FakeTimecamp, records: &Value) -> Project {
    project(fake, records)
        .env("TIMECAMP_DISABLE_MANUAL_USER_UPDATES", "true")
        .env("TIMECAMP_MAX_DEACTIVATIONS", "50%")
}

/// Starts sync-users, kills it (SIGKILL) once it is stuck on a write the fake
/// holds, or lets it finish if it never gets that far.
fn kill_when_stuck(fake: &FakeTimecamp, p: &Project) {
    let mut child = p.spawn(BIN, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while fake.hanging() == 0 && child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync neither finished nor got stuck"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    child.wait().unwrap();
}

#[test]
fn a_run_killed_at_any_point_is_finished_by_the_next_run() {
    let (fake, records) = busy_company();
    let p = busy_project(&fake, &records);
    run(&p, &[]).expect_success();
    let reference = fake.snapshot();
    let total_writes = fake.writes().len() as u64;
    assert!(total_writes > 100, "a large run: {total_writes} writes");

    for point in 0..12u64 {
        let after = point * total_writes / 12;
        let applied = point % 2 == 1;
        let (fake, records) = busy_company();
        let p = busy_project(&fake, &records);
        fake.hang_writes_after(after, applied);
        kill_when_stuck(&fake, &p);
        fake.clear_faults();
        run(&p, &[]).expect_success();
        assert_eq!(
            fake.snapshot(),
            reference,
            "killed after {after} writes ({}): the rerun must reach the uninterrupted state",
            if applied {
                "the next one applied, unanswered"
            } else {
                "the next one unapplied"
            }
        );
        fake.clear_requests();
        run(&p, &[]).expect_success();
        assert!(
            fake.writes().is_empty(),
            "a third run has nothing left to do"
        );
    }
}

#[test]
fn invitee_of_a_killed_run_is_not_mistaken_for_a_hand_made_user() {
    // TimeCamp shows the invitee as added by hand until added_manually=0 is
    // written; the run dies right after the invite.
    let fake = company_of(1);
    let mut new = active("new@x.com");
    new["timecamp_user_name"] = json!("New Person");
    new["timecamp_external_id"] = json!("N1");
    let p = project(&fake, &json!([active("u1@x.com"), new]))
        .env("TIMECAMP_DISABLE_MANUAL_USER_UPDATES", "true");
    fake.hang_writes_after(0, true);
    kill_when_stuck(&fake, &p);
    fake.clear_faults();
    assert_eq!(
        fake.setting_of("new@x.com", "added_manually").as_deref(),
        Some("1")
    );
    assert!(p.exists("var/pending_new_users.json"));

    run(&p, &[]).expect_success();
    assert_eq!(
        fake.setting_of("new@x.com", "added_manually").as_deref(),
        Some("0")
    );
    assert_eq!(
        fake.display_name("new@x.com").as_deref(),
        Some("New Person")
    );
    assert_eq!(
        fake.setting_of("new@x.com", "external_id").as_deref(),
        Some("N1")
    );
    assert_eq!(p.read_json("var/pending_new_users.json"), json!([]));
}

#[test]
fn a_refused_run_alerts_the_webhook_and_a_dead_webhook_changes_nothing() {
    let hook = scim_test_support::WebhookReceiver::start();
    let fake = company_of(20);
    let p = project(&fake, &first(12)).env("NOTIFY_WEBHOOK_URL", hook.url());
    let refused = run(&p, &[]);
    refused.expect_code(3);
    assert!(
        !refused.stderr.contains("T0-SECRET-KEY"),
        "the URL is never logged"
    );
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(bodies[0]["outcome"], "refused");
    assert_eq!(bodies[0]["exit_code"], 3);
    assert_eq!(bodies[0]["stage"], "sync-users");
    assert!(bodies[0]["text"].as_str().unwrap().contains("REFUSED"));

    // A successful run that changed something: only with NOTIFY_ON=changes.
    let fake = company_of(2);
    let p = project(
        &fake,
        &json!([active("u1@x.com"), active("u2@x.com"), active("new@x.com")]),
    )
    .env("NOTIFY_WEBHOOK_URL", hook.url())
    .env("NOTIFY_ON", "changes");
    run(&p, &[]).expect_success();
    let last = hook.bodies().pop().unwrap();
    assert_eq!(last["outcome"], "success");
    assert_eq!(last["summary"]["created"], 1);

    // A webhook nobody answers: logged, and the exit code stands. The port
    // is held for the test, so nothing else can start listening there.
    let nobody = scim_test_support::ReservedPort::new();
    let dead = format!("http://127.0.0.1:{}/hook/T0-SECRET-KEY", nobody.port());
    let fake = company_of(20);
    let p = project(&fake, &first(12)).env("NOTIFY_WEBHOOK_URL", &dead);
    let unsent = run(&p, &[]);
    unsent
        .expect_code(3)
        .expect_stderr("cannot send the notification");
    assert!(
        !unsent.stderr.contains("T0-SECRET-KEY"),
        "{}",
        unsent.stderr
    );
}

#[test]
fn a_long_run_says_how_far_it_is() {
    // Forty hand-made users taken over and renamed, one write at a time, 100 ms
    // each: well past the 5 s between progress lines.
    let fake = (1..=40)
        .fold(company_of(40), |f, i| f.setting(i, "added_manually", "1"))
        .latency(Duration::from_millis(100));
    let records = Value::Array(
        (1..=40)
            .map(|i| {
                let mut r = active(&format!("u{i}@x.com"));
                r["timecamp_user_name"] = json!(format!("User {i}"));
                r
            })
            .collect(),
    );
    let p = project(&fake, &records).env("TIMECAMP_CONCURRENCY", "1");
    let out = run(&p, &[]);
    out.expect_success()
        .expect_stderr("Reading TimeCamp: the key's owner, groups, users and roles")
        .expect_stderr(" of 80 changes");
}

#[test]
fn a_webhook_that_redirects_elsewhere_does_not_get_the_alert_posted_there() {
    let elsewhere = scim_test_support::WebhookReceiver::start();
    let hook = scim_test_support::WebhookReceiver::redirecting_to(elsewhere.url());
    let fake = company_of(20);
    let p = project(&fake, &first(12)).env("NOTIFY_WEBHOOK_URL", hook.url());
    let refused = run(&p, &[]);
    refused
        .expect_code(3)
        .expect_stderr("cannot send the notification")
        .expect_stderr("not followed");
    assert_eq!(hook.requests().len(), 1, "one POST to the webhook");
    assert_eq!(hook.requests()[0].referer, None);
    assert_eq!(elsewhere.requests(), [], "nothing re-posted elsewhere");
    assert!(
        !refused.stderr.contains("T0-SECRET-KEY"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_webhook_url_that_is_not_http_stops_the_stage_at_start() {
    for url in ["not a url", "ftp://hooks.example/T0-SECRET-KEY", "https://"] {
        let fake = company_of(2);
        let p = project(&fake, &first(2)).env("NOTIFY_WEBHOOK_URL", url);
        let stopped = run(&p, &[]);
        stopped.expect_code(2).expect_stderr("NOTIFY_WEBHOOK_URL");
        assert!(
            !stopped.stderr.contains("T0-SECRET-KEY"),
            "{}",
            stopped.stderr
        );
        assert!(fake.requests().is_empty(), "{url}: stopped before any work");
    }
}

// ---- the change journal is written ahead ----

/// The (kind, user id or e-mail or group name) of each change a write request made.
fn changes_of(write: &scim_test_support::Recorded) -> Vec<(String, String)> {
    let body = &write.body;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let ids: Vec<String> = match &body["user_id"] {
        Value::Array(ids) => ids.iter().map(text).collect(),
        Value::Null => Vec::new(),
        one => vec![text(one)],
    };
    let parts: Vec<&str> = write.path.split('/').collect();
    let each = |kind: &str, keys: Vec<String>| -> Vec<(String, String)> {
        keys.into_iter().map(|k| (kind.to_owned(), k)).collect()
    };
    match (write.method.as_str(), parts.as_slice()) {
        ("PUT", ["group"]) => each("create group", vec![text(&body["name"])]),
        ("POST", ["group", _, "user"]) => each(
            "create user",
            body["email"].as_array().unwrap().iter().map(text).collect(),
        ),
        ("PUT", ["group", _, "user"]) if !body["role_id"].is_null() => each("set role", ids),
        // A move into the disabled-users group (99 in these tests) or any other group.
        ("PUT", ["group", _, "user"]) if body["group_id"] == "99" => {
            each("move to disabled-users group", ids)
        }
        ("PUT", ["group", _, "user"]) => each("move", ids),
        ("POST", ["user"]) if !body["display_name"].is_null() => each("rename", ids),
        ("POST", ["user"]) => each("set e-mail", ids),
        ("PUT", ["user", id, "setting"]) => {
            let kind = match (body["name"].as_str(), body["value"].as_str()) {
                (Some("added_manually"), _) => "mark as managed by the sync",
                (Some("disabled_user"), Some("1")) => "disable",
                (Some("disabled_user"), _) => "re-enable",
                (Some("external_id"), _) => "set external id",
                _ => "set additional e-mail",
            };
            each(kind, vec![(*id).to_owned()])
        }
        other => panic!("a write the test does not know: {other:?}"),
    }
}

/// The (kind, user id or e-mail or group name) of each applied journal line.
fn journalled(p: &Project) -> Vec<(String, String)> {
    if !p.exists("var/logs/changes.jsonl") {
        return Vec::new();
    }
    p.read("var/logs/changes.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("every line is JSON"))
        .filter(|l| l["result"] == "applied")
        .map(|l| {
            let key = match (&l["user_id"], l["email"].as_str()) {
                (Value::Number(id), _) => id.to_string(),
                (_, Some(e)) if l["kind"] == "create group" => {
                    e.rsplit('/').next().unwrap().to_owned()
                }
                (_, Some(e)) => e.to_owned(),
                _ => String::new(),
            };
            (l["kind"].as_str().unwrap().to_owned(), key)
        })
        .collect()
}

#[test]
fn every_write_a_killed_run_made_has_its_journal_line() {
    // One write at a time, so all writes but the one the fake holds were answered.
    let (fake, records) = busy_company();
    let p = busy_project(&fake, &records).env("TIMECAMP_DISABLED_USERS_GROUP_ID", "99");
    let fake = fake.group(99, "Disabled", ROOT);
    run(&p, &[]).expect_success();
    let total = fake.writes().len() as u64;
    for point in [1, total / 5, total / 2, total * 3 / 4, total - 2] {
        for applied in [false, true] {
            let (fake, records) = busy_company();
            let fake = fake.group(99, "Disabled", ROOT);
            let p = busy_project(&fake, &records)
                .env("TIMECAMP_CONCURRENCY", "1")
                .env("TIMECAMP_DISABLED_USERS_GROUP_ID", "99");
            fake.hang_writes_after(point, applied);
            let mut child = p.spawn(BIN, &[]);
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while fake.hanging() == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the sync never reached write {point}"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            let writes = fake.writes();
            // The held write is in flight (the fake records it only once it
            // applies it); every other one was answered.
            let answered = if applied {
                writes.len() - 1
            } else {
                writes.len()
            };
            let answered: Vec<(String, String)> =
                writes[..answered].iter().flat_map(changes_of).collect();
            // The lines reach the file within about a second, while the run waits.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while answered.iter().any(|c| !journalled(&p).contains(c))
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            child.kill().unwrap();
            child.wait().unwrap();
            let lines = journalled(&p);
            for change in &answered {
                assert!(
                    lines.contains(change),
                    "killed after write {point} (applied: {applied}): {change:?} was made but \
                     has no journal line; lines: {lines:#?}"
                );
            }
            // The rerun finishes the job and appends to the same, unbroken journal.
            fake.clear_faults();
            run(&p, &[]).expect_success();
            let text = p.read("var/logs/changes.jsonl");
            assert!(
                text.lines()
                    .all(|l| serde_json::from_str::<Value>(l).is_ok()),
                "{text}"
            );
        }
    }
}

// ---- counts that add up ----

#[test]
fn a_stopped_run_says_how_many_changes_it_did_not_make() {
    // Forty hand-made users to take over and rename, one write at a time.
    let fake = (1..=40)
        .fold(company_of(40), |f, i| f.setting(i, "added_manually", "1"))
        .latency(Duration::from_millis(50));
    let records = Value::Array(
        (1..=40)
            .map(|i| {
                let mut r = active(&format!("u{i}@x.com"));
                r["timecamp_user_name"] = json!(format!("User {i}"));
                r
            })
            .collect(),
    );
    let p = project(&fake, &records).env("TIMECAMP_CONCURRENCY", "1");
    let child = p
        .command(BIN, &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while fake.writes().len() < 10 {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let made = fake.writes().len();
    let expected = format!("({} change(s) not made)", 80 - made);
    assert!(stderr.contains(&expected), "{expected} in:\n{stderr}");
    assert!(
        stderr.contains(&format!("changes not made {}", 80 - made)),
        "{stderr}"
    );
}

// ---- writes that are not safe to repeat ----

#[test]
fn a_group_creation_whose_answer_is_lost_is_looked_up_not_made_twice() {
    let fake = company_of(1).lose_answers("PUT", "group", 1);
    let mut r = active("new@x.com");
    r["timecamp_groups_breadcrumb"] = json!("Eng");
    let p = project(&fake, &json!([active("u1@x.com"), r]));
    run(&p, &[])
        .expect_success()
        .expect_stderr("looking whether group \"Eng\" exists now");
    assert_eq!(fake.group_paths(), ["Company", "Company/Eng"]);
    assert_eq!(fake.group_path_of("new@x.com"), "Company/Eng");
    let creations = fake
        .writes()
        .iter()
        .filter(|w| w.method == "PUT" && w.path == "group")
        .count();
    assert_eq!(creations, 1);
}

#[test]
fn an_invitation_whose_answer_is_lost_is_looked_up_not_sent_twice() {
    let fake = company_of(1).lose_answers("POST", "group/10/user", 1);
    let mut r = active("new@x.com");
    r["timecamp_user_name"] = json!("New Person");
    let p = project(&fake, &json!([active("u1@x.com"), r]));
    run(&p, &[])
        .expect_success()
        .expect_stderr("looking which of the 1 invitees exist now");
    let invites = fake
        .writes()
        .iter()
        .filter(|w| w.method == "POST" && w.path == "group/10/user")
        .count();
    assert_eq!(invites, 1, "one invitation, one possible e-mail");
    assert_eq!(
        fake.display_name("new@x.com").as_deref(),
        Some("New Person")
    );
}
