//! fetch-azuread: users from Microsoft Entra ID through Microsoft Graph.
//!
//! A client-credentials token is fetched once and reused for the run (kept in
//! memory: the admin's `.env` is never rewritten); a 401 gets one fresh
//! token. Pages are followed through `@odata.nextLink` to the end (on Graph's
//! own origin only: the token never goes to another host), throttling (429,
//! 503, 504) is retried with `Retry-After`, both by the shared HTTP layer
//! (`scim-http`), and disabled accounts come through as inactive. With `AZURE_FILTER_GROUPS`, members of nested
//! groups count, and a group that does not exist fails the fetch
//! instead of producing an empty list.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use scim_core::{ConfigError, Env, Secret};
use scim_http::{
    Client, ClientOptions, ErrorKind, ErrorText, Hints, Next, Pages, Paging, Request, Url,
};
use scim_model::{SourceUser, Status};
use serde_json::Value;
use tracing::{info, warn};

pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
const USER_FIELDS: &str =
    "id,displayName,mail,userPrincipalName,department,jobTitle,givenName,surname,accountEnabled";

/// Graph's collections: items in `value`, the next page in `@odata.nextLink`.
const PAGING: Paging = Paging::new("/value", Next::UrlAt("/@odata.nextLink"));

/// What the token endpoint's failures point at.
const TOKEN_HINTS: Hints = Hints {
    credentials: "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
    forbidden: "",
    bad_request: "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
    location: "AZURE_LOGIN_URL",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

/// What Graph's failures point at.
const GRAPH_HINTS: Hints = Hints {
    credentials: "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
    forbidden: "the app registration lacks a Graph application permission \
                (User.Read.All, and GroupMember.Read.All for the group settings)",
    bad_request: "",
    location: "AZURE_GRAPH_URL (and AZURE_SCIM_ENDPOINT, if set)",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

/// The `AZURE_*` settings.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub login_url: String,
    pub graph_url: String,
    /// The users collection: `AZURE_SCIM_ENDPOINT` when it is one, else `<graph>/v1.0/users`.
    pub users_url: String,
    pub prefer_real_email: bool,
    pub filter_groups: Vec<String>,
    /// `AZURE_SUPERVISOR_GROUPS`: members get the supervisor role (`role_id` 2).
    pub supervisor_groups: Vec<String>,
    pub additional_email: AdditionalEmail,
    pub timeout: Duration,
}

/// `AZURE_ADDITIONAL_EMAIL_SOURCE`: which Graph field becomes the user's
/// additional e-mail (`real_email`), which the sync writes to TimeCamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdditionalEmail {
    #[default]
    None,
    Mail,
    UserPrincipalName,
}

impl AdditionalEmail {
    fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value.map(|v| v.trim().to_lowercase()).as_deref() {
            None | Some("") | Some("none") => Ok(Self::None),
            Some("mail") => Ok(Self::Mail),
            Some("userprincipalname") | Some("upn") => Ok(Self::UserPrincipalName),
            Some(_) => Err(ConfigError::Invalid {
                var: "AZURE_ADDITIONAL_EMAIL_SOURCE",
                value: value.unwrap_or_default().to_owned(),
                expected: "mail, userPrincipalName (or upn), or none",
            }),
        }
    }

    fn field(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Mail => Some("mail"),
            Self::UserPrincipalName => Some("userPrincipalName"),
        }
    }
}

impl AzureSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.require(
            "fetch-azuread",
            &["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"],
        )?;
        let graph_url = env
            .url_or(
                "AZURE_GRAPH_URL",
                "Graph's base URL, e.g. https://graph.microsoft.com",
                DEFAULT_GRAPH_URL,
            )?
            .trim_end_matches('/')
            .to_owned();
        let default_users = format!("{graph_url}/v1.0/users");
        let users_url = match env.get("AZURE_SCIM_ENDPOINT") {
            Some(url) if url.trim_end_matches('/').ends_with("/v1.0/users") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => {
                // The sample's SCIM URL and the Helm default without /users never worked.
                warn!(
                    "AZURE_SCIM_ENDPOINT={url} is not a Graph users URL; reading {default_users}"
                );
                default_users
            }
            None => default_users,
        };
        Ok(Self {
            tenant_id: env.string("AZURE_TENANT_ID", ""),
            client_id: env.string("AZURE_CLIENT_ID", ""),
            client_secret: Secret::new(env.string("AZURE_CLIENT_SECRET", "")),
            login_url: env
                .url_or(
                    "AZURE_LOGIN_URL",
                    "the identity platform's base URL, e.g. https://login.microsoftonline.com",
                    DEFAULT_LOGIN_URL,
                )?
                .trim_end_matches('/')
                .to_owned(),
            graph_url,
            users_url,
            prefer_real_email: env.bool("AZURE_PREFER_REAL_EMAIL", false)?,
            filter_groups: env.list("AZURE_FILTER_GROUPS"),
            supervisor_groups: env.list("AZURE_SUPERVISOR_GROUPS"),
            additional_email: AdditionalEmail::parse(env.get("AZURE_ADDITIONAL_EMAIL_SOURCE"))?,
            timeout: Duration::from_secs(60),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    #[error(transparent)]
    Http(#[from] scim_http::Error),
    #[error("{var}: no group named {name:?} (names are exact and case-sensitive)")]
    UnknownGroup { var: &'static str, name: String },
}

/// Quotes a string for an OData filter (`'` doubles).
pub fn odata_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Maps a Graph user; `None` (with the reason) when it cannot be a TimeCamp user.
pub fn map_user(
    u: &Value,
    prefer_real_email: bool,
    additional: AdditionalEmail,
) -> Result<SourceUser, String> {
    let text = |k: &str| {
        u.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let id = text("id");
    let (mail, upn) = (text("mail"), text("userPrincipalName"));
    let email = if prefer_real_email && !mail.is_empty() {
        mail
    } else {
        upn
    };
    if email.is_empty() {
        return Err(format!("user {id} has neither mail nor userPrincipalName"));
    }
    let mut name = text("displayName");
    if name.is_empty() {
        name = format!("{} {}", text("givenName"), text("surname"))
            .trim()
            .to_owned();
    }
    let enabled = u
        .get("accountEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let manager = u
        .get("manager")
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(SourceUser {
        external_id: Some(id),
        name: Some(name),
        email: Some(email.to_lowercase()),
        department: Some(text("department")),
        job_title: Some(text("jobTitle")),
        status: Some(if enabled {
            Status::Active
        } else {
            Status::Inactive
        }),
        supervisor_id: Some(manager),
        real_email: additional
            .field()
            .map(|f| text(f).to_lowercase())
            .filter(|e| !e.is_empty()),
        ..SourceUser::default()
    }
    .with_raw_data(u.clone()))
}

struct Graph<'a> {
    s: &'a AzureSettings,
    login: Client,
    http: Client,
    token: Option<(Secret, Instant)>,
    tokens: u32,
}

impl Graph<'_> {
    async fn token(&mut self, fresh: bool) -> Result<Secret, AzureError> {
        if !fresh
            && let Some((token, until)) = &self.token
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let url = self.login.url(&format!(
            "{}/{}/oauth2/v2.0/token",
            self.s.login_url, self.s.tenant_id
        ))?;
        let request = Request::post(url, "the token request").form(vec![
            ("grant_type", Secret::new("client_credentials")),
            ("client_id", Secret::new(self.s.client_id.as_str())),
            ("client_secret", self.s.client_secret.clone()),
            ("scope", Secret::new("https://graph.microsoft.com/.default")),
        ]);
        let response = self.login.send(&request).await?;
        let (token, lifetime) = crate::oauth::read_token("Entra ID", &response)?;
        // Renewed five minutes early, as the original did.
        let until = crate::oauth::renew_at(lifetime, Duration::from_secs(300));
        self.tokens += 1;
        self.token = Some((token.clone(), until));
        Ok(token)
    }

    /// A Graph GET, with one re-authentication on 401.
    async fn get(&mut self, url: Url, call: &str) -> Result<scim_http::Response, AzureError> {
        let mut renewed = false;
        loop {
            let token = self.token(renewed).await?;
            let request = Request::get(url.clone(), call).bearer(&token);
            match self.http.send(&request).await {
                Err(e) if e.status() == Some(401) && !renewed => renewed = true,
                result => return Ok(result?),
            }
        }
    }

    /// Every item of a collection, following `@odata.nextLink` to the end.
    async fn all(&mut self, first: Url, call: &str) -> Result<Vec<Value>, AzureError> {
        let mut pages = Pages::new(first, PAGING);
        let mut items = Vec::new();
        while let Some(url) = pages.next_url().cloned() {
            let page_call = format!("{call}, page {}", pages.page());
            let response = self.get(url, &page_call).await?;
            let page = pages
                .accept(response.headers(), response.body())
                .map_err(|e| response.failure(ErrorKind::Paging(e)))?;
            items.extend(page);
            info!("Graph: {} read so far ({page_call})", items.len());
        }
        Ok(items)
    }

    /// The ids of the members (nested groups included) of the groups named
    /// in `var`; a name no group has fails the fetch.
    async fn members_of(
        &mut self,
        var: &'static str,
        names: &[String],
    ) -> Result<HashSet<String>, AzureError> {
        let mut ids = HashSet::new();
        for name in names {
            let mut url = self
                .http
                .url(&format!("{}/v1.0/groups", self.s.graph_url))?;
            url.query_pairs_mut()
                .append_pair("$filter", &format!("displayName eq {}", odata_quote(name)))
                .append_pair("$select", "id");
            let found = self.get(url, &format!("group {name:?}")).await?.json()?;
            let Some(id) = found["value"]
                .get(0)
                .and_then(|g| g["id"].as_str())
                .map(str::to_owned)
            else {
                return Err(AzureError::UnknownGroup {
                    var,
                    name: name.clone(),
                });
            };
            let first = self.http.url(&format!(
                "{}/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user?$select=id&$top=999",
                self.s.graph_url
            ))?;
            let members = self.all(first, &format!("members of {name:?}")).await?;
            info!(
                "Group {name:?}: {} users (nested groups included)",
                members.len()
            );
            ids.extend(
                members
                    .iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_owned)),
            );
        }
        Ok(ids)
    }
}

/// Reads the users (of the filter groups, when set).
pub async fn fetch(s: &AzureSettings) -> Result<Vec<SourceUser>, AzureError> {
    let mut graph = Graph {
        s,
        login: Client::new(ClientOptions {
            timeout: s.timeout,
            error_text: ErrorText {
                json: &["/error_description", "/error"],
                headers: &[],
            },
            ..ClientOptions::new("Entra ID", TOKEN_HINTS)
        })?,
        http: Client::new(ClientOptions {
            timeout: s.timeout,
            error_text: ErrorText {
                json: &["/error/message"],
                headers: &[],
            },
            ..ClientOptions::new("Graph", GRAPH_HINTS)
        })?,
        token: None,
        tokens: 0,
    };
    let allowed = if s.filter_groups.is_empty() {
        None
    } else {
        Some(
            graph
                .members_of("AZURE_FILTER_GROUPS", &s.filter_groups)
                .await?,
        )
    };
    let supervisors = graph
        .members_of("AZURE_SUPERVISOR_GROUPS", &s.supervisor_groups)
        .await?;
    if !s.supervisor_groups.is_empty() && supervisors.is_empty() {
        warn!(
            "AZURE_SUPERVISOR_GROUPS: the groups have no members; nobody gets the supervisor role from them"
        );
    }
    let first = graph.http.url(&format!(
        "{}?$select={USER_FIELDS}&$expand=manager($select=id)&$top=999",
        s.users_url
    ))?;
    let raw = graph.all(first, "users").await?;
    let mut users = Vec::with_capacity(raw.len());
    for u in &raw {
        let id = u["id"].as_str().unwrap_or_default();
        if allowed.as_ref().is_some_and(|a| !a.contains(id)) {
            continue;
        }
        match map_user(u, s.prefer_real_email, s.additional_email) {
            Ok(mut user) => {
                if supervisors.contains(id) {
                    user.role_id = Some("2".into());
                }
                users.push(user);
            }
            Err(why) => warn!("skipped: {why}"),
        }
    }
    info!(
        "Graph listed {} users; {} kept ({} tokens used)",
        raw.len(),
        users.len(),
        graph.tokens
    );
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odata_strings_double_their_quotes() {
        assert_eq!(odata_quote("O'Brien's team"), "'O''Brien''s team'");
    }

    #[test]
    fn users_map_with_email_preference_and_account_state() {
        let u = json!({"id": "g1", "displayName": " Ada ", "mail": "Ada@Contoso.com",
                       "userPrincipalName": "ada@contoso.onmicrosoft.com", "accountEnabled": false,
                       "manager": {"@odata.type": "#microsoft.graph.user", "id": "g0"}});
        let a = map_user(&u, false, AdditionalEmail::None).unwrap();
        assert_eq!(a.email.as_deref(), Some("ada@contoso.onmicrosoft.com"));
        assert_eq!(a.status, Some(Status::Inactive));
        assert_eq!(a.supervisor_id.as_deref(), Some("g0"));
        assert_eq!(a.department.as_deref(), Some(""));
        assert_eq!(a.real_email, None);
        let b = map_user(&u, true, AdditionalEmail::UserPrincipalName).unwrap();
        assert_eq!(b.email.as_deref(), Some("ada@contoso.com"));
        assert_eq!(b.real_email.as_deref(), Some("ada@contoso.onmicrosoft.com"));
        let c = map_user(&u, false, AdditionalEmail::Mail).unwrap();
        assert_eq!(c.real_email.as_deref(), Some("ada@contoso.com"));
        assert!(map_user(&json!({"id": "x"}), false, AdditionalEmail::None).is_err());
    }

    #[test]
    fn additional_email_source_is_parsed_at_start() {
        let with = |v: &'static str| {
            AzureSettings::from_env(&Env::from_pairs([
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s"),
                ("AZURE_ADDITIONAL_EMAIL_SOURCE", v),
            ]))
            .map(|s| s.additional_email)
        };
        assert_eq!(with(" Mail ").unwrap(), AdditionalEmail::Mail);
        assert_eq!(with("UPN").unwrap(), AdditionalEmail::UserPrincipalName);
        assert_eq!(
            with("userPrincipalName").unwrap(),
            AdditionalEmail::UserPrincipalName
        );
        assert_eq!(with("none").unwrap(), AdditionalEmail::None);
        assert!(matches!(
            with("otherMails"),
            Err(ConfigError::Invalid {
                var: "AZURE_ADDITIONAL_EMAIL_SOURCE",
                ..
            })
        ));
    }

    #[test]
    fn scim_endpoint_is_used_only_when_it_is_a_users_collection() {
        let base = [
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ];
        let with = |v: &'static str| {
            let mut p = base.to_vec();
            p.push(("AZURE_SCIM_ENDPOINT", v));
            AzureSettings::from_env(&Env::from_pairs(p))
                .unwrap()
                .users_url
        };
        assert_eq!(
            with("https://graph.microsoft.com/v1.0/users"),
            "https://graph.microsoft.com/v1.0/users"
        );
        assert_eq!(
            with("https://graph.microsoft.com/v1.0"),
            "https://graph.microsoft.com/v1.0/users"
        );
        let err =
            AzureSettings::from_env(&Env::from_pairs([("AZURE_TENANT_ID", "t")])).unwrap_err();
        assert!(
            err.to_string()
                .contains("fetch-azuread needs AZURE_CLIENT_ID and AZURE_CLIENT_SECRET: set them")
        );
    }
}
