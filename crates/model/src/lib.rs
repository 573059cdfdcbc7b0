//! The stage files as typed values: `var/users.json` ([`SourceUsersFile`]) and
//! `var/timecamp_users.json` (a list of [`TimecampUser`]), with the small
//! types every stage shares ([`Status`], [`Role`], [`GroupMode`]), and what
//! TimeCamp's API returns ([`timecamp`]). No I/O and no runtime: prepare and
//! the planner build on this alone.
//!
//! Reading is tolerant where the fetchers of the original are loose (ids that
//! are numbers, `null` where a string is expected) so that prepare can report a
//! bad record instead of rejecting the whole file. Keys that no field names are
//! kept in `extra`, so a file read and written back loses nothing.

pub mod timecamp;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// `var/users.json`: `{"users": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceUsersFile {
    pub users: Vec<SourceUser>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One person as a fetcher saw them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceUser {
    /// Stable id in the source; numbers are read as their decimal text.
    #[serde(default, deserialize_with = "lenient_string")]
    pub external_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub email: Option<String>,
    /// Slash-separated department path.
    #[serde(default, deserialize_with = "lenient_string")]
    pub department: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub job_title: Option<String>,
    /// `active` (any case) is active, any other text inactive; parsed here, once.
    /// `None` when the record has no status (prepare reports it).
    #[serde(default, deserialize_with = "lenient_status")]
    pub status: Option<Status>,
    /// The supervisor's `external_id`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub supervisor_id: Option<String>,
    /// BambooHR's supervisor rule result: a boolean, or a string such as `"yes"`.
    /// (Boxed, like the two flags below: rarely set, and a record is held per person.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_supervisor: Option<Box<Value>>,
    /// LDAP: member of the supervisor group. Only JSON `true` counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_supervisor_role: Option<Box<Value>>,
    /// LDAP: member of the global-admin group. Only JSON `true` counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_global_admin_role: Option<Box<Value>>,
    /// LDAP: the directory's `mail` when the primary e-mail was generated.
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub real_email: Option<String>,
    /// Explicit TimeCamp role id (`"1"`, `"2"`, `"3"`, `"5"`), hand-written files only.
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub role_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The keys of a record that no field names, kept so that a file read and
/// written back loses nothing (`raw_data`, `hierarchy_only`, a fetcher's
/// own). Most records have none, and a record is held per person, so the map
/// is only allocated when there is something in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extra(Option<Box<Map<String, Value>>>);

impl Extra {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.as_deref()?.get(key)
    }

    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        self.0.get_or_insert_with(Box::default).insert(key, value)
    }
}

impl std::ops::Index<&str> for Extra {
    type Output = Value;

    /// `Null` for a missing key, as indexing a JSON object does.
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl From<Map<String, Value>> for Extra {
    fn from(map: Map<String, Value>) -> Self {
        Self((!map.is_empty()).then(|| Box::new(map)))
    }
}

impl Serialize for Extra {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_deref() {
            Some(map) => map.serialize(s),
            None => s.collect_map(std::iter::empty::<(&str, &Value)>()),
        }
    }
}

impl<'de> Deserialize<'de> for Extra {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Map::deserialize(d).map(Self::from)
    }
}

/// Reads a string, a number (as its text), a boolean (as its text) or `null`.
/// Anything else is a shape error for the whole file, reported with its position.
fn lenient_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Status>, D::Error> {
    Ok(lenient_string(d)?.map(|s| Status::parse(&s)))
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Loose;

    impl<'de> serde::de::Visitor<'de> for Loose {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_any(Loose)
}

/// Why a text cannot be a TimeCamp login e-mail. TimeCamp invites whatever it
/// is given, so a bad address costs a seat and an invitation to nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailProblem {
    #[error("contains white space")]
    WhiteSpace,
    #[error("contains a control character")]
    Control,
    #[error("contains an invisible (zero-width) character")]
    Invisible,
    #[error("has no @")]
    NoAt,
    #[error("has more than one @")]
    SeveralAts,
    #[error("has nothing before or after the @")]
    EmptyPart,
    #[error("is a bare number, not an e-mail address")]
    Number,
}

/// Whether `c` shows as nothing: zero-width characters, the byte-order mark
/// (which two exports joined into one file leave inside it), the soft hyphen.
/// A text with one looks the same as the text without it, and is not equal.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}')
}

/// The first problem that makes `email` unusable as a TimeCamp e-mail, if any.
/// Surrounding white space is the caller's to trim; inner white space is a problem.
pub fn email_problem(email: &str) -> Option<EmailProblem> {
    if email.chars().any(char::is_control) {
        return Some(EmailProblem::Control);
    }
    if email.chars().any(is_invisible) {
        return Some(EmailProblem::Invisible);
    }
    if email.chars().any(char::is_whitespace) {
        return Some(EmailProblem::WhiteSpace);
    }
    if !email.is_empty()
        && email
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
    {
        return Some(EmailProblem::Number);
    }
    let mut parts = email.split('@');
    let (local, domain) = match (parts.next(), parts.next(), parts.next()) {
        (_, None, _) => return Some(EmailProblem::NoAt),
        (Some(l), Some(d), None) => (l, d),
        _ => return Some(EmailProblem::SeveralAts),
    };
    if local.is_empty() || domain.is_empty() {
        return Some(EmailProblem::EmptyPart);
    }
    None
}

/// How prepare turns the source hierarchy into group paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMode {
    /// Groups follow the department path (`TIMECAMP_USE_SUPERVISOR_GROUPS=false`).
    Department,
    /// Groups follow the supervisor chain only.
    Supervisor,
    /// Department path, then the supervisor's group under it.
    Hybrid,
}

impl fmt::Display for GroupMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupMode::Department => "department-only",
            GroupMode::Supervisor => "supervisor-only",
            GroupMode::Hybrid => "hybrid (departments with supervisor sub-groups)",
        })
    }
}

impl SourceUser {
    /// Keeps the source system's own record under `raw_data` (written to
    /// `var/users.json`, not copied into the prepared file), so rules and
    /// filters can use fields this model does not name.
    pub fn with_raw_data(mut self, raw: Value) -> Self {
        self.extra.insert("raw_data".to_owned(), raw);
        self
    }

    /// Marks a manager fetched from outside the selected scope: inactive,
    /// with `"hierarchy_only": true`.
    pub fn into_hierarchy_only(mut self) -> Self {
        self.status = Some(Status::Inactive);
        self.extra
            .insert("hierarchy_only".to_owned(), Value::Bool(true));
        self
    }

    /// A manager from outside the fetched scope (`"hierarchy_only": true`):
    /// they shape the supervisor tree but never become a TimeCamp user.
    pub fn is_hierarchy_only(&self) -> bool {
        self.extra.get("hierarchy_only") == Some(&Value::Bool(true))
    }

    /// The source system's own record, when the fetcher kept it.
    pub fn raw_data(&self) -> Option<&Value> {
        self.extra.get("raw_data")
    }
}

/// Whether a TimeCamp user should be enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Active,
    Inactive,
}

impl Status {
    /// `active` in any case is active; everything else (including a typo) is inactive,
    /// as in the original.
    pub fn parse(text: &str) -> Self {
        if text.trim().eq_ignore_ascii_case("active") {
            Status::Active
        } else {
            Status::Inactive
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
        }
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Status::parse(&String::deserialize(d)?))
    }
}

/// A user's role in their TimeCamp group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Administrator,
    Supervisor,
    User,
    Guest,
}

impl Role {
    /// TimeCamp's numeric role id.
    pub fn id(self) -> u8 {
        match self {
            Role::Administrator => 1,
            Role::Supervisor => 2,
            Role::User => 3,
            Role::Guest => 5,
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        match id.trim() {
            "1" => Some(Role::Administrator),
            "2" => Some(Role::Supervisor),
            "3" => Some(Role::User),
            "5" => Some(Role::Guest),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Supervisor => "supervisor",
            Role::User => "user",
            Role::Guest => "guest",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record of `var/timecamp_users.json`: the desired state of one TimeCamp user.
/// Field order is the file's key order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TimecampUser {
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub timecamp_external_id: Option<String>,
    /// Required for active users; may be absent on inactive ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timecamp_user_name: Option<String>,
    pub timecamp_email: String,
    /// Group path under `TIMECAMP_ROOT_GROUP_ID`; `""` (or absent/`null`) is the root itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timecamp_groups_breadcrumb: Option<std::sync::Arc<str>>,
    pub timecamp_status: Status,
    /// Absent means `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timecamp_role: Option<Role>,
    /// TimeCamp's "additional e-mail" setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timecamp_real_email: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `var/vacation.json`: leaves to write into TimeCamp attendance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct VacationFile {
    pub vacation: Vec<Leave>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One leave: a person, a first and last day, and the TimeCamp day type's name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Leave {
    pub email: Option<String>,
    /// The person's other addresses (Factorial's login e-mail besides the
    /// work one): their TimeCamp account may be under any of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_emails: Vec<String>,
    pub start_on: String,
    /// Inclusive; `null` means a one-day leave.
    pub finish_on: Option<String>,
    pub tc_leave_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Leave {
    /// Every address of the person, the primary first, trimmed and
    /// lower-cased, without blanks or repeats.
    pub fn emails(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.email.iter().chain(&self.other_emails) {
            let e = e.trim().to_lowercase();
            if !e.is_empty() && !out.contains(&e) {
                out.push(e);
            }
        }
        out
    }
}

/// How many users one run may disable: a count, or a share of the enabled
/// users the sync manages (rounded up, at least 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeactivationLimit {
    Count(usize),
    Percent(f64),
}

impl DeactivationLimit {
    /// The default protects a 5-person company (1 per run) and a 5,000-person
    /// one (500 per run) alike: a truncated or wrong source file is stopped,
    /// ordinary leavers go through.
    pub const DEFAULT: DeactivationLimit = DeactivationLimit::Percent(10.0);

    /// The number of users allowed out of `managed`.
    pub fn allowed(self, managed: usize) -> usize {
        match self {
            DeactivationLimit::Count(n) => n,
            DeactivationLimit::Percent(p) => ((managed as f64 * p / 100.0).ceil() as usize).max(1),
        }
    }

    /// `10` (users) or `10%` (of the enabled users the sync manages).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(p) = text.strip_suffix('%') {
            let p: f64 = p.trim().parse().ok()?;
            (p > 0.0 && p <= 100.0).then_some(DeactivationLimit::Percent(p))
        } else {
            text.parse().ok().map(DeactivationLimit::Count)
        }
    }
}

impl std::fmt::Display for DeactivationLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeactivationLimit::Count(n) => write!(f, "{n}"),
            DeactivationLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_emails_are_named_by_their_problem() {
        for (email, problem) in [
            ("bob smith@x.com", EmailProblem::WhiteSpace),
            ("bob\u{200b}@x.com", EmailProblem::Invisible),
            ("bob\u{7}@x.com", EmailProblem::Control),
            ("bob.x.com", EmailProblem::NoAt),
            ("a@b@x.com", EmailProblem::SeveralAts),
            ("@x.com", EmailProblem::EmptyPart),
            ("12345", EmailProblem::Number),
        ] {
            assert_eq!(email_problem(email), Some(problem), "{email}");
        }
        assert_eq!(email_problem("Zoë.O'Neil+tc@exämple.com"), None);
    }

    #[test]
    fn source_user_reads_every_fetcher_field_and_keeps_unknown_ones() {
        let json = r#"{"users":[{"external_id":124,"job_title":null,"name":"Jane","email":"J@x.com",
            "department":"R&D/Eng","status":"active","supervisor_id":"123","is_supervisor":false,
            "force_supervisor_role":true,"real_email":"j@y.com","role_id":2,"raw_data":{"a":1}}],
            "generated_at":"now"}"#;
        let file: SourceUsersFile = serde_json::from_str(json).unwrap();
        let u = &file.users[0];
        assert_eq!(u.external_id.as_deref(), Some("124"));
        assert_eq!(u.job_title, None);
        assert_eq!(u.role_id.as_deref(), Some("2"));
        assert_eq!(u.extra["raw_data"], serde_json::json!({"a":1}));
        assert_eq!(file.extra["generated_at"], "now");
        let back = serde_json::to_value(&file).unwrap();
        assert_eq!(back["users"][0]["raw_data"]["a"], 1);
        assert_eq!(back["generated_at"], "now");
    }

    #[test]
    fn timecamp_user_keys_are_written_in_the_original_order() {
        let u = TimecampUser {
            timecamp_external_id: Some("1".into()),
            timecamp_user_name: Some("A".into()),
            timecamp_email: "a@x.com".into(),
            timecamp_groups_breadcrumb: Some("".into()),
            timecamp_status: Status::Active,
            timecamp_role: Some(Role::User),
            timecamp_real_email: None,
            extra: Extra::default(),
        };
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            r#"{"timecamp_external_id":"1","timecamp_user_name":"A","timecamp_email":"a@x.com","timecamp_groups_breadcrumb":"","timecamp_status":"active","timecamp_role":"user"}"#
        );
    }

    #[test]
    fn unknown_role_name_is_a_parse_error() {
        let err = serde_json::from_str::<TimecampUser>(
            r#"{"timecamp_email":"a@x","timecamp_status":"active","timecamp_role":"owner"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("owner"), "{err}");
    }

    #[test]
    fn role_ids_round_trip() {
        for role in [
            Role::Administrator,
            Role::Supervisor,
            Role::User,
            Role::Guest,
        ] {
            assert_eq!(Role::from_id(&role.id().to_string()), Some(role));
        }
        assert_eq!(Role::from_id("4"), None);
    }
}
