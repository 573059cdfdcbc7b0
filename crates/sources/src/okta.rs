//! fetch-okta: users from Okta's Users and Groups APIs with an API token
//! (`Authorization: SSWS …`).
//!
//! The population is the members of `OKTA_FILTER_GROUPS` / `OKTA_FILTER_GROUP_IDS`,
//! or every user in `OKTA_USER_STATUSES`; every page is read (`Link: <…>;
//! rel="next"`, followed only on the organisation's own host, so the token
//! never goes elsewhere) and the rate-limit headers are honoured, both by the
//! shared HTTP layer (`scim-http`). Which
//! profile fields hold the id, e-mail, name, department, title and manager is
//! configurable. Managers are linked by `OKTA_SUPERVISOR_MATCH_FIELD`;
//! managers outside the population are looked up and written as
//! `hierarchy_only`. The result is checked before anything is written: people
//! without id or e-mail, shared ids, manager references that lead nowhere,
//! manager cycles and (optionally) too many hierarchy roots stop the fetch
//! with a validation report saying what to repair in Okta.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use scim_core::model::{SourceUser, Status};
use scim_core::{ConfigError, Env, Secret};
use scim_http::{Client, ClientOptions, ErrorText, Hints, Next, Paging, Request, Url};
use serde_json::{Value, json};
use tracing::{debug, error, info, warn};

use crate::fields::{SupervisorRule, text_of, value_at};

/// Okta's largest page for users and groups.
const PAGE_SIZE: u32 = 200;

/// Every list: the answer is the list; the next page is the `Link` header's.
const PAGING: Paging = Paging::new("", Next::LinkHeader);

/// What Okta's failures point at.
const HINTS: Hints = Hints {
    credentials: "OKTA_API_TOKEN (and that it has not expired)",
    forbidden: "the token's admin lacks the permission to read users and groups",
    bad_request: "",
    location: "OKTA_ORG_URL",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
};

/// Okta's user statuses, and what each means for TimeCamp: people who are
/// employed but cannot sign in for now (locked out, password expired, in
/// recovery) stay active; suspended, deprovisioned and not yet activated
/// people are inactive.
const STATUSES: &[(&str, Status)] = &[
    ("ACTIVE", Status::Active),
    ("LOCKED_OUT", Status::Active),
    ("PASSWORD_EXPIRED", Status::Active),
    ("RECOVERY", Status::Active),
    ("SUSPENDED", Status::Inactive),
    ("DEPROVISIONED", Status::Inactive),
    ("STAGED", Status::Inactive),
    ("PROVISIONED", Status::Inactive),
];

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
        // The organisation's host may be given without a scheme (acme.okta.com).
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
        let field = |var: &str, default: &str| env.string(var, default);
        let external_id_field = field("OKTA_EXTERNAL_ID_FIELD", "id");
        let roots = env.string("OKTA_MAX_HIERARCHY_ROOTS", "0");
        let max_hierarchy_roots = roots.parse::<u64>().map_err(|_| ConfigError::Invalid {
            var: "OKTA_MAX_HIERARCHY_ROOTS",
            value: roots.clone(),
            expected: "a whole number of 0 or more (0: report the roots, never fail on them)",
        })?;
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

#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    #[error(transparent)]
    Http(#[from] scim_http::Error),
    #[error("{var}: Okta has no group named {name:?} (names are exact and case-sensitive)")]
    UnknownGroup { var: &'static str, name: String },
    #[error(
        "OKTA_SUPERVISOR_MATCH_FIELD: {field:?} is not unique: {value:?} belongs to more than one user, so a manager reference cannot be linked"
    )]
    NotUnique { field: String, value: String },
    #[error(
        "Okta data validation failed: {}. Fix the profile fields in Okta (the validation report above lists the people), then fetch again; var/users.json was left as it was",
        .0.join("; ")
    )]
    Validation(Vec<String>),
}

// ---------------------------------------------------------------------------
// Fields of an Okta user

/// A field by its configured name: a dotted name is a path from the user's
/// root (`profile.employeeNumber`, `credentials.provider.type`), a plain name
/// a profile attribute.
fn resolve<'v>(user: &'v Value, field: &str) -> Option<&'v Value> {
    if field.contains('.') {
        value_at(user, field)
    } else {
        user.get("profile").and_then(|p| p.get(field))
    }
}

/// An identifying field as text: `id` (or nothing configured) is Okta's own
/// user id, anything else a field as [`resolve`] finds it.
fn resolve_id(user: &Value, field: &str) -> String {
    if field.is_empty() || field == "id" {
        text_of(user.get("id"))
    } else {
        text_of(resolve(user, field))
    }
}

/// The manager reference of a user: the field's text, or the `id` of an object.
fn reference(user: &Value, field: &str) -> String {
    match resolve(user, field) {
        Some(Value::Object(o)) => text_of(o.get("id")),
        other => text_of(other),
    }
}

/// Match values compare trimmed, and without case for e-mails and logins.
fn normalize(field: &str, value: &str) -> String {
    let last = field.rsplit('.').next().unwrap_or(field).to_lowercase();
    if last == "email" || last == "login" {
        value.trim().to_lowercase()
    } else {
        value.trim().to_owned()
    }
}

fn okta_status(user: &Value) -> String {
    text_of(user.get("status")).to_uppercase()
}

/// A user mapped to a source record, with the required fields it lacks.
#[derive(Debug)]
pub struct Mapped {
    pub user: SourceUser,
    /// `(schema field, Okta field)` pairs that are blank.
    pub missing: Vec<(&'static str, String)>,
}

/// Maps an Okta user (`role` when a supervisor group holds them).
pub fn map_user(u: &Value, s: &OktaSettings, supervisor_group_member: bool) -> Mapped {
    let profile = |k: &str| text_of(resolve(u, k));
    let mut name = text_of(resolve(u, &s.name_field));
    if name.is_empty() {
        name = format!("{} {}", profile("firstName"), profile("lastName"))
            .trim()
            .to_owned();
    }
    if name.is_empty() {
        name = ["email", "login"]
            .iter()
            .map(|k| profile(k))
            .find(|v| !v.is_empty())
            .unwrap_or_default();
    }
    let configured_email = text_of(resolve(u, &s.email_field));
    let email = if configured_email.is_empty() {
        profile("login")
    } else {
        configured_email.clone()
    };
    let external_id = resolve_id(u, &s.external_id_field);
    let mut missing = Vec::new();
    if external_id.is_empty() {
        missing.push(("external_id", s.external_id_field.clone()));
    }
    if configured_email.is_empty() {
        missing.push(("email", s.email_field.clone()));
    }
    let okta = okta_status(u);
    let status = STATUSES
        .iter()
        .find(|(n, _)| *n == okta)
        .map(|(_, st)| *st)
        .unwrap_or(Status::Inactive);
    let user = SourceUser {
        external_id: Some(external_id),
        name: Some(name),
        email: Some(email.to_lowercase()),
        department: Some(text_of(resolve(u, &s.department_field))),
        job_title: Some(text_of(resolve(u, &s.job_title_field))),
        status: Some(status),
        supervisor_id: Some(reference(u, &s.supervisor_id_field)),
        is_supervisor: Some(Box::new(Value::Bool(
            s.supervisor_rule
                .as_ref()
                .is_some_and(|r| r.matches(resolve(u, &r.field))),
        ))),
        role_id: supervisor_group_member.then(|| "2".to_owned()),
        ..SourceUser::default()
    }
    .with_raw_data(u.clone());
    Mapped { user, missing }
}

// ---------------------------------------------------------------------------
// Manager resolution (pure)

/// Links each record's manager reference to the manager's external id.
/// Returns the references no record matches, each with its direct reports'
/// positions.
pub fn link_managers(
    users: &mut [SourceUser],
    s: &OktaSettings,
) -> Result<BTreeMap<String, Vec<usize>>, OktaError> {
    let field = &s.supervisor_match_field;
    let mut index: HashMap<String, String> = HashMap::new();
    for u in users.iter() {
        let (Some(raw), Some(id)) = (u.raw_data(), u.external_id.as_deref()) else {
            continue;
        };
        let value = normalize(field, &resolve_id(raw, field));
        if id.is_empty() || value.is_empty() {
            continue;
        }
        match index.get(&value) {
            Some(other) if other != id => {
                return Err(OktaError::NotUnique {
                    field: field.clone(),
                    value,
                });
            }
            _ => {
                index.insert(value, id.to_owned());
            }
        }
    }
    let mut unresolved: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, u) in users.iter_mut().enumerate() {
        let Some(raw) = u.raw_data() else { continue };
        let reference = reference(raw, &s.supervisor_id_field);
        u.supervisor_id = Some(if reference.is_empty() {
            String::new()
        } else if let Some(id) = index.get(&normalize(field, &reference)) {
            id.clone()
        } else {
            unresolved.entry(reference.clone()).or_default().push(i);
            reference
        });
    }
    Ok(unresolved)
}

// ---------------------------------------------------------------------------
// Validation report (pure)

/// The checks of a validation pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// After mapping, before managers are looked up.
    Mapped,
    /// After manager resolution: everything, the root limit included.
    Resolved,
}

/// What the checks found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub json: Value,
    /// Why it failed; empty when it passed.
    pub reasons: Vec<String>,
}

fn person(u: &SourceUser) -> Value {
    let raw = u.raw_data();
    json!({
        "email": u.email.clone().unwrap_or_default(),
        "external_id": u.external_id.clone().unwrap_or_default(),
        "login": text_of(raw.and_then(|r| value_at(r, "profile.login"))),
        "name": u.name.clone().unwrap_or_default(),
        "okta_user_id": text_of(raw.and_then(|r| r.get("id"))),
    })
}

/// Checks the records (hierarchy-only managers included). `missing` are
/// the active people without a required field, `unresolved` the manager
/// references nothing matched.
pub fn validate(
    users: &[SourceUser],
    missing: &[Mapped],
    unresolved: &BTreeMap<String, Vec<usize>>,
    s: &OktaSettings,
    checkpoint: Checkpoint,
) -> Report {
    let id_of = |u: &SourceUser| u.external_id.clone().unwrap_or_default().trim().to_owned();
    let mut holders: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, u) in users.iter().enumerate() {
        let id = id_of(u);
        if !id.is_empty() {
            holders.entry(id).or_default().push(i);
        }
    }
    let duplicates: Vec<Value> = holders
        .iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(id, at)| json!({"external_id": id, "users": at.iter().map(|&i| person(&users[i])).collect::<Vec<_>>()}))
        .collect();

    // Walks up the chain from each id, each record visited once overall.
    let manager_of = |i: usize| -> Option<usize> {
        let boss = users[i].supervisor_id.as_deref().unwrap_or("").trim();
        holders.get(boss).map(|at| at[0])
    };
    let mut done: HashSet<usize> = HashSet::new();
    let (mut cycles, mut self_managed) = (Vec::new(), Vec::new());
    // Before resolution references are raw; they only mean ids when the
    // match field is the id field.
    let check_cycles =
        checkpoint == Checkpoint::Resolved || s.supervisor_match_field == s.external_id_field;
    if check_cycles {
        for at in holders.values() {
            let mut walk: Vec<usize> = Vec::new();
            let mut current = Some(at[0]);
            while let Some(i) = current {
                if let Some(pos) = walk.iter().position(|&w| w == i) {
                    let ring: Vec<Value> = walk[pos..].iter().map(|&w| person(&users[w])).collect();
                    if ring.len() == 1 {
                        self_managed.extend(ring);
                    } else {
                        cycles.push(Value::Array(ring));
                    }
                    break;
                }
                if !done.insert(i) {
                    break;
                }
                walk.push(i);
                current = manager_of(i);
            }
        }
    }

    let is_manager: HashSet<&str> = users
        .iter()
        .filter_map(|u| u.supervisor_id.as_deref().map(str::trim))
        .filter(|b| !b.is_empty())
        .collect();
    let mut roots: Vec<(String, Value)> = users
        .iter()
        .enumerate()
        .filter(|(_, u)| !u.is_hierarchy_only() && is_manager.contains(id_of(u).as_str()))
        .filter(|(i, u)| match manager_of(*i) {
            None => true,
            Some(m) => m == *i || users[m].is_hierarchy_only() || id_of(u) == id_of(&users[m]),
        })
        .map(|(_, u)| (id_of(u), person(u)))
        .collect();
    roots.sort_by(|a, b| a.0.cmp(&b.0));
    roots.dedup_by(|a, b| a.0 == b.0);
    let limit = s.max_hierarchy_roots;
    let limit_exceeded =
        checkpoint == Checkpoint::Resolved && limit > 0 && roots.len() as u64 > limit;

    let missing_json: Vec<Value> = missing
        .iter()
        .map(|m| {
            let mut p = person(&m.user);
            p["missing_fields"] = m
                .missing
                .iter()
                .map(|(schema, okta)| json!({"okta_field": okta, "schema_field": schema}))
                .collect();
            p
        })
        .collect();
    let unresolved_json: Vec<Value> = unresolved
        .iter()
        .map(|(reference, reports)| {
            json!({
                "direct_reports": reports.iter().map(|&i| person(&users[i])).collect::<Vec<_>>(),
                "supervisor_reference": reference,
            })
        })
        .collect();

    let mut reasons = Vec::new();
    if !missing.is_empty() {
        reasons.push(format!(
            "{} active user(s) missing external ID or email",
            missing.len()
        ));
    }
    if !duplicates.is_empty() {
        reasons.push(format!(
            "{} duplicate external ID value(s)",
            duplicates.len()
        ));
    }
    if checkpoint == Checkpoint::Resolved && !unresolved.is_empty() {
        reasons.push(format!(
            "{} unresolved manager reference(s)",
            unresolved.len()
        ));
    }
    if !cycles.is_empty() {
        reasons.push(format!("{} multi-user manager cycle(s)", cycles.len()));
    }
    if limit_exceeded {
        reasons.push(format!(
            "{} hierarchy roots exceeds configured limit {limit}",
            roots.len()
        ));
    }
    // Keys in alphabetical order, as the original's report.
    let json = json!({
        "configured_fields": {
            "email": s.email_field,
            "external_id": s.external_id_field,
            "supervisor_id": s.supervisor_id_field,
        },
        "cycles": cycles,
        "duplicate_external_ids": duplicates,
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        "hierarchy_roots": roots.into_iter().map(|(_, p)| p).collect::<Vec<_>>(),
        "missing_required_fields": missing_json,
        "provider": "okta",
        "repair_in_okta": [
            "Give every user a value in the external ID and e-mail fields named in configured_fields.",
            "Make every manager reference name an existing Okta user by the supervisor match field.",
            "Break manager cycles: somebody in each chain must report to a person outside it, or to nobody.",
        ],
        "root_limit": limit,
        "root_limit_exceeded": limit_exceeded,
        "self_managed_roots": self_managed,
        "status": if reasons.is_empty() { "passed" } else { "failed" },
        "unresolved_supervisors": unresolved_json,
    });
    Report { json, reasons }
}

// ---------------------------------------------------------------------------
// The API

struct Api<'a> {
    s: &'a OktaSettings,
    origin: Url,
    http: Client,
}

impl Api<'_> {
    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, OktaError> {
        let mut url = self.http.url(&format!("{}{path}", self.origin))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn request(&self, url: Url, call: &str) -> Request {
        Request::get(url, call).secret_header(
            "authorization",
            Secret::new(format!("SSWS {}", self.s.token.expose())),
        )
    }

    /// One user, or `None` when Okta has nobody by that id or login.
    async fn user(&self, url: Url, call: &str) -> Result<Option<Value>, OktaError> {
        let request = self.request(url, call).not_found_is_an_answer();
        match self.http.json(&request).await {
            Ok(user) => Ok(Some(user)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every item of a list, following `rel="next"` to the end.
    async fn all(&self, first: Url, call: &str) -> Result<Vec<Value>, OktaError> {
        Ok(self.http.all(&self.request(first, call), PAGING).await?)
    }

    /// The id of the group named exactly `name`.
    async fn group_id(&self, var: &'static str, name: &str) -> Result<String, OktaError> {
        let url = self.url(
            "api/v1/groups",
            &[("q", name.to_owned()), ("limit", PAGE_SIZE.to_string())],
        )?;
        let found = self.all(url, &format!("group {name:?}")).await?;
        found
            .iter()
            .find(|g| text_of(value_at(g, "profile.name")) == name)
            .map(|g| text_of(g.get("id")))
            .ok_or_else(|| OktaError::UnknownGroup {
                var,
                name: name.to_owned(),
            })
    }

    async fn members(&self, group_id: &str) -> Result<Vec<Value>, OktaError> {
        let mut url = self.url("api/v1/groups/", &[("limit", PAGE_SIZE.to_string())])?;
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend([group_id, "users"]);
        }
        self.all(url, &format!("members of group {group_id}")).await
    }

    /// The users of the named groups and ids, each once, in order.
    async fn group_members(
        &self,
        var: &'static str,
        names: &[String],
        ids: &[String],
    ) -> Result<Vec<Value>, OktaError> {
        let mut group_ids: Vec<String> = Vec::new();
        for name in names {
            group_ids.push(self.group_id(var, name).await?);
        }
        for id in ids {
            if !group_ids.contains(id) {
                group_ids.push(id.clone());
            }
        }
        let mut out: Vec<Value> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        for gid in group_ids {
            for u in self.members(&gid).await? {
                let id = text_of(u.get("id"));
                match at.get(&id) {
                    Some(&i) => out[i] = u,
                    None => {
                        at.insert(id, out.len());
                        out.push(u);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The user whose match field holds `reference`, if exactly one does.
    async fn find_manager(&self, reference: &str) -> Result<Option<Value>, OktaError> {
        let field = &self.s.supervisor_match_field;
        let wanted = normalize(field, reference);
        let matches = |u: &Value| normalize(field, &resolve_id(u, field)) == wanted;
        if ["", "id", "login", "profile.login"].contains(&field.as_str()) {
            let mut url = self.url("api/v1/users/", &[])?;
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().push(reference);
            }
            // Okta also finds users by a login's short name; only an exact match links.
            return Ok(self
                .user(url, &format!("manager {reference:?}"))
                .await?
                .filter(|u| matches(u)));
        }
        let path = if field.contains('.') {
            field.clone()
        } else {
            format!("profile.{field}")
        };
        let value = reference.replace('\\', "\\\\").replace('"', "\\\"");
        let url = self.url(
            "api/v1/users",
            &[
                ("limit", "2".into()),
                ("search", format!("{path} eq \"{value}\"")),
            ],
        )?;
        let found: Vec<Value> = self
            .all(url, &format!("manager {reference:?}"))
            .await?
            .into_iter()
            .filter(|u| matches(u))
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            _ => Err(OktaError::NotUnique {
                field: field.clone(),
                value: reference.to_owned(),
            }),
        }
    }
}

fn log_report(report: &Report) {
    let line = serde_json::to_string(&report.json).unwrap_or_default();
    if report.reasons.is_empty() {
        info!("Okta validation: {line}");
    } else {
        error!("Okta validation: {line}");
    }
}

/// Reads the population, links managers (looking up those outside it) and
/// validates the result.
pub async fn fetch(s: &OktaSettings) -> Result<Vec<SourceUser>, OktaError> {
    let http = Client::new(ClientOptions {
        timeout: s.timeout,
        error_text: ErrorText {
            json: &["/errorSummary"],
            headers: &[],
        },
        ..ClientOptions::new("Okta", HINTS)
    })?;
    let api = Api {
        s,
        origin: http.url(&format!("{}/", s.org_url))?,
        http,
    };
    let supervisors: HashSet<String> = if s.supervisor_groups.is_empty() {
        HashSet::new()
    } else {
        let members = api
            .group_members("OKTA_SUPERVISOR_GROUPS", &s.supervisor_groups, &[])
            .await?;
        if members.is_empty() {
            warn!(
                "OKTA_SUPERVISOR_GROUPS: the groups have no members; nobody gets the supervisor role from them"
            );
        }
        members.iter().map(|u| text_of(u.get("id"))).collect()
    };
    let population = if s.filter_groups.is_empty() && s.filter_group_ids.is_empty() {
        let mut seen: HashSet<String> = HashSet::new();
        let mut all = Vec::new();
        for status in &s.statuses {
            let url = api.url(
                "api/v1/users",
                &[
                    ("limit", PAGE_SIZE.to_string()),
                    ("filter", format!("status eq \"{status}\"")),
                ],
            )?;
            for u in api.all(url, &format!("{status} users")).await? {
                if seen.insert(text_of(u.get("id"))) {
                    all.push(u);
                }
            }
        }
        all
    } else {
        api.group_members("OKTA_FILTER_GROUPS", &s.filter_groups, &s.filter_group_ids)
            .await?
    };

    let mut users = Vec::new();
    let mut missing = Vec::new();
    for u in &population {
        let status = okta_status(u);
        let okta_id = text_of(u.get("id"));
        if !s.statuses.contains(&status) {
            debug!("left out Okta user {okta_id}: status {status} is not in OKTA_USER_STATUSES");
            continue;
        }
        let mapped = map_user(u, s, supervisors.contains(&okta_id));
        let department = mapped.user.department.clone().unwrap_or_default();
        if s.excluded_departments.contains(&department) {
            debug!("left out Okta user {okta_id}: in the excluded department {department:?}");
            continue;
        }
        if !mapped.missing.is_empty() {
            let fields: Vec<&str> = mapped.missing.iter().map(|(_, f)| f.as_str()).collect();
            if mapped.user.status == Some(Status::Active) {
                missing.push(mapped);
            } else {
                warn!(
                    "left out Okta user {okta_id} ({status}): no value in {}",
                    fields.join(", ")
                );
            }
            continue;
        }
        users.push(mapped.user);
    }
    info!(
        "Okta listed {} users; {} kept",
        population.len(),
        users.len()
    );
    let first = validate(&users, &missing, &BTreeMap::new(), s, Checkpoint::Mapped);
    if !first.reasons.is_empty() {
        log_report(&first);
        return Err(OktaError::Validation(first.reasons));
    }

    let mut not_found: BTreeSet<String> = BTreeSet::new();
    let mut unresolved = link_managers(&mut users, s)?;
    loop {
        let wanted: Vec<String> = unresolved
            .keys()
            .filter(|r| !not_found.contains(*r))
            .cloned()
            .collect();
        if wanted.is_empty() {
            break;
        }
        for reference in wanted {
            match api.find_manager(&reference).await? {
                None => {
                    warn!(
                        "manager {reference:?} is not in Okta (by {})",
                        s.supervisor_match_field
                    );
                    not_found.insert(reference);
                }
                Some(found) => {
                    let manager = map_user(&found, s, false).user;
                    if manager.external_id.as_deref().unwrap_or("").is_empty() {
                        warn!(
                            "Could not link manager {reference:?}: their {} is empty",
                            s.external_id_field
                        );
                        not_found.insert(reference);
                    } else {
                        users.push(manager.into_hierarchy_only());
                    }
                }
            }
        }
        unresolved = link_managers(&mut users, s)?;
    }
    let report = validate(&users, &[], &unresolved, s, Checkpoint::Resolved);
    log_report(&report);
    if !report.reasons.is_empty() {
        return Err(OktaError::Validation(report.reasons));
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &[(&'static str, &'static str)]) -> OktaSettings {
        let mut pairs = vec![("OKTA_ORG_URL", "acme.okta.com/"), ("OKTA_API_TOKEN", "t")];
        pairs.extend_from_slice(extra);
        OktaSettings::from_env(&Env::from_pairs(pairs)).unwrap()
    }

    fn okta_user(id: &str, status: &str, number: &str, manager: &str) -> Value {
        json!({"id": id, "status": status, "profile": {
            "login": format!("{id}@acme.com"), "email": format!("{id}@Acme.com"),
            "firstName": "First", "lastName": id, "displayName": "",
            "employeeNumber": number, "managerId": manager, "department": "Eng", "title": null}})
    }

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

    #[test]
    fn users_map_with_configured_fields_and_statuses() {
        let s = settings(&[("OKTA_EXTERNAL_ID_FIELD", "employeeNumber")]);
        let m = map_user(&okta_user("00u1", "LOCKED_OUT", "E1", "E9"), &s, true);
        assert!(m.missing.is_empty());
        let u = m.user;
        assert_eq!(u.external_id.as_deref(), Some("E1"));
        assert_eq!(u.email.as_deref(), Some("00u1@acme.com"));
        assert_eq!(u.name.as_deref(), Some("First 00u1"));
        assert_eq!(u.status, Some(Status::Active), "locked out, still employed");
        assert_eq!(u.supervisor_id.as_deref(), Some("E9"));
        assert_eq!(u.role_id.as_deref(), Some("2"));
        assert_eq!(u.job_title.as_deref(), Some(""));
        let suspended = map_user(&okta_user("00u2", "SUSPENDED", "E2", ""), &s, false).user;
        assert_eq!(suspended.status, Some(Status::Inactive));
        assert_eq!(suspended.role_id, None);

        let mut blank = okta_user("00u3", "ACTIVE", "", "");
        blank["profile"]["email"] = Value::Null;
        let m = map_user(&blank, &s, false);
        assert_eq!(
            m.user.email.as_deref(),
            Some("00u3@acme.com"),
            "login fallback"
        );
        assert_eq!(
            m.missing,
            [
                ("external_id", "employeeNumber".to_owned()),
                ("email", "email".to_owned())
            ]
        );
    }

    #[test]
    fn dotted_fields_read_from_the_users_root() {
        let s = settings(&[
            ("OKTA_EXTERNAL_ID_FIELD", "profile.employeeNumber"),
            ("OKTA_NAME_FIELD", "profile.lastName"),
        ]);
        let u = map_user(&okta_user("00u1", "ACTIVE", "E1", ""), &s, false).user;
        assert_eq!(u.external_id.as_deref(), Some("E1"));
        assert_eq!(
            u.name.as_deref(),
            Some("00u1"),
            "a dotted name field works too"
        );
    }

    #[test]
    fn managers_link_by_the_match_field_without_case_for_emails() {
        let s = settings(&[
            ("OKTA_EXTERNAL_ID_FIELD", "employeeNumber"),
            ("OKTA_SUPERVISOR_ID_FIELD", "managerEmail"),
            ("OKTA_SUPERVISOR_MATCH_FIELD", "email"),
        ]);
        let mut boss = okta_user("00ub", "ACTIVE", "E1", "");
        boss["profile"]["email"] = json!("Boss@Acme.com");
        let mut worker = okta_user("00uw", "ACTIVE", "E2", "");
        worker["profile"]["managerEmail"] = json!(" boss@acme.COM ");
        let mut orphan = okta_user("00uo", "ACTIVE", "E3", "");
        orphan["profile"]["managerEmail"] = json!("gone@acme.com");
        let mut users: Vec<SourceUser> = [boss, worker, orphan]
            .iter()
            .map(|u| map_user(u, &s, false).user)
            .collect();
        let unresolved = link_managers(&mut users, &s).unwrap();
        assert_eq!(users[1].supervisor_id.as_deref(), Some("E1"));
        assert_eq!(unresolved.keys().collect::<Vec<_>>(), ["gone@acme.com"]);
        assert_eq!(unresolved["gone@acme.com"], [2]);
    }

    #[test]
    fn a_match_value_two_people_share_cannot_link() {
        let s = settings(&[
            ("OKTA_EXTERNAL_ID_FIELD", "employeeNumber"),
            ("OKTA_SUPERVISOR_MATCH_FIELD", "department"),
        ]);
        let mut users: Vec<SourceUser> = [
            okta_user("a", "ACTIVE", "E1", ""),
            okta_user("b", "ACTIVE", "E2", ""),
        ]
        .iter()
        .map(|u| map_user(u, &s, false).user)
        .collect();
        assert!(matches!(
            link_managers(&mut users, &s),
            Err(OktaError::NotUnique { .. })
        ));
    }

    fn linked(s: &OktaSettings, people: &[(&str, &str)]) -> Vec<SourceUser> {
        let mut users: Vec<SourceUser> = people
            .iter()
            .map(|(n, boss)| {
                map_user(&okta_user(&format!("00u{n}"), "ACTIVE", n, boss), s, false).user
            })
            .collect();
        link_managers(&mut users, s).unwrap();
        users
    }

    #[test]
    fn the_report_names_cycles_self_managed_roots_duplicates_and_roots() {
        let s = settings(&[
            ("OKTA_EXTERNAL_ID_FIELD", "employeeNumber"),
            ("OKTA_MAX_HIERARCHY_ROOTS", "1"),
        ]);
        let users = linked(
            &s,
            &[
                ("1", "1"),
                ("2", "1"),
                ("3", "4"),
                ("4", "3"),
                ("5", ""),
                ("6", "5"),
                ("7", ""),
            ],
        );
        let r = validate(&users, &[], &BTreeMap::new(), &s, Checkpoint::Resolved);
        assert_eq!(r.json["self_managed_roots"][0]["external_id"], "1");
        assert_eq!(r.json["cycles"].as_array().unwrap().len(), 1);
        let roots: Vec<&Value> = r.json["hierarchy_roots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["external_id"])
            .collect();
        assert_eq!(
            roots,
            [&json!("1"), &json!("5")],
            "7 has no reports: not a root"
        );
        assert_eq!(r.json["status"], "failed");
        assert_eq!(
            r.reasons,
            [
                "1 multi-user manager cycle(s)",
                "2 hierarchy roots exceeds configured limit 1"
            ]
        );

        let ok = linked(&s, &[("1", ""), ("2", "1")]);
        let r = validate(&ok, &[], &BTreeMap::new(), &s, Checkpoint::Resolved);
        assert!(r.reasons.is_empty());
        assert_eq!(r.json["status"], "passed");
        let keys: Vec<&String> = r.json.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "keys in alphabetical order");

        let dup = linked(&s, &[("1", ""), ("1", "")]);
        let r = validate(&dup, &[], &BTreeMap::new(), &s, Checkpoint::Mapped);
        assert_eq!(r.reasons, ["1 duplicate external ID value(s)"]);
        assert_eq!(
            r.json["duplicate_external_ids"][0]["users"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn unresolved_references_fail_only_after_resolution() {
        let s = settings(&[("OKTA_EXTERNAL_ID_FIELD", "employeeNumber")]);
        let mut users = linked(&s, &[("1", "9")]);
        let unresolved = link_managers(&mut users, &s).unwrap();
        assert!(
            validate(&users, &[], &unresolved, &s, Checkpoint::Mapped)
                .reasons
                .is_empty()
        );
        let r = validate(&users, &[], &unresolved, &s, Checkpoint::Resolved);
        assert_eq!(r.reasons, ["1 unresolved manager reference(s)"]);
        assert_eq!(
            r.json["unresolved_supervisors"][0]["supervisor_reference"],
            "9"
        );
        assert_eq!(
            r.json["unresolved_supervisors"][0]["direct_reports"][0]["external_id"],
            "1"
        );
    }
}
