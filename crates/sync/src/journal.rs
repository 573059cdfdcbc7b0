//! The change journal: every change the stages apply to TimeCamp (sync-users,
//! remove-empty-groups, sync-time-off), one JSON
//! line each, in `var/logs/changes.jsonl` (local, next to the log, rotated
//! like it), so "when was bob@ disabled, and why?" has an answer long after
//! the log lines are gone:
//!
//! ```text
//! jq -c 'select(.email == "bob@example.com" and .kind == "disable")' var/logs/changes.jsonl
//! ```
//!
//! With the stage files in a bucket (Kubernetes, where `var/` lives and dies
//! with each pod), each run's entries are also written to the bucket, one
//! object per run under `var/logs/changes/` (an object store cannot append):
//! `<run id>-<stage>-<digest>.jsonl`, so the objects sort by time and
//! `cat *.jsonl | jq ...` reads them like the local file.
//!
//! Dry runs write nothing here. A journal that cannot be written is warned
//! about and never changes a stage's outcome.

use std::io::Write;
use std::path::Path;

use scim_core::logging::{LOG_BACKUPS, MAX_LOG_BYTES, RotatingFile};
use scim_core::storage::{Storage, sha256_hex};
use serde::Serialize;

use crate::apply::{Applied, Outcome, Report};
use crate::plan::{Change, GroupRef};

/// Where the journal goes, relative to the working directory.
pub const CHANGES_FILE: &str = "var/logs/changes.jsonl";
/// Where each run's entries go in a bucket, one object per run.
pub const CHANGES_DIR: &str = "var/logs/changes";

/// One applied (or failed) change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// RFC 3339, local time with offset.
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

/// The entries of a sync's report, in the order the changes were planned.
pub fn sync_entries(report: &Report, run_id: &str, time: &str) -> Vec<Entry> {
    report
        .applied
        .iter()
        .chain(&report.finalised)
        .map(|a| entry(a, run_id, time))
        .collect()
}

fn entry(a: &Applied, run_id: &str, time: &str) -> Entry {
    let (old, new) = old_and_new(&a.change);
    let (result, error) = match &a.outcome {
        Outcome::Done => ("applied", None),
        Outcome::Failed { error } => ("failed", Some(error.clone())),
        Outcome::Skipped { reason } => ("skipped", Some(reason.clone())),
    };
    let (email, user_id) = match &a.change {
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
        stage: "sync-users".into(),
        email,
        user_id,
        kind: a.change.kind().to_owned(),
        old,
        new,
        result,
        error,
    }
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
        Change::SetRole { from, to, .. } => (from.map(|r| r.to_string()), Some(to.to_string())),
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

/// Appends entries to the journal at `path`, one JSON line each.
pub fn append(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let text = lines(entries)?;
    let mut file = RotatingFile::open(path, MAX_LOG_BYTES, LOG_BACKUPS)?;
    file.write_all(&text)?;
    file.flush()
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

/// [`append`] to the local journal and, when the stage files are in a bucket,
/// one object there; a failure is logged instead of returned.
pub async fn record(storage: &dyn Storage, entries: &[Entry]) {
    if entries.is_empty() {
        return;
    }
    let owned = entries.to_vec();
    // Appending and rotating are file I/O: off the async workers.
    match tokio::task::spawn_blocking(move || append(Path::new(CHANGES_FILE), &owned)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("cannot write the change journal {CHANGES_FILE}: {e}"),
        Err(e) => tracing::warn!("cannot write the change journal {CHANGES_FILE}: {e}"),
    }
    if storage.local_path(CHANGES_FILE).is_some() {
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

#[cfg(test)]
mod tests {
    use super::*;
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
        let entries = sync_entries(&report, "run-1", "2026-11-27T10:00:00+00:00");
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
}
