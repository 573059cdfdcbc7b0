//! The workspace's own rules for its manifests: every dependency is declared
//! once, in the root `Cargo.toml`'s `[workspace.dependencies]`, so one line
//! says which version (and which features) the whole project builds with, and
//! two crates cannot drift onto two versions of the same library.

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The dependency lines of a crate manifest that do not come from the
/// workspace table, as `section: line`.
fn declared_outside_the_workspace(manifest: &str) -> Vec<String> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.trim_matches(['[', ']']).to_owned();
            // `[dependencies.foo]` tables would hide a version from the check below.
            if section.contains("dependencies.") {
                out.push(format!("[{section}]"));
            }
            continue;
        }
        let in_dependencies = section == "dependencies"
            || section == "dev-dependencies"
            || section == "build-dependencies"
            || (section.starts_with("target.") && section.ends_with("dependencies"));
        if !in_dependencies || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let from_workspace = name.trim().ends_with(".workspace") && value.trim() == "true"
            || value.replace(' ', "").contains("workspace=true");
        if !from_workspace {
            out.push(format!("[{section}] {line}"));
        }
    }
    out
}

#[test]
fn every_dependency_is_declared_in_the_workspace_table() {
    let mut outside = Vec::new();
    let mut crates = 0;
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        crates += 1;
        outside.extend(
            declared_outside_the_workspace(&text)
                .into_iter()
                .map(|line| format!("{}: {line}", manifest.display())),
        );
    }
    assert!(crates > 10, "found only {crates} crates");
    assert!(
        outside.is_empty(),
        "declare these in [workspace.dependencies] of the root Cargo.toml and write \
         `name.workspace = true` (features may be added there):\n{}",
        outside.join("\n")
    );
}

#[test]
fn a_version_written_in_a_crate_manifest_is_found() {
    let manifest = "[package]\nname = \"x\"\nversion.workspace = true\n\n\
        [dependencies]\nanyhow.workspace = true\nrustix = { workspace = true, features = [\"fs\"] }\n\
        indicatif = { version = \"0.18\", default-features = false }\n\n\
        [dev-dependencies]\nsocket2 = \"0.6\"\n\n[dependencies.regex]\nversion = \"1\"\n\n\
        [lints]\nworkspace = true\n";
    assert_eq!(
        declared_outside_the_workspace(manifest),
        [
            "[dependencies] indicatif = { version = \"0.18\", default-features = false }",
            "[dev-dependencies] socket2 = \"0.6\"",
            "[dependencies.regex]",
        ]
    );
}

/// One import path per type: no crate hands out another workspace crate
/// under a name of its own (`pub use scim_model as model;`), which left two
/// spellings of every stage-file type in use.
#[test]
fn no_crate_re_exports_another_workspace_crate_whole() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("crates"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines().map(str::trim) {
            let whole_crate_alias = line.strip_prefix("pub use scim_").is_some_and(|rest| {
                rest.split_once(" as ")
                    .is_some_and(|(c, _)| !c.contains("::"))
            });
            if whole_crate_alias {
                found.push(format!("{}: {line}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "use the crate by its own name instead:\n{}",
        found.join("\n")
    );
}
