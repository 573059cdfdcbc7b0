//! `sync-time-off`: writes the leaves of `var/vacation.json` into TimeCamp attendance.

use std::collections::HashMap;

use anyhow::{Context, bail};
use clap::Parser;
use scim_core::Env;
use scim_core::model::VacationFile;
use scim_core::settings::{StorageSettings, TimecampSettings};
use scim_core::storage::{self, VACATION_FILE};
use scim_plan::time_off;
use tracing::{debug, info, warn};

/// Write the leaves of var/vacation.json (from fetch-factorial) into TimeCamp's attendance.
///
/// Each leave day gets its day type; weekends are left out unless
/// TIMECAMP_TIME_OFF_INCLUDE_WEEKENDS=true. Days already recorded with the same day
/// type are not written again. A leave longer than two years, or starting more than
/// two years from today, is refused with a warning; one that ended more than two years
/// ago is left as it is.
#[derive(Debug, Parser)]
#[command(
    name = "sync-time-off",
    version,
    override_usage = "sync-time-off [--dry-run] [--debug] [--input PATH]",
    after_help = crate::stage_help!(
        "Needs TIMECAMP_API_KEY (and TimeCamp's attendance module)."
    )
)]
pub struct Args {
    /// Read everything and print what would be written; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Log at DEBUG level, including every API request
    #[arg(long)]
    pub debug: bool,
    /// The leaves to write (read through the same storage fetch-factorial wrote it to)
    #[arg(long, value_name = "PATH", default_value = VACATION_FILE)]
    pub input: String,
}

pub async fn run(env: Env, args: Args) -> anyhow::Result<()> {
    let settings = TimecampSettings::from_env(&env)?;
    let api_key = settings.require_api_key()?;
    let storage = crate::open_storage(&StorageSettings::from_env(&env)?).await?;
    if !storage.exists(&args.input).await? {
        bail!(
            "{} does not exist: run fetch-factorial first",
            storage.location(&args.input)
        );
    }
    let file: VacationFile = storage::read_json(
        storage.as_ref(),
        &args.input,
        "an object {\"vacation\": [...]}",
    )
    .await
    .context("nothing was written")?;
    let client = crate::sync::client(&settings, api_key)?;
    let (day_types, users) = tokio::try_join!(client.day_types(), client.users())
        .context("cannot read TimeCamp's day types and users; nothing was written")?;
    let by_email: HashMap<String, u64> = users
        .iter()
        .map(|u| (u.email.trim().to_lowercase(), u.user_id))
        .collect();
    let (planned, skipped) = time_off::plan(
        &file.vacation,
        &day_types,
        &by_email,
        settings.time_off_include_weekends,
        chrono::Local::now().date_naive(),
    );
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

    let (mut written, mut unchanged, mut failed) = (0, 0, 0);
    let run_id = scim_sync::journal::run_id();
    let mut journal = Vec::new();
    for user in planned {
        let (Some(first), Some(last)) = (user.days.keys().next(), user.days.keys().last()) else {
            continue;
        };
        let recorded: HashMap<String, u64> = client
            .attendance(user.user_id, &first.to_string(), &last.to_string())
            .await
            .with_context(|| format!("cannot read {}'s attendance", user.email))?
            .into_iter()
            .collect();
        let todo: Vec<_> = user
            .days
            .iter()
            .filter(|(_, d)| recorded.get(&d.day) != Some(&d.day_type_id))
            .map(|(date, d)| (*date, d.clone()))
            .collect();
        unchanged += user.days.len() - todo.len();
        if todo.is_empty() {
            continue;
        }
        if args.dry_run {
            println!(
                "would add {} day(s) for {}: {} .. {}",
                todo.len(),
                user.email,
                todo[0].1.day,
                todo[todo.len() - 1].1.day
            );
            written += todo.len();
            continue;
        }
        for batch in time_off::batches(&todo) {
            let result = client.add_attendance(user.user_id, &batch).await;
            journal.push(scim_sync::journal::Entry {
                time: scim_sync::journal::now(),
                run_id: run_id.clone(),
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
            });
            match result {
                Ok(()) => {
                    info!(
                        "{}: added {} day(s) from {}",
                        user.email,
                        batch.len(),
                        batch[0].day
                    );
                    written += batch.len();
                }
                Err(e) => {
                    warn!(
                        "{}: could not add {} day(s) from {}: {e}",
                        user.email,
                        batch.len(),
                        batch[0].day
                    );
                    failed += batch.len();
                }
            }
        }
    }
    scim_sync::journal::record(&journal);
    let verb = if args.dry_run {
        "Dry run, would have added"
    } else {
        "Summary: added"
    };
    info!(
        "{verb} {written} days; {unchanged} already recorded; {} leaves skipped; {failed} days failed",
        skipped.len()
    );
    if failed > 0 {
        bail!(
            "{failed} day(s) could not be written (see the warnings above); the next run tries again"
        );
    }
    Ok(())
}
