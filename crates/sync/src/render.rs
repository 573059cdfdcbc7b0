//! The one-line summary of a sync run, planned or done.
//!
//! Each person is counted once, in the one column that says what happened
//! to them: failed if any of their changes failed, else created, re-enabled,
//! disabled or updated (in that order); a new user's finishing writes are
//! part of their creation. So the columns add up to the people the run
//! touched.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::apply::{Outcome, Report};
use crate::plan::{Change, Plan};

/// The counts of the closing line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub disabled: usize,
    pub re_enabled: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// People and accounts the sync deliberately leaves alone.
    pub skipped: usize,
    /// People whose changes are held back: who they are is not certain.
    pub held_back: usize,
    /// Created users whose settings wait for the next run.
    pub pending: usize,
    pub groups_created: usize,
    /// Changes not made (the run was stopped, or something they depend on
    /// was not done): the next run does them.
    pub not_made: usize,
}

/// Who a change is about, for counting people once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Group(String),
    Existing(u64),
    New(String),
}

/// What happened to one subject, most telling first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    #[default]
    Nothing,
    Updated,
    Disabled,
    ReEnabled,
    Created,
    GroupCreated,
    Failed,
}

impl Summary {
    /// What the plan would do (dry run).
    pub fn of_plan(plan: &Plan) -> Self {
        let done = Outcome::Done;
        Self::count(plan, plan.changes.iter().map(|c| (c, &done, false)), 0, 0)
    }

    /// What the run did.
    pub fn of_report(plan: &Plan, report: &Report) -> Self {
        Self::count(
            plan,
            report
                .applied
                .iter()
                .map(|a| (&a.change, &a.outcome, false))
                .chain(
                    report
                        .finalised
                        .iter()
                        .map(|a| (&a.change, &a.outcome, true)),
                ),
            report.pending.len(),
            report.not_made(),
        )
    }

    /// `items`: each change, its outcome, and whether it finishes a new user.
    fn count<'a>(
        plan: &Plan,
        items: impl Iterator<Item = (&'a Change, &'a Outcome, bool)>,
        pending: usize,
        not_made: usize,
    ) -> Self {
        let mut fates: BTreeMap<Subject, Fate> = BTreeMap::new();
        for (change, outcome, follow_up) in items {
            let subject = match change {
                Change::CreateGroup { path, .. } => Subject::Group(path.clone()),
                Change::CreateUser(new) => Subject::New(new.email.to_lowercase()),
                other => match other.user() {
                    Some(u) if follow_up => Subject::New(u.email.to_lowercase()),
                    Some(u) => Subject::Existing(u.id),
                    None => continue,
                },
            };
            let fate = match (outcome, change) {
                (Outcome::Failed { .. }, _) => Fate::Failed,
                (Outcome::Skipped { .. }, _) => Fate::Nothing,
                (Outcome::Done, Change::CreateGroup { .. }) => Fate::GroupCreated,
                (Outcome::Done, Change::CreateUser(_)) => Fate::Created,
                (Outcome::Done, Change::ReEnable { .. }) => Fate::ReEnabled,
                (Outcome::Done, Change::Disable { .. }) => Fate::Disabled,
                // A new user's finishing writes are part of their creation.
                (Outcome::Done, _) if follow_up => Fate::Nothing,
                (Outcome::Done, _) => Fate::Updated,
            };
            let slot = fates.entry(subject).or_default();
            *slot = (*slot).max(fate);
        }
        let mut s = Summary {
            unchanged: plan.unchanged.len(),
            skipped: plan.skipped.len(),
            held_back: plan.held_back.len(),
            pending,
            not_made,
            ..Summary::default()
        };
        for fate in fates.values() {
            match fate {
                Fate::Nothing => {}
                Fate::Updated => s.updated += 1,
                Fate::Disabled => s.disabled += 1,
                Fate::ReEnabled => s.re_enabled += 1,
                Fate::Created => s.created += 1,
                Fate::GroupCreated => s.groups_created += 1,
                Fate::Failed => s.failed += 1,
            }
        }
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
        if self.held_back > 0 {
            let _ = write!(line, "; held back {}", self.held_back);
        }
        if self.groups_created > 0 {
            let _ = write!(line, "; groups created {}", self.groups_created);
        }
        if self.skipped > 0 {
            let _ = write!(line, "; skipped {}", self.skipped);
        }
        if self.pending > 0 {
            let _ = write!(line, "; pending for the next run {}", self.pending);
        }
        if self.not_made > 0 {
            let _ = write!(line, "; changes not made {}", self.not_made);
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::Applied;
    use crate::plan::UserRef;

    fn user(id: u64) -> UserRef {
        UserRef {
            id,
            email: format!("u{id}@x.com"),
        }
    }

    #[test]
    fn a_person_is_counted_once_in_the_most_telling_column() {
        let applied = |change, outcome| Applied { change, outcome };
        let report = Report {
            applied: vec![
                // Marked as managed, then the rename fails: failed, not also updated.
                applied(Change::ResetAddedManually { user: user(1) }, Outcome::Done),
                applied(
                    Change::Rename {
                        user: user(1),
                        from: None,
                        to: "A".into(),
                    },
                    Outcome::Failed {
                        error: "500".into(),
                    },
                ),
                // Re-enabled and renamed: re-enabled.
                applied(Change::ReEnable { user: user(2) }, Outcome::Done),
                applied(
                    Change::Rename {
                        user: user(2),
                        from: None,
                        to: "B".into(),
                    },
                    Outcome::Done,
                ),
                // Stopped before it was made: in no column, but not made.
                applied(
                    Change::Rename {
                        user: user(3),
                        from: None,
                        to: "C".into(),
                    },
                    Outcome::Skipped {
                        reason: "stop".into(),
                    },
                ),
            ],
            ..Report::default()
        };
        let plan = Plan {
            changes: report.applied.iter().map(|a| a.change.clone()).collect(),
            ..Plan::default()
        };
        let s = Summary::of_report(&plan, &report);
        assert_eq!((s.failed, s.updated, s.re_enabled), (1, 0, 1));
        assert_eq!(s.not_made, 1);
        assert!(
            s.line(false).ends_with("; changes not made 1"),
            "{}",
            s.line(false)
        );
    }
}
