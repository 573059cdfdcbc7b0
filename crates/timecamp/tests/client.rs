//! The TimeCamp client against the fake server: retries, timeouts, bad answers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic by design

use std::time::Duration;

use scim_core::Secret;
use scim_http::ErrorKind;
use scim_test_support::{FakeTimecamp, TOKEN};
use scim_timecamp::{Client, ClientConfig, RetryPolicy, SETTING_NAMES};

fn client(fake: &FakeTimecamp, timeout: Duration) -> Client {
    Client::new(ClientConfig {
        base_url: fake.url(),
        api_key: Secret::new(TOKEN),
        verify_tls: true,
        timeout,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            group_forbidden_attempts: 3,
            group_forbidden_delay: Duration::from_millis(10),
            unanswered_budget: Duration::from_secs(60),
            wait_budget: Duration::from_secs(60),
        },
    })
    .unwrap()
}

#[tokio::test]
async fn group_creation_refused_with_403_is_retried() {
    let fake = FakeTimecamp::start(10).forbid_group_creations(2);
    let c = client(&fake, Duration::from_secs(5));
    let id = c.create_group("Eng", 10).await.unwrap();
    assert!(id > 0);
    assert_eq!(fake.group_paths(), ["Company", "Company/Eng"]);
    assert_eq!(c.request_counts().retries, 2);
}

#[tokio::test]
async fn group_creation_gives_up_after_the_bounded_403_retries() {
    let fake = FakeTimecamp::start(10).forbid_group_creations(5);
    let c = client(&fake, Duration::from_secs(5));
    let err = c.create_group("Eng", 10).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(
        err.to_string().contains("You can not change this group"),
        "{err}"
    );
}

#[tokio::test]
async fn depth_limit_is_reported_with_timecamps_message() {
    let fake = FakeTimecamp::start(10)
        .group(11, "A", 10)
        .group(12, "B", 11)
        .group(13, "C", 12);
    let c = client(&fake, Duration::from_secs(5));
    let err = c.create_group("D", 13).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().contains("only up to level 4"), "{err}");
}

#[tokio::test]
async fn a_stalled_request_times_out_and_is_retried() {
    let fake = FakeTimecamp::start(10).stall_next(1);
    let c = client(&fake, Duration::from_millis(300));
    let groups = c.groups().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(c.request_counts().retries, 1);
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_fails_after_the_attempts() {
    let fake = FakeTimecamp::start(10).stall_next(10);
    let c = client(&fake, Duration::from_millis(200));
    let err = c.users().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("no answer within"), "{err}");
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_naming_the_call() {
    let fake = FakeTimecamp::start(10).malformed_json_for("people_picker");
    let c = client(&fake, Duration::from_secs(5));
    let err = c.roles().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("people_picker"), "{err}");
}

#[tokio::test]
async fn throttling_with_retry_after_is_waited_out() {
    let fake = FakeTimecamp::start(10).throttle_every(1, 0);
    let c = client(&fake, Duration::from_secs(5));
    let err = c.groups().await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(429),
        "every request throttled: gives up after 3"
    );
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn settings_are_read_in_batches_of_one_hundred() {
    let mut fake = FakeTimecamp::start(10);
    for id in 1..=250 {
        fake = fake.user(id, &format!("u{id}@x.com"), "U", 10);
    }
    let fake = fake.setting(250, "external_id", "E250");
    let c = client(&fake, Duration::from_secs(5));
    let ids: Vec<u64> = (1..=250).collect();
    let settings = c.settings(&ids, &SETTING_NAMES).await.unwrap();
    assert_eq!(settings[&250]["external_id"], "E250");
    let reads: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/setting"))
        .collect();
    assert_eq!(reads.len(), 3);
    assert!(
        reads
            .iter()
            .all(|r| r.query.matches("name%5B%5D=").count() == 4),
        "{:?}",
        reads[0].query
    );
}

#[tokio::test]
async fn wrong_token_is_not_retried_and_not_echoed() {
    let fake = FakeTimecamp::start(10);
    let c = Client::new(ClientConfig {
        base_url: fake.url(),
        api_key: Secret::new("bad-token-123"),
        verify_tls: true,
        timeout: Duration::from_secs(5),
        retry: RetryPolicy::default(),
    })
    .unwrap();
    let err = c.users().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!err.to_string().contains("bad-token-123"));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn gateway_errors_are_retried() {
    for status in [502, 503, 504] {
        let fake = FakeTimecamp::start(10).fail_every(2, status);
        let c = client(&fake, Duration::from_secs(5));
        c.groups().await.unwrap();
        c.users().await.unwrap();
        assert_eq!(c.request_counts().retries, 1, "status {status}");
    }
}

#[tokio::test]
async fn a_500_is_not_retried() {
    let fake = FakeTimecamp::start(10)
        .user(1, "a@x.com", "A", 10)
        .fail_writes_for("a@x.com");
    let c = client(&fake, Duration::from_secs(5));
    let err = c.set_display_name(1, "B").await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let fake = FakeTimecamp::start(10).reset_connections(2);
    let c = client(&fake, Duration::from_secs(5));
    assert_eq!(c.groups().await.unwrap().len(), 1);
    assert_eq!(c.request_counts().retries, 2);
}

#[tokio::test]
async fn a_server_that_never_answers_exhausts_the_run_budget_then_fails_at_once() {
    let fake = FakeTimecamp::start(10).stall_next(1_000);
    let c = Client::new(ClientConfig {
        base_url: fake.url(),
        api_key: Secret::new(TOKEN),
        verify_tls: true,
        timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            max_attempts: 1_000,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            unanswered_budget: Duration::from_secs(1),
            ..RetryPolicy::default()
        },
    })
    .unwrap();
    let err = c.groups().await.unwrap_err().to_string();
    assert!(
        err.contains("TIMECAMP_HTTP_RETRY_BUDGET_SECONDS=1"),
        "{err}"
    );
    // The fake records a stalled request only when it answers, so count on the client.
    let tries = c.request_counts().reads;
    assert!(
        (2..10).contains(&tries),
        "stopped by the budget, not by 1,000 attempts: {tries}"
    );
    // The budget is the run's: the next request does not start over.
    let err = c.users().await.unwrap_err().to_string();
    assert!(err.contains("giving up"), "{err}");
    assert_eq!(
        c.request_counts().reads,
        tries + 1,
        "one attempt, no retries"
    );
}

#[tokio::test]
async fn a_group_creation_that_timed_out_is_not_sent_again() {
    let fake = FakeTimecamp::start(10).stall_next(1);
    let c = client(&fake, Duration::from_millis(300));
    let err = c.create_group("Eng", 10).await.unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert!(
        err.to_string()
            .contains("PUT group may or may not have taken effect"),
        "{err}"
    );
    // The fake records a stalled request only when it answers, so count on the client.
    assert_eq!(c.request_counts().writes, 1);
    assert_eq!(c.request_counts().retries, 0);
}

#[tokio::test]
async fn an_invitation_answered_by_a_failing_gateway_is_not_sent_again() {
    let fake = FakeTimecamp::start(10).fail_every(1, 502);
    let c = client(&fake, Duration::from_secs(5));
    let err = c.invite(10, "new@x.com").await.unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert_eq!(fake.requests().len(), 1);
    // A write that sets a value is safe to repeat, and is.
    let err = c.set_display_name(1, "B").await.unwrap_err();
    assert_eq!(err.status(), Some(502), "{err}");
    assert_eq!(fake.requests().len(), 4, "three tries of the rename");
}

#[tokio::test]
async fn an_invitation_throttled_with_429_is_sent_again() {
    let fake = FakeTimecamp::start(10).throttle_every(2, 0);
    let c = client(&fake, Duration::from_secs(5));
    c.groups().await.unwrap();
    c.invite(10, "new@x.com").await.unwrap();
    assert_eq!(c.request_counts().retries, 1);
    assert!(fake.user_id("new@x.com").is_some());
}
