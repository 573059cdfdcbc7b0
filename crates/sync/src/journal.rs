//! The change journal: every change the stages apply to TimeCamp (sync-users,
//! remove-empty-groups, sync-time-off), one JSON line each, in
//! `var/logs/changes.jsonl` (local, next to the log, rotated like it), so
//! "when was bob@ disabled, and why?" has an answer long after the log lines
//! are gone:
//!
//! ```text
//! jq -c 'select(.email == "bob@example.com" and .kind == "disable")' var/logs/changes.jsonl
//! ```
//!
//! With the stage files in a bucket (Kubernetes, where `var/` lives and dies
//! with each pod), each run's entries are also written to the bucket when
//! the run ends, one object per run under `var/logs/changes/` (an object
//! store cannot append): `<run id>-<stage>-<digest>.jsonl`, so the objects
//! sort by time and `cat *.jsonl | jq ...` reads them like the local file.
//!
//! It is a write-ahead record: a [`ChangeLog`] appends each change as soon as
//! its outcome is known, with its own time, from a thread of its own (the
//! async runtime's workers never wait for the disk). Each line reaches the
//! file at once, is synced to disk at least every second, and the rest is
//! written before the stage ends, by an error or SIGTERM too; a run killed
//! with SIGKILL loses at most the changes in flight. A last line torn by a
//! crash is removed before the next run appends, so every line stays one
//! JSON value.
//!
//! Dry runs write nothing here. A journal that cannot be written is warned
//! about and never changes a stage's outcome.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use scim_core::logging::{LOG_BACKUPS, MAX_LOG_BYTES, RotatingFile};
use scim_core::storage::{Storage, sha256_hex};
use serde::Serialize;

use crate::apply::{Applied, Outcome};
use crate::plan::{Change, GroupRef, role_name};

/// Where the journal goes, relative to the working directory.
pub const CHANGES_FILE: &str = "var/logs/changes.jsonl";
/// Where each run's entries go in a bucket, one object per run.
pub const CHANGES_DIR: &str = "var/logs/changes";

/// The longest the journal's lines wait in the page cache before being
/// synced to disk.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// One applied (or failed) change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// When its outcome was known: RFC 3339, local time with offset.
    pub time: String,
    /// The same for every entry of one run.
    pub run_id: String,
    pub stage: String,
    /// The person (or, for groups, the group path).
    pub email: Option<String>,
    pub user_id: Option<u64>,
    pub kind: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// `applied`, `failed` or `skipped`.
    pub result: &'static str,
    pub error: Option<String>,
}

/// The time of an entry: RFC 3339, local time with its offset.
pub fn now() -> String {
    chrono::Local::now().to_rfc3339()
}

/// An id for one run: start time and process id.
pub fn run_id() -> String {
    format!(
        "{}-{}",
        chrono::Local::now().format("%Y%m%dT%H%M%S"),
        std::process::id()
    )
}

/// The journal of one stage's run: the writer thread and the way to it.
/// Close it with [`ChangeLog::close`]; dropped, it still writes what it was
/// given before it goes.
#[derive(Debug)]
pub struct ChangeLog {
    recorder: Recorder,
    /// The writer; it hands back the entries it wrote, for the bucket's copy.
    thread: Option<std::thread::JoinHandle<Vec<Entry>>>,
}

/// Hands entries to a [`ChangeLog`]'s writer; cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: Sender<Message>,
    run_id: Arc<str>,
    stage: Arc<str>,
}

/// What the writer thread gets.
#[derive(Debug)]
enum Message {
    Entry(Box<Entry>),
    /// Write what came before, sync, and stop (recorders may outlive the log).
    Close,
}

impl ChangeLog {
    /// Starts the writer for `path` (normally [`CHANGES_FILE`]).
    pub fn open(path: &Path, stage: &str, run_id: &str) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("change-journal".into())
            .spawn(move || write_lines(&path, &rx))
            .map_err(|e| tracing::warn!("cannot start the change journal's writer: {e}"))
            .ok();
        Self {
            recorder: Recorder {
                tx,
                run_id: run_id.into(),
                stage: stage.into(),
            },
            thread,
        }
    }

    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }

    /// Waits (off the async runtime) until every entry given so far is
    /// written and synced, then, when the stage files are in a bucket, copies
    /// the run's entries there as one object.
    pub async fn close(mut self, storage: &dyn Storage) {
        let Some(thread) = self.stop() else {
            return;
        };
        let written = match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(entries)) => entries,
            _ => Vec::new(),
        };
        copy_to_bucket(storage, &written).await;
    }

    /// Tells the writer to finish, and hands back its thread.
    fn stop(&mut self) -> Option<std::thread::JoinHandle<Vec<Entry>>> {
        let _ = self.recorder.tx.send(Message::Close);
        self.thread.take()
    }
}

impl Drop for ChangeLog {
    /// A run cut off before [`ChangeLog::close`] (its future dropped: the
    /// lock was lost, a signal) still waits for the writer, so every entry
    /// given is on disk before the process ends. On a worker of the
    /// multi-threaded runtime the wait is announced (`block_in_place`), so
    /// the worker's other tasks move to another thread meanwhile.
    fn drop(&mut self) {
        let Some(thread) = self.stop() else {
            return;
        };
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if on_worker {
            let _ = tokio::task::block_in_place(|| thread.join());
        } else {
            let _ = thread.join();
        }
    }
}

impl Recorder {
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// One sync change and its outcome, stamped now.
    pub fn change(&self, change: &Change, outcome: &Outcome) {
        self.entry(entry(change, outcome, &self.stage, &self.run_id, &now()));
    }

    pub fn entry(&self, entry: Entry) {
        // A writer that is gone has said why; the stage goes on.
        let _ = self.tx.send(Message::Entry(Box::new(entry)));
    }
}

/// The writer thread: appends each entry as it comes, syncs at least every
/// [`SYNC_EVERY`], and once more at the end; returns what it was given.
fn write_lines(path: &Path, rx: &Receiver<Message>) -> Vec<Entry> {
    let mut written = Vec::new();
    let file =
        repair_torn_end(path).and_then(|_| RotatingFile::open(path, MAX_LOG_BYTES, LOG_BACKUPS));
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("cannot write the change journal {}: {e}", path.display());
            while let Ok(Message::Entry(e)) = rx.recv() {
                written.push(*e);
            }
            return written;
        }
    };
    let mut failed = false;
    let mut unsynced = false;
    let mut synced = Instant::now();
    let mut open = true;
    while open {
        match rx.recv_timeout(SYNC_EVERY) {
            Ok(first) => {
                let mut text = Vec::new();
                for message in std::iter::once(first).chain(rx.try_iter()) {
                    match message {
                        Message::Entry(e) => {
                            if serde_json::to_writer(&mut text, &e).is_ok() {
                                text.push(b'\n');
                            }
                            written.push(*e);
                        }
                        Message::Close => {
                            open = false;
                            break;
                        }
                    }
                }
                if let Err(e) = file.write_all(&text)
                    && !std::mem::replace(&mut failed, true)
                {
                    tracing::warn!("cannot write the change journal {}: {e}", path.display());
                }
                unsynced = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        if unsynced && synced.elapsed() >= SYNC_EVERY {
            let _ = file.sync_data();
            unsynced = false;
            synced = Instant::now();
        }
    }
    if unsynced {
        let _ = file.sync_data();
    }
    written
}

/// Removes a last line without its newline (a crash in the middle of a
/// write), so the next line does not glue onto it; says what was dropped.
fn repair_torn_end(path: &Path) -> std::io::Result<()> {
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    // Read back from the end until a newline: a line is a few hundred bytes.
    let mut keep = 0;
    let mut pos = len;
    let mut tail: Vec<u8> = Vec::new();
    while pos > 0 {
        let step = pos.min(4096);
        pos -= step;
        let mut chunk = vec![0; usize::try_from(step).unwrap_or(4096)];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut chunk)?;
        if pos + step == len && chunk.last() == Some(&b'\n') {
            return Ok(());
        }
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            keep = pos + i as u64 + 1;
            chunk.drain(..=i);
            chunk.extend(tail);
            tail = chunk;
            break;
        }
        chunk.extend(tail);
        tail = chunk;
    }
    file.set_len(keep)?;
    let torn = String::from_utf8_lossy(&tail[..tail.len().min(300)]).into_owned();
    tracing::warn!(
        "{} ended in a torn line ({} bytes, from a run that stopped while writing it); removed it: {torn:?}",
        path.display(),
        len - keep
    );
    Ok(())
}

/// The journal line of a sync change and its outcome.
pub fn entry(change: &Change, outcome: &Outcome, stage: &str, run_id: &str, time: &str) -> Entry {
    let (old, new) = old_and_new(change);
    let (result, error) = match outcome {
        Outcome::Done => ("applied", None),
        Outcome::Failed { error } => ("failed", Some(error.clone())),
        Outcome::Skipped { reason } => ("skipped", Some(reason.clone())),
    };
    let (email, user_id) = match change {
        Change::CreateGroup { path, .. } => (Some(path.clone()), None),
        Change::CreateUser(new) => (Some(new.email.clone()), None),
        other => (
            other.user().map(|u| u.email.clone()),
            other.user().map(|u| u.id),
        ),
    };
    Entry {
        time: time.to_owned(),
        run_id: run_id.to_owned(),
        stage: stage.to_owned(),
        email,
        user_id,
        kind: change.kind().to_owned(),
        old,
        new,
        result,
        error,
    }
}

/// The entries of applied changes, stamped `time` (for tests and tools that
/// record after the fact).
pub fn entries(applied: &[Applied], run_id: &str, time: &str) -> Vec<Entry> {
    applied
        .iter()
        .map(|a| entry(&a.change, &a.outcome, "sync-users", run_id, time))
        .collect()
}

/// The value a change replaces and the one it sets, as text.
pub fn old_and_new(change: &Change) -> (Option<String>, Option<String>) {
    let group = |g: &GroupRef| match g {
        GroupRef::Existing(id) => format!("group {id}"),
        GroupRef::New(key) => format!("new group #{key}"),
    };
    match change {
        Change::CreateGroup { parent, .. } => (None, Some(format!("under {}", group(parent)))),
        Change::CreateUser(new) => (
            None,
            Some(format!("in {:?} as {}", new.group_path, new.role)),
        ),
        Change::ReEnable { .. } => (Some("disabled".into()), Some("enabled".into())),
        Change::Rename { from, to, .. } => (from.clone(), Some(to.clone())),
        Change::SetEmail { from, to, .. } => (Some(from.clone()), Some(to.clone())),
        Change::Move { from, to_path, .. } => {
            (Some(format!("group {from}")), Some(format!("{to_path:?}")))
        }
        Change::SetRole { from, to, .. } => (Some(role_name(*from)), Some(to.to_string())),
        Change::SetAdditionalEmail { from, to, .. } | Change::SetExternalId { from, to, .. } => {
            (from.clone(), Some(to.clone()))
        }
        Change::ResetAddedManually { .. } => (None, Some("added_manually=0".into())),
        Change::Disable { reason, .. } => {
            (Some("enabled".into()), Some(format!("disabled ({reason})")))
        }
        Change::MoveToDisabledGroup { from, to, .. } => {
            (Some(format!("group {from}")), Some(format!("group {to}")))
        }
    }
}

/// The entries as JSON lines.
fn lines(entries: &[Entry]) -> std::io::Result<Vec<u8>> {
    let mut text = Vec::new();
    for e in entries {
        serde_json::to_writer(&mut text, e).map_err(std::io::Error::other)?;
        text.push(b'\n');
    }
    Ok(text)
}

/// Appends entries to the journal at `path`, one JSON line each (after
/// repairing a torn last line). Blocking: for tests and [`record`].
pub fn append(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let text = lines(entries)?;
    repair_torn_end(path)?;
    let mut file = RotatingFile::open(path, MAX_LOG_BYTES, LOG_BACKUPS)?;
    file.write_all(&text)?;
    file.sync_data()
}

/// The object one run's entries are written to, beside stage files that are
/// not on this machine.
pub fn object_name(entries: &[Entry], text: &[u8]) -> Option<String> {
    let first = entries.first()?;
    Some(format!(
        "{CHANGES_DIR}/{}-{}-{}.jsonl",
        first.run_id,
        first.stage,
        &sha256_hex(text)[..12]
    ))
}

/// Entries known all at once: [`append`] to the local journal (off the async
/// workers) and, when the stage files are in a bucket, one object there; a
/// failure is logged instead of returned. Stages that make changes one by one
/// use a [`ChangeLog`] instead.
pub async fn record(storage: &dyn Storage, entries: &[Entry]) {
    if entries.is_empty() {
        return;
    }
    let owned = entries.to_vec();
    match tokio::task::spawn_blocking(move || append(Path::new(CHANGES_FILE), &owned)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("cannot write the change journal {CHANGES_FILE}: {e}"),
        Err(e) => tracing::warn!("cannot write the change journal {CHANGES_FILE}: {e}"),
    }
    copy_to_bucket(storage, entries).await;
}

/// One run's entries as one object in the bucket, when the stage files are
/// in one (the local journal dies with a pod); nothing for local storage.
async fn copy_to_bucket(storage: &dyn Storage, entries: &[Entry]) {
    if entries.is_empty() || storage.local_path(CHANGES_FILE).is_some() {
        return;
    }
    let copied = match lines(entries) {
        Ok(text) => match object_name(entries, &text) {
            Some(name) => storage
                .write(&name, text)
                .await
                .map(|()| name)
                .map_err(|e| e.to_string()),
            None => return,
        },
        Err(e) => Err(e.to_string()),
    };
    match copied {
        Ok(name) => tracing::info!("Change journal of this run: {}", storage.location(&name)),
        Err(e) => tracing::warn!("cannot copy the change journal to the bucket: {e}"),
    }
}

/// The journal's path, for stages that open a [`ChangeLog`].
pub fn path() -> PathBuf {
    PathBuf::from(CHANGES_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::Report;
    use crate::plan::{LeaveReason, UserRef};

    #[test]
    fn each_change_becomes_one_line_with_old_new_and_result() {
        let report = Report {
            applied: vec![
                Applied {
                    change: Change::Disable {
                        user: UserRef {
                            id: 7,
                            email: "bob@x.com".into(),
                        },
                        reason: LeaveReason::NotInSource,
                    },
                    outcome: Outcome::Done,
                },
                Applied {
                    change: Change::Rename {
                        user: UserRef {
                            id: 8,
                            email: "ann@x.com".into(),
                        },
                        from: Some("Ann".into()),
                        to: "Ann B".into(),
                    },
                    outcome: Outcome::Failed {
                        error: "HTTP 500".into(),
                    },
                },
            ],
            ..Report::default()
        };
        let entries = entries(&report.applied, "run-1", "2026-11-27T10:00:00+00:00");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].email.as_deref(), Some("bob@x.com"));
        assert_eq!(entries[0].kind, "disable");
        assert_eq!(
            entries[0].new.as_deref(),
            Some("disabled (not in the source)")
        );
        assert_eq!(entries[1].result, "failed");
        assert_eq!(entries[1].error.as_deref(), Some("HTTP 500"));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/changes.jsonl");
        append(&path, &entries).unwrap();
        append(&path, &entries[..1]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["run_id"], "run-1");
        assert_eq!(first["user_id"], 7);
    }

    #[test]
    fn a_torn_last_line_is_removed_before_the_next_run_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changes.jsonl");
        std::fs::write(&path, "{\"kind\":\"rename\"}\n{\"kind\":\"disa").unwrap();
        let report = Report {
            applied: vec![Applied {
                change: Change::ResetAddedManually {
                    user: UserRef {
                        id: 1,
                        email: "a@x.com".into(),
                    },
                },
                outcome: Outcome::Done,
            }],
            ..Report::default()
        };
        append(&path, &entries(&report.applied, "r", "t")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[1]["kind"], "mark as managed by the sync");
    }

    #[test]
    fn a_change_log_writes_each_change_with_its_own_time_as_it_comes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/changes.jsonl");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let log = ChangeLog::open(&path, "sync-users", "run-9");
        let recorder = log.recorder();
        let change = Change::ResetAddedManually {
            user: UserRef {
                id: 1,
                email: "a@x.com".into(),
            },
        };
        recorder.change(&change, &Outcome::Done);
        // On file while the run goes on, not only at its end.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&path)
            .unwrap_or_default()
            .is_empty()
        {
            assert!(Instant::now() < deadline, "the line never reached the file");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(20));
        recorder.change(&change, &Outcome::Done);
        let local = scim_core::storage::LocalStorage::new(dir.path());
        rt.block_on(log.close(&local));
        // A recorder that outlives its log neither blocks nor writes.
        recorder.change(&change, &Outcome::Done);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["run_id"], "run-9");
        assert_ne!(
            lines[0]["time"], lines[1]["time"],
            "each line has its own time"
        );
    }

    /// A run whose future is dropped before `close` (lost lock, signal)
    /// still has every entry on file, on either kind of runtime (the
    /// multi-threaded one waits with `block_in_place`, which would panic on
    /// the other).
    #[test]
    fn a_change_log_dropped_inside_a_cut_off_run_still_writes_every_entry() {
        for multi_thread in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("logs/changes.jsonl");
            let rt = if multi_thread {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .build()
            } else {
                tokio::runtime::Builder::new_current_thread().build()
            }
            .unwrap();
            let written = path.clone();
            rt.block_on(async move {
                let (ready, started) = tokio::sync::oneshot::channel();
                let run = tokio::spawn(async move {
                    let log = ChangeLog::open(&written, "sync-users", "run-cut");
                    let change = Change::ResetAddedManually {
                        user: UserRef {
                            id: 1,
                            email: "a@x.com".into(),
                        },
                    };
                    for _ in 0..50 {
                        log.recorder().change(&change, &Outcome::Done);
                    }
                    let _ = ready.send(());
                    // Cut off here: the log is dropped with the task.
                    std::future::pending::<()>().await;
                    drop(log);
                });
                started.await.unwrap();
                run.abort();
                assert!(run.await.unwrap_err().is_cancelled());
            });
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text.lines().count(), 50, "multi_thread: {multi_thread}");
        }
    }
}
