//! PATCH (RFC 7644, section 3.5.2): a request is read whole first (every
//! operation, path and value checked against the schema), then applied in
//! order to a copy of the resource; the copy replaces the resource only if
//! every operation succeeded, so a request is applied entirely or not at all.
//!
//! What Entra ID and Okta send beyond the letter of the RFC is accepted:
//! `op` in any case (`"Replace"`); `"True"`/`"False"` for booleans; the
//! manager as a bare id; `remove` of `members` with the members to remove
//! in `value`; `add`/`replace` on `emails[type eq "work"].value` when the
//! user has no work e-mail yet, which creates it (the filter's `eq` terms
//! say what the new value holds); a PATCH without `path` whose value names
//! read-only attributes (Okta's group rename repeats the `id`), which are
//! ignored as in PUT. A `remove` that matches nothing changes nothing.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::filter::ValueFilter;
use crate::limits::{MAX_PATCH_OPERATIONS, MAX_PATH_BYTES};
use crate::path::{self, Container, Resolved, Target};
use crate::resource::{self, coerce, describe};
use crate::schema::{Attribute, Kind, Mutability, key_in};

pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

/// One operation, checked.
#[derive(Debug, Clone)]
pub struct Operation {
    op: Op,
    path: Option<Path>,
    value: Option<Value>,
    /// `Operations[i]`, for messages.
    at: String,
}

#[derive(Debug, Clone)]
enum Path {
    Plain(Resolved),
    /// `attr[filter]` or `attr[filter].sub`.
    Filtered {
        target: Target,
        filter: ValueFilter,
    },
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidSyntax, detail)
}

fn bad_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidPath, detail)
}

/// Reads a PatchOp body for a resource of `kind`.
pub fn parse(kind: Kind, body: &Value) -> Result<Vec<Operation>, ScimError> {
    let Value::Object(object) = body else {
        return Err(syntax(format!(
            "the body must be a PatchOp object, not {}",
            describe(body)
        )));
    };
    for key in object.keys() {
        if !key.eq_ignore_ascii_case("schemas") && !key.eq_ignore_ascii_case("Operations") {
            return Err(syntax(format!(
                "{key} is not a member of a PatchOp (schemas, Operations)"
            )));
        }
    }
    let schemas = key_in(object, "schemas").and_then(|k| object[k].as_array());
    let is_patch = |u: &Value| {
        u.as_str()
            .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_URN))
    };
    if !schemas.is_some_and(|s| s.iter().any(is_patch)) {
        return Err(syntax(format!("\"schemas\" must be [\"{PATCH_URN}\"]")));
    }
    // Another message schema would say the body means something this
    // endpoint does not do: refused, not read as a plain PatchOp.
    if let Some(other) = schemas.into_iter().flatten().find(|u| !is_patch(u)) {
        return Err(syntax(format!(
            "\"schemas\" names {other}; a PatchOp has only [\"{PATCH_URN}\"]"
        )));
    }
    let Some(ops) = key_in(object, "Operations").and_then(|k| object[k].as_array()) else {
        return Err(syntax(
            "a PatchOp needs \"Operations\", a list of operations",
        ));
    };
    if ops.is_empty() || ops.len() > MAX_PATCH_OPERATIONS {
        return Err(syntax(format!(
            "\"Operations\" has {} operations; 1 to {MAX_PATCH_OPERATIONS} are accepted",
            ops.len()
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| operation(kind, op, format!("Operations[{i}]")))
        .collect()
}

fn operation(kind: Kind, value: &Value, at: String) -> Result<Operation, ScimError> {
    let Value::Object(object) = value else {
        return Err(syntax(format!("{at} must be an object")));
    };
    let mut op = None;
    let mut path = None;
    let mut val = None;
    for (key, v) in object {
        if key.eq_ignore_ascii_case("op") {
            op = Some(match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("add") => Op::Add,
                Some("replace") => Op::Replace,
                Some("remove") => Op::Remove,
                _ => return Err(syntax(format!("{at}.op must be add, replace or remove"))),
            });
        } else if key.eq_ignore_ascii_case("path") {
            let Some(text) = v.as_str() else {
                return Err(bad_path(format!("{at}.path must be a string")));
            };
            path = Some(parse_path(kind, text, &at)?);
        } else if key.eq_ignore_ascii_case("value") {
            val = Some(v.clone());
        } else {
            return Err(syntax(format!(
                "{key} is not a member of an operation (op, path, value)"
            )));
        }
    }
    let op = op.ok_or_else(|| syntax(format!("{at} has no op")))?;
    match (op, &path, &val) {
        (Op::Remove, None, _) => Err(ScimError::bad(
            ScimType::NoTarget,
            format!("{at}: remove needs a path"),
        )),
        (Op::Add | Op::Replace, _, None) => Err(syntax(format!("{at}: {op:?} needs a value"))),
        (Op::Add | Op::Replace, None, Some(v)) if !v.is_object() => Err(syntax(format!(
            "{at}: without a path, the value must be an object of attributes"
        ))),
        _ => Ok(Operation {
            op,
            path,
            value: val,
            at,
        }),
    }
}

fn parse_path(kind: Kind, text: &str, at: &str) -> Result<Path, ScimError> {
    if text.trim().is_empty() || text.len() > MAX_PATH_BYTES {
        return Err(bad_path(format!(
            "{at}.path must have 1 to {MAX_PATH_BYTES} characters"
        )));
    }
    if let Some(ext) = kind.extension(text.trim()) {
        return Ok(Path::Plain(Resolved::Extension(ext)));
    }
    let parsed: scim_v2::filter::PatchPath = text
        .parse()
        .map_err(|e| bad_path(format!("{at}.path {text:?} is not a valid path: {e}")))?;
    match parsed {
        scim_v2::filter::PatchPath::Attr(p) => Ok(Path::Plain(
            path::resolve(kind, &p).map_err(|e| bad_path(format!("{at}.path: {e}")))?,
        )),
        scim_v2::filter::PatchPath::Value(vp) => {
            let Resolved::Attr(mut target) =
                path::resolve(kind, &vp.attr).map_err(|e| bad_path(format!("{at}.path: {e}")))?
            else {
                return Err(bad_path(format!(
                    "{at}.path: a schema has no values to filter"
                )));
            };
            if target.sub.is_some() || !target.attr.is_complex() || !target.attr.multi_valued {
                return Err(bad_path(format!(
                    "{at}.path: {}[...] needs a multi-valued complex attribute",
                    target.display()
                )));
            }
            let filter = ValueFilter::new(target.attr, &vp.filter)
                .map_err(|e| bad_path(format!("{at}.path: {}", e.detail)))?;
            if let Some(sub) = vp.sub_attr {
                target.sub = Some(target.attr.sub(&sub).ok_or_else(|| {
                    bad_path(format!(
                        "{at}.path: {} has no sub-attribute {sub}",
                        target.attr.name
                    ))
                })?);
            }
            Ok(Path::Filtered { target, filter })
        }
    }
}

/// Applies the operations to `attrs` (a resource's attributes) in order. On
/// an error `attrs` may be half-changed: the caller applies to a copy.
pub fn apply(
    kind: Kind,
    attrs: &mut Map<String, Value>,
    ops: &[Operation],
) -> Result<(), ScimError> {
    for op in ops {
        apply_one(kind, attrs, op)?;
        resource::remove_empty(attrs);
    }
    resource::check_required(kind, attrs)?;
    for (container, attr) in multi_valued(kind) {
        if let Some(Value::Array(items)) = container.get(attrs).and_then(|c| c.get(attr.name)) {
            resource::check_primary(items, attr.name)?;
            let most = if attr.name == "members" {
                crate::limits::MAX_MEMBERS
            } else {
                crate::limits::MAX_VALUES
            };
            if items.len() > most {
                return Err(ScimError::bad(
                    ScimType::InvalidValue,
                    format!(
                        "{} would have {} values; at most {most} are kept",
                        attr.name,
                        items.len()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn multi_valued(kind: Kind) -> impl Iterator<Item = (Container, &'static Attribute)> {
    let core = kind.core().attributes.iter().map(|a| (Container::Core, a));
    let ext = kind
        .extensions()
        .iter()
        .flat_map(|s| s.attributes.iter().map(move |a| (Container::Ext(s), a)));
    core.chain(ext).filter(|(_, a)| a.multi_valued)
}

fn apply_one(kind: Kind, attrs: &mut Map<String, Value>, op: &Operation) -> Result<(), ScimError> {
    match &op.path {
        None => {
            // Checked when parsed: add or replace with an object.
            let Some(Value::Object(fields)) = &op.value else {
                return Err(syntax(format!("{}: the value must be an object", op.at)));
            };
            // Two spellings of one attribute (`displayName`, `DISPLAYNAME`)
            // are two values for it: keeping the last would be a guess.
            let mut spelled = std::collections::HashMap::new();
            for (key, value) in fields {
                if ["id", "meta", "schemas"]
                    .iter()
                    .any(|k| key.eq_ignore_ascii_case(k))
                {
                    continue;
                }
                let resolved = path::resolve_text(kind, key).map_err(|e| {
                    ScimError::bad(ScimType::InvalidValue, format!("{}.value: {e}", op.at))
                })?;
                let named = match resolved {
                    Resolved::Attr(t) => t.display(),
                    Resolved::Extension(ext) => ext.id.to_owned(),
                };
                if let Some(first) = spelled.insert(named.clone(), key) {
                    return Err(ScimError::bad(
                        ScimType::InvalidValue,
                        format!(
                            "{}.value: {named} is given more than once ({first} and {key}); give it once",
                            op.at
                        ),
                    ));
                }
                apply_at(attrs, op.op, resolved, Some(value), &op.at, true)?;
            }
            Ok(())
        }
        Some(Path::Plain(resolved)) => {
            apply_at(attrs, op.op, *resolved, op.value.as_ref(), &op.at, false)
        }
        Some(Path::Filtered { target, filter }) => apply_filtered(attrs, op, target, filter),
    }
}

fn mutability(target: &Target, op: Op, at: &str, lenient: bool) -> Result<bool, ScimError> {
    let leaf = target.leaf();
    let refuse = |why: &str| {
        Err(ScimError::bad(
            ScimType::Mutability,
            format!("{at}: {} is {why}", target.display()),
        ))
    };
    match leaf.mutability {
        Mutability::ReadOnly if lenient => Ok(false),
        Mutability::ReadOnly => refuse("read-only"),
        Mutability::Immutable if op == Op::Replace && target.sub.is_some() => refuse("immutable"),
        // The password: accepted, and not kept.
        Mutability::WriteOnly => Ok(false),
        _ => Ok(true),
    }
}

fn apply_at(
    attrs: &mut Map<String, Value>,
    op: Op,
    resolved: Resolved,
    value: Option<&Value>,
    at: &str,
    lenient: bool,
) -> Result<(), ScimError> {
    let target = match resolved {
        Resolved::Extension(ext) => {
            if op == Op::Remove {
                attrs.remove(ext.id);
                return Ok(());
            }
            let Some(Value::Object(fields)) = value else {
                return Err(ScimError::bad(
                    ScimType::InvalidValue,
                    format!("{at}: the value of {} must be an object", ext.id),
                ));
            };
            // A client that sends the extension as a resource of its own
            // names its schema in it.
            for (key, v) in fields
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
            {
                let attr = ext.attribute(key).ok_or_else(|| {
                    ScimError::bad(
                        ScimType::InvalidValue,
                        format!("{at}: {key} is not an attribute of {}", ext.id),
                    )
                })?;
                let t = Target {
                    container: Container::Ext(ext),
                    attr,
                    sub: None,
                };
                apply_at(attrs, op, Resolved::Attr(t), Some(v), at, lenient)?;
            }
            return Ok(());
        }
        Resolved::Attr(t) => t,
    };
    if !mutability(&target, op, at, lenient)? {
        return Ok(());
    }
    let name = target.attr.name;
    let container = target.container.get_mut(attrs);
    match (op, target.sub) {
        (Op::Remove, None) => {
            let remove_values = value.filter(|v| !v.is_null());
            match (remove_values, container.get_mut(name)) {
                (Some(given), Some(Value::Array(items))) if target.attr.multi_valued => {
                    // Entra ID names the members to remove in the value.
                    let given: Vec<&Value> = match given {
                        Value::Array(g) => g.iter().collect(),
                        one => vec![one],
                    };
                    let index = Values::new(&given);
                    items.retain(|item| index.find(&given, item).is_none());
                }
                _ => {
                    container.remove(name);
                }
            }
        }
        (Op::Remove, Some(sub)) => each_object(container.get_mut(name), |o| {
            o.remove(sub.name);
        }),
        (Op::Add | Op::Replace, None) => {
            let Some(v) = coerce(
                target.attr,
                value.unwrap_or(&Value::Null),
                &format!("{at}: {}", target.display()),
            )?
            else {
                if op == Op::Replace {
                    container.remove(name);
                }
                return Ok(());
            };
            match (op, container.get_mut(name)) {
                (Op::Add, Some(Value::Array(items))) => {
                    let mut held = Values::new(items);
                    for new in v.as_array().into_iter().flatten() {
                        let pos = match held.find(items, new) {
                            Some(pos) => {
                                merge(&mut items[pos], new);
                                pos
                            }
                            None => {
                                items.push(new.clone());
                                held.add(new, items.len() - 1);
                                items.len() - 1
                            }
                        };
                        sole_primary(items, Some(pos));
                    }
                }
                (_, Some(existing @ Value::Object(_))) if !target.attr.multi_valued => {
                    merge(existing, &v)
                }
                _ => {
                    container.insert(name.to_owned(), v);
                }
            }
        }
        (Op::Add | Op::Replace, Some(sub)) => {
            let v = coerce(
                sub,
                value.unwrap_or(&Value::Null),
                &format!("{at}: {}", target.display()),
            )?;
            let slot = container.entry(name).or_insert_with(|| {
                if target.attr.multi_valued {
                    Value::Array(vec![Value::Object(Map::new())])
                } else {
                    Value::Object(Map::new())
                }
            });
            if let Value::Array(items) = slot
                && items.is_empty()
            {
                items.push(Value::Object(Map::new()));
            }
            each_object(Some(slot), |o| set(o, sub, v.clone()));
        }
    }
    Ok(())
}

fn apply_filtered(
    attrs: &mut Map<String, Value>,
    op: &Operation,
    target: &Target,
    filter: &ValueFilter,
) -> Result<(), ScimError> {
    if !mutability(target, op.op, &op.at, false)? {
        return Ok(());
    }
    let container = target.container.get_mut(attrs);
    let name = target.attr.name;
    let mut items = match container.remove(name) {
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, v)| v.as_object().is_some_and(|o| filter.matches(o)))
        .map(|(i, _)| i)
        .collect();
    let result = (|| {
        match (op.op, target.sub) {
            (Op::Remove, None) => {
                let mut gone = vec![false; items.len()];
                for &i in &matched {
                    gone[i] = true;
                }
                let mut i = 0;
                items.retain(|_| {
                    i += 1;
                    !gone[i - 1]
                });
            }
            (Op::Remove, Some(sub)) => {
                for &i in &matched {
                    each_object(items.get_mut(i), |o| {
                        o.remove(sub.name);
                    });
                }
            }
            (Op::Add | Op::Replace, sub) => {
                let at = format!("{}: {}", op.at, target.display());
                let value = op.value.as_ref().unwrap_or(&Value::Null);
                let new: Map<String, Value> = match sub {
                    Some(sub) => {
                        let mut m = Map::new();
                        if let Some(v) = coerce(sub, value, &at)? {
                            m.insert(sub.name.to_owned(), v);
                        }
                        m
                    }
                    None => match coerce(target.attr, value, &at)? {
                        Some(Value::Array(mut one)) if one.len() == 1 => match one.pop() {
                            Some(Value::Object(m)) => m,
                            _ => Map::new(),
                        },
                        None => Map::new(),
                        Some(_) => {
                            return Err(ScimError::bad(
                                ScimType::InvalidValue,
                                format!(
                                    "{at}: give one value to put in place of the matching ones"
                                ),
                            ));
                        }
                    },
                };
                if matched.is_empty() {
                    let Some(mut created) = filter.required_values() else {
                        return Err(ScimError::bad(
                            ScimType::NoTarget,
                            format!("{}: no value of {name} matches the filter", op.at),
                        ));
                    };
                    created.extend(new);
                    items.push(Value::Object(created));
                    let last = items.len() - 1;
                    sole_primary(&mut items, Some(last));
                } else {
                    for &i in &matched {
                        match sub {
                            Some(sub) => {
                                each_object(items.get_mut(i), |o| match new.get(sub.name) {
                                    Some(v) => set(o, sub, Some(v.clone())),
                                    None => set(o, sub, None),
                                })
                            }
                            None => {
                                if let Some(item) = items.get_mut(i) {
                                    merge(item, &Value::Object(new.clone()));
                                }
                            }
                        }
                        sole_primary(&mut items, Some(i));
                    }
                }
            }
        }
        Ok(())
    })();
    if !items.is_empty() {
        container.insert(name.to_owned(), Value::Array(items));
    }
    result
}

/// Sets (or with `None` removes) a sub-attribute.
fn set(object: &mut Map<String, Value>, sub: &Attribute, value: Option<Value>) {
    match value {
        Some(v) => {
            object.insert(sub.name.to_owned(), v);
        }
        None => {
            object.remove(sub.name);
        }
    }
}

fn each_object(value: Option<&mut Value>, mut f: impl FnMut(&mut Map<String, Value>)) {
    match value {
        Some(Value::Object(o)) => f(o),
        Some(Value::Array(items)) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(f),
        _ => {}
    }
}

/// The sub-attributes of `new` replace those of `existing`; the others stay.
fn merge(existing: &mut Value, new: &Value) {
    match (existing, new) {
        (Value::Object(e), Value::Object(n)) => {
            for (k, v) in n {
                e.insert(k.clone(), v.clone());
            }
        }
        (e, n) => *e = n.clone(),
    }
}

/// Whether two values of a multi-valued attribute are the same value: equal,
/// or (complex ones) with the same `value` and, when both say, `type`.
fn same_value(a: &Value, b: &Value) -> bool {
    #[cfg(test)]
    tests::COMPARED.with(|c| c.set(c.get() + 1));
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => match (x.get("value"), y.get("value")) {
            (Some(vx), Some(vy)) => {
                vx == vy
                    && match (x.get("type"), y.get("type")) {
                        (Some(tx), Some(ty)) => tx == ty,
                        _ => true,
                    }
            }
            _ => x == y,
        },
        _ => a == b,
    }
}

/// Values of a multi-valued attribute found by their `value` (a group's
/// members run to 100,000, and a request names thousands): each lookup
/// compares with the values of the same `value` only, not with every one.
struct Values {
    /// Positions in the list indexed, by key.
    by_key: std::collections::HashMap<String, Vec<usize>>,
}

impl Values {
    fn new<V: std::borrow::Borrow<Value>>(values: &[V]) -> Self {
        let mut out = Values {
            by_key: std::collections::HashMap::with_capacity(values.len()),
        };
        for (i, v) in values.iter().enumerate() {
            out.add(v.borrow(), i);
        }
        out
    }

    /// Values that [`same_value`] may find equal have the same key: their
    /// `value`, or the whole value when it has none.
    fn key(v: &Value) -> String {
        match v.as_object().and_then(|o| o.get("value")) {
            Some(value) => format!("v{value}"),
            None => format!("w{v}"),
        }
    }

    fn add(&mut self, v: &Value, position: usize) {
        self.by_key.entry(Self::key(v)).or_default().push(position);
    }

    /// The position in `values` (the list indexed) of the first value that
    /// is the same value as `v`.
    fn find<V: std::borrow::Borrow<Value>>(&self, values: &[V], v: &Value) -> Option<usize> {
        self.by_key.get(&Self::key(v))?.iter().copied().find(|&i| {
            values
                .get(i)
                .is_some_and(|held| same_value(held.borrow(), v))
        })
    }
}

/// When the value at `index` is primary, the others are not (RFC 7643, 2.4:
/// one primary at most).
fn sole_primary(items: &mut [Value], index: Option<usize>) {
    let Some(index) = index else { return };
    if items.get(index).and_then(|v| v.get("primary")) != Some(&Value::Bool(true)) {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if i != index
            && let Some(o) = item.as_object_mut()
            && o.get("primary") == Some(&Value::Bool(true))
        {
            o.insert("primary".into(), Value::Bool(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ENTERPRISE_URN;
    use serde_json::json;

    fn patch(kind: Kind, start: Value, ops: Value) -> Result<Value, ScimError> {
        let body = json!({"schemas": [PATCH_URN], "Operations": ops});
        let ops = parse(kind, &body)?;
        let mut attrs = start.as_object().unwrap().clone();
        apply(kind, &mut attrs, &ops)?;
        Ok(Value::Object(attrs))
    }

    fn ann() -> Value {
        json!({"userName": "ann@x.com", "active": true, "emails": [{"value": "ann@x.com", "type": "work", "primary": true}]})
    }

    #[test]
    fn entra_updates_apply_as_entra_means_them() {
        let out = patch(
            Kind::User,
            ann(),
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "ann@y.com"},
                {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "ann@home.org"},
                {"op": "Add", "path": format!("{ENTERPRISE_URN}:manager"), "value": "m-1"},
                {"op": "Replace", "path": format!("{ENTERPRISE_URN}:department"), "value": "Sales"},
                {"op": "Add", "path": "name.givenName", "value": "Ann"},
            ]),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "userName": "ann@x.com", "active": false,
                "emails": [{"value": "ann@y.com", "type": "work", "primary": true}, {"type": "home", "value": "ann@home.org"}],
                ENTERPRISE_URN: {"manager": {"value": "m-1"}, "department": "Sales"},
                "name": {"givenName": "Ann"},
            })
        );
    }

    #[test]
    fn pathless_operations_name_attributes_as_keys() {
        let out = patch(
            Kind::User,
            ann(),
            json!([{"op": "replace", "value": {
                "id": "ignored", "ACTIVE": false, "name.familyName": "Smith",
                ENTERPRISE_URN: {"department": "Ops"},
            }}]),
        )
        .unwrap();
        assert_eq!(out["active"], false);
        assert_eq!(out["name"]["familyName"], "Smith");
        assert_eq!(out[ENTERPRISE_URN]["department"], "Ops");
        assert!(out.get("id").is_none());
    }

    #[test]
    fn group_members_are_added_and_removed_both_ways() {
        let start = json!({"displayName": "Sales", "members": [{"value": "1"}, {"value": "2"}]});
        let out = patch(
            Kind::Group,
            start,
            json!([
                {"op": "add", "path": "members", "value": [{"value": "3", "display": "c"}, {"value": "1"}]},
                {"op": "remove", "path": "members[value eq \"2\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "1"}]},
                {"op": "remove", "path": "members[value eq \"nobody\"]"},
            ]),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "3", "display": "c"}]));
        let cleared = patch(
            Kind::Group,
            out,
            json!([{"op": "remove", "path": "members"}]),
        )
        .unwrap();
        assert_eq!(cleared, json!({"displayName": "Sales"}));
    }

    #[test]
    fn a_request_with_a_bad_operation_is_refused_whole() {
        let refused = |ops: Value| patch(Kind::User, ann(), ops).unwrap_err();
        assert_eq!(
            refused(json!([{"op": "move", "path": "userName"}])).scim_type,
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            refused(json!([{"op": "remove"}])).scim_type,
            Some(ScimType::NoTarget)
        );
        assert_eq!(
            refused(json!([{"op": "add", "path": "favourite", "value": 1}])).scim_type,
            Some(ScimType::InvalidPath)
        );
        assert_eq!(
            refused(json!([{"op": "replace", "path": "groups", "value": []}])).scim_type,
            Some(ScimType::Mutability)
        );
        assert_eq!(
            refused(json!([{"op": "remove", "path": "userName"}])).scim_type,
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            refused(json!([{"op": "replace", "path": "emails[type ne \"x\" and type ne \"work\"].value", "value": "a"}])).scim_type,
            Some(ScimType::NoTarget)
        );
        let deep = format!(
            "emails[{}type eq \"a\"{}]",
            "not (".repeat(200),
            ")".repeat(200)
        );
        assert_eq!(
            refused(json!([{"op": "remove", "path": deep}])).scim_type,
            Some(ScimType::InvalidPath)
        );
        assert_eq!(
            refused(json!([{"op": "remove", "path": "x".repeat(5000)}])).scim_type,
            Some(ScimType::InvalidPath)
        );
        let many: Vec<Value> = (0..1001)
            .map(|_| json!({"op": "remove", "path": "title"}))
            .collect();
        assert_eq!(
            refused(Value::Array(many)).scim_type,
            Some(ScimType::InvalidSyntax)
        );
    }

    /// Random PATCH requests (paths from the grammar's pieces, values of
    /// every JSON type): each is applied or refused, none panics.
    #[test]
    fn generated_patch_requests_never_panic() {
        const PATHS: &[&str] = &[
            "userName",
            "emails",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "name",
            "name.givenName",
            "active",
            "groups",
            "password",
            "members[value eq \"1\"]",
            ENTERPRISE_URN,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "x[",
            "emails[not (type pr)].display",
            "addresses[primary eq true].country",
            "",
        ];
        let values = [
            json!(null),
            json!(true),
            json!("False"),
            json!(7),
            json!("a@x.com"),
            json!([]),
            json!([{"value": "b@x.com", "primary": true}]),
            json!({"givenName": "A"}),
            json!({"value": "m"}),
            json!([1, [2]]),
            json!({"department": "D"}),
        ];
        let mut seed: u64 = 0xfeed;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let (mut applied, mut refused) = (0, 0);
        for _ in 0..5_000 {
            let ops: Vec<Value> = (0..next() % 4 + 1)
                .map(|_| {
                    let name = ["add", "Replace", "remove", "move"][next() % 4];
                    let mut op = json!({ "op": name });
                    if next() % 5 > 0 {
                        op["path"] = json!(PATHS[next() % PATHS.len()]);
                    }
                    if next() % 4 > 0 {
                        op["value"] = values[next() % values.len()].clone();
                    }
                    op
                })
                .collect();
            match patch(Kind::User, ann(), Value::Array(ops)) {
                Ok(_) => applied += 1,
                Err(_) => refused += 1,
            }
        }
        assert!(
            applied > 100 && refused > 100,
            "{applied} applied, {refused} refused"
        );
    }

    #[test]
    fn a_new_primary_value_takes_over() {
        let out = patch(
            Kind::User,
            ann(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.com", "type": "other", "primary": true}]}]),
        )
        .unwrap();
        assert_eq!(out["emails"][0]["primary"], false);
        assert_eq!(out["emails"][1]["primary"], true);
    }

    thread_local! {
        /// How many pairs of values [`same_value`] compared on this thread.
        pub(super) static COMPARED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A group of `n` members, as stored.
    fn members(range: std::ops::Range<usize>) -> Value {
        Value::Array(range.map(|i| json!({"value": format!("m-{i}")})).collect())
    }

    #[test]
    fn adding_and_removing_many_members_costs_what_the_lists_hold_not_their_product() {
        // A 1 MiB body names some 20,000 members, a group holds up to
        // 100,000, and the change is made while every other request waits:
        // comparing each given member with each held one would take minutes.
        let (held, given) = (20_000, 5_000);
        let group = json!({"displayName": "G", "members": members(0..held)});
        let bound = 4 * (held + given);
        let cases = [
            json!([{"op": "add", "path": "members", "value": members(held - given / 2..held + given / 2)}]),
            json!([{"op": "remove", "path": "members", "value": members(0..given)}]),
            json!([{"op": "remove", "path": "members[value pr]"}]),
        ];
        let mut outs = Vec::new();
        for ops in cases {
            COMPARED.with(|c| c.set(0));
            outs.push(patch(Kind::Group, group.clone(), ops).unwrap());
            let compared = COMPARED.with(std::cell::Cell::get);
            assert!(
                compared <= bound,
                "{compared} comparisons for {held} held and {given} given members"
            );
        }
        assert_eq!(
            outs[0]["members"].as_array().unwrap().len(),
            held + given / 2
        );
        assert_eq!(outs[0]["members"][held]["value"], format!("m-{held}"));
        assert_eq!(outs[1]["members"].as_array().unwrap().len(), held - given);
        assert_eq!(outs[1]["members"][0]["value"], format!("m-{given}"));
        assert!(outs[2].get("members").is_none());
    }

    #[test]
    fn a_schema_urn_other_than_patch_ops_is_refused() {
        let body = json!({"schemas": [PATCH_URN, "urn:example:params:scim:api:messages:2.0:BulkPatch"],
            "Operations": [{"op": "replace", "path": "title", "value": "T"}]});
        let e = parse(Kind::User, &body).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(e.detail.contains("BulkPatch"), "{}", e.detail);
        let lower = json!({"schemas": [PATCH_URN.to_lowercase()], "Operations": [{"op": "replace", "path": "title", "value": "T"}]});
        assert!(parse(Kind::User, &lower).is_ok());
    }

    #[test]
    fn a_pathless_value_naming_an_attribute_twice_is_refused() {
        let e = patch(
            Kind::User,
            ann(),
            json!([{"op": "replace", "value": {"displayName": "A", "DISPLAYNAME": "B"}}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("more than once"), "{}", e.detail);
    }

    #[test]
    fn the_extension_as_a_whole_can_be_set_and_removed() {
        let out = patch(
            Kind::User,
            ann(),
            json!([{"op": "add", "path": ENTERPRISE_URN, "value": {"schemas": [ENTERPRISE_URN], "department": "D", "employeeNumber": "7"}}]),
        )
        .unwrap();
        assert_eq!(
            out[ENTERPRISE_URN],
            json!({"department": "D", "employeeNumber": "7"})
        );
        let out = patch(
            Kind::User,
            out,
            json!([{"op": "remove", "path": ENTERPRISE_URN}]),
        )
        .unwrap();
        assert!(out.get(ENTERPRISE_URN).is_none());
    }
}
