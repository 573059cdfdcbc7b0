//! fetch-personio: the people of Personio through its API v2.
//!
//! Why v2: it is the API Personio develops and documents for new
//! integrations (the v1 attendance and project endpoints are retired in
//! 2026, the v1 employee listing was made to page in 2025), its credentials
//! are what Personio's "API credentials" page creates today, with scopes
//! instead of ticked attributes (`personio:persons:read` covers persons and
//! their employments; the departments need read access to org units), and
//! its persons listing takes a `status` filter. The v1 employee listing returns everything inline, but
//! only the attributes an admin ticked on the credential, which makes a
//! silent gap (a person without a department) easy to configure.
//!
//! A client-credentials token is asked for once and kept for its lifetime
//! (the token endpoint is rate-limited; a 401 gets one new token). The
//! active persons are listed (`GET /v2/persons?status=ACTIVE`, 50 a page,
//! cursor paging), then each person's employments, the most recent first,
//! and the departments (`GET /v2/org-units?type=department`), whose parents
//! make paths. Each person's latest employment gives the status (`ACTIVE`,
//! `LEAVE` and `ONBOARDING` are active, as Personio's own filter counts
//! them; `INACTIVE` is not), the supervisor (a person id), the department
//! and the position's title.

use std::collections::HashMap;
use std::time::Duration;

use scim_core::{ConfigError, Env, Secret};
use scim_http::{Client, ClientOptions, ErrorText, Hints, Next, Paging, Request};
use scim_model::{SourceUser, Status};
use serde_json::Value;
use tracing::{info, warn};

use crate::fields::text_of;
use crate::oauth::{Authorized, TokenSource, read_token};

pub const DEFAULT_API_URL: &str = "https://api.personio.de";
/// The largest page the v2 listings give.
pub const PAGE_SIZE: u32 = 50;

/// The `PERSONIO_*` settings.
#[derive(Debug, Clone)]
pub struct PersonioSettings {
    pub client_id: String,
    pub client_secret: Secret,
    /// `PERSONIO_API_URL`, without a trailing `/`.
    pub api_url: String,
    pub timeout: Duration,
}

impl PersonioSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.require(
            "fetch-personio",
            &["PERSONIO_CLIENT_ID", "PERSONIO_CLIENT_SECRET"],
        )?;
        let api_url = env.url_or(
            "PERSONIO_API_URL",
            "the API's base URL, e.g. https://api.personio.de",
            DEFAULT_API_URL,
        )?;
        Ok(Self {
            client_id: env.string("PERSONIO_CLIENT_ID", ""),
            client_secret: Secret::new(env.string("PERSONIO_CLIENT_SECRET", "")),
            api_url: api_url.trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(60),
        })
    }
}

/// The v2 listings: resources in `_data`, the next page's URL in
/// `_meta.links.next.href`.
const LISTING: Paging = Paging::new("/_data", Next::UrlAt("/_meta/links/next/href"));

const CREDENTIALS: &str = "PERSONIO_CLIENT_ID and PERSONIO_CLIENT_SECRET";

/// What the token endpoint's failures point at.
const TOKEN_HINTS: Hints = Hints {
    credentials: CREDENTIALS,
    forbidden: "",
    bad_request: "check PERSONIO_CLIENT_ID and PERSONIO_CLIENT_SECRET",
    location: "PERSONIO_API_URL",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

/// What the API's failures point at.
const API_HINTS: Hints = Hints {
    credentials: CREDENTIALS,
    forbidden: "the API credential lacks a scope: personio:persons:read (persons and their \
                employments) and read access to org units (departments), under Settings > \
                Integrations > API credentials",
    bad_request: "",
    location: "PERSONIO_API_URL",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

#[derive(Debug, thiserror::Error)]
pub enum PersonioError {
    #[error(transparent)]
    Http(#[from] scim_http::Error),
    #[error(transparent)]
    Tree(#[from] crate::departments::TreeError),
    #[error(transparent)]
    RepeatedId(#[from] crate::people::RepeatedId),
    /// People listed as active whose employment does not say whether they
    /// are: left out, they would be disabled by the next sync.
    #[error("{}", UnsureMessage(.0))]
    Unsure(Vec<String>),
}

/// People listed when the fetch stops for them; the rest are counted.
const UNSURE_SHOWN: usize = 10;

struct UnsureMessage<'a>(&'a [String]);

impl std::fmt::Display for UnsureMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Personio lists {} active {} whose latest employment does not say whether they are \
             employed; nothing is written, since the sync would disable them:",
            self.0.len(),
            if self.0.len() == 1 {
                "person"
            } else {
                "people"
            }
        )?;
        for why in self.0.iter().take(UNSURE_SHOWN) {
            write!(f, "\n  {why}")?;
        }
        if self.0.len() > UNSURE_SHOWN {
            write!(f, "\n  ... and {} more", self.0.len() - UNSURE_SHOWN)?;
        }
        Ok(())
    }
}

/// Why a person is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftOut {
    /// Cannot be a TimeCamp user (no id, no e-mail): left out with a warning.
    Unusable(String),
    /// Listed as active, but the employment cannot tell: stops the fetch.
    Unsure(String),
}

/// Tokens from the client-credentials grant.
struct PersonioTokens<'a> {
    s: &'a PersonioSettings,
    client: Client,
}

impl TokenSource for PersonioTokens<'_> {
    async fn token(&mut self) -> Result<(Secret, Duration), scim_http::Error> {
        let url = self
            .client
            .url(&format!("{}/v2/auth/token", self.s.api_url))?;
        let request = Request::post(url, "the token request").form(vec![
            ("grant_type", Secret::new("client_credentials")),
            ("client_id", Secret::new(self.s.client_id.as_str())),
            ("client_secret", self.s.client_secret.clone()),
        ]);
        read_token("Personio", &self.client.send(&request).await?)
    }
}

/// Reads the active persons, their latest employments and the departments.
pub async fn fetch(s: &PersonioSettings) -> Result<Vec<SourceUser>, PersonioError> {
    let options = |hints, json: &'static [&'static str]| ClientOptions {
        timeout: s.timeout,
        error_text: ErrorText { json, headers: &[] },
        ..ClientOptions::new("Personio", hints)
    };
    let tokens = PersonioTokens {
        s,
        client: Client::new(options(
            TOKEN_HINTS,
            &["/error_description", "/error", "/detail"],
        ))?,
    };
    let api = Client::new(options(API_HINTS, &["/detail", "/title"]))?;
    let persons_url = api.url(&format!(
        "{}/v2/persons?limit={PAGE_SIZE}&status=ACTIVE",
        s.api_url
    ))?;
    let units_url = api.url(&format!(
        "{}/v2/org-units?type=department&limit={PAGE_SIZE}",
        s.api_url
    ))?;
    let mut personio = Authorized::new(api, tokens);
    let persons = personio
        .all(&Request::get(persons_url, "the persons"), LISTING)
        .await?;
    let units = personio
        .all(&Request::get(units_url, "the departments"), LISTING)
        .await?;
    let departments = department_paths(&units)?;
    info!(
        "Personio: {} active persons, {} departments",
        persons.len(),
        departments.len()
    );
    let mut users = Vec::with_capacity(persons.len());
    let mut unsure = Vec::new();
    for person in &persons {
        let id = text_of(person.get("id"));
        // Ids are numbers or UUIDs; anything else is not put into a URL.
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            warn!("Personio: left out: a person whose id {id:?} is not an id");
            continue;
        }
        let url = personio.api.url(&format!(
            "{}/v2/persons/{id}/employments?limit=1",
            s.api_url
        ))?;
        // The most recent employment comes first.
        let answer = personio
            .send(&Request::get(
                url,
                format!("the employments of person {id}"),
            ))
            .await?
            .json()?;
        let latest = answer.get("_data").and_then(|d| d.get(0));
        match map_person(person, latest, &departments) {
            Ok(user) => users.push(user),
            Err(LeftOut::Unusable(why)) => warn!("Personio: left out: {why}"),
            Err(LeftOut::Unsure(why)) => unsure.push(why),
        }
    }
    if !unsure.is_empty() {
        return Err(PersonioError::Unsure(unsure));
    }
    crate::people::one_record_per_id("Personio", &users)?;
    info!(
        "Personio: {} people read ({} token{})",
        users.len(),
        personio.tokens,
        if personio.tokens == 1 { "" } else { "s" }
    );
    Ok(users)
}

/// The department paths of the org-unit listing (`id`, `name`, `parent_id`).
pub fn department_paths(
    units: &[Value],
) -> Result<HashMap<String, String>, crate::departments::TreeError> {
    let text = |v: &Value, k: &str| Some(text_of(v.get(k))).filter(|t| !t.is_empty());
    crate::departments::paths(
        "Personio",
        units.iter().map(|u| {
            (
                text(u, "id"),
                text(u, "name"),
                text(u, "parent_id")
                    .or_else(|| text(u.get("parent").unwrap_or(&Value::Null), "id")),
            )
        }),
    )
}

/// Whether an employment status makes a person active.
fn active(status: &str) -> Option<bool> {
    match status.trim().to_ascii_uppercase().as_str() {
        "ACTIVE" | "LEAVE" | "ONBOARDING" => Some(true),
        "INACTIVE" => Some(false),
        _ => None,
    }
}

/// A person and their latest employment as a record. `Err` gives why the
/// person is not one, and whether that stops the fetch.
pub fn map_person(
    person: &Value,
    latest: Option<&Value>,
    departments: &HashMap<String, String>,
) -> Result<SourceUser, LeftOut> {
    let id = text_of(person.get("id"));
    let email = text_of(person.get("email")).to_lowercase();
    if id.is_empty() {
        return Err(LeftOut::Unusable("no id".into()));
    }
    if email.is_empty() {
        return Err(LeftOut::Unusable(format!(
            "person {id} has no e-mail (or the API credential may not read it)"
        )));
    }
    let Some(employment) = latest else {
        return Err(LeftOut::Unsure(format!(
            "person {id} ({email}) has no employment"
        )));
    };
    let status = text_of(employment.get("status"));
    let Some(is_active) = active(&status) else {
        return Err(LeftOut::Unsure(format!(
            "person {id} ({email}): the employment status {status:?} is none of ACTIVE, LEAVE, \
             ONBOARDING, INACTIVE"
        )));
    };
    let preferred = text_of(person.get("preferred_name"));
    let first = if preferred.is_empty() {
        text_of(person.get("first_name"))
    } else {
        preferred
    };
    let name = format!("{first} {}", text_of(person.get("last_name")))
        .trim()
        .to_owned();
    let name = if name.is_empty() { email.clone() } else { name };
    let department = employment
        .get("org_units")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|u| text_of(u.get("type")).eq_ignore_ascii_case("department"))
        .map(|u| text_of(u.get("id")))
        .map(|dept| match departments.get(&dept) {
            Some(path) => path.clone(),
            None => {
                warn!(
                    "Personio: the department {dept} of {email} is not among the departments read"
                );
                String::new()
            }
        })
        .unwrap_or_default();
    let supervisor = text_of(employment.get("supervisor").and_then(|s| s.get("id")));
    let mut raw = person.clone();
    raw["employment"] = employment.clone();
    Ok(SourceUser {
        external_id: Some(id),
        name: Some(name),
        email: Some(email),
        department: Some(department),
        job_title: Some(text_of(
            employment.get("position").and_then(|p| p.get("title")),
        )),
        status: Some(if is_active {
            Status::Active
        } else {
            Status::Inactive
        }),
        supervisor_id: Some(supervisor),
        ..SourceUser::default()
    }
    .with_raw_data(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_person_takes_the_latest_employments_status_supervisor_department_and_title() {
        let paths = department_paths(&[
            json!({"id": "10", "name": "Engineering", "parent_id": null}),
            json!({"id": "11", "name": "Backend", "parent_id": "10"}),
        ])
        .unwrap();
        let person = json!({"id": "7", "email": "Ann@Acme.com", "first_name": "Annabel",
                            "preferred_name": "Ann", "last_name": "Lee"});
        let employment = json!({"id": "e1", "status": "LEAVE", "supervisor": {"id": "3"},
                                "org_units": [{"id": "99", "type": "team"}, {"id": "11", "type": "department"}],
                                "position": {"title": "Developer"}});
        let user = map_person(&person, Some(&employment), &paths).unwrap();
        assert_eq!(user.name.as_deref(), Some("Ann Lee"));
        assert_eq!(user.email.as_deref(), Some("ann@acme.com"));
        assert_eq!(user.department.as_deref(), Some("Engineering/Backend"));
        assert_eq!(user.job_title.as_deref(), Some("Developer"));
        assert_eq!(user.supervisor_id.as_deref(), Some("3"));
        assert_eq!(user.status, Some(Status::Active), "on leave is employed");
        assert_eq!(user.raw_data().unwrap()["employment"]["id"], "e1");
        let left = json!({"id": "e0", "status": "INACTIVE"});
        assert_eq!(
            map_person(&person, Some(&left), &paths).unwrap().status,
            Some(Status::Inactive)
        );
        // Listed as active, yet the employment cannot tell: the fetch stops
        // rather than leave them out (the sync would disable them).
        let odd = json!({"id": "e0", "status": "SABBATICAL"});
        assert!(matches!(
            map_person(&person, Some(&odd), &paths),
            Err(LeftOut::Unsure(why)) if why.contains("\"SABBATICAL\" is none of")
        ));
        assert!(matches!(
            map_person(&person, None, &paths),
            Err(LeftOut::Unsure(why)) if why.contains("has no employment")
        ));
        assert!(matches!(
            map_person(&json!({"id": "8"}), Some(&employment), &paths),
            Err(LeftOut::Unusable(why)) if why.contains("no e-mail")
        ));
    }
}
