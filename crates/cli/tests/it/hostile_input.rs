//! Hostile input: whatever a file or a setting holds, every stage ends
//! cleanly, in bounded time, naming what it refused.

use scim_test_support::{FakeTimecamp, Project};
use serde_json::json;

const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const TREE: &str = env!("CARGO_BIN_EXE_display-tree");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");

/// A department 20,000 levels deep.
fn deep_department() -> String {
    (0..20_000)
        .map(|i| format!("L{i}"))
        .collect::<Vec<_>>()
        .join("/")
}

fn prepared_with_deep_path() -> serde_json::Value {
    json!([
        {"timecamp_user_name": "Ann", "timecamp_email": "ann@x.com", "timecamp_groups_breadcrumb": "Sales",
         "timecamp_status": "active", "timecamp_role": "user"},
        {"timecamp_user_name": "Deep", "timecamp_email": "deep@x.com", "timecamp_groups_breadcrumb": deep_department(),
         "timecamp_status": "active", "timecamp_role": "user"}
    ])
}

#[test]
fn prepare_refuses_a_department_deeper_than_any_group_path_naming_the_record() {
    let p = Project::new()
        .users(json!({"users": [
            {"external_id": "1", "name": "Ann", "email": "ann@x.com", "department": "Sales", "status": "active"},
            {"external_id": "2", "name": "Deep", "email": "deep@x.com", "department": deep_department(), "status": "active"}
        ]}))
        .file("var/timecamp_users.json", "[]");
    p.run(PREPARE, &[]).expect_code(1).expect_stderr(
        "record #2 (deep@x.com, external_id 2): the group path has 20000 levels, more than the 32",
    );
    assert_eq!(p.read("var/timecamp_users.json"), "[]", "left as it was");
}

#[test]
fn display_tree_refuses_a_path_deeper_than_any_stage_accepts_in_every_format() {
    let p = Project::new().prepared(&prepared_with_deep_path());
    for format in ["html", "text", "csv"] {
        let run = p.run(TREE, &["--format", format]);
        run.expect_code(1).expect_stderr(
            "record #2 (deep@x.com): the group path has 20000 levels, more than the 32",
        );
        assert!(run.stdout.is_empty(), "{format}: nothing half-written");
    }
}

#[test]
fn the_html_plan_of_a_path_deeper_than_any_stage_accepts_is_refused_before_timecamp_is_read() {
    let fake = FakeTimecamp::start(10);
    let p = Project::new()
        .timecamp(&fake, 10)
        .prepared(&prepared_with_deep_path());
    let run = p.run(SYNC, &["--dry-run", "--output", "html"]);
    run.expect_code(1)
        .expect_stderr("record #2 (deep@x.com): the group path has 20000 levels");
    assert!(run.stdout.is_empty());
    assert!(
        fake.requests().is_empty(),
        "refused before TimeCamp is read"
    );
}

fn one_user() -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .users(json!({"users": [
            {"external_id": "1", "name": "Ann", "email": "ann@x.com", "department": "Company/Sales", "status": "active"}
        ]}))
}

#[test]
fn a_misspelt_key_operator_or_action_in_the_transform_config_stops_prepare_with_its_path() {
    for (config, said) in [
        (
            r#"{"exclud": {"property": "job_title", "string": {"equals": "Intern"}}}"#,
            "TIMECAMP_PREPARE_TRANSFORM_CONFIG: exclud: unknown key \"exclud\"",
        ),
        (
            r#"{"exclude": {"property": "department", "string": {"regex": "^Company"}}}"#,
            "TIMECAMP_PREPARE_TRANSFORM_CONFIG: exclude.string.regex: unknown operator \"regex\"",
        ),
        (
            r#"{"transform": [{"property": "department", "action": "delete_all", "value": ""}]}"#,
            "TIMECAMP_PREPARE_TRANSFORM_CONFIG: transform[0].action: unknown action \"delete_all\"",
        ),
    ] {
        let p = one_user().env("TIMECAMP_PREPARE_TRANSFORM_CONFIG", config);
        p.run(PREPARE, &[]).expect_code(2).expect_stderr(said);
        assert!(!p.exists("var/timecamp_users.json"), "{config}");
    }
}

#[test]
fn a_transform_property_of_ten_thousand_parts_is_refused_at_start() {
    let long = vec!["raw_data"; 10_000].join(".");
    let config = json!({"transform": [{"property": long, "action": "replace_all", "value": "x"}]});
    one_user()
        .env("TIMECAMP_PREPARE_TRANSFORM_CONFIG", &config.to_string())
        .run(PREPARE, &[])
        .expect_code(2)
        .expect_stderr(
            "transform[0].property: the property has 10000 parts, more than the 32 a property may have",
        );
}

#[test]
fn a_replacement_naming_a_group_the_pattern_lacks_stops_prepare() {
    for (rules, group) in [
        (r"^Company/(.*)|||\9", r"\9"),
        ("^Company/(.*)|||${zz}", "${zz}"),
    ] {
        let p = one_user().env("TIMECAMP_CHANGE_GROUPS_REGEX", rules);
        p.run(PREPARE, &[]).expect_code(2).expect_stderr(&format!(
            "TIMECAMP_CHANGE_GROUPS_REGEX: rule 1: the replacement names the group {group}, which \
             the pattern does not have (it has groups 0 to 1)"
        ));
        assert!(!p.exists("var/timecamp_users.json"));
    }
}

#[test]
fn a_transform_config_path_that_is_no_regular_file_or_too_big_is_refused_without_reading_it() {
    let p = one_user();
    std::fs::create_dir_all(p.path("conf/dir")).unwrap();
    let fifo = p.path("conf/fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let big = p.path("conf/big.json");
    std::fs::write(
        &big,
        format!("{{\"filter\": {{}}, \"x\": \"{}\"}}", "y".repeat(1 << 20)),
    )
    .unwrap();
    for (path, said) in [
        (fifo.display().to_string(), "is a FIFO"),
        ("/dev/zero".to_owned(), "/dev/zero is a device"),
        (p.path("conf/dir").display().to_string(), "is a directory"),
        (
            big.display().to_string(),
            "more than the 1048576 a transform config may have",
        ),
        (
            p.path("conf/missing.json").display().to_string(),
            "conf/missing.json: it does not exist",
        ),
    ] {
        let p = one_user().env("TIMECAMP_PREPARE_TRANSFORM_CONFIG", &path);
        let run = p.run_within_deadline(PREPARE, &[]);
        run.expect_code(2)
            .expect_stderr("TIMECAMP_PREPARE_TRANSFORM_CONFIG: ")
            .expect_stderr(said);
    }
    // A file that is fine is read, and its mistakes are named with the file.
    std::fs::write(p.path("conf/t.json"), r#"{"filter": {"propety": "x"}}"#).unwrap();
    p.run(PREPARE, &[]).expect_success();
    let with_file = one_user().env(
        "TIMECAMP_PREPARE_TRANSFORM_CONFIG",
        &p.path("conf/t.json").display().to_string(),
    );
    with_file
        .run(PREPARE, &[])
        .expect_code(2)
        .expect_stderr("conf/t.json: filter.propety: unknown key \"propety\"");
}

/// serde_json refuses input nested more than 128 levels deep ("recursion
/// limit exceeded"), so a hostile stage file cannot overflow the stack of
/// the parser or of anything that walks what it parsed: every stage reads
/// its files through it.
#[test]
fn stage_files_nested_deeper_than_serde_jsons_limit_are_refused_cleanly() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .file(
            "var/users.json",
            format!(
                r#"{{"users": [{{"external_id": "1", "email": "a@x.com", "status": "active", "raw_data": {deep}}}]}}"#
            ),
        )
        .file(
            "var/timecamp_users.json",
            format!(r#"[{{"timecamp_email": "a@x.com", "timecamp_status": "active", "x": {deep}}}]"#),
        );
    p.run(PREPARE, &[])
        .expect_code(1)
        .expect_stderr("recursion limit exceeded");
    p.run(TREE, &[])
        .expect_code(1)
        .expect_stderr("recursion limit exceeded");
}
