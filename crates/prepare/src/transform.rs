//! `TIMECAMP_PREPARE_TRANSFORM_CONFIG`: filter, exclude and rewrite source
//! records before prepare, with the newest original's grammar:
//!
//! ```json
//! {"exclude": <node>, "filter": <node>,
//!  "transform": [{"property": "department", "action": "replace_all", "value": ""}]}
//! ```
//!
//! A node is `{"and": [..]}`, `{"or": [..]}`, `{"not": node}` or `{"not": [..]}`
//! (none of them), or a leaf `{"property": "raw_data.x", "string": {"equals" |
//! "starts_with" | "ends_with" | "contains": "…"}}`. Values compare as text the
//! way the original (Python) wrote them.
//!
//! The grammar is checked whole when the settings are read, and every mistake
//! stops prepare with the JSON path of the place: an unknown key (`exclud`),
//! operator (`regex`), action (`delete_all`), a leaf without its property, an
//! operand that is a list. The original ignored them all, so a typo excluded
//! nobody and exited 0. The text is parsed here; the stage reads the file.
//!
//! Nothing here recurses: the config and the records are walked with explicit
//! stacks, and a property path has at most [`MAX_PROPERTY_SEGMENTS`] parts, so
//! a rule cannot build a record deeper than the parser accepts.

use serde_json::{Map, Value};

/// The largest config accepted, inline or in a file: 1 MiB, far more than any
/// real one (the original's example is 500 bytes).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The most dot-separated parts a `property` may have. Records are nested a
/// few levels (`raw_data.customFields.x`); a path of thousands of parts is a
/// mistake, and setting it would build a record as deep.
pub const MAX_PROPERTY_SEGMENTS: usize = 32;

/// The operators of a leaf, in the original's order of priority.
const OPERATORS: &str = "equals, starts_with, ends_with or contains";

/// Why a config cannot be used. `at` is the JSON path of the mistake
/// (`filter.and[0].string.regex`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("not valid JSON: {message} (line {line}, column {column})")]
    Json {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("the config is {bytes} bytes, more than the {MAX_CONFIG_BYTES} a config may have")]
    TooLarge { bytes: usize },
    #[error("{at}: unknown key {key:?}; {expected}")]
    UnknownKey {
        at: String,
        key: String,
        expected: &'static str,
    },
    #[error("{at}: unknown operator {operator:?}; a leaf compares with {OPERATORS}")]
    UnknownOperator { at: String, operator: String },
    #[error("{at}: unknown action {action:?}; the one action is replace_all")]
    UnknownAction { at: String, action: String },
    #[error(
        "{at}: the property has {segments} parts, more than the {MAX_PROPERTY_SEGMENTS} a property may have"
    )]
    PropertyTooLong { at: String, segments: usize },
    #[error("{at}: {message}")]
    Shape { at: String, message: String },
}

/// A filter node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `{}`, `null`, `[]`, `""`: true.
    Empty,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// `{"not": [..]}`: none of them.
    Nor(Vec<Node>),
    Leaf {
        property: String,
        op: Op,
    },
}

/// A leaf's comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Equals(String),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
}

/// One `transform` rule: `replace_all`, the one action, sets the property.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub property: String,
    pub value: Value,
}

/// The whole config.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformConfig {
    pub exclude: Node,
    pub filter: Node,
    pub transform: Vec<Rule>,
    /// The config as written, for the log.
    pub text: String,
}

/// What applying the config did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub excluded: usize,
    pub transformed: usize,
    /// Per input record: `None` excluded, `Some(true)` transformed, `Some(false)` as it was.
    pub each: Vec<Option<bool>>,
}

/// Whether the setting is inline JSON; anything else names a file.
pub fn is_inline(setting: &str) -> bool {
    let text = setting.trim_start();
    text.starts_with('{') || text.starts_with('[')
}

impl TransformConfig {
    /// Parses a config's text (the setting's inline JSON, or the file it
    /// names). `None` for a config that has no effect (`{}`, `[]`, `null`).
    pub fn parse(json: &str) -> Result<Option<Self>, TransformError> {
        if json.len() > MAX_CONFIG_BYTES {
            return Err(TransformError::TooLarge { bytes: json.len() });
        }
        // serde_json refuses nesting deeper than 128 levels, so a hostile
        // config cannot exhaust the stack while it is parsed.
        let value: Value = serde_json::from_str(json).map_err(|e| TransformError::Json {
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_owned(),
            line: e.line(),
            column: e.column(),
        })?;
        if is_empty(&value) || value == 0 {
            return Ok(None);
        }
        let Value::Object(obj) = &value else {
            return Err(shape(
                "the config",
                "must be a JSON object with exclude, filter and/or transform",
            ));
        };
        if let Some(key) = obj
            .keys()
            .find(|k| !["exclude", "filter", "transform"].contains(&k.as_str()))
        {
            return Err(TransformError::UnknownKey {
                at: key.clone(),
                key: key.clone(),
                expected: "a config has exclude, filter and transform",
            });
        }
        let exclude = node(obj.get("exclude").unwrap_or(&Value::Null), "exclude")?;
        let filter = node(obj.get("filter").unwrap_or(&Value::Null), "filter")?;
        let transform = match obj.get("transform") {
            None => Vec::new(),
            Some(Value::Array(rules)) => rules
                .iter()
                .enumerate()
                .map(|(i, r)| rule(r, &format!("transform[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(shape("transform", "must be a list of rules")),
        };
        Ok(Some(Self {
            exclude,
            filter,
            transform,
            text: json.trim().to_owned(),
        }))
    }

    /// The property paths the config reads or sets.
    pub fn properties(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut stack = vec![&self.exclude, &self.filter];
        while let Some(n) = stack.pop() {
            match n {
                Node::And(c) | Node::Or(c) | Node::Nor(c) => stack.extend(c.iter().rev()),
                Node::Not(c) => stack.push(c),
                Node::Leaf { property, .. } => out.push(property.as_str()),
                Node::Empty => {}
            }
        }
        out.extend(self.transform.iter().map(|r| r.property.as_str()));
        out
    }

    /// Applies the config to records (JSON objects): excluded ones are
    /// removed, matching ones transformed.
    pub fn apply(&self, records: &mut Vec<Value>) -> Applied {
        let mut applied = Applied::default();
        let exclude_set = self.exclude != Node::Empty;
        applied.each = records
            .iter()
            .map(|r| (!(exclude_set && eval(&self.exclude, r))).then_some(false))
            .collect();
        let mut keep = applied.each.iter();
        records.retain(|_| keep.next().is_some_and(Option::is_some));
        applied.excluded = applied.each.iter().filter(|e| e.is_none()).count();
        let kept: Vec<usize> = (0..applied.each.len())
            .filter(|&i| applied.each[i].is_some())
            .collect();
        for (record, &index) in records.iter_mut().zip(&kept) {
            if !record.is_object() || !eval(&self.filter, record) {
                continue;
            }
            let mut changed = false;
            for rule in &self.transform {
                if get(record, &rule.property) != Some(&rule.value) {
                    changed |= set(record, &rule.property, rule.value.clone());
                }
            }
            if changed {
                applied.transformed += 1;
                applied.each[index] = Some(true);
            }
        }
        applied
    }
}

fn shape(at: &str, message: &str) -> TransformError {
    TransformError::Shape {
        at: at.to_owned(),
        message: message.to_owned(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// A node's kind, with its children still as JSON.
enum Parsed<'v> {
    Done(Node),
    And(&'v [Value]),
    Or(&'v [Value]),
    Not(&'v Value),
    Nor(&'v [Value]),
}

/// Reads one node without its children.
fn parse_node<'v>(v: &'v Value, at: &str) -> Result<Parsed<'v>, TransformError> {
    if is_empty(v) {
        return Ok(Parsed::Done(Node::Empty));
    }
    let Value::Object(o) = v else {
        return Err(shape(at, "a filter node must be an object"));
    };
    let Some(kind) = ["and", "or", "not"]
        .into_iter()
        .find(|k| o.contains_key(*k))
    else {
        return leaf(o, at).map(Parsed::Done);
    };
    if let Some(other) = o.keys().find(|k| k.as_str() != kind) {
        return Err(TransformError::UnknownKey {
            at: format!("{at}.{other}"),
            key: other.clone(),
            expected: "a node is {\"and\": [...]}, {\"or\": [...]}, {\"not\": ...} or a leaf \
                       {\"property\", \"string\"}, one kind per object",
        });
    }
    let list = |items: &'v Value| match items {
        Value::Array(items) => Ok(items.as_slice()),
        _ => Err(shape(&format!("{at}.{kind}"), "must be a list of nodes")),
    };
    Ok(match (kind, &o[kind]) {
        ("and", items) => Parsed::And(list(items)?),
        ("or", items) => Parsed::Or(list(items)?),
        (_, items @ Value::Array(_)) => Parsed::Nor(list(items)?),
        (_, inner) => Parsed::Not(inner),
    })
}

/// A node and its children, without recursion: each open node waits on the
/// stack for the children it has read so far.
fn node(v: &Value, at: &str) -> Result<Node, TransformError> {
    enum Kind {
        And,
        Or,
        Not,
        Nor,
    }
    struct Open<'v> {
        kind: Kind,
        at: String,
        key: &'static str,
        pending: std::iter::Enumerate<std::slice::Iter<'v, Value>>,
        done: Vec<Node>,
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut next: Option<(&Value, String)> = Some((v, at.to_owned()));
    loop {
        if let Some((value, at)) = next.take() {
            let (kind, key, items) = match parse_node(value, &at)? {
                Parsed::Done(n) => {
                    match stack.last_mut() {
                        Some(parent) => parent.done.push(n),
                        None => return Ok(n),
                    }
                    continue;
                }
                Parsed::And(items) => (Kind::And, "and", items),
                Parsed::Or(items) => (Kind::Or, "or", items),
                Parsed::Nor(items) => (Kind::Nor, "not", items),
                Parsed::Not(inner) => (Kind::Not, "not", std::slice::from_ref(inner)),
            };
            stack.push(Open {
                kind,
                at,
                key,
                pending: items.iter().enumerate(),
                done: Vec::with_capacity(items.len()),
            });
        }
        let Some(open) = stack.last_mut() else {
            return Ok(Node::Empty);
        };
        if let Some((i, child)) = open.pending.next() {
            let child_at = match open.kind {
                Kind::Not => format!("{}.not", open.at),
                _ => format!("{}.{}[{i}]", open.at, open.key),
            };
            next = Some((child, child_at));
            continue;
        }
        let Some(open) = stack.pop() else {
            return Ok(Node::Empty);
        };
        let n = match open.kind {
            Kind::And => Node::And(open.done),
            Kind::Or => Node::Or(open.done),
            Kind::Nor => Node::Nor(open.done),
            Kind::Not => Node::Not(Box::new(
                open.done.into_iter().next().unwrap_or(Node::Empty),
            )),
        };
        match stack.last_mut() {
            Some(parent) => parent.done.push(n),
            None => return Ok(n),
        }
    }
}

/// A property path: a non-empty string of at most [`MAX_PROPERTY_SEGMENTS`] parts.
fn property(o: &Map<String, Value>, at: &str) -> Result<String, TransformError> {
    let Some(Value::String(p)) = o.get("property").filter(|p| !is_empty(p)) else {
        return Err(shape(
            &format!("{at}.property"),
            "must be the dotted path of a field, e.g. department or raw_data.employmentStatus",
        ));
    };
    let segments = segments(p).count();
    if segments > MAX_PROPERTY_SEGMENTS {
        return Err(TransformError::PropertyTooLong {
            at: format!("{at}.property"),
            segments,
        });
    }
    Ok(p.clone())
}

fn leaf(o: &Map<String, Value>, at: &str) -> Result<Node, TransformError> {
    if let Some(other) = o
        .keys()
        .find(|k| !["property", "string"].contains(&k.as_str()))
    {
        return Err(TransformError::UnknownKey {
            at: format!("{at}.{other}"),
            key: other.clone(),
            expected: "a leaf has property and string, e.g. {\"property\": \"department\", \
                       \"string\": {\"equals\": \"Sales\"}}; a node has and, or or not",
        });
    }
    let property = property(o, at)?;
    let Some(Value::Object(ops)) = o.get("string") else {
        return Err(shape(
            &format!("{at}.string"),
            "must be an object with one operator, e.g. {\"equals\": \"Sales\"}",
        ));
    };
    let mut ops = ops.iter();
    let (Some((name, operand)), None) = (ops.next(), ops.next()) else {
        return Err(shape(
            &format!("{at}.string"),
            "must have exactly one operator (combine leaves with and, or, not)",
        ));
    };
    let op_at = format!("{at}.string.{name}");
    if matches!(operand, Value::Array(_) | Value::Object(_)) {
        return Err(shape(
            &op_at,
            "must be a string, a number, true, false or null (the value's text is compared)",
        ));
    }
    let operand = python_text(operand);
    let op = match name.as_str() {
        "equals" => Op::Equals(operand),
        "starts_with" => Op::StartsWith(operand),
        "ends_with" => Op::EndsWith(operand),
        "contains" => Op::Contains(operand),
        _ => {
            return Err(TransformError::UnknownOperator {
                at: op_at,
                operator: name.clone(),
            });
        }
    };
    Ok(Node::Leaf { property, op })
}

fn rule(r: &Value, at: &str) -> Result<Rule, TransformError> {
    let Value::Object(o) = r else {
        return Err(shape(
            at,
            "a rule is {\"property\": ..., \"action\": \"replace_all\", \"value\": ...}",
        ));
    };
    if let Some(other) = o
        .keys()
        .find(|k| !["property", "action", "value"].contains(&k.as_str()))
    {
        return Err(TransformError::UnknownKey {
            at: format!("{at}.{other}"),
            key: other.clone(),
            expected: "a rule has property, action and value",
        });
    }
    let property = property(o, at)?;
    match o.get("action") {
        Some(Value::String(a)) if a == "replace_all" => {}
        Some(Value::String(a)) => {
            return Err(TransformError::UnknownAction {
                at: format!("{at}.action"),
                action: a.clone(),
            });
        }
        _ => {
            return Err(shape(
                &format!("{at}.action"),
                "must be \"replace_all\" (it sets the property to the value)",
            ));
        }
    }
    let Some(value) = o.get("value") else {
        return Err(shape(
            &format!("{at}.value"),
            "is missing: the value to set (null to set null)",
        ));
    };
    Ok(Rule {
        property,
        value: value.clone(),
    })
}

/// Whether a record matches a node. Evaluated without recursion: children
/// are visited first, then each node combines their results.
pub fn eval(n: &Node, record: &Value) -> bool {
    enum Step<'n> {
        Visit(&'n Node),
        Combine(&'n Node, usize),
    }
    let mut steps = vec![Step::Visit(n)];
    let mut results: Vec<bool> = Vec::new();
    while let Some(step) = steps.pop() {
        match step {
            Step::Visit(node) => match node {
                Node::Empty => results.push(true),
                Node::Leaf { property, op } => results.push(leaf_matches(record, property, op)),
                Node::And(c) | Node::Or(c) | Node::Nor(c) => {
                    steps.push(Step::Combine(node, c.len()));
                    steps.extend(c.iter().rev().map(Step::Visit));
                }
                Node::Not(c) => {
                    steps.push(Step::Combine(node, 1));
                    steps.push(Step::Visit(c));
                }
            },
            Step::Combine(node, n) => {
                let children = results.split_off(results.len().saturating_sub(n));
                results.push(match node {
                    Node::And(_) => children.iter().all(|&r| r),
                    Node::Or(_) => children.iter().any(|&r| r),
                    Node::Nor(_) => !children.iter().any(|&r| r),
                    Node::Not(_) => !children.first().copied().unwrap_or(true),
                    Node::Empty | Node::Leaf { .. } => true,
                });
            }
        }
    }
    results.pop().unwrap_or(true)
}

fn leaf_matches(record: &Value, property: &str, op: &Op) -> bool {
    let Some(value) = get(record, property).filter(|v| !v.is_null()) else {
        return false;
    };
    let text = python_text(value);
    match op {
        Op::Equals(o) => text == *o,
        Op::StartsWith(o) => text.starts_with(o.as_str()),
        Op::EndsWith(o) => text.ends_with(o.as_str()),
        Op::Contains(o) => text.contains(o.as_str()),
    }
}

/// A value as Python's `str()` writes it, which existing configs compare
/// with; lists and objects as their `repr`. Written without recursion.
pub fn python_text(v: &Value) -> String {
    enum Piece<'v> {
        Value { v: &'v Value, quoted: bool },
        Text(&'static str),
        Key(&'v str),
    }
    let mut out = String::new();
    let mut pieces = vec![Piece::Value { v, quoted: false }];
    while let Some(piece) = pieces.pop() {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Key(k) => {
                out.push('\'');
                out.push_str(k);
                out.push_str("': ");
            }
            Piece::Value { v, quoted } => match v {
                Value::Null => out.push_str("None"),
                Value::Bool(true) => out.push_str("True"),
                Value::Bool(false) => out.push_str("False"),
                Value::String(s) if quoted => {
                    out.push('\'');
                    out.push_str(s);
                    out.push('\'');
                }
                Value::String(s) => out.push_str(s),
                Value::Number(n) => out.push_str(&python_number(n)),
                Value::Array(items) => {
                    out.push('[');
                    pieces.push(Piece::Text("]"));
                    for (i, item) in items.iter().enumerate().rev() {
                        pieces.push(Piece::Value {
                            v: item,
                            quoted: true,
                        });
                        if i > 0 {
                            pieces.push(Piece::Text(", "));
                        }
                    }
                }
                Value::Object(o) => {
                    out.push('{');
                    pieces.push(Piece::Text("}"));
                    for (i, (k, item)) in o.iter().enumerate().rev() {
                        pieces.push(Piece::Value {
                            v: item,
                            quoted: true,
                        });
                        pieces.push(Piece::Key(k));
                        if i > 0 {
                            pieces.push(Piece::Text(", "));
                        }
                    }
                }
            },
        }
    }
    out
}

fn python_number(n: &serde_json::Number) -> String {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (_, Some(u), _) => u.to_string(),
        (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
        _ => n.to_string(),
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('.').filter(|s| !s.is_empty())
}

/// The value at a dotted path: keys in objects, decimal indexes in arrays.
pub fn get<'v>(record: &'v Value, path: &str) -> Option<&'v Value> {
    segments(path).try_fold(record, |at, seg| match at {
        Value::Object(o) => o.get(seg),
        Value::Array(a) => seg
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| seg.parse::<usize>().ok())
            .flatten()
            .and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Sets the value at a dotted path, creating objects on the way; an array
/// element is set only at an existing index. Whether anything was set.
fn set(record: &mut Value, path: &str, value: Value) -> bool {
    let segs: Vec<&str> = segments(path).collect();
    let Some((last, parents)) = segs.split_last() else {
        *record = value;
        return true;
    };
    let mut at = record;
    for seg in parents {
        at = match at {
            Value::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(next) => next,
                None => return false,
            },
            other => {
                if !other.is_object() {
                    *other = Value::Object(Map::new());
                }
                let Value::Object(o) = other else {
                    return false;
                };
                o.entry((*seg).to_owned())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
        };
    }
    match at {
        Value::Array(a) => match last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        },
        other => {
            if !other.is_object() {
                *other = Value::Object(Map::new());
            }
            match other {
                Value::Object(o) => {
                    o.insert((*last).to_owned(), value);
                    true
                }
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_originals_example_moves_staff_to_the_root_but_not_vendors() {
        let config = TransformConfig::parse(
            r#"{"filter":{"and":[{"property":"department","string":{"starts_with":"People/"}},{"not":{"or":[{"property":"raw_data.employmentStatus","string":{"starts_with":"Vendors:"}},{"property":"raw_data.employmentStatus","string":{"starts_with":"Vendor:"}},{"property":"raw_data.employmentStatus","string":{"starts_with":"Freelance"}}]}}]},"transform":[{"property":"department","action":"replace_all","value":""}]}"#,
        )
        .unwrap()
        .unwrap();
        let mut records = vec![
            json!({"email": "a@x.com", "department": "People/HR", "raw_data": {"employmentStatus": "Full-time"}}),
            json!({"email": "b@x.com", "department": "People/HR", "raw_data": {"employmentStatus": "Vendor: ACME"}}),
            json!({"email": "c@x.com", "department": "Eng", "raw_data": {"employmentStatus": "Full-time"}}),
        ];
        let applied = config.apply(&mut records);
        assert_eq!((applied.excluded, applied.transformed), (0, 1));
        assert_eq!(applied.each, [Some(true), Some(false), Some(false)]);
        assert_eq!(records[0]["department"], "");
        assert_eq!(records[1]["department"], "People/HR");
        assert_eq!(records[2]["department"], "Eng");
    }

    #[test]
    fn exclude_removes_and_values_compare_as_python_text() {
        let config = TransformConfig::parse(
            r#"{"exclude":{"or":[{"property":"raw_data.contractor","string":{"equals":true}},{"property":"job_title","string":{"contains":"Intern"}}]}}"#,
        )
        .unwrap()
        .unwrap();
        let mut records = vec![
            json!({"email": "a@x.com", "raw_data": {"contractor": true}}),
            json!({"email": "b@x.com", "job_title": "Summer Intern"}),
            json!({"email": "c@x.com", "job_title": null}),
        ];
        assert_eq!(config.apply(&mut records).excluded, 2);
        assert_eq!(records.len(), 1);
        assert_eq!(python_text(&json!(1.0)), "1.0");
        assert_eq!(python_text(&json!(["a", 2])), "['a', 2]");
    }

    #[test]
    fn nor_and_empty_nodes_follow_the_grammar() {
        let r = json!({"department": "Eng"});
        let nor = node(
            &json!({"not": [{"property": "department", "string": {"equals": "Eng"}}]}),
            "f",
        )
        .unwrap();
        assert!(!eval(&nor, &r));
        assert!(eval(&node(&json!({"not": []}), "f").unwrap(), &r));
        assert!(!eval(&node(&json!({"not": {}}), "f").unwrap(), &r));
        assert!(!eval(&node(&json!({"not": null}), "f").unwrap(), &r));
        assert!(!eval(&node(&json!({"or": []}), "f").unwrap(), &r));
        assert!(eval(&node(&json!({"and": []}), "f").unwrap(), &r));
    }

    fn refused(config: &str) -> TransformError {
        TransformConfig::parse(config).unwrap_err()
    }

    #[test]
    fn every_unknown_key_operator_and_action_is_refused_with_its_json_path() {
        let err = refused(r#"{"exclud": {"property": "department", "string": {"equals": "X"}}}"#);
        assert!(
            matches!(&err, TransformError::UnknownKey { at, .. } if at == "exclud"),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "exclud: unknown key \"exclud\"; a config has exclude, filter and transform"
        );
        let err = refused(
            r#"{"exclude": {"or": [{"property": "job_title", "string": {"contains": "Intern"}},
                                   {"property": "department", "string": {"regex": "^Vend"}}]}}"#,
        );
        assert_eq!(
            err,
            TransformError::UnknownOperator {
                at: "exclude.or[1].string.regex".into(),
                operator: "regex".into()
            }
        );
        let err = refused(
            r#"{"transform": [{"property": "department", "action": "replace_all", "value": ""},
                              {"property": "department", "action": "delete_all", "value": ""}]}"#,
        );
        assert_eq!(
            err,
            TransformError::UnknownAction {
                at: "transform[1].action".into(),
                action: "delete_all".into()
            }
        );
        for (config, at) in [
            (r#"{"filter": {"and": [], "or": []}}"#, "filter.or"),
            (
                r#"{"filter": {"not": {"property": "a", "strng": {"equals": "x"}}}}"#,
                "filter.not.strng",
            ),
            (
                r#"{"transform": [{"property": "a", "action": "replace_all", "valeu": 1}]}"#,
                "transform[0].valeu",
            ),
        ] {
            let err = refused(config);
            assert!(
                matches!(&err, TransformError::UnknownKey { at: a, .. } if a == at),
                "{config}: {err}"
            );
        }
    }

    #[test]
    fn leaves_and_rules_the_original_passed_over_are_refused_with_the_place() {
        for (config, at) in [
            (
                r#"{"filter": {"string": {"equals": "x"}}}"#,
                "filter.property",
            ),
            (
                r#"{"filter": {"property": "", "string": {"equals": "x"}}}"#,
                "filter.property",
            ),
            (r#"{"filter": {"property": "a"}}"#, "filter.string"),
            (
                r#"{"filter": {"property": "a", "string": "x"}}"#,
                "filter.string",
            ),
            (
                r#"{"filter": {"property": "a", "string": {}}}"#,
                "filter.string",
            ),
            (
                r#"{"filter": {"property": "a", "string": {"equals": "x", "contains": "y"}}}"#,
                "filter.string",
            ),
            (
                r#"{"filter": {"property": "a", "string": {"equals": ["x", "y"]}}}"#,
                "filter.string.equals",
            ),
            (r#"{"filter": {"not": "x"}}"#, "filter.not"),
            (
                r#"{"filter": {"and": [{"or": [{"not": [1]}]}]}}"#,
                "filter.and[0].or[0].not[0]",
            ),
            (r#"{"transform": ["x"]}"#, "transform[0]"),
            (
                r#"{"transform": [{"action": "replace_all", "value": 1}]}"#,
                "transform[0].property",
            ),
            (
                r#"{"transform": [{"property": "a", "value": 1}]}"#,
                "transform[0].action",
            ),
            (
                r#"{"transform": [{"property": "a", "action": "replace_all"}]}"#,
                "transform[0].value",
            ),
        ] {
            let err = refused(config);
            assert!(
                matches!(&err, TransformError::Shape { at: a, .. } if a == at),
                "{config}: {err}"
            );
        }
    }

    #[test]
    fn a_property_of_ten_thousand_parts_is_refused_not_built() {
        let long = vec!["a"; 10_000].join(".");
        let config =
            json!({"transform": [{"property": long, "action": "replace_all", "value": 1}]});
        let err = refused(&config.to_string());
        assert_eq!(
            err,
            TransformError::PropertyTooLong {
                at: "transform[0].property".into(),
                segments: 10_000
            }
        );
        let config = json!({"filter": {"property": long, "string": {"equals": "x"}}});
        assert!(matches!(
            refused(&config.to_string()),
            TransformError::PropertyTooLong { .. }
        ));
        let longest = vec!["a"; MAX_PROPERTY_SEGMENTS].join(".");
        let config =
            json!({"transform": [{"property": longest, "action": "replace_all", "value": 1}]});
        let config = TransformConfig::parse(&config.to_string())
            .unwrap()
            .unwrap();
        let mut records = vec![json!({"email": "a@x.com"})];
        assert_eq!(config.apply(&mut records).transformed, 1);
        assert_eq!(get(&records[0], &longest), Some(&json!(1)));
    }

    #[test]
    fn json_nested_deeper_than_serde_json_allows_is_refused_as_json() {
        // serde_json stops at 128 levels of nesting: the bound that keeps
        // every later walk of the config and of the records shallow.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = refused(&format!(r#"{{"filter": {deep}}}"#));
        assert!(
            matches!(&err, TransformError::Json { message, .. } if message == "recursion limit exceeded"),
            "{err}"
        );
        // A filter nested as deep as the parser allows is walked without recursion.
        let mut nested = json!({"property": "department", "string": {"equals": "Eng"}});
        for _ in 0..60 {
            nested = json!({"not": {"not": nested}});
        }
        let config = json!({"filter": nested}).to_string();
        let config = TransformConfig::parse(&config).unwrap().unwrap();
        assert!(eval(&config.filter, &json!({"department": "Eng"})));
        assert_eq!(config.properties(), ["department"]);
    }

    #[test]
    fn a_config_larger_than_the_limit_is_refused_before_it_is_parsed() {
        let big = format!(
            r#"{{"filter": {{}}, "x": "{}"}}"#,
            "y".repeat(MAX_CONFIG_BYTES)
        );
        assert_eq!(
            refused(&big),
            TransformError::TooLarge {
                bytes: MAX_CONFIG_BYTES + 23
            }
        );
    }

    #[test]
    fn python_text_of_nested_values_is_their_repr() {
        assert_eq!(
            python_text(&json!({"a": [1, "x", null, {"b": true}], "c": 2.0})),
            "{'a': [1, 'x', None, {'b': True}], 'c': 2.0}"
        );
        assert_eq!(python_text(&json!([])), "[]");
        assert_eq!(python_text(&json!("plain")), "plain");
    }

    #[test]
    fn configs_the_original_crashed_on_are_refused_with_the_place() {
        assert!(TransformConfig::parse("{}").unwrap().is_none());
        assert!(TransformConfig::parse(" null ").unwrap().is_none());
        let err = TransformConfig::parse(r#"{"filter": {"and": {"a": 1}}}"#).unwrap_err();
        assert_eq!(err.to_string(), "filter.and: must be a list of nodes");
        let err = TransformConfig::parse(r#"{"filter": {"or": ["x"]}}"#).unwrap_err();
        assert!(err.to_string().starts_with("filter.or[0]"), "{err}");
        let err = TransformConfig::parse("{\"filter\": \n [1,").unwrap_err();
        assert!(matches!(err, TransformError::Json { line: 2, .. }), "{err}");
        assert!(TransformConfig::parse(r#"[{"filter": {}}]"#).is_err());
    }

    #[test]
    fn set_creates_objects_and_respects_array_bounds() {
        let mut r = json!({"a": "text", "list": [1, 2]});
        assert!(set(&mut r, "a.b", json!(1)));
        assert_eq!(r["a"], json!({"b": 1}));
        assert!(set(&mut r, "list.1", json!(9)));
        assert!(!set(&mut r, "list.5", json!(9)));
        assert_eq!(r["list"], json!([1, 9]));
    }
}
