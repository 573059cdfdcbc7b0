//! prepare-timecamp as an admin runs it: configuration, bad input, files and logs.

use scim_test_support::Project;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const OLD_OUTPUT: &str = "[\n  {\"previous\": true}\n]";

fn one_user() -> serde_json::Value {
    json!({"users": [{"external_id": "1", "name": "Ada", "email": "ada@example.com",
        "department": "Eng", "job_title": null, "status": "active", "supervisor_id": ""}]})
}

/// A project with a previous prepared file, to check it survives failures.
fn with_previous_output() -> Project {
    Project::new().file("var/timecamp_users.json", OLD_OUTPUT)
}

#[test]
fn runs_without_an_api_key_or_root_group() {
    let p = Project::new().users(one_user());
    p.run(BIN, &[]).expect_success();
    assert_eq!(
        p.read_json("var/timecamp_users.json")[0]["timecamp_email"],
        "ada@example.com"
    );
}

#[test]
fn non_numeric_root_group_id_exits_2_naming_the_variable_and_writes_nothing() {
    let p = with_previous_output()
        .users(one_user())
        .env("TIMECAMP_ROOT_GROUP_ID", "abc");
    p.run(BIN, &[])
        .expect_code(2)
        .expect_stderr("TIMECAMP_ROOT_GROUP_ID");
    assert_eq!(p.read("var/timecamp_users.json"), OLD_OUTPUT);
}

#[test]
fn boolean_typo_exits_2_instead_of_meaning_false() {
    let p = Project::new()
        .users(one_user())
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "ture");
    p.run(BIN, &[])
        .expect_code(2)
        .expect_stderr("TIMECAMP_USE_SUPERVISOR_GROUPS=\"ture\"");
    assert!(!p.exists("var/timecamp_users.json"));
}

/// prepare checks the settings of the stages after it, which it does not
/// use, so a typo stops the pipeline before any file is written.
#[test]
fn a_bad_sync_or_connection_setting_stops_prepare_before_it_writes() {
    for (var, value) in [
        ("TIMECAMP_MAX_DEACTIVATIONS", "ten"),
        ("TIMECAMP_DISABLE_NEW_USERS", "ture"),
        ("TIMECAMP_HTTP_TIMEOUT_SECONDS", "0"),
        ("TIMECAMP_LOCK_WAIT_SECONDS", "soon"),
    ] {
        let p = with_previous_output().users(one_user()).env(var, value);
        p.run(BIN, &[]).expect_code(2).expect_stderr(var);
        assert_eq!(p.read("var/timecamp_users.json"), OLD_OUTPUT, "{var}");
    }
}

#[test]
fn one_means_true_for_booleans() {
    let p = Project::new()
        .users(one_user())
        .env("TIMECAMP_SHOW_EXTERNAL_ID", "1");
    p.run(BIN, &[]).expect_success();
    assert_eq!(
        p.read_json("var/timecamp_users.json")[0]["timecamp_user_name"],
        "Ada - 1"
    );
}

#[test]
fn unknown_flag_is_a_usage_error() {
    Project::new()
        .users(one_user())
        .run(BIN, &["--dry-run"])
        .expect_code(2)
        .expect_stderr("--dry-run");
}

#[test]
fn s3_storage_is_refused_until_supported() {
    Project::new()
        .users(one_user())
        .env("USE_S3_STORAGE", "true")
        .run(BIN, &[])
        .expect_code(2)
        .expect_stderr("USE_S3_STORAGE");
}

/// Every stage that writes the file is named, from the stage list: each
/// fetcher and scim-server.
#[test]
fn missing_users_file_asks_for_a_fetch_naming_every_fetcher() {
    let p = with_previous_output();
    let run = p.run(BIN, &[]);
    run.expect_code(1)
        .expect_stderr("var/users.json does not exist: run a fetcher first");
    let writers: Vec<&str> = scim_core::stages::STAGES
        .iter()
        .filter(|s| s.is_fetcher() || s.name == "scim-server")
        .map(|s| s.name)
        .collect();
    assert!(writers.len() >= 11, "{writers:?}");
    for name in writers {
        run.expect_stderr(name);
    }
    assert_eq!(p.read("var/timecamp_users.json"), OLD_OUTPUT);
}

#[test]
fn an_empty_input_file_is_called_empty() {
    let run = Project::new().file("var/users.json", "").run(BIN, &[]);
    run.expect_code(1)
        .expect_stderr("var/users.json is empty: the stage that writes it did not finish");
    assert!(!run.stderr.contains("line 1, column 0"), "{}", run.stderr);
}

#[test]
fn a_byte_order_mark_from_a_windows_editor_is_accepted() {
    let text = format!("\u{feff}{}", serde_json::to_string(&one_user()).unwrap());
    Project::new()
        .file("var/users.json", text)
        .run(BIN, &[])
        .expect_success();
}

#[test]
fn invalid_json_names_the_file_and_position_and_keeps_the_old_output() {
    let p = with_previous_output().file(
        "var/users.json",
        "{\n  \"users\": [\n    {\"name\": \"x\",}\n  ]\n}",
    );
    let run = p.run(BIN, &[]);
    run.expect_code(1)
        .expect_stderr("var/users.json is not valid JSON")
        .expect_stderr("line 3");
    assert_eq!(p.read("var/timecamp_users.json"), OLD_OUTPUT);
}

#[test]
fn wrong_shape_says_what_was_expected() {
    let p = with_previous_output().file("var/users.json", "[{\"email\": \"a@x.com\"}]");
    p.run(BIN, &[])
        .expect_code(1)
        .expect_stderr("var/users.json does not have the expected shape")
        .expect_stderr("{\"users\": [");
    assert_eq!(p.read("var/timecamp_users.json"), OLD_OUTPUT);
}

#[test]
fn wrong_field_type_is_a_shape_error() {
    let p = with_previous_output().users(
        json!({"users": [{"external_id": "1", "email": "a@x.com", "name": {"first": "A"}}]}),
    );
    p.run(BIN, &[])
        .expect_code(1)
        .expect_stderr("does not have the expected shape");
    assert_eq!(p.read("var/timecamp_users.json"), OLD_OUTPUT);
}

#[test]
fn zero_users_is_refused() {
    let p = with_previous_output().users(json!({"users": []}));
    p.run(BIN, &[])
        .expect_code(1)
        .expect_stderr("var/users.json contains no users");
    assert_eq!(p.read("var/timecamp_users.json"), OLD_OUTPUT);
}

#[test]
fn records_that_all_lack_an_email_produce_no_output() {
    let p = with_previous_output().users(
        json!({"users": [{"external_id": "1", "name": "A", "email": "", "status": "active"}]}),
    );
    p.run(BIN, &[])
        .expect_code(1)
        .expect_stderr("none of the 1 records");
    assert_eq!(p.read("var/timecamp_users.json"), OLD_OUTPUT);
}

#[test]
fn dropped_records_are_logged_with_their_reason_and_counted() {
    let p = Project::new().users(json!({"users": [
        {"external_id": "1", "name": "A", "email": "same@x.com", "status": "active"},
        {"external_id": "1", "name": "A", "email": "SAME@x.com", "status": "inactive"}
    ]}));
    p.run(BIN, &[])
        .expect_success()
        .expect_stderr(
            "INFO - record #2 (same@x.com, external_id 1): dropped: inactive, with the same \
             TimeCamp e-mail same@x.com and external id as the active record #1",
        )
        .expect_stderr("Records dropped: 1, changed: 0, with warnings: 1");
}

/// Two people given one address: prepare does not pick whose account it is.
#[test]
fn two_people_with_one_email_stop_prepare_naming_both() {
    let p = with_previous_output().users(json!({"users": [
        {"external_id": "1", "name": "A", "email": "same@x.com", "status": "active"},
        {"external_id": "2", "name": "B", "email": "SAME@x.com", "status": "inactive"}
    ]}));
    p.run(BIN, &[])
        .expect_code(1)
        .expect_stderr(
            "same@x.com: active record #1 (same@x.com, external_id 1) and inactive record #2 \
             (same@x.com, external_id 2) differ in external id, name, status",
        )
        .expect_stderr("Fix the source");
    assert_eq!(p.read("var/timecamp_users.json"), OLD_OUTPUT);
}

#[test]
fn output_flag_chooses_the_file() {
    let p = Project::new().users(one_user());
    p.run(BIN, &["--output", "var/out/custom.json"])
        .expect_success();
    assert_eq!(
        p.read_json("var/out/custom.json")[0]["timecamp_user_name"],
        "Ada"
    );
    assert!(!p.exists("var/timecamp_users.json"));
}

#[test]
fn api_key_never_appears_in_logs_even_with_debug() {
    let key = "tc-secret-key-5f3a9b";
    let p = Project::new()
        .users(one_user())
        .env("TIMECAMP_API_KEY", key)
        .env("TIMECAMP_ROOT_GROUP_ID", "42");
    let run = p.run(BIN, &["--debug"]);
    run.expect_success()
        .expect_stderr("DEBUG - First prepared record");
    assert!(!run.stderr.contains(key));
    assert!(!run.stdout.contains(key));
    assert!(!p.read("var/logs/sync.log").contains(key));
}

#[test]
fn log_file_gets_the_original_line_format() {
    let p = Project::new().users(one_user());
    p.run(BIN, &[]).expect_success();
    let log = p.read("var/logs/sync.log");
    let line = log
        .lines()
        .find(|l| l.contains("Wrote 1 users"))
        .expect("summary line");
    // 2025-01-31 10:00:00,123 - INFO - ...
    let (stamp, rest) = line.split_at(23);
    assert!(rest.starts_with(" - INFO - "), "{line}");
    assert_eq!(stamp.as_bytes()[4], b'-');
    assert_eq!(stamp.as_bytes()[19], b',');
    assert!(!log.contains("DEBUG"), "DEBUG lines only with --debug");
}

#[test]
fn disable_file_logging_keeps_logs_on_stderr_only() {
    let p = Project::new()
        .users(one_user())
        .env("DISABLE_FILE_LOGGING", "TRUE");
    p.run(BIN, &[])
        .expect_success()
        .expect_stderr("Wrote 1 users");
    assert!(!p.exists("var/logs"));
}

#[test]
fn dotenv_file_is_read_and_the_process_environment_wins() {
    let p = Project::new()
        .users(one_user())
        .file(
            ".env",
            "TIMECAMP_SHOW_EXTERNAL_ID=true  # inline comment\nTIMECAMP_USE_JOB_TITLE_NAME_USERS=true\n",
        )
        .env("TIMECAMP_SHOW_EXTERNAL_ID", "false");
    p.run(BIN, &[]).expect_success();
    let out = p.read_json("var/timecamp_users.json");
    assert_eq!(
        out[0]["timecamp_user_name"], "Ada",
        "process env false beats .env true"
    );

    let p = Project::new()
        .users(one_user())
        .file(".env", "TIMECAMP_SHOW_EXTERNAL_ID='true'\n");
    p.run(BIN, &[]).expect_success();
    assert_eq!(
        p.read_json("var/timecamp_users.json")[0]["timecamp_user_name"],
        "Ada - 1"
    );
}

#[test]
fn malformed_dotenv_exits_2_naming_the_file() {
    Project::new()
        .users(one_user())
        .file(".env", "TIMECAMP_SHOW_EXTERNAL_ID=\"unterminated\n")
        .run(BIN, &[])
        .expect_code(2)
        .expect_stderr(".env");
}

#[test]
fn a_bad_value_from_dotenv_names_the_file_and_line_and_range_errors_are_not_capped() {
    let run = Project::new()
        .users(one_user())
        .file(".env", "# tuning\nTIMECAMP_CONCURRENCY=100\n")
        .run(BIN, &[]);
    run.expect_code(2)
        .expect_stderr(
            "TIMECAMP_CONCURRENCY=\"100\" is not valid: expected a whole number from 1 to 64",
        )
        .expect_stderr(".env, line 2)");
    // The same value from the environment: no file to point at.
    let run = Project::new()
        .users(one_user())
        .env("TIMECAMP_CONCURRENCY", "0")
        .run(BIN, &[]);
    run.expect_code(2).expect_stderr("TIMECAMP_CONCURRENCY");
    assert!(!run.stderr.contains("set in"), "{}", run.stderr);
}

/// An unterminated quote is an error in both readers; an unquoted JSON value
/// is not (python-dotenv reads it whole, and so does this).
#[test]
fn malformed_dotenv_line_is_named_by_line_and_variable_without_its_value() {
    let run = Project::new()
        .users(one_user())
        .file(
            ".env",
            "# settings\nTIMECAMP_API_KEY=tc-key-5f2e\nLeaveTypeMap='{\"Vacaciones\": \"Vacation\"}\n",
        )
        .run(BIN, &[]);
    run.expect_code(2)
        .expect_stderr(".env, line 3: cannot parse the value of LeaveTypeMap");
    assert!(!run.stderr.contains("Vacaciones"), "{}", run.stderr);
    assert!(!run.stderr.contains("tc-key-5f2e"), "{}", run.stderr);
}

#[test]
fn credentials_in_a_url_are_masked_in_the_log() {
    let run = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env(
            "TIMECAMP_API_URL",
            "http://admin:pa55w0rd@127.0.0.1:9/third_party/api",
        )
        .env("TIMECAMP_API_KEY", "k")
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .env("TIMECAMP_HTTP_MAX_ATTEMPTS", "1")
        .prepared(&serde_json::json!([{"timecamp_email": "a@x.com", "timecamp_status": "active"}]))
        .run(env!("CARGO_BIN_EXE_sync-users"), &["--dry-run"]);
    run.expect_code(1).expect_stderr("http://***@127.0.0.1:9");
    assert!(!run.stderr.contains("pa55w0rd"), "{}", run.stderr);
}

#[test]
fn help_explains_every_flag() {
    let run = Project::new().run(BIN, &["--help"]);
    run.expect_success();
    for flag in [
        "--debug",
        "--output",
        "--input",
        "var/timecamp_users.json",
        "var/users.json",
    ] {
        assert!(
            run.stdout.contains(flag),
            "--help lacks {flag}:\n{}",
            run.stdout
        );
    }
}

#[test]
fn env_sample_works_as_a_dotenv_file() {
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.sample")).unwrap();
    let p = Project::new().users(one_user()).file(".env", sample);
    p.run(BIN, &[]).expect_success();
}

/// An admin uncomments the examples they need; each must load as written.
#[test]
fn every_example_of_env_sample_loads_when_uncommented() {
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.sample")).unwrap();
    let is_example = |l: &str| {
        l.strip_prefix('#').is_some_and(|rest| {
            rest.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        })
    };
    let uncommented: String = sample
        .lines()
        .map(|l| if is_example(l) { &l[1..] } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let examples = sample.lines().filter(|l| is_example(l)).count();
    assert!(examples >= 80, "the sample has {examples} examples");
    let p = Project::new().users(one_user()).file(".env", uncommented);
    p.run(BIN, &[]).expect_success();
    // The JSON examples arrive whole: fetch-factorial reads LeaveTypeMap as JSON.
    let run = p.run(env!("CARGO_BIN_EXE_fetch-factorial"), &[]);
    let errors = run.error_lines();
    assert!(
        errors.iter().all(|l| !l.contains("LeaveTypeMap")),
        "{errors:?}"
    );
    assert!(
        run.stderr
            .contains("LeaveTypeMap={\"Vacaciones\": \"Vacation\""),
        "{}",
        run.stderr
    );
}

#[test]
fn each_run_logs_its_version_and_settings_masked_and_warns_about_unknown_ones() {
    let run = Project::new()
        .users(one_user())
        .env("TIMECAMP_API_KEY", "tc-key-4d2a")
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "false")
        // Three letters off: a warning (one or two stop the run, see sync_safety).
        .env("TIMECAMP_DISABLE_NEW_USERXYZ", "true")
        .env("TIMECAMP_SYNC_PERSISTENT_SETTINGS", "true")
        .run(BIN, &[]);
    run.expect_success()
        .expect_stderr(&format!("prepare-timecamp {}", env!("CARGO_PKG_VERSION")))
        .expect_stderr("TIMECAMP_API_KEY=***")
        .expect_stderr("TIMECAMP_USE_SUPERVISOR_GROUPS=false")
        .expect_stderr(
            "TIMECAMP_DISABLE_NEW_USERXYZ is not a setting of this version and is ignored; did \
             you mean TIMECAMP_DISABLE_NEW_USERS?",
        )
        .expect_stderr(
            "TIMECAMP_SYNC_PERSISTENT_SETTINGS is a setting of the newest original tool",
        );
    assert!(!run.stderr.contains("tc-key-4d2a"), "{}", run.stderr);
    let version = Project::new().run(BIN, &["--version"]);
    version.expect_success();
    assert!(
        version.stdout.contains(env!("CARGO_PKG_VERSION")),
        "{}",
        version.stdout
    );
}

#[test]
fn exclude_and_group_rewrite_rules_shape_the_output_and_bad_ones_stop_at_start() {
    let users = json!({"users": [
        {"external_id": "1", "name": "Ann", "email": "ann@x.com", "department": "Company/Eng",
         "job_title": "Dev", "status": "active", "supervisor_id": ""},
        {"external_id": "2", "name": "Cy", "email": "cy@x.com", "department": "Company/Eng",
         "job_title": "Contractor", "status": "active", "supervisor_id": ""}
    ]});
    let p = Project::new()
        .users(users.clone())
        .env("TIMECAMP_EXCLUDE_REGEX", r#"job_title="Contractor""#)
        .env(
            "TIMECAMP_CHANGE_GROUPS_REGEX",
            r"^Company/(\w+)$|||Teams/\1",
        );
    p.run(BIN, &[])
        .expect_success()
        .expect_stderr("left out by TIMECAMP_EXCLUDE_REGEX")
        .expect_stderr("group \"Company/Eng\" -> \"Teams/Eng\"");
    let out = p.read_json("var/timecamp_users.json");
    assert_eq!(out.as_array().unwrap().len(), 1, "{out:#}");
    assert_eq!(out[0]["timecamp_groups_breadcrumb"], "Teams/Eng");

    let bad = Project::new()
        .users(users)
        .env("TIMECAMP_CHANGE_GROUPS_REGEX", "ok|||fine;;;(unclosed|||x")
        .run(BIN, &[]);
    bad.expect_code(2)
        .expect_stderr("TIMECAMP_CHANGE_GROUPS_REGEX: rule 2: invalid pattern");
    assert!(!bad.stderr.contains("Wrote"), "{}", bad.stderr);
}

#[test]
fn the_transform_config_filters_excludes_and_rewrites_source_records() {
    let users = json!({"users": [
        {"external_id": "1", "name": "Ann", "email": "ann@x.com", "department": "People/HR",
         "status": "active", "supervisor_id": "", "raw_data": {"employmentStatus": "Full-time"}},
        {"external_id": "2", "name": "Vic", "email": "vic@x.com", "department": "People/HR",
         "status": "active", "supervisor_id": "", "raw_data": {"employmentStatus": "Vendor: ACME"}},
        {"external_id": "3", "name": "Eve", "email": "eve@x.com", "department": "Eng",
         "status": "active", "supervisor_id": "", "raw_data": {"employmentStatus": "Full-time"}}
    ]});
    let config = r#"{"exclude": {"property": "raw_data.employmentStatus", "string": {"starts_with": "Vendor"}},
                     "filter": {"property": "department", "string": {"starts_with": "People/"}},
                     "transform": [{"property": "department", "action": "replace_all", "value": "People"}]}"#;
    let p = Project::new()
        .users(users.clone())
        .env("TIMECAMP_PREPARE_TRANSFORM_CONFIG", config);
    p.run(BIN, &[])
        .expect_success()
        .expect_stderr("left out by TIMECAMP_PREPARE_TRANSFORM_CONFIG (exclude)")
        .expect_stderr("changed by TIMECAMP_PREPARE_TRANSFORM_CONFIG (transform)");
    let out = p.read_json("var/timecamp_users.json");
    let crumbs: Vec<(&str, &str)> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["timecamp_email"].as_str().unwrap(),
                u["timecamp_groups_breadcrumb"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(crumbs, [("ann@x.com", "People"), ("eve@x.com", "Eng")]);

    let bad = Project::new()
        .users(users)
        .env(
            "TIMECAMP_PREPARE_TRANSFORM_CONFIG",
            r#"{"filter": {"and": {"x": 1}}}"#,
        )
        .run(BIN, &[]);
    bad.expect_code(2)
        .expect_stderr("TIMECAMP_PREPARE_TRANSFORM_CONFIG: filter.and: must be a list of nodes");
}

/// `--help` names every setting prepare reads, from the registry: the ones
/// that shape its result (the regex and transform settings among them) and
/// the sync's that it checks.
#[test]
fn help_names_every_setting_prepare_reads() {
    let help = Project::new().run(BIN, &["--help"]);
    help.expect_success();
    let read: Vec<&str> = scim_core::registry::SETTINGS
        .iter()
        .filter(|s| {
            scim_core::registry::readers(s).is_some_and(|r| r.contains(&"prepare-timecamp"))
                && !s.read_by.starts_with("every stage")
        })
        .map(|s| s.name)
        .collect();
    assert!(read.contains(&"TIMECAMP_EXCLUDE_REGEX") && read.len() > 15);
    for name in read {
        assert!(help.stdout.contains(name), "no {name} in:\n{}", help.stdout);
    }
}
