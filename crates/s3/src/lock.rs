//! The lock of the stages that change TimeCamp, kept in the bucket.
//!
//! With the stage files in a bucket, runs can be in different pods or on
//! different hosts that share no file system, so a `flock` under `var/` keeps
//! nothing apart. The lock is an object next to the stage files
//! (`<prefix>/var/timecamp.lock`):
//!
//! - it is created with a conditional PUT (`If-None-Match: *`), which the store
//!   refuses (412) while the object exists, so one run at a time gets it;
//! - it names its holder and an expiry, and the holder renews it (a PUT with
//!   `If-Match` on its own ETag) every third of the expiry;
//! - a run that is killed leaves the object behind; once its expiry has passed
//!   by the waiter's clock, the waiter takes it over with `If-Match` on the
//!   stale ETag, so of two waiters only one succeeds;
//! - a holder that cannot renew before its own expiry, or finds the object
//!   taken over, reports the lock lost and its run stops.
//!
//! Expiry is judged by the clocks of the machines involved: they must agree to
//! within a few seconds, as NTP keeps them. A store that ignores the conditions
//! is detected at the first acquire (a second conditional PUT must fail) and
//! refused, since a lock that does not exclude would be worse than none.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, SecondsFormat, Utc};
use scim_core::lock::{HeldLock, Lock, LockError};
use scim_core::storage::Storage;
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};

use crate::{S3Storage, describe, status};

/// How often a waiter looks at the lock again.
const POLL: Duration = Duration::from_secs(1);

/// The lock object, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockRecord {
    /// Program, process and host, for the message of a run that waits.
    pub holder: String,
    pub started: DateTime<Utc>,
    /// After this, another run may take the lock over.
    pub expires: DateTime<Utc>,
    /// Counts renewals, so that each renewal changes the object (and its ETag).
    pub renewals: u64,
}

impl LockRecord {
    fn body(&self) -> Vec<u8> {
        // A struct of strings and numbers always serialises.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    fn describe(&self) -> String {
        format!(
            "{}, started {}, expires {} unless renewed",
            self.holder,
            self.started.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.expires.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// The lock object beside the stage files of an [`S3Storage`].
#[derive(Debug, Clone)]
pub struct S3Lock {
    storage: S3Storage,
    /// The stage-file name of the lock, as the local lock's path.
    name: String,
    expiry: Duration,
}

/// What a conditional write found.
enum Put {
    Done {
        etag: String,
    },
    /// 412: the condition failed (the object exists, or has another ETag).
    Refused,
    /// 409: a concurrent conditional write; try again.
    Conflict,
}

impl S3Lock {
    /// The lock named `name` (`var/timecamp.lock`) under the storage's prefix,
    /// expiring `expiry` after its last renewal.
    pub fn new(storage: S3Storage, name: &str, expiry: Duration) -> Self {
        Self {
            storage,
            name: name.to_owned(),
            expiry,
        }
    }

    fn location(&self) -> String {
        self.storage.location(&self.name)
    }

    fn backend(&self, message: String) -> LockError {
        LockError::Backend {
            name: self.location(),
            message,
        }
    }

    fn record(&self, program: &str) -> LockRecord {
        let now = Utc::now();
        LockRecord {
            holder: format!("{program}, pid {} on {}", std::process::id(), host_name()),
            started: now,
            expires: now + self.expiry,
            renewals: 0,
        }
    }

    /// A PUT with one condition: `If-None-Match: *` or `If-Match: <etag>`.
    async fn put(&self, record: &LockRecord, condition: Condition<'_>) -> Result<Put, LockError> {
        let mut request = self
            .storage
            .client
            .put_object()
            .bucket(&self.storage.bucket)
            .key(self.storage.key(&self.name))
            .content_type("application/json")
            .body(ByteStream::from(record.body()));
        request = match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Is(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(out) => Ok(Put::Done {
                etag: out.e_tag().unwrap_or_default().to_owned(),
            }),
            Err(e) if status(&e) == Some(412) || e.code() == Some("PreconditionFailed") => {
                Ok(Put::Refused)
            }
            Err(e) if status(&e) == Some(409) => Ok(Put::Conflict),
            Err(e) => Err(self.backend(format!("cannot write: {}", describe(&e)))),
        }
    }

    /// The lock object and its ETag, or `None` when there is none.
    async fn read(&self) -> Result<Option<(LockRecord, String)>, LockError> {
        let result = self
            .storage
            .client
            .get_object()
            .bucket(&self.storage.bucket)
            .key(self.storage.key(&self.name))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if status(&e) == Some(404) || e.code() == Some("NoSuchKey") => return Ok(None),
            Err(e) => return Err(self.backend(format!("cannot read: {}", describe(&e)))),
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.backend(format!("download interrupted: {e}")))?
            .into_bytes();
        // The object is small; anything larger or unreadable was not written
        // by this tool. It is treated as held, with no expiry it can be taken
        // over at, and named in the message so that an admin can remove it.
        let record = serde_json::from_slice::<LockRecord>(&bytes[..bytes.len().min(64 * 1024)])
            .map_err(|e| {
                self.backend(format!(
                    "it is not a lock written by this tool ({e}); remove it if no run is active"
                ))
            })?;
        Ok(Some((record, etag)))
    }

    async fn delete(&self, etag: &str) -> Result<(), String> {
        self.storage
            .client
            .delete_object()
            .bucket(&self.storage.bucket)
            .key(self.storage.key(&self.name))
            .if_match(etag)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    }

    /// Checks, once the lock is ours, that the store honours both conditions:
    /// a second create must be refused, and so must a write naming another
    /// ETag. Either write, if wrongly accepted, stores the same content again.
    async fn check_conditions(&self, record: &LockRecord) -> Result<(), LockError> {
        let unsupported = |condition| LockError::Unsupported {
            endpoint: self.storage.endpoint.clone(),
            name: self.location(),
            condition,
        };
        if let Put::Done { .. } = self.put(record, Condition::Absent).await? {
            return Err(unsupported("If-None-Match: *"));
        }
        if let Put::Done { .. } = self.put(record, Condition::Is("\"0\"")).await? {
            return Err(unsupported("If-Match"));
        }
        Ok(())
    }

    fn hold(&self, record: LockRecord, etag: String) -> S3Held {
        let (stop, stop_rx) = oneshot::channel();
        let (lost_tx, lost) = watch::channel(None);
        let task = tokio::spawn(renew(self.clone(), record, etag, stop_rx, lost_tx));
        S3Held {
            name: self.location(),
            stop: Some(stop),
            task: Some(task),
            lost,
        }
    }
}

#[derive(Clone, Copy)]
enum Condition<'a> {
    Absent,
    Is(&'a str),
}

#[async_trait]
impl Lock for S3Lock {
    fn describe(&self) -> String {
        self.location()
    }

    async fn acquire(&self, program: &str, wait: Duration) -> Result<Box<dyn HeldLock>, LockError> {
        let start = tokio::time::Instant::now();
        let mut announced = false;
        // The holder last seen, for the message when the wait runs out.
        let mut holder = "another run".to_owned();
        loop {
            let record = self.record(program);
            match self.put(&record, Condition::Absent).await? {
                Put::Done { etag } => {
                    if let Err(e) = self.check_conditions(&record).await {
                        let _ = self.delete(&etag).await;
                        return Err(e);
                    }
                    return Ok(Box::new(self.hold(record, etag)));
                }
                // A concurrent conditional write, or released in between: try again.
                Put::Conflict => {}
                Put::Refused => match self.read().await? {
                    None => {}
                    Some((held, etag)) if held.expires < Utc::now() => {
                        if let Put::Done { etag } = self.put(&record, Condition::Is(&etag)).await? {
                            tracing::warn!(
                                "Took over the lock {} from {}: it expired without being released \
                                 (that run was killed or lost its connection; this run finishes its work)",
                                self.location(),
                                held.describe()
                            );
                            return Ok(Box::new(self.hold(record, etag)));
                        }
                        // Another waiter took it over first.
                    }
                    Some((held, _)) => {
                        holder = held.describe();
                        if !announced && start.elapsed() < wait {
                            tracing::info!(
                                "Waiting up to {} s for another run to finish ({holder})",
                                wait.as_secs(),
                            );
                            announced = true;
                        }
                    }
                },
            }
            // Every way round the loop ends when the wait has run out.
            if start.elapsed() >= wait {
                return Err(LockError::Busy {
                    holder: format!("{}: {holder}", self.location()),
                    waited: wait.as_secs(),
                });
            }
            tokio::time::sleep(
                POLL.min(wait.saturating_sub(start.elapsed()))
                    .max(Duration::from_millis(50)),
            )
            .await;
        }
    }
}

/// The held lock: a task renews it until it is released or lost.
#[derive(Debug)]
pub struct S3Held {
    name: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    lost: watch::Receiver<Option<String>>,
}

#[async_trait]
impl HeldLock for S3Held {
    async fn lost(&mut self) -> LockError {
        loop {
            if let Some(why) = self.lost.borrow_and_update().clone() {
                return LockError::Lost {
                    name: self.name.clone(),
                    why,
                };
            }
            if self.lost.changed().await.is_err() {
                // The renewing task ended without losing the lock: released.
                std::future::pending::<()>().await;
            }
        }
    }

    async fn release(mut self: Box<Self>) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for S3Held {
    fn drop(&mut self) {
        // Dropped without release (a panic, an early return): stop renewing so
        // the lock expires; releasing needs the runtime, which may be gone.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Renews the lock every third of its expiry until told to release it, then
/// deletes it (only if it is still ours). Reports through `lost` when it can
/// no longer be sure to hold it.
async fn renew(
    lock: S3Lock,
    mut record: LockRecord,
    mut etag: String,
    mut stop: oneshot::Receiver<()>,
    lost: watch::Sender<Option<String>>,
) {
    let every = lock.expiry / 3;
    let mut renewed_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => {
                if let Err(e) = lock.delete(&etag).await {
                    tracing::warn!(
                        "cannot remove the lock {}: {e}; it expires by itself at {}",
                        lock.location(),
                        record.expires.to_rfc3339_opts(SecondsFormat::Secs, true)
                    );
                }
                return;
            }
            _ = tokio::time::sleep(every) => {}
        }
        let mut next = record.clone();
        next.renewals += 1;
        next.expires = Utc::now() + lock.expiry;
        match lock.put(&next, Condition::Is(&etag)).await {
            Ok(Put::Done { etag: new }) => {
                (record, etag, renewed_at) = (next, new, tokio::time::Instant::now());
                continue;
            }
            Ok(Put::Refused) => {
                let by = match lock.read().await {
                    Ok(Some((other, _))) => format!("it was taken over by {}", other.describe()),
                    Ok(None) => "it was removed by someone else".to_owned(),
                    Err(e) => format!("it was changed by someone else ({e})"),
                };
                let _ = lost.send(Some(by));
                return;
            }
            Ok(Put::Conflict) => {}
            Err(e) => tracing::warn!("cannot renew the lock: {e}; trying again"),
        }
        // Not renewed: stop before the lock can expire under this run.
        if renewed_at.elapsed() + every >= lock.expiry {
            let _ = lost.send(Some(format!(
                "it could not be renewed for {} s",
                renewed_at.elapsed().as_secs()
            )));
            return;
        }
    }
}

/// This machine's name (in Kubernetes, the pod's), for the holder's description.
fn host_name() -> String {
    scim_core::host::host_name().unwrap_or_else(|| "an unknown host".to_owned())
}
