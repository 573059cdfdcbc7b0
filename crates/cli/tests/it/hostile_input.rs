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
