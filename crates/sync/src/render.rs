//! The one-line summary of a sync run, planned or done.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write;

use serde::Serialize;

use crate::apply::{Outcome, Report};
use crate::plan::{Change, Plan};
use scim_plan::text::subject;

/// The counts of the closing line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub disabled: usize,
    pub re_enabled: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Created users whose settings wait for the next run.
    pub pending: usize,
    pub groups_created: usize,
}

impl Summary {
    /// What the plan would do (dry run).
    pub fn of_plan(plan: &Plan) -> Self {
        Self::count(
            plan,
            plan.changes.iter().map(|c| (c, &Outcome::Done)),
            [].iter(),
            0,
        )
    }

    /// What the run did. Follow-ups of new users (name, role, settings) are part
    /// of their creation: they count only when they fail.
    pub fn of_report(plan: &Plan, report: &Report) -> Self {
        Self::count(
            plan,
            report.applied.iter().map(|a| (&a.change, &a.outcome)),
            report.finalised.iter(),
            report.pending.len(),
        )
    }

    fn count<'a>(
        plan: &Plan,
        items: impl Iterator<Item = (&'a Change, &'a Outcome)>,
        follow_ups: impl Iterator<Item = &'a crate::apply::Applied>,
        pending: usize,
    ) -> Self {
        let mut s = Summary {
            unchanged: plan.unchanged.len(),
            skipped: plan.skipped.len(),
            pending,
            ..Summary::default()
        };
        let mut updated = HashSet::new();
        let mut failed = BTreeSet::new();
        for (change, outcome) in items {
            match outcome {
                Outcome::Failed { .. } => {
                    failed.insert(subject(change));
                    continue;
                }
                Outcome::Skipped { .. } => continue,
                Outcome::Done => {}
            }
            match change {
                Change::CreateGroup { .. } => s.groups_created += 1,
                Change::CreateUser(_) => s.created += 1,
                Change::ReEnable { .. } => s.re_enabled += 1,
                Change::Disable { .. } => s.disabled += 1,
                Change::MoveToDisabledGroup { .. } => {}
                Change::Rename { user, .. }
                | Change::SetEmail { user, .. }
                | Change::Move { user, .. }
                | Change::SetRole { user, .. }
                | Change::SetAdditionalEmail { user, .. }
                | Change::SetExternalId { user, .. }
                | Change::ResetAddedManually { user } => {
                    updated.insert(user.id);
                }
            }
        }
        for a in follow_ups {
            if matches!(a.outcome, Outcome::Failed { .. }) {
                failed.insert(subject(&a.change));
            }
        }
        s.updated = updated.len();
        s.failed = failed.len();
        s
    }

    pub fn line(&self, dry_run: bool) -> String {
        let prefix = if dry_run {
            "Dry run, would have: "
        } else {
            "Summary: "
        };
        let mut line = format!(
            "{prefix}created {}, updated {}, disabled {}, re-enabled {}, unchanged {}, failed {}",
            self.created, self.updated, self.disabled, self.re_enabled, self.unchanged, self.failed
        );
        if self.groups_created > 0 {
            let _ = write!(line, "; groups created {}", self.groups_created);
        }
        if self.skipped > 0 {
            let _ = write!(line, "; skipped {}", self.skipped);
        }
        if self.pending > 0 {
            let _ = write!(line, "; pending for the next run {}", self.pending);
        }
        line
    }
}
