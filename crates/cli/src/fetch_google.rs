//! `fetch-google`: the users of Google Workspace into `var/users.json`.

use clap::Parser;
use scim_core::Env;
use scim_sources::google::{GoogleSettings, fetch};

/// Read the users of Google Workspace (Admin SDK Directory API, a service account with domain-wide delegation) into var/users.json.
///
/// The service account's key file signs the token request, acting for an
/// administrator. Departments come from the primary organization (or the org unit
/// path), managers from the users' relations; suspended and archived users are
/// inactive. Nothing is written if a request fails or nobody is active; the previous
/// file stays.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-google",
    version,
    override_usage = "fetch-google [--debug]",
    after_help = scim_core::registry::short_help("fetch-google"),
    after_long_help = scim_core::registry::long_help("fetch-google")
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher(&env, "fetch-google", GoogleSettings::from_env, fetch).await
}
