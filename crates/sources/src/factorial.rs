//! fetch-factorial: employees and leaves from Factorial.
//!
//! Unlike the original, which read only Factorial's first page of each list,
//! every page is read (cursor pagination, through the shared HTTP layer
//! `scim-http`, which also retries throttling). Employees become users like
//! the other sources (team as department, manager as supervisor, terminated as
//! inactive); approved leaves become `vacation.json` entries with TimeCamp day
//! types from `LeaveTypeMap`.

use std::collections::HashMap;
use std::time::Duration;

use scim_core::{ConfigError, Env, Secret};
use scim_http::{Client, ClientOptions, Hints, More, Next, Paging, Request};
use scim_model::{Leave, SourceUser, Status};
use serde_json::Value;
use tracing::{info, warn};

/// Every list: items in `data`, `meta.has_next_page` and the cursor
/// `meta.end_cursor`, sent back as `after_id`.
const PAGING: Paging = Paging::new(
    "/data",
    Next::Cursor {
        token_at: "/meta/end_cursor",
        param: "after_id",
        more: Some(More::Flag("/meta/has_next_page")),
    },
);

/// What Factorial's failures point at.
const HINTS: Hints = Hints {
    credentials: "FACTORIAL_API_KEY",
    forbidden: "",
    bad_request: "",
    location: "FACTORIAL_API_URL",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

#[derive(Debug, Clone)]
pub struct FactorialSettings {
    /// `FACTORIAL_API_URL`: the versioned base, e.g. `https://api.factorialhr.com/api/2025-07-01`.
    pub api_url: String,
    pub api_key: Secret,
    /// `LeaveTypeMap`: Factorial leave type → TimeCamp day type; key `Default` is the fallback.
    pub leave_types: HashMap<String, String>,
    pub timeout: Duration,
}

impl FactorialSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.require(
            "fetch-factorial",
            &["FACTORIAL_API_URL", "FACTORIAL_API_KEY", "LeaveTypeMap"],
        )?;
        let url = env
            .url(
                "FACTORIAL_API_URL",
                "the versioned API base, e.g. https://api.factorialhr.com/api/2025-07-01",
            )?
            .map(String::from)
            .unwrap_or_default();
        let map_text = env.string("LeaveTypeMap", "");
        let leave_types = serde_json::from_str::<HashMap<String, String>>(&map_text).map_err(|_| ConfigError::Invalid {
            var: "LeaveTypeMap",
            value: map_text.clone(),
            expected: "a JSON object of Factorial leave type → TimeCamp day type, e.g. {\"Vacaciones\": \"Vacation\", \"Default\": \"Vacation\"}",
        })?;
        Ok(Self {
            api_url: url.trim_end_matches('/').to_owned(),
            api_key: Secret::new(env.string("FACTORIAL_API_KEY", "")),
            leave_types,
            timeout: Duration::from_secs(60),
        })
    }
}

/// What fetch-factorial read.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub users: Vec<SourceUser>,
    pub leaves: Vec<Leave>,
}

struct Api<'a> {
    s: &'a FactorialSettings,
    http: Client,
}

impl Api<'_> {
    /// Every item of a list, page after page.
    async fn all(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, scim_http::Error> {
        let mut url = self.http.url(&format!("{}/{path}", self.s.api_url))?;
        url.query_pairs_mut()
            .append_pair("limit", "100")
            .extend_pairs(query);
        let request = Request::get(url, path).secret_header("x-api-key", self.s.api_key.clone());
        self.http.all(&request, PAGING).await
    }
}

fn text(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The employee's addresses for their leaves, as the original wrote them:
/// `email`, else `login_email`; the other one, when different, goes beside
/// it so that sync-time-off finds the TimeCamp account under either.
fn leave_emails(e: &Value) -> (String, Vec<String>) {
    let work = text(e, "email").to_lowercase();
    let login = text(e, "login_email").to_lowercase();
    match (work.is_empty(), login.is_empty()) {
        (false, false) if work != login => (work, vec![login]),
        (true, _) => (login, Vec::new()),
        _ => (work, Vec::new()),
    }
}

/// The address TimeCamp knows: the login e-mail, else the personal one.
fn employee_email(e: &Value) -> String {
    let login = text(e, "login_email");
    if login.is_empty() {
        text(e, "email").to_lowercase()
    } else {
        login.to_lowercase()
    }
}

pub async fn fetch(s: &FactorialSettings) -> Result<Fetched, scim_http::Error> {
    let api = Api {
        s,
        http: Client::new(ClientOptions {
            timeout: s.timeout,
            ..ClientOptions::new("Factorial", HINTS)
        })?,
    };
    let teams = api.all("resources/teams/teams", &[]).await?;
    let employees = api
        .all("resources/employees/employees", &[("only_active", "false")])
        .await?;
    let leaves = api
        .all(
            "resources/timeoff/leaves",
            &[("include_leave_type", "true"), ("include_duration", "true")],
        )
        .await?;

    let mut team_of: HashMap<String, String> = HashMap::new();
    for t in &teams {
        for member in t
            .get("employee_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            team_of
                .entry(member.to_string())
                .or_insert_with(|| text(t, "name"));
        }
    }
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let mut users = Vec::new();
    let mut emails_of: HashMap<String, (String, Vec<String>)> = HashMap::new();
    for e in &employees {
        let id = text(e, "id");
        let email = employee_email(e);
        if email.is_empty() {
            warn!("employee {id} has no e-mail; skipped");
            continue;
        }
        emails_of.insert(id.clone(), leave_emails(e));
        let terminated = text(e, "terminated_on");
        let inactive = (!terminated.is_empty() && terminated <= today)
            || e.get("active") == Some(&Value::Bool(false));
        let mut name = text(e, "full_name");
        if name.is_empty() {
            name = format!("{} {}", text(e, "first_name"), text(e, "last_name"))
                .trim()
                .to_owned();
        }
        users.push(
            SourceUser {
                department: Some(team_of.get(&id).cloned().unwrap_or_default()),
                external_id: Some(id),
                name: Some(name),
                email: Some(email),
                job_title: Some(text(e, "job_title")),
                status: Some(if inactive {
                    Status::Inactive
                } else {
                    Status::Active
                }),
                supervisor_id: Some(text(e, "manager_id")),
                ..SourceUser::default()
            }
            .with_raw_data(e.clone()),
        );
    }

    let mut out_leaves = Vec::new();
    let (mut pending, mut unknown) = (0, 0);
    for l in &leaves {
        if l.get("approved") == Some(&Value::Bool(false)) {
            pending += 1;
            continue;
        }
        let Some((email, other_emails)) = emails_of.get(&text(l, "employee_id")).cloned() else {
            unknown += 1;
            continue;
        };
        let type_name = text(l, "leave_type_name");
        let tc = s
            .leave_types
            .get(&type_name)
            .or_else(|| s.leave_types.get("Default"))
            .cloned();
        if tc.is_none() {
            warn!(
                "leave type {type_name:?} is not in LeaveTypeMap (and there is no Default); sync-time-off will skip it"
            );
        }
        let finish = text(l, "finish_on");
        out_leaves.push(Leave {
            email: Some(email),
            other_emails,
            start_on: text(l, "start_on"),
            finish_on: (!finish.is_empty()).then_some(finish),
            tc_leave_type: tc,
            ..Leave::default()
        });
    }
    info!(
        "Factorial: {} employees, {} leaves ({pending} not approved, {unknown} of unknown employees left out)",
        users.len(),
        out_leaves.len()
    );
    Ok(Fetched {
        users,
        leaves: out_leaves,
    })
}
