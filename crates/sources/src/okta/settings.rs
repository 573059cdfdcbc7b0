//! The `OKTA_*` settings, read and checked once.

use std::time::Duration;

use scim_core::{ConfigError, Env, Secret};

use super::map::STATUSES;
use crate::fields::SupervisorRule;

/// The `OKTA_*` settings.
#[derive(Debug, Clone)]
pub struct OktaSettings {
    /// `OKTA_ORG_URL`, with a scheme and without a trailing `/`.
    pub org_url: String,
    pub token: Secret,
    pub statuses: Vec<String>,
    pub filter_groups: Vec<String>,
    pub filter_group_ids: Vec<String>,
    pub supervisor_groups: Vec<String>,
    pub excluded_departments: Vec<String>,
    pub external_id_field: String,
    pub email_field: String,
    pub name_field: String,
    pub department_field: String,
    pub job_title_field: String,
    pub supervisor_id_field: String,
    pub supervisor_match_field: String,
    pub supervisor_rule: Option<SupervisorRule>,
    /// 0: roots are reported, never a failure.
    pub max_hierarchy_roots: u64,
    pub timeout: Duration,
}

impl OktaSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.require("fetch-okta", &["OKTA_ORG_URL", "OKTA_API_TOKEN"])?;
        let org_url = org_url(env)?;
        let statuses = statuses(env)?;
        let field = |var: &str, default: &str| env.string(var, default);
        let external_id_field = field("OKTA_EXTERNAL_ID_FIELD", "id");
        let max_hierarchy_roots = max_hierarchy_roots(env)?;
        Ok(Self {
            org_url,
            token: Secret::new(env.string("OKTA_API_TOKEN", "")),
            statuses,
            filter_groups: env.list("OKTA_FILTER_GROUPS"),
            filter_group_ids: env.list("OKTA_FILTER_GROUP_IDS"),
            supervisor_groups: env.list("OKTA_SUPERVISOR_GROUPS"),
            excluded_departments: env.list("OKTA_EXCLUDED_DEPARTMENTS"),
            supervisor_match_field: field("OKTA_SUPERVISOR_MATCH_FIELD", &external_id_field),
            external_id_field,
            email_field: field("OKTA_EMAIL_FIELD", "email"),
            name_field: field("OKTA_NAME_FIELD", "displayName"),
            department_field: field("OKTA_DEPARTMENT_FIELD", "department"),
            job_title_field: field("OKTA_JOB_TITLE_FIELD", "title"),
            supervisor_id_field: field("OKTA_SUPERVISOR_ID_FIELD", "managerId"),
            supervisor_rule: SupervisorRule::from_setting(
                "OKTA_SUPERVISOR_RULE",
                env.get("OKTA_SUPERVISOR_RULE"),
                true,
                "field:value, e.g. title:Manager",
            )?,
            max_hierarchy_roots,
            timeout: Duration::from_secs(60),
        })
    }
}

/// `OKTA_ORG_URL`: the organisation's host may be given without a scheme
/// (acme.okta.com).
fn org_url(env: &Env) -> Result<String, ConfigError> {
    let given = env.string("OKTA_ORG_URL", "");
    let given = given.trim_end_matches('/');
    let org_url = if given.contains("://") {
        given.to_owned()
    } else {
        format!("https://{given}")
    };
    if scim_core::env::http_url(&org_url).is_none() {
        return Err(ConfigError::Invalid {
            var: "OKTA_ORG_URL",
            value: given.to_owned(),
            expected: "your Okta organisation's URL, e.g. https://acme.okta.com",
        });
    }
    Ok(org_url)
}

/// `OKTA_USER_STATUSES`, upper-cased; `ACTIVE` when empty.
fn statuses(env: &Env) -> Result<Vec<String>, ConfigError> {
    let mut statuses: Vec<String> = env
        .list("OKTA_USER_STATUSES")
        .iter()
        .map(|s| s.to_uppercase())
        .collect();
    if statuses.is_empty() {
        statuses.push("ACTIVE".into());
    }
    if let Some(bad) = statuses
        .iter()
        .find(|s| !STATUSES.iter().any(|(n, _)| n == s))
    {
        return Err(ConfigError::Invalid {
            var: "OKTA_USER_STATUSES",
            value: bad.clone(),
            expected: "a comma-separated list of Okta statuses: ACTIVE, LOCKED_OUT, PASSWORD_EXPIRED, RECOVERY, SUSPENDED, DEPROVISIONED, STAGED, PROVISIONED",
        });
    }
    Ok(statuses)
}

fn max_hierarchy_roots(env: &Env) -> Result<u64, ConfigError> {
    let roots = env.string("OKTA_MAX_HIERARCHY_ROOTS", "0");
    roots.parse::<u64>().map_err(|_| ConfigError::Invalid {
        var: "OKTA_MAX_HIERARCHY_ROOTS",
        value: roots.clone(),
        expected: "a whole number of 0 or more (0: report the roots, never fail on them)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::test_data::settings;

    #[test]
    fn settings_have_the_originals_defaults_and_fail_on_bad_values() {
        let s = settings(&[]);
        assert_eq!(s.org_url, "https://acme.okta.com");
        assert_eq!(s.statuses, ["ACTIVE"]);
        assert_eq!(s.supervisor_match_field, "id");
        let s = settings(&[
            ("OKTA_EXTERNAL_ID_FIELD", "employeeNumber"),
            ("OKTA_USER_STATUSES", "active, suspended"),
        ]);
        assert_eq!(s.supervisor_match_field, "employeeNumber");
        assert_eq!(s.statuses, ["ACTIVE", "SUSPENDED"]);
        for (var, value) in [
            ("OKTA_USER_STATUSES", "ACTIVE,GONE"),
            ("OKTA_MAX_HIERARCHY_ROOTS", "-1"),
            ("OKTA_MAX_HIERARCHY_ROOTS", "five"),
        ] {
            let err = OktaSettings::from_env(&Env::from_pairs([
                ("OKTA_ORG_URL", "https://acme.okta.com"),
                ("OKTA_API_TOKEN", "t"),
                (var, value),
            ]))
            .unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { var: v, .. } if v == var),
                "{var}={value}"
            );
        }
    }
}
