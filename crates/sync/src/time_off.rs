//! sync-time-off as operations, in the order a run takes them, with the
//! stage's policy in one place, as [`crate::run`] has sync-users': the
//! leaves file must be there and readable before TimeCamp is read
//! ([`load_leaves`]); the plan from TimeCamp's day types and users, the
//! leaves that cannot be written reported and years-old ones counted as
//! history ([`plan_run`]); then, person by person, the days their attendance
//! lacks, written in batches, each batch journaled ([`execute`]), and the
//! run's end ([`Outcome::verdict`]). The binary only parses flags, prints,
//! and turns a [`TimeOffError`] into an exit code.

use std::collections::HashMap;

use chrono::NaiveDate;
use scim_core::storage::{self, StageFileError, Storage, StorageError};
use scim_model::timecamp::AttendanceDay;
use scim_model::{Leave, VacationFile};
use scim_plan::time_off::{self, SkippedLeave, UserDays};
use scim_timecamp::{ApiError, Client};
use tracing::{debug, info, warn};

use crate::journal;

const SHAPE: &str = "an object {\"vacation\": [...]}";

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TimeOffError {
    #[error("{location} does not exist: run fetch-factorial first")]
    MissingInput { location: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("nothing was written")]
    Unreadable(#[source] StageFileError),
    #[error("cannot read TimeCamp's day types and users; nothing was written")]
    State(#[source] ApiError),
    #[error("cannot read {email}'s attendance")]
    Attendance {
        email: String,
        #[source]
        source: ApiError,
    },
    #[error("{0} day(s) could not be written (see the warnings above); the next run tries again")]
    Failed(usize),
}

/// Reads the leaves; a missing or unreadable file stops the run before
/// TimeCamp is read.
pub async fn load_leaves(storage: &dyn Storage, input: &str) -> Result<Vec<Leave>, TimeOffError> {
    if !storage.exists(input).await? {
        return Err(TimeOffError::MissingInput {
            location: storage.location(input),
        });
    }
    let file: VacationFile = storage::read_json(storage, input, SHAPE)
        .await
        .map_err(TimeOffError::Unreadable)?;
    Ok(file.vacation)
}

/// What a run plans.
#[derive(Debug)]
pub struct Planned {
    /// The days each person should have, before their attendance is read.
    pub users: Vec<UserDays>,
    /// The leaves that cannot be written, each warned about (history is
    /// counted, not listed here).
    pub skipped: Vec<SkippedLeave>,
}

/// Reads TimeCamp's day types and users, and plans the days of every leave
/// around `today`.
pub async fn plan_run(
    client: &Client,
    leaves: &[Leave],
    include_weekends: bool,
    today: NaiveDate,
) -> Result<Planned, TimeOffError> {
    let (day_types, users) =
        tokio::try_join!(client.day_types(), client.users()).map_err(TimeOffError::State)?;
    let by_email: HashMap<String, u64> = users
        .iter()
        .map(|u| (u.email.trim().to_lowercase(), u.user_id))
        .collect();
    let (planned, skipped) = time_off::plan(leaves, &day_types, &by_email, include_weekends, today);
    // Years of past leaves are history, not mistakes: counted, not warned
    // about one by one on every run.
    let (history, skipped): (Vec<_>, Vec<_>) = skipped.into_iter().partition(|s| s.history);
    for s in &history {
        debug!("leave {} not written: {}", s.leave, s.reason);
    }
    if !history.is_empty() {
        info!(
            "{} leave(s) ended more than {} days ago and are left as TimeCamp has them (--debug lists them)",
            history.len(),
            time_off::WINDOW_DAYS
        );
    }
    for s in &skipped {
        warn!("leave {} skipped: {}", s.leave, s.reason);
    }
    Ok(Planned {
        users: planned,
        skipped,
    })
}

/// The days one person's attendance lacks, in date order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub user_id: u64,
    pub email: String,
    pub days: Vec<(NaiveDate, AttendanceDay)>,
}

/// What a run did, or with `dry_run` would do.
#[derive(Debug, Default)]
pub struct Outcome {
    pub dry_run: bool,
    /// Days added (a dry run: that would be added).
    pub written: usize,
    /// Days TimeCamp has already, with the same day type.
    pub unchanged: usize,
    /// Leaves not written (history not counted).
    pub skipped: usize,
    /// Days whose request failed.
    pub failed: usize,
    /// A dry run: the days each person would get.
    pub would_add: Vec<Missing>,
}

impl Outcome {
    /// The closing log line.
    pub fn line(&self) -> String {
        let verb = if self.dry_run {
            "Dry run, would have added"
        } else {
            "Summary: added"
        };
        format!(
            "{verb} {} days; {} already recorded; {} leaves skipped; {} days failed",
            self.written, self.unchanged, self.skipped, self.failed
        )
    }

    /// The run's end: failed days fail the run, for the next one to retry.
    pub fn verdict(&self) -> Result<(), TimeOffError> {
        match self.failed {
            0 => Ok(()),
            n => Err(TimeOffError::Failed(n)),
        }
    }
}

/// Person by person: reads their attendance over the planned days, and
/// writes the days it lacks in batches, each batch journaled; one failed
/// batch does not stop the others. A dry run reads, and writes nothing.
/// The journal gets what was written also when the run stops part-way.
pub async fn execute(
    planned: &Planned,
    client: &Client,
    storage: &dyn Storage,
    dry_run: bool,
) -> Result<Outcome, TimeOffError> {
    let mut outcome = Outcome {
        dry_run,
        skipped: planned.skipped.len(),
        ..Outcome::default()
    };
    // Each batch is on record as soon as it is written (a dry run writes none).
    let log = (!dry_run)
        .then(|| journal::ChangeLog::open(&journal::path(), "sync-time-off", &journal::run_id()));
    let result = write_missing_days(
        planned,
        client,
        &mut outcome,
        log.as_ref().map(journal::ChangeLog::recorder).as_ref(),
    )
    .await;
    if let Some(log) = log {
        log.close(storage).await;
    }
    result.map(|()| outcome)
}

/// The loop of [`execute`]; each batch sent goes to `journal` at once.
async fn write_missing_days(
    planned: &Planned,
    client: &Client,
    outcome: &mut Outcome,
    journal: Option<&journal::Recorder>,
) -> Result<(), TimeOffError> {
    for user in &planned.users {
        let Some(missing) = missing_days(client, user, outcome).await? else {
            continue;
        };
        if outcome.dry_run {
            outcome.written += missing.days.len();
            outcome.would_add.push(missing);
            continue;
        }
        for batch in time_off::batches(&missing.days) {
            let result = client.add_attendance(user.user_id, &batch).await;
            if let Some(journal) = journal {
                journal.entry(entry(journal.run_id(), user, &batch, &result));
            }
            count(outcome, user, &batch, result);
        }
    }
    Ok(())
}

/// The planned days `user`'s attendance does not have with the same day
/// type; `None` when there are none. The others count as unchanged.
async fn missing_days(
    client: &Client,
    user: &UserDays,
    outcome: &mut Outcome,
) -> Result<Option<Missing>, TimeOffError> {
    let (Some(first), Some(last)) = (user.days.keys().next(), user.days.keys().last()) else {
        return Ok(None);
    };
    let recorded: HashMap<String, u64> = client
        .attendance(user.user_id, &first.to_string(), &last.to_string())
        .await
        .map_err(|source| TimeOffError::Attendance {
            email: user.email.clone(),
            source,
        })?
        .into_iter()
        .collect();
    let days: Vec<_> = user
        .days
        .iter()
        .filter(|(_, d)| recorded.get(&d.day) != Some(&d.day_type_id))
        .map(|(date, d)| (*date, d.clone()))
        .collect();
    outcome.unchanged += user.days.len() - days.len();
    Ok((!days.is_empty()).then(|| Missing {
        user_id: user.user_id,
        email: user.email.clone(),
        days,
    }))
}

/// The journal line of one batch (never empty: [`time_off::batches`]
/// starts each with a day).
fn entry(
    run_id: &str,
    user: &UserDays,
    batch: &[AttendanceDay],
    result: &Result<(), ApiError>,
) -> journal::Entry {
    journal::Entry {
        time: journal::now(),
        run_id: run_id.to_owned(),
        stage: "sync-time-off".into(),
        email: Some(user.email.clone()),
        user_id: Some(user.user_id),
        kind: "add time off".into(),
        old: None,
        new: Some(format!(
            "{} day(s) from {} to {}",
            batch.len(),
            batch[0].day,
            batch[batch.len() - 1].day
        )),
        result: if result.is_ok() { "applied" } else { "failed" },
        error: result.as_ref().err().map(ToString::to_string),
    }
}

/// Counts one batch (never empty) as written or failed, with its log line.
fn count(
    outcome: &mut Outcome,
    user: &UserDays,
    batch: &[AttendanceDay],
    result: Result<(), ApiError>,
) {
    match result {
        Ok(()) => {
            info!(
                "{}: added {} day(s) from {}",
                user.email,
                batch.len(),
                batch[0].day
            );
            outcome.written += batch.len();
        }
        Err(e) => {
            warn!(
                "{}: could not add {} day(s) from {}: {e}",
                user.email,
                batch.len(),
                batch[0].day
            );
            outcome.failed += batch.len();
        }
    }
}
