//! sync-users: make TimeCamp match `var/timecamp_users.json`.
//!
//! The work is split in three: [`apply::read_state`] reads what TimeCamp holds
//! (bulk reads only), [`plan::plan`] (from the pure crate `scim-plan`)
//! computes the changes as data, and [`apply::apply`] executes them,
//! isolating failures so one bad user does not stop the rest. `--dry-run`
//! stops after planning. The journals of interrupted invitations and of
//! applied changes are kept here too.
//!
//! Each stage that writes to TimeCamp has its steps and policy here, the
//! binary only parsing flags, printing and choosing the exit code:
//! sync-users in [`run`], sync-time-off in [`time_off`], the empty-group
//! removal both remove-empty-groups and sync-users use in [`empty_groups`].

pub mod apply;
pub mod empty_groups;
pub mod journal;
pub mod pending;
pub mod progress;
pub mod render;
pub mod run;
pub mod schedule;
pub mod time_off;

// The planner is pure and lives in scim-plan; the paths it had here stay.
pub use scim_plan::{guard, matching, plan, text};

use std::collections::HashSet;

use scim_core::settings::{ApiCredentials, SyncSettings};

pub use apply::{ApplyOptions, BATCH, Outcome, Report, StopFlag, apply, read_state};
pub use pending::Journal;
pub use render::Summary;
pub use schedule::{Schedule, schedule};
pub use scim_plan::{
    Change, CurrentState, CurrentUser, DeactivationCheck, GroupRef, Plan, SyncOptions,
    check_deactivations, managed_enabled_users, plan_page, plan_text, validate_input,
};

/// The planner's switches, from the settings: the edge between the
/// environment and the pure plan.
pub fn sync_options(s: &SyncSettings, api: &ApiCredentials) -> SyncOptions {
    SyncOptions {
        root_group_id: api.root_group_id,
        ignored_user_ids: s.ignored_user_ids.iter().copied().collect::<HashSet<_>>(),
        disabled_users_group_id: s.disabled_users_group_id,
        disable_new_users: s.disable_new_users,
        disable_external_id_sync: s.disable_external_id_sync,
        disable_additional_email_sync: s.disable_additional_email_sync,
        disable_manual_user_updates: s.disable_manual_user_updates,
        disable_group_updates: s.disable_group_updates,
        disable_role_updates: s.disable_role_updates,
        disable_groups_creation: s.disable_groups_creation,
        disable_user_deactivation: s.disable_user_deactivation,
        update_email_on_external_id: s.update_email_on_external_id,
        allow_admin_demotion: s.allow_admin_demotion,
        // A pull source lists the whole staff; scim-server sets this itself.
        leave_users_not_in_source: false,
    }
}
