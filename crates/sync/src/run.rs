//! sync-users as operations, in the order a run takes them, with the stage's
//! policy in one place: what the prepared file must be before anything is
//! read from TimeCamp ([`load_prepared`]), the plan from TimeCamp's state and
//! the unfinished invitations ([`plan_run`]), the deactivation guard
//! ([`guard`]), applying with both journals and the optional empty-group
//! removal ([`execute`]), and the JSON that `--output json` prints
//! ([`Planned::dry_run_json`], [`Planned::refused_json`], [`Executed::json`]). The binary only parses flags,
//! prints, and turns a [`RunError`] into an exit code.

use std::time::Duration;

use scim_core::settings::SyncSettings;
use scim_core::storage::{self, StageFileError, Storage};
use scim_model::{Status, TimecampUser};
use scim_timecamp::{ApiError, Client};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::apply::{ApplyOptions, Report, StopFlag};
use crate::journal::ChangeLog;
use crate::pending::Journal;
use crate::progress::ProgressHook;
use crate::render::Summary;
use crate::{CurrentState, DeactivationCheck, Plan, SyncOptions};

const SHAPE: &str = "a list of records with timecamp_email, timecamp_status, timecamp_user_name, \
                     timecamp_groups_breadcrumb and timecamp_role";

/// Why a run stopped. [`RunError::Refused`] is a safety guard (exit 3);
/// the rest are failures (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{location} does not exist: run prepare-timecamp first")]
    MissingInput { location: String },
    #[error("sync stopped before any change")]
    Unreadable(#[from] StageFileError),
    #[error(
        "{file} has {count} problem(s) (listed above); nothing was changed. Run prepare-timecamp again, or fix the file"
    )]
    InvalidInput { file: String, count: usize },
    #[error("{0}")]
    Refused(String),
    #[error("cannot read the current state of TimeCamp; nothing was changed: {0}")]
    State(ApiError),
    #[error("cannot record the users about to be invited; nothing was changed: {0}")]
    InviteJournal(StageFileError),
    #[error("stopped on request before any change")]
    StoppedBeforeStart,
    #[error(
        "stopped on request before the plan was finished ({0} change(s) not made); the next run does the rest"
    )]
    Stopped(usize),
    #[error(
        "{0} change(s) failed (see the warnings above); the rest was applied, and the next run retries what is missing"
    )]
    Failed(usize),
    #[error("TIMECAMP_REMOVE_EMPTY_GROUPS: cannot read TimeCamp's groups and users: {0}")]
    EmptyGroupsUnreadable(ApiError),
    #[error(
        "TIMECAMP_REMOVE_EMPTY_GROUPS: {0} empty group(s) could not be deleted; the next run tries again"
    )]
    EmptyGroupsFailed(usize),
}

/// Which users a prepared file speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The whole staff (a fetcher's file): a file without an active user
    /// would disable everyone, and is refused.
    WholeStaff,
    /// Only the people it lists (scim-server's pushed population, with
    /// `SyncOptions::leave_users_not_in_source`): all of them may have left.
    Listed,
}

/// Reads the prepared users and checks them before TimeCamp is read: a
/// missing, malformed or invalid file, or (from a source of the whole
/// staff) one without any active user, stops the run.
pub async fn load_prepared(
    storage: &dyn Storage,
    input: &str,
    source: Source,
) -> Result<Vec<TimecampUser>, RunError> {
    if !storage.exists(input).await.map_err(StageFileError::from)? {
        return Err(RunError::MissingInput {
            location: storage.location(input),
        });
    }
    let desired: Vec<TimecampUser> = storage::read_json(storage, input, SHAPE).await?;
    info!("Read {} prepared users from {input}", desired.len());
    let problems = crate::validate_input(&desired);
    if !problems.is_empty() {
        for p in &problems {
            warn!("{input}: {p}");
        }
        return Err(RunError::InvalidInput {
            file: input.to_owned(),
            count: problems.len(),
        });
    }
    if source == Source::WholeStaff && !desired.iter().any(|d| d.timecamp_status == Status::Active)
    {
        return Err(RunError::Refused(format!(
            "{input} has no active user: refusing to sync, since that would disable everyone. Nothing was changed. \
             Check the fetch (var/users.json) and run prepare-timecamp again"
        )));
    }
    Ok(desired)
}

/// What a run plans, and what it planned from.
#[derive(Debug)]
pub struct Planned {
    pub desired: Vec<TimecampUser>,
    pub current: CurrentState,
    pub plan: Plan,
    /// The invitations earlier runs did not finish.
    pub journal: Journal,
    pub options: SyncOptions,
}

/// Reads TimeCamp and the unfinished invitations, and plans.
pub async fn plan_run(
    client: &Client,
    storage: &dyn Storage,
    desired: Vec<TimecampUser>,
    options: SyncOptions,
) -> Result<Planned, RunError> {
    let journal = match Journal::read(storage).await {
        Ok(j) => j,
        Err(e) => {
            warn!("{e}; going on as if no invitation were unfinished");
            Journal::default()
        }
    };
    let mut current = crate::read_state(client).await.map_err(RunError::State)?;
    current.pending_invites = journal.emails();
    if !journal.is_empty() {
        info!(
            "{} user(s) invited by an earlier run are still to be finished ({})",
            current.pending_invites.len(),
            crate::pending::PENDING_FILE
        );
    }
    info!(
        "TimeCamp has {} users and {} groups",
        current.users.len(),
        current.groups.len()
    );
    let plan = crate::plan(&current, &desired, &options);
    Ok(Planned {
        desired,
        current,
        plan,
        journal,
        options,
    })
}

/// The deactivation guard's verdict, logged; `refused` unless the admin
/// allowed this run to go past the limit.
pub fn guard(
    planned: &Planned,
    settings: &SyncSettings,
    allow_mass_deactivation: bool,
) -> (DeactivationCheck, bool) {
    for w in &planned.plan.warnings {
        warn!("{w}");
    }
    for s in &planned.plan.skipped {
        info!("{}: skipped: {}", s.email, s.reason);
    }
    let check = crate::check_deactivations(
        &planned.plan,
        &planned.current,
        &planned.options,
        settings.max_deactivations,
    );
    let refused = check.exceeded() && !allow_mass_deactivation;
    if check.exceeded() && allow_mass_deactivation {
        warn!(
            "--allow-mass-deactivation: disabling {} of {} enabled users (TIMECAMP_MAX_DEACTIVATIONS={} would allow {})",
            check.planned, check.managed, check.limit, check.allowed
        );
    }
    (check, refused)
}

impl Planned {
    /// `--output json` of a dry run.
    pub fn dry_run_json(
        &self,
        summary: &Summary,
        check: &DeactivationCheck,
        refused: bool,
    ) -> Value {
        json!({
            "dry_run": true,
            "plan": self.plan,
            "summary": summary,
            "deactivation_check": check,
            "refused": refused,
        })
    }

    /// `--output json` of a run the guard refused.
    pub fn refused_json(&self, check: &DeactivationCheck) -> Value {
        json!({
            "dry_run": false,
            "plan": self.plan,
            "deactivation_check": check,
            "refused": true,
        })
    }
}

/// What an applied run did.
#[derive(Debug)]
pub struct Executed {
    pub report: Report,
    pub summary: Summary,
    pub run_id: String,
}

impl Executed {
    /// `--output json` of an applied run: what was done, and who was held back.
    pub fn json(&self, plan: &Plan) -> Value {
        json!({
            "dry_run": false,
            "result": self.report,
            "summary": self.summary,
            "held_back": plan.held_back,
        })
    }

    /// Whether the run changed anything in TimeCamp.
    pub fn changed(&self) -> bool {
        self.report.all().any(|a| a.outcome == crate::Outcome::Done)
    }

    /// The run's end: what stopped it short, if anything.
    pub fn verdict(&self, stop: &StopFlag) -> Result<(), RunError> {
        if stop.is_requested() {
            return Err(RunError::Stopped(self.report.not_made()));
        }
        if self.summary.failed > 0 {
            return Err(RunError::Failed(self.report.failures().count()));
        }
        Ok(())
    }
}

/// How [`execute`] applies.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    pub stop: StopFlag,
    pub progress: Option<ProgressHook>,
}

/// Applies the plan: the invitees go on record first (so an interrupted run's
/// are finished by the next one), the changes are applied and journaled,
/// and the record of invitations is brought up to date.
pub async fn execute(
    planned: &Planned,
    client: &Client,
    storage: &dyn Storage,
    settings: &SyncSettings,
    opts: ExecuteOptions,
) -> Result<Executed, RunError> {
    info!("Plan: {} changes", planned.plan.changes.len());
    let journal_now = planned.journal.before_apply(&planned.plan);
    if journal_now != planned.journal {
        journal_now
            .write(storage)
            .await
            .map_err(RunError::InviteJournal)?;
    }
    if opts.stop.is_requested() {
        return Err(RunError::StoppedBeforeStart);
    }
    let run_id = crate::journal::run_id();
    // Each change is on record as soon as it is made (see crate::journal).
    let log = ChangeLog::open(&crate::journal::path(), "sync-users", &run_id);
    let report = crate::apply(
        client,
        &planned.plan,
        &ApplyOptions {
            stop: opts.stop,
            new_user_wait: Duration::from_secs(settings.new_user_wait_seconds),
            poll_interval: Duration::from_secs(2)
                .min(Duration::from_secs(settings.new_user_wait_seconds.max(1))),
            concurrency: settings.concurrency,
            progress: opts.progress,
            journal: Some(log.recorder()),
        },
    )
    .await;
    log.close(storage).await;
    let journal_after = journal_now.after_apply(&planned.current, &planned.plan, &report);
    if journal_after != journal_now
        && let Err(e) = journal_after.write(storage).await
    {
        // Harmless: the next run crosses off whoever TimeCamp shows as finished.
        warn!("cannot update {}: {e}", crate::pending::PENDING_FILE);
    }
    let summary = Summary::of_report(&planned.plan, &report);
    Ok(Executed {
        report,
        summary,
        run_id,
    })
}

/// `TIMECAMP_REMOVE_EMPTY_GROUPS`, after a sync with no failure, with the
/// protections of remove-empty-groups: the groups the prepared users need
/// stay, also those of invitees TimeCamp does not list yet.
pub async fn remove_empty_groups_after(
    planned: &Planned,
    executed: &Executed,
    client: &Client,
    storage: &dyn Storage,
) -> Result<(), RunError> {
    let needed: Vec<String> = planned
        .desired
        .iter()
        .filter(|d| d.timecamp_status == Status::Active)
        .filter_map(|d| d.timecamp_groups_breadcrumb.as_deref().map(str::to_owned))
        .collect();
    let log = ChangeLog::open(&crate::journal::path(), "sync-users", &executed.run_id);
    let removal = crate::empty_groups::remove_empty_groups(
        client,
        planned.options.root_group_id,
        planned.options.disabled_users_group_id,
        &needed,
        false,
        Some(&log.recorder()),
    )
    .await
    .map_err(RunError::EmptyGroupsUnreadable)?;
    log.close(storage).await;
    match removal.failed() {
        0 => Ok(()),
        n => Err(RunError::EmptyGroupsFailed(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_core::storage::LocalStorage;

    async fn load(contents: Option<&str>) -> Result<Vec<TimecampUser>, RunError> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = contents {
            std::fs::write(dir.path().join("prepared.json"), text).unwrap();
        }
        load_prepared(
            &LocalStorage::new(dir.path()),
            "prepared.json",
            Source::WholeStaff,
        )
        .await
    }

    fn record(email: &str, status: &str) -> String {
        format!(
            r#"{{"timecamp_email": "{email}", "timecamp_user_name": "X", "timecamp_groups_breadcrumb": "", "timecamp_status": "{status}", "timecamp_role": "user"}}"#
        )
    }

    #[tokio::test]
    async fn the_prepared_file_is_checked_before_timecamp_is_read() {
        assert!(matches!(
            load(None).await,
            Err(RunError::MissingInput { .. })
        ));
        assert!(matches!(
            load(Some("[{")).await,
            Err(RunError::Unreadable(StageFileError::Syntax { .. }))
        ));
        let only_inactive = format!("[{}]", record("a@x.com", "inactive"));
        assert!(matches!(
            load(Some(&only_inactive)).await,
            Err(RunError::Refused(_))
        ));
        let twice = format!(
            "[{}, {}]",
            record("a@x.com", "active"),
            record("A@x.com", "active")
        );
        assert!(matches!(
            load(Some(&twice)).await,
            Err(RunError::InvalidInput { count: 1, .. })
        ));
        let fine = format!("[{}]", record("a@x.com", "active"));
        assert_eq!(load(Some(&fine)).await.unwrap().len(), 1);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("prepared.json"), &only_inactive).unwrap();
        let listed = load_prepared(
            &LocalStorage::new(dir.path()),
            "prepared.json",
            Source::Listed,
        )
        .await;
        assert_eq!(
            listed.unwrap().len(),
            1,
            "a source of listed people may have only leavers"
        );
    }
}
