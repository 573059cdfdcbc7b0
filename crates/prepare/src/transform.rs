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
//! way the original (Python) wrote them. A config the original would crash on
//! at its first record is refused here when the settings are read.

use serde_json::{Map, Value};

/// Why a config cannot be used; the message names the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("not valid JSON: {message} (line {line}, column {column})")]
    Json {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("cannot read the file {path}: {message}")]
    File { path: String, message: String },
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
    /// A node that is always false (`{"not": "x"}`, a leaf without property).
    False,
    Leaf {
        property: String,
        op: Op,
    },
}

/// A leaf's comparison; the first present operator counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Equals(String),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    /// An operator the original does not know: false.
    Unknown,
}

/// One `transform` rule (only `replace_all` acts).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub property: String,
    pub action: String,
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

impl TransformConfig {
    /// Reads the setting: inline JSON (starting with `{` or `[`) or a file path.
    /// `None` for a config that has no effect (`{}`, `[]`, `null`).
    pub fn load(setting: &str) -> Result<Option<Self>, TransformError> {
        let text = setting.trim();
        let json = if text.starts_with('{') || text.starts_with('[') {
            text.to_owned()
        } else {
            std::fs::read_to_string(text).map_err(|e| TransformError::File {
                path: text.to_owned(),
                message: e.to_string(),
            })?
        };
        Self::parse(&json)
    }

    pub fn parse(json: &str) -> Result<Option<Self>, TransformError> {
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
            return Err(shape("the config", "must be a JSON object"));
        };
        let exclude = node(obj.get("exclude").unwrap_or(&Value::Null), "exclude")?;
        let filter = node(obj.get("filter").unwrap_or(&Value::Null), "filter")?;
        let transform = match obj.get("transform") {
            None => Vec::new(),
            Some(Value::Array(rules)) => rules
                .iter()
                .filter_map(Value::as_object)
                .filter_map(|r| {
                    let property = r.get("property")?.as_str().filter(|p| !p.is_empty())?;
                    Some(Rule {
                        property: property.to_owned(),
                        action: r
                            .get("action")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        value: r.get("value").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect(),
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
        collect(&self.exclude, &mut out);
        collect(&self.filter, &mut out);
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
                if rule.action != "replace_all" {
                    continue;
                }
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

fn node(v: &Value, at: &str) -> Result<Node, TransformError> {
    if is_empty(v) {
        return Ok(Node::Empty);
    }
    let Value::Object(o) = v else {
        return Err(shape(at, "a filter node must be an object"));
    };
    let list = |items: &Value, key: &str| -> Result<Vec<Node>, TransformError> {
        match items {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, n)| node(n, &format!("{at}.{key}[{i}]")))
                .collect(),
            _ => Err(shape(&format!("{at}.{key}"), "must be a list of nodes")),
        }
    };
    if let Some(items) = o.get("and") {
        return Ok(Node::And(list(items, "and")?));
    }
    if let Some(items) = o.get("or") {
        return Ok(Node::Or(list(items, "or")?));
    }
    if let Some(inner) = o.get("not") {
        return Ok(match inner {
            Value::Array(_) => Node::Nor(list(inner, "not")?),
            Value::Object(_) => Node::Not(Box::new(node(inner, &format!("{at}.not"))?)),
            _ => Node::False,
        });
    }
    Ok(leaf(o))
}

fn leaf(o: &Map<String, Value>) -> Node {
    let Some(property) = o
        .get("property")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    else {
        return Node::False;
    };
    let Some(Value::Object(ops)) = o.get("string") else {
        return Node::False;
    };
    let operand = |key: &str| ops.get(key).map(python_text);
    let op = if let Some(v) = operand("equals") {
        Op::Equals(v)
    } else if let Some(v) = operand("starts_with") {
        Op::StartsWith(v)
    } else if let Some(v) = operand("ends_with") {
        Op::EndsWith(v)
    } else if let Some(v) = operand("contains") {
        Op::Contains(v)
    } else {
        Op::Unknown
    };
    Node::Leaf {
        property: property.to_owned(),
        op,
    }
}

fn collect<'n>(n: &'n Node, out: &mut Vec<&'n str>) {
    match n {
        Node::And(c) | Node::Or(c) | Node::Nor(c) => c.iter().for_each(|c| collect(c, out)),
        Node::Not(c) => collect(c, out),
        Node::Leaf { property, .. } => out.push(property),
        Node::Empty | Node::False => {}
    }
}

/// Whether a record matches a node.
pub fn eval(n: &Node, record: &Value) -> bool {
    match n {
        Node::Empty => true,
        Node::False => false,
        Node::And(c) => c.iter().all(|c| eval(c, record)),
        Node::Or(c) => c.iter().any(|c| eval(c, record)),
        Node::Not(c) => !eval(c, record),
        Node::Nor(c) => !c.iter().any(|c| eval(c, record)),
        Node::Leaf { property, op } => {
            let Some(value) = get(record, property).filter(|v| !v.is_null()) else {
                return false;
            };
            let text = python_text(value);
            match op {
                Op::Equals(o) => text == *o,
                Op::StartsWith(o) => text.starts_with(o.as_str()),
                Op::EndsWith(o) => text.ends_with(o.as_str()),
                Op::Contains(o) => text.contains(o.as_str()),
                Op::Unknown => false,
            }
        }
    }
}

/// A value as Python's `str()` writes it, which existing configs compare with.
pub fn python_text(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
            _ => n.to_string(),
        },
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn python_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => python_text(other),
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
        assert!(!eval(
            &node(
                &json!({"property": "department", "string": {"regex": "E"}}),
                "f"
            )
            .unwrap(),
            &r
        ));
    }

    #[test]
    fn configs_the_original_crashed_on_are_refused_with_the_place() {
        assert!(TransformConfig::parse("{}").unwrap().is_none());
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
