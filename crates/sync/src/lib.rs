//! sync-users: make TimeCamp match `var/timecamp_users.json`.
//!
//! The work is split in three: [`apply::read_state`] reads what TimeCamp holds
//! (bulk reads only), [`plan::plan`] computes the changes as data (pure, tested
//! without a server), and [`apply::apply`] executes them, isolating failures so
//! one bad user does not stop the rest. `--dry-run` stops after planning.

pub mod apply;
pub mod empty_groups;
pub mod guard;
pub mod journal;
pub mod pending;
pub mod plan;
pub mod plan_page;
pub mod render;
pub mod time_off;

use std::collections::HashSet;

use scim_core::settings::{ApiCredentials, TimecampSettings};

pub use apply::{
    ApplyOptions, INVITE_BATCH, Outcome, Report, Schedule, StopFlag, apply, read_state, schedule,
};
pub use guard::{DeactivationCheck, check_deactivations};
pub use pending::Journal;
pub use plan::{
    Change, CurrentState, CurrentUser, GroupRef, Plan, SyncOptions, managed_enabled_users, plan,
    validate_input,
};
pub use plan_page::plan_page;
pub use render::{Summary, plan_text};

impl SyncOptions {
    pub fn from_settings(s: &TimecampSettings, api: &ApiCredentials) -> Self {
        Self {
            root_group_id: api.root_group_id,
            ignored_user_ids: s.ignored_user_ids.iter().copied().collect::<HashSet<_>>(),
            disabled_users_group_id: Some(s.disabled_users_group_id).filter(|g| *g > 0),
            disable_new_users: s.disable_new_users,
            disable_external_id_sync: s.disable_external_id_sync,
            disable_additional_email_sync: s.disable_additional_email_sync,
            disable_manual_user_updates: s.disable_manual_user_updates,
            disable_group_updates: s.disable_group_updates,
            disable_role_updates: s.disable_role_updates,
            disable_groups_creation: s.disable_groups_creation,
            disable_user_deactivation: s.disable_user_deactivation,
            update_email_on_external_id: s.update_email_on_external_id,
        }
    }
}
