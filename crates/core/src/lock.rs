//! One writer to TimeCamp at a time, wherever the stage files are.
//!
//! The stages that change TimeCamp (sync-users, remove-empty-groups,
//! sync-time-off) take the same lock, so overlapping runs cannot interleave
//! their changes. Every kind of lock has the one interface [`Lock`]: `acquire`
//! waits up to a limit and gives a [`HeldLock`], which is released explicitly
//! and says if it was lost. Two kinds exist:
//!
//! - [`LocalLock`], with local stage files: an advisory `flock` on a file
//!   under `var/`. The kernel releases it when the process ends, however it
//!   ends, so a killed run never leaves a lock that blocks the next one. The
//!   file's content (pid, program, start time) only serves the error message.
//! - the lock object of the `scim-s3` crate, with stage files in a bucket: runs
//!   in different pods or hosts share no file system, only the bucket.

use async_trait::async_trait;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock shared by every stage that writes to TimeCamp.
pub const TIMECAMP_LOCK_FILE: &str = "var/timecamp.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another run is changing TimeCamp ({holder}); waited {waited} s (TIMECAMP_LOCK_WAIT_SECONDS). \
         Try again when it has finished"
    )]
    Busy { holder: String, waited: u64 },
    /// The cause is in the message, not in the chain, so that `{:#}` does
    /// not say it twice.
    #[error("cannot use the lock file {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The lock's store (a bucket) failed or refused a request.
    #[error("cannot use the lock {name}: {message}")]
    Backend { name: String, message: String },
    /// The store ignored a condition the lock depends on, so it cannot keep
    /// two runs apart; running anyway would be silently unsafe.
    #[error(
        "{endpoint} ignored a conditional write ({condition}), so the lock {name} cannot keep \
         runs on different machines from changing TimeCamp at the same time. Use a store that \
         supports conditional writes (AWS S3, MinIO, Ceph RGW), or local stage files"
    )]
    Unsupported {
        endpoint: String,
        name: String,
        condition: &'static str,
    },
    /// The lock was lost while held: it could not be renewed, or another run
    /// took it over. The run stops at once; the next run finishes its work.
    #[error(
        "lost the lock {name} while running: {why}; stopped so that two runs cannot change TimeCamp at once"
    )]
    Lost { name: String, why: String },
}

/// A lock that one run at a time may hold.
#[async_trait]
pub trait Lock: Send + Sync {
    /// Where the lock is, for messages.
    fn describe(&self) -> String;
    /// Takes the lock for `program`, waiting up to `wait` while another run holds it.
    async fn acquire(&self, program: &str, wait: Duration) -> Result<Box<dyn HeldLock>, LockError>;
}

/// A lock being held.
#[async_trait]
pub trait HeldLock: Send + std::fmt::Debug {
    /// Resolves only if the lock is lost while held; a lock that cannot be
    /// lost (a `flock`) never resolves.
    async fn lost(&mut self) -> LockError;
    /// Gives the lock up. Never fails: a lock that cannot be removed expires
    /// or dies with the process, and a warning says so.
    async fn release(self: Box<Self>);
}

/// The `flock` on a file under `var/`.
#[derive(Debug, Clone)]
pub struct LocalLock {
    path: PathBuf,
}

impl LocalLock {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

#[async_trait]
impl Lock for LocalLock {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    async fn acquire(&self, program: &str, wait: Duration) -> Result<Box<dyn HeldLock>, LockError> {
        let (path, program) = (self.path.clone(), program.to_owned());
        // The wait sleeps between attempts: keep it off the async workers.
        let guard = tokio::task::spawn_blocking(move || acquire(&path, &program, wait))
            .await
            .map_err(|e| LockError::Io {
                path: self.path.clone(),
                cause: std::io::Error::other(e),
            })??;
        Ok(Box::new(guard))
    }
}

#[async_trait]
impl HeldLock for LockGuard {
    async fn lost(&mut self) -> LockError {
        std::future::pending().await
    }

    async fn release(self: Box<Self>) {}
}

/// Held for the life of the value; dropping it (or exiting) releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

/// Takes the lock, waiting up to `wait` while another process holds it.
pub fn acquire(path: &Path, program: &str, wait: Duration) -> Result<LockGuard, LockError> {
    let io = |cause| LockError::Io {
        path: path.to_owned(),
        cause,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    let start = Instant::now();
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                if start.elapsed() >= wait {
                    return Err(LockError::Busy {
                        holder: holder(&mut file),
                        waited: wait.as_secs(),
                    });
                }
                if !announced {
                    tracing::info!(
                        "Waiting up to {} s for another run to finish ({})",
                        wait.as_secs(),
                        holder(&mut file)
                    );
                    announced = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    let stamp = format!(
        "pid {} ({program}), started {}\n",
        std::process::id(),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
    );
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(stamp.as_bytes()).map_err(io)?;
    Ok(LockGuard { _file: file })
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "held by another process".into()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_first_ones_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/timecamp.lock");
        let first = acquire(&path, "sync-users", Duration::ZERO).unwrap();
        let err = acquire(&path, "sync-users", Duration::from_millis(300)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("sync-users"), "{msg}");
        drop(first);
        acquire(&path, "sync-users", Duration::ZERO).unwrap();
    }

    #[test]
    fn a_waiting_run_gets_the_lock_when_the_holder_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timecamp.lock");
        let first = acquire(&path, "a", Duration::ZERO).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        acquire(&path, "b", Duration::from_secs(10)).unwrap();
        releaser.join().unwrap();
    }

    #[test]
    fn a_lock_file_left_behind_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timecamp.lock");
        std::fs::write(&path, "pid 999999 (sync-users), started long ago\n").unwrap();
        acquire(&path, "sync-users", Duration::ZERO).unwrap();
    }
}
