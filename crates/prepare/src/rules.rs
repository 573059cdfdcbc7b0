//! The admin's own rules: leave people out by a pattern
//! (`TIMECAMP_EXCLUDE_REGEX`) and rewrite group paths
//! (`TIMECAMP_CHANGE_GROUPS_REGEX`), with the meaning the newest original gave
//! them. Patterns are checked when the settings are read, so a typo stops
//! prepare instead of letting everyone through.

use regex::Regex;
use scim_model::SourceUser;

/// A pattern or rule that cannot be used; the message says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("invalid pattern: {0}")]
    Pattern(String),
    #[error("rule {index} ({rule:?}) is not `pattern|||replacement`")]
    Shape { index: usize, rule: String },
    #[error("rule {index}: invalid pattern: {message}")]
    RulePattern { index: usize, message: String },
}

/// `TIMECAMP_EXCLUDE_REGEX`: a source record whose context
/// `department="…" job_title="…" email="…"` matches (anywhere) is left out.
#[derive(Debug, Clone)]
pub struct ExcludeFilter {
    pattern: Regex,
}

impl ExcludeFilter {
    pub fn new(pattern: &str) -> Result<Self, RuleError> {
        Regex::new(pattern)
            .map(|pattern| Self { pattern })
            .map_err(|e| RuleError::Pattern(e.to_string()))
    }

    pub fn as_str(&self) -> &str {
        self.pattern.as_str()
    }

    /// Whether the record is left out. The context is built from the values as
    /// `users.json` has them, `None` for a missing one and `"` written as `'`,
    /// so existing patterns match as they did.
    pub fn excludes(&self, src: &SourceUser) -> bool {
        self.pattern.is_match(&context(src))
    }
}

fn context(src: &SourceUser) -> String {
    let value = |v: Option<&str>| v.unwrap_or("None").replace('"', "'");
    format!(
        "department=\"{}\" job_title=\"{}\" email=\"{}\"",
        value(src.department.as_deref()),
        value(src.job_title.as_deref()),
        value(src.email.as_deref())
    )
}

/// One `pattern|||replacement` rule of `TIMECAMP_CHANGE_GROUPS_REGEX`.
#[derive(Debug, Clone)]
pub struct GroupRule {
    pub pattern: Regex,
    /// In the regex crate's syntax (`$1`, `${name}`).
    pub replacement: String,
    /// As written, for the log.
    pub text: String,
}

/// Parses `pattern|||replacement` rules separated by `;;;`; empty rules are
/// skipped. Pattern and replacement are used as written (not trimmed).
pub fn parse_group_rules(text: &str) -> Result<Vec<GroupRule>, RuleError> {
    let mut rules = Vec::new();
    for (i, rule) in text
        .split(";;;")
        .filter(|r| !r.trim().is_empty())
        .enumerate()
    {
        let index = i + 1;
        let parts: Vec<&str> = rule.split("|||").collect();
        let [pattern, replacement] = parts.as_slice() else {
            return Err(RuleError::Shape {
                index,
                rule: rule.to_owned(),
            });
        };
        let pattern = Regex::new(pattern).map_err(|e| RuleError::RulePattern {
            index,
            message: e.to_string(),
        })?;
        rules.push(GroupRule {
            pattern,
            replacement: python_replacement(replacement),
            text: rule.to_owned(),
        });
    }
    Ok(rules)
}

/// Python's `\1`, `\g<1>` and `\g<name>` as the regex crate's `${1}` and
/// `${name}`; `$1` and `${name}` already are. A doubled backslash is one.
fn python_replacement(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(d) if d.is_ascii_digit() => {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    n.push(d);
                    chars.next();
                }
                out.push_str(&format!("${{{n}}}"));
            }
            Some('g') => {
                chars.next();
                if chars.peek() == Some(&'<') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                } else {
                    out.push_str("\\g");
                }
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            _ => out.push('\\'),
        }
    }
    out
}

/// Applies the rules in order, each to the result of the one before, every
/// match replaced. Returns the new path and the rules that changed it.
pub fn rewrite_path<'r>(path: &str, rules: &'r [GroupRule]) -> (String, Vec<&'r str>) {
    let mut current = path.to_owned();
    let mut applied = Vec::new();
    for rule in rules {
        let next = rule
            .pattern
            .replace_all(&current, rule.replacement.as_str())
            .into_owned();
        if next != current {
            applied.push(rule.text.as_str());
            current = next;
        }
    }
    (current, applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(department: &str, title: Option<&str>, email: &str) -> SourceUser {
        SourceUser {
            department: Some(department.into()),
            job_title: title.map(Into::into),
            email: Some(email.into()),
            ..SourceUser::default()
        }
    }

    #[test]
    fn the_exclude_pattern_matches_the_records_context_anywhere() {
        let f = ExcludeFilter::new(
            r#"department="Support division/Other"|department="Support division/Support" job_title="Random Guy""#,
        )
        .unwrap();
        assert!(f.excludes(&src("Support division/Other", Some("X"), "a@x.com")));
        assert!(f.excludes(&src(
            "Support division/Support",
            Some("Random Guy"),
            "b@x.com"
        )));
        assert!(!f.excludes(&src("Support division/Support", Some("Boss"), "c@x.com")));
        let none = ExcludeFilter::new(r#"job_title="None""#).unwrap();
        assert!(none.excludes(&src("Eng", None, "d@x.com")));
    }

    #[test]
    fn group_rules_accept_python_and_rust_replacements() {
        let rules = parse_group_rules(
            r"^Company/(\w+)|||\1;;; ;;;(?P<team>Team \d)$|||Teams/\g<team>;;;^Ops|||${0}-Old",
        )
        .unwrap();
        assert_eq!(rules.len(), 3);
        let (path, applied) = rewrite_path("Company/Eng/Team 7", &rules);
        assert_eq!(path, "Eng/Teams/Team 7");
        assert_eq!(applied.len(), 2);
        assert_eq!(rewrite_path("Ops/A", &rules).0, "Ops-Old/A");
    }

    #[test]
    fn bad_rules_name_their_number_and_the_error() {
        assert!(matches!(
            parse_group_rules("A|||B;;;C"),
            Err(RuleError::Shape { index: 2, .. })
        ));
        let err = parse_group_rules("A|||B;;;(unclosed|||x").unwrap_err();
        assert!(
            matches!(err, RuleError::RulePattern { index: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("unclosed"), "{err}");
        assert!(ExcludeFilter::new("a(").is_err());
    }
}
