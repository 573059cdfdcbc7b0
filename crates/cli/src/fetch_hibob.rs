//! `fetch-hibob`: employees from HiBob into `var/users.json`.

use clap::Parser;
use scim_core::Env;
use scim_sources::hibob::{HibobSettings, fetch};

/// Read the employees of HiBob (people search, with a service user) into var/users.json.
///
/// Managers outside the listing are looked up and written as hierarchy-only
/// records. Nothing is written if a request fails or no employee is found; the
/// previous file stays.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-hibob",
    version,
    override_usage = "fetch-hibob [--debug]",
    after_help = scim_core::registry::short_help("fetch-hibob"),
    after_long_help = scim_core::registry::long_help("fetch-hibob")
)]
pub struct Args {
    /// Log at DEBUG level (also lists the employees left out and why)
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher(&env, "fetch-hibob", HibobSettings::from_env, fetch).await
}
