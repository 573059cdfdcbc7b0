//! fetch-hibob against the fake HiBob people search: the listing and its skip
//! rules, the filter, managers outside it, throttling, and failures that keep
//! the previous file.

use scim_test_support::{FakeHibob, FakeTimecamp, HIBOB_SERVICE_USER, HIBOB_TOKEN, Project, find};
use serde_json::{Value, json};

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-hibob");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const OLD_USERS: &str = "{\"users\": [{\"previous\": true}]}";
const LONDON: &str = r#"{"fieldPath": "work.site", "operator": "equals", "values": ["London"]}"#;

fn employee(id: u32, name: &str, boss: Option<u32>, site: &str, extra: Value) -> Value {
    let mut e = json!({
        "id": id.to_string(), "email": format!("{}@acme.com", name.to_lowercase().replace(' ', ".")),
        "firstName": name.split(' ').next().unwrap(), "surname": name.split(' ').nth(1).unwrap_or(""),
        "fullName": name, "displayName": name,
        "work": {"department": "1001", "title": "2002", "site": site, "isManager": false,
                 "startDate": "2020-02-03", "employeeIdInCompany": 5000 + id,
                 "reportsTo": boss.map(|b| json!({"id": b.to_string(), "displayName": "Boss"}))},
        "internal": {"status": "Active", "lifecycleStatus": "employed"},
        "payroll": {"employment": {"type": "Permanent"}},
        "humanReadable": {"work": {"department": "Engineering", "title": "Developer"}}
    });
    merge(&mut e, extra);
    e
}

fn merge(into: &mut Value, extra: Value) {
    match (into, extra) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Engineers 3..=6 in London report to Max (2, Berlin: outside the filter), who
/// reports to Olga (1, a former employee). 7 starts in the future, 8 has no
/// e-mail, 9 is in the Board, 10 is terminated.
fn company() -> FakeHibob {
    let mut f = FakeHibob::start()
        .employee(employee(
            1,
            "Olga Founder",
            None,
            "Berlin",
            json!({"internal": {"status": "Inactive"}}),
        ))
        .employee(employee(
            2,
            "Max Chief",
            Some(1),
            "Berlin",
            json!({"work": {"isManager": true}}),
        ));
    for (id, name) in [(3, "Ann Lee"), (4, "Bo Kim"), (5, "Cy Ng"), (6, "Di Wu")] {
        f = f.employee(employee(id, name, Some(2), "London", json!({})));
    }
    f.employee(employee(
        7,
        "Eve Soon",
        Some(2),
        "London",
        json!({"work": {"startDate": "2999-01-01"}}),
    ))
    .employee(employee(
        8,
        "Fay Nomail",
        Some(2),
        "London",
        json!({"email": ""}),
    ))
    .employee(employee(
        9,
        "Gus Board",
        Some(2),
        "London",
        json!({"humanReadable": {"work": {"department": "Board"}}}),
    ))
    .employee(employee(
        10,
        "Hal Gone",
        Some(2),
        "London",
        json!({"internal": {"lifecycleStatus": "terminated"}}),
    ))
}

fn project(f: &FakeHibob) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("HIBOB_API_URL", &f.url())
        .env("HIBOB_SERVICE_USER_ID", HIBOB_SERVICE_USER)
        .env("HIBOB_SERVICE_USER_TOKEN", HIBOB_TOKEN)
        .file("var/users.json", OLD_USERS)
}

#[test]
fn the_listing_is_filtered_and_managers_outside_it_are_hierarchy_only() {
    let f = company();
    let p = project(&f)
        .env("HIBOB_EXCLUDE_FILTER", LONDON)
        .env("HIBOB_EXCLUDED_DEPARTMENTS", "Board")
        .env("HIBOB_CUSTOM_FIELDS", "payroll.employment.type")
        .env("HIBOB_SUPERVISOR_RULE", "work.isManager:true");
    let run = p.run(FETCH, &["--debug"]);
    run.expect_success()
        .expect_stderr(
            "left out employee 7 (eve.soon@acme.com): starts on 2999-01-01, in the future",
        )
        .expect_stderr("left out employee 8 (): no e-mail")
        .expect_stderr("in the excluded department \"Board\"")
        .expect_stderr("left out employee 10 (hal.gone@acme.com): terminated");
    let u = p.source_users();
    let active: Vec<&Value> = u.iter().filter(|x| x["status"] == "active").collect();
    assert_eq!(active.len(), 4);
    let ann = find(&u, "external_id", "3");
    assert_eq!(ann["name"], "Ann Lee");
    assert_eq!(
        ann["department"], "Engineering",
        "the readable text of the list field"
    );
    assert_eq!(ann["job_title"], "Developer");
    assert_eq!(ann["supervisor_id"], "2");
    assert_eq!(ann["is_supervisor"], false);
    assert_eq!(
        ann["raw_data"]["payroll"]["employment"]["type"], "Permanent",
        "custom field kept"
    );
    let max = find(&u, "external_id", "2");
    assert_eq!(
        (
            max["status"].as_str(),
            max["hierarchy_only"].as_bool(),
            max["is_supervisor"].as_bool()
        ),
        (Some("inactive"), Some(true), Some(true))
    );
    let olga = find(&u, "external_id", "1");
    assert_eq!(
        olga["hierarchy_only"], true,
        "the chain is followed up, former employees included"
    );

    let requests = f.requests();
    assert_eq!(requests.len(), 3, "the listing, then one lookup per level");
    assert_eq!(
        requests[0]["filters"],
        json!([serde_json::from_str::<Value>(LONDON).unwrap()])
    );
    assert_eq!(requests[0]["showInactive"], false);
    let fields = requests[0]["fields"].as_array().unwrap();
    assert!(
        fields.contains(&json!("payroll.employment.type"))
            && fields.contains(&json!("work.isManager"))
    );
    assert_eq!(
        fields.iter().filter(|f| *f == "work.isManager").count(),
        1,
        "the rule's field is asked for once"
    );
    assert_eq!(
        requests[1]["filters"],
        json!([{"fieldPath": "root.id", "operator": "equals", "values": ["2"]}])
    );
    assert_eq!(requests[1]["showInactive"], true);
    assert_eq!(requests[2]["filters"][0]["values"], json!(["1"]));
}

#[test]
fn throttling_is_retried_after_the_rate_limit_window() {
    let f = company().throttle_every(2);
    let p = project(&f).env("HIBOB_EXCLUDE_FILTER", LONDON);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("HiBob answered 429");
    assert_eq!(p.source_users().len(), 7, "five listed, two managers");
}

#[test]
fn a_wrong_token_is_named_but_not_printed_and_keeps_the_file() {
    let f = company();
    let p = project(&f).env("HIBOB_SERVICE_USER_TOKEN", "wrong-token-31");
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("HiBob answered 401")
        .expect_stderr("check HIBOB_SERVICE_USER_ID and HIBOB_SERVICE_USER_TOKEN");
    assert!(!run.stderr.contains("wrong-token-31"));
    assert_eq!(f.refused_logins(), 1, "401 is not retried");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_filter_hibob_cannot_take_stops_before_any_request() {
    let f = company();
    project(&f)
        .env(
            "HIBOB_EXCLUDE_FILTER",
            r#"{"fieldPath": "work.site", "operator": "contains", "values": ["Lon"]}"#,
        )
        .run(FETCH, &[])
        .expect_code(2)
        .expect_stderr("HIBOB_EXCLUDE_FILTER=");
    assert!(f.requests().is_empty());
}

#[test]
fn fetch_prepare_and_sync_end_to_end() {
    let f = company();
    let tc = FakeTimecamp::start(10);
    let p = project(&f)
        .env("HIBOB_EXCLUDE_FILTER", LONDON)
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "true")
        .env("TIMECAMP_USE_DEPARTMENT_GROUPS", "true")
        .timecamp(&tc, 10);
    p.run(FETCH, &[]).expect_success();
    p.assert_fetched_with_raw_data("email");
    p.run(PREPARE, &[]).expect_success();
    p.assert_prepared_without_raw_data();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(
        tc.user_count(),
        5,
        "the four engineers and the Board member (no department excluded here); managers outside the scope are not created"
    );
    assert_eq!(tc.user_id("max.chief@acme.com"), None);
    assert_eq!(
        tc.group_path_of("ann.lee@acme.com"),
        "Company/Engineering",
        "the manager is outside the scope: the department alone"
    );
    assert_eq!(tc.group_path_of("gus.board@acme.com"), "Company/Board");
}
