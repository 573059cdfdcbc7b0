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
    /// The replacement names a group the pattern does not have: the
    /// original stopped on it; the regex crate would put in nothing.
    #[error(
        "rule {index}: the replacement names the group {reference}, which the pattern does not \
         have (it has {groups}); write $$ for a literal $"
    )]
    UnknownGroup {
        index: usize,
        /// As written: `\9`, `\g<zz>`, `$9`, `${zz}`.
        reference: String,
        /// The groups the pattern has, for the message.
        groups: String,
    },
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
/// skipped. Pattern and replacement are used as written (not trimmed). Every
/// group a replacement names must be one of its pattern's.
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
        let replacement = Replacement::parse(replacement);
        if let Some(reference) = replacement.groups.iter().find(|r| !r.group.is_in(&pattern)) {
            return Err(RuleError::UnknownGroup {
                index,
                reference: reference.written.clone(),
                groups: groups_of(&pattern),
            });
        }
        rules.push(GroupRule {
            pattern,
            replacement: replacement.text,
            text: rule.to_owned(),
        });
    }
    Ok(rules)
}

/// A group a replacement names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Group {
    Number(usize),
    Name(String),
}

impl Group {
    fn of(name: &str) -> Self {
        name.parse()
            .map_or_else(|_| Group::Name(name.to_owned()), Group::Number)
    }

    fn is_in(&self, pattern: &Regex) -> bool {
        match self {
            Group::Number(n) => *n < pattern.captures_len(),
            Group::Name(name) => pattern.capture_names().flatten().any(|n| n == name),
        }
    }
}

/// The groups of a pattern, for a message: `groups 0 to 2 and the named one team`.
fn groups_of(pattern: &Regex) -> String {
    let last = pattern.captures_len() - 1;
    let numbered = if last == 0 {
        "only group 0, the whole match".to_owned()
    } else {
        format!("groups 0 to {last}")
    };
    let named: Vec<&str> = pattern.capture_names().flatten().collect();
    if named.is_empty() {
        numbered
    } else {
        format!("{numbered}, named {}", named.join(", "))
    }
}

/// A group reference as written, and the group it names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    written: String,
    group: Group,
}

/// A replacement in the regex crate's syntax, with the groups it names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Replacement {
    text: String,
    groups: Vec<Reference>,
}

impl Replacement {
    /// Reads Python's `\1`, `\g<1>` and `\g<name>` (made the regex crate's
    /// `${1}` and `${name}`) and the crate's own `$1`, `$name`, `${name}`
    /// (kept); a doubled backslash is one, `$$` a literal `$`.
    fn parse(text: &str) -> Self {
        let mut out = String::with_capacity(text.len());
        let mut groups = Vec::new();
        let mut refer = |written: String, name: &str, out: &mut String| {
            out.push_str(&format!("${{{name}}}"));
            groups.push(Reference {
                written,
                group: Group::of(name),
            });
        };
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek().copied()) {
                ('\\', Some(d)) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    refer(format!("\\{n}"), &n, &mut out);
                }
                ('\\', Some('g')) => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                        refer(format!("\\g<{name}>"), &name, &mut out);
                    } else {
                        out.push_str("\\g");
                    }
                }
                ('\\', Some('\\')) => {
                    chars.next();
                    out.push('\\');
                }
                ('$', Some('$')) => {
                    chars.next();
                    out.push_str("$$");
                }
                ('$', Some('{')) => {
                    let rest: String = chars.clone().skip(1).collect();
                    match rest.find('}').map(|end| &rest[..end]) {
                        Some(name) if !name.is_empty() => {
                            for _ in 0..name.chars().count() + 2 {
                                chars.next();
                            }
                            refer(format!("${{{name}}}"), name, &mut out);
                        }
                        // The regex crate writes such a `$` as it is.
                        _ => out.push_str("$$"),
                    }
                }
                ('$', Some(n)) if n.is_ascii_alphanumeric() || n == '_' => {
                    // The longest name, as the regex crate reads it: `$1a` is group "1a".
                    let mut name = String::new();
                    while let Some(n) = chars
                        .peek()
                        .copied()
                        .filter(|n| n.is_ascii_alphanumeric() || *n == '_')
                    {
                        name.push(n);
                        chars.next();
                    }
                    refer(format!("${name}"), &name, &mut out);
                }
                ('$', _) => out.push_str("$$"),
                (c, _) => out.push(c),
            }
        }
        Self { text: out, groups }
    }
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
    fn a_replacement_naming_a_group_the_pattern_lacks_is_refused_as_written() {
        for (rules, reference) in [
            (r"^Company/(\w+)|||\9", r"\9"),
            (r"^Company/(?P<dept>\w+)|||${zz}", "${zz}"),
            (r"^Company/(\w+)|||\g<zz>", r"\g<zz>"),
            (r"^(\w+)|||$2", "$2"),
            (r"^(\w+)|||$1a", "$1a"),
            (
                r"A|||B;;;^(?P<team>Team \d)$|||Teams/${team}/$team_x",
                "$team_x",
            ),
        ] {
            let err = parse_group_rules(rules).unwrap_err();
            assert!(
                matches!(&err, RuleError::UnknownGroup { reference: r, .. } if r == reference),
                "{rules}: {err}"
            );
        }
        let err = parse_group_rules(r"^Company/(?P<dept>\w+)/(\w+)|||\9").unwrap_err();
        assert_eq!(
            err.to_string(),
            r"rule 1: the replacement names the group \9, which the pattern does not have (it has groups 0 to 2, named dept); write $$ for a literal $"
        );
    }

    #[test]
    fn a_dollar_that_names_no_group_is_a_literal_dollar() {
        let rules = parse_group_rules(r"^Cost(\w*)|||$$ $ ${ \1$").unwrap();
        assert_eq!(rewrite_path("CostCenter", &rules).0, "$ $ ${ Center$");
        let rules = parse_group_rules(r"^(?P<a>\w+)/(\w+)|||${2}-\g<a>-${a}-$a-\g<0>").unwrap();
        assert_eq!(rewrite_path("x/y", &rules).0, "y-x-x-x-x/y");
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
