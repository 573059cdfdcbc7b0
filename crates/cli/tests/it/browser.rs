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

/// The plan page of `p`'s dry run, written beside it; the run's exit code
/// must be `code` (3 when a real run would be refused).
fn plan_page(p: &Project, code: i32) -> std::path::PathBuf {
    let run = p.run(SYNC, &["--dry-run", "--output", "html"]);
    run.expect_code(code);
    std::fs::write(p.path("plan.html"), &run.stdout).unwrap();
    p.path("plan.html")
}

/// One person's list item, from its tag to `</li>`.
fn item<'d>(dom: &'d str, email: &str) -> &'d str {
    let needle = format!("data-email=\"{email}\"");
    let at = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("{email} is not on the page"));
    let start = dom[..at].rfind("<li").unwrap();
    let end = at + dom[at..].find("</li>").unwrap();
    &dom[start..end]
}

/// Whether the person is listed in the root group itself: the root's people
/// come before its first subgroup.
fn in_root_group(dom: &str, email: &str) -> bool {
    let at = dom.find(&format!("data-email=\"{email}\"")).unwrap();
    dom.find("data-depth=\"1\"").is_none_or(|first| at < first)
}

/// TimeCamp: the key's owner and an ignored user are administrators in the
/// root group; another ignored user is no longer in the source. The source
/// puts both administrators in Eng as users.
#[test]
fn the_plan_page_shows_people_left_alone_where_they_stay_with_their_role() {
    let tc = FakeTimecamp::start(10)
        .group(11, "Eng", 10)
        .user(1, "owner@x.com", "Owner", 10)
        .role(1, 1)
        .owner(1)
        .user(2, "boss@x.com", "Boss", 10)
        .role(2, 1)
        .user(3, "gone.ignored@x.com", "Gone Ignored", 11)
        .user(4, "ann@x.com", "Ann", 11);
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_IGNORED_USER_IDS", "2,3")
        .timecamp(&tc, 10)
        .prepared(&json!([
            active("owner@x.com", "Owner", "Eng"),
            active("boss@x.com", "Boss", "Eng"),
            active("ann@x.com", "Ann", "Eng")
        ]));
    let dom = dump_dom(&plan_page(&p, 0), "");

    for (email, why) in [
        (
            "boss@x.com",
            "left alone: TimeCamp user 2 is in TIMECAMP_IGNORED_USER_IDS",
        ),
        (
            "owner@x.com",
            "left alone: holds the API key, not moved to \"Eng\"",
        ),
    ] {
        let li = item(&dom, email);
        assert!(
            in_root_group(&dom, email),
            "{email} stays in the root group: {dom}"
        );
        assert!(
            li.contains("<span class=\"role\">administrator</span>"),
            "{email} stays an administrator: {li}"
        );
        assert!(li.contains(why), "{li}");
    }
    let gone = item(&dom, "gone.ignored@x.com");
    assert!(
        gone.contains(">left alone: TimeCamp user 3 is in TIMECAMP_IGNORED_USER_IDS<"),
        "{gone}"
    );
    assert!(!in_root_group(&dom, "gone.ignored@x.com"), "stays in Eng");

    let dom = dump_dom(&plan_page(&p, 0), "changes");
    // What the page says it shows (the script's own text holds "person matches" too).
    let shown = &dom[dom.find("id=\"shown\"").unwrap()..];
    let shown = &shown[..shown.find("</span>").unwrap()];
    assert!(
        shown.ends_with(">No changes in this plan"),
        "people left alone are no change: {shown}"
    );
    assert!(dom.contains("No changes: TimeCamp already matches the prepared users."));
    assert!(is_hidden(&dom, "data-email=\"boss@x.com\""));
}

/// Five of six people gone from the source, with TIMECAMP_MAX_DEACTIVATIONS=2:
/// the dry run's page says first that a real run would be refused, and why.
#[test]
fn the_plan_page_says_when_a_real_run_would_be_refused() {
    let tc = (1..=6).fold(FakeTimecamp::start(10), |f, i| {
        f.user(i, &format!("u{i}@x.com"), &format!("U{i}"), 10)
    });
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_MAX_DEACTIVATIONS", "2")
        .timecamp(&tc, 10)
        .prepared(&json!([active("u1@x.com", "U1", "")]));
    let dom = dump_dom(&plan_page(&p, 3), "");
    let banner = scim_test_support::browser::tag(&dom, "class=\"banner alert\"");
    assert!(banner.contains("role=\"alert\""), "{banner}");
    let at = dom.find("class=\"banner alert\"").unwrap();
    assert!(
        at < dom.find("class=\"counts\"").unwrap(),
        "the refusal comes before the counts"
    );
    assert!(
        dom[at..].contains(
            "A real run would stop here: refusing to disable or demote 5 of 6 enabled users"
        ),
        "{dom}"
    );
    assert!(tc.writes().is_empty());
}

/// The title says when the plan was made as people read a time.
#[test]
fn the_plan_pages_title_says_when_to_the_second() {
    let (_tc, p) = planned();
    let html = std::fs::read_to_string(plan_page(&p, 0)).unwrap();
    let title = html
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap();
    let when = title
        .strip_prefix("TimeCamp sync plan, ")
        .unwrap_or_else(|| panic!("{title}"));
    // 2026-11-27 14:03:12 +01:00
    let shape: String = when
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert!(
        shape == "9999-99-99 99:99:99 +99:99" || shape == "9999-99-99 99:99:99 -99:99",
        "{title}"
    );
}

/// The search box is wide enough for its placeholder, measured by the
/// browser in the font the page gets.
#[test]
fn the_search_placeholder_is_not_cut_off() {
    let (_tc, p) = planned();
    let html = std::fs::read_to_string(plan_page(&p, 0)).unwrap();
    let probe = html.replace(
        "</body>",
        "<script>(function () {
  var q = document.getElementById('q'), cs = getComputedStyle(q);
  var c = document.createElement('canvas').getContext('2d');
  c.font = cs.fontSize + ' ' + cs.fontFamily;
  var needs = c.measureText(q.placeholder).width;
  var room = q.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  document.body.setAttribute('data-placeholder', needs <= room ? 'fits' : 'cut: ' + needs + ' > ' + room);
})();</script></body>",
    );
    std::fs::write(p.path("probe.html"), probe).unwrap();
    let dom = dump_dom(&p.path("probe.html"), "");
    assert!(
        dom.contains("data-placeholder=\"fits\""),
        "{}",
        scim_test_support::browser::tag(&dom, "data-placeholder")
    );
}
