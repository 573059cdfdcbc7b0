//! `fetch-bamboohr`: employees from BambooHR into `var/users.json`.

use anyhow::Context;
use clap::Parser;
use scim_core::Env;
use scim_core::settings::StorageSettings;
use scim_core::storage::USERS_FILE;
use scim_sources::bamboohr::{BambooSettings, fetch};

/// Read the employees of BambooHR into var/users.json.
///
/// Nothing is written if any page cannot be read or no employee is found; the
/// previous file stays.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-bamboohr",
    version,
    override_usage = "fetch-bamboohr [--debug]",
    after_help = crate::stage_help!(
        "Needs BAMBOOHR_SUBDOMAIN and BAMBOOHR_API_KEY; optional: BAMBOOHR_EXCLUDE_FILTER, BAMBOOHR_EXCLUDED_DEPARTMENTS, BAMBOOHR_SUPERVISOR_RULE."
    )
)]
pub struct Args {
    /// Log at DEBUG level (also lists the employees skipped and why)
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    let settings = BambooSettings::from_env(&env)?;
    let storage = crate::open_storage(&StorageSettings::from_env(&env)?).await?;
    let users = fetch(&settings)
        .await
        .with_context(|| format!("fetch-bamboohr stopped; {USERS_FILE} was left as it was"))?;
    crate::save_users(storage.as_ref(), "fetch-bamboohr", users).await
}
