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

/// The variables libraries read from the process environment themselves:
/// the TLS libraries' extra CAs and reqwest's proxies (in both cases, as
/// curl reads them).
const READ_BY_LIBRARIES: &[&str] = &[
    "SSL_CERT_FILE",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The environment as the program sees it: process variables, plus those of the
/// first `.env` found from the working directory upwards. As in the original,
/// variables already in the process environment win over `.env`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    dotenv_path: Option<PathBuf>,
    /// The `.env` line each variable that came from `.env` was read from.
    dotenv_lines: BTreeMap<String, usize>,
    /// Variables `.env` sets on more than one line (the last one is used).
    dotenv_repeats: Vec<DotenvRepeat>,
}

/// A variable `.env` sets twice: the later line is the one used, as
/// python-dotenv (and so the original tool) reads it; every run says so,
/// since the earlier line reads as if it were in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvRepeat {
    pub name: String,
    pub path: PathBuf,
    pub earlier: usize,
    pub later: usize,
}

impl std::fmt::Display for DotenvRepeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is set on line {} and again on line {} of {}: line {} is used; delete the other",
            self.name,
            self.earlier,
            self.later,
            self.path.display(),
            self.later
        )
    }
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
    /// Takes the process environment and adds the variables of the first
    /// `.env` found from the working directory upwards that the process
    /// environment lacks. `.env` is read once and never applied to the
    /// process environment, but for the few variables libraries read from there
    /// (see [`Env::export_for_libraries`]).
    pub fn load() -> Result<Self, ConfigError> {
        #[allow(clippy::disallowed_methods)] // the one place that reads the process environment
        let process = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        let env = Self::layered(process, dotenvy_path())?;
        env.export_for_libraries();
        env.check_names()?;
        Ok(env)
    }

    /// `process` with the variables of the `.env` file at `dotenv_path` it
    /// lacks: the process environment wins, and within `.env` the last line
    /// setting a variable wins, as python-dotenv (and so the original tool)
    /// reads it; each repeat is kept to be said ([`Env::dotenv_repeats`]).
    pub fn layered(
        process: impl IntoIterator<Item = (String, String)>,
        dotenv_path: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        use std::collections::btree_map::Entry;
        let mut vars: BTreeMap<String, String> = process.into_iter().collect();
        let mut dotenv_lines: BTreeMap<String, usize> = BTreeMap::new();
        let mut dotenv_repeats = Vec::new();
        if let Some(path) = &dotenv_path {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::DotEnv {
                path: path.clone(),
                message: e.to_string(),
            })?;
            for (key, value, line) in parse_dotenv(path, &text)? {
                if let Some(earlier) = dotenv_lines.insert(key.clone(), line) {
                    dotenv_repeats.push(DotenvRepeat {
                        name: key.clone(),
                        path: path.clone(),
                        earlier,
                        later: line,
                    });
                    vars.insert(key, value);
                } else {
                    match vars.entry(key) {
                        // The process environment's own value.
                        Entry::Occupied(kept) => {
                            dotenv_lines.remove(kept.key());
                        }
                        Entry::Vacant(slot) => {
                            slot.insert(value);
                        }
                    }
                }
            }
        }
        Ok(Self {
            vars,
            dotenv_path,
            dotenv_lines,
            dotenv_repeats,
        })
    }

    /// The variables `.env` sets on more than one line, in the file's order.
    pub fn dotenv_repeats(&self) -> &[DotenvRepeat] {
        &self.dotenv_repeats
    }

    /// A few variables are read from the process environment by libraries,
    /// not through this snapshot: `SSL_CERT_FILE` by the TLS libraries
    /// (reqwest's, ldap3's and the S3 client's roots), the proxy variables by
    /// reqwest. When one was set in `.env` only, it is exported, so a private
    /// CA or a proxy set there is used, as it was when the whole `.env` was
    /// applied. The value is set through dotenvy, whose `set_var` this crate
    /// cannot call (`unsafe` is forbidden); it runs before the runtime
    /// starts, while the process has one thread.
    fn export_for_libraries(&self) {
        for var in READ_BY_LIBRARIES {
            if !self.dotenv_lines.contains_key(*var) {
                continue;
            }
            let Some(value) = self.vars.get(*var) else {
                continue;
            };
            // Single quotes keep the value as it is; a value with a quote in
            // it is left to the error the library gives for it.
            if !value.contains(['\'', '\n']) {
                let _ = dotenvy::from_read(format!("{var}='{value}'").as_bytes());
            }
        }
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
            dotenv_repeats: Vec::new(),
        }
    }

    /// Every variable name in the snapshot.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// The names of the variables set to something other than blanks: for
    /// looking at variables that are not settings (typos of them), whose
    /// values [`Env::get`] does not read.
    pub fn set_names(&self) -> impl Iterator<Item = &str> {
        self.vars
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, _)| k.as_str())
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
    ///
    /// Every setting is read through here. Debug builds (the tests run every
    /// binary so built) stop on a name the registry does not declare, so a
    /// setting cannot be read without its row in the registry, and so in
    /// `docs/configuration.md`, `.env.sample` and the `--help` of its stages.
    pub fn get(&self, var: &str) -> Option<&str> {
        debug_assert!(
            crate::registry::lookup(var).is_some(),
            "{var} is read but not declared in the settings registry (crates/core/src/registry.rs)"
        );
        self.vars
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The trimmed value, or `default` when unset or blank. Debug builds
    /// check `default` against the registry's (see [`crate::registry::check_default`]).
    pub fn string(&self, var: &str, default: &str) -> String {
        debug_assert_default(var, default);
        self.get(var).unwrap_or(default).to_owned()
    }

    /// An integer, or `default` when unset; `expected` describes the allowed
    /// range in the error. Debug builds check `default` against the registry's.
    pub fn int_or<T: FromStr + std::fmt::Display>(
        &self,
        var: &'static str,
        expected: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        debug_assert_default(var, &default.to_string());
        Ok(self.int(var, expected)?.unwrap_or(default))
    }

    /// `true/false/1/0/yes/no` in any case; anything else is an error (the
    /// original silently read `1` and `yes` as false). Debug builds check
    /// `default` against the registry's.
    pub fn bool(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        debug_assert_default(var, if default { "true" } else { "false" });
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

    /// [`Env::url`] as text, or `default` when unset. Debug builds check
    /// `default` against the registry's.
    pub fn url_or(
        &self,
        var: &'static str,
        expected: &'static str,
        default: &str,
    ) -> Result<String, ConfigError> {
        debug_assert_default(var, default);
        Ok(self
            .url(var, expected)?
            .map_or_else(|| default.to_owned(), String::from))
    }

    /// A value that must be set (for the stages that need it).
    pub fn required(&self, var: &'static str, why: &'static str) -> Result<&str, ConfigError> {
        self.get(var).ok_or(ConfigError::Missing { var, why })
    }
}

/// In debug builds, stops when the default the code gives `var` is not the
/// one the registry documents: the registry's text is what `--help`, the docs
/// and `.env.sample` show, so the two must not drift.
fn debug_assert_default(var: &str, default: &str) {
    if cfg!(debug_assertions)
        && let Err(problem) = crate::registry::check_default(var, default)
    {
        panic!("{problem}");
    }
}

/// `text` as an `http://` or `https://` URL with a host.
pub fn http_url(text: &str) -> Option<url::Url> {
    let url = url::Url::parse(text).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()))
        .then_some(url)
}

/// The variables of a `.env` text, each with the (1-based) line that sets
/// it, in the file's order, read by one pass of `dotenvy::from_read_iter`
/// over the text as python-dotenv reads it ([`as_python_dotenv_reads_it`]).
/// Nothing is set in the process environment.
fn parse_dotenv(
    path: &std::path::Path,
    text: &str,
) -> Result<Vec<(String, String, usize)>, ConfigError> {
    let text = as_python_dotenv_reads_it(text);
    let mut lines = setting_lines(&text);
    let mut out = Vec::new();
    let mut last_read = 0;
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((key, value)) => {
                let line = lines.get_mut(&key).and_then(|l| l.next()).unwrap_or(0);
                last_read = last_read.max(line);
                out.push((key, value, line));
            }
            Err(dotenvy::Error::LineParse(..)) => {
                // dotenv reads every line that is neither blank nor a comment,
                // in order, so the one it stopped at is the next after the
                // last one it read.
                let (line, bad) = text
                    .lines()
                    .enumerate()
                    .skip(last_read)
                    .find(|(_, l)| {
                        let l = l.trim_start();
                        !l.is_empty() && !l.starts_with('#')
                    })
                    .map_or((0, ""), |(i, l)| (i + 1, l));
                return Err(ConfigError::DotEnvLine {
                    path: path.to_owned(),
                    line,
                    var: variable_of(bad),
                });
            }
            Err(err) => {
                return Err(ConfigError::DotEnv {
                    path: path.to_owned(),
                    message: err.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// For each variable name, the numbers of the lines that start `NAME=` (or
/// `export NAME=`), in order: the n-th value dotenv reads for a name comes
/// from the n-th of them. Found by the line's start alone, without parsing
/// the values again.
fn setting_lines(text: &str) -> BTreeMap<String, std::vec::IntoIter<usize>> {
    let mut lines: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let start = line.trim_start();
        if start.starts_with('#') || !start.contains('=') {
            continue;
        }
        let name = variable_of(line);
        let rest = start.strip_prefix("export ").unwrap_or(start).trim_start();
        if rest[name.len().min(rest.len())..]
            .trim_start()
            .starts_with('=')
        {
            lines.entry(name).or_default().push(i + 1);
        }
    }
    lines.into_iter().map(|(k, v)| (k, v.into_iter())).collect()
}

/// `.env` files are written for the original tool, whose reader (python-dotenv)
/// takes an unquoted value as the rest of the line (`\1`, `$1`, braces, quotes
/// and spaces included, a ` #` comment cut off) and expands only `${NAME}`.
/// The reader here is stricter (it rejects spaces, reads `\` as an escape and
/// also expands `$NAME`), so every unquoted value is double-quoted first with
/// `\`, `"` and every `$` that does not start a `${NAME}` escaped: the value
/// read is python-dotenv's. Lines keep their numbers, so messages still point
/// at the right one.
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
    if value.is_empty() {
        return format!("{key}=").into();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for (i, c) in value.char_indices() {
        match c {
            '\\' | '"' => quoted.push('\\'),
            '$' if expansion_at(&value[i..]).is_none() => quoted.push('\\'),
            _ => {}
        }
        quoted.push(c);
    }
    quoted.push('"');
    format!("{key}={quoted}").into()
}

/// The length of the `${NAME}` at the start of `text`, when it is one
/// python-dotenv expands.
fn expansion_at(text: &str) -> Option<usize> {
    let name = text.strip_prefix("${")?;
    let end = name.find('}')?;
    let valid = !name[..end].is_empty()
        && name[..end]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(end + 3)
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

    const KEY: &str = "TIMECAMP_API_KEY";
    const ROOT: &str = "TIMECAMP_ROOT_GROUP_ID";
    const DOMAIN: &str = "TIMECAMP_DOMAIN";

    #[test]
    fn required_settings_are_named_together() {
        let e = env(&[(KEY, "1"), (ROOT, "  ")]);
        assert!(e.require("stage", &[KEY]).is_ok());
        let one = e.require("stage", &[KEY, ROOT]).unwrap_err().to_string();
        assert_eq!(one, format!("stage needs {ROOT}: set it (see .env.sample)"));
        let three = e
            .require("stage", &[ROOT, DOMAIN, "TIMECAMP_API_URL"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            three,
            format!(
                "stage needs {ROOT}, {DOMAIN} and TIMECAMP_API_URL: set them (see .env.sample)"
            )
        );
    }

    #[test]
    fn booleans_accept_common_spellings_in_any_case() {
        const VAR: &str = "TIMECAMP_SSL_VERIFY";
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
            assert_eq!(env(&[(VAR, value)]).bool(VAR, true).unwrap(), expected);
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
        let e = env(&[
            ("TIMECAMP_SSL_VERIFY", ""),
            (DOMAIN, "   "),
            ("TIMECAMP_HTTP_TIMEOUT_SECONDS", ""),
        ]);
        assert!(e.bool("TIMECAMP_SSL_VERIFY", true).unwrap());
        assert_eq!(e.string(DOMAIN, "app.timecamp.com"), "app.timecamp.com");
        assert_eq!(
            e.int_or::<u64>("TIMECAMP_HTTP_TIMEOUT_SECONDS", "a number", 30)
                .unwrap(),
            30
        );
    }

    #[test]
    fn integer_lists_are_trimmed_and_validated() {
        const IDS: &str = "TIMECAMP_IGNORED_USER_IDS";
        let e = env(&[(IDS, " 1, 2 ,,3 ")]);
        assert_eq!(e.int_list::<u64>(IDS, "ids").unwrap(), vec![1, 2, 3]);
        let err = env(&[(IDS, "1,x")])
            .int_list::<u64>(IDS, "ids")
            .unwrap_err()
            .to_string();
        assert!(err.contains(IDS), "{err}");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(
        expected = "TIMECAMP_NOT_A_SETTING is read but not declared in the settings registry"
    )]
    fn reading_a_name_the_registry_lacks_stops_a_debug_build() {
        env(&[]).get("TIMECAMP_NOT_A_SETTING");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "the registry documents `30`")]
    fn a_default_other_than_the_registrys_stops_a_debug_build() {
        let _ = env(&[]).int_or::<u64>("TIMECAMP_HTTP_TIMEOUT_SECONDS", "seconds", 60);
    }

    fn parsed(text: &str) -> Vec<(String, String, usize)> {
        parse_dotenv(std::path::Path::new(".env"), text).unwrap()
    }

    fn value_of(text: &str, key: &str) -> String {
        parsed(text)
            .into_iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v)
            .unwrap_or_else(|| panic!("{key} not read from {text:?}"))
    }

    #[test]
    fn unparsable_dotenv_line_is_named_by_number_and_variable_only() {
        let text = "# comment\nTIMECAMP_API_KEY=tc-secret\n\nLeaveTypeMap='{\"Vacaciones\": \"Vacation\"}\nNEXT=1\n";
        let err = parse_dotenv(std::path::Path::new(".env"), text).unwrap_err();
        assert!(
            matches!(&err, ConfigError::DotEnvLine { line: 4, var, .. } if var == "LeaveTypeMap"),
            "{err:?}"
        );
        let err = err.to_string();
        assert!(
            err.contains(".env, line 4") && err.contains("LeaveTypeMap"),
            "{err}"
        );
        assert!(
            !err.contains("Vacaciones"),
            "the value is not echoed: {err}"
        );
        let err = parse_dotenv(std::path::Path::new(".env"), "A=1\n  \nnot a setting\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains(".env, line 3"), "{err}");
    }

    #[test]
    fn each_variable_is_traced_to_the_line_setting_it() {
        let read = parsed("# x\nA=1\n\nexport B='two'\nA=3\nAB=4\n");
        assert_eq!(
            read,
            [
                ("A".into(), "1".into(), 2),
                ("B".into(), "two".into(), 4),
                ("A".into(), "3".into(), 5),
                ("AB".into(), "4".into(), 6),
            ]
        );
    }

    #[test]
    fn unquoted_values_read_as_python_dotenv_reads_them() {
        for (line, key, want) in [
            (
                r"TIMECAMP_CHANGE_GROUPS_REGEX=^Company/(.*)|||\1",
                "TIMECAMP_CHANGE_GROUPS_REGEX",
                r"^Company/(.*)|||\1",
            ),
            ("R=^A|||$1  # the first group", "R", "^A|||$1"),
            (r#"M={"a": "b"}"#, "M", r#"{"a": "b"}"#),
            (
                r#"TIMECAMP_EXCLUDE_REGEX=job_title="Contractor""#,
                "TIMECAMP_EXCLUDE_REGEX",
                r#"job_title="Contractor""#,
            ),
            ("A=plain", "A", "plain"),
            ("A=two words", "A", "two words"),
            ("A=x#not-a-comment", "A", "x#not-a-comment"),
            ("A=", "A", ""),
            ("B='quoted $x'", "B", "quoted $x"),
            (r#"B="double \"q\"""#, "B", r#"double "q""#),
            ("C=$HOME/x", "C", "$HOME/x"),
            ("C=${HOME", "C", "${HOME"),
            ("C=${NO_SUCH_VARIABLE_HERE}/x", "C", "/x"),
        ] {
            assert_eq!(value_of(line, key), want, "{line}");
        }
        // `${NAME}` is expanded from the lines above, as python-dotenv does.
        assert_eq!(
            value_of("BASE=/opt/scim\nFILE=${BASE}/users csv\n", "FILE"),
            "/opt/scim/users csv"
        );
    }

    #[test]
    fn a_value_quoted_for_the_loader_keeps_its_line() {
        let read = parsed("A=1\nR=^Company/(.*)|||\\1\n");
        assert_eq!(read[1], ("R".into(), "^Company/(.*)|||\\1".into(), 2));
    }

    #[test]
    fn quoted_json_value_in_dotenv_parses() {
        assert_eq!(
            value_of(
                "LeaveTypeMap='{\"Vacaciones\": \"Vacation\"}'\n",
                "LeaveTypeMap"
            ),
            "{\"Vacaciones\": \"Vacation\"}"
        );
    }

    /// A `.env` in a directory of its own, for [`Env::layered`].
    fn dotenv_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_process_environment_wins_over_dotenv_and_the_last_dotenv_line_over_earlier_ones() {
        let (_dir, path) = dotenv_file(
            "TIMECAMP_DOMAIN=from-dotenv.example\nTIMECAMP_ROOT_GROUP_ID=7\n\
             TIMECAMP_ROOT_GROUP_ID=8\nTIMECAMP_API_KEY=from-dotenv\n",
        );
        let process = [
            (
                "TIMECAMP_DOMAIN".to_owned(),
                "from-process.example".to_owned(),
            ),
            // Set but empty in the process: still the process's (as dotenv does).
            ("TIMECAMP_API_KEY".to_owned(), String::new()),
        ];
        let env = Env::layered(process, Some(path.clone())).unwrap();
        assert_eq!(env.get("TIMECAMP_DOMAIN"), Some("from-process.example"));
        assert_eq!(env.origin("TIMECAMP_DOMAIN"), None);
        // python-dotenv, which the original tool loads `.env` with, keeps a
        // name's last line.
        assert_eq!(env.get("TIMECAMP_ROOT_GROUP_ID"), Some("8"));
        assert_eq!(
            env.origin("TIMECAMP_ROOT_GROUP_ID"),
            Some(format!("{}, line 3", path.display()))
        );
        assert_eq!(env.get("TIMECAMP_API_KEY"), None);
        assert_eq!(
            env.dotenv_repeats(),
            [DotenvRepeat {
                name: "TIMECAMP_ROOT_GROUP_ID".into(),
                path: path.clone(),
                earlier: 2,
                later: 3,
            }]
        );
        assert_eq!(
            env.dotenv_repeats()[0].to_string(),
            format!(
                "TIMECAMP_ROOT_GROUP_ID is set on line 2 and again on line 3 of {}: line 3 is \
                 used; delete the other",
                path.display()
            )
        );
    }

    #[test]
    fn a_name_the_process_sets_is_no_repeat_however_often_dotenv_sets_it() {
        let (_dir, path) = dotenv_file("TIMECAMP_DOMAIN=a.example\nTIMECAMP_DOMAIN=b.example\n");
        let process = [("TIMECAMP_DOMAIN".to_owned(), "p.example".to_owned())];
        let env = Env::layered(process, Some(path)).unwrap();
        assert_eq!(env.get("TIMECAMP_DOMAIN"), Some("p.example"));
        assert_eq!(env.origin("TIMECAMP_DOMAIN"), None);
        assert!(env.dotenv_repeats().is_empty());
    }

    #[test]
    fn reading_dotenv_leaves_the_process_environment_as_it_was() {
        // A name no other test or program sets.
        const NAME: &str = "SCIM_CORE_ENV_TEST_ONLY_IN_DOTENV";
        let (_dir, path) = dotenv_file(&format!("{NAME}=from-dotenv\n"));
        let env = Env::layered(std::iter::empty(), Some(path)).unwrap();
        assert_eq!(env.vars.get(NAME).map(String::as_str), Some("from-dotenv"));
        #[allow(clippy::disallowed_methods)] // what the test checks
        let in_process = std::env::var_os(NAME);
        assert_eq!(in_process, None);
    }

    #[test]
    fn missing_required_value_names_the_variable() {
        let err = env(&[]).required("TIMECAMP_API_KEY", "needed").unwrap_err();
        assert!(err.to_string().contains("TIMECAMP_API_KEY"));
    }
}
