//! The mass-deactivation guard: a run that would disable more users than
//! `TIMECAMP_MAX_DEACTIVATIONS` allows is refused before any change, because
//! the likeliest cause is a wrong or truncated source file, not a wave of
//! leavers (the original disabled everyone on an empty file). A user moved
//! out of their group into the disabled-users group counts like a disable: with
//! deactivation switched off, that move is what a truncated file does to them.
//! A role change that takes rights away counts too: a file that lost its
//! supervisor flags would demote every manager.

use scim_model::DeactivationLimit;
use serde::Serialize;

use crate::plan::{Change, CurrentState, Plan, SyncOptions, managed_enabled_users};

/// The guard's verdict, for the log, the dry run and JSON output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeactivationCheck {
    /// Users the plan would disable, move into the disabled-users group, or demote.
    pub planned: usize,
    /// Enabled users the sync manages (the base of a percentage).
    pub managed: usize,
    /// The most this run may disable.
    pub allowed: usize,
    pub limit: String,
}

impl DeactivationCheck {
    pub fn exceeded(&self) -> bool {
        self.planned > self.allowed
    }

    /// What the admin reads when the run is refused.
    pub fn refusal(&self) -> String {
        format!(
            "refusing to disable or demote {} of {} enabled users (moves to the disabled-users \
             group and role changes that take rights away count too): \
             TIMECAMP_MAX_DEACTIVATIONS={} allows {} per run. \
             Nothing was changed. Check the source data (var/users.json, var/timecamp_users.json) and \
             `sync-users --dry-run`; if these users really left, run once with --allow-mass-deactivation, \
             or raise TIMECAMP_MAX_DEACTIVATIONS",
            self.planned, self.managed, self.limit, self.allowed
        )
    }
}

pub fn check_deactivations(
    plan: &Plan,
    current: &CurrentState,
    opts: &SyncOptions,
    limit: DeactivationLimit,
) -> DeactivationCheck {
    let managed = managed_enabled_users(current, opts);
    DeactivationCheck {
        planned: plan
            .changes
            .iter()
            .filter(|c| {
                c.demotes()
                    || matches!(
                        c,
                        Change::Disable { .. } | Change::MoveToDisabledGroup { .. }
                    )
            })
            .filter_map(Change::user)
            .map(|u| u.id)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        managed,
        allowed: limit.allowed(managed),
        limit: limit.to_string(),
    }
}
