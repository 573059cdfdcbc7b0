//! The HTML pages in a real browser (headless Chromium): the sync plan of
//! `sync-users --dry-run --output html` and display-tree's preview. The page's
//! own script runs; the tests read the document it leaves, with the search
//! typed through the address (`#q=…`, `#changes`).

use scim_test_support::browser::{dump_dom, is_hidden, is_open};
use scim_test_support::{FakeTimecamp, Project};
use serde_json::{Value, json};

const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const TREE: &str = env!("CARGO_BIN_EXE_display-tree");

fn active(email: &str, name: &str, crumb: &str) -> Value {
    json!({"timecamp_external_id": "", "timecamp_user_name": name, "timecamp_email": email,
           "timecamp_groups_breadcrumb": crumb, "timecamp_status": "active", "timecamp_role": "user"})
}

/// TimeCamp: Company(10) > Sales(11), Eng(12) > Backend(13); Ann in Sales,
/// Bob in Backend, Gone in Eng. The prepared file moves Ann to
/// Eng/Backend/Rust (a new third-level group), keeps Bob, adds Cy, and Gone leaves.
fn planned() -> (FakeTimecamp, Project) {
    let tc = FakeTimecamp::start(10)
        .group(11, "Sales", 10)
        .group(12, "Eng", 10)
        .group(13, "Backend", 12)
        .user(1, "ann@x.com", "Ann", 11)
        .user(2, "bob@x.com", "Bob", 13)
        .user(3, "gone@x.com", "Gone", 12);
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .timecamp(&tc, 10)
        .prepared(&json!([
            active("ann@x.com", "Ann", "Eng/Backend/Rust"),
            active("bob@x.com", "Bob", "Eng/Backend"),
            active("cy@x.com", "Cy", "Eng/Backend/Rust")
        ]));
    (tc, p)
}

#[test]
fn the_plan_page_marks_changes_and_its_search_finds_a_person() {
    let (tc, p) = planned();
    let run = p.run(SYNC, &["--dry-run", "--output", "html"]);
    run.expect_success();
    assert!(tc.writes().is_empty(), "a dry run writes nothing");
    std::fs::write(p.path("plan.html"), &run.stdout).unwrap();
    let page = p.path("plan.html");

    let dom = dump_dom(&page, "");
    assert!(dom.contains("moved from Sales"));
    assert!(dom.contains("disabled: "), "the leaver is marked");
    assert!(
        is_open(&dom, "data-path=\"Eng/Backend\""),
        "second level open"
    );
    assert!(
        !is_open(&dom, "data-path=\"Eng/Backend/Rust\""),
        "third level collapsed"
    );
    assert!(!is_hidden(&dom, "data-email=\"bob@x.com\""));

    let dom = dump_dom(&page, "q=ann");
    assert!(!is_hidden(&dom, "data-email=\"ann@x.com\""));
    assert!(is_hidden(&dom, "data-email=\"bob@x.com\""));
    assert!(is_hidden(&dom, "data-email=\"cy@x.com\""));
    assert!(
        is_open(&dom, "data-path=\"Eng/Backend/Rust\""),
        "the group of a match opens"
    );
    assert!(is_hidden(&dom, "data-path=\"Sales\""), "no match below");
    assert!(dom.contains("1 person matches"));

    let dom = dump_dom(&page, "changes");
    assert!(is_hidden(&dom, "data-email=\"bob@x.com\""), "unchanged");
    assert!(!is_hidden(&dom, "data-email=\"cy@x.com\""), "new");
    assert!(!is_hidden(&dom, "data-email=\"gone@x.com\""), "leaving");
}

#[test]
fn the_html_plan_needs_a_dry_run() {
    let (tc, p) = planned();
    p.run(SYNC, &["--output", "html"])
        .expect_code(2)
        .expect_stderr("--dry-run");
    assert!(tc.writes().is_empty());
}

#[test]
fn the_tree_page_sorts_naturally_and_its_search_opens_deep_groups() {
    let mut records = Vec::new();
    for team in 1..=12 {
        for n in 0..5 {
            records.push(active(
                &format!("p{team}-{n}@x.com"),
                &format!("Person {team}-{n}"),
                &format!("Company/Teams/Team {team}/Squad {n}"),
            ));
        }
    }
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .prepared(&Value::Array(records));
    let run = p.run(TREE, &["--format", "html"]);
    run.expect_success();
    std::fs::write(p.path("tree.html"), &run.stdout).unwrap();
    let page = p.path("tree.html");

    let dom = dump_dom(&page, "");
    let at = |needle: &str| dom.find(needle).unwrap_or_else(|| panic!("{needle}"));
    assert!(
        at("data-path=\"Company/Teams/Team 2\"") < at("data-path=\"Company/Teams/Team 10\""),
        "Team 2 before Team 10"
    );
    assert!(
        !is_open(&dom, "data-path=\"Company/Teams/Team 7\""),
        "the third level starts collapsed"
    );
    let dom = dump_dom(&page, "q=p7-3%40x.com");
    assert!(is_open(&dom, "data-path=\"Company/Teams/Team 7/Squad 3\""));
    assert!(!is_hidden(&dom, "data-email=\"p7-3@x.com\""));
    assert!(is_hidden(&dom, "data-email=\"p7-2@x.com\""));
    assert!(is_hidden(&dom, "data-path=\"Company/Teams/Team 8\""));
}
