//! sync-time-off's steps in the library, without the binary: the leaves file
//! is checked before TimeCamp is read, and a dry run reads the attendance
//! and lists the days it lacks without writing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic by design

use std::time::Duration;

use chrono::NaiveDate;
use scim_core::Secret;
use scim_core::storage::{LocalStorage, StageFileError};
use scim_sync::time_off::{self, TimeOffError};
use scim_test_support::{FakeTimecamp, TOKEN};
use scim_timecamp::{Client, ClientConfig, RetryPolicy};

fn client(tc: &FakeTimecamp) -> Client {
    Client::new(ClientConfig {
        base_url: tc.url(),
        api_key: Secret::new(TOKEN.to_owned()),
        verify_tls: true,
        timeout: Duration::from_secs(10),
        retry: RetryPolicy::default(),
    })
    .unwrap()
}

/// A Monday, "today" for the plan.
fn monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2030, 1, 7).unwrap()
}

#[tokio::test]
async fn the_leaves_file_is_checked_before_timecamp_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let storage = LocalStorage::new(dir.path());
    let missing = time_off::load_leaves(&storage, "vacation.json").await;
    assert!(
        matches!(&missing, Err(TimeOffError::MissingInput { location }) if location.ends_with("vacation.json")),
        "{missing:?}"
    );
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .ends_with("run fetch-factorial first")
    );

    std::fs::write(dir.path().join("vacation.json"), "{\"vacation\": [").unwrap();
    let unreadable = time_off::load_leaves(&storage, "vacation.json")
        .await
        .unwrap_err();
    assert!(matches!(
        &unreadable,
        TimeOffError::Unreadable(StageFileError::Syntax { .. })
    ));
    // The cause is the error's source and not also in its text, so the
    // message, which prints the chain, names the file once.
    let cause = std::error::Error::source(&unreadable).unwrap().to_string();
    assert!(cause.contains("vacation.json"), "{cause}");
    assert!(!unreadable.to_string().contains(&cause), "{unreadable}");

    std::fs::write(
        dir.path().join("vacation.json"),
        r#"{"vacation": [{"email": "bo@acme.com", "start_on": "2030-01-07", "finish_on": null, "tc_leave_type": "Vacation"}]}"#,
    )
    .unwrap();
    let leaves = time_off::load_leaves(&storage, "vacation.json")
        .await
        .unwrap();
    assert_eq!(leaves.len(), 1);
}

#[tokio::test]
async fn a_dry_run_lists_the_days_the_attendance_lacks_and_writes_nothing() {
    let tc = FakeTimecamp::start(10)
        .user(2, "bo@acme.com", "Bo Dev", 10)
        .attendance_day(2, "2030-01-08", 13);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vacation.json"),
        r#"{"vacation": [
            {"email": "BO@acme.com", "start_on": "2030-01-07", "finish_on": "2030-01-09", "tc_leave_type": "Vacation"},
            {"email": "nobody@acme.com", "start_on": "2030-01-07", "finish_on": null, "tc_leave_type": "Vacation"}
        ]}"#,
    )
    .unwrap();
    let leaves = time_off::load_leaves(&LocalStorage::new(dir.path()), "vacation.json")
        .await
        .unwrap();
    let client = client(&tc);

    let planned = time_off::plan_run(&client, &leaves, false, monday())
        .await
        .unwrap();
    assert_eq!(planned.skipped.len(), 1, "nobody@ has no account");
    let storage = LocalStorage::new(dir.path());
    let outcome = time_off::execute(&planned, &client, &storage, true)
        .await
        .unwrap();

    let would_add: Vec<(&str, Vec<String>)> = outcome
        .would_add
        .iter()
        .map(|m| {
            let days = m.days.iter().map(|(d, _)| d.to_string()).collect();
            (m.email.as_str(), days)
        })
        .collect();
    assert_eq!(
        would_add,
        [(
            "bo@acme.com",
            vec!["2030-01-07".into(), "2030-01-09".into()]
        )],
        "the 8th is recorded already"
    );
    assert_eq!(
        outcome.line(),
        "Dry run, would have added 2 days; 1 already recorded; 1 leaves skipped; 0 days failed"
    );
    assert!(outcome.verdict().is_ok());
    assert!(tc.writes().is_empty(), "a dry run writes nothing");
    assert_eq!(tc.attendance_of("bo@acme.com", "2030-01-07"), None);
}
