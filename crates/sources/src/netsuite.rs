//! fetch-netsuite: employees from NetSuite through SuiteQL, with OAuth 2.0
//! client credentials whose client assertion is a JWT signed with the
//! private key of the certificate uploaded to the integration record
//! (PS256 by default, ES256 or ES512), as the original's NetSuite branch does.
//!
//! Two queries, departments first: their rows become the department tree as
//! paths ([`crate::departments`]), then each employee row becomes a person
//! whose department is the path of its department id. Both default queries
//! order by id, so offset paging neither skips nor repeats a row while
//! NetSuite is edited; an admin's own query (`NETSUITE_EMPLOYEE_QUERY`) should
//! do the same. Inactive employees are kept (the sync disables them).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use scim_core::{ConfigError, Env, Secret};
use scim_http::{Client, ClientOptions, ErrorKind, ErrorText, Hints, More, Next, Paging, Request};
use scim_model::{SourceUser, Status};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::fields::text_of;
use crate::jwt::{Algorithm, KeyError, SigningKey, read_key_file};
use crate::oauth::{Authorized, TokenSource, read_token};

/// The default department query: one row a department, with its parent.
pub const DEFAULT_GROUP_QUERY: &str = "SELECT d.id AS group_id, d.name AS group_name, \
     d.parent AS parent_id FROM department d ORDER BY d.id";

/// The default employee query: everyone with an e-mail, active or not.
pub const DEFAULT_EMPLOYEE_QUERY: &str = "SELECT e.id AS external_id, e.email AS email, \
     e.firstname AS first_name, e.lastname AS last_name, e.entityid AS name, \
     e.title AS job_title, e.supervisor AS supervisor_id, e.department AS group_id, \
     BUILTIN.DF(e.department) AS group_name, \
     CASE WHEN e.isinactive = 'F' THEN 'active' ELSE 'inactive' END AS status \
     FROM employee e WHERE e.email IS NOT NULL ORDER BY e.id";

/// The most rows SuiteQL returns for one query, however it is paged.
pub const SUITEQL_MAX_ROWS: u64 = 100_000;

/// The path of the token endpoint, under the account's host.
pub const TOKEN_PATH: &str = "/services/rest/auth/oauth2/v1/token";
/// The path of the SuiteQL endpoint.
pub const SUITEQL_PATH: &str = "/services/rest/query/v1/suiteql";

/// How long a client assertion is valid (NetSuite takes up to an hour).
const ASSERTION_LIFETIME_SECS: i64 = 300;

/// The `NETSUITE_*` settings.
#[derive(Debug)]
pub struct NetsuiteSettings {
    pub account_id: String,
    /// `https://<account>.suitetalk.api.netsuite.com`, or `NETSUITE_BASE_URL`; no trailing `/`.
    pub base_url: String,
    pub client_id: String,
    pub certificate_id: String,
    pub key: SigningKey,
    pub page_size: u64,
    pub timeout: Duration,
    pub ssl_verify: bool,
    pub employee_query: String,
    pub group_query: String,
    pub allow_empty_result: bool,
}

/// The host of an account: `123456_SB1` → `https://123456-sb1.suitetalk.api.netsuite.com`.
pub fn account_host(account_id: &str) -> String {
    format!(
        "https://{}.suitetalk.api.netsuite.com",
        account_id.to_lowercase().replace('_', "-")
    )
}

impl NetsuiteSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.require(
            "fetch-netsuite",
            &[
                "NETSUITE_ACCOUNT_ID",
                "NETSUITE_CLIENT_ID",
                "NETSUITE_CERTIFICATE_ID",
            ],
        )?;
        let account_id = env.string("NETSUITE_ACCOUNT_ID", "");
        if !account_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError::Invalid {
                var: "NETSUITE_ACCOUNT_ID",
                value: account_id,
                expected: "the account id as NetSuite shows it, e.g. 1234567 or 1234567_SB1",
            });
        }
        let algorithm_text = env.string("NETSUITE_JWT_ALGORITHM", "PS256");
        let algorithm = Algorithm::parse(&algorithm_text)
            .filter(|a| *a != Algorithm::Rs256)
            .ok_or(ConfigError::Invalid {
                var: "NETSUITE_JWT_ALGORITHM",
                value: algorithm_text,
                expected: "PS256, ES256 or ES512 (the certificate's key type)",
            })?;
        let pem = match (
            env.get("NETSUITE_PRIVATE_KEY"),
            env.get("NETSUITE_PRIVATE_KEY_PATH"),
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict(
                    "NETSUITE_PRIVATE_KEY and NETSUITE_PRIVATE_KEY_PATH are both set; set one"
                        .into(),
                ));
            }
            (None, None) => {
                return Err(ConfigError::Missing {
                    var: "NETSUITE_PRIVATE_KEY_PATH",
                    why: "fetch-netsuite signs its token request with the certificate's private key: \
                          set NETSUITE_PRIVATE_KEY_PATH to its PEM file, or NETSUITE_PRIVATE_KEY to its text",
                });
            }
            // A value on one line (an environment variable) writes its line breaks as `\n`.
            (Some(text), None) => text.replace("\\n", "\n"),
            (None, Some(path)) => read_key_file("NETSUITE_PRIVATE_KEY_PATH", path)?,
        };
        let key = SigningKey::from_pem(&pem, algorithm).map_err(|e| {
            ConfigError::Conflict(format!(
                "the NetSuite private key ({}) cannot sign {}: {e}",
                if env.get("NETSUITE_PRIVATE_KEY").is_some() {
                    "NETSUITE_PRIVATE_KEY".to_owned()
                } else {
                    format!(
                        "NETSUITE_PRIVATE_KEY_PATH={}",
                        env.get("NETSUITE_PRIVATE_KEY_PATH").unwrap_or_default()
                    )
                },
                algorithm.name()
            ))
        })?;
        let base_url = env
            .url(
                "NETSUITE_BASE_URL",
                "a base URL such as https://1234567.suitetalk.api.netsuite.com",
            )?
            .map_or_else(|| account_host(&account_id), String::from)
            .trim_end_matches('/')
            .to_owned();
        let page_size =
            env.int_or::<u64>("NETSUITE_PAGE_SIZE", "a whole number from 1 to 1000", 1000)?;
        if !(1..=1000).contains(&page_size) {
            return Err(ConfigError::Invalid {
                var: "NETSUITE_PAGE_SIZE",
                value: page_size.to_string(),
                expected: "a whole number from 1 to 1000",
            });
        }
        let timeout = env.int_or::<u64>(
            "NETSUITE_TIMEOUT_SECONDS",
            "a whole number of seconds, 1 or more",
            30,
        )?;
        if timeout == 0 {
            return Err(ConfigError::Invalid {
                var: "NETSUITE_TIMEOUT_SECONDS",
                value: "0".into(),
                expected: "a whole number of seconds, 1 or more",
            });
        }
        Ok(Self {
            account_id,
            base_url,
            client_id: env.string("NETSUITE_CLIENT_ID", ""),
            certificate_id: env.string("NETSUITE_CERTIFICATE_ID", ""),
            key,
            page_size,
            timeout: Duration::from_secs(timeout),
            ssl_verify: env.bool("NETSUITE_SSL_VERIFY", true)?,
            employee_query: env.string("NETSUITE_EMPLOYEE_QUERY", DEFAULT_EMPLOYEE_QUERY),
            group_query: env.string("NETSUITE_GROUP_QUERY", DEFAULT_GROUP_QUERY),
            allow_empty_result: env.bool("NETSUITE_ALLOW_EMPTY_RESULT", false)?,
        })
    }

    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.base_url)
    }
}

/// The client assertion for the token request at `now` (seconds since the epoch).
pub fn client_assertion(s: &NetsuiteSettings, now: i64) -> Result<String, KeyError> {
    s.key.sign(
        Some(&s.certificate_id),
        &json!({
            "iss": s.client_id,
            "scope": "rest_webservices",
            "aud": s.token_url(),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
            "jti": crate::jwt::random_id()?,
        }),
    )
}

/// The form of the token request.
pub fn token_form(assertion: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".to_owned()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
        ),
        ("client_assertion", assertion.to_owned()),
    ]
}

/// SuiteQL's paging: `limit` and `offset` in the URL, rows in `items`,
/// `hasMore` while there are more.
const SUITEQL: Paging = Paging::new(
    "/items",
    Next::Offset {
        param: "offset",
        more: More::Flag("/hasMore"),
    },
);

const CREDENTIALS: &str = "NETSUITE_CLIENT_ID, NETSUITE_CERTIFICATE_ID and the private key \
     (NETSUITE_PRIVATE_KEY or NETSUITE_PRIVATE_KEY_PATH)";

/// What the token endpoint's failures point at.
const TOKEN_HINTS: Hints = Hints {
    credentials: CREDENTIALS,
    forbidden: "",
    bad_request: "the client assertion was refused: check NETSUITE_CLIENT_ID, \
                  NETSUITE_CERTIFICATE_ID, NETSUITE_JWT_ALGORITHM, and that the private key is \
                  the one of the certificate mapped to the integration (Setup > Integration > \
                  OAuth 2.0 Client Credentials (M2M) Setup)",
    location: "NETSUITE_ACCOUNT_ID (or NETSUITE_BASE_URL)",
    insecure_switch: Some("NETSUITE_SSL_VERIFY"),
    timeout_setting: "NETSUITE_TIMEOUT_SECONDS",
    budget_setting: "",
    wait_budget_setting: "",
};

/// What the queries' failures point at.
const QUERY_HINTS: Hints = Hints {
    credentials: CREDENTIALS,
    forbidden: "the role of the integration's mapping lacks a permission: REST Web Services, \
                and viewing employees and departments",
    bad_request: "NetSuite refused the query (NETSUITE_EMPLOYEE_QUERY or NETSUITE_GROUP_QUERY, \
                  when set)",
    location: "NETSUITE_ACCOUNT_ID (or NETSUITE_BASE_URL)",
    insecure_switch: Some("NETSUITE_SSL_VERIFY"),
    timeout_setting: "NETSUITE_TIMEOUT_SECONDS",
    budget_setting: "",
    wait_budget_setting: "",
};

#[derive(Debug, thiserror::Error)]
pub enum NetsuiteError {
    #[error(transparent)]
    Http(#[from] scim_http::Error),
    #[error(transparent)]
    Map(#[from] MapError),
    #[error(
        "{what} returned {rows} rows, the most SuiteQL returns for one query: the rest would be \
         missing; narrow the query (NETSUITE_EMPLOYEE_QUERY or NETSUITE_GROUP_QUERY)"
    )]
    TooManyRows { what: &'static str, rows: usize },
    #[error(
        "{what} ({setting}) has no ORDER BY and took more than one page: NetSuite pages such a \
         query in no stable order, so a row can be on no page (its employee would be disabled) \
         or on two; end it with ORDER BY and a unique column (ORDER BY e.id)"
    )]
    Unordered {
        what: &'static str,
        setting: &'static str,
    },
}

/// Whether a SuiteQL text orders its rows (`ORDER BY`, in any case and spacing).
fn has_order_by(q: &str) -> bool {
    q.split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| w[0].eq_ignore_ascii_case("order") && w[1].eq_ignore_ascii_case("by"))
}

/// Tokens from NetSuite's token endpoint, each asked for with a new
/// assertion.
struct NetsuiteTokens<'a> {
    s: &'a NetsuiteSettings,
    client: Client,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TokenSource for NetsuiteTokens<'_> {
    async fn token(&mut self) -> Result<(Secret, Duration), scim_http::Error> {
        let url = self.client.url(&self.s.token_url())?;
        // NetSuite takes an assertion once (its jti), so the request is not
        // sent again when it may have arrived; the one more try is a new
        // request with a new assertion.
        let mut tries = 0;
        loop {
            tries += 1;
            let request = Request::post(url.clone(), "the token request").unsafe_to_repeat();
            let assertion = client_assertion(self.s, now()).map_err(|e| {
                self.client.error(
                    &request,
                    ErrorKind::Setup {
                        message: format!("cannot sign the client assertion: {e}"),
                    },
                )
            })?;
            let request = request.form(
                token_form(&assertion)
                    .into_iter()
                    .map(|(k, v)| (k, Secret::new(v)))
                    .collect(),
            );
            match self.client.send(&request).await {
                Err(e) if e.outcome_unknown() && tries < 2 => {
                    warn!("NetSuite: {e}; asking again with a new assertion");
                }
                result => return read_token("NetSuite", &result?),
            }
        }
    }
}

/// Runs one SuiteQL query to its last row.
async fn query(
    ns: &mut Authorized<NetsuiteTokens<'_>>,
    s: &NetsuiteSettings,
    q: &str,
    what: &'static str,
    setting: &'static str,
) -> Result<Vec<Value>, NetsuiteError> {
    let url = ns.api.url(&format!(
        "{}{SUITEQL_PATH}?limit={}&offset=0",
        s.base_url, s.page_size
    ))?;
    let request = Request::post(url, what)
        .header("Prefer", "transient")
        .header("Accept", "application/json")
        .json(json!({ "q": q }));
    let paging = Paging {
        // One page past SuiteQL's own limit ends the walk.
        max_pages: u32::try_from(SUITEQL_MAX_ROWS / s.page_size + 2).unwrap_or(u32::MAX),
        ..SUITEQL
    };
    let rows = ns.all(&request, paging).await?;
    if rows.len() as u64 >= SUITEQL_MAX_ROWS {
        return Err(NetsuiteError::TooManyRows {
            what,
            rows: rows.len(),
        });
    }
    if rows.len() as u64 > s.page_size && !has_order_by(q) {
        return Err(NetsuiteError::Unordered { what, setting });
    }
    Ok(rows)
}

/// Reads the departments, then the employees.
pub async fn fetch(s: &NetsuiteSettings) -> Result<Vec<SourceUser>, NetsuiteError> {
    if !s.ssl_verify {
        warn!(
            "NETSUITE_SSL_VERIFY=false: NetSuite's certificate is not checked; anyone on the \
             network path could read the token and the staff list"
        );
    }
    let options = |hints, json: &'static [&'static str]| ClientOptions {
        timeout: s.timeout,
        verify_tls: s.ssl_verify,
        error_text: ErrorText { json, headers: &[] },
        ..ClientOptions::new("NetSuite", hints)
    };
    let tokens = NetsuiteTokens {
        s,
        client: Client::new(options(TOKEN_HINTS, &["/error_description", "/error"]))?,
    };
    let api = Client::new(options(
        QUERY_HINTS,
        &["/o:errorDetails/0/detail", "/title"],
    ))?;
    let mut ns = Authorized::new(api, tokens);
    let groups = query(
        &mut ns,
        s,
        &s.group_query,
        "the department query",
        "NETSUITE_GROUP_QUERY",
    )
    .await?;
    let paths = department_paths(&groups)?;
    info!("NetSuite: {} departments", paths.len());
    let rows = query(
        &mut ns,
        s,
        &s.employee_query,
        "the employee query",
        "NETSUITE_EMPLOYEE_QUERY",
    )
    .await?;
    let users = map_employees(&rows, &paths)?;
    let inactive = users
        .iter()
        .filter(|u| u.status != Some(Status::Active))
        .count();
    info!(
        "NetSuite: {} employees read, {inactive} inactive, {} left out ({} token{})",
        users.len(),
        rows.len() - users.len(),
        ns.tokens,
        if ns.tokens == 1 { "" } else { "s" }
    );
    Ok(users)
}

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error(transparent)]
    Tree(#[from] crate::departments::TreeError),
    #[error(transparent)]
    RepeatedId(#[from] crate::people::RepeatedId),
}

/// The department paths of the group query's rows.
pub fn department_paths(rows: &[Value]) -> Result<HashMap<String, String>, MapError> {
    let text = |v: &Value, column: &str| Some(text_of(v.get(column))).filter(|t| !t.is_empty());
    Ok(crate::departments::paths(
        "NetSuite",
        rows.iter().map(|r| {
            (
                text(r, "group_id"),
                text(r, "group_name"),
                text(r, "parent_id"),
            )
        }),
    )?)
}

/// Whether a status text means inactive: `inactive`, `disabled`,
/// `terminated`, `t`, `true`, `1` in any case.
fn inactive_word(text: &str) -> bool {
    ["inactive", "disabled", "terminated", "t", "true", "1"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(text.trim()))
}

/// A truthy column: `T`, `true`, `1`, `yes` (NetSuite's booleans are `T`/`F`).
fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        other => ["t", "true", "1", "yes"]
            .iter()
            .any(|w| w.eq_ignore_ascii_case(&text_of(other))),
    }
}

/// The people of the employee query's rows. Column names are compared in
/// lower case, as SuiteQL returns them.
pub fn map_employees(
    rows: &[Value],
    departments: &HashMap<String, String>,
) -> Result<Vec<SourceUser>, MapError> {
    let lower = |r: &Value| -> Value {
        match r {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| k.as_str() != "links")
                    .map(|(k, v)| (k.to_lowercase(), v.clone()))
                    .collect(),
            ),
            other => other.clone(),
        }
    };
    let rows: Vec<Value> = rows.iter().map(lower).collect();
    let managers: HashSet<String> = rows
        .iter()
        .map(|r| text_of(r.get("supervisor_id")))
        .filter(|s| !s.is_empty())
        .collect();
    let mut users = Vec::new();
    for r in &rows {
        let id = text_of(r.get("external_id"));
        let email = text_of(r.get("email")).to_lowercase();
        if id.is_empty() || email.is_empty() {
            warn!(
                "NetSuite: an employee row without {} is left out (id {id:?}, e-mail {email:?})",
                if id.is_empty() { "an id" } else { "an e-mail" }
            );
            continue;
        }
        let full = format!(
            "{} {}",
            text_of(r.get("first_name")),
            text_of(r.get("last_name"))
        )
        .trim()
        .to_owned();
        let name = [full, text_of(r.get("name"))]
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
        let group_id = text_of(r.get("group_id"));
        let department = departments
            .get(&group_id)
            .cloned()
            .unwrap_or_else(|| text_of(r.get("group_name")));
        let status_text = text_of(r.get("status"));
        let inactive = if status_text.is_empty() {
            truthy(r.get("is_inactive"))
        } else {
            inactive_word(&status_text)
        };
        let is_supervisor = truthy(r.get("is_supervisor")) || managers.contains(&id);
        users.push(
            SourceUser {
                external_id: Some(id),
                name: Some(name),
                email: Some(email),
                department: Some(department),
                job_title: Some(text_of(r.get("job_title"))),
                status: Some(if inactive {
                    Status::Inactive
                } else {
                    Status::Active
                }),
                supervisor_id: Some(text_of(r.get("supervisor_id"))),
                is_supervisor: Some(Box::new(Value::Bool(is_supervisor))),
                ..SourceUser::default()
            }
            .with_raw_data(r.clone()),
        );
    }
    crate::people::one_record_per_id("NetSuite", &users)?;
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = include_str!("../../test-support/keys/rsa.pem");
    const P256: &str = include_str!("../../test-support/keys/p256.pem");

    fn env(pairs: &[(&str, &str)]) -> Env {
        let mut all = vec![
            ("NETSUITE_ACCOUNT_ID", "1234567_SB1"),
            ("NETSUITE_CLIENT_ID", "client"),
            ("NETSUITE_CERTIFICATE_ID", "kid"),
            ("NETSUITE_PRIVATE_KEY", RSA),
        ];
        all.extend_from_slice(pairs);
        Env::from_pairs(all)
    }

    #[test]
    fn settings_default_to_the_accounts_host_ps256_and_ordered_queries() {
        let s = NetsuiteSettings::from_env(&env(&[])).unwrap();
        assert_eq!(s.base_url, "https://1234567-sb1.suitetalk.api.netsuite.com");
        assert_eq!(
            s.token_url(),
            "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
        );
        assert_eq!(s.key.algorithm(), Algorithm::Ps256);
        assert_eq!(s.page_size, 1000);
        assert!(s.employee_query.ends_with("ORDER BY e.id"));
        assert!(s.group_query.ends_with("ORDER BY d.id"));
        // A key written on one line with literal \n.
        let one_line = RSA.replace('\n', "\\n");
        assert!(NetsuiteSettings::from_env(&env(&[("NETSUITE_PRIVATE_KEY", &one_line)])).is_ok());
    }

    #[test]
    fn wrong_settings_stop_at_start_naming_the_variable() {
        let err = NetsuiteSettings::from_env(&env(&[("NETSUITE_JWT_ALGORITHM", "RS256")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("NETSUITE_JWT_ALGORITHM"), "{err}");
        let err = NetsuiteSettings::from_env(&env(&[("NETSUITE_JWT_ALGORITHM", "ES256")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("NETSUITE_PRIVATE_KEY") && err.contains("P-256"),
            "{err}"
        );
        assert!(
            NetsuiteSettings::from_env(&env(&[
                ("NETSUITE_JWT_ALGORITHM", "es256"),
                ("NETSUITE_PRIVATE_KEY", P256)
            ]))
            .is_ok()
        );
        for (var, value) in [
            ("NETSUITE_PAGE_SIZE", "1001"),
            ("NETSUITE_PAGE_SIZE", "0"),
            ("NETSUITE_TIMEOUT_SECONDS", "0"),
            ("NETSUITE_BASE_URL", "ftp://x"),
            ("NETSUITE_ACCOUNT_ID", "12 34"),
            ("NETSUITE_PRIVATE_KEY_PATH", "/nonexistent/key.pem"),
        ] {
            let err = NetsuiteSettings::from_env(&env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(var), "{var}={value}: {err}");
        }
        let none = Env::from_pairs([("NETSUITE_ACCOUNT_ID", "1")]);
        let err = NetsuiteSettings::from_env(&none).unwrap_err().to_string();
        assert!(
            err.contains("NETSUITE_CLIENT_ID and NETSUITE_CERTIFICATE_ID"),
            "{err}"
        );
    }

    #[test]
    fn rows_become_people_with_department_paths_and_supervisor_marks() {
        let groups = [
            json!({"group_id": "1", "group_name": "Company", "parent_id": null}),
            json!({"group_id": "2", "group_name": "Sales", "parent_id": "1"}),
        ];
        let paths = department_paths(&groups).unwrap();
        let rows = [
            json!({"external_id": "10", "email": "Boss@Acme.com", "first_name": "Bo", "last_name": "Ss",
                   "name": "E10", "job_title": "CEO", "supervisor_id": null, "group_id": "1",
                   "group_name": "Company", "status": "active", "links": []}),
            json!({"EXTERNAL_ID": "11", "EMAIL": "ann@acme.com", "NAME": "Ann L", "SUPERVISOR_ID": "10",
                   "GROUP_ID": "2", "STATUS": "inactive"}),
            json!({"external_id": "12", "email": "cy@acme.com", "group_id": "99",
                   "group_name": "Old Dept", "status": "", "is_inactive": "T"}),
            json!({"external_id": "13", "email": null}),
            json!({"external_id": "", "email": "x@acme.com"}),
        ];
        let users = map_employees(&rows, &paths).unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].email.as_deref(), Some("boss@acme.com"));
        assert_eq!(users[0].name.as_deref(), Some("Bo Ss"));
        assert_eq!(users[0].department.as_deref(), Some("Company"));
        assert_eq!(users[0].is_supervisor.as_deref(), Some(&json!(true)));
        assert!(users[0].raw_data().unwrap().get("links").is_none());
        assert_eq!(users[1].name.as_deref(), Some("Ann L"));
        assert_eq!(users[1].department.as_deref(), Some("Company/Sales"));
        assert_eq!(users[1].status, Some(Status::Inactive));
        assert_eq!(users[1].is_supervisor.as_deref(), Some(&json!(false)));
        assert_eq!(
            users[2].name.as_deref(),
            Some("cy"),
            "the e-mail's local part"
        );
        assert_eq!(users[2].department.as_deref(), Some("Old Dept"));
        assert_eq!(users[2].status, Some(Status::Inactive), "is_inactive T");
        let twice = [
            json!({"external_id": "1", "email": "a@acme.com"}),
            json!({"external_id": "1", "email": "b@acme.com"}),
        ];
        assert!(matches!(
            map_employees(&twice, &paths),
            Err(MapError::RepeatedId(_))
        ));
    }

    #[test]
    fn order_by_is_found_in_any_case_and_spacing() {
        assert!(has_order_by(DEFAULT_EMPLOYEE_QUERY));
        assert!(has_order_by(DEFAULT_GROUP_QUERY));
        assert!(has_order_by("select 1 from employee\n order\tBY id"));
        assert!(!has_order_by("SELECT e.id FROM employee e"));
        assert!(!has_order_by("SELECT e.border_by FROM employee e"));
    }

    #[test]
    fn status_words_mean_what_the_original_took_them_to_mean() {
        for word in ["inactive", "Disabled", "TERMINATED", "t", "true", "1"] {
            assert!(inactive_word(word), "{word}");
        }
        for word in ["active", "F", "on leave"] {
            assert!(!inactive_word(word), "{word}");
        }
    }
}
