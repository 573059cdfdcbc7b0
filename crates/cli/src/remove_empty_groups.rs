//! `remove-empty-groups`: deletes the groups under the root that nobody uses.

use anyhow::{Context, bail};
use clap::Parser;
use scim_core::Env;
use scim_core::settings::{StorageSettings, TimecampApi};
use scim_core::storage::{self, TIMECAMP_USERS_FILE};
use scim_model::{Status, TimecampUser};
use tracing::{info, warn};

/// Delete the empty TimeCamp groups under TIMECAMP_ROOT_GROUP_ID.
///
/// A group is empty with no users (enabled or disabled) and no subgroups; they go
/// bottom-up, so a chain of empty groups goes in one run. Never the root group, the
/// disabled-users group, or a group the prepared file needs.
#[derive(Debug, Parser)]
#[command(
    name = "remove-empty-groups",
    version,
    override_usage = "remove-empty-groups [--dry-run] [--debug] [--input PATH]",
    after_help = scim_core::registry::short_help("remove-empty-groups"),
    after_long_help = scim_core::registry::long_help("remove-empty-groups")
)]
pub struct Args {
    /// List the groups that would be deleted; delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Log at DEBUG level, including every API request
    #[arg(long)]
    pub debug: bool,
    /// The prepared users whose groups must stay
    #[arg(long, value_name = "PATH", default_value = TIMECAMP_USERS_FILE)]
    pub input: String,
}

pub async fn run(env: Env, args: Args) -> anyhow::Result<()> {
    let settings = TimecampApi::from_env(&env)?;
    let disabled_group = scim_core::settings::disabled_users_group_id(&env)?;
    let api = settings.require_api()?;
    let storage = crate::open_storage(&StorageSettings::from_env(&env)?).await?;
    // The lock is held already: the binary takes it before this runs.

    let needed: Vec<String> = if storage.exists(&args.input).await? {
        let users: Vec<TimecampUser> =
            storage::read_json(storage.as_ref(), &args.input, "a list of prepared users")
                .await
                .context("nothing was deleted")?;
        users
            .into_iter()
            .filter(|u| u.timecamp_status == Status::Active)
            .filter_map(|u| u.timecamp_groups_breadcrumb.as_deref().map(str::to_owned))
            .collect()
    } else {
        warn!(
            "{} does not exist: groups are kept only for their users and subgroups",
            storage.location(&args.input)
        );
        Vec::new()
    };

    let client = crate::sync::client(&settings, api.api_key)?;
    // Dry runs write no journal line: nothing is deleted.
    let log = (!args.dry_run).then(|| {
        scim_sync::journal::ChangeLog::open(
            &scim_sync::journal::path(),
            "remove-empty-groups",
            &scim_sync::journal::run_id(),
        )
    });
    let removal = scim_sync::empty_groups::remove_empty_groups(
        &client,
        api.root_group_id,
        disabled_group,
        &needed,
        args.dry_run,
        log.as_ref()
            .map(scim_sync::journal::ChangeLog::recorder)
            .as_ref(),
    )
    .await
    .context("cannot read TimeCamp's groups and users; nothing was deleted")?;
    if let Some(log) = log {
        log.close(storage.as_ref()).await;
    }
    if removal.empty.is_empty() {
        info!("No empty groups under group {}", api.root_group_id);
        return Ok(());
    }
    if args.dry_run {
        for g in &removal.empty {
            println!("would delete {:?} (group {})", g.path, g.id);
        }
        info!(
            "Dry run: {} empty groups would be deleted",
            removal.empty.len()
        );
        return Ok(());
    }
    if removal.failed() > 0 {
        bail!(
            "{} group(s) could not be deleted (see the warnings above); the next run tries again",
            removal.failed()
        );
    }
    Ok(())
}
