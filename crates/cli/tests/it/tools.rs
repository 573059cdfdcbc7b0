//! display-tree and remove-empty-groups as an admin runs them.

use std::time::Duration;

use scim_test_support::{FakeTimecamp, Project, TOKEN};
use serde_json::json;

const TREE: &str = env!("CARGO_BIN_EXE_display-tree");
const REMOVE: &str = env!("CARGO_BIN_EXE_remove-empty-groups");

fn prepared() -> serde_json::Value {
    json!([
        {"timecamp_external_id": "1", "timecamp_user_name": "CEO [Ann Boss]", "timecamp_email": "ann@x.com",
         "timecamp_groups_breadcrumb": "", "timecamp_status": "active", "timecamp_role": "supervisor"},
        {"timecamp_external_id": "2", "timecamp_user_name": "Dev [Bob]", "timecamp_email": "bob@x.com",
         "timecamp_groups_breadcrumb": "Eng/Backend", "timecamp_status": "active", "timecamp_role": "user"},
        {"timecamp_external_id": "3", "timecamp_user_name": "Gone", "timecamp_email": "gone@x.com",
         "timecamp_groups_breadcrumb": "Sales", "timecamp_status": "inactive", "timecamp_role": "user"}
    ])
}

fn tree_project() -> Project {
    Project::new().env("DISABLE_FILE_LOGGING", "true").file(
        "var/timecamp_users.json",
        serde_json::to_string(&prepared()).unwrap(),
    )
}

#[test]
fn display_tree_prints_the_report_and_the_csv_from_the_default_file() {
    let run = tree_project().run(TREE, &["--detailed"]);
    run.expect_success();
    let out = &run.stdout;
    assert!(
        out.starts_with(&format!("{}\nTIMECAMP GROUP STRUCTURE\n", "=".repeat(80))),
        "{out}"
    );
    assert!(out.contains("└── Eng\n    └── Backend\n"), "{out}");
    assert!(out.contains("📁 ENG/BACKEND (1 users):"), "{out}");
    assert!(out.contains("CSV OUTPUT (ALL USERS)"), "{out}");
    assert!(
        out.contains("2,Dev [Bob],bob@x.com,Eng/Backend,active,user\r\n3,Gone,gone@x.com,Sales,inactive,user\r\n\n"),
        "{out:?}"
    );
}

#[test]
fn display_tree_writes_csv_or_an_html_page() {
    let csv = tree_project().run(TREE, &["--format", "csv"]);
    csv.expect_success();
    assert!(
        csv.stdout
            .starts_with("external_id,name,email,department,status,role\r\n")
    );
    // --detailed means nothing for a list of every user: said, not silently dropped.
    tree_project()
        .run(TREE, &["--format", "csv", "--detailed"])
        .expect_success()
        .expect_stderr("--detailed has no effect with --format csv");
    let html = tree_project().run(TREE, &["--format", "html"]);
    html.expect_success();
    assert!(html.stdout.starts_with("<!DOCTYPE html>"));
    assert!(
        html.stdout.contains("open><summary><b>Backend</b>"),
        "{}",
        html.stdout
    );
}

#[test]
fn display_tree_fails_clearly_on_a_missing_or_bad_file() {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .run(TREE, &[])
        .expect_code(1)
        .expect_stderr("var/timecamp_users.json does not exist");
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .file("var/other.json", "{\"users\": []}")
        .run(TREE, &["--file", "var/other.json"])
        .expect_code(1)
        .expect_stderr("var/other.json does not have the expected shape");
}

/// Company(10) > Root(11) > {Eng(12) > {Backend(13), Empty(14) > Deeper(15)}, Former(99),
/// Parked(16, only a disabled user), Sales(17, needed by the file)}; Outside(20) under Company.
fn account() -> FakeTimecamp {
    FakeTimecamp::start(10)
        .group(11, "Root", 10)
        .group(12, "Eng", 11)
        .group(13, "Backend", 12)
        .group(14, "Empty", 12)
        .group(15, "Deeper", 14)
        .group(99, "Former", 11)
        .group(16, "Parked", 11)
        .group(17, "Sales", 11)
        .group(20, "Outside", 10)
        .user(1, "bob@x.com", "Bob", 13)
        .user(2, "old@x.com", "Old", 16)
        .disabled(2)
}

fn remove_project(fake: &FakeTimecamp) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "11")
        .env("TIMECAMP_DISABLED_USERS_GROUP_ID", "99")
        .file(
            "var/timecamp_users.json",
            serde_json::to_string(&json!([
                {"timecamp_user_name": "S", "timecamp_email": "s@x.com", "timecamp_groups_breadcrumb": "Sales",
                 "timecamp_status": "active", "timecamp_role": "user"}
            ]))
            .unwrap(),
        )
}

#[test]
fn empty_groups_are_deleted_bottom_up_with_the_documented_call() {
    let fake = account();
    remove_project(&fake)
        .run(REMOVE, &[])
        .expect_success()
        .expect_stderr("deleted 2 empty groups, failed 0");
    let deletes: Vec<_> = fake
        .writes()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 2);
    assert!(deletes.iter().all(|r| r.path == "group"));
    assert_eq!(deletes[0].body, json!({"group_id": 15}), "the child first");
    assert_eq!(deletes[1].body, json!({"group_id": 14}));
    let paths = fake.group_paths();
    for kept in [
        "Company/Root",
        "Company/Root/Eng/Backend",
        "Company/Root/Former",
        "Company/Root/Parked",
        "Company/Root/Sales",
        "Company/Outside",
    ] {
        assert!(
            paths.contains(&kept.to_owned()),
            "{kept} was removed: {paths:?}"
        );
    }
}

#[test]
fn dry_run_lists_and_deletes_nothing() {
    let fake = account();
    let run = remove_project(&fake).run(REMOVE, &["--dry-run"]);
    run.expect_success();
    assert_eq!(
        run.stdout,
        "would delete \"Eng/Empty/Deeper\" (group 15)\nwould delete \"Eng/Empty\" (group 14)\n"
    );
    assert!(fake.writes().is_empty());
}

#[test]
fn a_failed_delete_keeps_its_parents() {
    let fake = FakeTimecamp::start(10)
        .group(11, "Root", 10)
        .group(12, "A", 11)
        .group(13, "B", 12)
        .group(14, "C", 11)
        .fail_deleting_group(13);
    remove_project(&fake)
        .run(REMOVE, &[])
        .expect_code(1)
        .expect_stderr("\"A/B\" (group 13): delete failed")
        .expect_stderr("\"A\" (group 12): kept, a subgroup could not be deleted")
        .expect_stderr("deleted 1 empty groups, failed 1");
    assert_eq!(
        fake.group_paths(),
        [
            "Company",
            "Company/Root",
            "Company/Root/A",
            "Company/Root/A/B"
        ]
    );
}

#[test]
fn a_running_sync_blocks_the_removal() {
    let fake = account();
    let p = remove_project(&fake).env("TIMECAMP_LOCK_WAIT_SECONDS", "0");
    let _held =
        scim_core::lock::acquire(&p.path("var/timecamp.lock"), "sync-users", Duration::ZERO)
            .unwrap();
    p.run(REMOVE, &[])
        .expect_code(1)
        .expect_stderr("another run is changing TimeCamp");
    assert!(fake.requests().is_empty());
}

#[test]
fn the_group_the_sync_just_filled_is_kept_among_same_named_siblings() {
    // Two "Sales" groups; the new user is invited into one but TimeCamp does not
    // list them yet, so only the path protects that group from removal.
    let fake = FakeTimecamp::start(10)
        .group(11, "Root", 10)
        .group(20, "Sales", 11)
        .group(30, "Sales", 11)
        .user(1, "boss@x.com", "Boss", 11)
        .invites_visible_after(1_000);
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "11")
        .env("TIMECAMP_NEW_USER_WAIT_SECONDS", "1")
        .prepared(&json!([
            {"timecamp_user_name": "Boss", "timecamp_email": "boss@x.com", "timecamp_groups_breadcrumb": "",
             "timecamp_status": "active", "timecamp_role": "user"},
            {"timecamp_user_name": "New", "timecamp_email": "new@x.com", "timecamp_groups_breadcrumb": "Sales",
             "timecamp_status": "active", "timecamp_role": "user"}
        ]));
    p.run(env!("CARGO_BIN_EXE_sync-users"), &[])
        .expect_stderr("all named \"Sales\"");
    let invited_into: Vec<String> = fake
        .writes()
        .into_iter()
        .filter(|w| w.method == "POST" && w.path.ends_with("/user") && w.path.starts_with("group/"))
        .map(|w| w.path)
        .collect();
    assert_eq!(invited_into, ["group/20/user"]);

    fake.clear_requests();
    p.run(REMOVE, &[]).expect_success();
    let deleted: Vec<serde_json::Value> = fake
        .writes()
        .into_iter()
        .filter(|w| w.method == "DELETE")
        .map(|w| w.body)
        .collect();
    assert_eq!(
        deleted,
        [json!({"group_id": 30})],
        "the filled group 20 stays"
    );
}
