//! `fetch-bamboohr`: employees from BambooHR into `var/users.json`.

use clap::Parser;
use scim_core::Env;
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
    after_help = scim_core::registry::short_help("fetch-bamboohr"),
    after_long_help = scim_core::registry::long_help("fetch-bamboohr")
)]
pub struct Args {
    /// Log at DEBUG level (also lists the employees skipped and why)
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher(&env, "fetch-bamboohr", BambooSettings::from_env, fetch).await
}
