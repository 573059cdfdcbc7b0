//! `fetch-azuread`: users from Microsoft Entra ID into `var/users.json`.

use clap::Parser;
use scim_core::Env;
use scim_sources::azuread::{AzureSettings, fetch};

/// Read the users of Microsoft Entra ID (Azure AD) into var/users.json.
///
/// Reads Microsoft Graph with an app registration's client credentials. Nothing is
/// written if any page cannot be read or no user is found; the previous file stays.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-azuread",
    version,
    override_usage = "fetch-azuread [--debug]",
    after_help = scim_core::registry::short_help("fetch-azuread"),
    after_long_help = scim_core::registry::long_help("fetch-azuread")
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher(&env, "fetch-azuread", AzureSettings::from_env, fetch).await
}
