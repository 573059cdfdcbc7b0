//! The deployment files against the binaries they start. No Docker engine or
//! Helm runs here, so the files are parsed and cross-checked instead.

use std::collections::BTreeSet;
use std::path::Path;

use scim_core::stages::{STAGES, Stage};
use serde_yaml::Value;

fn read(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    let mut v: Value = serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    v.apply_merge().unwrap();
    v
}

/// Every program of the stage list (crates/core/src/stages.rs).
fn known_binaries() -> impl Iterator<Item = &'static str> {
    STAGES.iter().map(|s| s.name)
}

/// The binaries this crate builds: the files of src/bin/.
fn built_binaries() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
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
    let services = compose["services"].as_mapping().unwrap();
    let names: BTreeSet<&str> = services.keys().map(|k| k.as_str().unwrap()).collect();
    // The seed README's services: one per binary, and one to build the image.
    let expected: BTreeSet<&str> = known_binaries().chain(["timecamp-scim"]).collect();
    assert_eq!(names, expected);
    let stages: BTreeSet<&str> = known_binaries().collect();
    for (name, service) in services {
        let name = name.as_str().unwrap();
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
        if name == "timecamp-scim" {
            assert_eq!(service["build"].as_str(), Some("."));
            continue;
        }
        // The binary is the entrypoint, so `docker compose run --rm sync-users --dry-run` appends flags.
        let entry: Vec<&str> = service["entrypoint"]
            .as_sequence()
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
}

#[test]
fn dockerfile_builds_in_the_rust_image_and_runs_every_binary_as_non_root() {
    let docker = read("Dockerfile");
    assert!(docker.contains("FROM rust:1-bookworm AS build"));
    assert!(docker.contains("FROM debian:bookworm-slim"));
    assert!(docker.contains("USER 1000:1000"));
    assert!(docker.contains("COPY --from=build /out/ /usr/local/bin/"));
    for stage in known_binaries() {
        assert!(
            docker.contains(&format!(" {stage} ")) || docker.contains(&format!(" {stage};")),
            "{stage} is not copied"
        );
    }
}

#[test]
fn helm_chart_has_a_cronjob_value_for_every_scheduled_stage() {
    let chart = yaml("helm/timecamp-scim/Chart.yaml");
    assert_eq!(chart["name"].as_str(), Some("timecamp-scim"));
    let values = yaml("helm/timecamp-scim/values.yaml");
    let jobs = values["jobs"].as_mapping().unwrap();
    for (name, job) in jobs {
        let name = name.as_str().unwrap();
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
    let cron = read("helm/timecamp-scim/templates/cronjobs.yaml");
    assert!(cron.contains("secretRef:") && cron.contains(".Values.existingSecret"));
    assert!(cron.contains("runAsNonRoot: true") && cron.contains("readOnlyRootFilesystem: true"));
    assert!(cron.contains("persistentVolumeClaim:") && cron.contains("emptyDir: {}"));
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
        let config = example["config"].as_mapping().unwrap();
        for key in config.keys().map(|k| k.as_str().unwrap()) {
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
        let jobs = example["jobs"].as_mapping().unwrap();
        assert_eq!(
            example["jobs"][fetcher.name]["enabled"].as_bool(),
            Some(true),
            "{file}"
        );
        for (job, _) in jobs {
            let job = job.as_str().unwrap();
            let other_fetcher =
                scim_core::stages::find(job).is_some_and(|s| s.is_fetcher() && s != fetcher);
            assert!(!other_fetcher, "{file} runs {job} too");
        }
    }
}
