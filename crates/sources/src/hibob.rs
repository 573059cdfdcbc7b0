//! fetch-hibob: employees from HiBob's people search (`POST /v1/people/search`)
//! with a service user (HTTP Basic: service-user id and token).
//!
//! The search has no paging: one answer holds every match. Active employees
//! are listed (narrowed by `HIBOB_EXCLUDE_FILTER`, which despite its name
//! selects, as in the original); managers the listing names but did not
//! return are then looked up, inactive ones included, up the chain, and
//! written as `hierarchy_only` records, so they shape the supervisor groups
//! without becoming (or disabling) TimeCamp users. Requests go through the
//! shared HTTP layer (`scim-http`): 429 answers are retried after
//! `Retry-After` or the rate-limit window's reset; 401 and 403 are not
//! (HiBob blocks addresses that keep failing to authenticate). Since the one
//! answer holds everybody, it may be larger than other services' pages:
//! up to 256 MiB is read.

use std::time::Duration;

use scim_core::{ConfigError, Env, Secret};
use scim_http::{Client, ClientOptions, ErrorText, Hints, Next, Paging, Request};
use scim_model::{SourceUser, Status};
use serde_json::{Value, json};
use tracing::{debug, info};

use crate::fields::{SupervisorRule, text_of, value_at};

pub const DEFAULT_API_URL: &str = "https://api.hibob.com";

/// The most of one search answer read: the search has no paging, so a large
/// company's whole staff, with the readable copies of its fields, comes in
/// one answer (about 3 KiB a person: 256 MiB holds some 80,000 people).
const MAX_ANSWER: u64 = 256 * 1024 * 1024;

/// The search's answer: everybody at once, in `employees`.
const EMPLOYEES: Paging = Paging::new("/employees", Next::None);

/// What HiBob's failures point at.
const HINTS: Hints = Hints {
    credentials: "HIBOB_SERVICE_USER_ID and HIBOB_SERVICE_USER_TOKEN (HiBob blocks addresses \
                  that keep failing)",
    forbidden: "the service user lacks a permission for these fields",
    bad_request: "check HIBOB_EXCLUDE_FILTER, HIBOB_SUPERVISOR_RULE and HIBOB_CUSTOM_FIELDS",
    location: "HIBOB_API_URL",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

/// The fields every search asks for; the rule's path and
/// `HIBOB_CUSTOM_FIELDS` are added after them.
const FIELDS: &[&str] = &[
    "root.id",
    "root.firstName",
    "root.surname",
    "root.fullName",
    "root.displayName",
    "root.email",
    "work.department",
    "work.title",
    "work.reportsTo",
    "work.isManager",
    "work.startDate",
    "work.site",
    "work.employeeIdInCompany",
    "internal.status",
    "internal.lifecycleStatus",
];

/// The `HIBOB_*` settings.
#[derive(Debug, Clone)]
pub struct HibobSettings {
    /// `HIBOB_API_URL`, without a trailing `/`.
    pub api_url: String,
    pub service_user_id: String,
    pub token: Secret,
    /// One people-search filter (`{"fieldPath", "operator": "equals", "values"}`)
    /// every listed employee must match.
    pub exclude_filter: Option<Value>,
    pub excluded_departments: Vec<String>,
    pub supervisor_rule: Option<SupervisorRule>,
    pub custom_fields: Vec<String>,
    pub timeout: Duration,
}

impl HibobSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.require(
            "fetch-hibob",
            &["HIBOB_SERVICE_USER_ID", "HIBOB_SERVICE_USER_TOKEN"],
        )?;
        let api_url = env.url_or(
            "HIBOB_API_URL",
            "the API's base URL, e.g. https://api.hibob.com",
            DEFAULT_API_URL,
        )?;
        // The original ignored a malformed filter with a warning and then
        // fetched everyone; here it stops the run.
        let exclude_filter = match env.get("HIBOB_EXCLUDE_FILTER") {
            None => None,
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(v) if is_search_filter(&v) => Some(v),
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "HIBOB_EXCLUDE_FILTER",
                        value: text.to_owned(),
                        expected: "one people-search filter as a JSON object with operator \"equals\", e.g. {\"fieldPath\":\"work.site\",\"operator\":\"equals\",\"values\":[\"London\"]}",
                    });
                }
            },
        };
        Ok(Self {
            api_url: api_url.trim_end_matches('/').to_owned(),
            service_user_id: env.string("HIBOB_SERVICE_USER_ID", ""),
            token: Secret::new(env.string("HIBOB_SERVICE_USER_TOKEN", "")),
            exclude_filter,
            excluded_departments: env.list("HIBOB_EXCLUDED_DEPARTMENTS"),
            supervisor_rule: SupervisorRule::from_setting(
                "HIBOB_SUPERVISOR_RULE",
                env.get("HIBOB_SUPERVISOR_RULE"),
                false,
                "field-path:value, e.g. work.isManager:true",
            )?,
            custom_fields: env.list("HIBOB_CUSTOM_FIELDS"),
            timeout: Duration::from_secs(120),
        })
    }

    /// The field paths to ask for, each once.
    pub fn fields(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let extra = self
            .supervisor_rule
            .iter()
            .map(|r| r.field.as_str())
            .chain(self.custom_fields.iter().map(String::as_str));
        for f in FIELDS.iter().copied().chain(extra) {
            if !out.iter().any(|o| o == f) {
                out.push(f.to_owned());
            }
        }
        out
    }
}

/// A filter HiBob's search takes: `equals`, a field path and a list of values.
fn is_search_filter(v: &Value) -> bool {
    v.get("operator").and_then(Value::as_str) == Some("equals")
        && v.get("fieldPath")
            .and_then(Value::as_str)
            .is_some_and(|p| !p.trim().is_empty())
        && v.get("values")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
}

/// A field of an employee by its path. Root fields come back at the top level
/// (`root.email` is `email`), other categories nested (`work.title`).
fn field<'v>(e: &'v Value, path: &str) -> Option<&'v Value> {
    value_at(e, path).or_else(|| path.strip_prefix("root.").and_then(|p| value_at(e, p)))
}

/// The readable text of a list field (`humanReadable.work.department`), else
/// its raw value (a list-item id when the field is a list).
fn readable(e: &Value, path: &str) -> String {
    let shown = text_of(value_at(e, &format!("humanReadable.{path}")));
    if shown.is_empty() {
        text_of(field(e, path))
    } else {
        shown
    }
}

/// Maps an employee. Listed employees may be skipped (`Err` with the reason);
/// managers looked up to complete the chain are always kept.
pub fn map_employee(
    e: &Value,
    s: &HibobSettings,
    today: &str,
    manager: bool,
) -> Result<SourceUser, String> {
    let email = text_of(field(e, "root.email"));
    let department = readable(e, "work.department");
    if !manager {
        if email.is_empty() {
            return Err("no e-mail".into());
        }
        let start = text_of(field(e, "work.startDate"));
        if !start.is_empty() && start.as_str() > today {
            return Err(format!("starts on {start}, in the future"));
        }
        if s.excluded_departments.contains(&department) {
            return Err(format!("in the excluded department {department:?}"));
        }
        if text_of(field(e, "internal.lifecycleStatus")).eq_ignore_ascii_case("terminated") {
            return Err("terminated".into());
        }
    }
    let mut name = ["root.fullName", "root.displayName"]
        .iter()
        .map(|p| text_of(field(e, p)))
        .find(|n| !n.is_empty())
        .unwrap_or_default();
    if name.is_empty() {
        name = format!(
            "{} {}",
            text_of(field(e, "root.firstName")),
            text_of(field(e, "root.surname"))
        )
        .trim()
        .to_owned();
    }
    let is_supervisor = match &s.supervisor_rule {
        Some(rule) => rule.matches(field(e, &rule.field)),
        None => match field(e, "work.isManager") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(v)) => v.trim().eq_ignore_ascii_case("true"),
            _ => false,
        },
    };
    let user = SourceUser {
        external_id: Some(text_of(field(e, "root.id"))),
        name: Some(name),
        email: Some(email),
        department: Some(department),
        job_title: Some(readable(e, "work.title")),
        status: Some(Status::Active),
        // `reportsTo` is an object; its `id` is the manager's employee id.
        supervisor_id: Some(text_of(field(e, "work.reportsTo.id"))),
        is_supervisor: Some(Box::new(Value::Bool(is_supervisor))),
        ..SourceUser::default()
    }
    .with_raw_data(e.clone());
    Ok(if manager {
        user.into_hierarchy_only()
    } else {
        user
    })
}

struct Api<'a> {
    s: &'a HibobSettings,
    http: Client,
}

impl Api<'_> {
    async fn search(&self, body: Value, call: &str) -> Result<Vec<Value>, scim_http::Error> {
        let url = self
            .http
            .url(&format!("{}/v1/people/search", self.s.api_url))?;
        let request = Request::post(url, call)
            .basic(&self.s.service_user_id, &self.s.token)
            .json(body);
        // Read as a listing of one answer, so the layer bounds the people
        // it holds and the memory they take, as it does for paged sources.
        self.http.all(&request, EMPLOYEES).await
    }
}

/// Reads the employees and the managers needed to complete the chain.
pub async fn fetch(s: &HibobSettings) -> Result<Vec<SourceUser>, scim_http::Error> {
    let api = Api {
        s,
        http: Client::new(ClientOptions {
            timeout: s.timeout,
            max_body: MAX_ANSWER,
            error_text: ErrorText {
                json: &["/error", "/message"],
                headers: &[],
            },
            ..ClientOptions::new("HiBob", HINTS)
        })?,
    };
    let fields = s.fields();
    let mut body = json!({"fields": fields, "showInactive": false, "humanReadable": "APPEND"});
    if let Some(filter) = &s.exclude_filter {
        body["filters"] = json!([filter]);
    }
    let listed = api.search(body, "the employee search").await?;
    info!("HiBob: read {} employees", listed.len());
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let mut users = Vec::with_capacity(listed.len());
    for e in &listed {
        match map_employee(e, s, &today, false) {
            Ok(u) => users.push(u),
            Err(why) => debug!(
                "left out employee {} ({}): {why}",
                text_of(field(e, "root.id")),
                text_of(field(e, "root.email"))
            ),
        }
    }
    let kept = users.len();
    info!("HiBob listed {} employees; {kept} kept", listed.len());
    let added = crate::chain::complete(&mut users, "HiBob", async |missing: &[String]| {
        let lookup = json!({
            "fields": fields,
            "filters": [{"fieldPath": "root.id", "operator": "equals", "values": missing}],
            "showInactive": true,
            "humanReadable": "APPEND",
        });
        let found = api.search(lookup, "the manager lookup").await?;
        Ok(found
            .iter()
            .filter_map(|e| map_employee(e, s, &today, true).ok())
            .collect())
    })
    .await?;
    info!("Added {added} managers outside the listing (hierarchy only)");
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &[(&'static str, &'static str)]) -> Result<HibobSettings, ConfigError> {
        let mut pairs = vec![
            ("HIBOB_SERVICE_USER_ID", "svc"),
            ("HIBOB_SERVICE_USER_TOKEN", "tok"),
        ];
        pairs.extend_from_slice(extra);
        HibobSettings::from_env(&Env::from_pairs(pairs))
    }

    fn employee() -> Value {
        json!({
            "id": "3", "email": "Ann@Acme.com", "firstName": "Ann", "surname": "Lee",
            "displayName": "", "fullName": "Ann Lee",
            "work": {"department": "1234", "title": "98", "reportsTo": {"id": "1", "displayName": "Boss"},
                     "isManager": true, "startDate": "2020-01-01", "site": "London"},
            "internal": {"lifecycleStatus": "employed"},
            "humanReadable": {"work": {"department": "Engineering", "title": "Developer"}}
        })
    }

    #[test]
    fn employees_map_with_readable_lists_and_the_managers_id() {
        let s = settings(&[]).unwrap();
        let u = map_employee(&employee(), &s, "2026-01-01", false).unwrap();
        assert_eq!(u.external_id.as_deref(), Some("3"));
        assert_eq!(u.email.as_deref(), Some("Ann@Acme.com"), "case kept");
        assert_eq!(u.department.as_deref(), Some("Engineering"));
        assert_eq!(u.job_title.as_deref(), Some("Developer"));
        assert_eq!(u.supervisor_id.as_deref(), Some("1"));
        assert_eq!(
            u.is_supervisor.as_deref(),
            Some(&Value::Bool(true)),
            "work.isManager"
        );
        assert!(!u.is_hierarchy_only());
        let m = map_employee(&employee(), &s, "2026-01-01", true).unwrap();
        assert!(m.is_hierarchy_only());
        assert_eq!(m.status, Some(Status::Inactive));
    }

    #[test]
    fn skip_rules_give_their_reason() {
        let s = settings(&[("HIBOB_EXCLUDED_DEPARTMENTS", "Board, Engineering")]).unwrap();
        let e = employee();
        assert_eq!(
            map_employee(&e, &s, "2026-01-01", false).unwrap_err(),
            "in the excluded department \"Engineering\""
        );
        let s = settings(&[]).unwrap();
        assert_eq!(
            map_employee(&e, &s, "2019-12-31", false).unwrap_err(),
            "starts on 2020-01-01, in the future"
        );
        let mut gone = employee();
        gone["internal"]["lifecycleStatus"] = json!("Terminated");
        assert_eq!(
            map_employee(&gone, &s, "2026-01-01", false).unwrap_err(),
            "terminated"
        );
        assert!(map_employee(&gone, &s, "2026-01-01", true).is_ok());
    }

    #[test]
    fn the_supervisor_rule_reads_nested_and_root_paths() {
        let s = settings(&[("HIBOB_SUPERVISOR_RULE", "work.site:London")]).unwrap();
        let u = map_employee(&employee(), &s, "2026-01-01", false).unwrap();
        assert_eq!(u.is_supervisor.as_deref(), Some(&Value::Bool(true)));
        let s = settings(&[("HIBOB_SUPERVISOR_RULE", "root.firstName:Bob")]).unwrap();
        let u = map_employee(&employee(), &s, "2026-01-01", false).unwrap();
        assert_eq!(u.is_supervisor.as_deref(), Some(&Value::Bool(false)));
        let s = settings(&[("HIBOB_SUPERVISOR_RULE", "root.firstName:Ann")]).unwrap();
        let u = map_employee(&employee(), &s, "2026-01-01", false).unwrap();
        assert_eq!(
            u.is_supervisor.as_deref(),
            Some(&Value::Bool(true)),
            "root. fields are top-level"
        );
        let s = settings(&[("HIBOB_SUPERVISOR_RULE", "work.isManager:true")]).unwrap();
        let u = map_employee(&employee(), &s, "2026-01-01", false).unwrap();
        assert_eq!(
            u.is_supervisor.as_deref(),
            Some(&Value::Bool(true)),
            "the documented example works"
        );
    }

    #[test]
    fn fields_add_the_rule_and_custom_fields_once() {
        let s = settings(&[
            ("HIBOB_SUPERVISOR_RULE", "work.custom.level:Lead"),
            (
                "HIBOB_CUSTOM_FIELDS",
                "work.site, payroll.employment.type,work.custom.level",
            ),
        ])
        .unwrap();
        let f = s.fields();
        assert_eq!(f.len(), FIELDS.len() + 2);
        assert_eq!(f[FIELDS.len()], "work.custom.level");
        assert_eq!(f[FIELDS.len() + 1], "payroll.employment.type");
    }

    #[test]
    fn malformed_settings_stop_the_run_naming_the_variable() {
        for (var, value) in [
            (
                "HIBOB_EXCLUDE_FILTER",
                r#"{"fieldPath":"work.site","operator":"notEquals","values":["x"]}"#,
            ),
            (
                "HIBOB_EXCLUDE_FILTER",
                r#"{"fieldPath":"work.site","operator":"equals","values":[]}"#,
            ),
            ("HIBOB_EXCLUDE_FILTER", "work.site=London"),
            ("HIBOB_SUPERVISOR_RULE", "work.isManager"),
            ("HIBOB_API_URL", "api.hibob.com"),
        ] {
            match settings(&[(var, value)]) {
                Err(ConfigError::Invalid { var: v, .. }) => assert_eq!(v, var),
                other => panic!("{var}={value}: {other:?}"),
            }
        }
        let err = HibobSettings::from_env(&Env::from_pairs([("HIBOB_SERVICE_USER_ID", "x")]))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("fetch-hibob needs HIBOB_SERVICE_USER_TOKEN")
        );
    }
}
