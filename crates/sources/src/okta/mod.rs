//! fetch-okta: users from Okta's Users and Groups APIs with an API token
//! (`Authorization: SSWS …`).
//!
//! The population is the members of `OKTA_FILTER_GROUPS` / `OKTA_FILTER_GROUP_IDS`,
//! or every user in `OKTA_USER_STATUSES`; every page is read (`Link: <…>;
//! rel="next"`, followed only on the organisation's own host, so the token
//! never goes elsewhere) and the rate-limit headers are honoured, both by the
//! shared HTTP layer (`scim-http`). Which
//! profile fields hold the id, e-mail, name, department, title and manager is
//! configurable. Managers are linked by `OKTA_SUPERVISOR_MATCH_FIELD`;
//! managers outside the population are looked up and written as
//! `hierarchy_only`. The result is checked before anything is written: people
//! without id or e-mail, shared ids, manager references that lead nowhere,
//! manager cycles and (optionally) too many hierarchy roots stop the fetch
//! with a validation report saying what to repair in Okta.

//!
//! One file a job: `settings` reads the `OKTA_*` settings, `client` calls
//! the API (paged lists, the users of the chosen statuses), `groups` finds
//! groups and their members, `map` reads an Okta user through the
//! configured fields into a source record, `managers` links managers and
//! looks up those outside the population, `report` is the validation
//! report; [`fetch`] here runs them in that order.

#![warn(clippy::too_many_lines)]

mod client;
mod groups;
mod managers;
mod map;
mod report;
mod settings;
#[cfg(test)]
mod test_data;

use std::collections::{BTreeMap, HashSet};

use scim_model::{SourceUser, Status};
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::fields::text_of;

pub use managers::link_managers;
pub use map::{Mapped, map_user};
pub use report::{Checkpoint, Report, validate};
pub use settings::OktaSettings;

#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    #[error(transparent)]
    Http(#[from] scim_http::Error),
    #[error("{var}: Okta has no group named {name:?} (names are exact and case-sensitive)")]
    UnknownGroup { var: &'static str, name: String },
    #[error(
        "OKTA_SUPERVISOR_MATCH_FIELD: {field:?} is not unique: {value:?} belongs to more than one user, so a manager reference cannot be linked"
    )]
    NotUnique { field: String, value: String },
    #[error(
        "Okta data validation failed: {}. Fix the profile fields in Okta (the validation report above lists the people), then fetch again; var/users.json was left as it was",
        .0.join("; ")
    )]
    Validation(Vec<String>),
}

/// Reads the population, links managers (looking up those outside it) and
/// validates the result.
pub async fn fetch(s: &OktaSettings) -> Result<Vec<SourceUser>, OktaError> {
    let api = client::Api::new(s)?;
    let supervisors = api.supervisor_ids().await?;
    let population = api.population().await?;
    let Kept { mut users, missing } = keep(&population, s, &supervisors);
    info!(
        "Okta listed {} users; {} kept",
        population.len(),
        users.len()
    );
    let first = validate(&users, &missing, &BTreeMap::new(), s, Checkpoint::Mapped);
    if !first.reasons.is_empty() {
        first.log();
        return Err(OktaError::Validation(first.reasons));
    }
    let unresolved = managers::resolve_managers(&api, &mut users).await?;
    let report = validate(&users, &[], &unresolved, s, Checkpoint::Resolved);
    report.log();
    if !report.reasons.is_empty() {
        return Err(OktaError::Validation(report.reasons));
    }
    Ok(users)
}

/// The listed users that are fetched, mapped.
struct Kept {
    users: Vec<SourceUser>,
    /// Active people without a required field: they fail the validation.
    missing: Vec<Mapped>,
}

/// Leaves out, each with a line in the log, the users of other statuses or
/// of an excluded department, and inactive people without a required field.
fn keep(population: &[Value], s: &OktaSettings, supervisors: &HashSet<String>) -> Kept {
    let mut users = Vec::new();
    let mut missing = Vec::new();
    for u in population {
        let status = map::okta_status(u);
        let okta_id = text_of(u.get("id"));
        if !s.statuses.contains(&status) {
            debug!("left out Okta user {okta_id}: status {status} is not in OKTA_USER_STATUSES");
            continue;
        }
        let mapped = map_user(u, s, supervisors.contains(&okta_id));
        let department = mapped.user.department.clone().unwrap_or_default();
        if s.excluded_departments.contains(&department) {
            debug!("left out Okta user {okta_id}: in the excluded department {department:?}");
            continue;
        }
        if !mapped.missing.is_empty() {
            let fields: Vec<&str> = mapped.missing.iter().map(|(_, f)| f.as_str()).collect();
            if mapped.user.status == Some(Status::Active) {
                missing.push(mapped);
            } else {
                warn!(
                    "left out Okta user {okta_id} ({status}): no value in {}",
                    fields.join(", ")
                );
            }
            continue;
        }
        users.push(mapped.user);
    }
    Kept { users, missing }
}
