//! `fetch-azuread`: users from Microsoft Entra ID into `var/users.json`.

use anyhow::Context;
use clap::Parser;
use scim_core::Env;
use scim_core::settings::StorageSettings;
use scim_core::storage::USERS_FILE;
use scim_sources::azuread::{AzureSettings, fetch};

/// Read the users of Microsoft Entra ID (Azure AD) through Microsoft Graph (AZURE_*
/// settings) and write var/users.json. Nothing is written if any page cannot be read
/// or no user is found; the previous file stays.
#[derive(Debug, Parser)]
#[command(name = "fetch-azuread", version, about, long_about)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    let settings = AzureSettings::from_env(&env)?;
    let storage = crate::open_storage(&StorageSettings::from_env(&env)?).await?;
    let users = fetch(&settings)
        .await
        .with_context(|| format!("fetch-azuread stopped; {USERS_FILE} was left as it was"))?;
    crate::save_users(storage.as_ref(), "fetch-azuread", users).await
}
