//! Filters (RFC 7644, section 3.4.2.2): the text is parsed by `scim_v2`'s
//! grammar, which bounds nesting and terms while it parses; this module
//! bounds its length, resolves every attribute against the schema once (an
//! unknown attribute or an operator the type does not have is
//! `invalidFilter` before any resource is looked at), and evaluates it.
//!
//! Comparison rules: attribute names in any case; strings compare without
//! case unless the attribute is `caseExact` (`id`, `externalId`); a
//! multi-valued attribute matches when one of its values does; a complex
//! attribute named without a sub-attribute means its `value`
//! (`emails co "@x.com"`); `pr` is true for a non-empty value; an absent
//! attribute equals `null` and is unequal to anything else.

use std::cmp::Ordering;

use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, ValFilter};
use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::limits::MAX_FILTER_BYTES;
use crate::path::{self, Resolved, Target};
use crate::schema::{AttrType, Attribute, Kind};

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidFilter, detail)
}

/// A filter checked against the schema, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Compiled(Node);

#[derive(Debug, Clone)]
enum Node {
    Test(Target, Test),
    /// `attr[inner]`: some value of the multi-valued complex attribute matches.
    Values(Target, Box<Node>),
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    /// A test on a sub-attribute of the value being filtered (inside `[...]`).
    Sub(&'static Attribute, Test),
}

#[derive(Debug, Clone)]
enum Test {
    Present,
    Compare(CompareOp, CompValue),
}

/// Parses and checks `text` for resources of `kind`.
pub fn compile(kind: Kind, text: &str) -> Result<Compiled, ScimError> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(ScimError::bad(
            ScimType::InvalidFilter,
            format!(
                "the filter has {} bytes; at most {MAX_FILTER_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    let parsed: Filter = text
        .parse()
        .map_err(|e| invalid(format!("the filter {text:?} is not valid: {e}")))?;
    Ok(Compiled(node(kind, &parsed)?))
}

fn target(kind: Kind, path: &AttrPath) -> Result<Target, ScimError> {
    match path::resolve(kind, path).map_err(invalid)? {
        Resolved::Attr(t) => Ok(t),
        Resolved::Extension(ext) => {
            Err(invalid(format!("{} is a schema, not an attribute", ext.id)))
        }
    }
}

/// For a complex attribute without a sub-attribute, its `value`.
fn leaf_target(mut t: Target) -> Result<Target, ScimError> {
    if t.sub.is_none() && t.attr.is_complex() {
        t.sub = Some(t.attr.sub("value").ok_or_else(|| {
            invalid(format!(
                "{} is complex: name one of its sub-attributes",
                t.attr.name
            ))
        })?);
    }
    Ok(t)
}

fn node(kind: Kind, f: &Filter) -> Result<Node, ScimError> {
    Ok(match f {
        Filter::Attr(e) => {
            let (path, test) = attr_exp(e);
            let t = leaf_target(target(kind, path)?)?;
            check_test(t.leaf(), &test)?;
            Node::Test(t, test)
        }
        Filter::ValuePath(vp) => {
            let t = target(kind, &vp.attr)?;
            if !t.attr.is_complex() || !t.attr.multi_valued || t.sub.is_some() {
                return Err(invalid(format!(
                    "{}[...] needs a multi-valued complex attribute",
                    t.display()
                )));
            }
            Node::Values(t, Box::new(val_node(t.attr, &vp.filter)?))
        }
        Filter::Not(inner) => Node::Not(Box::new(node(kind, inner)?)),
        Filter::And(items) => Node::And(
            items
                .iter()
                .map(|i| node(kind, i))
                .collect::<Result<_, _>>()?,
        ),
        Filter::Or(items) => Node::Or(
            items
                .iter()
                .map(|i| node(kind, i))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// The filter inside `attr[...]`, on the sub-attributes of `parent`.
fn val_node(parent: &'static Attribute, f: &ValFilter) -> Result<Node, ScimError> {
    Ok(match f {
        ValFilter::Attr(e) => {
            let (path, test) = attr_exp(e);
            if path.uri.is_some() || path.sub_attr.is_some() {
                return Err(invalid(format!(
                    "inside {}[...], name a sub-attribute of {} alone",
                    parent.name, parent.name
                )));
            }
            let sub = parent.sub(&path.name).ok_or_else(|| {
                invalid(format!(
                    "{} has no sub-attribute {}",
                    parent.name, path.name
                ))
            })?;
            check_test(sub, &test)?;
            Node::Sub(sub, test)
        }
        ValFilter::Not(inner) => Node::Not(Box::new(val_node(parent, inner)?)),
        ValFilter::And(items) => Node::And(
            items
                .iter()
                .map(|i| val_node(parent, i))
                .collect::<Result<_, _>>()?,
        ),
        ValFilter::Or(items) => Node::Or(
            items
                .iter()
                .map(|i| val_node(parent, i))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn attr_exp(e: &AttrExp) -> (&AttrPath, Test) {
    match e {
        AttrExp::Present(p) => (p, Test::Present),
        AttrExp::Comparison(p, op, v) => (p, Test::Compare(op.clone(), v.clone())),
    }
}

/// The operators each type has (RFC 7644, table 3).
fn check_test(attr: &Attribute, test: &Test) -> Result<(), ScimError> {
    let Test::Compare(op, value) = test else {
        return Ok(());
    };
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let refuse = |why: &str| Err(invalid(format!("{} {op} is not allowed: {why}", attr.name)));
    match attr.ty {
        AttrType::Boolean | AttrType::Binary if ordering => refuse("it has no order"),
        AttrType::Boolean | AttrType::Integer | AttrType::Decimal if substring => {
            refuse("it is not text")
        }
        AttrType::Complex => refuse("it is complex"),
        _ if matches!(value, CompValue::Null) && !matches!(op, CompareOp::Eq | CompareOp::Ne) => {
            refuse("null can only be compared with eq or ne")
        }
        _ => Ok(()),
    }
}

impl Compiled {
    /// Whether `resource` (as the client sees it) matches.
    pub fn matches(&self, resource: &Map<String, Value>) -> bool {
        eval(&self.0, resource)
    }

    /// `userName eq "..."`: the one lookup providers make before every
    /// change, answered from an index instead of by reading every user.
    pub fn user_name_eq(&self) -> Option<&str> {
        match &self.0 {
            Node::Test(t, Test::Compare(CompareOp::Eq, CompValue::Str(v)))
                if t.sub.is_none() && t.attr.name == "userName" =>
            {
                Some(v)
            }
            _ => None,
        }
    }

    /// Whether evaluating needs what the endpoint computes (a user's
    /// `groups`, the manager's `displayName`), not only what is stored.
    pub fn reads_computed(&self) -> bool {
        fn walk(n: &Node) -> bool {
            match n {
                Node::Test(t, _) | Node::Values(t, _) => {
                    t.attr.name == "groups"
                        || t.sub
                            .is_some_and(|s| s.name == "displayName" && t.attr.name == "manager")
                }
                Node::Not(i) => walk(i),
                Node::And(items) | Node::Or(items) => items.iter().any(walk),
                Node::Sub(..) => false,
            }
        }
        walk(&self.0)
    }
}

fn eval(node: &Node, resource: &Map<String, Value>) -> bool {
    match node {
        Node::Test(t, test) => {
            let values = values_at(resource, t);
            test_values(t.leaf(), &values, test)
        }
        Node::Values(t, inner) => {
            match t.container.get(resource).and_then(|c| c.get(t.attr.name)) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_object)
                    .any(|item| eval(inner, item)),
                _ => false,
            }
        }
        Node::Sub(sub, test) => {
            let values: Vec<&Value> = resource.get(sub.name).into_iter().collect();
            test_values(sub, &values, test)
        }
        Node::Not(inner) => !eval(inner, resource),
        Node::And(items) => items.iter().all(|i| eval(i, resource)),
        Node::Or(items) => items.iter().any(|i| eval(i, resource)),
    }
}

/// Every value at `t` (one per element of a multi-valued attribute).
fn values_at<'a>(resource: &'a Map<String, Value>, t: &Target) -> Vec<&'a Value> {
    let Some(v) = t.container.get(resource).and_then(|c| c.get(t.attr.name)) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    match t.sub {
        None => items,
        Some(sub) => items.into_iter().filter_map(|i| i.get(sub.name)).collect(),
    }
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn test_values(attr: &Attribute, values: &[&Value], test: &Test) -> bool {
    match test {
        Test::Present => values.iter().any(|v| non_empty(v)),
        Test::Compare(op, wanted) => {
            let present: Vec<&Value> = values.iter().copied().filter(|v| !v.is_null()).collect();
            if present.is_empty() {
                return match (op, wanted) {
                    (CompareOp::Eq, CompValue::Null) => true,
                    (CompareOp::Ne, CompValue::Null) => false,
                    (CompareOp::Ne, _) => true,
                    _ => false,
                };
            }
            present.iter().any(|v| compare(attr, v, op, wanted))
        }
    }
}

fn compare(attr: &Attribute, have: &Value, op: &CompareOp, wanted: &CompValue) -> bool {
    if let CompValue::Null = wanted {
        // A present value is not null.
        return matches!(op, CompareOp::Ne);
    }
    match attr.ty {
        AttrType::Boolean => {
            let want = match wanted {
                CompValue::True => Some(true),
                CompValue::False => Some(false),
                CompValue::Str(s) => crate::resource::boolean(&Value::String(s.clone())),
                _ => None,
            };
            let equal = want.is_some() && have.as_bool() == want;
            match op {
                CompareOp::Eq => equal,
                CompareOp::Ne => !equal,
                _ => false,
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            let (Some(h), CompValue::Number(w)) = (have.as_f64(), wanted) else {
                return matches!(op, CompareOp::Ne);
            };
            ordered(h.partial_cmp(&w.as_f64().unwrap_or(f64::NAN)), op)
        }
        AttrType::DateTime => {
            let (Some(h), CompValue::Str(w)) = (have.as_str(), wanted) else {
                return matches!(op, CompareOp::Ne);
            };
            let order = match (
                chrono::DateTime::parse_from_rfc3339(h),
                chrono::DateTime::parse_from_rfc3339(w),
            ) {
                (Ok(a), Ok(b)) => Some(a.cmp(&b)),
                _ => Some(h.cmp(w)),
            };
            ordered(order, op)
        }
        _ => {
            let (Some(h), CompValue::Str(w)) = (have.as_str(), wanted) else {
                return matches!(op, CompareOp::Ne);
            };
            let (h, w) = if attr.case_exact {
                (h.to_owned(), w.clone())
            } else {
                (h.to_lowercase(), w.to_lowercase())
            };
            match op {
                CompareOp::Co => h.contains(&w),
                CompareOp::Sw => h.starts_with(&w),
                CompareOp::Ew => h.ends_with(&w),
                _ => ordered(Some(h.cmp(&w)), op),
            }
        }
    }
}

fn ordered(order: Option<Ordering>, op: &CompareOp) -> bool {
    let Some(o) = order else {
        return matches!(op, CompareOp::Ne);
    };
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        // Substring operators on text are handled by the caller.
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// A filter inside a PATCH path (`members[value eq "1"]`), on the values of
/// `parent`.
#[derive(Debug, Clone)]
pub struct ValueFilter(Node);

impl ValueFilter {
    pub(crate) fn new(parent: &'static Attribute, f: &ValFilter) -> Result<Self, ScimError> {
        val_node(parent, f).map(Self)
    }

    pub fn matches(&self, value: &Map<String, Value>) -> bool {
        eval(&self.0, value)
    }

    /// The sub-attribute values the filter requires by `eq` when it is only
    /// that (`type eq "work"`, `type eq "work" and primary eq true`): what a
    /// new value must hold to match it.
    pub fn required_values(&self) -> Option<Map<String, Value>> {
        fn collect(n: &Node, out: &mut Map<String, Value>) -> bool {
            match n {
                Node::Sub(sub, Test::Compare(CompareOp::Eq, v)) => {
                    let value = match v {
                        CompValue::Str(s) => Value::String(s.clone()),
                        CompValue::True => Value::Bool(true),
                        CompValue::False => Value::Bool(false),
                        CompValue::Number(n) => Value::Number(n.clone()),
                        CompValue::Null => return false,
                    };
                    out.insert(sub.name.to_owned(), value);
                    true
                }
                Node::And(items) => items.iter().all(|i| collect(i, out)),
                _ => false,
            }
        }
        let mut out = Map::new();
        collect(&self.0, &mut out).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ENTERPRISE_URN;
    use serde_json::json;

    fn ann() -> Map<String, Value> {
        json!({
            "id": "A1", "externalId": "E-1", "userName": "Ann@X.com", "active": true,
            "displayName": "Ann Smith",
            "emails": [{"value": "ann@x.com", "type": "work"}, {"value": "ann@home.org", "type": "home"}],
            ENTERPRISE_URN: {"department": "Sales"},
            "meta": {"created": "2026-01-02T03:04:05Z"},
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn matches(filter: &str) -> bool {
        compile(Kind::User, filter).unwrap().matches(&ann())
    }

    #[test]
    fn the_providers_lookups_match_with_the_rfc_case_rules() {
        assert!(
            matches(r#"userName eq "ann@x.com""#),
            "userName ignores case"
        );
        assert!(
            matches(r#"USERNAME EQ "ANN@X.COM""#),
            "names and operators too"
        );
        assert!(matches(r#"externalId eq "E-1""#));
        assert!(
            !matches(r#"externalId eq "e-1""#),
            "externalId is case-exact"
        );
        assert!(matches(r#"emails.value eq "ANN@home.org""#));
        assert!(matches(r#"emails[type eq "work" and value co "@x.com"]"#));
        assert!(!matches(r#"emails[type eq "home" and value co "@x.com"]"#));
        assert!(
            matches(r#"emails co "home""#),
            "a complex attribute means its value"
        );
        assert!(matches(
            r#"displayName sw "ann" and displayName ew "SMITH""#
        ));
        assert!(matches(r#"displayName ne "Bob" or active eq false"#));
        assert!(matches(
            "active eq true and title eq null and not (title pr)"
        ));
        assert!(!matches("title ne null"));
        assert!(matches(&format!(
            r#"{ENTERPRISE_URN}:department eq "sales""#
        )));
        assert!(matches(r#"meta.created gt "2026-01-01T00:00:00+01:00""#));
        assert!(matches(r#"id eq "A1""#));
    }

    #[test]
    fn bad_filters_are_invalid_filter_errors() {
        for bad in [
            "userName garbage",
            "userName regex \"a\"",
            "favouriteColour eq \"red\"",
            "active gt true",
            "active co \"t\"",
            "name eq \"x\"",
            "userName[value eq \"x\"]",
            "emails[colour eq \"x\"]",
            "userName gt null",
            "",
        ] {
            let e = compile(Kind::User, bad).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(ScimType::InvalidFilter)),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn hostile_filters_are_refused_without_crashing() {
        // Within the length limit, so the grammar's own depth bound refuses it.
        let deep = format!("{}userName pr{}", "not (".repeat(1000), ")".repeat(1000));
        assert!(deep.len() < MAX_FILTER_BYTES);
        assert!(
            compile(Kind::User, &deep)
                .unwrap_err()
                .detail
                .contains("depth")
        );
        let long = vec!["userName eq \"a\""; 2000].join(" or ");
        assert!(compile(Kind::User, &long).is_err());
        let brackets = format!("emails[{}", "(".repeat(4000));
        assert!(compile(Kind::User, &brackets).is_err());
        assert!(compile(Kind::User, &"x".repeat(MAX_FILTER_BYTES + 1)).is_err());
        let terms = vec!["userName eq \"a\""; 300].join(" or ");
        assert!(
            compile(Kind::User, &terms).is_ok(),
            "a long flat lookup is fine"
        );
    }

    /// Random filters from the grammar, some with a character changed:
    /// every one is answered, none panics, whatever it parses to.
    #[test]
    fn generated_filters_never_panic() {
        const ATTRS: &[&str] = &[
            "userName",
            "emails.value",
            "name.givenName",
            "active",
            "meta.created",
            "title",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "x.y.z",
            "groups.value",
            "externalId",
        ];
        const OPS: &[&str] = &[
            "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "regex",
        ];
        const VALUES: &[&str] = &[
            "\"a\"",
            "\"\\\"é\"",
            "true",
            "false",
            "null",
            "1",
            "-0.5e3",
            "\"2026-01-01T00:00:00Z\"",
        ];
        let mut seed: u64 = 0x5eed;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        fn expr(depth: usize, next: &mut dyn FnMut() -> usize) -> String {
            let pick = |list: &[&str], next: &mut dyn FnMut() -> usize| {
                list[next() % list.len()].to_owned()
            };
            match if depth == 0 { 0 } else { next() % 6 } {
                0 | 1 => match next() % 4 {
                    0 => format!("{} pr", pick(ATTRS, next)),
                    _ => format!(
                        "{} {} {}",
                        pick(ATTRS, next),
                        pick(OPS, next),
                        pick(VALUES, next)
                    ),
                },
                2 => format!("{} and {}", expr(depth - 1, next), expr(depth - 1, next)),
                3 => format!("{} or {}", expr(depth - 1, next), expr(depth - 1, next)),
                4 => format!("not ({})", expr(depth - 1, next)),
                _ => format!("emails[type {} {}]", pick(OPS, next), pick(VALUES, next)),
            }
        }
        let (mut parsed, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let depth = next() % 5;
            let mut text: Vec<char> = expr(depth, &mut next).chars().collect();
            if next() % 3 == 0 && !text.is_empty() {
                let at = next() % text.len();
                text[at] = ['(', ')', '[', ']', '"', ' ', '\\', 'x', '.'][next() % 9];
            }
            let text: String = text.into_iter().collect();
            match compile(Kind::User, &text) {
                Ok(f) => {
                    parsed += 1;
                    f.matches(&ann());
                }
                Err(e) => {
                    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{text}: {e}");
                    refused += 1;
                }
            }
        }
        assert!(
            parsed > 1000 && refused > 1000,
            "{parsed} parsed, {refused} refused"
        );
    }

    #[test]
    fn the_user_name_lookup_is_recognised() {
        assert_eq!(
            compile(Kind::User, r#"userName eq "a@x""#)
                .unwrap()
                .user_name_eq(),
            Some("a@x")
        );
        assert_eq!(
            compile(Kind::User, r#"userName co "a@x""#)
                .unwrap()
                .user_name_eq(),
            None
        );
        assert!(
            compile(Kind::User, r#"groups.value eq "g""#)
                .unwrap()
                .reads_computed()
        );
    }

    #[test]
    fn a_value_filter_of_eq_terms_says_what_a_new_value_holds() {
        let inner = |text: &str| match text.parse().unwrap() {
            scim_v2::filter::PatchPath::Value(vp) => vp.filter,
            other => panic!("{other:?}"),
        };
        let emails = crate::schema::USER.attribute("emails").unwrap();
        let vf = ValueFilter::new(
            emails,
            &inner("emails[type eq \"work\" and primary eq true]"),
        )
        .unwrap();
        assert_eq!(
            Value::Object(vf.required_values().unwrap()),
            json!({"type": "work", "primary": true})
        );
        let vf = ValueFilter::new(emails, &inner("emails[type ne \"work\"]")).unwrap();
        assert!(vf.required_values().is_none());
    }
}
