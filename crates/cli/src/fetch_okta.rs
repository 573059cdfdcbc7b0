//! `fetch-okta`: users from Okta into `var/users.json`.

use clap::Parser;
use scim_core::Env;
use scim_sources::okta::{OktaSettings, fetch};

/// Read the users of Okta (Users and Groups APIs, with an API token) into var/users.json.
///
/// Managers are linked by a configurable field; those outside the selected users
/// are looked up and written as hierarchy-only records. The result is validated
/// first (missing ids or e-mails, shared ids, broken manager references, cycles,
/// too many hierarchy roots): on failure the report is logged, nothing is
/// written and the previous file stays.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-okta",
    version,
    override_usage = "fetch-okta [--debug]",
    after_help = scim_core::registry::short_help("fetch-okta"),
    after_long_help = scim_core::registry::long_help("fetch-okta")
)]
pub struct Args {
    /// Log at DEBUG level (also lists the users left out and why)
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher(&env, "fetch-okta", OktaSettings::from_env, fetch).await
}
