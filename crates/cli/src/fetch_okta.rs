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
    after_help = crate::stage_help!(
        "Needs OKTA_ORG_URL and OKTA_API_TOKEN (a read-only admin's token); optional: OKTA_USER_STATUSES, OKTA_FILTER_GROUPS, OKTA_FILTER_GROUP_IDS, OKTA_SUPERVISOR_GROUPS, OKTA_EXCLUDED_DEPARTMENTS, the OKTA_*_FIELD mappings, OKTA_SUPERVISOR_RULE, OKTA_MAX_HIERARCHY_ROOTS."
    )
)]
pub struct Args {
    /// Log at DEBUG level (also lists the users left out and why)
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher(&env, "fetch-okta", OktaSettings::from_env, fetch).await
}
