//! fetch-bamboohr: employees from BambooHR's dataset API.
//!
//! Every page is read (the page number goes in the query string, where the
//! API reads it; the original sent it in the body), then supervisors
//! missing from the listing are looked up, up the chain, and added as
//! inactive. Requests go through the shared HTTP layer (`scim-http`):
//! throttling (429, 503) is retried with `Retry-After`, a server that
//! ignores the page number is caught. Any failed request fails the whole
//! fetch: nothing is written from a partial read.

use std::time::Duration;

use scim_core::{ConfigError, Env, Secret};
use scim_http::{Client, ClientOptions, ErrorText, Hints, More, Next, Paging, Request};
use scim_model::{SourceUser, Status};
use serde_json::{Value, json};
use tracing::{debug, info};

use crate::fields::SupervisorRule;

pub const DEFAULT_API_URL: &str = "https://api.bamboohr.com/api/gateway.php";
/// The API's largest page.
const PAGE_SIZE: usize = 1000;

/// The dataset's pages: rows in `data`, the page number in `page`, and
/// `pagination.next_page` set while there are more.
const PAGING: Paging = Paging::new(
    "/data",
    Next::PageNumber {
        param: "page",
        first: 1,
        more: More::Present("/pagination/next_page"),
    },
);

/// What BambooHR's failures point at.
const HINTS: Hints = Hints {
    credentials: "BAMBOOHR_API_KEY and BAMBOOHR_SUBDOMAIN",
    forbidden: "",
    bad_request: "check BAMBOOHR_EXCLUDE_FILTER and BAMBOOHR_SUPERVISOR_RULE",
    location: "BAMBOOHR_SUBDOMAIN (and BAMBOOHR_API_URL, if set)",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

const FIELDS: &[&str] = &[
    "employeeNumber",
    "name",
    "email",
    "jobInformationDepartment",
    "jobInformationDivision",
    "jobInformationJobTitle",
    "isSupervisor",
    "supervisorId",
    "employmentStatus",
    "hireDate",
    "status",
    "supervisorEId",
];

/// The `BAMBOOHR_*` settings.
#[derive(Debug, Clone)]
pub struct BambooSettings {
    pub subdomain: String,
    pub api_key: Secret,
    /// `BAMBOOHR_API_URL`, up to `/api/gateway.php`.
    pub api_url: String,
    /// One more dataset filter every employee must satisfy.
    pub exclude_filter: Option<Value>,
    pub excluded_departments: Vec<String>,
    /// `field:value` of `BAMBOOHR_SUPERVISOR_RULE`.
    pub supervisor_rule: Option<SupervisorRule>,
    pub timeout: Duration,
}

impl BambooSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.require(
            "fetch-bamboohr",
            &["BAMBOOHR_SUBDOMAIN", "BAMBOOHR_API_KEY"],
        )?;
        // The original ignored a malformed filter or rule with a warning, and then
        // fetched people it was told to leave out; here they stop the run.
        let exclude_filter = match env.get("BAMBOOHR_EXCLUDE_FILTER") {
            None => None,
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(v @ Value::Object(_)) => Some(v),
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "BAMBOOHR_EXCLUDE_FILTER",
                        value: text.to_owned(),
                        expected: "one dataset filter as a JSON object, e.g. {\"field\":\"customField4548\",\"operator\":\"not_checked\"}",
                    });
                }
            },
        };
        let supervisor_rule = SupervisorRule::from_setting(
            "BAMBOOHR_SUPERVISOR_RULE",
            env.get("BAMBOOHR_SUPERVISOR_RULE"),
            false,
            "field:value, e.g. isSupervisor:Yes",
        )?;
        Ok(Self {
            subdomain: env.string("BAMBOOHR_SUBDOMAIN", ""),
            api_key: Secret::new(env.string("BAMBOOHR_API_KEY", "")),
            api_url: env
                .url_or(
                    "BAMBOOHR_API_URL",
                    "the API's base URL, e.g. https://api.bamboohr.com/api/gateway.php",
                    DEFAULT_API_URL,
                )?
                .trim_end_matches('/')
                .to_owned(),
            exclude_filter,
            excluded_departments: env.list("BAMBOOHR_EXCLUDED_DEPARTMENTS"),
            supervisor_rule,
            timeout: Duration::from_secs(60),
        })
    }

    fn endpoint(&self) -> String {
        format!("{}/{}/v1/datasets/employee", self.api_url, self.subdomain)
    }

    fn fields(&self) -> Vec<String> {
        let mut f: Vec<String> = FIELDS.iter().map(|s| (*s).to_owned()).collect();
        if let Some(rule) = &self.supervisor_rule
            && !f.contains(&rule.field)
        {
            f.push(rule.field.clone());
        }
        f
    }
}

/// The text of a dataset value: strings as they are, numbers as digits, null as nothing.
fn text(row: &Value, field: &str) -> Option<String> {
    match row.get(field)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn non_empty(row: &Value, field: &str) -> Option<String> {
    text(row, field)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `Division/Department`, or whichever exists.
fn department(row: &Value) -> String {
    match (
        non_empty(row, "jobInformationDivision"),
        non_empty(row, "jobInformationDepartment"),
    ) {
        (Some(d), Some(p)) => format!("{d}/{p}"),
        (None, Some(p)) => p,
        (Some(d), None) => d,
        (None, None) => String::new(),
    }
}

/// Maps a dataset row. Listed employees may be skipped (returned as `Err` with
/// the reason); supervisors fetched to complete the chain are always kept, inactive.
pub fn map_row(
    row: &Value,
    s: &BambooSettings,
    today: &str,
    supervisor: bool,
) -> Result<SourceUser, String> {
    let email = text(row, "email")
        .map(|e| e.trim().to_owned())
        .unwrap_or_default();
    if !supervisor {
        if text(row, "employmentStatus")
            .is_some_and(|st| st.trim().eq_ignore_ascii_case("terminated"))
        {
            return Err("terminated".into());
        }
        if let Some(hire) = non_empty(row, "hireDate")
            && hire.as_str() > today
        {
            return Err(format!("hired on {hire}, in the future"));
        }
        if email.is_empty() {
            return Err("no e-mail".into());
        }
        // Department or division: the original checked the department only.
        for unit in [
            non_empty(row, "jobInformationDepartment"),
            non_empty(row, "jobInformationDivision"),
        ]
        .into_iter()
        .flatten()
        {
            if s.excluded_departments.contains(&unit) {
                return Err(format!("in the excluded department {unit:?}"));
            }
        }
    }
    let is_supervisor = s
        .supervisor_rule
        .as_ref()
        .is_some_and(|rule| rule.matches(row.get(&rule.field)));
    Ok(SourceUser {
        external_id: non_empty(row, "employeeNumber"),
        name: Some(text(row, "name").unwrap_or_default().trim().to_owned()),
        email: Some(email),
        department: Some(department(row)),
        job_title: text(row, "jobInformationJobTitle"),
        status: Some(if supervisor {
            Status::Inactive
        } else {
            Status::Active
        }),
        supervisor_id: Some(non_empty(row, "supervisorId").unwrap_or_default()),
        is_supervisor: Some(Box::new(Value::Bool(is_supervisor))),
        ..SourceUser::default()
    }
    .with_raw_data(row.clone()))
}

struct Api<'a> {
    s: &'a BambooSettings,
    http: Client,
}

impl Api<'_> {
    /// All rows matching `filters`, every page.
    async fn rows(&self, filters: Value, call: &str) -> Result<Vec<Value>, scim_http::Error> {
        let mut url = self.http.url(&self.s.endpoint())?;
        url.query_pairs_mut()
            .append_pair("page_size", &PAGE_SIZE.to_string());
        let request = Request::post(url, call)
            .basic(self.s.api_key.expose(), &Secret::new("x"))
            .json(json!({"filters": filters, "fields": self.s.fields()}));
        self.http.all(&request, PAGING).await
    }
}

/// Reads every employee and the supervisors needed to complete the chain.
pub async fn fetch(s: &BambooSettings) -> Result<Vec<SourceUser>, scim_http::Error> {
    let api = Api {
        s,
        http: Client::new(ClientOptions {
            timeout: s.timeout,
            error_text: ErrorText {
                json: &["/error/message"],
                headers: &["x-bamboohr-error-message"],
            },
            ..ClientOptions::new("BambooHR", HINTS)
        })?,
    };
    let mut filters = Vec::new();
    filters.extend(s.exclude_filter.clone());
    filters.push(json!({"field": "employmentStatus", "operator": "does_not_include", "value": ["Terminated"]}));
    let rows = api
        .rows(
            json!({"match": "all", "filters": filters}),
            "the employee listing",
        )
        .await?;
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        match map_row(row, s, &today, false) {
            Ok(u) => users.push(u),
            Err(why) => debug!(
                "skipped employee {}: {why}",
                text(row, "employeeNumber").unwrap_or_default()
            ),
        }
    }
    let active = users.len();
    info!("BambooHR listed {} employees; {active} kept", rows.len());

    let added = crate::chain::complete(&mut users, "BambooHR", async |missing: &[String]| {
        let lookups: Vec<Value> = missing
            .iter()
            .map(|id| json!({"field": "employeeNumber", "operator": "equal", "value": id}))
            .collect();
        let found = api
            .rows(
                json!({"match": "any", "filters": lookups}),
                "the supervisor lookup",
            )
            .await?;
        Ok(found
            .iter()
            .filter_map(|row| map_row(row, s, &today, true).ok())
            .collect())
    })
    .await?;
    info!("Added {added} supervisors outside the listing as inactive");
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BambooSettings {
        BambooSettings::from_env(&Env::from_pairs([
            ("BAMBOOHR_SUBDOMAIN", "acme"),
            ("BAMBOOHR_API_KEY", "k"),
            ("BAMBOOHR_EXCLUDED_DEPARTMENTS", "Board, Contractors"),
            ("BAMBOOHR_SUPERVISOR_RULE", " isSupervisor : Yes "),
        ]))
        .unwrap()
    }

    #[test]
    fn department_joins_division_and_department() {
        assert_eq!(
            department(
                &json!({"jobInformationDivision": "R&D", "jobInformationDepartment": "Eng"})
            ),
            "R&D/Eng"
        );
        assert_eq!(
            department(&json!({"jobInformationDivision": "", "jobInformationDepartment": "Eng"})),
            "Eng"
        );
        assert_eq!(
            department(&json!({"jobInformationDivision": "R&D", "jobInformationDepartment": null})),
            "R&D"
        );
        assert_eq!(department(&json!({})), "");
    }

    #[test]
    fn skip_rules() {
        let s = settings();
        let row = |extra: Value| {
            let mut r = json!({"employeeNumber": "1", "name": " Ann ", "email": "ann@x.com", "employmentStatus": "Full-Time"});
            r.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            r
        };
        assert!(map_row(&row(json!({})), &s, "2026-01-01", false).is_ok());
        assert!(
            map_row(
                &row(json!({"employmentStatus": "terminated"})),
                &s,
                "2026-01-01",
                false
            )
            .is_err()
        );
        assert!(
            map_row(
                &row(json!({"hireDate": "2026-02-01"})),
                &s,
                "2026-01-01",
                false
            )
            .is_err()
        );
        assert!(map_row(&row(json!({"email": null})), &s, "2026-01-01", false).is_err());
        assert!(
            map_row(
                &row(json!({"jobInformationDivision": "Board"})),
                &s,
                "2026-01-01",
                false
            )
            .is_err()
        );
        let sup = map_row(
            &row(json!({"email": null, "employmentStatus": "Terminated"})),
            &s,
            "2026-01-01",
            true,
        )
        .unwrap();
        assert_eq!(sup.status, Some(Status::Inactive));
        assert_eq!(sup.email.as_deref(), Some(""));
    }

    #[test]
    fn supervisor_rule_compares_the_trimmed_field() {
        let s = settings();
        let u = map_row(
            &json!({"employeeNumber": 7, "email": "a@x", "isSupervisor": " Yes"}),
            &s,
            "2026-01-01",
            false,
        )
        .unwrap();
        assert_eq!(u.is_supervisor.as_deref(), Some(&Value::Bool(true)));
        assert_eq!(u.external_id.as_deref(), Some("7"));
        let u = map_row(
            &json!({"employeeNumber": "8", "email": "b@x"}),
            &s,
            "2026-01-01",
            false,
        )
        .unwrap();
        assert_eq!(u.is_supervisor.as_deref(), Some(&Value::Bool(false)));
    }

    #[test]
    fn malformed_filter_and_rule_are_configuration_errors() {
        let base = [("BAMBOOHR_SUBDOMAIN", "acme"), ("BAMBOOHR_API_KEY", "k")];
        let with = |k: &'static str, v: &'static str| {
            let mut p = base.to_vec();
            p.push((k, v));
            BambooSettings::from_env(&Env::from_pairs(p))
        };
        assert!(
            with("BAMBOOHR_EXCLUDE_FILTER", "{not json")
                .unwrap_err()
                .to_string()
                .contains("BAMBOOHR_EXCLUDE_FILTER")
        );
        assert!(
            with("BAMBOOHR_SUPERVISOR_RULE", "isSupervisor")
                .unwrap_err()
                .to_string()
                .contains("BAMBOOHR_SUPERVISOR_RULE")
        );
        let err = BambooSettings::from_env(&Env::from_pairs([("BAMBOOHR_SUBDOMAIN", "acme")]))
            .unwrap_err();
        assert!(err.to_string().contains("BAMBOOHR_API_KEY"));
    }
}
