//! fetch-factorial: employees and leaves from Factorial.
//!
//! Unlike the original, which read only Factorial's first page of each list,
//! every page is read (cursor pagination). Employees become users like
//! the other sources (team as department, manager as supervisor, terminated as
//! inactive); approved leaves become `vacation.json` entries with TimeCamp day
//! types from `LeaveTypeMap`.

use std::collections::HashMap;
use std::time::Duration;

use scim_core::model::{Leave, SourceUser, Status};
use scim_core::{ConfigError, Env, Secret};
use serde_json::Value;
use tracing::{info, warn};

use crate::http::{self, Failure};

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
        let url = env.string("FACTORIAL_API_URL", "");
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(ConfigError::Invalid {
                var: "FACTORIAL_API_URL",
                value: url,
                expected: "the versioned API base, e.g. https://api.factorialhr.com/api/2025-07-01",
            });
        }
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

#[derive(Debug, thiserror::Error)]
pub enum FactorialError {
    #[error("Factorial answered {status} to {what}: {message}")]
    Status {
        status: u16,
        what: String,
        message: String,
    },
    #[error("Factorial could not be reached ({what}): {message}")]
    Transport { what: String, message: String },
    #[error("unexpected answer from Factorial ({what}): {message}")]
    Decode { what: String, message: String },
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

/// What fetch-factorial read.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub users: Vec<SourceUser>,
    pub leaves: Vec<Leave>,
}

struct Api<'a> {
    s: &'a FactorialSettings,
    http: reqwest::Client,
}

impl Api<'_> {
    async fn get(&self, url: &str, what: &str) -> Result<Value, FactorialError> {
        let request = || {
            self.http
                .get(url)
                .header("accept", "application/json")
                .header("x-api-key", self.s.api_key.expose())
        };
        let resp = http::send(request, "Factorial", what)
            .await
            .map_err(|f| match f {
                Failure::Status { status, .. } => FactorialError::Status {
                    status,
                    what: what.into(),
                    message: if status == 401 {
                        "check FACTORIAL_API_KEY"
                    } else {
                        "request refused"
                    }
                    .into(),
                },
                other => FactorialError::Transport {
                    what: what.into(),
                    message: other.to_string(),
                },
            })?;
        resp.json().await.map_err(|e| FactorialError::Decode {
            what: what.into(),
            message: e.to_string(),
        })
    }

    /// Every item of a list, page after page (cursor pagination).
    async fn all(&self, path: &str, query: &str) -> Result<Vec<Value>, FactorialError> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut url = format!("{}/{path}?limit=100{query}", self.s.api_url);
            if let Some(a) = &after {
                url.push_str(&format!("&after_id={a}"));
            }
            let what = format!("{path} (after {})", after.as_deref().unwrap_or("the start"));
            let body = self.get(&url, &what).await?;
            let Some(Value::Array(data)) = body.get("data") else {
                return Err(FactorialError::Decode {
                    what,
                    message: "no `data` list".into(),
                });
            };
            items.extend(data.iter().cloned());
            tracing::info!("Factorial: read {} {path} so far", items.len());
            let meta = body.get("meta").cloned().unwrap_or(Value::Null);
            if meta.get("has_next_page").and_then(Value::as_bool) != Some(true) {
                return Ok(items);
            }
            let next = meta
                .get("end_cursor")
                .and_then(|c| {
                    c.as_str()
                        .map(str::to_owned)
                        .or_else(|| c.as_u64().map(|n| n.to_string()))
                })
                .or_else(|| {
                    data.last()
                        .and_then(|d| d.get("id"))
                        .map(|id| id.to_string())
                });
            if next.is_none() || next == after {
                return Err(FactorialError::Decode {
                    what,
                    message: "a next page is announced without a cursor to reach it".into(),
                });
            }
            after = next;
        }
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

pub async fn fetch(s: &FactorialSettings) -> Result<Fetched, FactorialError> {
    let api = Api {
        s,
        http: reqwest::Client::builder()
            .timeout(s.timeout)
            .user_agent(concat!("timecamp-scim/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FactorialError::Setup(e.to_string()))?,
    };
    let teams = api.all("resources/teams/teams", "").await?;
    let employees = api
        .all("resources/employees/employees", "&only_active=false")
        .await?;
    let leaves = api
        .all(
            "resources/timeoff/leaves",
            "&include_leave_type=true&include_duration=true",
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
