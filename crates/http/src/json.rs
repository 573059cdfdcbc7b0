//! JSON from servers, parsed within a bound on the memory it takes.
//!
//! Parsed JSON takes far more memory than its text: `{}` is 3 bytes of text
//! and an 80-byte value, `{"":0}` is 7 bytes and some 300 parsed. So the
//! limit on a body's size does not bound what parsing it takes (a 60 MB page
//! of `{}` items took 2.9 GB). Here every value is charged to a [`Meter`] as
//! it is built, *before* its memory is taken, with an estimate of what it
//! takes: its slot in its list or map, its text, the list or map itself, the
//! allocator's rounding. Parsing stops once the charge would pass the limit.
//!
//! A listing's page is parsed in one pass ([`page`]): the items at the
//! listing's JSON pointer go straight into their own list, counted against
//! the listing's most items, and the rest of the page (its links, flags and
//! cursors) is kept apart, so a page is never held twice. Lists and maps are
//! built at the size they need (a map from its entries, a list grown by
//! doubling from 4), which also makes real data smaller than the JSON
//! library's own parser makes it.

use std::fmt;
use std::mem::size_of;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The most memory, by the estimate here, that one parsed answer, or the
/// items of one listing, may take: 2 GiB. A person as the services describe
/// them takes 3 to 10 KiB once parsed (a Graph user with its manager 3.2
/// KiB, a HiBob employee with the readable copies 6 KiB, an Okta user with a
/// full profile 9.7 KiB, by this estimate), so this holds 200,000
/// people of the largest kind (1.9 GiB), the most any source reads (the CSV
/// export's limit).
pub const DEFAULT_MAX_JSON_MEMORY: u64 = 2 * 1024 * 1024 * 1024;

/// The most items one listing may have: 200,000, the most people any
/// source reads (the CSV export's limit).
pub const DEFAULT_MAX_ITEMS: u64 = 200_000;

/// What stopped a parse that passed a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    Memory,
    Items,
}

/// What parsed JSON takes so far, and may take.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    /// Estimated bytes held now.
    used: u64,
    limit: u64,
    /// Items taken out of listing pages so far.
    items: u64,
    max_items: u64,
    /// Of `used`, what the items hold; the rest goes with each page.
    kept: u64,
    over: Option<Over>,
}

impl Meter {
    pub(crate) fn new(limit: u64, max_items: u64) -> Self {
        Self {
            used: 0,
            limit,
            items: 0,
            max_items,
            kept: 0,
            over: None,
        }
    }

    /// Estimated bytes held now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    #[cfg(test)]
    pub(crate) fn items(&self) -> u64 {
        self.items
    }

    fn charge<E: de::Error>(&mut self, bytes: u64) -> Result<(), E> {
        let used = self.used.saturating_add(bytes);
        if used > self.limit {
            self.over = Some(Over::Memory);
            return Err(E::custom("over the memory limit"));
        }
        self.used = used;
        Ok(())
    }

    fn refund(&mut self, bytes: u64) {
        self.used = self.used.saturating_sub(bytes);
    }

    fn count_item<E: de::Error>(&mut self) -> Result<(), E> {
        if self.items >= self.max_items {
            self.over = Some(Over::Items);
            return Err(E::custom("over the most items"));
        }
        self.items += 1;
        Ok(())
    }

    /// After a page: what is left held is its items; the rest was dropped.
    fn settle(&mut self) {
        self.used = self.kept;
    }
}

/// Why a body could not be parsed.
#[derive(Debug)]
pub(crate) enum ParseError {
    Syntax(serde_json::Error),
    Over(Over),
}

/// What a page has where its listing's items are.
#[derive(Debug, Default, PartialEq)]
pub(crate) enum Found {
    List(Vec<Value>),
    Null,
    /// Nothing, or something other than a list.
    #[default]
    Nothing,
}

/// A listing's page: its items, and the rest, with `null` where the items were.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) items: Found,
    pub(crate) rest: Value,
}

/// `body` as one JSON value, charged to `meter`.
pub(crate) fn value(body: &[u8], meter: &mut Meter) -> Result<Value, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Node {
        meter: &mut *meter,
        target: None,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| {
        meter
            .over
            .take()
            .map_or(ParseError::Syntax(e), ParseError::Over)
    })
}

/// `body` as a listing's page whose items are at the JSON pointer `items`
/// (`""`: the body is the list). Items are counted against the meter's most
/// items, and both the items and the rest charged to it; afterwards it
/// holds the items' charge only.
pub(crate) fn page(body: &[u8], items: &str, meter: &mut Meter) -> Result<Page, ParseError> {
    // A pointer is "" or starts with "/"; anything else points nowhere.
    let path: Option<Vec<String>> = if items.is_empty() {
        Some(Vec::new())
    } else {
        items.strip_prefix('/').map(|p| {
            p.split('/')
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect()
        })
    };
    let mut found = Found::Nothing;
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Node {
        meter: &mut *meter,
        target: path.as_deref().map(|path| Target {
            path,
            items: &mut found,
        }),
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    meter.settle();
    match parsed {
        Ok(rest) => Ok(Page { items: found, rest }),
        Err(e) => Err(meter
            .over
            .take()
            .map_or(ParseError::Syntax(e), ParseError::Over)),
    }
}

/// Where a listing's items are, below the value being parsed, and where
/// they go.
struct Target<'a> {
    path: &'a [String],
    items: &'a mut Found,
}

/// One value being parsed; with a target, one on the way to the items.
struct Node<'a> {
    meter: &'a mut Meter,
    target: Option<Target<'a>>,
}

/// The allocator's block for `bytes` (glibc's: 8 bytes of header, 16-byte
/// steps, 32 at least).
fn block(bytes: u64) -> u64 {
    if bytes == 0 {
        0
    } else {
        (bytes + 8).div_ceil(16).saturating_mul(16).max(32)
    }
}

/// A list of `capacity` slots of `T`.
fn list_bytes<T>(capacity: usize) -> u64 {
    block((capacity as u64).saturating_mul(size_of::<T>() as u64))
}

/// A map of `n` entries built at its size: its entries (a hash, a key and a
/// value each) and its hash table (a `usize` and a control byte per bucket,
/// 16 more control bytes; 4 or 8 buckets for a small map, else the next
/// power of two above 8/7 of the entries).
fn map_bytes(n: usize) -> u64 {
    if n == 0 {
        return 0;
    }
    let entry = size_of::<usize>() + size_of::<String>() + size_of::<Value>();
    let buckets = match n {
        0..4 => 4,
        4..8 => 8,
        _ => (n.saturating_mul(8) / 7).next_power_of_two(),
    } as u64;
    let table = buckets * (size_of::<usize>() as u64 + 1) + 16;
    list_bytes::<u8>(n.saturating_mul(entry)) + block(table)
}

/// Pushes `item`, charging any growth of the list before it happens.
fn push<T, E: de::Error>(meter: &mut Meter, list: &mut Vec<T>, item: T) -> Result<(), E> {
    if list.len() == list.capacity() {
        let capacity = list.capacity().saturating_mul(2).max(4);
        meter.charge(list_bytes::<T>(capacity) - list_bytes::<T>(list.capacity()))?;
        list.reserve_exact(capacity - list.len());
    }
    list.push(item);
    Ok(())
}

/// A map from its entries, at its size; the entries' list is given back.
fn object<E: de::Error>(meter: &mut Meter, entries: Vec<(String, Value)>) -> Result<Value, E> {
    meter.charge(map_bytes(entries.len()))?;
    let held = list_bytes::<(String, Value)>(entries.capacity());
    let map: Map<String, Value> = entries.into_iter().collect();
    meter.refund(held);
    Ok(Value::Object(map))
}

/// A text, charged before it is copied.
fn text<E: de::Error>(meter: &mut Meter, v: &str) -> Result<String, E> {
    meter.charge(block(v.len() as u64))?;
    Ok(v.to_owned())
}

/// A JSON pointer's token as an array index (`0`, `12`; not `01` or `+1`).
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) {
        return None;
    }
    token.parse().ok()
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        text(self.meter, v).map(Value::String)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        if let Some(Target { path: [], items }) = self.target {
            *items = Found::Null;
        }
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let Node { meter, mut target } = self;
        if let Some(Target { path: [], items }) = target {
            let mut list = Vec::new();
            loop {
                let before = meter.used;
                let Some(item) = seq.next_element_seed(Node {
                    meter: &mut *meter,
                    target: None,
                })?
                else {
                    break;
                };
                meter.count_item()?;
                push(meter, &mut list, item)?;
                // What the item holds, and its list's growth, stay after the page.
                meter.kept = meter.kept.saturating_add(meter.used.saturating_sub(before));
            }
            *items = Found::List(list);
            return Ok(Value::Null);
        }
        let wanted = target.as_ref().and_then(|t| index(&t.path[0]));
        let mut list = Vec::new();
        loop {
            let child = match &mut target {
                Some(t) if wanted == Some(list.len()) => Some(Target {
                    path: &t.path[1..],
                    items: &mut *t.items,
                }),
                _ => None,
            };
            let Some(value) = seq.next_element_seed(Node {
                meter: &mut *meter,
                target: child,
            })?
            else {
                break;
            };
            push(meter, &mut list, value)?;
        }
        Ok(Value::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Node { meter, mut target } = self;
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key_seed(Key { meter: &mut *meter })? {
            let child = match &mut target {
                Some(t) if t.path.first() == Some(&key) => Some(Target {
                    path: &t.path[1..],
                    items: &mut *t.items,
                }),
                _ => None,
            };
            let value = map.next_value_seed(Node {
                meter: &mut *meter,
                target: child,
            })?;
            push(meter, &mut entries, (key, value))?;
        }
        object(meter, entries)
    }
}

/// A map's key, charged before it is copied.
struct Key<'a> {
    meter: &'a mut Meter,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        text(self.meter, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LOTS: u64 = u64::MAX;

    fn parse(text: &str) -> Value {
        value(text.as_bytes(), &mut Meter::new(LOTS, LOTS)).unwrap()
    }

    #[test]
    fn values_are_parsed_as_the_json_library_parses_them() {
        for text in [
            r#"{"a": [1, -2, 3.5, 1e300, true, null, "x\"y"], "b": {"c": {}}, "": []}"#,
            r#"{"z": 1, "a": 2, "z": 3}"#,
            "[]",
            "\"\\u00e9t\\u00e9\"",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            let ours = parse(text);
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
            // Key order too (a later duplicate replaces the value in place).
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
        }
    }

    #[test]
    fn what_is_not_json_is_a_syntax_error() {
        for text in ["", "{", "[1,]", "{} {}", "nul", "{\"a\" 1}"] {
            let err = value(text.as_bytes(), &mut Meter::new(LOTS, LOTS)).unwrap_err();
            assert!(matches!(err, ParseError::Syntax(_)), "{text}: {err:?}");
        }
        // The parser's own depth limit holds.
        let deep = "[".repeat(20_000);
        assert!(matches!(
            value(deep.as_bytes(), &mut Meter::new(LOTS, LOTS)),
            Err(ParseError::Syntax(_))
        ));
    }

    #[test]
    fn parsing_stops_at_the_memory_limit_before_taking_it() {
        // 3 MB of `{}`: a million values of 80 bytes.
        let many = format!("[{}{{}}]", "{},".repeat(1_000_000));
        let mut meter = Meter::new(8 * 1024 * 1024, LOTS);
        assert!(matches!(
            value(many.as_bytes(), &mut meter),
            Err(ParseError::Over(Over::Memory))
        ));
        assert!(meter.used() <= 8 * 1024 * 1024);
        // One long text is refused before it is copied.
        let long = format!("{{\"a\": \"{}\"}}", "x".repeat(100_000));
        assert!(matches!(
            value(long.as_bytes(), &mut Meter::new(50_000, LOTS)),
            Err(ParseError::Over(Over::Memory))
        ));
        let key = format!("{{\"{}\": 1}}", "k".repeat(100_000));
        assert!(matches!(
            value(key.as_bytes(), &mut Meter::new(50_000, LOTS)),
            Err(ParseError::Over(Over::Memory))
        ));
    }

    #[test]
    fn the_estimate_counts_what_values_take() {
        let mut meter = Meter::new(LOTS, LOTS);
        value(b"{}", &mut meter).unwrap();
        assert_eq!(meter.used(), 0, "an empty map takes only its slot");
        let mut meter = Meter::new(LOTS, LOTS);
        value(br#"{"a": "bc"}"#, &mut meter).unwrap();
        // The entry, the table of 4 buckets, two short texts.
        let entry = (size_of::<usize>() + size_of::<String>() + size_of::<Value>()) as u64;
        assert_eq!(meter.used(), block(entry) + block(4 * 9 + 16) + 32 + 32);
        let mut meter = Meter::new(LOTS, LOTS);
        value(b"[1, 2, 3, 4, 5]", &mut meter).unwrap();
        assert_eq!(meter.used(), block(8 * size_of::<Value>() as u64));
    }

    #[test]
    fn a_pages_items_are_taken_out_of_it() {
        let body = json!({
            "data": [{"id": 1}, {"id": 2}],
            "meta": {"next": "abc", "data": "not this"},
        })
        .to_string();
        let mut meter = Meter::new(LOTS, LOTS);
        let page = page(body.as_bytes(), "/data", &mut meter).unwrap();
        assert_eq!(
            page.items,
            Found::List(vec![json!({"id": 1}), json!({"id": 2})])
        );
        assert_eq!(
            page.rest,
            json!({"data": null, "meta": {"next": "abc", "data": "not this"}})
        );
        assert_eq!(meter.items(), 2);
        let kept = meter.used();
        assert!(kept > 0);
        // The rest of the page is not kept charged.
        let mut whole = Meter::new(LOTS, LOTS);
        value(body.as_bytes(), &mut whole).unwrap();
        assert!(kept < whole.used(), "{kept} {}", whole.used());
    }

    #[test]
    fn items_are_found_where_any_pointer_points() {
        let items = |body: Value, pointer: &str| {
            page(
                body.to_string().as_bytes(),
                pointer,
                &mut Meter::new(LOTS, LOTS),
            )
            .unwrap()
            .items
        };
        assert_eq!(
            items(json!([1, 2]), ""),
            Found::List(vec![json!(1), json!(2)])
        );
        assert_eq!(
            items(json!({"a": {"b/c": [[0], {"~x": [7]}]}}), "/a/b~1c/1/~0x"),
            Found::List(vec![json!(7)])
        );
        assert_eq!(items(json!({"value": null}), "/value"), Found::Null);
        assert_eq!(items(json!({"value": {}}), "/value"), Found::Nothing);
        assert_eq!(items(json!({"value": "x"}), "/value"), Found::Nothing);
        assert_eq!(items(json!({"other": []}), "/value"), Found::Nothing);
        assert_eq!(items(json!([[1]]), "/01"), Found::Nothing);
        assert_eq!(
            items(json!({"value": []}), "value"),
            Found::Nothing,
            "not a pointer"
        );
        assert_eq!(items(json!({"value": [1]}), "/value/0"), Found::Nothing);
    }

    #[test]
    fn a_page_stops_at_the_most_items_counted_across_pages() {
        let mut meter = Meter::new(LOTS, 5);
        let first = page(b"[1, 2, 3]", "", &mut meter).unwrap();
        assert_eq!(first.items, Found::List(vec![json!(1), json!(2), json!(3)]));
        let err = page(b"[4, 5, 6]", "", &mut meter).unwrap_err();
        assert!(matches!(err, ParseError::Over(Over::Items)), "{err:?}");
        // A million `{}` stop at once, not after they are all built.
        let many = format!("[{}{{}}]", "{},".repeat(1_000_000));
        let mut meter = Meter::new(LOTS, 1000);
        assert!(matches!(
            page(many.as_bytes(), "", &mut meter),
            Err(ParseError::Over(Over::Items))
        ));
        assert!(meter.used() < 1024 * 1024, "{}", meter.used());
    }
}
