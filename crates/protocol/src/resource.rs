//! Reading a resource a client sends (POST, PUT, PATCH values) into its
//! canonical form, and writing one back (an answer, with `attributes` or
//! `excludedAttributes` applied).
//!
//! Reading follows the schema: attribute names in any case become the
//! schema's spelling; `"True"`/`"False"` become booleans (Entra ID sends them
//! as strings); a bare value given for a complex attribute with a `value`
//! sub-attribute becomes `{"value": ...}` (Entra ID sends the manager's id
//! that way); read-only attributes are ignored, as RFC 7644 says; `password`
//! is never kept; `null` and `[]` leave an attribute unassigned. Anything
//! else the schema does not name (an unknown attribute or sub-attribute, a
//! value of the wrong type) is refused with the attribute's name, never
//! dropped in silence.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::limits;
use crate::path::{self, Container, Resolved};
use crate::schema::{AttrType, Attribute, Kind, Mutability, Returned, common, key_in};

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidValue, detail)
}

/// Parses a request body as JSON. A key given twice in one object
/// (`{"userName": "a", "userName": "b"}`) is refused: JSON parsers keep one
/// of the two, which would be a guess at what the client meant.
pub fn parse_body(bytes: &[u8]) -> Result<Value, ScimError> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Unique
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            ScimError::bad(
                ScimType::InvalidSyntax,
                format!("the body is not JSON: {e}"),
            )
        })?;
    Ok(value)
}

/// Builds a [`Value`] as `serde_json` does, refusing a key seen twice in an object.
#[derive(Clone, Copy)]
struct Unique;

impl<'de> serde::de::DeserializeSeed<'de> for Unique {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Unique {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "{key:?} is given twice in one object"
                )));
            }
            let v = map.next_value_seed(self)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Reads `value` as a value of `attr`. `None`: unassigned (`null`, `[]`, an
/// empty object). `at` names the place for the error.
pub fn coerce(attr: &Attribute, value: &Value, at: &str) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if !attr.multi_valued {
        return coerce_one(attr, value, at);
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let most = if attr.name == "members" {
        limits::MAX_MEMBERS
    } else {
        limits::MAX_VALUES
    };
    if items.len() > most {
        return Err(invalid(format!(
            "{at} has {} values; at most {most} are kept",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        if let Some(v) = coerce_one(attr, item, &format!("{at}[{i}]"))? {
            out.push(v);
        }
    }
    check_primary(&out, at)?;
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// At most one value of a multi-valued attribute is primary (RFC 7643, 2.4).
pub fn check_primary(values: &[Value], at: &str) -> Result<(), ScimError> {
    let primaries = values
        .iter()
        .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(invalid(format!(
            "{at} has {primaries} values marked primary; at most one may be"
        )));
    }
    Ok(())
}

/// A lenient boolean: JSON's, or `"true"`/`"false"` in any case.
pub fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn coerce_one(attr: &Attribute, value: &Value, at: &str) -> Result<Option<Value>, ScimError> {
    let wrong =
        |expected: &str| invalid(format!("{at} must be {expected}, not {}", describe(value)));
    match attr.ty {
        _ if value.is_null() => Ok(None),
        AttrType::Complex => {
            let object = match value {
                Value::Object(map) => map,
                Value::Array(_) => return Err(wrong("an object")),
                scalar => match attr.sub("value") {
                    // `"manager": "<id>"` means `{"value": "<id>"}`.
                    Some(sub) => {
                        return Ok(coerce_one(sub, scalar, &format!("{at}.value"))?
                            .map(|v| Value::Object(Map::from_iter([("value".to_owned(), v)]))));
                    }
                    None => return Err(wrong("an object")),
                },
            };
            for key in object.keys() {
                if attr.sub(key).is_none() {
                    return Err(invalid(format!(
                        "{at}.{key} is not a sub-attribute of {} (see /Schemas)",
                        attr.name
                    )));
                }
            }
            let mut out = Map::new();
            for sub in attr.sub_attributes {
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(v) = key_in(object, sub.name).and_then(|k| object.get(k))
                    && let Some(v) = coerce_one(sub, v, &format!("{at}.{}", sub.name))?
                {
                    out.insert(sub.name.to_owned(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        AttrType::Boolean => boolean(value)
            .map(|b| Some(Value::Bool(b)))
            .ok_or_else(|| wrong("true or false")),
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(_) => Ok(Some(value.clone())),
            _ => Err(wrong("a string")),
        },
        AttrType::DateTime => match value {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
                Ok(Some(value.clone()))
            }
            _ => Err(wrong("a date and time such as 2026-01-31T10:00:00Z")),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(value.clone())),
            _ => Err(wrong("a whole number")),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(Some(value.clone())),
            _ => Err(wrong("a number")),
        },
    }
}

/// A value's JSON type, for messages (never the value: it may be personal).
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Reads a whole resource (the body of POST or PUT) into its attributes:
/// canonical names, the extension's under its URN, without `id`, `meta`,
/// `schemas` and read-only attributes.
pub fn read(kind: Kind, body: &Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(object) = body else {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            format!(
                "the body must be a {} object, not {}",
                kind.name(),
                describe(body)
            ),
        ));
    };
    check_schemas(kind, object)?;
    let mut out = Map::new();
    // Each attribute as the body spelled it: a second spelling of one
    // (`userName` and `USERNAME`, or a name and its URN-qualified form) is
    // two values for it, and keeping either would be a guess.
    let mut spelled: std::collections::HashMap<String, String> = Default::default();
    let mut once = |target: String, key: String| match spelled.get(&target) {
        Some(first) => Err(invalid(format!(
            "{target} is given more than once ({first} and {key}); give it once"
        ))),
        None => {
            spelled.insert(target, key);
            Ok(())
        }
    };
    for (key, value) in object {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
        {
            continue;
        }
        if let Some(ext) = kind.extension(key) {
            let Some(fields) = value.as_object() else {
                if value.is_null() {
                    continue;
                }
                return Err(invalid(format!(
                    "{key} must be an object, not {}",
                    describe(value)
                )));
            };
            for (name, v) in fields
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
            {
                let attr = ext.attribute(name).ok_or_else(|| {
                    invalid(format!(
                        "{name} is not an attribute of {} (see /Schemas)",
                        ext.id
                    ))
                })?;
                once(format!("{}:{}", ext.id, attr.name), format!("{key}.{name}"))?;
                put(
                    &mut out,
                    Container::Ext(ext),
                    attr,
                    v,
                    &format!("{}:{}", ext.id, attr.name),
                )?;
            }
            continue;
        }
        let resolved = if key.contains(':') {
            path::resolve_text(kind, key)
        } else {
            common::attribute(key)
                .or_else(|| kind.core().attribute(key))
                .map(|attr| {
                    Resolved::Attr(path::Target {
                        container: Container::Core,
                        attr,
                        sub: None,
                    })
                })
                .ok_or_else(|| {
                    format!(
                        "{key} is not an attribute of a {} (see /Schemas)",
                        kind.name()
                    )
                })
        };
        match resolved.map_err(invalid)? {
            Resolved::Attr(t) if t.sub.is_none() => {
                once(t.display(), key.clone())?;
                put(&mut out, t.container, t.attr, value, &t.display())?;
            }
            Resolved::Attr(t) => {
                return Err(invalid(format!(
                    "{key}: give {} as an object, not by a sub-attribute path",
                    t.attr.name
                )));
            }
            Resolved::Extension(_) => unreachable!("handled above"),
        }
    }
    remove_empty(&mut out);
    check_required(kind, &out)?;
    Ok(out)
}

/// Stores one top-level attribute's value, unless the client may not write it.
fn put(
    out: &mut Map<String, Value>,
    container: Container,
    attr: &'static Attribute,
    value: &Value,
    at: &str,
) -> Result<(), ScimError> {
    if attr.mutability == Mutability::ReadOnly || attr.mutability == Mutability::WriteOnly {
        // Read-only values are ignored (RFC 7644, 3.5.1); the only write-only
        // one is the password, which TimeCamp does not take from SCIM.
        return Ok(());
    }
    if let Some(v) = coerce(attr, value, at)? {
        container.get_mut(out).insert(attr.name.to_owned(), v);
    }
    Ok(())
}

/// `schemas` names the resource's schema, and only schemas it may have.
fn check_schemas(kind: Kind, object: &Map<String, Value>) -> Result<(), ScimError> {
    let syntax = |d: String| ScimError::bad(ScimType::InvalidSyntax, d);
    let Some(key) = key_in(object, "schemas") else {
        return Err(syntax(format!(
            "the body has no \"schemas\"; a {} needs [\"{}\"]",
            kind.name(),
            kind.core().id
        )));
    };
    let Some(list) = object[key].as_array() else {
        return Err(syntax("\"schemas\" must be a list of schema URNs".into()));
    };
    let mut core = false;
    for urn in list {
        let Some(urn) = urn.as_str() else {
            return Err(syntax("\"schemas\" must be a list of schema URNs".into()));
        };
        if kind.core().is(urn) {
            core = true;
        } else if kind.extension(urn).is_none() {
            return Err(invalid(format!(
                "{urn} is not a schema of a {} (see /Schemas)",
                kind.name()
            )));
        }
    }
    if !core {
        return Err(syntax(format!(
            "\"schemas\" must include {}",
            kind.core().id
        )));
    }
    Ok(())
}

/// The attributes a resource cannot be without: a user's `userName`, a
/// group's `displayName`, not blank.
pub fn check_required(kind: Kind, attrs: &Map<String, Value>) -> Result<(), ScimError> {
    for attr in kind.core().attributes.iter().filter(|a| a.required) {
        let present = match attrs.get(attr.name) {
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
            None => false,
        };
        if !present {
            return Err(invalid(format!(
                "{} is required and may not be blank",
                attr.name
            )));
        }
    }
    Ok(())
}

/// Drops empty objects and lists left by a change, so that an attribute
/// without a value is absent, as RFC 7643 (2.5) treats it.
pub fn remove_empty(map: &mut Map<String, Value>) {
    map.retain(|_, v| match v {
        Value::Object(inner) => {
            remove_empty(inner);
            !inner.is_empty()
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Value::Object(inner) = item {
                    remove_empty(inner);
                }
            }
            items.retain(|i| !i.is_null() && i.as_object().is_none_or(|o| !o.is_empty()));
            !items.is_empty()
        }
        Value::Null => false,
        _ => true,
    });
}

/// `attributes` or `excludedAttributes` of a request, resolved.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    only: Vec<Resolved>,
    without: Vec<Resolved>,
}

impl Selection {
    /// Parses the two comma-separated lists; they may not both be given.
    pub fn parse(
        kind: Kind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        let list = |text: Option<&str>| -> Result<Vec<Resolved>, ScimError> {
            text.filter(|t| !t.trim().is_empty())
                .map(|t| {
                    t.split(',')
                        .map(|p| path::resolve_text(kind, p).map_err(invalid))
                        .collect()
                })
                .unwrap_or(Ok(Vec::new()))
        };
        let only = list(attributes)?;
        let without = list(excluded)?;
        if !only.is_empty() && !without.is_empty() {
            return Err(invalid(
                "attributes and excludedAttributes may not be given together",
            ));
        }
        Ok(Self { only, without })
    }

    /// Applies the selection to a rendered resource.
    pub fn apply(&self, kind: Kind, resource: &mut Map<String, Value>) {
        if !self.only.is_empty() {
            keep_only(resource, &self.only);
        }
        for r in &self.without {
            match r {
                Resolved::Extension(ext) => {
                    resource.remove(ext.id);
                }
                Resolved::Attr(t) if t.attr.returned == Returned::Always => {}
                Resolved::Attr(t) => {
                    let Some(container) = container_of(resource, t.container) else {
                        continue;
                    };
                    match t.sub {
                        None => {
                            container.remove(t.attr.name);
                        }
                        Some(sub) => for_each_object(container.get_mut(t.attr.name), |o| {
                            o.remove(sub.name);
                        }),
                    }
                }
            }
        }
        remove_empty(resource);
        if kind
            .extensions()
            .iter()
            .any(|e| !resource.contains_key(e.id))
        {
            set_schemas(kind, resource);
        }
    }
}

fn container_of(
    resource: &mut Map<String, Value>,
    c: Container,
) -> Option<&mut Map<String, Value>> {
    match c {
        Container::Core => Some(resource),
        Container::Ext(s) => resource.get_mut(s.id).and_then(Value::as_object_mut),
    }
}

fn for_each_object(value: Option<&mut Value>, mut f: impl FnMut(&mut Map<String, Value>)) {
    match value {
        Some(Value::Object(o)) => f(o),
        Some(Value::Array(items)) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(f),
        _ => {}
    }
}

/// `attributes=`: what is always returned, and what was asked for.
fn keep_only(resource: &mut Map<String, Value>, wanted: &[Resolved]) {
    let original = std::mem::take(resource);
    for (key, value) in &original {
        if key == "schemas"
            || common::attribute(key).is_some_and(|a| a.returned == Returned::Always)
        {
            resource.insert(key.clone(), value.clone());
        }
    }
    for r in wanted {
        match r {
            Resolved::Extension(ext) => {
                if let Some(v) = original.get(ext.id) {
                    resource.insert(ext.id.to_owned(), v.clone());
                }
            }
            Resolved::Attr(t) => {
                let Some(from) = t.container.get(&original) else {
                    continue;
                };
                let Some(value) = from.get(t.attr.name) else {
                    continue;
                };
                let into = t.container.get_mut(resource);
                match t.sub {
                    None => {
                        into.insert(t.attr.name.to_owned(), value.clone());
                    }
                    Some(sub) => merge_sub(into, t.attr.name, value, sub.name),
                }
            }
        }
    }
}

/// Adds `sub` of `value` (an object or a list of objects) to `into[name]`.
fn merge_sub(into: &mut Map<String, Value>, name: &str, value: &Value, sub: &str) {
    match value {
        Value::Object(o) => {
            if let Some(v) = o.get(sub) {
                let slot = into
                    .entry(name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(target) = slot {
                    target.insert(sub.to_owned(), v.clone());
                }
            }
        }
        Value::Array(items) => {
            let existing = into.remove(name);
            let mut merged: Vec<Value> = match existing {
                Some(Value::Array(e)) if e.len() == items.len() => e,
                _ => vec![Value::Object(Map::new()); items.len()],
            };
            for (slot, item) in merged.iter_mut().zip(items) {
                if let (Value::Object(t), Some(v)) = (slot, item.get(sub)) {
                    t.insert(sub.to_owned(), v.clone());
                }
            }
            into.insert(name.to_owned(), Value::Array(merged));
        }
        _ => {}
    }
}

/// `schemas` lists the core schema and the extensions the resource has.
pub fn set_schemas(kind: Kind, resource: &mut Map<String, Value>) {
    let mut schemas = vec![Value::String(kind.core().id.to_owned())];
    for ext in kind.extensions() {
        if resource
            .get(ext.id)
            .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        {
            schemas.push(Value::String(ext.id.to_owned()));
        }
    }
    resource.insert("schemas".to_owned(), Value::Array(schemas));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ENTERPRISE_URN;
    use serde_json::json;

    fn user(body: Value) -> Result<Map<String, Value>, ScimError> {
        read(Kind::User, &body)
    }

    #[test]
    fn names_are_canonical_and_entra_strings_become_booleans() {
        let u = user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_URN],
            "USERNAME": "ann@x.com",
            "Active": "False",
            "emails": [{"Value": "ann@x.com", "type": "work", "primary": "True"}],
            ENTERPRISE_URN: {"Department": "Sales", "manager": "m-1"},
            "groups": [{"value": "g"}],
            "password": "hunter2",
            "id": "client-chosen",
        }))
        .unwrap();
        assert_eq!(
            Value::Object(u),
            json!({
                "userName": "ann@x.com",
                "active": false,
                "emails": [{"value": "ann@x.com", "type": "work", "primary": true}],
                ENTERPRISE_URN: {"department": "Sales", "manager": {"value": "m-1"}},
            })
        );
    }

    #[test]
    fn what_the_schema_does_not_name_is_refused_by_name() {
        let base = |extra: Value| {
            let mut b =
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            user(b)
        };
        let e = base(json!({"favouriteColour": "red"})).unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert!(e.detail.contains("favouriteColour"), "{e}");
        assert!(
            base(json!({"emails": [{"value": "a", "colour": "red"}]}))
                .unwrap_err()
                .detail
                .contains("colour")
        );
        assert!(
            base(json!({"active": "maybe"}))
                .unwrap_err()
                .detail
                .contains("active must be true or false")
        );
        assert!(
            base(json!({"displayName": 7}))
                .unwrap_err()
                .detail
                .contains("a string")
        );
        assert!(base(json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]})).is_err());
        assert!(
            user(json!({"userName": "a"}))
                .unwrap_err()
                .detail
                .contains("schemas")
        );
        assert!(
            user(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": " "})
            )
            .is_err()
        );
        assert!(user(json!([])).is_err());
    }

    #[test]
    fn an_attribute_given_twice_under_two_spellings_is_refused_not_one_dropped() {
        let core = "urn:ietf:params:scim:schemas:core:2.0:User";
        for body in [
            json!({"schemas": [core], "userName": "ann@x.com", "USERNAME": "bob@x.com"}),
            json!({"schemas": [core], "userName": "ann@x.com", "displayName": "A", format!("{core}:displayName"): "B"}),
            json!({"schemas": [core, ENTERPRISE_URN], "userName": "ann@x.com",
                ENTERPRISE_URN: {"department": "Sales", "Department": "Ops"}}),
            json!({"schemas": [core, ENTERPRISE_URN], "userName": "ann@x.com",
                ENTERPRISE_URN: {"department": "Sales"}, format!("{ENTERPRISE_URN}:department"): "Ops"}),
        ] {
            let e = user(body.clone()).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{body}");
            assert!(e.detail.contains("more than once"), "{}", e.detail);
        }
    }

    #[test]
    fn a_body_with_a_key_twice_in_one_object_is_refused() {
        let twice = br#"{"schemas": [], "userName": "ann@x.com", "userName": "bob@x.com"}"#;
        let e = parse_body(twice).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(
            e.detail.contains("\"userName\" is given twice"),
            "{}",
            e.detail
        );
        let nested = br#"{"name": {"givenName": "A", "givenName": "B"}}"#;
        assert!(parse_body(nested).is_err());
        // Anything else reads as serde_json reads it, and its depth limit holds.
        let text = r#"{"a": [1, -2, 3.5, true, null, "x", {"b": {}}], "c": "\u00e9"}"#;
        assert_eq!(
            parse_body(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_body(deep.as_bytes()).is_err());
        assert!(parse_body(b"{} x").is_err());
        assert!(parse_body(b"{\"a\": \"\xff\"}").is_err());
    }

    #[test]
    fn selection_keeps_what_was_asked_and_what_is_always_returned() {
        let mut r = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_URN],
            "id": "1", "userName": "a", "displayName": "A",
            "emails": [{"value": "a@x", "type": "work"}],
            ENTERPRISE_URN: {"department": "D"},
            "meta": {"resourceType": "User"},
        })
        .as_object()
        .unwrap()
        .clone();
        let mut only = r.clone();
        Selection::parse(Kind::User, Some("displayName,emails.value"), None)
            .unwrap()
            .apply(Kind::User, &mut only);
        assert_eq!(
            Value::Object(only),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1",
                   "displayName": "A", "emails": [{"value": "a@x"}]})
        );
        Selection::parse(
            Kind::User,
            None,
            Some(&format!("id,{ENTERPRISE_URN}:department,meta")),
        )
        .unwrap()
        .apply(Kind::User, &mut r);
        assert_eq!(r["id"], "1");
        assert!(r.get("meta").is_none() && r.get(ENTERPRISE_URN).is_none());
        assert_eq!(
            r["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
        assert!(Selection::parse(Kind::User, Some("userName"), Some("emails")).is_err());
        assert!(Selection::parse(Kind::User, Some("nope"), None).is_err());
    }
}
