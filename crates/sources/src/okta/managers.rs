//! Managers: each record's manager reference linked to the manager's
//! external id by `OKTA_SUPERVISOR_MATCH_FIELD`, and managers outside the
//! population looked up in Okta and added as `hierarchy_only` records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use scim_model::SourceUser;
use serde_json::Value;
use tracing::warn;

use super::client::Api;
use super::map::{map_user, normalize, reference, resolve_id};
use super::{OktaError, OktaSettings};

/// Links each record's manager reference to the manager's external id.
/// Returns the references no record matches, each with its direct reports'
/// positions.
pub fn link_managers(
    users: &mut [SourceUser],
    s: &OktaSettings,
) -> Result<BTreeMap<String, Vec<usize>>, OktaError> {
    let field = &s.supervisor_match_field;
    let mut index: HashMap<String, String> = HashMap::new();
    for u in users.iter() {
        let (Some(raw), Some(id)) = (u.raw_data(), u.external_id.as_deref()) else {
            continue;
        };
        let value = normalize(field, &resolve_id(raw, field));
        if id.is_empty() || value.is_empty() {
            continue;
        }
        match index.get(&value) {
            Some(other) if other != id => {
                return Err(OktaError::NotUnique {
                    field: field.clone(),
                    value,
                });
            }
            _ => {
                index.insert(value, id.to_owned());
            }
        }
    }
    let mut unresolved: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, u) in users.iter_mut().enumerate() {
        let Some(raw) = u.raw_data() else { continue };
        let reference = reference(raw, &s.supervisor_id_field);
        u.supervisor_id = Some(if reference.is_empty() {
            String::new()
        } else if let Some(id) = index.get(&normalize(field, &reference)) {
            id.clone()
        } else {
            unresolved.entry(reference.clone()).or_default().push(i);
            reference
        });
    }
    Ok(unresolved)
}

/// Links the managers, looking up in Okta each one outside `users` (and,
/// in turn, their managers) and adding those found as `hierarchy_only`.
/// Returns the references that stay unresolved, as [`link_managers`].
pub(super) async fn resolve_managers(
    api: &Api<'_>,
    users: &mut Vec<SourceUser>,
) -> Result<BTreeMap<String, Vec<usize>>, OktaError> {
    let s = api.s;
    let mut not_found: BTreeSet<String> = BTreeSet::new();
    let mut unresolved = link_managers(users, s)?;
    loop {
        let wanted: Vec<String> = unresolved
            .keys()
            .filter(|r| !not_found.contains(*r))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return Ok(unresolved);
        }
        for reference in wanted {
            match api.find_manager(&reference).await? {
                None => {
                    warn!(
                        "manager {reference:?} is not in Okta (by {})",
                        s.supervisor_match_field
                    );
                    not_found.insert(reference);
                }
                Some(found) => {
                    let manager = map_user(&found, s, false).user;
                    if manager.external_id.as_deref().unwrap_or("").is_empty() {
                        warn!(
                            "Could not link manager {reference:?}: their {} is empty",
                            s.external_id_field
                        );
                        not_found.insert(reference);
                    } else {
                        users.push(manager.into_hierarchy_only());
                    }
                }
            }
        }
        unresolved = link_managers(users, s)?;
    }
}

impl Api<'_> {
    /// The user whose match field holds `reference`, if exactly one does.
    async fn find_manager(&self, reference: &str) -> Result<Option<Value>, OktaError> {
        let field = &self.s.supervisor_match_field;
        let wanted = normalize(field, reference);
        let matches = |u: &Value| normalize(field, &resolve_id(u, field)) == wanted;
        if ["", "id", "login", "profile.login"].contains(&field.as_str()) {
            let mut url = self.url("api/v1/users/", &[])?;
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().push(reference);
            }
            // Okta also finds users by a login's short name; only an exact match links.
            return Ok(self
                .user(url, &format!("manager {reference:?}"))
                .await?
                .filter(|u| matches(u)));
        }
        let path = if field.contains('.') {
            field.clone()
        } else {
            format!("profile.{field}")
        };
        let value = reference.replace('\\', "\\\\").replace('"', "\\\"");
        let url = self.url(
            "api/v1/users",
            &[
                ("limit", "2".into()),
                ("search", format!("{path} eq \"{value}\"")),
            ],
        )?;
        let found: Vec<Value> = self
            .all(url, &format!("manager {reference:?}"))
            .await?
            .into_iter()
            .filter(|u| matches(u))
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            _ => Err(OktaError::NotUnique {
                field: field.clone(),
                value: reference.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::test_data::{okta_user, settings};
    use serde_json::json;

    #[test]
    fn managers_link_by_the_match_field_without_case_for_emails() {
        let s = settings(&[
            ("OKTA_EXTERNAL_ID_FIELD", "employeeNumber"),
            ("OKTA_SUPERVISOR_ID_FIELD", "managerEmail"),
            ("OKTA_SUPERVISOR_MATCH_FIELD", "email"),
        ]);
        let mut boss = okta_user("00ub", "ACTIVE", "E1", "");
        boss["profile"]["email"] = json!("Boss@Acme.com");
        let mut worker = okta_user("00uw", "ACTIVE", "E2", "");
        worker["profile"]["managerEmail"] = json!(" boss@acme.COM ");
        let mut orphan = okta_user("00uo", "ACTIVE", "E3", "");
        orphan["profile"]["managerEmail"] = json!("gone@acme.com");
        let mut users: Vec<SourceUser> = [boss, worker, orphan]
            .iter()
            .map(|u| map_user(u, &s, false).user)
            .collect();
        let unresolved = link_managers(&mut users, &s).unwrap();
        assert_eq!(users[1].supervisor_id.as_deref(), Some("E1"));
        assert_eq!(unresolved.keys().collect::<Vec<_>>(), ["gone@acme.com"]);
        assert_eq!(unresolved["gone@acme.com"], [2]);
    }

    #[test]
    fn a_match_value_two_people_share_cannot_link() {
        let s = settings(&[
            ("OKTA_EXTERNAL_ID_FIELD", "employeeNumber"),
            ("OKTA_SUPERVISOR_MATCH_FIELD", "department"),
        ]);
        let mut users: Vec<SourceUser> = [
            okta_user("a", "ACTIVE", "E1", ""),
            okta_user("b", "ACTIVE", "E2", ""),
        ]
        .iter()
        .map(|u| map_user(u, &s, false).user)
        .collect();
        assert!(matches!(
            link_managers(&mut users, &s),
            Err(OktaError::NotUnique { .. })
        ));
    }
}
