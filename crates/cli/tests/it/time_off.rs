//! fetch-factorial and sync-time-off: Factorial's employees and leaves, through
//! `var/vacation.json`, into TimeCamp attendance.

use chrono::{Datelike, Duration, NaiveDate};
use scim_test_support::{FACTORIAL_KEY, FakeFactorial, FakeTimecamp, Project};
use serde_json::{Value, json};

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-factorial");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const TIME_OFF: &str = env!("CARGO_BIN_EXE_sync-time-off");
const LEAVE_TYPES: &str =
    r#"{"Vacaciones": "Vacation", "Baja médica": "Sick Leave", "Default": "Vacation"}"#;

/// The Monday `weeks` weeks from this week's (negative: before). Leaves in
/// these tests lie near today, as real ones do (sync-time-off writes only the
/// leaves within two years of today), on known weekdays.
fn monday(weeks: i64) -> NaiveDate {
    let today = chrono::Local::now().date_naive();
    today - Duration::days(i64::from(today.weekday().num_days_from_monday()))
        + Duration::weeks(weeks)
}

/// `YYYY-MM-DD` of the day `plus` days after `from`.
fn day(from: NaiveDate, plus: i64) -> String {
    (from + Duration::days(plus)).format("%Y-%m-%d").to_string()
}

/// The week of most leaves below: Bo is off from its Thursday to the next
/// Monday, Cy on its Monday.
fn leave_week() -> NaiveDate {
    monday(-10)
}

/// Ola's week.
fn ola_week() -> NaiveDate {
    monday(-6)
}

/// Five employees on pages of 2: Ana manages the others; Teo left; Ola has only a personal e-mail.
fn factorial() -> FakeFactorial {
    let emp = |id: u64,
               name: &str,
               login: Value,
               email: &str,
               manager: Value,
               terminated: Value| {
        json!({"id": id, "full_name": name, "login_email": login, "email": email, "manager_id": manager, "terminated_on": terminated})
    };
    FakeFactorial::start()
        .page_size(2)
        .team(json!({"id": 1, "name": "Engineering", "employee_ids": [11, 12, 13]}))
        .team(json!({"id": 2, "name": "Sales", "employee_ids": [14, 15]}))
        .employee(emp(11, "Ana Boss", json!("ana@acme.com"), "ana@home.org", Value::Null, Value::Null))
        .employee(emp(12, "Bo Dev", json!("Bo@Acme.com"), "bo@home.org", json!(11), Value::Null))
        .employee(emp(13, "Cy Dev", json!("cy@acme.com"), "cy@home.org", json!(11), Value::Null))
        .employee(emp(14, "Ola Sales", Value::Null, "ola@acme.com", json!(11), Value::Null))
        .employee(emp(15, "Teo Gone", json!("teo@acme.com"), "teo@home.org", json!(11), json!("2020-01-31")))
        .leave(json!({"id": 101, "employee_id": 12, "start_on": day(leave_week(), 3), "finish_on": day(leave_week(), 7), "leave_type_name": "Vacaciones", "approved": true}))
        .leave(json!({"id": 102, "employee_id": 13, "start_on": day(leave_week(), 0), "finish_on": null, "leave_type_name": "Baja médica", "approved": true}))
        .leave(json!({"id": 103, "employee_id": 14, "start_on": day(ola_week(), 0), "finish_on": day(ola_week(), 1), "leave_type_name": "Otro", "approved": true}))
        .leave(json!({"id": 104, "employee_id": 12, "start_on": day(monday(-4), 2), "finish_on": day(monday(-4), 4), "leave_type_name": "Vacaciones", "approved": false}))
}

fn project(f: &FakeFactorial) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("FACTORIAL_API_URL", &f.url())
        .env("FACTORIAL_API_KEY", FACTORIAL_KEY)
        .env("LeaveTypeMap", LEAVE_TYPES)
}

#[test]
fn employees_and_every_page_of_leaves_are_fetched() {
    let f = factorial();
    let p = project(&f);
    p.run(FETCH, &[]).expect_success();
    let users = p.read_json("var/users.json")["users"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(users.len(), 5, "every page of employees");
    let bo = users.iter().find(|u| u["external_id"] == "12").unwrap();
    assert_eq!(bo["email"], "bo@acme.com", "the login e-mail");
    assert_eq!(bo["department"], "Engineering");
    assert_eq!(bo["supervisor_id"], "11");
    let ola = users.iter().find(|u| u["external_id"] == "14").unwrap();
    assert_eq!(
        (ola["email"].as_str(), ola["department"].as_str()),
        (Some("ola@acme.com"), Some("Sales"))
    );
    assert_eq!(
        users.iter().find(|u| u["external_id"] == "15").unwrap()["status"],
        "inactive"
    );

    let v = p.read_json("var/vacation.json")["vacation"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(v.len(), 3, "the unapproved leave is left out");
    assert_eq!(
        v[0],
        json!({"email": "bo@home.org", "other_emails": ["bo@acme.com"], "start_on": day(leave_week(), 3), "finish_on": day(leave_week(), 7), "tc_leave_type": "Vacation"}),
        "the work e-mail first, as the original wrote it, and the login e-mail beside it"
    );
    assert_eq!(v[1]["tc_leave_type"], "Sick Leave");
    assert_eq!(v[1]["finish_on"], Value::Null);
    assert_eq!(
        v[2]["tc_leave_type"], "Vacation",
        "unknown types fall back to Default"
    );
}

#[test]
fn throttling_is_retried() {
    let f = factorial().throttle_every(3);
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("Factorial answered 429");
    assert_eq!(
        p.read_json("var/vacation.json")["vacation"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn leave_type_map_is_required_and_must_be_json() {
    let f = factorial();
    project(&f)
        .env("LeaveTypeMap", "")
        .run(FETCH, &[])
        .expect_code(2)
        .expect_stderr("fetch-factorial needs LeaveTypeMap");
    project(&f)
        .env("LeaveTypeMap", "{Vacaciones: Vacation}")
        .run(FETCH, &[])
        .expect_code(2)
        .expect_stderr("LeaveTypeMap=");
}

#[test]
fn a_wrong_key_writes_nothing() {
    let f = factorial();
    let p = project(&f)
        .env("FACTORIAL_API_KEY", "nope")
        .file("var/users.json", "{\"users\": [1]}");
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("check FACTORIAL_API_KEY");
    assert_eq!(p.read("var/users.json"), "{\"users\": [1]}");
    assert!(!p.exists("var/vacation.json"));
}

fn timecamp() -> FakeTimecamp {
    FakeTimecamp::start(10)
        .user(2, "bo@acme.com", "Bo Dev", 10)
        .user(3, "cy@acme.com", "Cy Dev", 10)
        .user(4, "ola@acme.com", "Ola", 10)
}

fn vacation(entries: Value) -> String {
    serde_json::to_string(&json!({"vacation": entries})).unwrap()
}

#[test]
fn leaves_become_attendance_days_without_weekends_and_the_rerun_writes_nothing() {
    let tc = timecamp();
    let w = leave_week();
    let p = Project::new().env("DISABLE_FILE_LOGGING", "true").timecamp(&tc, 10).file(
        "var/vacation.json",
        vacation(json!([
            {"email": "BO@acme.com", "start_on": day(w, 3), "finish_on": day(w, 7), "tc_leave_type": "Vacation"},
            {"email": "cy@acme.com", "start_on": day(w, 0), "finish_on": null, "tc_leave_type": "Sick Leave"},
            {"email": "nobody@acme.com", "start_on": day(w, 0), "finish_on": null, "tc_leave_type": "Vacation"},
            {"email": "ola@acme.com", "start_on": day(w, 0), "finish_on": null, "tc_leave_type": null}
        ])),
    );
    p.run(TIME_OFF, &[])
        .expect_success()
        .expect_stderr("Summary: added 4 days; 0 already recorded; 2 leaves skipped")
        .expect_stderr("no TimeCamp user with this e-mail");
    assert_eq!(tc.attendance_of("bo@acme.com", &day(w, 4)), Some(13));
    assert_eq!(
        tc.attendance_of("bo@acme.com", &day(w, 5)),
        None,
        "Saturday"
    );
    assert_eq!(tc.attendance_of("bo@acme.com", &day(w, 7)), Some(13));
    assert_eq!(tc.attendance_of("cy@acme.com", &day(w, 0)), Some(14));
    let posts: Vec<_> = tc
        .writes()
        .into_iter()
        .filter(|w| w.path.starts_with("attendance/"))
        .collect();
    assert_eq!(posts.len(), 2, "one request per user");
    let journal = p.read("var/logs/changes.jsonl");
    let first: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(journal.lines().count(), 2, "one line per request");
    assert_eq!(
        (
            first["stage"].as_str(),
            first["kind"].as_str(),
            first["result"].as_str()
        ),
        (Some("sync-time-off"), Some("add time off"), Some("applied"))
    );
    assert_eq!(
        posts[0].body[0],
        json!({"day": day(w, 3), "dayTypeId": 13, "shouldBe": 0, "vacationTime": 480})
    );

    tc.clear_requests();
    p.run(TIME_OFF, &[])
        .expect_success()
        .expect_stderr("added 0 days; 4 already recorded");
    assert!(tc.writes().is_empty());
}

#[test]
fn weekends_on_request_long_leaves_in_batches_and_dry_run() {
    let start = monday(-30);
    let tc = timecamp().attendance_day(2, &day(start, 1), 12);
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_TIME_OFF_INCLUDE_WEEKENDS", "true")
        .timecamp(&tc, 10)
        .file(
            "var/vacation.json",
            vacation(json!([{"email": "bo@acme.com", "start_on": day(start, 0), "finish_on": day(start, 150), "tc_leave_type": "Vacation"}])),
        );
    let dry = p.run(TIME_OFF, &["--dry-run"]);
    dry.expect_success();
    assert_eq!(
        dry.stdout,
        format!(
            "would add 151 day(s) for bo@acme.com: {} .. {}\n",
            day(start, 0),
            day(start, 150)
        )
    );
    assert!(tc.writes().is_empty());
    p.run(TIME_OFF, &[]).expect_success();
    let posts = tc.writes();
    assert_eq!(
        posts.len(),
        2,
        "151 days go in two requests of at most 100 days' span"
    );
    assert_eq!(
        tc.attendance_of("bo@acme.com", &day(start, 5)),
        Some(13),
        "a Saturday, included"
    );
    assert_eq!(
        tc.attendance_of("bo@acme.com", &day(start, 1)),
        Some(13),
        "a different day type is overwritten"
    );
}

#[test]
fn factorial_to_timecamp_end_to_end() {
    let f = factorial();
    let tc = FakeTimecamp::start(10);
    let p = project(&f).timecamp(&tc, 10);
    p.run(FETCH, &[]).expect_success();
    p.run(PREPARE, &[]).expect_success();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(tc.group_path_of("bo@acme.com"), "Company/Engineering");
    assert_eq!(tc.user_count(), 4, "the terminated employee is not created");
    p.run(TIME_OFF, &[]).expect_success();
    assert_eq!(
        tc.attendance_of("bo@acme.com", &day(leave_week(), 3)),
        Some(13)
    );
    assert_eq!(
        tc.attendance_of("ola@acme.com", &day(ola_week(), 1)),
        Some(13)
    );
}

/// Many companies use Factorial only for time off, with TimeCamp accounts made
/// from another source under either of a person's addresses: each leave finds
/// its account by any of the employee's e-mails.
#[test]
fn leaves_reach_accounts_under_the_login_or_the_work_email() {
    let f = factorial();
    let tc = FakeTimecamp::start(10)
        .user(2, "bo@acme.com", "Bo Dev", 10)
        .user(3, "cy@home.org", "Cy Dev", 10)
        .user(4, "ola@acme.com", "Ola", 10);
    let p = project(&f).timecamp(&tc, 10);
    p.run(FETCH, &[]).expect_success();
    p.run(TIME_OFF, &[])
        .expect_success()
        .expect_stderr("0 leaves skipped");
    assert_eq!(
        tc.attendance_of("bo@acme.com", &day(leave_week(), 3)),
        Some(13),
        "login e-mail"
    );
    assert_eq!(
        tc.attendance_of("cy@home.org", &day(leave_week(), 0)),
        Some(14),
        "work e-mail"
    );
    assert_eq!(
        tc.attendance_of("ola@acme.com", &day(ola_week(), 0)),
        Some(13),
        "only one address"
    );
}

/// sync-time-off writes to TimeCamp, so it waits for the same lock as
/// sync-users and remove-empty-groups: one writer per `var/` at a time.
#[test]
fn time_off_waits_for_the_writer_lock_like_the_other_writers() {
    let tc = timecamp();
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_LOCK_WAIT_SECONDS", "0")
        .timecamp(&tc, 10)
        .file(
            "var/vacation.json",
            vacation(json!([{"email": "bo@acme.com", "start_on": day(leave_week(), 3), "finish_on": null, "tc_leave_type": "Vacation"}])),
        );
    let held = scim_core::lock::acquire(
        &p.path("var/timecamp.lock"),
        "sync-users (test)",
        std::time::Duration::ZERO,
    )
    .unwrap();
    p.run(TIME_OFF, &[])
        .expect_code(1)
        .expect_stderr("another run is changing TimeCamp (pid")
        .expect_stderr("sync-users (test)");
    assert!(tc.requests().is_empty(), "nothing was read or written");
    p.run(TIME_OFF, &["--dry-run"]).expect_success();
    drop(held);
    p.run(TIME_OFF, &[]).expect_success();
    assert_eq!(
        tc.attendance_of("bo@acme.com", &day(leave_week(), 3)),
        Some(13)
    );
}

/// A leave "until 9999-12-31" (an open end written as a date) made the stage
/// walk millions of days and send a request per hundred of them. It is
/// refused by name; a leave in the year 9999 too; years-old leaves are
/// counted as history; the others are written.
#[test]
fn leaves_without_a_real_end_or_far_from_today_are_refused_by_name() {
    let tc = timecamp();
    let w = leave_week();
    let p = Project::new().env("DISABLE_FILE_LOGGING", "true").timecamp(&tc, 10).file(
        "var/vacation.json",
        vacation(json!([
            {"email": "bo@acme.com", "start_on": day(w, 0), "finish_on": "9999-12-31", "tc_leave_type": "Vacation"},
            {"email": "bo@acme.com", "start_on": "9999-06-01", "finish_on": null, "tc_leave_type": "Vacation"},
            {"email": "bo@acme.com", "start_on": "2001-03-05", "finish_on": "2001-03-09", "tc_leave_type": "Vacation"},
            {"email": "cy@acme.com", "start_on": day(w, 0), "finish_on": null, "tc_leave_type": "Sick Leave"}
        ])),
    );
    let run = p.run(TIME_OFF, &[]);
    run.expect_success()
        .expect_stderr(&format!(
            "leave bo@acme.com {}..9999-12-31 skipped: it lasts",
            day(w, 0)
        ))
        .expect_stderr("more than the 731 a leave may have")
        .expect_stderr("leave bo@acme.com 9999-06-01..9999-06-01 skipped: it starts more than 731 days from today")
        .expect_stderr("1 leave(s) ended more than 731 days ago and are left as TimeCamp has them")
        .expect_stderr("Summary: added 1 days; 0 already recorded; 2 leaves skipped");
    assert!(
        !run.stderr.contains("2001-03-05"),
        "history is not warned about: {}",
        run.stderr
    );
    assert_eq!(tc.attendance_of("cy@acme.com", &day(w, 0)), Some(14));
    assert_eq!(tc.attendance_of("bo@acme.com", &day(w, 0)), None);
    assert_eq!(
        tc.requests()
            .iter()
            .filter(|r| r.path.starts_with("attendance/") && r.path.ends_with("/user"))
            .count(),
        2,
        "Cy's days read, then written; nothing for Bo"
    );
}

/// A run that stops part-way (here: the second person's attendance cannot be
/// read) fails, and the days it wrote before are in the change journal: a
/// change TimeCamp has is never missing from it.
#[test]
fn days_written_before_a_run_stops_are_in_the_change_journal() {
    let tc = timecamp().malformed_json_for("attendance/3/");
    let w = leave_week();
    let p = Project::new().env("DISABLE_FILE_LOGGING", "true").timecamp(&tc, 10).file(
        "var/vacation.json",
        vacation(json!([
            {"email": "bo@acme.com", "start_on": day(w, 3), "finish_on": null, "tc_leave_type": "Vacation"},
            {"email": "cy@acme.com", "start_on": day(w, 0), "finish_on": null, "tc_leave_type": "Sick Leave"}
        ])),
    );
    p.run(TIME_OFF, &[])
        .expect_code(1)
        .expect_stderr("cannot read cy@acme.com's attendance");
    assert_eq!(tc.attendance_of("bo@acme.com", &day(w, 3)), Some(13));
    assert!(
        p.exists("var/logs/changes.jsonl"),
        "Bo's day was written but not journaled"
    );
    let journal = p.read("var/logs/changes.jsonl");
    let entry: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(journal.lines().count(), 1);
    assert_eq!(
        (entry["email"].as_str(), entry["result"].as_str()),
        (Some("bo@acme.com"), Some("applied"))
    );
}
