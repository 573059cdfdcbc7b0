//! `fetch-factorial`: employees into `var/users.json`, leaves into `var/vacation.json`.

use anyhow::Context;
use clap::Parser;
use scim_core::Env;
use scim_core::settings::StorageSettings;
use scim_core::storage::{self, USERS_FILE, VACATION_FILE};
use scim_model::VacationFile;
use scim_sources::factorial::{FactorialSettings, fetch};
use tracing::info;

/// Read Factorial's employees into var/users.json and approved leaves into var/vacation.json.
///
/// The leaves are for sync-time-off. Nothing is written if any page cannot be
/// read; with no employees the old files stay.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-factorial",
    version,
    override_usage = "fetch-factorial [--debug]",
    after_help = scim_core::registry::short_help("fetch-factorial"),
    after_long_help = scim_core::registry::long_help("fetch-factorial")
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    let settings = FactorialSettings::from_env(&env)?;
    let storage = crate::open_storage(&StorageSettings::from_env(&env)?).await?;
    let fetched = fetch(&settings).await.with_context(|| {
        format!("fetch-factorial stopped; {USERS_FILE} and {VACATION_FILE} were left as they were")
    })?;
    let leaves = fetched.leaves.len();
    crate::save_users(storage.as_ref(), "fetch-factorial", fetched.users, false).await?;
    storage::write_json(
        storage.as_ref(),
        VACATION_FILE,
        &VacationFile {
            vacation: fetched.leaves,
            ..VacationFile::default()
        },
    )
    .await
    // The error names the file.
    .context("cannot write the leaves")?;
    info!("Wrote {leaves} leaves to {VACATION_FILE}");
    Ok(())
}
