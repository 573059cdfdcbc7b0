//! `fetch-ldap`: users from LDAP / Active Directory into `var/users.json`.

use clap::Parser;
use scim_core::Env;
use scim_sources::ldap::{LdapSettings, fetch};

/// Read the users of an LDAP directory or Active Directory into var/users.json.
///
/// Nothing is written if the directory cannot be read to the end or returns no
/// users; the previous file stays.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-ldap",
    version,
    override_usage = "fetch-ldap [--debug]",
    after_help = scim_core::registry::short_help("fetch-ldap"),
    after_long_help = scim_core::registry::long_help("fetch-ldap")
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher(&env, "fetch-ldap", LdapSettings::from_env, fetch).await
}
