//! fetch-okta against the fake Okta: statuses, groups, field mappings,
//! managers outside the selection, the validation report, the rate-limit
//! headers, and failures that keep the previous file.

use scim_test_support::{FakeOkta, FakeTimecamp, OKTA_TOKEN, Project, find};
use serde_json::{Value, json};

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-okta");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const OLD_USERS: &str = "{\"users\": [{\"previous\": true}]}";

/// (Okta id, name, status, employee number, manager's employee number, department)
const PEOPLE: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("00u1", "Cleo Chief", "ACTIVE", "E1", "", "Board"),
    ("00u2", "Dan Director", "ACTIVE", "E2", "E1", "Engineering"),
    ("00u3", "Ann Dev", "ACTIVE", "E3", "E2", "Engineering"),
    ("00u4", "Bo Dev", "ACTIVE", "E4", "E2", "Engineering"),
    ("00u5", "Cy Dev", "ACTIVE", "E5", "E2", "Engineering"),
    ("00u6", "Di Dev", "ACTIVE", "E6", "E2", "Engineering"),
    (
        "00u7",
        "Sue Suspended",
        "SUSPENDED",
        "E7",
        "E2",
        "Engineering",
    ),
    (
        "00u8",
        "Lou Locked",
        "LOCKED_OUT",
        "E8",
        "E2",
        "Engineering",
    ),
    (
        "00u9",
        "Dee Gone",
        "DEPROVISIONED",
        "E9",
        "E2",
        "Engineering",
    ),
    (
        "00u10",
        "Cora Contract",
        "ACTIVE",
        "E10",
        "E2",
        "Contractors",
    ),
];

fn email(name: &str) -> String {
    format!(
        "{}@acme.com",
        name.split(' ').next().unwrap().to_lowercase()
    )
}

fn okta_user(p: &(&str, &str, &str, &str, &str, &str)) -> Value {
    let (id, name, status, number, boss, dept) = *p;
    let boss_email = PEOPLE
        .iter()
        .find(|q| q.3 == boss)
        .map(|q| email(q.1))
        .unwrap_or_default();
    json!({
        "id": id, "status": status, "created": "2024-01-01T00:00:00.000Z",
        "profile": {
            "login": email(name), "email": email(name).replace("@acme", "@ACME"),
            "firstName": name.split(' ').next().unwrap(), "lastName": name.split(' ').nth(1).unwrap(),
            "displayName": name, "employeeNumber": number, "managerId": boss,
            "managerEmail": boss_email, "department": dept, "title": "Engineer", "isLead": number == "E2"
        },
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": format!("https://acme.okta.com/api/v1/users/{id}")}}
    })
}

fn org() -> FakeOkta {
    let mut f = FakeOkta::start().max_page(3);
    for p in PEOPLE {
        f = f.user(okta_user(p));
    }
    f.group("00g0", "Engineering", &["00u2"])
        .group(
            "00g1",
            "Engineering Team",
            &["00u3", "00u4", "00u5", "00u6", "00u8"],
        )
        .group("00g2", "Team Leads", &["00u2"])
}

fn project(f: &FakeOkta) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("OKTA_ORG_URL", &f.url())
        .env("OKTA_API_TOKEN", OKTA_TOKEN)
        .env("OKTA_EXTERNAL_ID_FIELD", "employeeNumber")
        .file("var/users.json", OLD_USERS)
}

#[test]
fn every_listed_status_is_read_on_every_page() {
    let f = org();
    let p = project(&f)
        .env(
            "OKTA_USER_STATUSES",
            "active, locked_out, SUSPENDED,DEPROVISIONED",
        )
        .env("OKTA_EXCLUDED_DEPARTMENTS", "Contractors")
        .env("OKTA_SUPERVISOR_GROUPS", "Team Leads")
        .env("OKTA_SUPERVISOR_RULE", "isLead:true");
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("Okta validation: {")
        .expect_stderr("\"status\":\"passed\"");
    let u = p.source_users();
    assert_eq!(u.len(), 9, "everyone but the contractor");
    let status = |n: &str| {
        find(&u, "external_id", n)["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status("E7"), "inactive", "suspended");
    assert_eq!(status("E9"), "inactive", "deprovisioned");
    assert_eq!(status("E8"), "active", "locked out, still employed");
    let ann = find(&u, "external_id", "E3");
    assert_eq!(ann["email"], "ann@acme.com", "lower-cased");
    assert_eq!(ann["name"], "Ann Dev");
    assert_eq!(ann["department"], "Engineering");
    assert_eq!(ann["supervisor_id"], "E2");
    assert_eq!(ann["raw_data"]["id"], "00u3");
    let dan = find(&u, "external_id", "E2");
    assert_eq!(dan["role_id"], "2", "member of a supervisor group");
    assert_eq!(
        dan["is_supervisor"], true,
        "the rule on a boolean attribute"
    );
    assert_eq!(ann["is_supervisor"], false);
    assert!(ann.get("role_id").is_none());
    let listed: Vec<String> = f
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("/api/v1/users?"))
        .collect();
    assert!(
        listed.iter().any(|r| r.contains("after=")),
        "pages after the first: {listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|r| r.contains("status+eq+%22LOCKED_OUT%22"))
    );
}

#[test]
fn group_members_are_the_population_and_managers_outside_are_hierarchy_only() {
    let f = org();
    let p = project(&f).env("OKTA_FILTER_GROUPS", "Engineering Team");
    p.run(FETCH, &["--debug"])
        .expect_success()
        .expect_stderr("left out Okta user 00u8: status LOCKED_OUT is not in OKTA_USER_STATUSES");
    let u = p.source_users();
    let active: Vec<&Value> = u.iter().filter(|x| x["status"] == "active").collect();
    assert_eq!(active.len(), 4);
    for boss in ["E2", "E1"] {
        let m = find(&u, "external_id", boss);
        assert_eq!(
            (m["status"].as_str(), m["hierarchy_only"].as_bool()),
            (Some("inactive"), Some(true)),
            "{boss}"
        );
    }
    assert_eq!(find(&u, "external_id", "E2")["supervisor_id"], "E1");
    let requests = f.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("search=profile.employeeNumber+eq+%22E2%22")),
        "managers found by the match field: {requests:?}"
    );
}

#[test]
fn a_manager_found_by_email_links_to_the_managers_employee_number() {
    let f = org();
    let p = project(&f)
        .env("OKTA_FILTER_GROUP_IDS", "00g1")
        .env("OKTA_SUPERVISOR_ID_FIELD", "managerEmail")
        .env("OKTA_SUPERVISOR_MATCH_FIELD", "email");
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    assert_eq!(find(&u, "external_id", "E3")["supervisor_id"], "E2");
    assert_eq!(find(&u, "external_id", "E2")["supervisor_id"], "E1");
}

#[test]
fn a_manager_okta_does_not_have_fails_the_fetch_with_the_report() {
    let f = org().user(json!({"id": "00u11", "status": "ACTIVE", "profile": {
        "login": "ivy@acme.com", "email": "ivy@acme.com", "displayName": "Ivy Orphan",
        "employeeNumber": "E11", "managerOktaId": "00u404", "department": "Sales"}}));
    // Managers named by their Okta id (the others have none in this field).
    let p = project(&f)
        .env("OKTA_SUPERVISOR_ID_FIELD", "managerOktaId")
        .env("OKTA_SUPERVISOR_MATCH_FIELD", "id");
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("manager \"00u404\" is not in Okta")
        .expect_stderr("\"supervisor_reference\":\"00u404\"")
        .expect_stderr("1 unresolved manager reference(s)");
    assert!(f.requests().iter().any(|r| r == "/api/v1/users/00u404"));
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn duplicate_external_ids_fail_before_any_manager_lookup() {
    let f = org().user(json!({"id": "00u12", "status": "ACTIVE", "profile": {
        "login": "twin@acme.com", "email": "twin@acme.com", "employeeNumber": "E3", "managerId": ""}}));
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("1 duplicate external ID value(s)")
        .expect_stderr("\"duplicate_external_ids\":[{\"external_id\":\"E3\"");
    assert!(
        !f.requests()
            .iter()
            .any(|r| r.contains("search=") || r.starts_with("/api/v1/users/")),
        "no manager lookups"
    );
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn more_hierarchy_roots_than_allowed_fail() {
    let f = org().user(json!({"id": "00u13", "status": "ACTIVE", "profile": {
        "login": "solo@acme.com", "email": "solo@acme.com", "employeeNumber": "E13", "managerId": ""}}))
        .user(json!({"id": "00u14", "status": "ACTIVE", "profile": {
        "login": "rep@acme.com", "email": "rep@acme.com", "employeeNumber": "E14", "managerId": "E13"}}));
    project(&f)
        .env("OKTA_MAX_HIERARCHY_ROOTS", "1")
        .run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("2 hierarchy roots exceeds configured limit 1");
    project(&f)
        .env("OKTA_MAX_HIERARCHY_ROOTS", "2")
        .run(FETCH, &[])
        .expect_success();
}

#[test]
fn the_rate_limit_headers_are_honoured_so_no_request_is_refused() {
    let f = org().rate_limit(2);
    let p = project(&f).env("OKTA_USER_STATUSES", "ACTIVE,SUSPENDED");
    p.run(FETCH, &[]).expect_success().expect_stderr("waiting");
    assert!(
        f.requests().len() >= 4,
        "three pages of active users, one of suspended ones"
    );
    assert_eq!(
        f.throttled(),
        0,
        "the client waited for each window's reset"
    );
}

#[test]
fn a_wrong_token_is_named_but_not_printed() {
    let f = org();
    let p = project(&f).env("OKTA_API_TOKEN", "00wrong-token-55");
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("Okta answered 401")
        .expect_stderr("check OKTA_API_TOKEN");
    assert!(!run.stderr.contains("00wrong-token-55"));
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_group_okta_does_not_have_stops_the_fetch() {
    let f = org();
    let p = project(&f).env("OKTA_FILTER_GROUPS", "Engineering Teams");
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("OKTA_FILTER_GROUPS: Okta has no group named \"Engineering Teams\"");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn fetch_prepare_and_sync_end_to_end() {
    let f = org();
    let tc = FakeTimecamp::start(10);
    let p = project(&f)
        .env("OKTA_FILTER_GROUPS", "Engineering Team")
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "true")
        .env("TIMECAMP_USE_DEPARTMENT_GROUPS", "false")
        .timecamp(&tc, 10);
    p.run(FETCH, &[]).expect_success();
    p.assert_fetched_with_raw_data("id");
    p.run(PREPARE, &[]).expect_success();
    p.assert_prepared_without_raw_data();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(
        tc.user_count(),
        4,
        "managers outside the group are not created"
    );
    assert_eq!(tc.user_id("dan@acme.com"), None);
}

#[test]
fn a_spent_rate_limit_window_on_the_last_page_does_not_fail_the_fetch() {
    // One request reads everybody (active users, one page, managers among
    // them); its answer says the window is spent for a minute. The answer is
    // read at once; a wait would come before a next request, and there is none.
    let f = org().max_page(200).window_resets_in(60);
    let p = project(&f);
    p.run(FETCH, &[]).expect_success();
    assert_eq!(f.requests().len(), 1);
    assert_eq!(p.source_users().len(), 7);
}

#[test]
fn a_next_link_that_repeats_stops_the_fetch() {
    let f = org().repeat_next_link();
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("stopped instead of looping");
    assert!(
        f.requests().len() <= 3,
        "stopped at the repeat: {:?}",
        f.requests()
    );
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}
