//! The one list of stages (crates/core/src/stages.rs) against everything that
//! names them: each binary's `--help`, the settings registry, `.env.sample`, the README's stage table and diagram, and
//! the sections of docs/stages.md. (The deployment files are checked against
//! the same list in `deployment.rs`.)
//!
//! The README's table and diagram are rendered from the list: after adding a
//! stage, `UPDATE_DOCS=1 cargo test -p timecamp-scim --test it stage_list::`
//! writes them.

use scim_core::registry::{SETTINGS, Setting, lookup, table_row};
use scim_core::stages::{self, Kind, STAGES, Stage};
use scim_test_support::{Project, binary};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Whether this run should rewrite rendered documentation instead of failing.
fn updating_docs() -> bool {
    #[allow(clippy::disallowed_methods)] // the test's own switch, not a setting
    std::env::var_os("UPDATE_DOCS").is_some()
}

/// Compares the text between `start` and `end` in `rel` with `want`, or, with
/// `UPDATE_DOCS` set, writes `want` there.
fn rendered_section(rel: &str, start: &str, end: &str, want: &str) {
    let text = read(rel);
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{rel}: no {start:?}"))
        + start.len();
    let to = from
        + text[from..]
            .find(end)
            .unwrap_or_else(|| panic!("{rel}: no {end:?} after {start:?}"));
    if &text[from..to] == want {
        return;
    }
    if updating_docs() {
        let updated = format!("{}{want}{}", &text[..from], &text[to..]);
        std::fs::write(root().join(rel), updated).unwrap();
        return;
    }
    panic!(
        "{rel} differs from the stage list (crates/core/src/stages.rs); run \
         UPDATE_DOCS=1 cargo test -p timecamp-scim --test it stage_list:: or make it:\n{want}"
    );
}

/// The settings only `stage` reads.
fn settings_of(stage: &Stage) -> impl Iterator<Item = &'static Setting> + '_ {
    SETTINGS.iter().filter(move |s| s.read_by == stage.name)
}

/// What a help must name beyond the stage's own required settings: those of
/// the TimeCamp stages, whose registry rows name a group of stages.
const HELP_ALSO_NAMES: &[(&str, &[&str])] = &[
    ("prepare-timecamp", &["TIMECAMP_USE_"]),
    (
        "sync-users",
        &["TIMECAMP_API_KEY", "TIMECAMP_ROOT_GROUP_ID"],
    ),
    ("sync-time-off", &["TIMECAMP_API_KEY"]),
    (
        "remove-empty-groups",
        &["TIMECAMP_API_KEY", "TIMECAMP_ROOT_GROUP_ID"],
    ),
    (
        "http-service",
        &[
            "HTTP_SERVICE_TOKEN",
            "HTTP_SERVICE_PORT",
            "HTTP_SERVICE_TIMEOUT_SECONDS",
        ],
    ),
    (
        "scim-server",
        &[
            "SCIM_PORT",
            "SCIM_SYNC_DELAY_SECONDS",
            "TIMECAMP_API_KEY",
            "TIMECAMP_ROOT_GROUP_ID",
        ],
    ),
];

#[test]
fn each_binary_says_what_it_does_what_it_needs_and_where_the_rest_is() {
    for (name, _) in HELP_ALSO_NAMES {
        assert!(stages::find(name).is_some(), "{name} is not a stage");
    }
    let mut firsts = std::collections::HashSet::new();
    for stage in STAGES {
        let name = stage.name;
        let bin = binary(name);
        let short = Project::new().run(&bin, &["-h"]);
        short.expect_success();
        let first = short.stdout.lines().next().unwrap().to_owned();
        assert!(
            firsts.insert(first.clone()),
            "{name}: -h starts like another binary's: {first}"
        );
        let long = Project::new().run(&bin, &["--help"]);
        long.expect_success();
        let also = HELP_ALSO_NAMES
            .iter()
            .filter(|(n, _)| *n == name)
            .flat_map(|(_, vars)| vars.iter().copied());
        let required = settings_of(stage)
            .filter(|s| s.is_required())
            .map(|s| s.name);
        for var in required.chain(also) {
            assert!(
                short.stdout.contains(var),
                "{name} -h does not name {var}:\n{}",
                short.stdout
            );
            assert!(
                long.stdout.contains(var),
                "{name} --help does not name {var}:\n{}",
                long.stdout
            );
        }
        assert!(
            long.stdout.contains("docs/configuration.md"),
            "{name}:\n{}",
            long.stdout
        );
        // The settings part of the help is the registry's rendering: every
        // setting the stage reads, with the registry's default.
        let (own, common) = scim_core::registry::settings_of(name);
        for s in own.iter().chain(&common) {
            assert!(
                short.stdout.contains(s.name),
                "{name} -h does not name {}",
                s.name
            );
            let default = match s.default {
                "–" => String::new(),
                d => format!(" (default: {})", d.replace("\\|", "|")),
            };
            assert!(
                long.stdout.contains(&format!("  {}{default}\n", s.name)),
                "{name} --help does not show {}{default}:\n{}",
                s.name,
                long.stdout
            );
        }
        // The usage line lists every flag of the options list.
        let usage = long
            .stdout
            .lines()
            .find(|l| l.starts_with("Usage:"))
            .unwrap()
            .to_owned();
        for flag in long
            .stdout
            .split_whitespace()
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches([',', '.', ')']))
            .filter(|w| {
                !["--help", "--version"].contains(w)
                    && w.chars()
                        .skip(2)
                        .all(|c| c.is_ascii_lowercase() || c == '-')
            })
        {
            assert!(
                usage.contains(flag),
                "{name}: the usage line does not list {flag}: {usage}"
            );
        }
        // What http-service lets through, the binary takes.
        for flag in stage.flags {
            assert!(
                long.stdout.contains(flag.name()),
                "{name}: http-service allows {} but --help does not list it",
                flag.name()
            );
        }
    }
}

/// The registry of settings is the one list: the table of docs/configuration.md is
/// its rendering (`UPDATE_DOCS=1` writes it) and `.env.sample` has an example
/// of each. That the code reads no variable missing here is checked where every
/// setting is read: `Env::get` stops a debug build (these tests run every binary
/// so built) on a name the registry lacks.
#[test]
fn the_settings_registry_is_the_documentation() {
    let rows: String = SETTINGS.iter().map(|s| table_row(s) + "\n").collect();
    rendered_section(
        "docs/configuration.md",
        "| Variable | Default | Read by | Meaning |\n|---|---|---|---|\n",
        "\n\n",
        rows.trim_end_matches('\n'),
    );

    let sample = read(".env.sample");
    for s in SETTINGS {
        assert!(
            sample.contains(&format!("{}=", s.name)),
            "{} is missing from .env.sample",
            s.name
        );
    }
    for line in sample.lines() {
        let line = line.trim_start_matches('#');
        if let Some((name, _)) = line.split_once('=')
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            assert!(
                lookup(name).is_some(),
                ".env.sample has {name}, which is not a setting"
            );
        }
    }
}

/// A fetcher's settings start with its prefix and are read by it alone; a
/// setting read by one stage names a stage of the list.
#[test]
fn each_fetchers_settings_are_its_own() {
    for s in SETTINGS {
        if let Some(fetcher) = stages::fetcher_of_setting(s.name) {
            assert_eq!(
                s.read_by, fetcher.name,
                "{} has the prefix of {}",
                s.name, fetcher.name
            );
        }
        for word in s.read_by.split([' ', ',', '(', ')']) {
            if word.starts_with("fetch-") {
                assert!(
                    stages::find(word).is_some(),
                    "{}: {word} is not a stage",
                    s.name
                );
            }
        }
    }
    for stage in stages::fetchers() {
        let first = settings_of(stage)
            .next()
            .unwrap_or_else(|| panic!("{} has no settings in the registry", stage.name));
        // The prefix comes with the line in the stage list, so a typo of the
        // fetcher's settings is caught like any other.
        let typo = &first.name[..first.name.len() - 1];
        assert_eq!(
            scim_core::registry::unknown_settings([typo]),
            [scim_core::registry::UnknownSetting::Misspelt {
                name: typo.to_owned(),
                closest: first.name
            }],
            "{}",
            stage.name
        );
        // One letter off: a near miss, which stops every stage.
        assert_eq!(
            scim_core::registry::near_misses([typo]),
            [scim_core::registry::NearMiss {
                name: typo.to_owned(),
                setting: first.name
            }],
            "{}",
            stage.name
        );
    }
}

/// An admin reads `.env.sample` to learn what a variable does: each one has
/// a comment of its own right above it.
#[test]
fn env_sample_explains_every_setting() {
    let sample = read(".env.sample");
    let lines: Vec<&str> = sample.lines().collect();
    let example = |l: &str| {
        l.trim_start_matches('#')
            .split_once('=')
            .is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
    };
    let mut unexplained = Vec::new();
    for s in SETTINGS {
        let at = lines
            .iter()
            .position(|l| {
                l.trim_start_matches('#')
                    .starts_with(&format!("{}=", s.name))
            })
            .unwrap_or_else(|| panic!("{} is missing from .env.sample", s.name));
        let above = at.checked_sub(1).map(|i| lines[i]).unwrap_or_default();
        let explained = above.starts_with("# ") && !example(above) && !above.starts_with("# ---");
        if !explained {
            unexplained.push(format!("{} (line {})", s.name, at + 1));
        }
    }
    assert!(
        unexplained.is_empty(),
        ".env.sample has no comment right above: {}",
        unexplained.join(", ")
    );
}

/// The rows of the README's table of stages.
fn readme_rows() -> String {
    let mut out = String::new();
    for s in STAGES {
        out.push_str(&format!("| `{}` | {} | {} |\n", s.name, s.reads, s.writes));
    }
    out
}

/// The README's diagram: each source into its fetcher, the fetchers into
/// `var/users.json`, then the pipeline.
fn readme_diagram() -> String {
    let fetchers: Vec<(&str, &str)> = stages::fetchers()
        .map(|s| match s.kind {
            Kind::Fetch { system, .. } => (system, s.name),
            _ => unreachable!(),
        })
        .collect();
    let system_width = fetchers
        .iter()
        .map(|(s, _)| s.chars().count())
        .max()
        .unwrap();
    let name_width = fetchers.iter().map(|(_, n)| n.len()).max().unwrap();
    let last = fetchers.len() - 1;
    let middle = last / 2;
    let mut lines = Vec::new();
    for (i, (system, name)) in fetchers.iter().enumerate() {
        let join = match i {
            _ if last == 0 => "──",
            0 => "─┐",
            i if i == last => "─┘",
            _ => "─┤",
        };
        let into = if i == middle && last > 0 {
            "─┼─▶ var/users.json"
        } else if i == middle {
            "──▶ var/users.json"
        } else {
            join
        };
        let pad = system_width - system.chars().count();
        lines.push(format!(
            " {system}{} {join} {name:<name_width$} {into}",
            " ".repeat(pad)
        ));
    }
    // The column under the middle of `var/users.json`.
    let users_at = lines[middle].chars().count() - "var/users.json".len();
    let down = users_at + 7;
    let at = |column: usize, text: &str| format!("{}{text}", " ".repeat(column));
    for line in lines.iter_mut().skip(middle + 1) {
        let width = line.chars().count();
        line.push_str(&at(down - width, "│"));
    }
    for text in [
        at(down, "▼"),
        at(down - 8, "prepare-timecamp"),
        at(down, "│"),
        at(down, "▼"),
        at(
            down - 12,
            "var/timecamp_users.json ──▶ display-tree (preview)",
        ),
        at(down, "│"),
        at(down, "▼"),
        at(down - 5, "sync-users ──▶ TimeCamp REST API"),
    ] {
        lines.push(text);
    }
    format!("\n{}\n", lines.join("\n"))
}

#[test]
fn the_readme_shows_the_stage_list() {
    rendered_section(
        "README.md",
        "Stages are separate programs that hand JSON files to each other:\n\n```",
        "```",
        &readme_diagram(),
    );
    rendered_section(
        "README.md",
        "| Stage | Reads | Writes |\n|---|---|---|\n",
        "\nA typical crontab",
        &readme_rows(),
    );
    let readme = read("README.md");
    // The first paragraph names every source.
    let intro = readme.split("\n\n").nth(1).unwrap().replace('\n', " ");
    for s in stages::fetchers() {
        let system = s.reads.split(" (").next().unwrap();
        assert!(
            intro.contains(system),
            "README's first paragraph does not name {system}"
        );
    }
}

#[test]
fn docs_stages_has_a_section_for_every_stage() {
    let doc = read("docs/stages.md");
    let headings: Vec<&str> = doc.lines().filter(|l| l.starts_with("## ")).collect();
    for s in STAGES {
        assert!(
            headings
                .iter()
                .any(|h| h.split([' ', ',']).any(|w| w == s.name)),
            "docs/stages.md has no section for {}",
            s.name
        );
    }
}
