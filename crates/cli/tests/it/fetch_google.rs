//! fetch-google against the fake Google: the service account's token for a
//! delegated admin, the user listing paged by `nextPageToken`, managers from
//! relations, suspended and archived users, throttling, an expired token,
//! and failures that keep the previous file; and the whole way to TimeCamp.

use scim_test_support::{FakeGoogle, FakeTimecamp, GOOGLE_ADMIN, Project, find};
use serde_json::{Value, json};

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-google");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const OLD_USERS: &str = "{\"users\": [{\"previous\": true}]}";

fn user(id: &str, given: &str, dept: &str, unit: &str, manager: Option<&str>) -> Value {
    let email = format!("{}@acme.com", given.to_lowercase());
    let mut u = json!({
        "kind": "admin#directory#user", "id": id, "primaryEmail": email,
        "name": {"givenName": given, "familyName": "Smith", "fullName": format!("{given} Smith")},
        "isAdmin": false, "suspended": false, "archived": false, "orgUnitPath": unit,
        "organizations": [{"title": "Staff", "department": dept, "primary": true, "customType": ""}],
        "emails": [{"address": email, "primary": true}, {"address": format!("{}.alias@acme.com", given.to_lowercase())}]
    });
    if let Some(m) = manager {
        u["relations"] = json!([{"value": m, "type": "manager"}]);
    }
    u
}

/// Ann leads; Bo and Cy report to her (Cy's relation names Ann's alias);
/// Di is suspended, Ed archived.
fn company() -> FakeGoogle {
    let mut di = user("104", "Di", "Sales", "/Sales", Some("ann@acme.com"));
    di["suspended"] = json!(true);
    let mut ed = user("105", "Ed", "Sales", "/Sales", None);
    ed["archived"] = json!(true);
    FakeGoogle::start()
        .user(user("101", "Ann", "Sales", "/Sales", None))
        .user(user(
            "102",
            "Bo",
            "Sales",
            "/Sales/EMEA",
            Some("ann@acme.com"),
        ))
        .user(user(
            "103",
            "Cy",
            "Sales",
            "/Sales/EMEA",
            Some("ann.alias@acme.com"),
        ))
        .user(di)
        .user(ed)
}

fn project(f: &FakeGoogle) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("GOOGLE_API_URL", &f.url())
        .env("GOOGLE_SERVICE_ACCOUNT_KEY_FILE", "keys/google.json")
        .env("GOOGLE_ADMIN_EMAIL", GOOGLE_ADMIN)
        .file("keys/google.json", f.key_file())
        .file("var/users.json", OLD_USERS)
}

#[test]
fn users_are_read_page_by_page_with_managers_and_synced() {
    let f = company().page_size(2).throttle_every(3);
    let tc = FakeTimecamp::start(10).user(70, "ed@acme.com", "Ed Smith", 10);
    let p = project(&f)
        .env("GOOGLE_DEPARTMENT_SOURCE", "org_unit_path")
        .timecamp(&tc, 10);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("Google answered 429")
        .expect_stderr("Google: 5 users read, 2 suspended or archived");
    let users = p.source_users();
    let cy = find(&users, "external_id", "103");
    assert_eq!(cy["supervisor_id"], "101", "the manager's alias names her");
    assert_eq!(cy["department"], "Sales/EMEA");
    assert_eq!(cy["name"], "Cy Smith");
    assert_eq!(find(&users, "external_id", "104")["status"], "inactive");
    assert_eq!(find(&users, "external_id", "105")["status"], "inactive");
    p.assert_fetched_with_raw_data("primaryEmail");
    let listings = f.listings();
    assert_eq!(listings.len(), 3, "three pages of two");
    assert_eq!(listings[0]["customer"], "my_customer");
    assert_eq!(listings[0]["projection"], "full");
    assert_eq!(listings[1]["pageToken"], "page-at-2");
    assert_eq!(f.tokens_issued(), 1);

    p.run(PREPARE, &[]).expect_success();
    p.assert_prepared_without_raw_data();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(tc.group_path_of("cy@acme.com"), "Company/Sales/EMEA");
    assert!(!tc.is_enabled("ed@acme.com"), "archived in Google");
}

#[test]
fn departments_come_from_the_primary_organization_by_default_and_tokens_are_renewed() {
    let f = company().page_size(2).tokens_expire_after(1);
    let p = project(&f).env("GOOGLE_DOMAIN", "acme.com");
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("the access token was refused; asking for a new one");
    assert_eq!(
        find(&p.source_users(), "external_id", "103")["department"],
        "Sales"
    );
    assert_eq!(f.listings()[0]["domain"], "acme.com");
    assert!(f.tokens_issued() >= 3);
}

#[test]
fn an_admin_the_account_may_not_act_for_is_named_and_keeps_the_file() {
    let f = company();
    let p = project(&f).env("GOOGLE_ADMIN_EMAIL", "someone@acme.com");
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("Google answered 401 to the token request")
        .expect_stderr("Domain-wide delegation")
        .expect_stderr("fetch-google stopped; var/users.json was left as it was");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
    assert!(f.listings().is_empty());
}

#[test]
fn a_file_that_is_no_key_stops_before_any_request() {
    let f = company();
    let p = project(&f).file("keys/google.json", "{\"type\": \"authorized_user\"}");
    p.run(FETCH, &[]).expect_code(2).expect_stderr(
        "GOOGLE_SERVICE_ACCOUNT_KEY_FILE=keys/google.json is not a Google service-account key file",
    );
    assert_eq!(f.tokens_issued(), 0);
}

#[test]
fn a_repeated_page_token_a_broken_page_or_a_gateway_error_end_cleanly() {
    let f = company().page_size(2).repeat_next_page_token();
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("a page already read");
    assert_eq!(p.read("var/users.json"), OLD_USERS);

    let f = company().page_size(2).malformed_from_request(2);
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("unexpected answer from Google (the user listing, page 2)");
    assert_eq!(p.read("var/users.json"), OLD_USERS);

    let f = company().fail_request(1, 503);
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("Google answered 503");
    assert_eq!(p.source_users().len(), 5);
}

#[test]
fn a_key_file_that_is_a_fifo_a_device_or_a_directory_stops_at_start() {
    let f = company();
    for (path, said) in [
        ("keys/fifo.json", "is a FIFO, not a regular file"),
        ("/dev/zero", "is a device, not a regular file"),
        ("keys", "is a directory, not a regular file"),
    ] {
        let p = project(&f)
            .fifo("keys/fifo.json")
            .env("GOOGLE_SERVICE_ACCOUNT_KEY_FILE", path);
        p.run_within_deadline(FETCH, &[])
            .expect_code(2)
            .expect_stderr(&format!("GOOGLE_SERVICE_ACCOUNT_KEY_FILE={path} {said}"));
    }
    assert_eq!(f.tokens_issued(), 0);
}

#[test]
fn a_user_listed_twice_with_another_e_mail_stops_the_fetch() {
    // Bo was renamed while the pages were read: his old and new address
    // would become two TimeCamp users.
    let mut renamed = user("102", "Bob", "Sales", "/Sales/EMEA", Some("ann@acme.com"));
    renamed["primaryEmail"] = json!("bob@acme.com");
    let f = company().user(renamed).page_size(2);
    let p = project(&f);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("Google listed the id 102 twice (e-mails bo@acme.com and bob@acme.com)")
        .expect_stderr("var/users.json was left as it was");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_key_file_saved_with_a_byte_order_mark_is_read() {
    let f = company();
    let p = project(&f).file("keys/google.json", format!("\u{feff}{}", f.key_file()));
    p.run(FETCH, &[]).expect_success();
    assert_eq!(p.source_users().len(), 5);
}
