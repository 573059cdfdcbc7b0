//! The deployment files against the binaries they start, parsed and
//! cross-checked. `scripts/deploy-check` (in CI) runs them for real: the
//! image, Helm 3 and 4, Compose.

use std::collections::BTreeSet;
use std::path::Path;

use scim_core::stages::{Kind, STAGES, Stage};
use serde_json::Value;

fn read(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A YAML file as JSON values (merge keys `<<` applied).
fn yaml(rel: &str) -> Value {
    serde_saphyr::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every program of the stage list (crates/core/src/stages.rs).
fn known_binaries() -> impl Iterator<Item = &'static str> {
    STAGES.iter().map(|s| s.name)
}

/// The binaries this crate builds: the files of src/bin/, but the one that
/// holds them all (`timecamp-scim`, the image's).
fn built_binaries() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "timecamp-scim")
        .collect()
}

#[test]
fn the_built_binaries_are_the_stage_list() {
    let stages: BTreeSet<String> = known_binaries().map(str::to_owned).collect();
    let built = built_binaries();
    assert!(
        built.contains("sync-users") && built.contains("http-service"),
        "{built:?}"
    );
    assert_eq!(
        built, stages,
        "crates/cli/src/bin/ and the stage list (crates/core/src/stages.rs) differ"
    );
}

#[test]
fn compose_has_the_seed_readme_services_each_starting_a_real_stage() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_object().unwrap();
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    // The seed README's services: one per binary, and one to build the image.
    let expected: BTreeSet<&str> = known_binaries().chain(["timecamp-scim"]).collect();
    assert_eq!(names, expected);
    let stages: BTreeSet<&str> = known_binaries().collect();
    for (name, service) in services {
        let name = name.as_str();
        assert_eq!(
            service["volumes"][0].as_str(),
            Some("./var:/app/var"),
            "{name}"
        );
        assert_eq!(
            service["env_file"][0]["path"].as_str(),
            Some(".env"),
            "{name}"
        );
        assert_eq!(service["build"].as_str(), Some("."), "{name}");
        // `docker compose up` starts only what runs for good; a stage runs
        // once (`docker compose run --rm <stage>`), so it is in a profile.
        // scim-server runs for good but only where an identity provider
        // pushes to it, so it has a profile of its own.
        let profile = service["profiles"][0].as_str();
        let long_running = scim_core::stages::find(name).is_some_and(|s| s.kind == Kind::Service);
        let expected = match name {
            "scim-server" => Some("scim"),
            _ if long_running => None,
            _ => Some("stages"),
        };
        assert_eq!(profile, expected, "{name}: profiles");
        if long_running {
            assert!(service.get("restart").is_some(), "{name}");
            assert!(
                service.get("stop_grace_period").is_some(),
                "{name}: time to stop its stages"
            );
        }
        if name == "timecamp-scim" {
            continue;
        }
        // The binary is the entrypoint, so `docker compose run --rm sync-users --dry-run` appends flags.
        let entry: Vec<&str> = service["entrypoint"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(&entry[..2], ["/usr/bin/tini", "--"], "{name}");
        assert_eq!(entry[2], name, "service {name} starts {}", entry[2]);
        assert!(
            stages.contains(entry[2]),
            "{name}: {} is not a stage binary",
            entry[2]
        );
        assert!(
            service.get("command").is_none(),
            "{name}: a command would swallow the flags"
        );
    }
    assert_eq!(
        services["http-service"]["ports"][0].as_str(),
        Some("8181:8181")
    );
    assert_eq!(
        services["scim-server"]["ports"][0].as_str(),
        Some("8282:8282")
    );
    assert_eq!(
        services["scim-server"]["environment"]["SCIM_HOST"].as_str(),
        Some("0.0.0.0"),
        "inside a container, 127.0.0.1 cannot be reached"
    );
}

#[test]
fn dockerfile_ships_one_binary_with_a_link_per_program_as_non_root() {
    let docker = read("Dockerfile");
    assert!(docker.contains("FROM rust:1-bookworm AS build"));
    assert!(docker.contains("FROM debian:bookworm-slim"));
    assert!(docker.contains("USER 1000:1000"));
    assert!(docker.contains("--bin timecamp-scim"));
    assert!(docker.contains("for program in $(timecamp-scim --list)"));
    assert!(docker.contains("ln -s timecamp-scim"));
}

#[test]
fn the_multi_call_binary_lists_every_program_and_runs_the_one_it_is_called_as() {
    let bin = env!("CARGO_BIN_EXE_timecamp-scim");
    let out = std::process::Command::new(bin)
        .arg("--list")
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, built_binaries(), "--list names every program built");
    let dir = tempfile::tempdir().unwrap();
    for program in &listed {
        let link = dir.path().join(program);
        std::os::unix::fs::symlink(bin, &link).unwrap();
        let out = std::process::Command::new(&link)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{program} --help");
        assert!(
            help.contains(&format!("Usage: {program}")),
            "{program}: {help}"
        );
    }
    let out = std::process::Command::new(bin).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn helm_chart_has_a_cronjob_value_for_every_scheduled_stage() {
    let chart = yaml("helm/timecamp-scim/Chart.yaml");
    assert_eq!(chart["name"].as_str(), Some("timecamp-scim"));
    let values = yaml("helm/timecamp-scim/values.yaml");
    let jobs = values["jobs"].as_object().unwrap();
    for (name, job) in jobs {
        let name = name.as_str();
        assert!(
            scim_core::stages::find(name).is_some_and(Stage::runs_over_http),
            "job {name} is not a stage"
        );
        let schedule = job["schedule"].as_str().unwrap();
        assert_eq!(schedule.split_whitespace().count(), 5, "{name}: {schedule}");
        assert!(job["enabled"].as_bool().is_some(), "{name}");
    }
    // Every fetcher and the stages after them run on a schedule.
    for needed in STAGES.iter().filter(|s| s.is_scheduled()) {
        assert!(
            jobs.contains_key(needed.name),
            "helm/timecamp-scim/values.yaml has no job for {}",
            needed.name
        );
    }
    assert!(["s3", "volume"].contains(&values["storage"]["mode"].as_str().unwrap()));
    // The pod of every program is one helper (a Deployment can use it too).
    let cron = read("helm/timecamp-scim/templates/cronjobs.yaml");
    assert!(cron.contains("include \"timecamp-scim.podSpec\""));
    assert!(cron.contains("include \"timecamp-scim.validate\""));
    let pod = read("helm/timecamp-scim/templates/_helpers.tpl");
    assert!(pod.contains("secretRef:") && pod.contains(".Values.existingSecret"));
    assert!(pod.contains("runAsNonRoot: true") && pod.contains("readOnlyRootFilesystem: true"));
    assert!(pod.contains("type: RuntimeDefault") && pod.contains("drop: [\"ALL\"]"));
    assert!(pod.contains("automountServiceAccountToken") && pod.contains("imagePullSecrets"));
    assert!(pod.contains("persistentVolumeClaim:") && pod.contains("emptyDir: {}"));
    let config = read("helm/timecamp-scim/templates/configmap.yaml");
    assert!(config.contains("USE_S3_STORAGE"));
}

#[test]
fn compose_and_the_chart_use_the_same_image_tag_as_the_release() {
    let version = read("Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .map(|v| v.trim_end_matches('"').to_owned())
        .unwrap();
    let compose = yaml("docker-compose.yml");
    let image = compose["x-stage"]["image"].as_str().unwrap();
    assert_eq!(image, format!("timecamp-scim:{version}"));
    let values = yaml("helm/timecamp-scim/values.yaml");
    assert_eq!(values["image"]["tag"].as_str(), Some(version.as_str()));
    let chart = yaml("helm/timecamp-scim/Chart.yaml");
    assert_eq!(chart["appVersion"].as_str(), Some(version.as_str()));
}

/// Each fetcher has a complete example of the chart's values, named after its
/// source (`fetch-hibob`: `examples/hibob.yaml`): the settings it needs, and
/// the Secret's keys for its secrets.
#[test]
fn chart_examples_are_complete_and_name_only_real_settings() {
    use scim_core::registry::SETTINGS;
    for fetcher in scim_core::stages::fetchers() {
        let source = fetcher.name.trim_start_matches("fetch-");
        let file = format!("helm/timecamp-scim/examples/{source}.yaml");
        let example = yaml(&file);
        let text = read(&file);
        let config = example["config"].as_object().unwrap();
        for key in config.keys() {
            let setting = scim_core::registry::lookup(key)
                .unwrap_or_else(|| panic!("{file}: {key} is not a setting"));
            // Secrets go in the Secret, never in the values.
            assert!(!setting.secret, "{file}: {key} belongs in the Secret");
        }
        let required = SETTINGS
            .iter()
            .filter(|s| s.read_by == fetcher.name && s.is_required());
        for s in required.clone().filter(|s| !s.secret) {
            assert!(config.contains_key(s.name), "{file} sets no {}", s.name);
        }
        for key in ["TIMECAMP_ROOT_GROUP_ID", "S3_BUCKET_NAME"] {
            assert!(config.contains_key(key), "{file} sets no {key}");
        }
        let secrets = required.filter(|s| s.secret).map(|s| s.name);
        for secret in secrets.chain(["TIMECAMP_API_KEY", "S3_SECRET_ACCESS_KEY"]) {
            assert!(
                text.contains(&format!("--from-literal={secret}=")),
                "{file}: the example's Secret lacks {secret}"
            );
        }
        let jobs = example["jobs"].as_object().unwrap();
        assert_eq!(
            example["jobs"][fetcher.name]["enabled"].as_bool(),
            Some(true),
            "{file}"
        );
        for job in jobs.keys() {
            let other_fetcher =
                scim_core::stages::find(job).is_some_and(|s| s.is_fetcher() && s != fetcher);
            assert!(!other_fetcher, "{file} runs {job} too");
        }
        // Every example pulls from a private registry.
        assert!(
            example["imagePullSecrets"]
                .as_array()
                .is_some_and(|s| !s.is_empty()),
            "{file}: no imagePullSecrets"
        );
    }
}

/// scim-server runs as one pod beside the jobs: a Deployment and a Service
/// of the chart's pod, and an example in which nothing else writes
/// `var/users.json` or syncs.
#[test]
fn the_chart_runs_scim_server_as_one_pod_with_a_service() {
    let template = read("helm/timecamp-scim/templates/scim-server.yaml");
    for needed in [
        "kind: Deployment",
        "kind: Service",
        "replicas: 1",
        "type: Recreate",
        "enableServiceLinks: false",
        "include \"timecamp-scim.podSpec\"",
        "include \"timecamp-scim.validate\"",
        "/health",
    ] {
        assert!(
            template.contains(needed),
            "the scim-server template lacks {needed}"
        );
    }
    let values = yaml("helm/timecamp-scim/values.yaml");
    assert_eq!(values["scimServer"]["enabled"].as_bool(), Some(false));
    let example = yaml("helm/timecamp-scim/examples/scim-server.yaml");
    assert_eq!(example["scimServer"]["enabled"].as_bool(), Some(true));
    for job in ["prepare-timecamp", "sync-users"] {
        assert_eq!(
            example["jobs"][job]["enabled"].as_bool(),
            Some(false),
            "{job}"
        );
    }
    let text = read("helm/timecamp-scim/examples/scim-server.yaml");
    for secret in [
        "TIMECAMP_API_KEY",
        "SCIM_BEARER_TOKEN",
        "S3_SECRET_ACCESS_KEY",
    ] {
        assert!(
            text.contains(&format!("--from-literal={secret}=")),
            "{secret}"
        );
    }
    for key in example["config"].as_object().unwrap().keys() {
        let setting = scim_core::registry::lookup(key).unwrap_or_else(|| panic!("{key}"));
        assert!(!setting.secret, "{key} belongs in the Secret");
    }
    let helpers = read("helm/timecamp-scim/templates/_helpers.tpl");
    assert!(
        helpers.contains("scimServer.enabled is true"),
        "the chart refuses scim-server beside a sync job"
    );
}
