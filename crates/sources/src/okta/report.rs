//! The validation report: what must be repaired in Okta before anything is
//! written (people without id or e-mail, shared ids, manager references that
//! lead nowhere, manager cycles, too many hierarchy roots), as JSON for the
//! log and as reasons for the error.

use std::collections::{BTreeMap, HashSet};

use scim_model::SourceUser;
use serde_json::{Value, json};
use tracing::{error, info};

use super::OktaSettings;
use super::map::Mapped;
use crate::fields::{text_of, value_at};

/// The checks of a validation pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// After mapping, before managers are looked up.
    Mapped,
    /// After manager resolution: everything, the root limit included.
    Resolved,
}

/// What the checks found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub json: Value,
    /// Why it failed; empty when it passed.
    pub reasons: Vec<String>,
}

impl Report {
    /// The report as one log line: an error when it failed.
    pub(super) fn log(&self) {
        let line = serde_json::to_string(&self.json).unwrap_or_default();
        if self.reasons.is_empty() {
            info!("Okta validation: {line}");
        } else {
            error!("Okta validation: {line}");
        }
    }
}

fn person(u: &SourceUser) -> Value {
    let raw = u.raw_data();
    json!({
        "email": u.email.clone().unwrap_or_default(),
        "external_id": u.external_id.clone().unwrap_or_default(),
        "login": text_of(raw.and_then(|r| value_at(r, "profile.login"))),
        "name": u.name.clone().unwrap_or_default(),
        "okta_user_id": text_of(raw.and_then(|r| r.get("id"))),
    })
}

fn id_of(u: &SourceUser) -> String {
    u.external_id.clone().unwrap_or_default().trim().to_owned()
}

/// Who holds each external id, and so who manages whom.
struct Chart<'u> {
    users: &'u [SourceUser],
    /// Each non-blank external id and the positions of the records with it.
    holders: BTreeMap<String, Vec<usize>>,
}

impl<'u> Chart<'u> {
    fn new(users: &'u [SourceUser]) -> Self {
        let mut holders: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, u) in users.iter().enumerate() {
            let id = id_of(u);
            if !id.is_empty() {
                holders.entry(id).or_default().push(i);
            }
        }
        Chart { users, holders }
    }

    fn manager_of(&self, i: usize) -> Option<usize> {
        let boss = self.users[i].supervisor_id.as_deref().unwrap_or("").trim();
        self.holders.get(boss).map(|at| at[0])
    }

    /// The ids more than one record holds, with those records.
    fn duplicates(&self) -> Vec<Value> {
        self.holders
            .iter()
            .filter(|(_, at)| at.len() > 1)
            .map(|(id, at)| json!({"external_id": id, "users": at.iter().map(|&i| person(&self.users[i])).collect::<Vec<_>>()}))
            .collect()
    }

    /// The manager cycles of several people, and the people who manage
    /// themselves. Walks up the chain from each id, each record visited once
    /// overall.
    fn cycles(&self) -> (Vec<Value>, Vec<Value>) {
        let mut done: HashSet<usize> = HashSet::new();
        let (mut cycles, mut self_managed) = (Vec::new(), Vec::new());
        for at in self.holders.values() {
            let mut walk: Vec<usize> = Vec::new();
            let mut current = Some(at[0]);
            while let Some(i) = current {
                if let Some(pos) = walk.iter().position(|&w| w == i) {
                    let ring: Vec<Value> = walk[pos..]
                        .iter()
                        .map(|&w| person(&self.users[w]))
                        .collect();
                    if ring.len() == 1 {
                        self_managed.extend(ring);
                    } else {
                        cycles.push(Value::Array(ring));
                    }
                    break;
                }
                if !done.insert(i) {
                    break;
                }
                walk.push(i);
                current = self.manager_of(i);
            }
        }
        (cycles, self_managed)
    }

    /// The tops of the hierarchy: managers (of someone in the data) whose
    /// own manager is nobody, themselves, or someone outside the population;
    /// each id once, in id order.
    fn roots(&self) -> Vec<Value> {
        let users = self.users;
        let is_manager: HashSet<&str> = users
            .iter()
            .filter_map(|u| u.supervisor_id.as_deref().map(str::trim))
            .filter(|b| !b.is_empty())
            .collect();
        let mut roots: Vec<(String, Value)> = users
            .iter()
            .enumerate()
            .filter(|(_, u)| !u.is_hierarchy_only() && is_manager.contains(id_of(u).as_str()))
            .filter(|(i, u)| match self.manager_of(*i) {
                None => true,
                Some(m) => m == *i || users[m].is_hierarchy_only() || id_of(u) == id_of(&users[m]),
            })
            .map(|(_, u)| (id_of(u), person(u)))
            .collect();
        roots.sort_by(|a, b| a.0.cmp(&b.0));
        roots.dedup_by(|a, b| a.0 == b.0);
        roots.into_iter().map(|(_, p)| p).collect()
    }
}

/// What a validation pass found, before it becomes a report.
struct Findings {
    missing: usize,
    duplicates: usize,
    /// Counted only after resolution.
    unresolved: usize,
    cycles: usize,
    roots: usize,
    /// Set only when the limit was exceeded.
    root_limit_exceeded: Option<u64>,
}

impl Findings {
    /// Why the pass failed; empty when it passed.
    fn reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.missing > 0 {
            reasons.push(format!(
                "{} active user(s) missing external ID or email",
                self.missing
            ));
        }
        if self.duplicates > 0 {
            reasons.push(format!(
                "{} duplicate external ID value(s)",
                self.duplicates
            ));
        }
        if self.unresolved > 0 {
            reasons.push(format!(
                "{} unresolved manager reference(s)",
                self.unresolved
            ));
        }
        if self.cycles > 0 {
            reasons.push(format!("{} multi-user manager cycle(s)", self.cycles));
        }
        if let Some(limit) = self.root_limit_exceeded {
            reasons.push(format!(
                "{} hierarchy roots exceeds configured limit {limit}",
                self.roots
            ));
        }
        reasons
    }
}

/// Checks the records (hierarchy-only managers included). `missing` are
/// the active people without a required field, `unresolved` the manager
/// references nothing matched.
pub fn validate(
    users: &[SourceUser],
    missing: &[Mapped],
    unresolved: &BTreeMap<String, Vec<usize>>,
    s: &OktaSettings,
    checkpoint: Checkpoint,
) -> Report {
    let chart = Chart::new(users);
    let duplicates = chart.duplicates();
    // Before resolution references are raw; they only mean ids when the
    // match field is the id field.
    let check_cycles =
        checkpoint == Checkpoint::Resolved || s.supervisor_match_field == s.external_id_field;
    let (cycles, self_managed) = if check_cycles {
        chart.cycles()
    } else {
        (Vec::new(), Vec::new())
    };
    let roots = chart.roots();
    let limit = s.max_hierarchy_roots;
    let limit_exceeded =
        checkpoint == Checkpoint::Resolved && limit > 0 && roots.len() as u64 > limit;
    let reasons = Findings {
        missing: missing.len(),
        duplicates: duplicates.len(),
        unresolved: if checkpoint == Checkpoint::Resolved {
            unresolved.len()
        } else {
            0
        },
        cycles: cycles.len(),
        roots: roots.len(),
        root_limit_exceeded: limit_exceeded.then_some(limit),
    }
    .reasons();
    // Keys in alphabetical order, as the original's report.
    let json = json!({
        "configured_fields": {
            "email": s.email_field,
            "external_id": s.external_id_field,
            "supervisor_id": s.supervisor_id_field,
        },
        "cycles": cycles,
        "duplicate_external_ids": duplicates,
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        "hierarchy_roots": roots,
        "missing_required_fields": missing_json(missing),
        "provider": "okta",
        "repair_in_okta": [
            "Give every user a value in the external ID and e-mail fields named in configured_fields.",
            "Make every manager reference name an existing Okta user by the supervisor match field.",
            "Break manager cycles: somebody in each chain must report to a person outside it, or to nobody.",
        ],
        "root_limit": limit,
        "root_limit_exceeded": limit_exceeded,
        "self_managed_roots": self_managed,
        "status": if reasons.is_empty() { "passed" } else { "failed" },
        "unresolved_supervisors": unresolved_json(users, unresolved),
    });
    Report { json, reasons }
}

fn missing_json(missing: &[Mapped]) -> Vec<Value> {
    missing
        .iter()
        .map(|m| {
            let mut p = person(&m.user);
            p["missing_fields"] = m
                .missing
                .iter()
                .map(|(schema, okta)| json!({"okta_field": okta, "schema_field": schema}))
                .collect();
            p
        })
        .collect()
}

fn unresolved_json(users: &[SourceUser], unresolved: &BTreeMap<String, Vec<usize>>) -> Vec<Value> {
    unresolved
        .iter()
        .map(|(reference, reports)| {
            json!({
                "direct_reports": reports.iter().map(|&i| person(&users[i])).collect::<Vec<_>>(),
                "supervisor_reference": reference,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::link_managers;
    use crate::okta::map::map_user;
    use crate::okta::test_data::{okta_user, settings};

    fn linked(s: &OktaSettings, people: &[(&str, &str)]) -> Vec<SourceUser> {
        let mut users: Vec<SourceUser> = people
            .iter()
            .map(|(n, boss)| {
                map_user(&okta_user(&format!("00u{n}"), "ACTIVE", n, boss), s, false).user
            })
            .collect();
        link_managers(&mut users, s).unwrap();
        users
    }
    #[test]
    fn the_report_names_cycles_self_managed_roots_duplicates_and_roots() {
        let s = settings(&[
            ("OKTA_EXTERNAL_ID_FIELD", "employeeNumber"),
            ("OKTA_MAX_HIERARCHY_ROOTS", "1"),
        ]);
        let users = linked(
            &s,
            &[
                ("1", "1"),
                ("2", "1"),
                ("3", "4"),
                ("4", "3"),
                ("5", ""),
                ("6", "5"),
                ("7", ""),
            ],
        );
        let r = validate(&users, &[], &BTreeMap::new(), &s, Checkpoint::Resolved);
        assert_eq!(r.json["self_managed_roots"][0]["external_id"], "1");
        assert_eq!(r.json["cycles"].as_array().unwrap().len(), 1);
        let roots: Vec<&Value> = r.json["hierarchy_roots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["external_id"])
            .collect();
        assert_eq!(
            roots,
            [&json!("1"), &json!("5")],
            "7 has no reports: not a root"
        );
        assert_eq!(r.json["status"], "failed");
        assert_eq!(
            r.reasons,
            [
                "1 multi-user manager cycle(s)",
                "2 hierarchy roots exceeds configured limit 1"
            ]
        );

        let ok = linked(&s, &[("1", ""), ("2", "1")]);
        let r = validate(&ok, &[], &BTreeMap::new(), &s, Checkpoint::Resolved);
        assert!(r.reasons.is_empty());
        assert_eq!(r.json["status"], "passed");
        let keys: Vec<&String> = r.json.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "keys in alphabetical order");

        let dup = linked(&s, &[("1", ""), ("1", "")]);
        let r = validate(&dup, &[], &BTreeMap::new(), &s, Checkpoint::Mapped);
        assert_eq!(r.reasons, ["1 duplicate external ID value(s)"]);
        assert_eq!(
            r.json["duplicate_external_ids"][0]["users"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn unresolved_references_fail_only_after_resolution() {
        let s = settings(&[("OKTA_EXTERNAL_ID_FIELD", "employeeNumber")]);
        let mut users = linked(&s, &[("1", "9")]);
        let unresolved = link_managers(&mut users, &s).unwrap();
        assert!(
            validate(&users, &[], &unresolved, &s, Checkpoint::Mapped)
                .reasons
                .is_empty()
        );
        let r = validate(&users, &[], &unresolved, &s, Checkpoint::Resolved);
        assert_eq!(r.reasons, ["1 unresolved manager reference(s)"]);
        assert_eq!(
            r.json["unresolved_supervisors"][0]["supervisor_reference"],
            "9"
        );
        assert_eq!(
            r.json["unresolved_supervisors"][0]["direct_reports"][0]["external_id"],
            "1"
        );
    }
}
