//! `sync-users --explain EMAIL`: everything the pipeline decided about one
//! person, in the order it decided it: the source record, what prepare made of
//! it, the TimeCamp account it matched and how (or why it is held back), and
//! each change the plan makes or why it makes none. Reads only. Who is who
//! comes from the plan's identities, the one decision the sync acts on.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use scim_model::{GroupMode, SourceUser, TimecampUser};
use scim_prepare::{Note, PrepareOptions};
use scim_sync::matching::{Identity, Unmatched};
use scim_sync::plan::PlanWarning;
use scim_sync::{Change, CurrentState, Plan};
use serde::Serialize;

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

/// One person's story, section by section; printed as `section: line`, or
/// as JSON with `--output json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Explanation {
    pub email: String,
    pub source: Vec<String>,
    pub prepare: Vec<String>,
    pub prepared: Vec<String>,
    #[serde(rename = "timecamp")]
    pub timecamp: Vec<String>,
    pub plan: Vec<String>,
}

impl Explanation {
    /// The text `sync-users --explain` prints.
    pub fn text(&self) -> String {
        let mut out = format!("== {}\n", self.email);
        for (section, lines) in [
            ("source", &self.source),
            ("prepare", &self.prepare),
            ("prepared", &self.prepared),
            ("TimeCamp", &self.timecamp),
            ("plan", &self.plan),
        ] {
            for line in lines {
                let _ = writeln!(out, "{section}: {line}");
            }
        }
        out
    }
}

/// Whether prepare's note is about this very e-mail (its record label reads
/// `record #3 (ann@x.com, external_id E1)`): `ann@x.co` is not `ann@x.com`.
fn note_is_about(note: &Note, email: &str) -> bool {
    let label = note.record.to_lowercase();
    label.contains(&format!("({email},")) || label.contains(&format!("({email})"))
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
) -> Explanation {
    let mut out = Explanation {
        email: email.to_owned(),
        ..Explanation::default()
    };
    explain_source(&mut out, email, sources, options);
    for n in notes.iter().filter(|n| note_is_about(n, email)) {
        out.prepare.push(n.reason.to_string());
    }
    match prepared
        .iter()
        .find(|p| p.timecamp_email.trim().eq_ignore_ascii_case(email))
    {
        None => out
            .prepared
            .push("not in var/timecamp_users.json".to_owned()),
        Some(p) => out.prepared.push(format!(
            "{} as {:?} in {:?}, role {}",
            p.timecamp_status.as_str(),
            p.timecamp_user_name.as_deref().unwrap_or(""),
            p.timecamp_groups_breadcrumb.as_deref().unwrap_or(""),
            p.timecamp_role.map_or("user".to_owned(), |r| r.to_string())
        )),
    }
    let accounts = explain_timecamp(&mut out, email, current, plan);
    explain_plan(&mut out, email, &accounts, plan, current);
    out
}

/// The source records with this e-mail (or real e-mail), and what prepare
/// did to their department and supervisor chain.
fn explain_source(
    out: &mut Explanation,
    email: &str,
    sources: Option<&[SourceUser]>,
    options: &PrepareOptions,
) {
    let same = |e: Option<&str>| e.is_some_and(|e| e.trim().eq_ignore_ascii_case(email));
    let Some(sources) = sources else {
        out.source
            .push("var/users.json could not be read".to_owned());
        return;
    };
    let found: Vec<&SourceUser> = sources
        .iter()
        .filter(|s| same(s.email.as_deref()) || same(s.real_email.as_deref()))
        .collect();
    if found.is_empty() {
        out.source
            .push("no record in var/users.json has this e-mail".to_owned());
    }
    for s in found {
        out.source.push(format!(
            "external_id {:?}, name {:?}, department {:?}, job title {:?}, status {}, supervisor {:?}",
            s.external_id.as_deref().unwrap_or(""),
            s.name.as_deref().unwrap_or(""),
            s.department.as_deref().unwrap_or(""),
            s.job_title.as_deref().unwrap_or(""),
            s.status.map_or("(none)", |st| st.as_str()),
            s.supervisor_id.as_deref().unwrap_or("")
        ));
        let department = scim_groups::normalise_path(s.department.as_deref().unwrap_or(""));
        let cleaned = options.skip_departments.clean_path(&department);
        if cleaned != department {
            out.prepare.push(format!(
                "department {department:?} -> {cleaned:?}: TIMECAMP_SKIP_DEPARTMENTS removes the prefix"
            ));
        }
        if options.mode != GroupMode::Department {
            let above = chain(s, sources);
            out.prepare.push(format!(
                "supervisor chain (the supervisor groups): {}",
                if above.is_empty() {
                    "none, top level".to_owned()
                } else {
                    above.join(" -> ")
                }
            ));
        }
    }
}

/// One TimeCamp account as `--explain` describes it.
fn describe(current: &CurrentState, id: u64) -> String {
    match current.users.iter().find(|u| u.id == id) {
        Some(u) => format!(
            "user {} ({}), {}, group {}{}{}",
            u.id,
            u.email,
            if u.enabled { "enabled" } else { "disabled" },
            u.group_id,
            u.external_id
                .as_deref()
                .map(|x| format!(", external id {x:?}"))
                .unwrap_or_default(),
            if current.is_owner(u.id) {
                ", holds the API key"
            } else {
                ""
            }
        ),
        None => format!("user {id}"),
    }
}

/// Who the person is in TimeCamp, as the matching decided; returns the
/// accounts the story is about.
fn explain_timecamp(
    out: &mut Explanation,
    email: &str,
    current: &CurrentState,
    plan: &Plan,
) -> Vec<u64> {
    match plan.identities.person(email).map(|p| &p.identity) {
        Some(Identity::Account { id, by, .. }) => {
            out.timecamp
                .push(format!("{}, matched by {by}", describe(current, *id)));
            vec![*id]
        }
        Some(Identity::New { after }) => {
            out.timecamp.push(match after {
                Some(holder) => format!(
                    "no account; a new one, once TimeCamp user {holder} has given up the address"
                ),
                None => "no account with this e-mail or external id; a new one".to_owned(),
            });
            Vec::new()
        }
        Some(Identity::HeldBack(reason)) => {
            out.timecamp.push(format!("held back: {reason}"));
            let accounts = reason.accounts();
            for id in &accounts {
                out.timecamp.push(describe(current, *id));
            }
            accounts
        }
        None => explain_accounts_of(out, email, current, plan),
    }
}

/// For an e-mail no active record has: the accounts with it, and what each
/// is to the source.
fn explain_accounts_of(
    out: &mut Explanation,
    email: &str,
    current: &CurrentState,
    plan: &Plan,
) -> Vec<u64> {
    let accounts: Vec<u64> = current
        .users
        .iter()
        .filter(|u| {
            u.email.trim().eq_ignore_ascii_case(email)
                || u.additional_email
                    .as_deref()
                    .is_some_and(|a| a.trim().eq_ignore_ascii_case(email))
        })
        .map(|u| u.id)
        .collect();
    if accounts.is_empty() {
        out.timecamp.push("no user with this e-mail".to_owned());
    }
    for id in &accounts {
        let fate = match plan.identities.unmatched.get(id) {
            Some(Unmatched::HeldBack(people)) => {
                format!("part of the held-back case of {}", people.join(", "))
            }
            Some(Unmatched::IdOf(of)) => {
                format!("carries the external id of {of}, who is in the source")
            }
            Some(Unmatched::EmailOf(of)) => format!("has the e-mail of {of}"),
            Some(Unmatched::Inactive) => "inactive in the source".to_owned(),
            Some(Unmatched::NotInSource) => {
                "not matched by an active record: not in the source".to_owned()
            }
            None => match plan.identities.owner_of(*id) {
                Some(p) => format!("the account of {}", p.email),
                None => "not matched by an active record".to_owned(),
            },
        };
        out.timecamp
            .push(format!("{}; {fate}", describe(current, *id)));
    }
    accounts
}

/// The planned changes, or why there are none, and what the plan notes about them.
fn explain_plan(
    out: &mut Explanation,
    email: &str,
    accounts: &[u64],
    plan: &Plan,
    current: &CurrentState,
) {
    let mine: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| match c {
            Change::CreateUser(new) => new.email.eq_ignore_ascii_case(email),
            other => other.user().is_some_and(|u| accounts.contains(&u.id)),
        })
        .collect();
    for c in &mine {
        if matches!(c, Change::ResetAddedManually { .. }) {
            // The journal's `new` names TimeCamp's setting; people read what it does.
            out.plan.push(format!(
                "{}: {}",
                c.kind(),
                scim_sync::plan::MANAGED_FROM_NOW_ON
            ));
            continue;
        }
        let (old, new) = scim_sync::journal::old_and_new(c);
        out.plan.push(format!(
            "{}{}{}",
            c.kind(),
            old.map(|o| format!(": {o}")).unwrap_or_default(),
            new.map(|n| format!(" -> {n}")).unwrap_or_default()
        ));
    }
    for w in plan
        .warnings
        .iter()
        .filter(|w| warning_about(w, email, accounts))
    {
        out.plan.push(format!("note: {w}"));
    }
    if mine.is_empty() {
        out.plan.push(why_nothing(email, accounts, plan, current));
    }
}

/// Why the plan does nothing for this person: the first reason that holds,
/// in the words of the plan's text.
fn why_nothing(email: &str, accounts: &[u64], plan: &Plan, current: &CurrentState) -> String {
    let skipped = plan
        .skipped
        .iter()
        .find(|s| s.email == email || s.user_id.is_some_and(|id| accounts.contains(&id)));
    let unmatched = || {
        accounts
            .iter()
            .find_map(|id| plan.identities.unmatched.get(id))
    };
    let kept = plan.warnings.iter().find_map(|w| match w {
        PlanWarning::OwnerKept { id, .. } if accounts.contains(id) => Some(
            "it holds the API key (TIMECAMP_API_KEY): the sync never moves, demotes or disables \
             that account",
        ),
        PlanWarning::AdminKept { id, .. } if accounts.contains(id) => {
            Some("an administrator is not demoted while TIMECAMP_ALLOW_ADMIN_DEMOTION is off")
        }
        _ => None,
    });
    if let Some(h) = plan.held_back.iter().find(|h| h.email == email) {
        format!("nothing, held back: {}", h.reason)
    } else if let Some(s) = skipped {
        format!("nothing, {}", s.reason)
    } else if let Some(why) = kept {
        format!("nothing, left alone: {why}")
    } else if plan.unchanged.iter().any(|u| u == email) {
        "nothing, TimeCamp already matches".to_owned()
    } else if let Some(Unmatched::HeldBack(people)) = unmatched() {
        format!(
            "nothing, left alone with the held-back case of {}",
            people.join(", ")
        )
    } else if let Some(Unmatched::IdOf(of) | Unmatched::EmailOf(of)) = unmatched() {
        format!(
            "nothing, it looks like a second account of {of}, who is in the source; left enabled"
        )
    } else if accounts.is_empty() {
        "nothing: no active record and no TimeCamp user has this e-mail".to_owned()
    } else if current
        .users
        .iter()
        .filter(|u| accounts.contains(&u.id))
        .all(|u| !u.enabled)
    {
        "nothing, the account is disabled already and no active record matches it".to_owned()
    } else {
        "nothing".to_owned()
    }
}

/// Whether a plan warning is about this person or these accounts.
fn warning_about(w: &PlanWarning, email: &str, accounts: &[u64]) -> bool {
    match w {
        PlanWarning::EmailKept { id, .. }
        | PlanWarning::OwnerKept { id, .. }
        | PlanWarning::AdminKept { id, .. }
        | PlanWarning::DuplicateAccount { id, .. } => accounts.contains(id),
        PlanWarning::NotMoved { email: e, .. } | PlanWarning::NewUserInRoot { email: e, .. } => {
            e == email
        }
        _ => false,
    }
}
