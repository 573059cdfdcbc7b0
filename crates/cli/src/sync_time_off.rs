//! `sync-time-off`: writes the leaves of `var/vacation.json` into TimeCamp attendance.

use clap::Parser;
use scim_core::Env;
use scim_core::settings::{StorageSettings, TimecampApi};
use scim_core::storage::VACATION_FILE;
use scim_sync::time_off;
use tracing::info;

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
    after_help = scim_core::registry::short_help("sync-time-off"),
    after_long_help = scim_core::registry::long_help("sync-time-off")
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
    let settings = TimecampApi::from_env(&env)?;
    let include_weekends = scim_core::settings::time_off_include_weekends(&env)?;
    let api_key = settings.require_api_key()?;
    let storage = crate::open_storage(&StorageSettings::from_env(&env)?).await?;
    let leaves = time_off::load_leaves(storage.as_ref(), &args.input).await?;
    let client = crate::sync::client(&settings, api_key)?;
    let planned = time_off::plan_run(
        &client,
        &leaves,
        include_weekends,
        chrono::Local::now().date_naive(),
    )
    .await?;
    let outcome = time_off::execute(&planned, &client, storage.as_ref(), args.dry_run).await?;
    for m in &outcome.would_add {
        // A person is listed only with at least one day to add.
        let (first, last) = (&m.days[0].1, &m.days[m.days.len() - 1].1);
        println!(
            "would add {} day(s) for {}: {} .. {}",
            m.days.len(),
            m.email,
            first.day,
            last.day
        );
    }
    info!("{}", outcome.line());
    Ok(outcome.verdict()?)
}
