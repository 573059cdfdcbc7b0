//! Every program of the project, declared once.
//!
//! [`STAGES`] is the one list. http-service runs what it names (by its name or
//! the original tool's script name, with the flags it allows), prepare names
//! its fetchers when there is nothing to prepare, the settings registry knows
//! a fetcher's variables by its prefix, and the tests hold the rest to it: the
//! binaries built, each one's `--help`, the Compose services, the Helm jobs and
//! examples, the stage table and diagram of the README, the sections of
//! `docs/stages.md` and the settings of each fetcher. Adding a source is one
//! line here (see `docs/adding-a-source.md`); whatever else it needs, a test
//! names.

/// A flag a stage lets through when http-service runs it: a switch, or an
/// option with its allowed values. Paths are never among them, so no caller
/// can make a stage read or write other files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Switch(&'static str),
    Choice(&'static str, &'static [&'static str]),
}

impl Flag {
    pub fn name(&self) -> &'static str {
        match self {
            Flag::Switch(n) | Flag::Choice(n, _) => n,
        }
    }
}

/// What kind of program a stage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads a people system into `var/users.json`. `system` names it in the
    /// README's diagram; its settings start with `prefix`.
    Fetch {
        system: &'static str,
        prefix: &'static str,
    },
    /// A step after the fetch, run on a schedule.
    Step,
    /// Run by hand when wanted (a preview).
    Tool,
    /// Runs until stopped; http-service does not start it.
    Service,
}

/// One program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The binary's name on `PATH`.
    pub name: &'static str,
    /// The original tool's script name for the same job, still accepted by
    /// http-service; `None` for what the original never had.
    pub original: Option<&'static str>,
    pub kind: Kind,
    /// What it reads and writes, as the README's table says it.
    pub reads: &'static str,
    pub writes: &'static str,
    /// The flags http-service lets through.
    pub flags: &'static [Flag],
}

impl Stage {
    pub fn is_fetcher(&self) -> bool {
        matches!(self.kind, Kind::Fetch { .. })
    }

    /// Whether it runs on a schedule (a cron line, a Kubernetes CronJob).
    pub fn is_scheduled(&self) -> bool {
        matches!(self.kind, Kind::Fetch { .. } | Kind::Step)
    }

    /// Whether http-service may start it.
    pub fn runs_over_http(&self) -> bool {
        !matches!(self.kind, Kind::Service)
    }
}

const DEBUG: Flag = Flag::Switch("--debug");
const DRY_RUN: Flag = Flag::Switch("--dry-run");
const USERS: &str = "`var/users.json`";

/// A fetcher: reads `reads` into `var/users.json`, takes `--debug`.
const fn fetch(
    name: &'static str,
    original: Option<&'static str>,
    system: &'static str,
    prefix: &'static str,
    reads: &'static str,
) -> Stage {
    Stage {
        name,
        original,
        kind: Kind::Fetch { system, prefix },
        reads,
        writes: USERS,
        flags: &[DEBUG],
    }
}

/// Every program, fetchers first, in the order the README lists them.
pub const STAGES: &[Stage] = &[
    fetch(
        "fetch-ldap",
        Some("fetch_ldap.py"),
        "LDAP/AD",
        "LDAP_",
        "LDAP / Active Directory",
    ),
    fetch(
        "fetch-bamboohr",
        Some("fetch_bamboohr.py"),
        "BambooHR",
        "BAMBOOHR_",
        "BambooHR",
    ),
    fetch(
        "fetch-hibob",
        Some("fetch_hibob.py"),
        "HiBob",
        "HIBOB_",
        "HiBob (people search)",
    ),
    fetch(
        "fetch-okta",
        Some("fetch_okta.py"),
        "Okta",
        "OKTA_",
        "Okta (Users and Groups APIs)",
    ),
    fetch(
        "fetch-azuread",
        Some("fetch_azuread.py"),
        "Entra ID",
        "AZURE_",
        "Microsoft Entra ID (Graph)",
    ),
    Stage {
        writes: "`var/users.json`, `var/vacation.json`",
        ..fetch(
            "fetch-factorial",
            Some("fetch_factorialhr.py"),
            "Factorial",
            "FACTORIAL_",
            "Factorial",
        )
    },
    fetch(
        "fetch-netsuite",
        Some("fetch_netsuite.py"),
        "NetSuite",
        "NETSUITE_",
        "NetSuite (SuiteQL)",
    ),
    fetch(
        "fetch-google",
        None,
        "Google",
        "GOOGLE_",
        "Google Workspace (Directory API)",
    ),
    fetch(
        "fetch-personio",
        None,
        "Personio",
        "PERSONIO_",
        "Personio (API v2)",
    ),
    fetch(
        "fetch-csv",
        None,
        "CSV file",
        "CSV_",
        "a CSV file (an HR system's export)",
    ),
    Stage {
        name: "prepare-timecamp",
        original: Some("prepare_timecamp_json_from_fetch.py"),
        kind: Kind::Step,
        reads: USERS,
        writes: "`var/timecamp_users.json`",
        flags: &[DEBUG],
    },
    Stage {
        name: "sync-users",
        original: Some("timecamp_sync_users.py"),
        kind: Kind::Step,
        reads: "`var/timecamp_users.json`",
        writes: "TimeCamp",
        flags: &[
            DRY_RUN,
            DEBUG,
            Flag::Switch("--allow-mass-deactivation"),
            Flag::Choice("--output", &["text", "json", "html"]),
        ],
    },
    Stage {
        name: "display-tree",
        original: Some("scripts/display_timecamp_tree.py"),
        kind: Kind::Tool,
        reads: "`var/timecamp_users.json`",
        writes: "stdout (text, CSV, HTML)",
        flags: &[
            Flag::Switch("--detailed"),
            Flag::Choice("--format", &["text", "csv", "html"]),
            DEBUG,
        ],
    },
    Stage {
        name: "remove-empty-groups",
        original: Some("scripts/remove_empty_groups.py"),
        kind: Kind::Step,
        reads: "TimeCamp, `var/timecamp_users.json`",
        writes: "TimeCamp",
        flags: &[DRY_RUN, DEBUG],
    },
    Stage {
        name: "sync-time-off",
        original: Some("timecamp_sync_time_off.py"),
        kind: Kind::Step,
        reads: "`var/vacation.json`",
        writes: "TimeCamp attendance",
        flags: &[DRY_RUN, DEBUG],
    },
    Stage {
        name: "http-service",
        original: Some("http_service.py"),
        kind: Kind::Service,
        reads: "HTTP requests",
        writes: "runs the stages",
        flags: &[],
    },
    Stage {
        name: "scim-server",
        original: None,
        kind: Kind::Service,
        reads: "SCIM 2.0 pushes from Entra ID or Okta",
        writes: "`var/users.json`, then runs prepare and sync itself",
        flags: &[],
    },
];

/// The stage called `name`.
pub fn find(name: &str) -> Option<&'static Stage> {
    STAGES.iter().find(|s| s.name == name)
}

/// The fetchers, in the list's order.
pub fn fetchers() -> impl Iterator<Item = &'static Stage> {
    STAGES.iter().filter(|s| s.is_fetcher())
}

/// The fetcher whose settings start with the prefix `name` starts with.
pub fn fetcher_of_setting(name: &str) -> Option<&'static Stage> {
    fetchers().find(|s| matches!(s.kind, Kind::Fetch { prefix, .. } if name.starts_with(prefix)))
}

/// `a, b, c or d`: the fetchers' names for a message.
pub fn fetcher_names() -> String {
    let names: Vec<&str> = fetchers().map(|s| s.name).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    }
}

/// The stages that write `var/users.json`: the fetchers, and a service that
/// writes it from what it is pushed (scim-server).
pub fn users_file_writers() -> impl Iterator<Item = &'static Stage> {
    STAGES
        .iter()
        .filter(|s| s.writes.contains("`var/users.json`"))
}

/// What to run when `var/users.json` is missing, for a message: every
/// fetcher, then the other stages that write it.
pub fn users_file_advice() -> String {
    let others: Vec<&str> = users_file_writers()
        .filter(|s| !s.is_fetcher())
        .map(|s| s.name)
        .collect();
    let mut advice = format!("run a fetcher first ({})", fetcher_names());
    if !others.is_empty() {
        advice.push_str(&format!(
            ", or {}, which writes it from what it is pushed",
            others.join(" or ")
        ));
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_original_names_and_prefixes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for s in STAGES {
            assert!(seen.insert(s.name), "{} is listed twice", s.name);
            if let Some(o) = s.original {
                assert!(seen.insert(o), "{o} names two stages");
            }
            let mut flags = std::collections::HashSet::new();
            assert!(
                s.flags.iter().all(|f| flags.insert(f.name())),
                "{}: a flag is listed twice",
                s.name
            );
        }
        let prefixes: Vec<&str> = fetchers()
            .map(|s| match s.kind {
                Kind::Fetch { prefix, .. } => prefix,
                _ => unreachable!(),
            })
            .collect();
        for (i, p) in prefixes.iter().enumerate() {
            assert!(p.ends_with('_'), "{p}: a prefix ends with _");
            for q in &prefixes[i + 1..] {
                assert!(
                    !p.starts_with(q) && !q.starts_with(p),
                    "{p} and {q} overlap: a setting would belong to two fetchers"
                );
            }
        }
    }

    #[test]
    fn a_setting_belongs_to_the_fetcher_of_its_prefix() {
        assert_eq!(
            fetcher_of_setting("OKTA_ORG_URL").map(|s| s.name),
            Some("fetch-okta")
        );
        assert_eq!(fetcher_of_setting("TIMECAMP_API_KEY"), None);
        assert!(fetcher_names().starts_with("fetch-ldap, "));
        assert!(fetcher_names().contains(" or "));
        assert!(
            users_file_advice()
                .ends_with(", or scim-server, which writes it from what it is pushed"),
            "{}",
            users_file_advice()
        );
    }
}
