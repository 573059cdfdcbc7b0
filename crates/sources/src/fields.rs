//! Reading fields of the HR systems' JSON records by name, and the
//! `field:value` supervisor rules that test them, shared by the fetchers
//! whose settings name fields (BambooHR, HiBob, Okta).

use scim_core::ConfigError;
use serde_json::Value;

/// The value at a dotted path (`work.reportsTo.id`) from the record's root;
/// `None` when a segment is missing.
pub fn value_at<'v>(record: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(record, |v, segment| v.get(segment))
}

/// A value as the text a rule compares: strings trimmed, numbers as digits,
/// booleans as `true`/`false`, null and objects as nothing.
pub fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A `field:value` rule marking supervisors (`isSupervisor:Yes`,
/// `work.isManager:true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorRule {
    pub field: String,
    pub value: String,
}

impl SupervisorRule {
    /// Parses the variable `var`; unset or blank is no rule. A value part may
    /// be empty only when `allow_empty_value` (Okta's rule matches empty fields).
    pub fn from_setting(
        var: &'static str,
        text: Option<&str>,
        allow_empty_value: bool,
        example: &'static str,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        match text.split_once(':') {
            Some((f, v)) if !f.trim().is_empty() && (allow_empty_value || !v.trim().is_empty()) => {
                Ok(Some(Self {
                    field: f.trim().to_owned(),
                    value: v.trim().to_owned(),
                }))
            }
            _ => Err(ConfigError::Invalid {
                var,
                value: text.to_owned(),
                expected: example,
            }),
        }
    }

    /// Whether the field's text equals the rule's value. Booleans compare
    /// without regard to case, so `true` and `True` both match a JSON `true`
    /// (the original compared Python's `True` with `true` and never matched).
    pub fn matches(&self, field: Option<&Value>) -> bool {
        let have = text_of(field);
        match field {
            Some(Value::Bool(_)) => have.eq_ignore_ascii_case(&self.value),
            _ => have == self.value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_reach_nested_values() {
        let r = json!({"id": 7, "work": {"reportsTo": {"id": "3"}, "isManager": true}});
        assert_eq!(value_at(&r, "work.reportsTo.id"), Some(&json!("3")));
        assert_eq!(value_at(&r, "work.site"), None);
        assert_eq!(text_of(value_at(&r, "id")), "7");
        assert_eq!(text_of(value_at(&r, "work")), "");
    }

    #[test]
    fn rules_parse_and_match_booleans_in_any_case() {
        let rule = SupervisorRule::from_setting("X", Some(" work.isManager : True "), false, "e")
            .unwrap()
            .unwrap();
        assert!(rule.matches(Some(&json!(true))));
        assert!(!rule.matches(Some(&json!(false))));
        assert!(
            !rule.matches(Some(&json!("true"))),
            "text compares exactly, only booleans ignore case"
        );
        let text = SupervisorRule::from_setting("X", Some("level:Lead"), false, "e")
            .unwrap()
            .unwrap();
        assert!(text.matches(Some(&json!(" Lead "))));
        assert!(!text.matches(Some(&json!("lead"))));
        assert_eq!(
            SupervisorRule::from_setting("X", Some("  "), false, "e").unwrap(),
            None
        );
        assert!(matches!(
            SupervisorRule::from_setting("X", Some("dept:"), false, "e"),
            Err(ConfigError::Invalid { var: "X", .. })
        ));
        let empty = SupervisorRule::from_setting("X", Some("dept:"), true, "e")
            .unwrap()
            .unwrap();
        assert!(empty.matches(None));
    }
}
