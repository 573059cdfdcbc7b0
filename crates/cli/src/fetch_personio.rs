//! `fetch-personio`: the people of Personio into `var/users.json`.

use clap::Parser;
use scim_core::Env;
use scim_sources::personio::{PersonioSettings, fetch};

/// Read the people of Personio (API v2, client credentials) into var/users.json.
///
/// The active persons are listed, each with their latest employment (status,
/// supervisor, department, position) and the departments as paths. The token is
/// asked for once and kept. Nothing is written if a request fails or nobody is
/// active; the previous file stays.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-personio",
    version,
    override_usage = "fetch-personio [--debug]",
    after_help = scim_core::registry::short_help("fetch-personio"),
    after_long_help = scim_core::registry::long_help("fetch-personio")
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher(&env, "fetch-personio", PersonioSettings::from_env, fetch).await
}
