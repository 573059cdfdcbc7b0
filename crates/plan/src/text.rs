//! The plan as the admin reads it in a terminal: one line per change,
//! grouped by kind, with counts.

use std::fmt::Write;

use crate::plan::{Change, GroupRef, NewUser, Plan};
use crate::types::{MANAGED_FROM_NOW_ON, role_name};

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
    "mark as managed by the sync",
    "disable",
    "move to disabled-users group",
];

/// What the plan says when it changes nothing (the text and the page).
pub const NO_CHANGES: &str = "No changes: TimeCamp already matches the prepared users.";

/// One line per change, grouped by kind, with counts.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.changes.is_empty() {
        out.push_str(NO_CHANGES);
        out.push('\n');
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
    if !plan.held_back.is_empty() {
        let _ = writeln!(
            out,
            "held back, nothing done for them until an admin settles who they are ({}):",
            plan.held_back.len()
        );
        for h in &plan.held_back {
            let _ = writeln!(out, "  {}: {}", h.email, h.reason);
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

/// One change as the plan's text says it (also `--explain`'s plan lines).
pub fn line(change: &Change, plan: &Plan) -> String {
    let who = subject(change);
    match change {
        Change::CreateGroup { parent, .. } => format!("{who} under {}", group_label(*parent, plan)),
        Change::CreateUser(NewUser {
            name,
            group_path,
            role,
            additional_email,
            external_id,
            after,
            ..
        }) => {
            let mut s = format!("{who} {name:?} in {:?} as {role}", display_path(group_path));
            if let Some(e) = additional_email {
                let _ = write!(s, ", additional e-mail {e}");
            }
            if let Some(id) = external_id {
                let _ = write!(s, ", external id {id}");
            }
            if let Some(holder) = after {
                let _ = write!(s, " (after TimeCamp user {holder} gives up the address)");
            }
            s
        }
        Change::Rename { from, to, .. } => {
            format!("{who}: {:?} -> {to:?}", from.as_deref().unwrap_or(""))
        }
        Change::SetEmail {
            from, to, after, ..
        } => match after {
            Some(holder) => format!(
                "{who}: e-mail: {from} -> {to} (after TimeCamp user {holder} gives up the address)"
            ),
            None => format!("{who}: e-mail: {from} -> {to}"),
        },
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
        Change::ResetAddedManually { .. } => format!("{who}: {MANAGED_FROM_NOW_ON}"),
        Change::ReEnable { .. } => who,
    }
}

/// Who or what a change is about, for log lines.
pub fn subject(change: &Change) -> String {
    match change {
        Change::CreateGroup { path, .. } => format!("group {path:?}"),
        Change::CreateUser(new) => new.email.clone(),
        other => other.user().map(|u| u.email.clone()).unwrap_or_default(),
    }
}

/// `""` is the root group.
pub fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "(root group)"
    } else {
        path
    }
}
