//! fetch-ldap: users from LDAP / Active Directory.
//!
//! One paged search of the base DN, then base reads of managers (their
//! `objectGUID`), of OU descriptions when asked, and of supervisors outside
//! the filter. Everything is read before anything is written, so a broken
//! connection in the middle leaves the previous `var/users.json` in place.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use scim_core::{ConfigError, Env, Secret};
use scim_model::SourceUser;
use tracing::{debug, info, warn};

use crate::ldap_map::{self, EmailMode, Entry, MapOptions};

/// Enabled accounts only, Active Directory style.
pub const DEFAULT_FILTER: &str =
    "(&(objectClass=person)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))";

/// Attributes read from every entry.
const ATTRIBUTES: &[&str] = &[
    "objectGUID",
    "entryUUID",
    "sAMAccountName",
    "mail",
    "displayName",
    "department",
    "title",
    "givenName",
    "sn",
    "mobile",
    "telephoneNumber",
    "streetAddress",
    "postalCode",
    "manager",
    "memberOf",
    "userAccountControl",
];

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Ldaps,
    StartTls,
}

/// The `LDAP_*` settings.
#[derive(Debug, Clone)]
pub struct LdapSettings {
    pub host: String,
    pub port: u16,
    pub base_dn: String,
    pub username: String,
    pub password: Secret,
    pub filter: String,
    pub page_size: i32,
    pub transport: Transport,
    pub verify_tls: bool,
    pub use_ou_structure: bool,
    pub use_ou_description: bool,
    /// Fetch supervisors outside the filter (`TIMECAMP_USE_SUPERVISOR_GROUPS`).
    pub fetch_missing_supervisors: bool,
    pub timeout: Duration,
    pub map: MapOptions,
}

impl LdapSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        env.require(
            "fetch-ldap",
            &[
                "LDAP_HOST",
                "LDAP_DOMAIN",
                "LDAP_DN",
                "LDAP_USERNAME",
                "LDAP_PASSWORD",
            ],
        )?;
        let ssl = env.bool("LDAP_USE_SSL", false)?;
        let start_tls = env.bool("LDAP_USE_START_TLS", false)?;
        if ssl && start_tls {
            return Err(ConfigError::Conflict(
                "LDAP_USE_SSL and LDAP_USE_START_TLS are both true: choose LDAPS (port 636) or StartTLS (port 389)".into(),
            ));
        }
        let mut port: u16 = env.int_or("LDAP_PORT", "a TCP port number (1-65535)", 389)?;
        // Port 636 means LDAPS unless the admin said otherwise, as in the original.
        let auto_ssl = env.get("LDAP_USE_SSL").is_none()
            && env.get("LDAP_USE_START_TLS").is_none()
            && port == 636;
        let transport = if ssl || auto_ssl {
            if port == 389 {
                port = 636;
            }
            Transport::Ldaps
        } else if start_tls {
            Transport::StartTls
        } else {
            Transport::Plain
        };
        let page_size: i32 =
            env.int_or("LDAP_PAGE_SIZE", "a page size from 1 to 2147483647", 1000)?;
        if page_size < 1 {
            return Err(ConfigError::Invalid {
                var: "LDAP_PAGE_SIZE",
                value: page_size.to_string(),
                expected: "a page size of at least 1",
            });
        }
        let domain = env.string("LDAP_DOMAIN", "");
        let email_mode = if env.bool("LDAP_USE_SAMACCOUNTNAME_ONLY", false)? {
            EmailMode::SamAccountNameOnly
        } else if env.bool("LDAP_USE_WINDOWS_LOGIN_EMAIL", false)? {
            EmailMode::WindowsLogin
        } else if env.bool("LDAP_USE_SAMACCOUNTNAME", false)? {
            EmailMode::SamAccountName
        } else {
            EmailMode::Mail
        };
        Ok(Self {
            host: env.string("LDAP_HOST", ""),
            port,
            base_dn: env.string("LDAP_DN", ""),
            username: env.string("LDAP_USERNAME", ""),
            password: Secret::new(env.string("LDAP_PASSWORD", "")),
            filter: env.string("LDAP_FILTER", DEFAULT_FILTER),
            page_size,
            transport,
            verify_tls: env.bool("LDAP_SSL_VERIFY", true)?,
            use_ou_structure: env.bool("LDAP_USE_OU_STRUCTURE", false)?,
            use_ou_description: env.bool("LDAP_USE_OU_DESCRIPTION", false)?,
            fetch_missing_supervisors: env.bool("TIMECAMP_USE_SUPERVISOR_GROUPS", false)?,
            timeout: Duration::from_secs(
                env.int_or::<u64>("LDAP_TIMEOUT_SECONDS", "a whole number of seconds", 60)?
                    .max(1),
            ),
            map: MapOptions {
                email_domain: env.get("LDAP_EMAIL_DOMAIN").map(str::to_owned),
                email_mode,
                real_email_as_email: env.bool("LDAP_USE_REAL_EMAIL_AS_EMAIL", false)?,
                preferred_domain: env.get("TIMECAMP_REPLACE_EMAIL_DOMAIN").map(str::to_owned),
                supervisor_group: env.get("LDAP_SUPERVISOR_GROUP_NAME").map(str::to_owned),
                admin_group: env.get("LDAP_GLOBAL_ADMIN_GROUP_NAME").map(str::to_owned),
                domain,
            },
        })
    }

    pub fn url(&self) -> String {
        let scheme = if self.transport == Transport::Ldaps {
            "ldaps"
        } else {
            "ldap"
        };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// A DN (`cn=admin,dc=example,dc=org`) or a UPN (`svc@corp.local`) is used as
    /// given; a bare account name gets `@LDAP_DOMAIN`, as Active Directory expects.
    /// (The original appended the domain to DNs too, so OpenLDAP could not bind.)
    pub fn bind_name(&self) -> String {
        if self.username.contains('=') || self.username.contains('@') {
            self.username.clone()
        } else {
            format!("{}@{}", self.username, self.map.domain)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LdapFetchError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    /// The directory's certificate was refused; classified from the typed
    /// TLS error, as the HTTP clients do.
    #[error("cannot connect to {url}: {refusal}")]
    Tls {
        url: String,
        refusal: scim_http::TlsRefusal,
    },
    #[error("bind as {name} failed: {message}")]
    Bind { name: String, message: String },
    #[error("search of {base} with filter {filter} failed: {message}")]
    Search {
        base: String,
        filter: String,
        message: String,
    },
}

/// Reads every user; nothing is written here.
pub async fn fetch(s: &LdapSettings) -> Result<Vec<SourceUser>, LdapFetchError> {
    // ldap3 builds its TLS configuration with the process-wide crypto
    // provider, which the binary chooses at start (a library must not).
    let url = s.url();
    let conn_settings = LdapConnSettings::new()
        .set_conn_timeout(s.timeout)
        .set_starttls(s.transport == Transport::StartTls)
        .set_no_tls_verify(!s.verify_tls);
    if !s.verify_tls && s.transport != Transport::Plain {
        warn!("LDAP_SSL_VERIFY=false: the directory's certificate is not checked");
    }
    if s.transport == Transport::Plain {
        warn!(
            "{url} is not encrypted: the bind password travels in clear text (set LDAP_USE_SSL or LDAP_USE_START_TLS)"
        );
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(conn_settings, &url)
        .await
        .map_err(|e| match scim_http::tls::classify(&e) {
            Some(problem) if s.transport != Transport::Plain => LdapFetchError::Tls {
                url: url.clone(),
                refusal: scim_http::TlsRefusal {
                    host: format!("{}:{}", s.host, s.port),
                    problem,
                    insecure_switch: Some("LDAP_SSL_VERIFY"),
                },
            },
            _ => LdapFetchError::Connect {
                url: url.clone(),
                message: e.to_string(),
            },
        })?;
    ldap3::drive!(conn);
    info!("Connected to {url}");
    let name = s.bind_name();
    ldap.with_timeout(s.timeout)
        .simple_bind(&name, s.password.expose())
        .await
        .and_then(|r| r.success())
        .map_err(|e| LdapFetchError::Bind {
            name: name.clone(),
            message: e.to_string(),
        })?;

    let result = Reader::new(s, &mut ldap).read_all().await;
    let _ = ldap.unbind().await;
    result
}

/// Attribute values, looked up case-insensitively (servers differ in how they spell names).
fn values<'e>(e: &'e SearchEntry, attr: &str) -> Vec<&'e str> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .map(|(_, v)| v.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

fn first(e: &SearchEntry, attr: &str) -> String {
    values(e, attr)
        .first()
        .map(|v| (*v).to_owned())
        .unwrap_or_default()
}

/// The stable id: `objectGUID` (AD, binary) or, on OpenLDAP, `entryUUID`.
fn external_id(e: &SearchEntry) -> String {
    let bytes = e
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("objectGUID"))
        .and_then(|(_, v)| v.first().cloned())
        .or_else(|| {
            values(e, "objectGUID")
                .first()
                .map(|v| v.as_bytes().to_vec())
        });
    if let Some(bytes) = bytes {
        if let Some(text) = ldap_map::guid_text(&bytes) {
            return text;
        }
        warn!(
            "{}: objectGUID is not 16 bytes; using entryUUID or no id",
            e.dn
        );
    }
    first(e, "entryUUID").to_lowercase()
}

/// An account is disabled when `userAccountControl` has bit 2 (checked here too,
/// since not every server evaluates the bitwise filter).
fn disabled(e: &SearchEntry) -> bool {
    first(e, "userAccountControl")
        .trim()
        .parse::<i64>()
        .is_ok_and(|uac| uac & 2 != 0)
}

struct Reader<'a> {
    s: &'a LdapSettings,
    ldap: &'a mut Ldap,
    /// Manager DN → GUID (or "" when it could not be read).
    managers: HashMap<String, String>,
    /// OU DN → description.
    descriptions: HashMap<String, Option<String>>,
}

impl<'a> Reader<'a> {
    fn new(s: &'a LdapSettings, ldap: &'a mut Ldap) -> Self {
        Self {
            s,
            ldap,
            managers: HashMap::new(),
            descriptions: HashMap::new(),
        }
    }

    async fn read_all(&mut self) -> Result<Vec<SourceUser>, LdapFetchError> {
        let entries = self.search().await?;
        info!("Found {} entries under {}", entries.len(), self.s.base_dn);
        let mut users = Vec::with_capacity(entries.len());
        for e in &entries {
            users.push(self.map_entry(e, false).await);
        }
        if self.s.fetch_missing_supervisors {
            self.add_missing_supervisors(&mut users).await;
        }
        Ok(users)
    }

    async fn search(&mut self) -> Result<Vec<SearchEntry>, LdapFetchError> {
        let err = |message: String| LdapFetchError::Search {
            base: self.s.base_dn.clone(),
            filter: self.s.filter.clone(),
            message,
        };
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.s.page_size)),
        ];
        let mut stream = self
            .ldap
            .with_timeout(self.s.timeout)
            .streaming_search_with(
                adapters,
                &self.s.base_dn,
                Scope::Subtree,
                &self.s.filter,
                ATTRIBUTES.to_vec(),
            )
            .await
            .map_err(|e| err(e.to_string()))?;
        let mut entries = Vec::new();
        loop {
            match stream.next().await {
                Ok(Some(entry)) => entries.push(SearchEntry::construct(entry)),
                Ok(None) => break,
                Err(e) => {
                    return Err(err(format!(
                        "the connection broke after {} entries: {e}",
                        entries.len()
                    )));
                }
            }
        }
        stream.finish().await.success().map_err(|e| {
            let mut message = e.to_string();
            if message.to_lowercase().contains("size limit") {
                message.push_str(" (lower LDAP_PAGE_SIZE, or raise the server's size limit)");
            }
            err(message)
        })?;
        Ok(entries)
    }

    /// One entry by DN (base scope), or `None` when it cannot be read.
    async fn read_dn(&mut self, dn: &str, attrs: Vec<&str>) -> Option<SearchEntry> {
        let result = self
            .ldap
            .with_timeout(self.s.timeout)
            .search(dn, Scope::Base, "(objectClass=*)", attrs)
            .await
            .and_then(|r| r.success());
        match result {
            Ok((mut entries, _)) if !entries.is_empty() => {
                Some(SearchEntry::construct(entries.remove(0)))
            }
            Ok(_) => None,
            Err(e) => {
                warn!("cannot read {dn}: {e}");
                None
            }
        }
    }

    async fn manager_id(&mut self, dn: &str) -> String {
        if dn.is_empty() {
            return String::new();
        }
        if let Some(id) = self.managers.get(dn) {
            return id.clone();
        }
        let id = match self.read_dn(dn, vec!["objectGUID", "entryUUID"]).await {
            Some(e) => external_id(&e),
            None => String::new(),
        };
        if !id.is_empty() {
            self.managers.insert(dn.to_owned(), id.clone());
        }
        id
    }

    async fn department(&mut self, e: &SearchEntry) -> String {
        if !self.s.use_ou_structure {
            return first(e, "department");
        }
        let mut parts = Vec::new();
        for (name, ou_dn) in ldap_map::ou_path(&e.dn) {
            if !self.s.use_ou_description {
                parts.push(name);
                continue;
            }
            if !self.descriptions.contains_key(&ou_dn) {
                let description = self
                    .read_dn(&ou_dn, vec!["description"])
                    .await
                    .map(|d| first(&d, "description"))
                    .filter(|d| !d.trim().is_empty());
                self.descriptions.insert(ou_dn.clone(), description);
            }
            parts.push(
                self.descriptions
                    .get(&ou_dn)
                    .cloned()
                    .flatten()
                    .unwrap_or(name),
            );
        }
        parts.join("/")
    }

    async fn map_entry(&mut self, e: &SearchEntry, force_inactive: bool) -> SourceUser {
        let manager = first(e, "manager");
        let supervisor_id = self.manager_id(&manager).await;
        let department = self.department(e).await;
        let entry = Entry {
            external_id: external_id(e),
            display_name: first(e, "displayName"),
            given_name: first(e, "givenName"),
            surname: first(e, "sn"),
            // Every value of a multi-valued `mail`: the choice among them is
            // select_email's, as for one comma-joined value.
            mail: values(e, "mail").join(","),
            sam_account_name: first(e, "sAMAccountName"),
            title: first(e, "title"),
            member_of: values(e, "memberOf")
                .into_iter()
                .map(str::to_owned)
                .collect(),
            disabled: force_inactive || disabled(e),
        };
        if entry.external_id.is_empty() {
            warn!(
                "{}: no objectGUID or entryUUID; prepare will keep it without an external id",
                e.dn
            );
        }
        debug!("{} -> {}", e.dn, entry.external_id);
        ldap_map::to_source_user(&entry, department, supervisor_id, &self.s.map)
            .with_raw_data(raw_attributes(e))
    }
}

/// The entry's text attributes as JSON (one value as a string, several as a
/// list), and its DN; binary ones (objectGUID) are left out.
fn raw_attributes(e: &SearchEntry) -> serde_json::Value {
    let mut raw = serde_json::Map::new();
    raw.insert("dn".into(), serde_json::Value::String(e.dn.clone()));
    let mut names: Vec<&String> = e.attrs.keys().collect();
    names.sort();
    for name in names {
        let values = &e.attrs[name];
        raw.insert(
            name.clone(),
            match values.as_slice() {
                [one] => serde_json::Value::String(one.clone()),
                many => serde_json::Value::Array(
                    many.iter()
                        .cloned()
                        .map(serde_json::Value::String)
                        .collect(),
                ),
            },
        );
    }
    serde_json::Value::Object(raw)
}

impl<'a> Reader<'a> {
    /// Supervisors outside the filter (left, disabled, another OU) are read by
    /// DN and added as inactive, so the hierarchy above the users stays whole.
    /// The original went one level up; this follows the chain to its top.
    async fn add_missing_supervisors(&mut self, users: &mut Vec<SourceUser>) {
        let mut known: HashSet<String> =
            users.iter().filter_map(|u| u.external_id.clone()).collect();
        let mut next = 0;
        while next < users.len() {
            let wanted = users[next].supervisor_id.clone().unwrap_or_default();
            next += 1;
            if wanted.is_empty() || known.contains(&wanted) {
                continue;
            }
            known.insert(wanted.clone());
            let Some(dn) = self
                .managers
                .iter()
                .find(|(_, id)| **id == wanted)
                .map(|(dn, _)| dn.clone())
            else {
                continue;
            };
            match self.read_dn(&dn, ATTRIBUTES.to_vec()).await {
                Some(e) => {
                    let user = self.map_entry(&e, true).await;
                    info!("Added supervisor {dn} (outside the filter) as inactive");
                    users.push(user);
                }
                None => {
                    warn!("supervisor {dn} could not be read; their reports keep the id {wanted}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("LDAP_HOST", "dc1.corp.local"),
            ("LDAP_DOMAIN", "corp.local"),
            ("LDAP_DN", "dc=corp,dc=local"),
            ("LDAP_USERNAME", "svc"),
            ("LDAP_PASSWORD", "pw"),
        ]
    }

    fn settings(extra: &[(&'static str, &'static str)]) -> Result<LdapSettings, ConfigError> {
        let mut pairs = base();
        pairs.extend_from_slice(extra);
        LdapSettings::from_env(&Env::from_pairs(pairs))
    }

    #[test]
    fn missing_settings_are_listed() {
        let err = LdapSettings::from_env(&Env::from_pairs([("LDAP_HOST", "x")])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("LDAP_DOMAIN, LDAP_DN, LDAP_USERNAME and LDAP_PASSWORD"),
            "{msg}"
        );
    }

    #[test]
    fn transports_and_ports() {
        assert_eq!(settings(&[]).unwrap().url(), "ldap://dc1.corp.local:389");
        assert_eq!(
            settings(&[("LDAP_USE_SSL", "true")]).unwrap().url(),
            "ldaps://dc1.corp.local:636"
        );
        assert_eq!(
            settings(&[("LDAP_PORT", "636")]).unwrap().transport,
            Transport::Ldaps
        );
        assert_eq!(
            settings(&[("LDAP_PORT", "636"), ("LDAP_USE_SSL", "false")])
                .unwrap()
                .transport,
            Transport::Plain
        );
        assert_eq!(
            settings(&[("LDAP_USE_START_TLS", "1")]).unwrap().transport,
            Transport::StartTls
        );
        let err =
            settings(&[("LDAP_USE_SSL", "true"), ("LDAP_USE_START_TLS", "true")]).unwrap_err();
        assert!(err.to_string().contains("both true"));
    }

    #[test]
    fn empty_filter_keeps_the_default() {
        assert_eq!(
            settings(&[("LDAP_FILTER", "")]).unwrap().filter,
            DEFAULT_FILTER
        );
    }

    #[test]
    fn bind_names_accept_dns_and_upns() {
        assert_eq!(settings(&[]).unwrap().bind_name(), "svc@corp.local");
        let s = LdapSettings {
            username: "cn=admin,dc=corp,dc=local".into(),
            ..settings(&[]).unwrap()
        };
        assert_eq!(s.bind_name(), "cn=admin,dc=corp,dc=local");
    }

    #[test]
    fn email_mode_follows_the_first_flag() {
        let s = settings(&[
            ("LDAP_USE_SAMACCOUNTNAME", "true"),
            ("LDAP_USE_SAMACCOUNTNAME_ONLY", "true"),
        ])
        .unwrap();
        assert_eq!(s.map.email_mode, EmailMode::SamAccountNameOnly);
    }
}
