//! fetch-google: the users of a Google Workspace through the Admin SDK
//! Directory API, with a service account that has domain-wide delegation.
//!
//! Google cannot push SCIM to an app of one's own, so Workspace customers
//! pull. The service account signs an RS256 JWT with the key of the JSON key
//! file Google issues (`client_email`, `private_key`, `token_uri`), acting
//! for an administrator (`sub`), with the read-only directory scope; Google's
//! token endpoint returns an access token for the run. Users are listed page
//! after page (`nextPageToken`). Each gets the primary organization's
//! department and title (or, by setting, the org unit path as department),
//! the manager from `relations` (an e-mail, turned into the manager's id),
//! and inactive status when suspended or archived.

use std::collections::HashMap;
use std::time::Duration;

use scim_core::{ConfigError, Env, Secret};
use scim_http::{Client, ClientOptions, ErrorText, Hints, Next, Paging, Request};
use scim_model::{SourceUser, Status};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::fields::text_of;
use crate::jwt::{Algorithm, KeyError, SigningKey, read_key_file};
use crate::oauth::{Authorized, TokenSource, read_token};

pub const DEFAULT_API_URL: &str = "https://admin.googleapis.com";
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The one scope asked for: reading users, nothing else.
pub const SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";
/// The largest page the Directory API gives.
pub const PAGE_SIZE: u32 = 500;
/// Google takes assertions valid for at most an hour.
const ASSERTION_LIFETIME_SECS: i64 = 3600;

/// Where a person's department comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepartmentSource {
    /// The primary organization's `department` (the default).
    Organization,
    /// The org unit path, without its leading `/`.
    OrgUnitPath,
}

/// The service account, from its key file.
#[derive(Debug)]
pub struct ServiceAccount {
    pub client_email: String,
    pub token_uri: String,
    pub key: SigningKey,
}

impl ServiceAccount {
    /// Reads a key file's JSON; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let bad = |what: String| {
            ConfigError::Conflict(format!(
                "{origin} is not a Google service-account key file: {what} (download one at \
                 IAM & Admin > Service accounts > Keys > Add key > JSON)"
            ))
        };
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON ({e})")))?;
        if v["type"] != "service_account" {
            return Err(bad(format!(
                "its type is {}, not \"service_account\"",
                v["type"]
            )));
        }
        let client_email = text_of(v.get("client_email"));
        if !client_email.contains('@') {
            return Err(bad("it has no client_email".into()));
        }
        let token_uri = match text_of(v.get("token_uri")) {
            t if t.is_empty() => DEFAULT_TOKEN_URI.to_owned(),
            t if scim_core::env::http_url(&t).is_some() => t,
            t => return Err(bad(format!("its token_uri {t:?} is not a URL"))),
        };
        let pem = v["private_key"].as_str().unwrap_or_default();
        let key = SigningKey::from_pem(pem, Algorithm::Rs256)
            .map_err(|e| bad(format!("its private_key cannot sign: {e}")))?;
        Ok(Self {
            client_email,
            token_uri,
            key,
        })
    }

    /// The signed assertion for the token request at `now` (seconds since the
    /// epoch), acting for `subject`.
    pub fn assertion(&self, subject: &str, now: i64) -> Result<String, KeyError> {
        self.key.sign(
            None,
            &json!({
                "iss": self.client_email,
                "sub": subject,
                "scope": SCOPE,
                "aud": self.token_uri,
                "iat": now,
                "exp": now + ASSERTION_LIFETIME_SECS,
            }),
        )
    }
}

/// The form of the token request.
pub fn token_form(assertion: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
        ),
        ("assertion", assertion.to_owned()),
    ]
}

/// The `GOOGLE_*` settings.
#[derive(Debug)]
pub struct GoogleSettings {
    pub account: ServiceAccount,
    /// `GOOGLE_ADMIN_EMAIL`: the administrator the service account acts for.
    pub admin_email: String,
    /// `GOOGLE_CUSTOMER_ID`, or `GOOGLE_DOMAIN` when set.
    pub customer: String,
    pub domain: Option<String>,
    pub department_source: DepartmentSource,
    pub api_url: String,
    pub timeout: Duration,
}

impl GoogleSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.require("fetch-google", &["GOOGLE_ADMIN_EMAIL"])?;
        let account = match (
            env.get("GOOGLE_SERVICE_ACCOUNT_KEY"),
            env.get("GOOGLE_SERVICE_ACCOUNT_KEY_FILE"),
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict(
                    "GOOGLE_SERVICE_ACCOUNT_KEY and GOOGLE_SERVICE_ACCOUNT_KEY_FILE are both set; \
                     set one"
                        .into(),
                ));
            }
            (None, None) => {
                return Err(ConfigError::Missing {
                    var: "GOOGLE_SERVICE_ACCOUNT_KEY_FILE",
                    why: "fetch-google signs in as a service account: set it to the JSON key \
                          file Google issued (or GOOGLE_SERVICE_ACCOUNT_KEY to its content)",
                });
            }
            (Some(text), None) => ServiceAccount::from_json(text, "GOOGLE_SERVICE_ACCOUNT_KEY")?,
            (None, Some(path)) => {
                let origin = format!("GOOGLE_SERVICE_ACCOUNT_KEY_FILE={path}");
                let text = read_key_file("GOOGLE_SERVICE_ACCOUNT_KEY_FILE", path)?;
                ServiceAccount::from_json(&text, &origin)?
            }
        };
        let admin_email = env.string("GOOGLE_ADMIN_EMAIL", "");
        if scim_model::email_problem(&admin_email).is_some() {
            return Err(ConfigError::Invalid {
                var: "GOOGLE_ADMIN_EMAIL",
                value: admin_email,
                expected: "the e-mail of a Workspace administrator who may read users",
            });
        }
        let department_source = match env
            .string("GOOGLE_DEPARTMENT_SOURCE", "organization")
            .to_lowercase()
            .as_str()
        {
            "organization" => DepartmentSource::Organization,
            "org_unit_path" | "orgunitpath" => DepartmentSource::OrgUnitPath,
            _ => {
                return Err(ConfigError::Invalid {
                    var: "GOOGLE_DEPARTMENT_SOURCE",
                    value: env
                        .get("GOOGLE_DEPARTMENT_SOURCE")
                        .unwrap_or_default()
                        .to_owned(),
                    expected: "organization (the primary organization's department) or \
                               org_unit_path",
                });
            }
        };
        if env.get("GOOGLE_DOMAIN").is_some() && env.get("GOOGLE_CUSTOMER_ID").is_some() {
            // The listing takes one or the other; one of them would be ignored.
            return Err(ConfigError::Conflict(
                "GOOGLE_DOMAIN and GOOGLE_CUSTOMER_ID are both set, and the listing reads one \
                 or the other: set GOOGLE_DOMAIN for the users of one domain, or \
                 GOOGLE_CUSTOMER_ID for a whole account"
                    .into(),
            ));
        }
        let api_url = env.url_or(
            "GOOGLE_API_URL",
            "the Admin SDK's base URL, e.g. https://admin.googleapis.com",
            DEFAULT_API_URL,
        )?;
        Ok(Self {
            account,
            admin_email,
            customer: env.string("GOOGLE_CUSTOMER_ID", "my_customer"),
            domain: env.get("GOOGLE_DOMAIN").map(str::to_owned),
            department_source,
            api_url: api_url.trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(60),
        })
    }
}

/// The Directory API's listing: users in `users`, the next page's token in
/// `nextPageToken`, sent back as `pageToken`.
const USERS: Paging = Paging::new(
    "/users",
    Next::Cursor {
        token_at: "/nextPageToken",
        param: "pageToken",
        more: None,
    },
);

const CREDENTIALS: &str = "GOOGLE_SERVICE_ACCOUNT_KEY_FILE (or GOOGLE_SERVICE_ACCOUNT_KEY) and \
     GOOGLE_ADMIN_EMAIL; in the Admin console (Security > Access and data control > API \
     controls > Domain-wide delegation) the service account's client id needs the scope \
     https://www.googleapis.com/auth/admin.directory.user.readonly";

/// What the token endpoint's failures point at.
const TOKEN_HINTS: Hints = Hints {
    credentials: CREDENTIALS,
    forbidden: "",
    bad_request: "Google refused the service account's assertion: check that its key is current \
                  (GOOGLE_SERVICE_ACCOUNT_KEY_FILE or GOOGLE_SERVICE_ACCOUNT_KEY) and that \
                  GOOGLE_ADMIN_EMAIL is a user of the domain",
    location: "the key file's token_uri",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

/// What the Directory API's failures point at.
const API_HINTS: Hints = Hints {
    credentials: CREDENTIALS,
    forbidden: "GOOGLE_ADMIN_EMAIL may not read the users (an administrator with the Users \
                read privilege is needed), or GOOGLE_CUSTOMER_ID / GOOGLE_DOMAIN names another \
                organization",
    bad_request: "check GOOGLE_CUSTOMER_ID and GOOGLE_DOMAIN",
    location: "GOOGLE_API_URL",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    #[error(transparent)]
    Http(#[from] scim_http::Error),
    #[error(transparent)]
    RepeatedId(#[from] crate::people::RepeatedId),
}

/// Tokens from Google's token endpoint for the service account, acting for
/// the admin.
struct GoogleTokens<'a> {
    s: &'a GoogleSettings,
    client: Client,
}

impl TokenSource for GoogleTokens<'_> {
    async fn token(&mut self) -> Result<(Secret, Duration), scim_http::Error> {
        let url = self.client.url(&self.s.account.token_uri)?;
        let request = Request::post(url, "the token request");
        let assertion = self
            .s
            .account
            .assertion(&self.s.admin_email, chrono::Utc::now().timestamp())
            .map_err(|e| {
                self.client.error(
                    &request,
                    scim_http::ErrorKind::Setup {
                        message: format!("cannot sign the assertion: {e}"),
                    },
                )
            })?;
        let request = request.form(
            token_form(&assertion)
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
        );
        read_token("Google", &self.client.send(&request).await?)
    }
}

/// Reads every user of the customer (or the domain).
pub async fn fetch(s: &GoogleSettings) -> Result<Vec<SourceUser>, GoogleError> {
    let options = |hints, json: &'static [&'static str]| ClientOptions {
        timeout: s.timeout,
        error_text: ErrorText { json, headers: &[] },
        ..ClientOptions::new("Google", hints)
    };
    let tokens = GoogleTokens {
        s,
        client: Client::new(options(TOKEN_HINTS, &["/error_description", "/error"]))?,
    };
    let api = Client::new(options(API_HINTS, &["/error/message"]))?;
    let mut url = api.url(&format!("{}/admin/directory/v1/users", s.api_url))?;
    {
        let mut query = url.query_pairs_mut();
        match &s.domain {
            Some(domain) => query.append_pair("domain", domain),
            None => query.append_pair("customer", &s.customer),
        };
        query
            .append_pair("maxResults", &PAGE_SIZE.to_string())
            .append_pair("projection", "full");
    }
    let mut google = Authorized::new(api, tokens);
    let raw = google
        .all(&Request::get(url, "the user listing"), USERS)
        .await?;
    let users = map_users(&raw, s.department_source);
    crate::people::one_record_per_id("Google", &users)?;
    info!(
        "Google: {} users read, {} suspended or archived",
        users.len(),
        users
            .iter()
            .filter(|u| u.status != Some(Status::Active))
            .count()
    );
    Ok(users)
}

/// The primary organization (else the first).
fn organization(u: &Value) -> Option<&Value> {
    let orgs = u.get("organizations")?.as_array()?;
    orgs.iter()
        .find(|o| o.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| orgs.first())
}

/// The manager's e-mail from `relations`.
fn manager_email(u: &Value) -> Option<String> {
    u.get("relations")?
        .as_array()?
        .iter()
        .find(|r| r.get("type").and_then(Value::as_str) == Some("manager"))
        .map(|r| text_of(r.get("value")).to_lowercase())
        .filter(|e| !e.is_empty())
}

/// The people of a listing. Managers are named by e-mail in Google; each is
/// replaced by the manager's id, so `supervisor_id` is an `external_id` like
/// every source's. A manager who is not among the users is warned about and
/// left out of the record.
pub fn map_users(raw: &[Value], departments: DepartmentSource) -> Vec<SourceUser> {
    // Each address's user: a primary address before an alias; an address two
    // users claim alike names nobody (`None`), whatever their order.
    let mut ids_by_email: HashMap<String, (u8, Option<String>)> = HashMap::new();
    let mut claim = |address: String, rank: u8, id: &str| {
        if address.is_empty() {
            return;
        }
        let entry = ids_by_email
            .entry(address)
            .or_insert_with(|| (rank, Some(id.to_owned())));
        if rank < entry.0 {
            *entry = (rank, Some(id.to_owned()));
        } else if rank == entry.0 && entry.1.as_deref() != Some(id) {
            entry.1 = None;
        }
    };
    for u in raw {
        let id = text_of(u.get("id"));
        if id.is_empty() {
            continue;
        }
        claim(text_of(u.get("primaryEmail")).to_lowercase(), 0, &id);
        for alias in u
            .get("emails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            claim(text_of(alias.get("address")).to_lowercase(), 1, &id);
        }
    }
    let mut users = Vec::with_capacity(raw.len());
    for u in raw {
        let id = text_of(u.get("id"));
        let email = text_of(u.get("primaryEmail")).to_lowercase();
        if id.is_empty() || email.is_empty() {
            warn!("Google: a user without an id or primaryEmail is left out ({id:?})");
            continue;
        }
        let name = u.get("name");
        let full = text_of(name.and_then(|n| n.get("fullName")));
        let name = if full.is_empty() {
            let joined = format!(
                "{} {}",
                text_of(name.and_then(|n| n.get("givenName"))),
                text_of(name.and_then(|n| n.get("familyName")))
            )
            .trim()
            .to_owned();
            if joined.is_empty() {
                email.clone()
            } else {
                joined
            }
        } else {
            full
        };
        let org = organization(u);
        let department = match departments {
            DepartmentSource::Organization => text_of(org.and_then(|o| o.get("department"))),
            DepartmentSource::OrgUnitPath => text_of(u.get("orgUnitPath"))
                .trim_start_matches('/')
                .to_owned(),
        };
        let supervisor = match manager_email(u) {
            None => String::new(),
            Some(m) => match ids_by_email.get(&m) {
                Some((_, Some(boss))) => boss.clone(),
                Some((_, None)) => {
                    warn!(
                        "Google: the manager {m} of {email} is the address of more than one \
                         user; {email} gets no supervisor"
                    );
                    String::new()
                }
                None => {
                    warn!(
                        "Google: the manager {m} of {email} is not among the users read; \
                         {email} gets no supervisor"
                    );
                    String::new()
                }
            },
        };
        let flag = |k: &str| u.get(k).and_then(Value::as_bool) == Some(true);
        let inactive = flag("suspended") || flag("archived");
        users.push(
            SourceUser {
                external_id: Some(id),
                name: Some(name),
                email: Some(email),
                department: Some(department),
                job_title: Some(text_of(org.and_then(|o| o.get("title")))),
                status: Some(if inactive {
                    Status::Inactive
                } else {
                    Status::Active
                }),
                supervisor_id: Some(supervisor),
                ..SourceUser::default()
            }
            .with_raw_data(u.clone()),
        );
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = include_str!("../../test-support/keys/rsa.pem");

    fn key_file() -> String {
        json!({"type": "service_account", "client_email": "sync@p.iam.gserviceaccount.com",
               "private_key": RSA, "token_uri": "https://oauth2.googleapis.com/token"})
        .to_string()
    }

    #[test]
    fn a_token_uri_without_a_host_is_refused_with_the_key_file_named() {
        for uri in ["https://", "https//oauth2.googleapis.com", "ftp://h/t"] {
            let text = json!({"type": "service_account",
                              "client_email": "sync@p.iam.gserviceaccount.com",
                              "private_key": RSA, "token_uri": uri})
            .to_string();
            let err = ServiceAccount::from_json(&text, "key.json").unwrap_err();
            assert!(
                err.to_string().contains("is not a URL") && err.to_string().contains("key.json"),
                "{uri}: {err}"
            );
        }
    }

    #[test]
    fn the_key_file_signs_an_assertion_for_the_admin() {
        let account = ServiceAccount::from_json(&key_file(), "k").unwrap();
        let token = account.assertion("admin@acme.com", 1_800_000_000).unwrap();
        let claims: Value = {
            use base64::Engine;
            let part = token.split('.').nth(1).unwrap();
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(part)
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(claims["sub"], "admin@acme.com");
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
        assert_eq!(claims["exp"], 1_800_003_600);
    }

    #[test]
    fn a_file_that_is_not_a_service_account_key_is_named() {
        for text in [
            "{",
            r#"{"type": "authorized_user"}"#,
            r#"{"type": "service_account", "client_email": "a@b", "private_key": "x"}"#,
        ] {
            let err = ServiceAccount::from_json(text, "GOOGLE_SERVICE_ACCOUNT_KEY_FILE=k.json")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("GOOGLE_SERVICE_ACCOUNT_KEY_FILE=k.json is not a Google service-account key file"),
                "{err}"
            );
        }
        let env = Env::from_pairs([
            ("GOOGLE_ADMIN_EMAIL", "admin@acme.com"),
            ("GOOGLE_SERVICE_ACCOUNT_KEY", key_file().as_str()),
            ("GOOGLE_DEPARTMENT_SOURCE", "cost_center"),
        ]);
        assert!(
            GoogleSettings::from_env(&env)
                .unwrap_err()
                .to_string()
                .contains("GOOGLE_DEPARTMENT_SOURCE")
        );
        let env = Env::from_pairs([
            ("GOOGLE_ADMIN_EMAIL", "admin@acme.com"),
            ("GOOGLE_SERVICE_ACCOUNT_KEY", key_file().as_str()),
            ("GOOGLE_DOMAIN", "acme.com"),
            ("GOOGLE_CUSTOMER_ID", "C03az79cb"),
        ]);
        let err = GoogleSettings::from_env(&env).unwrap_err().to_string();
        assert!(
            err.contains("GOOGLE_DOMAIN and GOOGLE_CUSTOMER_ID are both set"),
            "one would be ignored: {err}"
        );
    }

    #[test]
    fn users_get_their_primary_organization_manager_and_status() {
        let raw = [
            json!({"id": "1", "primaryEmail": "Boss@acme.com", "name": {"fullName": "Bo Ss"},
                   "orgUnitPath": "/", "organizations": [{"department": "Board", "title": "CEO", "primary": true}]}),
            json!({"id": "2", "primaryEmail": "ann@acme.com", "name": {"givenName": "Ann", "familyName": "Lee"},
                   "orgUnitPath": "/Engineering/Backend",
                   "organizations": [{"department": "Old", "title": "x"}, {"department": "Engineering", "title": "Dev", "primary": true}],
                   "relations": [{"type": "assistant", "value": "x@acme.com"}, {"type": "manager", "value": "BOSS@acme.com"}]}),
            json!({"id": "3", "primaryEmail": "cy@acme.com", "suspended": true,
                   "relations": [{"type": "manager", "value": "gone@acme.com"}]}),
            json!({"id": "4", "primaryEmail": "di@acme.com", "archived": true}),
        ];
        let users = map_users(&raw, DepartmentSource::Organization);
        assert_eq!(users[0].email.as_deref(), Some("boss@acme.com"));
        assert_eq!(users[1].name.as_deref(), Some("Ann Lee"));
        assert_eq!(users[1].department.as_deref(), Some("Engineering"));
        assert_eq!(users[1].job_title.as_deref(), Some("Dev"));
        assert_eq!(users[1].supervisor_id.as_deref(), Some("1"));
        assert_eq!(users[2].supervisor_id.as_deref(), Some(""));
        assert_eq!(users[2].name.as_deref(), Some("cy@acme.com"));
        assert_eq!(users[2].status, Some(Status::Inactive));
        assert_eq!(users[3].status, Some(Status::Inactive));
        assert_eq!(users[0].status, Some(Status::Active));
        // Whatever the order of the listing, the same managers.
        let mut reversed = raw.to_vec();
        reversed.reverse();
        let again = map_users(&reversed, DepartmentSource::Organization);
        assert_eq!(again[2].supervisor_id.as_deref(), Some("1"));
        let by_unit = map_users(&raw, DepartmentSource::OrgUnitPath);
        assert_eq!(
            by_unit[1].department.as_deref(),
            Some("Engineering/Backend")
        );
        assert_eq!(by_unit[0].department.as_deref(), Some(""));
    }

    #[test]
    fn a_manager_address_two_users_claim_names_nobody_in_any_order() {
        let report = json!({"id": "9", "primaryEmail": "ann@acme.com",
                            "relations": [{"type": "manager", "value": "boss@acme.com"}]});
        let one = json!({"id": "1", "primaryEmail": "boss@acme.com"});
        let two = json!({"id": "2", "primaryEmail": "BOSS@acme.com"});
        // An alias does not take the address from a primary one.
        let alias = json!({"id": "3", "primaryEmail": "c@acme.com",
                           "emails": [{"address": "boss@acme.com"}]});
        for raw in [
            vec![report.clone(), one.clone(), two.clone()],
            vec![two.clone(), one.clone(), report.clone()],
        ] {
            let users = map_users(&raw, DepartmentSource::Organization);
            let ann = users.iter().find(|u| u.external_id.as_deref() == Some("9"));
            assert_eq!(ann.unwrap().supervisor_id.as_deref(), Some(""));
        }
        for raw in [
            vec![report.clone(), alias.clone(), one.clone()],
            vec![one.clone(), alias.clone(), report.clone()],
        ] {
            let users = map_users(&raw, DepartmentSource::Organization);
            let ann = users.iter().find(|u| u.external_id.as_deref() == Some("9"));
            assert_eq!(ann.unwrap().supervisor_id.as_deref(), Some("1"));
        }
    }
}
