//! The pushed population as a source: the records of `var/users.json` that
//! prepare reads, one per pushed user, deleted ones included (inactive).
//!
//! The rules, stated once:
//! - e-mail: the `userName` when it is an e-mail address; else the primary
//!   e-mail, else the work e-mail, else the first; else none (prepare leaves
//!   the person out, and says so);
//! - name: `displayName`, else `name.formatted`, else given and family name;
//! - external id: `externalId`, else the endpoint's own id of the user;
//! - status: inactive when `active` is false or the user was deleted;
//!   active otherwise (a user the provider pushed without `active` is one it
//!   assigned);
//! - job title: `title`; supervisor: the external id of the user that
//!   `manager.value` names;
//! - department (the TimeCamp group path): the enterprise `department`, or
//!   with pushed groups the `displayName` of the user's group; for a user in
//!   several groups, the name that sorts first without regard to case
//!   (then exactly), so the result does not depend on the order of anything
//!   the provider sent. Only direct membership counts.
//!
//! Records are sorted by e-mail, then id, so the file diffs cleanly.

use std::fmt;

use scim_model::{SourceUser, Status, email_problem};
use serde_json::{Map, Value, json};

use crate::population::{Population, Stored};
use crate::schema::ENTERPRISE_URN;

/// Where a user's TimeCamp group comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSource {
    /// The enterprise extension's `department` (and the manager, in the
    /// supervisor modes of prepare).
    Department,
    /// The pushed groups the user is a member of.
    Groups,
}

/// Something a derived record could not say as the provider meant it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Neither the `userName` nor any e-mail is an e-mail address.
    NoEmail { id: String, user_name: String },
    /// `manager.value` names no pushed user.
    UnknownManager { user: String, manager: String },
    /// In several pushed groups; `chosen` is the group used.
    SeveralGroups {
        user: String,
        groups: Vec<String>,
        chosen: String,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::NoEmail { id, user_name } => write!(
                f,
                "user {id} ({user_name}): neither the userName nor an e-mail is an e-mail address; \
                 prepare leaves them out"
            ),
            Note::UnknownManager { user, manager } => write!(
                f,
                "{user}: the manager {manager} is not a pushed user; no supervisor is written"
            ),
            Note::SeveralGroups {
                user,
                groups,
                chosen,
            } => write!(
                f,
                "{user} is in {} pushed groups ({}); TimeCamp has one group per user: {chosen:?}, \
                 the first by name",
                groups.len(),
                groups.join(", ")
            ),
        }
    }
}

/// The records of `var/users.json`, and what could not be said as meant.
#[derive(Debug, Default)]
pub struct Derived {
    pub users: Vec<SourceUser>,
    pub notes: Vec<Note>,
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The e-mail TimeCamp will know the user by.
fn email(row: &Stored) -> Option<String> {
    email_of(&row.attributes)
}

/// The e-mail TimeCamp will know a user with these attributes by.
pub(crate) fn email_of(attributes: &Map<String, Value>) -> Option<String> {
    let usable = |s: &str| email_problem(s).is_none();
    if let Some(name) = text(attributes.get("userName")).filter(|n| usable(n)) {
        return Some(name.to_owned());
    }
    let emails: Vec<&Value> = attributes
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let pick = |f: &dyn Fn(&&Value) -> bool| {
        emails
            .iter()
            .filter(|e| f(e))
            .filter_map(|e| text(e.get("value")))
            .find(|v| usable(v))
    };
    pick(&|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| pick(&|e| e.get("type").and_then(Value::as_str) == Some("work")))
        .or_else(|| pick(&|_| true))
        .map(str::to_owned)
}

fn name(row: &Stored) -> Option<String> {
    let a = &row.attributes;
    if let Some(n) = text(a.get("displayName")) {
        return Some(n.to_owned());
    }
    let parts = a.get("name");
    if let Some(f) = text(parts.and_then(|n| n.get("formatted"))) {
        return Some(f.to_owned());
    }
    let joined: Vec<&str> = ["givenName", "familyName"]
        .iter()
        .filter_map(|k| text(parts.and_then(|n| n.get(*k))))
        .collect();
    (!joined.is_empty()).then(|| joined.join(" "))
}

fn external_id(row: &Stored) -> String {
    row.external_id().unwrap_or(&row.id).to_owned()
}

fn enterprise<'a>(row: &'a Stored, key: &str) -> Option<&'a Value> {
    row.attributes.get(ENTERPRISE_URN).and_then(|e| e.get(key))
}

/// The records of `var/users.json` for the population.
pub fn source_users(pop: &Population, groups: GroupSource) -> Derived {
    let mut out = Derived::default();
    for row in pop.users() {
        let email = email(row);
        let who = email.clone().unwrap_or_else(|| format!("user {}", row.id));
        if email.is_none() {
            out.notes.push(Note::NoEmail {
                id: row.id.clone(),
                user_name: row.user_name().unwrap_or_default().to_owned(),
            });
        }
        let active = row.deleted.is_none()
            && row.attributes.get("active").and_then(Value::as_bool) != Some(false);
        let supervisor_id = match text(enterprise(row, "manager").and_then(|m| m.get("value"))) {
            None => None,
            Some(m) => match pop.user(m) {
                Some(manager) => Some(external_id(manager)),
                None => {
                    out.notes.push(Note::UnknownManager {
                        user: who.clone(),
                        manager: m.to_owned(),
                    });
                    None
                }
            },
        };
        let department = match groups {
            GroupSource::Department => text(enterprise(row, "department")).map(str::to_owned),
            GroupSource::Groups => {
                let mut names = pop.group_names_of(&row.id);
                names.sort_by(|a, b| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b)));
                names.dedup();
                if names.len() > 1 {
                    out.notes.push(Note::SeveralGroups {
                        user: who.clone(),
                        groups: names.iter().map(|s| (*s).to_owned()).collect(),
                        chosen: names[0].to_owned(),
                    });
                }
                names.first().map(|s| (*s).to_owned())
            }
        };
        let mut raw = row.attributes.clone();
        raw.insert("id".into(), json!(row.id));
        if let Some(deleted) = &row.deleted {
            raw.insert("deleted".into(), json!(deleted));
        }
        out.users.push(
            SourceUser {
                external_id: Some(external_id(row)),
                name: name(row),
                email,
                department,
                job_title: text(row.attributes.get("title")).map(str::to_owned),
                status: Some(if active {
                    Status::Active
                } else {
                    Status::Inactive
                }),
                supervisor_id,
                ..Default::default()
            }
            .with_raw_data(Value::Object(raw)),
        );
    }
    out.users.sort_by(|a, b| {
        let key = |u: &SourceUser| {
            (
                u.email.as_deref().map(str::to_lowercase),
                u.raw_data()
                    .and_then(|r| r.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
        };
        key(a).cmp(&key(b))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{Stamp, tests as pt};
    use crate::schema::{GROUP_URN, Kind};

    fn stamp(next: &mut dyn FnMut() -> String) -> Stamp<'_> {
        Stamp {
            now: "2026-01-01T00:00:00Z",
            new_id: next,
        }
    }

    #[test]
    fn a_pushed_user_becomes_the_record_a_fetcher_would_write() {
        let mut pop = Population::default();
        let mut next = pt::ids();
        let boss = pt::add_user(
            &mut pop,
            &mut next,
            "boss@x.com",
            json!({"externalId": "E-B"}),
        );
        pt::add_user(
            &mut pop,
            &mut next,
            "Ann@X.com",
            json!({
                "externalId": "E-A", "displayName": "Ann Smith", "title": "Engineer", "active": "True",
                ENTERPRISE_URN: {"department": "R&D/Platform", "manager": {"value": boss}},
            }),
        );
        let d = source_users(&pop, GroupSource::Department);
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        let ann = &d.users[0];
        assert_eq!(ann.email.as_deref(), Some("Ann@X.com"));
        assert_eq!(ann.name.as_deref(), Some("Ann Smith"));
        assert_eq!(ann.external_id.as_deref(), Some("E-A"));
        assert_eq!(ann.department.as_deref(), Some("R&D/Platform"));
        assert_eq!(ann.job_title.as_deref(), Some("Engineer"));
        assert_eq!(ann.supervisor_id.as_deref(), Some("E-B"));
        assert_eq!(ann.status, Some(Status::Active));
        assert_eq!(ann.raw_data().unwrap()["id"], "id-2");
    }

    #[test]
    fn e_mail_name_and_id_fall_back_in_the_stated_order() {
        let mut pop = Population::default();
        let mut next = pt::ids();
        pt::add_user(
            &mut pop,
            &mut next,
            "jdoe",
            json!({"name": {"givenName": "Jo", "familyName": "Doe"}, "emails": [
                {"value": "home@y.org", "type": "home"}, {"value": "jo@x.com", "type": "work"}]}),
        );
        pt::add_user(&mut pop, &mut next, "nobody", json!({"active": false}));
        let d = source_users(&pop, GroupSource::Department);
        let jo = d
            .users
            .iter()
            .find(|u| u.email.as_deref() == Some("jo@x.com"))
            .unwrap();
        assert_eq!(jo.name.as_deref(), Some("Jo Doe"));
        assert_eq!(
            jo.external_id.as_deref(),
            Some("id-1"),
            "no externalId: the endpoint's id"
        );
        let nobody = d.users.iter().find(|u| u.email.is_none()).unwrap();
        assert_eq!(nobody.status, Some(Status::Inactive));
        assert_eq!(
            d.notes,
            vec![Note::NoEmail {
                id: "id-2".into(),
                user_name: "nobody".into()
            }]
        );
    }

    #[test]
    fn with_pushed_groups_the_first_by_name_wins_whatever_the_push_order() {
        let run = |order: [&str; 3]| {
            let mut pop = Population::default();
            let mut next = pt::ids();
            let ann = pt::add_user(&mut pop, &mut next, "ann@x.com", json!({}));
            for name in order {
                pop.create(
                    Kind::Group,
                    &json!({"schemas": [GROUP_URN], "displayName": name, "members": [{"value": ann}]}),
                    stamp(&mut next),
                )
                .unwrap();
            }
            source_users(&pop, GroupSource::Groups)
        };
        let a = run(["sales", "Engineering", "Zoo"]);
        let b = run(["Zoo", "sales", "Engineering"]);
        assert_eq!(a.users[0].department.as_deref(), Some("Engineering"));
        assert_eq!(b.users[0].department, a.users[0].department);
        assert_eq!(a.notes.len(), 1);
        assert!(
            a.notes[0].to_string().contains("3 pushed groups"),
            "{}",
            a.notes[0]
        );
    }

    #[test]
    fn deleted_users_stay_as_inactive_records() {
        let mut pop = Population::default();
        let mut next = pt::ids();
        let ann = pt::add_user(&mut pop, &mut next, "ann@x.com", json!({}));
        let bob = pt::add_user(
            &mut pop,
            &mut next,
            "bob@x.com",
            json!({ENTERPRISE_URN: {"manager": "gone"}}),
        );
        pop.delete(Kind::User, &ann, "2026-02-01T00:00:00Z")
            .unwrap();
        let d = source_users(&pop, GroupSource::Department);
        assert_eq!(d.users[0].status, Some(Status::Inactive));
        assert_eq!(
            d.users[0].raw_data().unwrap()["deleted"],
            "2026-02-01T00:00:00Z"
        );
        assert_eq!(d.users[1].status, Some(Status::Active));
        assert_eq!(
            d.notes,
            vec![Note::UnknownManager {
                user: "bob@x.com".into(),
                manager: "gone".into()
            }]
        );
        let _ = bob;
    }
}
