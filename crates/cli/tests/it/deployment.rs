//! The deployment files against the binaries they start. No Docker engine or
//! Helm runs here, so the files are parsed and cross-checked instead.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml::Value;
use timecamp_scim::http_service::stage_names;

fn read(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    let mut v: Value = serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    v.apply_merge().unwrap();
    v
}

/// The stages, and the service that runs them.
fn known_binaries() -> impl Iterator<Item = &'static str> {
    stage_names().chain(["http-service"])
}

/// The binaries this crate builds, from its manifest.
fn built_binaries() -> BTreeSet<String> {
    read("crates/cli/Cargo.toml")
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|n| n.trim_end_matches('"').to_owned())
        .filter(|n| n != "timecamp-scim" && n != "timecamp_scim")
        .collect()
}

#[test]
fn every_built_binary_is_a_known_stage() {
    let stages: BTreeSet<String> = known_binaries().map(str::to_owned).collect();
    let built = built_binaries();
    assert!(
        built.contains("sync-users") && built.contains("http-service"),
        "{built:?}"
    );
    assert!(
        built.is_subset(&stages),
        "binaries {built:?} vs stages {stages:?}"
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
    let stages: BTreeSet<&str> = stage_names().collect();
    for (name, job) in jobs {
        let name = name.as_str().unwrap();
        assert!(stages.contains(name), "job {name} is not a stage");
        let schedule = job["schedule"].as_str().unwrap();
        assert_eq!(schedule.split_whitespace().count(), 5, "{name}: {schedule}");
        assert!(job["enabled"].as_bool().is_some(), "{name}");
    }
    // Every fetcher and the stages after them run on a schedule.
    for needed in stage_names().filter(|s| {
        s.starts_with("fetch-")
            || [
                "prepare-timecamp",
                "sync-users",
                "sync-time-off",
                "remove-empty-groups",
            ]
            .contains(s)
    }) {
        assert!(jobs.contains_key(needed), "no job for {needed}");
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

#[test]
fn chart_examples_are_complete_and_name_only_real_settings() {
    for (file, fetcher, needed, secrets) in [
        (
            "helm/timecamp-scim/examples/ldap.yaml",
            "fetch-ldap",
            &["LDAP_HOST", "LDAP_DOMAIN", "LDAP_DN", "LDAP_USERNAME"][..],
            &["LDAP_PASSWORD"][..],
        ),
        (
            "helm/timecamp-scim/examples/hibob.yaml",
            "fetch-hibob",
            &["HIBOB_SERVICE_USER_ID"][..],
            &["HIBOB_SERVICE_USER_TOKEN"][..],
        ),
        (
            "helm/timecamp-scim/examples/okta.yaml",
            "fetch-okta",
            &["OKTA_ORG_URL"][..],
            &["OKTA_API_TOKEN"][..],
        ),
    ] {
        let example = yaml(file);
        let text = read(file);
        let config = example["config"].as_mapping().unwrap();
        for key in config.keys().map(|k| k.as_str().unwrap()) {
            let setting = scim_core::registry::lookup(key)
                .unwrap_or_else(|| panic!("{file}: {key} is not a setting"));
            // Secrets go in the Secret, never in the values.
            assert!(!setting.secret, "{file}: {key} belongs in the Secret");
        }
        for key in needed
            .iter()
            .chain(&["TIMECAMP_ROOT_GROUP_ID", "S3_BUCKET_NAME"])
        {
            assert!(config.contains_key(*key), "{file} sets no {key}");
        }
        for secret in secrets
            .iter()
            .chain(&["TIMECAMP_API_KEY", "S3_SECRET_ACCESS_KEY"])
        {
            assert!(
                text.contains(&format!("--from-literal={secret}=")),
                "{file}: the example's Secret lacks {secret}"
            );
        }
        assert_eq!(
            example["jobs"][fetcher]["enabled"].as_bool(),
            Some(true),
            "{file}"
        );
    }
}
