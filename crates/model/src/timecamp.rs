//! What TimeCamp returns, decoded leniently: ids come as strings or numbers,
//! lists sometimes as objects keyed by id, and settings in three shapes.
//! Everything is normalised to plain Rust values here, so the
//! planner never sees a wire format.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An attendance day type (`Vacation`, `Sick Leave`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayType {
    pub id: u64,
    pub name: String,
    pub day_off: bool,
}

/// One day of attendance to write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttendanceDay {
    pub day: String,
    pub day_type_id: u64,
    /// Expected work minutes.
    pub should_be: u32,
    /// Vacation minutes.
    pub vacation_time: u32,
}

/// A TimeCamp group as `GET /group` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Group {
    #[serde(deserialize_with = "id")]
    pub group_id: u64,
    #[serde(default, deserialize_with = "text")]
    pub name: String,
    /// `0` for the account's top group.
    #[serde(default, deserialize_with = "id_or_zero")]
    pub parent_id: u64,
}

/// A TimeCamp user as `GET /users` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    #[serde(deserialize_with = "id")]
    pub user_id: u64,
    #[serde(default, deserialize_with = "text")]
    pub email: String,
    #[serde(default, deserialize_with = "optional_text")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "id_or_zero")]
    pub group_id: u64,
}

/// The user an API key belongs to, as `GET /me` says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Me {
    #[serde(deserialize_with = "id")]
    pub user_id: u64,
    #[serde(default, deserialize_with = "text")]
    pub email: String,
    #[serde(default, deserialize_with = "optional_text")]
    pub display_name: Option<String>,
    /// The account's top group; `0` when not given.
    #[serde(default, deserialize_with = "id_or_zero")]
    pub root_group_id: u64,
}

/// Per-user settings: user id → setting name → value.
pub type Settings = HashMap<u64, HashMap<String, String>>;

/// Per-user roles from `people_picker`: user id → group id → role id.
pub type Roles = HashMap<u64, HashMap<u64, u8>>;

/// Reads an id given as a number or a string of digits, with an optional
/// one-letter prefix (`"u123"`, `"g45"`) as some TimeCamp payloads use.
pub fn parse_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => parse_id_text(s),
        _ => None,
    }
}

pub fn parse_id_text(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.strip_prefix(['u', 'g']).unwrap_or(s);
    digits.parse().ok()
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    parse_id(&v).ok_or_else(|| serde::de::Error::custom(format!("expected an id, got {v}")))
}

fn id_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(parse_id(&v).unwrap_or(0))
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(optional_text(d)?.unwrap_or_default())
}

fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `GET /users` or `GET /group`: an array, or an object keyed by id.
pub fn decode_list<T: serde::de::DeserializeOwned>(v: Value) -> Result<Vec<T>, String> {
    let items = match v {
        Value::Array(items) => items,
        Value::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
        other => return Err(format!("expected a list, got {}", kind(&other))),
    };
    items
        .into_iter()
        .map(|item| serde_json::from_value(item).map_err(|e| e.to_string()))
        .collect()
}

/// `GET /user/<ids>/setting`, in any of the shapes TimeCamp's clients have seen:
/// an object keyed by user id whose values are lists of `{name, value}` (or a
/// single such object, or a `{name: value}` map); a flat list of
/// `{userId, name, value}`; or one `{userId, name, value}` object. `[]` and
/// missing entries mean "no setting".
pub fn decode_settings(v: Value, into: &mut Settings) -> Result<(), String> {
    fn record(into: &mut Settings, user: u64, item: &Value) {
        if let (Some(name), Some(value)) = (
            item.get("name").and_then(Value::as_str),
            item.get("value").and_then(value_text),
        ) {
            into.entry(user)
                .or_default()
                .entry(name.to_owned())
                .or_insert(value);
        }
    }
    match v {
        Value::Array(items) => {
            for item in &items {
                let user = item
                    .get("userId")
                    .or_else(|| item.get("user_id"))
                    .and_then(parse_id);
                if let Some(user) = user {
                    record(into, user, item);
                }
            }
        }
        Value::Object(map) if map.contains_key("name") && map.contains_key("value") => {
            let item = Value::Object(map);
            if let Some(user) = item
                .get("userId")
                .or_else(|| item.get("user_id"))
                .and_then(parse_id)
            {
                record(into, user, &item);
            }
        }
        Value::Object(map) => {
            for (key, entry) in map {
                let Some(user) = parse_id_text(&key) else {
                    continue;
                };
                match &entry {
                    Value::Array(items) => items.iter().for_each(|i| record(into, user, i)),
                    Value::Object(o) if o.contains_key("name") => record(into, user, &entry),
                    Value::Object(o) => {
                        for (name, value) in o {
                            if let Some(value) = value_text(value) {
                                into.entry(user).or_default().insert(name.clone(), value);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        other => return Err(format!("expected settings, got {}", kind(&other))),
    }
    Ok(())
}

/// `GET /people_picker`: `groups` keyed by (possibly prefixed) group id, each
/// with `users` keyed by (possibly prefixed) user id → `{role_id}`; a group with
/// no users has `users: []`.
pub fn decode_roles(v: Value) -> Result<Roles, String> {
    let mut roles = Roles::new();
    let groups = match v.get("groups") {
        None | Some(Value::Null) => return Ok(roles),
        Some(Value::Object(g)) => g
            .iter()
            .map(|(k, v)| (Some(k.as_str()), v))
            .collect::<Vec<_>>(),
        Some(Value::Array(g)) => g.iter().map(|v| (None, v)).collect(),
        Some(other) => return Err(format!("expected groups, got {}", kind(other))),
    };
    for (key, group) in groups {
        let group_id = group
            .get("group_id")
            .and_then(parse_id)
            .or_else(|| key.and_then(parse_id_text));
        let (Some(group_id), Some(Value::Object(users))) = (group_id, group.get("users")) else {
            continue;
        };
        for (user_key, entry) in users {
            let user_id = entry
                .get("user_id")
                .and_then(parse_id)
                .or_else(|| parse_id_text(user_key));
            let role = entry
                .get("role_id")
                .and_then(parse_id)
                .and_then(|r| u8::try_from(r).ok());
            if let (Some(user_id), Some(role)) = (user_id, role) {
                roles.entry(user_id).or_default().insert(group_id, role);
            }
        }
    }
    Ok(roles)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn users_accept_string_or_numeric_ids_and_null_names() {
        let users: Vec<User> = decode_list(json!([
            {"user_id": "12", "email": "a@x.com", "display_name": null, "group_id": 5},
            {"user_id": 13, "email": "b@x.com", "display_name": "B", "group_id": "6"}
        ]))
        .unwrap();
        assert_eq!(users[0].user_id, 12);
        assert_eq!(users[0].display_name, None);
        assert_eq!(users[1].group_id, 6);
    }

    #[test]
    fn user_list_may_be_an_object_keyed_by_id() {
        let users: Vec<User> =
            decode_list(json!({"7": {"user_id": "7", "email": "a@x.com", "group_id": "1"}}))
                .unwrap();
        assert_eq!(users[0].user_id, 7);
    }

    #[test]
    fn settings_in_every_known_shape() {
        let mut s = Settings::new();
        decode_settings(
            json!({"1": [{"name": "external_id", "value": "E1"}], "2": [], "3": {"name": "disabled_user", "value": "1"}}),
            &mut s,
        )
        .unwrap();
        decode_settings(
            json!([{"userId": "4", "name": "added_manually", "value": "0"}]),
            &mut s,
        )
        .unwrap();
        decode_settings(
            json!({"userId": "5", "name": "additional_email", "value": "x@y"}),
            &mut s,
        )
        .unwrap();
        decode_settings(json!({"6": {"external_id": "E6"}}), &mut s).unwrap();
        assert_eq!(s[&1]["external_id"], "E1");
        assert!(!s.contains_key(&2));
        assert_eq!(s[&3]["disabled_user"], "1");
        assert_eq!(s[&4]["added_manually"], "0");
        assert_eq!(s[&5]["additional_email"], "x@y");
        assert_eq!(s[&6]["external_id"], "E6");
    }

    #[test]
    fn roles_strip_id_prefixes_and_skip_empty_groups() {
        let roles = decode_roles(json!({"groups": {
            "g100": {"group_id": "100", "users": {"u1001": {"role_id": "3"}, "1002": {"role_id": 2}}},
            "101": {"group_id": "101", "users": []}
        }}))
        .unwrap();
        assert_eq!(roles[&1001][&100], 3);
        assert_eq!(roles[&1002][&100], 2);
        assert_eq!(roles.len(), 2);
    }

    #[test]
    fn malformed_shapes_are_errors() {
        assert!(decode_list::<User>(json!("nope")).is_err());
        assert!(decode_list::<User>(json!([{"email": "no id"}])).is_err());
        assert!(decode_settings(json!(5), &mut Settings::new()).is_err());
    }
}
