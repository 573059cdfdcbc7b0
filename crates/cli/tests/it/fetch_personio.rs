//! fetch-personio against the fake Personio API v2: the client-credentials
//! token kept for the run, persons and departments paged by cursor links,
//! each person's latest employment, throttling, an expired token, and
//! failures that keep the previous file; and the whole way to TimeCamp.

use scim_test_support::{
    FakePersonio, FakeTimecamp, PERSONIO_CLIENT_ID, PERSONIO_CLIENT_SECRET, Project, find,
};
use serde_json::{Value, json};

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-personio");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const OLD_USERS: &str = "{\"users\": [{\"previous\": true}]}";

fn person(id: &str, first: &str, last: &str) -> Value {
    json!({"id": id, "email": format!("{}@acme.com", first.to_lowercase()),
           "first_name": first, "last_name": last, "preferred_name": "",
           "created_at": "2024-01-02T03:04:05Z"})
}

fn employment(id: &str, status: &str, boss: Option<&str>, dept: &str, title: &str) -> Value {
    json!({"id": id, "status": status,
           "supervisor": boss.map(|b| json!({"id": b})),
           "org_units": [{"id": "t-1", "type": "team"}, {"id": dept, "type": "department"}],
           "position": {"title": title}, "employment_start_date": "2024-01-02",
           "weekly_working_hours": 40})
}

/// Pia runs Operations; Ole and Ute work for her in Logistics (Ute is on
/// leave; her previous employment was elsewhere); Tim starts next month;
/// Kai has no e-mail; Eva left (her latest employment is inactive).
fn company() -> FakePersonio {
    FakePersonio::start()
        .department("100", "Operations", None)
        .department("101", "Logistics", Some("100"))
        .person(
            person("1", "Pia", "Chef"),
            vec![employment("e1", "ACTIVE", None, "100", "COO")],
        )
        .person(
            person("2", "Ole", "Lager"),
            vec![employment("e2", "ACTIVE", Some("1"), "101", "Picker")],
        )
        .person(
            person("3", "Ute", "Fahrer"),
            vec![
                employment("e3b", "LEAVE", Some("1"), "101", "Driver"),
                employment("e3a", "INACTIVE", None, "100", "Temp"),
            ],
        )
        .person(
            person("4", "Tim", "Neu"),
            vec![employment("e4", "ONBOARDING", Some("1"), "101", "Picker")],
        )
        .person(
            json!({"id": "5", "email": "", "first_name": "Kai", "last_name": "Ohne"}),
            vec![employment("e5", "ACTIVE", Some("1"), "101", "Picker")],
        )
        .person(
            person("6", "Eva", "Weg"),
            vec![employment("e6", "INACTIVE", Some("1"), "101", "Picker")],
        )
}

fn project(f: &FakePersonio) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("PERSONIO_API_URL", &f.url())
        .env("PERSONIO_CLIENT_ID", PERSONIO_CLIENT_ID)
        .env("PERSONIO_CLIENT_SECRET", PERSONIO_CLIENT_SECRET)
        .file("var/users.json", OLD_USERS)
}

#[test]
fn active_persons_with_their_latest_employment_are_read_and_synced() {
    let f = company().page_size(2).throttle_every(4);
    let tc = FakeTimecamp::start(10).user(70, "eva@acme.com", "Eva Weg", 10);
    let p = project(&f)
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "true")
        .env("TIMECAMP_USE_DEPARTMENT_GROUPS", "true")
        .timecamp(&tc, 10);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("Personio answered 429")
        .expect_stderr("Personio: left out: person 5 has no e-mail")
        .expect_stderr("Personio: 4 people read (1 token)");
    let users = p.source_users();
    let ute = find(&users, "external_id", "3");
    assert_eq!(ute["status"], "active", "on leave is employed");
    assert_eq!(
        ute["department"], "Operations/Logistics",
        "the latest employment's"
    );
    assert_eq!(ute["job_title"], "Driver");
    assert_eq!(ute["supervisor_id"], "1");
    assert_eq!(find(&users, "external_id", "4")["status"], "active");
    assert!(
        users.iter().all(|u| u["external_id"] != "6"),
        "people who left are not listed"
    );
    p.assert_fetched_with_raw_data("email");
    let requests = f.requests();
    assert!(
        requests[0].contains("\"status\": \"ACTIVE\""),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/v2/org-units") && r.contains("department")),
        "{requests:?}"
    );
    assert_eq!(f.tokens_issued(), 1, "the token is kept for the run");

    p.run(PREPARE, &[]).expect_success();
    p.assert_prepared_without_raw_data();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(
        tc.group_path_of("ole@acme.com"),
        "Company/Operations/Logistics/Pia Chef"
    );
    assert!(!tc.is_enabled("eva@acme.com"), "she left");
}

#[test]
fn an_expired_token_is_renewed_once_per_refusal() {
    let f = company().tokens_expire_after(3);
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("the access token was refused; asking for a new one");
    assert_eq!(f.tokens_issued(), 3, "eight requests, three a token");
}

#[test]
fn wrong_credentials_are_named_never_printed_and_keep_the_file() {
    let f = company();
    let p = project(&f).env("PERSONIO_CLIENT_SECRET", "papi-wrong-secret-77");
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("Personio answered 401 to the token request")
        .expect_stderr("check PERSONIO_CLIENT_ID and PERSONIO_CLIENT_SECRET")
        .expect_stderr("fetch-personio stopped; var/users.json was left as it was");
    assert!(!run.stderr.contains("papi-wrong-secret-77"));
    assert_eq!(p.read("var/users.json"), OLD_USERS);
    assert!(f.requests().is_empty());
}

#[test]
fn a_server_error_is_retried_and_a_broken_page_keeps_the_previous_file() {
    let f = company().fail_request(2, 502);
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("Personio answered 502");

    let f = company().page_size(2).malformed_from_request(2);
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("unexpected answer from Personio (the persons, page 2)");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_token_lifetime_past_any_clock_or_not_a_number_is_no_crash() {
    for (expires_in, warned) in [
        (json!(u64::MAX), None),
        (json!(1e300), None),
        (json!(-5), Some("-5")),
        (json!("forever"), Some("\"forever\"")),
        (json!("inf"), None),
    ] {
        let f = company().token_expires_in(expires_in.clone());
        let p = project(&f);
        let run = p.run(FETCH, &[]);
        run.expect_success();
        if let Some(value) = warned {
            run.expect_stderr(&format!(
                "Personio's token answer has expires_in {value}, not a number of seconds"
            ));
        }
        assert_eq!(f.tokens_issued(), 1, "{expires_in}: kept for the run");
    }
}

#[test]
fn a_token_answer_cut_short_is_refused_without_printing_the_token() {
    let f = company().token_answers_cut_short();
    let p = project(&f);
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("unexpected answer from Personio (the token request): not JSON")
        .expect_stderr("fetch-personio stopped; var/users.json was left as it was");
    assert!(
        !run.stderr.contains("papi-fake-token-"),
        "the token is not shown:\n{}",
        run.stderr
    );
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn an_active_person_whose_employment_status_is_unknown_stops_the_fetch_instead_of_vanishing() {
    // Left out, Ida would be disabled by the next sync, though Personio lists
    // her as active.
    let f = company().person(
        person("7", "Ida", "Neu"),
        vec![employment("e7", "SABBATICAL", Some("1"), "101", "Picker")],
    );
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr(
            "Personio lists 1 active person whose latest employment does not say whether they \
             are employed",
        )
        .expect_stderr(
            "person 7 (ida@acme.com): the employment status \"SABBATICAL\" is none of ACTIVE",
        )
        .expect_stderr("fetch-personio stopped; var/users.json was left as it was");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_person_listed_twice_stops_the_fetch() {
    let f = company().page_size(2).person(
        json!({"id": "2", "email": "ole.lager@acme.com", "first_name": "Ole", "last_name": "Lager"}),
        vec![employment("e2", "ACTIVE", Some("1"), "101", "Picker")],
    );
    let p = project(&f);
    p.run(FETCH, &[]).expect_code(1).expect_stderr(
        "Personio listed the id 2 twice (e-mails ole@acme.com and ole.lager@acme.com)",
    );
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}
