//! `sync-users --explain EMAIL`: everything the pipeline decided about one
//! person, in the order it decided it: the source record, what prepare made of
//! it, the TimeCamp account it matched and how, and each change the plan makes
//! or why it makes none. Reads only.

use std::fmt::Write;

use std::collections::{HashMap, HashSet};

use scim_core::model::{GroupMode, SourceUser, TimecampUser};
use scim_prepare::{Note, PrepareOptions};
use scim_sync::{Change, CurrentState, Plan};

/// How far up a supervisor chain is shown (prepare's own depth limit).
const CHAIN_SHOWN: usize = scim_prepare::MAX_SUPERVISOR_DEPTH;

/// The supervisors above `person`, nearest first, as the source names them:
/// what the supervisor groups are built from. Stops at a manager outside the
/// fetched scope, a missing one, or a loop.
fn chain(person: &SourceUser, sources: &[SourceUser]) -> Vec<String> {
    let by_id: HashMap<&str, &SourceUser> = sources
        .iter()
        .filter_map(|s| {
            s.external_id
                .as_deref()
                .filter(|i| !i.is_empty())
                .map(|i| (i, s))
        })
        .collect();
    let mut out = Vec::new();
    let mut seen: HashSet<&str> = person.external_id.as_deref().into_iter().collect();
    let mut next = person.supervisor_id.as_deref().filter(|s| !s.is_empty());
    while let Some(id) = next {
        if out.len() == CHAIN_SHOWN {
            out.push("…".to_owned());
            break;
        }
        let Some(boss) = by_id.get(id) else {
            out.push(format!("{id} (not in var/users.json)"));
            break;
        };
        let name = boss.name.as_deref().unwrap_or("");
        if !seen.insert(id) {
            out.push(format!("{name} ({id}), a loop"));
            break;
        }
        if boss.is_hierarchy_only() {
            out.push(format!(
                "{name} ({id}), outside the fetched scope: the groups start below"
            ));
            break;
        }
        out.push(format!("{name} ({id})"));
        next = boss.supervisor_id.as_deref().filter(|s| !s.is_empty());
    }
    out
}

/// The explanation for one e-mail (lower-cased by the caller).
pub fn explain(
    email: &str,
    sources: Option<&[SourceUser]>,
    options: &PrepareOptions,
    notes: &[Note],
    prepared: &[TimecampUser],
    current: &CurrentState,
    plan: &Plan,
) -> String {
    let mut out = format!("== {email}\n");
    let same = |e: Option<&str>| e.is_some_and(|e| e.trim().eq_ignore_ascii_case(email));

    // The source.
    match sources {
        None => out.push_str("source: var/users.json could not be read\n"),
        Some(sources) => {
            let found: Vec<&SourceUser> = sources
                .iter()
                .filter(|s| same(s.email.as_deref()) || same(s.real_email.as_deref()))
                .collect();
            if found.is_empty() {
                out.push_str("source: no record in var/users.json has this e-mail\n");
            }
            for s in found {
                let _ = writeln!(
                    out,
                    "source: external_id {:?}, name {:?}, department {:?}, job title {:?}, status {}, supervisor {:?}",
                    s.external_id.as_deref().unwrap_or(""),
                    s.name.as_deref().unwrap_or(""),
                    s.department.as_deref().unwrap_or(""),
                    s.job_title.as_deref().unwrap_or(""),
                    s.status.map_or("(none)", |st| st.as_str()),
                    s.supervisor_id.as_deref().unwrap_or("")
                );
                let department = scim_groups::normalise_path(s.department.as_deref().unwrap_or(""));
                let cleaned = options.skip_departments.clean_path(&department);
                if cleaned != department {
                    let _ = writeln!(
                        out,
                        "prepare: department {department:?} -> {cleaned:?}: TIMECAMP_SKIP_DEPARTMENTS removes the prefix"
                    );
                }
                if options.mode != GroupMode::Department {
                    let above = chain(s, sources);
                    let _ = writeln!(
                        out,
                        "prepare: supervisor chain (the supervisor groups): {}",
                        if above.is_empty() {
                            "none, top level".to_owned()
                        } else {
                            above.join(" -> ")
                        }
                    );
                }
            }
        }
    }
    // What prepare did.
    for n in notes
        .iter()
        .filter(|n| n.record.contains(&format!("({email}")))
    {
        let _ = writeln!(out, "prepare: {}", n.reason);
    }
    match prepared
        .iter()
        .find(|p| p.timecamp_email.eq_ignore_ascii_case(email))
    {
        None => out.push_str("prepared: not in var/timecamp_users.json\n"),
        Some(p) => {
            let _ = writeln!(
                out,
                "prepared: {} as {:?} in {:?}, role {}",
                p.timecamp_status.as_str(),
                p.timecamp_user_name.as_deref().unwrap_or(""),
                p.timecamp_groups_breadcrumb.as_deref().unwrap_or(""),
                p.timecamp_role.map_or("user".to_owned(), |r| r.to_string())
            );
        }
    }
    // The TimeCamp account.
    let matched = plan.matches.iter().find(|m| m.email == email);
    let account = match matched {
        Some(m) => current.users.iter().find(|u| u.id == m.user_id),
        None => current
            .users
            .iter()
            .find(|u| u.email.trim().eq_ignore_ascii_case(email)),
    };
    match (account, matched) {
        (Some(u), Some(m)) => {
            let _ = writeln!(
                out,
                "TimeCamp: user {} ({}), matched by {}, {}, group {}",
                u.id,
                u.email,
                m.by,
                if u.enabled { "enabled" } else { "disabled" },
                u.group_id
            );
        }
        (Some(u), None) => {
            let _ = writeln!(
                out,
                "TimeCamp: user {} ({}), {}, group {}; not matched by an active record",
                u.id,
                u.email,
                if u.enabled { "enabled" } else { "disabled" },
                u.group_id
            );
        }
        (None, _) => out.push_str("TimeCamp: no user with this e-mail\n"),
    }
    // The plan.
    let who = account.map(|u| u.id);
    let mine: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| match c {
            Change::CreateUser(new) => new.email.eq_ignore_ascii_case(email),
            other => other.user().map(|u| u.id) == who && who.is_some(),
        })
        .collect();
    for c in &mine {
        let (old, new) = scim_sync::journal::old_and_new(c);
        let _ = writeln!(
            out,
            "plan: {}{}{}",
            c.kind(),
            old.map(|o| format!(": {o}")).unwrap_or_default(),
            new.map(|n| format!(" -> {n}")).unwrap_or_default()
        );
    }
    if mine.is_empty() {
        if let Some(s) = plan.skipped.iter().find(|s| s.email == email) {
            let _ = writeln!(out, "plan: nothing, {}", s.reason);
        } else if plan.unchanged.iter().any(|u| u == email) {
            out.push_str("plan: nothing, TimeCamp already matches\n");
        } else {
            out.push_str("plan: nothing\n");
        }
    }
    out
}
