//! fetch-bamboohr against the fake BambooHR: every page, the skip rules, the
//! filters, the supervisor chain, throttling, and failures that keep the old file.

use scim_test_support::{
    BAMBOOHR_KEY, BAMBOOHR_SUBDOMAIN, FakeBambooHr, FakeTimecamp, Project, find,
};
use serde_json::{Value, json};

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-bamboohr");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const OLD_USERS: &str = "{\"users\": [{\"previous\": true}]}";

fn employee(n: u32, supervisor: &str, extra: Value) -> Value {
    let mut row = json!({
        "employeeNumber": n.to_string(), "name": format!(" Person {n} "), "email": format!("Person.{n}@acme.com"),
        "jobInformationDepartment": "Engineering", "jobInformationDivision": "R&D",
        "jobInformationJobTitle": "Developer", "supervisorId": supervisor, "employmentStatus": "Full-Time",
        "hireDate": "2020-01-06", "status": "Active", "isSupervisor": "No"
    });
    row.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    row
}

/// 12 employees on pages of 5 reporting to 100, who reports to 200; neither 100
/// nor 200 is in the listing (terminated), so both come back as inactive supervisors.
fn company() -> FakeBambooHr {
    let mut fake = FakeBambooHr::start().max_page_size(5);
    for n in 1..=12 {
        fake = fake.employee(employee(n, "100", json!({})));
    }
    fake.employee(employee(100, "200", json!({"employmentStatus": "Terminated", "jobInformationJobTitle": "CTO", "isSupervisor": "Yes"})))
        .employee(employee(200, "", json!({"employmentStatus": "Terminated", "email": null, "jobInformationJobTitle": "CEO"})))
        .employee(employee(50, "1", json!({"hireDate": "2999-01-01"})))
        .employee(employee(51, "1", json!({"email": ""})))
        .employee(employee(52, "1", json!({"jobInformationDivision": "Board"})))
        .employee(employee(53, "1", json!({"customContractor": "true"})))
}

fn project(fake: &FakeBambooHr) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("BAMBOOHR_API_URL", &fake.url())
        .env("BAMBOOHR_SUBDOMAIN", BAMBOOHR_SUBDOMAIN)
        .env("BAMBOOHR_API_KEY", BAMBOOHR_KEY)
        .file("var/users.json", OLD_USERS)
}

#[test]
fn every_page_is_read_and_the_supervisor_chain_completed() {
    let fake = company();
    let p = project(&fake)
        .env("BAMBOOHR_EXCLUDED_DEPARTMENTS", "Board")
        .env(
            "BAMBOOHR_EXCLUDE_FILTER",
            r#"{"field":"customContractor","operator":"not_checked"}"#,
        )
        .env("BAMBOOHR_SUPERVISOR_RULE", "isSupervisor:Yes");
    p.run(FETCH, &[])
        .expect_success()
        // Progress, page by page, for long fetches.
        .expect_stderr("BambooHR: 10 read so far (the employee listing, page 2)");
    let u = p.source_users();
    let active: Vec<&Value> = u.iter().filter(|x| x["status"] == "active").collect();
    assert_eq!(
        active.len(),
        12,
        "all pages read; future hire, no e-mail, Board and contractor skipped"
    );
    let one = find(&u, "external_id", "1");
    assert_eq!(one["name"], "Person 1");
    assert_eq!(
        one["email"], "Person.1@acme.com",
        "case kept, as the original"
    );
    assert_eq!(one["department"], "R&D/Engineering");
    assert_eq!(one["supervisor_id"], "100");
    assert_eq!(one["is_supervisor"], false);
    let cto = find(&u, "external_id", "100");
    assert_eq!(
        (cto["status"].as_str(), cto["is_supervisor"].as_bool()),
        (Some("inactive"), Some(true))
    );
    let ceo = find(&u, "external_id", "200");
    assert_eq!(
        (ceo["status"].as_str(), ceo["email"].as_str()),
        (Some("inactive"), Some(""))
    );

    let requests = fake.requests();
    let listing: Vec<&Value> = requests
        .iter()
        .filter(|r| r["filters"]["match"] == "all")
        .collect();
    // 12 + the future hire, the one without e-mail and the Board member: 15 rows, 3 pages of 5
    // (the terminated ones and the contractor are filtered by the server).
    assert_eq!(listing.len(), 3);
    assert_eq!(
        listing[0]["filters"]["filters"][0]["field"], "customContractor",
        "the exclude filter goes first"
    );
    assert!(listing[0].get("page").is_some());
    assert!(
        listing[0]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("isSupervisor"))
    );
}

#[test]
fn throttling_is_retried_with_retry_after() {
    for status in [429, 503] {
        let fake = company().throttle_every(2, status);
        let p = project(&fake);
        p.run(FETCH, &[]).expect_success().expect_stderr(&format!(
            "BambooHR answered {status} to the employee listing, page"
        ));
        assert!(p.source_users().len() > 12);
    }
}

#[test]
fn a_failing_page_leaves_the_previous_file() {
    let fake = company().fail_page(3);
    let p = project(&fake);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("BambooHR answered 500 to the employee listing, page 3")
        .expect_stderr("fetch-bamboohr stopped; var/users.json was left as it was");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_wrong_key_names_the_settings_and_is_not_printed() {
    let fake = company();
    let p = project(&fake).env("BAMBOOHR_API_KEY", "wrong-key-123");
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("check BAMBOOHR_API_KEY and BAMBOOHR_SUBDOMAIN");
    assert!(!run.stderr.contains("wrong-key-123"));
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn nobody_found_leaves_the_previous_file() {
    let fake =
        FakeBambooHr::start().employee(employee(1, "", json!({"employmentStatus": "Terminated"})));
    let p = project(&fake);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("the source returned no users");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn bad_settings_exit_2() {
    let fake = company();
    project(&fake)
        .env("BAMBOOHR_SUPERVISOR_RULE", "isSupervisor")
        .run(FETCH, &[])
        .expect_code(2)
        .expect_stderr("BAMBOOHR_SUPERVISOR_RULE");
    Project::new()
        .run(FETCH, &[])
        .expect_code(2)
        .expect_stderr("fetch-bamboohr needs BAMBOOHR_SUBDOMAIN and BAMBOOHR_API_KEY");
}

#[test]
fn fetch_prepare_and_sync_end_to_end() {
    let fake = company();
    let tc = FakeTimecamp::start(10);
    let p = project(&fake)
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "true")
        .env("TIMECAMP_USE_DEPARTMENT_GROUPS", "false")
        .env("TIMECAMP_USE_IS_SUPERVISOR_ROLE", "true")
        .env("BAMBOOHR_SUPERVISOR_RULE", "isSupervisor:Yes")
        .env("BAMBOOHR_EXCLUDED_DEPARTMENTS", "Board")
        .env(
            "BAMBOOHR_EXCLUDE_FILTER",
            r#"{"field":"customContractor","operator":"not_checked"}"#,
        )
        .timecamp(&tc, 10);
    p.run(FETCH, &[]).expect_success();
    // The source's own record is kept for rules and filters, but not copied further.
    p.assert_fetched_with_raw_data("employeeNumber");
    p.run(PREPARE, &[]).expect_success();
    p.assert_prepared_without_raw_data();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(
        tc.group_path_of("person.3@acme.com"),
        "Company/Person 200/Person 100"
    );
    assert_eq!(
        tc.user_count(),
        12,
        "inactive supervisors name groups but are not created"
    );
    assert_eq!(
        tc.setting_of("person.3@acme.com", "external_id").as_deref(),
        Some("3")
    );
}
