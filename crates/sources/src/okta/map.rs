//! An Okta user read through the configured fields, and the source record it
//! becomes.

use scim_model::{SourceUser, Status};
use serde_json::Value;

use super::OktaSettings;
use crate::fields::{text_of, value_at};

/// Okta's user statuses, and what each means for TimeCamp: people who are
/// employed but cannot sign in for now (locked out, password expired, in
/// recovery) stay active; suspended, deprovisioned and not yet activated
/// people are inactive.
pub(super) const STATUSES: &[(&str, Status)] = &[
    ("ACTIVE", Status::Active),
    ("LOCKED_OUT", Status::Active),
    ("PASSWORD_EXPIRED", Status::Active),
    ("RECOVERY", Status::Active),
    ("SUSPENDED", Status::Inactive),
    ("DEPROVISIONED", Status::Inactive),
    ("STAGED", Status::Inactive),
    ("PROVISIONED", Status::Inactive),
];

/// A field by its configured name: a dotted name is a path from the user's
/// root (`profile.employeeNumber`, `credentials.provider.type`), a plain name
/// a profile attribute.
pub(super) fn resolve<'v>(user: &'v Value, field: &str) -> Option<&'v Value> {
    if field.contains('.') {
        value_at(user, field)
    } else {
        user.get("profile").and_then(|p| p.get(field))
    }
}

/// An identifying field as text: `id` (or nothing configured) is Okta's own
/// user id, anything else a field as [`resolve`] finds it.
pub(super) fn resolve_id(user: &Value, field: &str) -> String {
    if field.is_empty() || field == "id" {
        text_of(user.get("id"))
    } else {
        text_of(resolve(user, field))
    }
}

/// The manager reference of a user: the field's text, or the `id` of an object.
pub(super) fn reference(user: &Value, field: &str) -> String {
    match resolve(user, field) {
        Some(Value::Object(o)) => text_of(o.get("id")),
        other => text_of(other),
    }
}

/// Match values compare trimmed, and without case for e-mails and logins.
pub(super) fn normalize(field: &str, value: &str) -> String {
    let last = field.rsplit('.').next().unwrap_or(field).to_lowercase();
    if last == "email" || last == "login" {
        value.trim().to_lowercase()
    } else {
        value.trim().to_owned()
    }
}

pub(super) fn okta_status(user: &Value) -> String {
    text_of(user.get("status")).to_uppercase()
}

/// A user mapped to a source record, with the required fields it lacks.
#[derive(Debug)]
pub struct Mapped {
    pub user: SourceUser,
    /// `(schema field, Okta field)` pairs that are blank.
    pub missing: Vec<(&'static str, String)>,
}

/// Maps an Okta user (`role` when a supervisor group holds them).
pub fn map_user(u: &Value, s: &OktaSettings, supervisor_group_member: bool) -> Mapped {
    let profile = |k: &str| text_of(resolve(u, k));
    let mut name = text_of(resolve(u, &s.name_field));
    if name.is_empty() {
        name = format!("{} {}", profile("firstName"), profile("lastName"))
            .trim()
            .to_owned();
    }
    if name.is_empty() {
        name = ["email", "login"]
            .iter()
            .map(|k| profile(k))
            .find(|v| !v.is_empty())
            .unwrap_or_default();
    }
    let configured_email = text_of(resolve(u, &s.email_field));
    let email = if configured_email.is_empty() {
        profile("login")
    } else {
        configured_email.clone()
    };
    let external_id = resolve_id(u, &s.external_id_field);
    let mut missing = Vec::new();
    if external_id.is_empty() {
        missing.push(("external_id", s.external_id_field.clone()));
    }
    if configured_email.is_empty() {
        missing.push(("email", s.email_field.clone()));
    }
    let okta = okta_status(u);
    let status = STATUSES
        .iter()
        .find(|(n, _)| *n == okta)
        .map(|(_, st)| *st)
        .unwrap_or(Status::Inactive);
    let user = SourceUser {
        external_id: Some(external_id),
        name: Some(name),
        email: Some(email.to_lowercase()),
        department: Some(text_of(resolve(u, &s.department_field))),
        job_title: Some(text_of(resolve(u, &s.job_title_field))),
        status: Some(status),
        supervisor_id: Some(reference(u, &s.supervisor_id_field)),
        is_supervisor: Some(Box::new(Value::Bool(
            s.supervisor_rule
                .as_ref()
                .is_some_and(|r| r.matches(resolve(u, &r.field))),
        ))),
        role_id: supervisor_group_member.then(|| "2".to_owned()),
        ..SourceUser::default()
    }
    .with_raw_data(u.clone());
    Mapped { user, missing }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::test_data::{okta_user, settings};

    #[test]
    fn users_map_with_configured_fields_and_statuses() {
        let s = settings(&[("OKTA_EXTERNAL_ID_FIELD", "employeeNumber")]);
        let m = map_user(&okta_user("00u1", "LOCKED_OUT", "E1", "E9"), &s, true);
        assert!(m.missing.is_empty());
        let u = m.user;
        assert_eq!(u.external_id.as_deref(), Some("E1"));
        assert_eq!(u.email.as_deref(), Some("00u1@acme.com"));
        assert_eq!(u.name.as_deref(), Some("First 00u1"));
        assert_eq!(u.status, Some(Status::Active), "locked out, still employed");
        assert_eq!(u.supervisor_id.as_deref(), Some("E9"));
        assert_eq!(u.role_id.as_deref(), Some("2"));
        assert_eq!(u.job_title.as_deref(), Some(""));
        let suspended = map_user(&okta_user("00u2", "SUSPENDED", "E2", ""), &s, false).user;
        assert_eq!(suspended.status, Some(Status::Inactive));
        assert_eq!(suspended.role_id, None);

        let mut blank = okta_user("00u3", "ACTIVE", "", "");
        blank["profile"]["email"] = Value::Null;
        let m = map_user(&blank, &s, false);
        assert_eq!(
            m.user.email.as_deref(),
            Some("00u3@acme.com"),
            "login fallback"
        );
        assert_eq!(
            m.missing,
            [
                ("external_id", "employeeNumber".to_owned()),
                ("email", "email".to_owned())
            ]
        );
    }

    #[test]
    fn dotted_fields_read_from_the_users_root() {
        let s = settings(&[
            ("OKTA_EXTERNAL_ID_FIELD", "profile.employeeNumber"),
            ("OKTA_NAME_FIELD", "profile.lastName"),
        ]);
        let u = map_user(&okta_user("00u1", "ACTIVE", "E1", ""), &s, false).user;
        assert_eq!(u.external_id.as_deref(), Some("E1"));
        assert_eq!(
            u.name.as_deref(),
            Some("00u1"),
            "a dotted name field works too"
        );
    }
}
