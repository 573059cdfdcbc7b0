//! fetch-netsuite against the fake NetSuite: the certificate-signed token
//! request (each key type), SuiteQL paged by offset, the department tree,
//! throttling, expired tokens, failures that keep the previous file, and the
//! whole way to TimeCamp.

use scim_test_support::{
    FakeNetsuite, FakeTimecamp, NETSUITE_CERTIFICATE_ID, NETSUITE_CLIENT_ID, Project, TestKey, find,
};
use serde_json::{Value, json};

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-netsuite");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const OLD_USERS: &str = "{\"users\": [{\"previous\": true}]}";

fn employee(id: u64, first: &str, last: &str, dept: u64, boss: Option<u64>, active: bool) -> Value {
    json!({
        "external_id": id.to_string(),
        "email": format!("{}@acme.com", first.to_lowercase()),
        "first_name": first, "last_name": last, "name": format!("E{id}"),
        "job_title": "Engineer", "supervisor_id": boss.map(|b| b.to_string()),
        "group_id": dept.to_string(), "group_name": "(as DF shows it)",
        "status": if active { "active" } else { "inactive" }
    })
}

/// Ada runs the company; Bob heads Engineering under her; Cy and Di work for
/// Bob in Backend; Ed left.
fn company(key: TestKey, alg: &'static str) -> FakeNetsuite {
    FakeNetsuite::start(key, alg)
        .department(1, "Acme", None)
        .department(2, "Engineering", Some(1))
        .department(3, "Backend", Some(2))
        .employee(employee(10, "Ada", "Boss", 1, None, true))
        .employee(employee(11, "Bob", "Lead", 2, Some(10), true))
        .employee(employee(12, "Cy", "Dev", 3, Some(11), true))
        .employee(employee(13, "Di", "Dev", 3, Some(11), true))
        .employee(employee(14, "Ed", "Gone", 3, Some(11), false))
}

fn project(f: &FakeNetsuite, key: TestKey, alg: &str) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("NETSUITE_ACCOUNT_ID", "1234567_SB1")
        .env("NETSUITE_BASE_URL", &f.url())
        .env("NETSUITE_CLIENT_ID", NETSUITE_CLIENT_ID)
        .env("NETSUITE_CERTIFICATE_ID", NETSUITE_CERTIFICATE_ID)
        .env("NETSUITE_JWT_ALGORITHM", alg)
        .env("NETSUITE_PRIVATE_KEY_PATH", "keys/netsuite.pem")
        .file("keys/netsuite.pem", key.private_pem())
        .file("var/users.json", OLD_USERS)
}

#[test]
fn employees_are_read_page_by_page_with_department_paths_and_synced() {
    let f = company(TestKey::Rsa, "PS256").throttle_every(4);
    let tc = FakeTimecamp::start(10).user(70, "ed@acme.com", "Ed Gone", 10);
    let p = project(&f, TestKey::Rsa, "PS256")
        .env("NETSUITE_PAGE_SIZE", "2")
        .env("TIMECAMP_SKIP_DEPARTMENTS", "Acme")
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "true")
        .env("TIMECAMP_USE_DEPARTMENT_GROUPS", "true")
        .timecamp(&tc, 10);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("NetSuite answered 429")
        .expect_stderr("NetSuite: 5 employees read, 1 inactive");
    let users = p.source_users();
    let cy = find(&users, "external_id", "12");
    assert_eq!(cy["name"], "Cy Dev");
    assert_eq!(cy["department"], "Acme/Engineering/Backend");
    assert_eq!(cy["supervisor_id"], "11");
    assert_eq!(find(&users, "external_id", "11")["is_supervisor"], true);
    assert_eq!(find(&users, "external_id", "14")["status"], "inactive");
    p.assert_fetched_with_raw_data("email");

    let queries = f.queries();
    let offsets: Vec<(bool, u64, u64)> = queries
        .iter()
        .map(|(q, limit, offset)| (q.contains("FROM employee"), *limit, *offset))
        .collect();
    assert_eq!(
        offsets,
        [
            (false, 2, 0),
            (false, 2, 2),
            (true, 2, 0),
            (true, 2, 2),
            (true, 2, 4)
        ],
        "departments first, then employees, each paged by offset"
    );
    assert!(queries.iter().all(|(q, _, _)| q.contains("ORDER BY")));
    assert_eq!(f.tokens_issued(), 1, "the token is kept for the run");

    p.run(PREPARE, &[]).expect_success();
    p.assert_prepared_without_raw_data();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(
        tc.group_path_of("cy@acme.com"),
        "Company/Engineering/Backend/Bob Lead"
    );
    assert!(!tc.is_enabled("ed@acme.com"), "inactive in NetSuite");
}

#[test]
fn elliptic_curve_keys_sign_too() {
    for (key, alg) in [(TestKey::P256, "ES256"), (TestKey::P521, "ES512")] {
        let f = company(key, alg);
        let p = project(&f, key, alg);
        p.run(FETCH, &[]).expect_success();
        assert_eq!(p.source_users().len(), 5, "{alg}");
        assert!(f.refused_assertions().is_empty(), "{alg}");
    }
}

#[test]
fn an_expired_token_is_renewed_with_a_new_assertion() {
    let f = company(TestKey::Rsa, "PS256").tokens_expire_after(1);
    let p = project(&f, TestKey::Rsa, "PS256").env("NETSUITE_PAGE_SIZE", "3");
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("the access token was refused; asking for a new one");
    assert!(f.tokens_issued() >= 3, "{}", f.tokens_issued());
    assert!(
        f.refused_assertions().is_empty(),
        "each assertion is new: {:?}",
        f.refused_assertions()
    );
}

#[test]
fn a_certificate_netsuite_does_not_know_is_named_and_the_key_never_printed() {
    let f = company(TestKey::Rsa, "PS256");
    let p = project(&f, TestKey::Rsa, "PS256").env("NETSUITE_CERTIFICATE_ID", "stale-cert");
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("NetSuite answered 400 to the token request")
        .expect_stderr("check NETSUITE_CLIENT_ID, NETSUITE_CERTIFICATE_ID")
        .expect_stderr("fetch-netsuite stopped; var/users.json was left as it was");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
    let key_line = TestKey::Rsa.private_pem().lines().nth(1).unwrap();
    assert!(!run.stderr.contains(key_line));
    assert!(f.queries().is_empty());
}

#[test]
fn a_key_of_the_wrong_kind_stops_before_any_request() {
    let f = company(TestKey::Rsa, "PS256");
    let p = project(&f, TestKey::P256, "PS256");
    p.run(FETCH, &[])
        .expect_code(2)
        .expect_stderr("PS256 needs an RSA private key")
        .expect_stderr("NETSUITE_PRIVATE_KEY_PATH=keys/netsuite.pem");
    assert_eq!(f.tokens_issued(), 0);
    assert!(f.refused_assertions().is_empty());
}

#[test]
fn a_gateway_error_is_retried_and_a_broken_page_keeps_the_previous_file() {
    let f = company(TestKey::Rsa, "PS256").fail_query(2, 503);
    let p = project(&f, TestKey::Rsa, "PS256");
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("NetSuite answered 503");

    let f = company(TestKey::Rsa, "PS256").malformed_from_query(3);
    let p = project(&f, TestKey::Rsa, "PS256").env("NETSUITE_PAGE_SIZE", "2");
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("unexpected answer from NetSuite (the employee query, page 1)")
        .expect_stderr("var/users.json was left as it was");
    assert_eq!(p.read("var/users.json"), OLD_USERS);

    let f = company(TestKey::Rsa, "PS256").empty_pages_with_more();
    let p = project(&f, TestKey::Rsa, "PS256");
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("announces a next page but has no items");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn nobody_active_keeps_the_previous_file_unless_allowed() {
    let f = FakeNetsuite::start(TestKey::Rsa, "PS256")
        .department(1, "Acme", None)
        .employee(employee(10, "Ada", "Boss", 1, None, false));
    let p = project(&f, TestKey::Rsa, "PS256");
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("no active person");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
    let p = p.env("NETSUITE_ALLOW_EMPTY_RESULT", "true");
    p.run(FETCH, &[]).expect_success();
    assert_eq!(p.source_users()[0]["status"], "inactive");
}

#[test]
fn a_key_path_that_is_a_fifo_a_device_a_directory_or_binary_stops_at_start() {
    let f = company(TestKey::Rsa, "PS256");
    let der = {
        use base64::Engine;
        let body: String = TestKey::Rsa
            .private_pem()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    };
    for (path, said) in [
        ("keys/fifo.pem", "is a FIFO, not a regular file"),
        ("/dev/zero", "is a device, not a regular file"),
        ("keys", "is a directory, not a regular file"),
        (
            "keys/netsuite.der",
            "is not PEM text (a DER key? openssl pkey -inform DER -in",
        ),
    ] {
        let p = project(&f, TestKey::Rsa, "PS256")
            .fifo("keys/fifo.pem")
            .file("keys/netsuite.der", &der)
            .env("NETSUITE_PRIVATE_KEY_PATH", path);
        p.run_within_deadline(FETCH, &[])
            .expect_code(2)
            .expect_stderr(&format!("NETSUITE_PRIVATE_KEY_PATH={path} {said}"));
    }
    assert_eq!(f.tokens_issued(), 0);
}

#[test]
fn an_own_query_without_order_by_that_needs_more_than_a_page_stops_the_fetch() {
    // SuiteQL pages a query without a stable order as it likes: a row can be
    // on no page at all, and its employee would be disabled.
    let unordered = "SELECT e.id AS external_id, e.email AS email FROM employee e \
                     WHERE e.email IS NOT NULL";
    let f = company(TestKey::Rsa, "PS256");
    let p = project(&f, TestKey::Rsa, "PS256")
        .env("NETSUITE_PAGE_SIZE", "2")
        .env("NETSUITE_EMPLOYEE_QUERY", unordered);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("the employee query (NETSUITE_EMPLOYEE_QUERY) has no ORDER BY")
        .expect_stderr("var/users.json was left as it was");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
    // On one page nothing can be skipped; ordered, any number of pages is fine.
    let p = project(&f, TestKey::Rsa, "PS256").env("NETSUITE_EMPLOYEE_QUERY", unordered);
    p.run(FETCH, &[]).expect_success();
    let ordered = format!("{unordered}\n  order   by e.id");
    let p = project(&f, TestKey::Rsa, "PS256")
        .env("NETSUITE_PAGE_SIZE", "2")
        .env("NETSUITE_EMPLOYEE_QUERY", &ordered);
    p.run(FETCH, &[]).expect_success();
    assert_eq!(p.source_users().len(), 5);
}

#[test]
fn a_key_file_saved_with_a_byte_order_mark_is_read() {
    // Notepad on Windows writes one at the start of a UTF-8 file.
    let f = company(TestKey::Rsa, "PS256");
    let p = project(&f, TestKey::Rsa, "PS256").file(
        "keys/netsuite.pem",
        format!(
            "\u{feff}{}",
            TestKey::Rsa.private_pem().replace('\n', "\r\n")
        ),
    );
    p.run(FETCH, &[]).expect_success();
    assert_eq!(p.source_users().len(), 5);
}
