//! `fetch-netsuite`: employees from NetSuite into `var/users.json`.

use clap::Parser;
use scim_core::Env;
use scim_sources::netsuite::{NetsuiteSettings, fetch};

/// Read the employees of NetSuite (SuiteQL, OAuth 2.0 with a certificate) into var/users.json.
///
/// The token request is signed with the private key of the certificate uploaded to
/// the integration (PS256, ES256 or ES512). Departments are read first and become
/// paths; employees follow, inactive ones included (the sync disables them). Nothing
/// is written if a request fails or no employee is active; the previous file stays.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-netsuite",
    version,
    override_usage = "fetch-netsuite [--debug]",
    after_help = scim_core::registry::short_help("fetch-netsuite"),
    after_long_help = scim_core::registry::long_help("fetch-netsuite")
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher_with(
        &env,
        "fetch-netsuite",
        NetsuiteSettings::from_env,
        |s| s.allow_empty_result,
        async |s, _| fetch(s).await,
    )
    .await
}
