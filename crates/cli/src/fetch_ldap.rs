//! `fetch-ldap`: users from LDAP / Active Directory into `var/users.json`.

use anyhow::Context;
use clap::Parser;
use scim_core::Env;
use scim_core::settings::StorageSettings;
use scim_core::storage::USERS_FILE;
use scim_sources::ldap::{LdapSettings, fetch};

/// Read the users of an LDAP directory or Active Directory (LDAP_* settings) and
/// write var/users.json. Nothing is written if the directory cannot be read to the
/// end or returns no users; the previous file stays.
#[derive(Debug, Parser)]
#[command(name = "fetch-ldap", version, about, long_about)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    let settings = LdapSettings::from_env(&env)?;
    let storage = crate::open_storage(&StorageSettings::from_env(&env)?).await?;
    let users = fetch(&settings)
        .await
        .with_context(|| format!("fetch-ldap stopped; {USERS_FILE} was left as it was"))?;
    crate::save_users(storage.as_ref(), "fetch-ldap", users).await
}
