//! A snapshot of the process environment (after `.env` is applied) and the
//! parsing rules every variable follows.
//!
//! Configuration is read once, at start, into typed settings. Every parse error
//! names the variable, so an admin can fix a cron job from its error mail alone.
//! Values are trimmed, and a variable that is set but empty counts as unset: this
//! is what Docker Compose's `${VAR:-}` passes for a missing value, and it must not
//! override a default (the original tool let it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

/// A configuration problem found at start. Binaries exit with status 2 for these.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={value:?} is not valid: expected {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{var} is not set: {why}")]
    Missing {
        var: &'static str,
        why: &'static str,
    },
    #[error("{0}")]
    Conflict(String),
    /// A pattern or rule that does not compile; the message says where.
    #[error("{var}: {message}")]
    Rule { var: &'static str, message: String },
    #[error("cannot read {path}: {message}")]
    DotEnv { path: PathBuf, message: String },
    /// Variables one or two letters away from a setting: typos, which would
    /// otherwise be ignored while the run goes on with the default.
    #[error(
        "{}. A name this close to a setting is taken for a typo and stops every stage: fix it \
         (every setting: .env.sample, docs/configuration.md)",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    NearMiss(Vec<NearMissAt>),
    /// A `.env` line dotenv cannot parse. The value is never echoed: it is
    /// often a key or a password.
    #[error(
        "{path}, line {line}: cannot parse the value of {var}; put a value with spaces, quotes, \
         braces or `#` in single quotes: {var}='...'"
    )]
    DotEnvLine {
        path: PathBuf,
        line: usize,
        var: String,
    },
}

/// A near miss of a setting's name, and where it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMissAt {
    pub miss: crate::registry::NearMiss,
    /// `/path/.env, line 3`, when it came from `.env`.
    pub origin: Option<String>,
}

impl std::fmt::Display for NearMissAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "{} (set in {origin})", self.miss),
            None => write!(f, "{} (set in the environment)", self.miss),
        }
    }
}

/// The environment as the program sees it: process variables, plus those of the
/// first `.env` found from the working directory upwards. As in the original,
/// variables already in the process environment win over `.env`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    dotenv_path: Option<PathBuf>,
    /// The `.env` line each variable that came from `.env` was read from.
    dotenv_lines: BTreeMap<String, usize>,
}

impl ConfigError {
    /// The variable a wrong value was given for.
    pub fn invalid_var(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { var, .. } => Some(var),
            _ => None,
        }
    }
}

impl Env {
    /// Loads `.env` (if any) into the process environment and takes a snapshot.
    pub fn load() -> Result<Self, ConfigError> {
        #[allow(clippy::disallowed_methods)] // the one place that reads the process environment
        let before: std::collections::HashSet<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect();
        let dotenv_path = dotenvy_path();
        // Where each variable of .env is set, from the text as loaded (a value
        // quoted for the loader keeps its line).
        let mut dotenv_lines = BTreeMap::new();
        if let Some(path) = &dotenv_path {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::DotEnv {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let text = as_python_dotenv_reads_it(&text);
            match dotenvy::from_read(text.as_bytes()) {
                Ok(()) => {
                    dotenv_lines = first_lines(&text)
                        .into_iter()
                        .filter(|(k, _)| !before.contains(k))
                        .collect();
                }
                Err(dotenvy::Error::LineParse(..)) => {
                    let (line, var) =
                        first_bad_line(&text).unwrap_or((0, String::from("a variable")));
                    return Err(ConfigError::DotEnvLine {
                        path: path.clone(),
                        line,
                        var,
                    });
                }
                Err(err) => {
                    return Err(ConfigError::DotEnv {
                        path: path.clone(),
                        message: err.to_string(),
                    });
                }
            }
        }
        #[allow(clippy::disallowed_methods)] // the one place that reads the process environment
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let env = Self {
            vars,
            dotenv_path,
            dotenv_lines,
        };
        env.check_names()?;
        Ok(env)
    }

    /// Refuses the environment when a variable is a near miss of a setting
    /// (see [`crate::registry::near_misses`]): every stage loads through here,
    /// so every stage stops on a typo before it reads or writes anything.
    pub fn check_names(&self) -> Result<(), ConfigError> {
        let misses: Vec<NearMissAt> = crate::registry::near_misses(self.names())
            .into_iter()
            .map(|miss| NearMissAt {
                origin: self.origin(&miss.name),
                miss,
            })
            .collect();
        if misses.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::NearMiss(misses))
        }
    }

    /// Where a variable's value came from, when it came from `.env`:
    /// `/path/.env, line 7`. Error messages add it, so the admin opens the right file.
    pub fn origin(&self, var: &str) -> Option<String> {
        let line = self.dotenv_lines.get(var)?;
        let path = self.dotenv_path.as_ref()?;
        Some(format!("{}, line {line}", path.display()))
    }

    /// An environment made of exactly these pairs (for tests and embedding).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            dotenv_path: None,
            dotenv_lines: BTreeMap::new(),
        }
    }

    /// Every variable name in the snapshot.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// The registered settings that are set, as `NAME=value` for the log, with
    /// secrets masked.
    pub fn settings_for_log(&self) -> Vec<String> {
        crate::registry::SETTINGS
            .iter()
            .filter_map(|s| {
                let value = self.get(s.name)?;
                Some(format!(
                    "{}={}",
                    s.name,
                    crate::registry::shown(s.name, value)
                ))
            })
            .collect()
    }

    /// The `.env` file that was applied, if one was found.
    pub fn dotenv_path(&self) -> Option<&PathBuf> {
        self.dotenv_path.as_ref()
    }

    /// The trimmed value, or `None` when unset or blank.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.vars
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The trimmed value, or `default` when unset or blank.
    pub fn string(&self, var: &str, default: &str) -> String {
        self.get(var).unwrap_or(default).to_owned()
    }

    /// `true/false/1/0/yes/no` in any case; anything else is an error (the
    /// original silently read `1` and `yes` as false).
    pub fn bool(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        let Some(value) = self.get(var) else {
            return Ok(default);
        };
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(ConfigError::Invalid {
                var,
                value: value.to_owned(),
                expected: "true, false, 1, 0, yes or no",
            }),
        }
    }

    /// An integer when set; `expected` describes the allowed range in the error.
    pub fn int<T: FromStr>(
        &self,
        var: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        self.get(var)
            .map(|value| {
                value.parse::<T>().map_err(|_| ConfigError::Invalid {
                    var,
                    value: value.to_owned(),
                    expected,
                })
            })
            .transpose()
    }

    /// Checks that `stage`'s required variables are set (not blank); the
    /// error names every one missing at once, so one edit of `.env` fixes it.
    pub fn require(&self, stage: &str, vars: &[&str]) -> Result<(), ConfigError> {
        let missing: Vec<&str> = vars
            .iter()
            .copied()
            .filter(|v| self.get(v).is_none())
            .collect();
        let (last, rest) = match missing.split_last() {
            None => return Ok(()),
            Some(split) => split,
        };
        let names = if rest.is_empty() {
            (*last).to_owned()
        } else {
            format!("{} and {last}", rest.join(", "))
        };
        Err(ConfigError::Conflict(format!(
            "{stage} needs {names}: set {} (see .env.sample)",
            if rest.is_empty() { "it" } else { "them" }
        )))
    }

    /// A comma-separated list; entries are trimmed and empty entries dropped.
    pub fn list(&self, var: &str) -> Vec<String> {
        self.get(var)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A comma-separated list of integers.
    pub fn int_list<T: FromStr>(
        &self,
        var: &'static str,
        expected: &'static str,
    ) -> Result<Vec<T>, ConfigError> {
        self.list(var)
            .into_iter()
            .map(|item| {
                item.parse::<T>().map_err(|_| ConfigError::Invalid {
                    var,
                    value: self.get(var).unwrap_or_default().to_owned(),
                    expected,
                })
            })
            .collect()
    }

    /// An `http://` or `https://` URL with a host, when set, parsed by
    /// `url::Url` (not by its prefix: `https://` alone, `http:/x` or
    /// `https://exa mple.com` are refused here, not at the first request).
    /// The value of a secret setting is not repeated in the error.
    pub fn url(
        &self,
        var: &'static str,
        expected: &'static str,
    ) -> Result<Option<url::Url>, ConfigError> {
        let Some(value) = self.get(var) else {
            return Ok(None);
        };
        http_url(value)
            .map(Some)
            .ok_or_else(|| ConfigError::Invalid {
                var,
                value: crate::registry::shown(var, value),
                expected,
            })
    }

    /// A value that must be set (for the stages that need it).
    pub fn required(&self, var: &'static str, why: &'static str) -> Result<&str, ConfigError> {
        self.get(var).ok_or(ConfigError::Missing { var, why })
    }
}

/// `text` as an `http://` or `https://` URL with a host.
pub fn http_url(text: &str) -> Option<url::Url> {
    let url = url::Url::parse(text).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()))
        .then_some(url)
}

/// The line (1-based) that sets each variable of a `.env` text. The first
/// one wins, as dotenv keeps the first value it sets.
fn first_lines(text: &str) -> BTreeMap<String, usize> {
    let mut lines = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        for (key, _) in dotenvy::from_read_iter(line.as_bytes()).flatten() {
            lines.entry(key).or_insert(i + 1);
        }
    }
    lines
}

/// `.env` files are written for the original tool, whose reader (python-dotenv)
/// takes an unquoted value as the rest of the line (`\1`, braces and spaces
/// included, a ` #` comment cut off) and expands only `${NAME}`. The reader
/// here is stricter and also expands `$NAME`, so such values are single-quoted
/// first: `^A/(.*)|||$1` stays `^A/(.*)|||$1` instead of losing its `$1`. Lines
/// keep their numbers, so messages still point at the right one.
fn as_python_dotenv_reads_it(text: &str) -> String {
    text.lines()
        .map(quote_if_needed)
        .collect::<Vec<_>>()
        .join("\n")
}

fn quote_if_needed(line: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return line.into();
    }
    let Some((key, value)) = line.split_once('=') else {
        return line.into();
    };
    let value = value.trim_start();
    if value.starts_with('\'') || value.starts_with('"') {
        return line.into();
    }
    // An inline comment needs white space before its `#`, as in python-dotenv.
    let value = value
        .char_indices()
        .find(|&(i, c)| c == '#' && i > 0 && value[..i].ends_with(char::is_whitespace))
        .map_or(value, |(i, _)| &value[..i])
        .trim_end();
    let bare_dollar = value
        .match_indices('$')
        .any(|(i, _)| !value[i + 1..].starts_with('{'));
    let rejected =
        dotenvy::from_read_iter(format!("{key}={value}").as_bytes()).any(|item| item.is_err());
    // python-dotenv keeps quotes inside an unquoted value; a shell-like reader drops them.
    let inner_quotes = value.contains('"');
    if (bare_dollar || rejected || inner_quotes) && !value.contains('\'') {
        format!("{key}='{value}'").into()
    } else {
        line.into()
    }
}

/// The 1-based number and variable name of the first line dotenv rejects.
fn first_bad_line(text: &str) -> Option<(usize, String)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let bad = dotenvy::from_read_iter(line.as_bytes()).any(|item| item.is_err());
        bad.then(|| (i + 1, variable_of(line)))
    })
}

/// `KEY` of a `KEY=value` or `export KEY=value` line; the value stays out.
fn variable_of(line: &str) -> String {
    let line = line.trim_start();
    let line = line.strip_prefix("export ").unwrap_or(line);
    let name: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
        .collect();
    if name.is_empty() {
        "a line without a variable name".to_owned()
    } else {
        name
    }
}

/// Where dotenvy would have looked: the nearest `.env` upwards from the working directory.
fn dotenvy_path() -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let candidate = dir.join(".env");
        if candidate.is_file() {
            return Some(candidate);
        }
        if !dir.pop() {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn required_settings_are_named_together() {
        let e = env(&[("A", "1"), ("B", "  ")]);
        assert!(e.require("stage", &["A"]).is_ok());
        let one = e.require("stage", &["A", "B"]).unwrap_err().to_string();
        assert_eq!(one, "stage needs B: set it (see .env.sample)");
        let three = e
            .require("stage", &["B", "C", "D"])
            .unwrap_err()
            .to_string();
        assert_eq!(three, "stage needs B, C and D: set them (see .env.sample)");
    }

    #[test]
    fn booleans_accept_common_spellings_in_any_case() {
        for (value, expected) in [
            ("true", true),
            ("TRUE", true),
            ("1", true),
            ("Yes", true),
            ("false", false),
            ("0", false),
            ("NO", false),
            (" true ", true),
        ] {
            assert_eq!(env(&[("X", value)]).bool("X", !expected).unwrap(), expected);
        }
    }

    #[test]
    fn boolean_typo_is_an_error_naming_the_variable() {
        let err = env(&[("TIMECAMP_DISABLE_NEW_USERS", "ture")])
            .bool("TIMECAMP_DISABLE_NEW_USERS", false)
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("TIMECAMP_DISABLE_NEW_USERS"), "{msg}");
        assert!(msg.contains("ture"), "{msg}");
    }

    #[test]
    fn empty_value_means_default() {
        let e = env(&[("A", ""), ("B", "   ")]);
        assert!(e.bool("A", true).unwrap());
        assert_eq!(e.string("B", "dflt"), "dflt");
        assert_eq!(e.int::<u64>("A", "a number").unwrap(), None);
    }

    #[test]
    fn integer_lists_are_trimmed_and_validated() {
        let e = env(&[("IDS", " 1, 2 ,,3 "), ("BAD", "1,x")]);
        assert_eq!(e.int_list::<u64>("IDS", "ids").unwrap(), vec![1, 2, 3]);
        let err = e.int_list::<u64>("BAD", "ids").unwrap_err().to_string();
        assert!(err.contains("BAD"), "{err}");
    }

    #[test]
    fn unparsable_dotenv_line_is_named_by_number_and_variable_only() {
        let text = "# comment\nTIMECAMP_API_KEY=tc-secret\n\nLeaveTypeMap={\"Vacaciones\": \"Vacation\"}\n";
        let (line, var) = first_bad_line(text).unwrap();
        assert_eq!((line, var.as_str()), (4, "LeaveTypeMap"));
        let err = ConfigError::DotEnvLine {
            path: ".env".into(),
            line,
            var,
        }
        .to_string();
        assert!(
            err.contains(".env, line 4") && err.contains("LeaveTypeMap"),
            "{err}"
        );
        assert!(
            !err.contains("Vacaciones"),
            "the value is not echoed: {err}"
        );
    }

    #[test]
    fn each_variable_is_traced_to_the_first_line_setting_it() {
        let lines = first_lines("# x\nA=1\n\nexport B='two'\nA=3\n");
        assert_eq!(lines.get("A"), Some(&2));
        assert_eq!(lines.get("B"), Some(&4));
    }

    #[test]
    fn unquoted_values_read_as_python_dotenv_reads_them() {
        assert_eq!(
            quote_if_needed(r"TIMECAMP_CHANGE_GROUPS_REGEX=^Company/(.*)|||\1"),
            r"TIMECAMP_CHANGE_GROUPS_REGEX='^Company/(.*)|||\1'"
        );
        assert_eq!(
            quote_if_needed("R=^A|||$1  # the first group"),
            "R='^A|||$1'"
        );
        assert_eq!(quote_if_needed(r#"M={"a": "b"}"#), r#"M='{"a": "b"}'"#);
        // What the stricter reader already reads the same way stays as written.
        assert_eq!(
            quote_if_needed(r#"TIMECAMP_EXCLUDE_REGEX=job_title="Contractor""#),
            r#"TIMECAMP_EXCLUDE_REGEX='job_title="Contractor"'"#
        );
        assert_eq!(quote_if_needed("A=plain"), "A=plain");
        assert_eq!(quote_if_needed("B='quoted $x'"), "B='quoted $x'");
        assert_eq!(quote_if_needed("C=${HOME}/x"), "C=${HOME}/x");
        assert_eq!(quote_if_needed("# comment"), "# comment");
    }

    #[test]
    fn a_value_quoted_for_the_loader_keeps_its_line() {
        let text = "A=1\nR=^Company/(.*)|||\\1\n";
        assert_eq!(
            first_lines(&as_python_dotenv_reads_it(text)).get("R"),
            Some(&2)
        );
    }

    #[test]
    fn quoted_json_value_in_dotenv_parses() {
        assert_eq!(
            first_bad_line("LeaveTypeMap='{\"Vacaciones\": \"Vacation\"}'\n"),
            None
        );
    }

    #[test]
    fn missing_required_value_names_the_variable() {
        let err = env(&[]).required("TIMECAMP_API_KEY", "needed").unwrap_err();
        assert!(err.to_string().contains("TIMECAMP_API_KEY"));
    }
}
