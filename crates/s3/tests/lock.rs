//! The bucket lock against a real S3-compatible server (moto, which honours
//! `If-None-Match` and `If-Match` on PUT and `If-Match` on DELETE, as AWS S3
//! does). The stage-level tests (two runs, a lock left by a killed run) are in
//! the cli crate's `s3_storage` tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use scim_core::Secret;
use scim_core::lock::{Lock, LockError};
use scim_core::settings::S3Settings;
use scim_s3::S3Storage;
use scim_s3::lock::LockRecord;
use scim_test_support::MotoServer;

const BUCKET: &str = "locks";
const KEY: &str = "team/var/timecamp.lock";
const HANG_GUARD: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn storage(rt: &tokio::runtime::Runtime, s3: &MotoServer) -> S3Storage {
    let settings = S3Settings {
        endpoint_url: Some(s3.url()),
        access_key_id: "AKIAEXAMPLE".into(),
        secret_access_key: Secret::new("secret"),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        prefix: "team".into(),
        force_path_style: true,
        lock_expiry: Duration::from_secs(120),
    };
    rt.block_on(S3Storage::connect(&settings)).unwrap()
}

fn record(s3: &MotoServer) -> LockRecord {
    serde_json::from_slice(&s3.get(BUCKET, KEY).expect("the lock object")).unwrap()
}

#[test]
fn a_second_holder_waits_then_is_refused_naming_the_first_and_gets_it_once_released() {
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    let rt = runtime();
    let lock = storage(&rt, &s3).timecamp_lock(Duration::from_secs(120));
    let first = rt
        .block_on(lock.acquire("sync-users", Duration::ZERO))
        .unwrap();
    assert!(record(&s3).holder.starts_with("sync-users, pid "));
    let err = rt
        .block_on(lock.acquire("remove-empty-groups", Duration::from_secs(1)))
        .unwrap_err();
    assert!(matches!(err, LockError::Busy { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("another run is changing TimeCamp")
            && message.contains("s3://locks/team/var/timecamp.lock")
            && message.contains("sync-users, pid"),
        "{message}"
    );
    rt.block_on(first.release());
    assert!(
        s3.get(BUCKET, KEY).is_none(),
        "released: the object is gone"
    );
    let second = rt
        .block_on(lock.acquire("remove-empty-groups", Duration::ZERO))
        .unwrap();
    rt.block_on(second.release());
}

#[test]
fn a_lock_left_by_a_killed_run_is_taken_over_only_after_it_expires() {
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    let rt = runtime();
    let lock = storage(&rt, &s3).timecamp_lock(Duration::from_secs(120));
    let now = chrono::Utc::now();
    let left = |expires| LockRecord {
        holder: "sync-users, pid 7 on pod-a".into(),
        started: now - chrono::Duration::minutes(10),
        expires,
        renewals: 3,
    };
    // Not yet expired: it still counts.
    s3.put(
        BUCKET,
        KEY,
        &serde_json::to_vec(&left(now + chrono::Duration::minutes(1))).unwrap(),
    );
    let err = rt
        .block_on(lock.acquire("sync-users", Duration::ZERO))
        .unwrap_err();
    assert!(err.to_string().contains("pod-a"), "{err}");
    // Expired: taken over.
    s3.put(
        BUCKET,
        KEY,
        &serde_json::to_vec(&left(now - chrono::Duration::seconds(1))).unwrap(),
    );
    let held = rt
        .block_on(lock.acquire("sync-users", Duration::ZERO))
        .unwrap();
    assert!(!record(&s3).holder.contains("pod-a"));
    rt.block_on(held.release());
    assert!(s3.get(BUCKET, KEY).is_none());
}

#[test]
fn the_holder_renews_its_lock_and_stops_when_another_takes_it() {
    let s3 = MotoServer::start();
    s3.create_bucket(BUCKET);
    let rt = runtime();
    // A short expiry (settings allow 15 s at least): renewed every 0.5 s.
    let lock = storage(&rt, &s3).timecamp_lock(Duration::from_millis(1500));
    let mut held = rt
        .block_on(lock.acquire("sync-users", Duration::ZERO))
        .unwrap();
    let first = record(&s3);
    let deadline = Instant::now() + HANG_GUARD;
    while record(&s3).renewals < 2 {
        assert!(Instant::now() < deadline, "the lock was never renewed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        record(&s3).expires > first.expires,
        "renewal moves the expiry"
    );

    // Another machine overwrites it (as a take-over after a missed renewal would).
    let mut other = record(&s3);
    other.holder = "sync-users, pid 9 on pod-b".into();
    s3.put(BUCKET, KEY, &serde_json::to_vec(&other).unwrap());
    let lost = rt
        .block_on(async { tokio::time::timeout(HANG_GUARD, held.lost()).await })
        .expect("the holder noticed");
    assert!(matches!(lost, LockError::Lost { .. }), "{lost}");
    assert!(lost.to_string().contains("pod-b"), "{lost}");
    // Releasing a lost lock leaves the other holder's object alone.
    rt.block_on(held.release());
    assert_eq!(record(&s3).holder, "sync-users, pid 9 on pod-b");
}
