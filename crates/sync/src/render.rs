//! What the admin reads: the plan grouped by kind, and the one-line summary.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write;

use scim_core::model::Role;
use serde::Serialize;

use crate::apply::{Outcome, Report, display_path, subject};
use crate::plan::{Change, GroupRef, NewUser, Plan};

/// Kinds in the order a person reads them.
const ORDER: [&str; 12] = [
    "create group",
    "create user",
    "re-enable",
    "rename",
    "set e-mail",
    "move",
    "set role",
    "set additional e-mail",
    "set external id",
    "reset added_manually",
    "disable",
    "move to disabled-users group",
];

/// One line per change, grouped by kind, with counts.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.changes.is_empty() {
        out.push_str("No changes: TimeCamp already matches the prepared users.\n");
    }
    for kind in ORDER {
        let lines: Vec<String> = plan
            .changes
            .iter()
            .filter(|c| c.kind() == kind)
            .map(|c| line(c, plan))
            .collect();
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{kind} ({}):", lines.len());
        for l in lines {
            let _ = writeln!(out, "  {l}");
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "skipped ({}):", plan.skipped.len());
        for s in &plan.skipped {
            let _ = writeln!(out, "  {}: {}", s.email, s.reason);
        }
    }
    out
}

fn group_label(g: GroupRef, plan: &Plan) -> String {
    match g {
        GroupRef::Existing(id) => format!("group {id}"),
        GroupRef::New(key) => plan
            .changes
            .iter()
            .find_map(|c| match c {
                Change::CreateGroup { key: k, path, .. } if *k == key => {
                    Some(format!("{path:?} (new)"))
                }
                _ => None,
            })
            .unwrap_or_else(|| "a new group".into()),
    }
}

fn role_name(id: Option<u8>) -> String {
    id.and_then(|r| Role::from_id(&r.to_string()))
        .map_or_else(|| "user (not listed)".into(), |r| r.to_string())
}

fn line(change: &Change, plan: &Plan) -> String {
    let who = subject(change);
    match change {
        Change::CreateGroup { parent, .. } => format!("{who} under {}", group_label(*parent, plan)),
        Change::CreateUser(NewUser {
            name,
            group_path,
            role,
            additional_email,
            external_id,
            ..
        }) => {
            let mut s = format!("{who} {name:?} in {:?} as {role}", display_path(group_path));
            if let Some(e) = additional_email {
                let _ = write!(s, ", additional e-mail {e}");
            }
            if let Some(id) = external_id {
                let _ = write!(s, ", external id {id}");
            }
            s
        }
        Change::Rename { from, to, .. } => {
            format!("{who}: {:?} -> {to:?}", from.as_deref().unwrap_or(""))
        }
        Change::SetEmail { from, to, .. } => format!("{who}: e-mail: {from} -> {to}"),
        Change::Move { from, to_path, .. } => {
            format!("{who}: group {from} -> {:?}", display_path(to_path))
        }
        Change::SetRole {
            from, to, group, ..
        } => {
            format!(
                "{who}: {} -> {to} in {}",
                role_name(*from),
                group_label(*group, plan)
            )
        }
        Change::SetAdditionalEmail { from, to, .. } | Change::SetExternalId { from, to, .. } => {
            format!("{who}: {} -> {to}", from.as_deref().unwrap_or("(none)"))
        }
        Change::Disable { reason, .. } => format!("{who} ({reason})"),
        Change::MoveToDisabledGroup { from, to, .. } => format!("{who}: group {from} -> {to}"),
        Change::ReEnable { .. } | Change::ResetAddedManually { .. } => who,
    }
}

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
