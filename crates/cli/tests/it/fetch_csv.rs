//! fetch-csv as an admin runs it: an export with the default columns through
//! prepare and sync, another export's columns and separator, every bad row
//! named by its line with the previous file kept, and the file read from S3.

use scim_test_support::{FakeTimecamp, MotoServer, Project, find};
use serde_json::Value;

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-csv");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const OLD_USERS: &str = "{\"users\": [{\"previous\": true}]}";

/// Bo heads Engineering; Ann and Cy report to him; Di left.
const COMPANY: &str = "external_id,name,email,department,job_title,status,supervisor_id
1000,Bo Kim,bo@acme.com,Engineering,CTO,active,
1001,Ann Lee,Ann.Lee@acme.com,Engineering/Backend,Developer,active,1000
1002,\"Ng, Cy\",cy@acme.com,Engineering/Backend,Developer,active,1000
1003,Di Wu,di@acme.com,Engineering,Tester,inactive,1000
";

fn project() -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .file("var/users.json", OLD_USERS)
}

#[test]
fn an_export_with_the_users_json_columns_goes_through_prepare_and_sync() {
    let tc = FakeTimecamp::start(10)
        .user(50, "di@acme.com", "Di Wu", 10)
        .user(51, "old@acme.com", "Left Long Ago", 10);
    let p = project()
        .file("var/users.csv", COMPANY)
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "true")
        .env("TIMECAMP_USE_DEPARTMENT_GROUPS", "false")
        .env("TIMECAMP_MAX_DEACTIVATIONS", "2")
        .timecamp(&tc, 10);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("Wrote 4 users to var/users.json (1 inactive)");
    let users = p.source_users();
    let ann = find(&users, "external_id", "1001");
    assert_eq!(ann["email"], "ann.lee@acme.com");
    assert_eq!(ann["supervisor_id"], "1000");
    assert_eq!(
        ann["raw_data"]["email"], "Ann.Lee@acme.com",
        "the row as read"
    );
    assert_eq!(find(&users, "external_id", "1002")["name"], "Ng, Cy");
    p.assert_fetched_with_raw_data("email");

    p.run(PREPARE, &[]).expect_success();
    p.assert_prepared_without_raw_data();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(tc.group_path_of("ann.lee@acme.com"), "Company/Bo Kim");
    assert_eq!(tc.role_of("bo@acme.com"), 2, "Bo has reports");
    assert!(!tc.is_enabled("di@acme.com"), "inactive in the file");
    assert!(!tc.is_enabled("old@acme.com"), "not in the file");
}

#[test]
fn another_exports_columns_separator_and_byte_order_mark_are_read() {
    let export = "\u{feff}Employee No;Full Name;Work Email;Team;Status;Manager No;Cost centre\r\n\
                  7;Ann Lee;ann@acme.com;Sales;Employed;;CC1\r\n\
                  8;\"Kim; Bo\";bo@acme.com;Sales;On leave;7;CC2\r\n\
                  9;Cy Ng;cy@acme.com;Sales;Terminated;7;CC2\r\n";
    let p = project()
        .file("exports/people.csv", export)
        .env("CSV_FILE", "exports/people.csv")
        .env("CSV_COLUMN_EXTERNAL_ID", "employee no")
        .env("CSV_COLUMN_NAME", "Full Name")
        .env("CSV_COLUMN_EMAIL", "Work Email")
        .env("CSV_COLUMN_DEPARTMENT", "Team")
        .env("CSV_COLUMN_STATUS", "Status")
        .env("CSV_COLUMN_SUPERVISOR_ID", "Manager No")
        .env("CSV_ACTIVE_VALUES", "Employed,On leave")
        .env("CSV_INACTIVE_VALUES", "Terminated");
    p.run(FETCH, &[]).expect_success();
    let users = p.source_users();
    let bo = find(&users, "external_id", "8");
    assert_eq!(
        (bo["name"].as_str(), bo["status"].as_str()),
        (Some("Kim; Bo"), Some("active"))
    );
    assert_eq!(bo["department"], "Sales");
    assert_eq!(bo["raw_data"]["Cost centre"], "CC2");
    assert_eq!(find(&users, "external_id", "9")["status"], "inactive");
}

#[test]
fn every_bad_row_is_named_by_its_line_and_the_previous_file_stays() {
    let export = "external_id,name,email,status\n\
                  1,Ann,ann@acme.com,active\n\
                  2,Bo,bo at acme.com,active\n\
                  3,Cy,cy@acme.com,actve\n\
                  4,Di,di@acme.com\n\
                  1,Ed,ed@acme.com,active\n";
    let p = project().file("var/users.csv", export);
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("fetch-csv stopped; var/users.json was left as it was")
        .expect_stderr("var/users.csv has 4 problems")
        .expect_stderr("var/users.csv, line 3: the e-mail \"bo at acme.com\" contains white space")
        .expect_stderr("var/users.csv, line 4: the status \"actve\" is neither active")
        .expect_stderr("var/users.csv, line 5: 3 fields, but the header has 4 columns")
        .expect_stderr("var/users.csv, line 6: the external_id \"1\" is also on line 2");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_missing_file_a_missing_column_and_nobody_active_keep_the_previous_file() {
    let p = project();
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("var/users.csv does not exist")
        .expect_stderr("CSV_FILE");
    let p = project().file("var/users.csv", "id,name,email\n1,Ann,ann@acme.com\n");
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("the header has no column \"external_id\"")
        .expect_stderr("set CSV_COLUMN_EXTERNAL_ID");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
    let p = project().file(
        "var/users.csv",
        "external_id,name,email,status\n1,Ann,ann@acme.com,inactive\n",
    );
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("no active person");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
    let p = project().file(
        "var/users.csv",
        b"external_id,name,email\n1,J\xf6rg,j@acme.com\n",
    );
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("var/users.csv, line 2: not UTF-8 text");
}

#[test]
fn with_s3_storage_the_export_is_read_from_the_bucket() {
    let s3 = MotoServer::start();
    s3.create_bucket("hr-files");
    s3.put("hr-files", "team-a/var/users.csv", COMPANY.as_bytes());
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("USE_S3_STORAGE", "true")
        .env("S3_ENDPOINT_URL", &s3.url())
        .env("S3_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("S3_SECRET_ACCESS_KEY", "s3-secret-value-123")
        .env("S3_BUCKET_NAME", "hr-files")
        .env("S3_FORCE_PATH_STYLE", "true")
        .env("S3_PATH_PREFIX", "team-a");
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("Read s3://hr-files/team-a/var/users.csv");
    let written: Value =
        serde_json::from_slice(&s3.get("hr-files", "team-a/var/users.json").unwrap()).unwrap();
    assert_eq!(written["users"].as_array().unwrap().len(), 4);
    assert!(!p.exists("var/users.json"), "nothing on local disk");
}

#[test]
fn a_csv_file_that_is_a_fifo_a_device_or_a_directory_is_refused_without_waiting() {
    for (file, said) in [
        (
            "var/users.csv",
            "var/users.csv is a FIFO, not a regular file",
        ),
        ("/dev/zero", "/dev/zero is a device, not a regular file"),
        ("var", "var is a directory, not a regular file"),
    ] {
        let p = project().fifo("var/users.csv").env("CSV_FILE", file);
        p.run_within_deadline(FETCH, &[])
            .expect_code(1)
            .expect_stderr(said)
            .expect_stderr("set CSV_FILE to the export")
            .expect_stderr("fetch-csv stopped; var/users.json was left as it was");
        assert_eq!(p.read("var/users.json"), OLD_USERS);
    }
}

#[test]
fn a_quote_never_closed_stops_the_fetch_instead_of_hiding_the_people_after_it() {
    let export = "external_id,name,email,department\n\
                  1,Ann,ann@acme.com,\"Sales\n\
                  2,Bo,bo@acme.com,Eng\n\
                  3,Cy,cy@acme.com,Eng\n";
    let p = project().file("var/users.csv", export);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("var/users.csv, line 2: a quote opens a field that no quote closes")
        .expect_stderr("fetch-csv stopped; var/users.json was left as it was");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn an_export_with_carriage_returns_alone_names_the_right_lines() {
    let export = "external_id,name,email,status\r1,Ann,ann@acme.com,active\r\
                  2,Bo,bo at acme.com,active\r3,Cy,cy@acme.com,actve\r";
    let p = project().file("var/users.csv", export);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("var/users.csv, line 3: the e-mail \"bo at acme.com\"")
        .expect_stderr("var/users.csv, line 4: the status \"actve\"");
}

#[test]
fn a_misspelt_column_setting_stops_before_the_default_column_is_read() {
    // The export has the private e-mail under the default name: read with the
    // typo ignored, everyone would get it as their login.
    let export = "external_id,name,email,Work Email\n1,Ann,ann@home.example,ann@acme.com\n";
    let p = project()
        .file("var/users.csv", export)
        .env("CSV_COLUMN_EMIAL", "Work Email");
    // Two letters off: the near-miss check every stage makes at start stops it.
    p.run(FETCH, &[])
        .expect_code(2)
        .expect_stderr("CSV_COLUMN_EMIAL is not a setting; did you mean CSV_COLUMN_EMAIL?");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}
