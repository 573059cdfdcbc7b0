//! fetch-azuread against a fake Entra ID token endpoint and Microsoft Graph.

use scim_test_support::{
    AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT, FakeGraph, FakeTimecamp, Project, find,
};
use serde_json::{Value, json};

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-azuread");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const OLD_USERS: &str = "{\"users\": [{\"previous\": true}]}";

fn user(id: &str, name: &str, dept: &str, manager: Option<&str>, enabled: bool) -> Value {
    let mut u = json!({"id": id, "displayName": name, "mail": format!("{id}@Contoso.com"),
        "userPrincipalName": format!("{id}@contoso.onmicrosoft.com"), "department": dept,
        "jobTitle": "Engineer", "accountEnabled": enabled});
    if let Some(m) = manager {
        u["manager"] = json!(m);
    }
    u
}

/// Eight people on pages of 3; "boss" manages everyone; "gone" is disabled.
/// Groups: "Eng" holds e1, e2 and the nested group "Eng's Backend" (e3).
fn tenant() -> FakeGraph {
    let mut g = FakeGraph::start()
        .page_size(3)
        .user(user("boss", "The Boss", "Board", None, true));
    for i in 1..=6 {
        g = g.user(user(
            &format!("e{i}"),
            &format!("Engineer {i}"),
            "Engineering",
            Some("boss"),
            true,
        ));
    }
    g.user(user("gone", "Gone Person", "Sales", Some("boss"), false))
        .group("g-eng", "Eng", &["e1", "e2"], &["g-backend"])
        .group("g-backend", "Eng's Backend", &["e3"], &[])
}

fn project(g: &FakeGraph) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("AZURE_LOGIN_URL", &g.url())
        .env("AZURE_GRAPH_URL", &g.url())
        .env("AZURE_TENANT_ID", AZURE_TENANT)
        .env("AZURE_CLIENT_ID", AZURE_CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", AZURE_CLIENT_SECRET)
        .file("var/users.json", OLD_USERS)
}

#[test]
fn every_page_is_read_with_managers_and_one_token() {
    let g = tenant();
    let p = project(&g);
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    assert_eq!(u.len(), 8);
    let e1 = find(&u, "external_id", "e1");
    assert_eq!(e1["email"], "e1@contoso.onmicrosoft.com");
    assert_eq!(e1["supervisor_id"], "boss");
    assert_eq!(e1["department"], "Engineering");
    assert_eq!(
        find(&u, "external_id", "gone")["status"],
        "inactive",
        "accountEnabled=false"
    );
    assert_eq!(find(&u, "external_id", "boss")["supervisor_id"], "");
    assert_eq!(g.tokens_issued(), 1, "the token is reused across pages");
    assert!(!p.exists(".env"), "no token cache is written");
}

#[test]
fn real_email_can_be_preferred() {
    let g = tenant();
    let p = project(&g).env("AZURE_PREFER_REAL_EMAIL", "true");
    p.run(FETCH, &[]).expect_success();
    assert_eq!(
        find(&p.source_users(), "external_id", "e1")["email"],
        "e1@contoso.com"
    );
}

#[test]
fn group_filter_includes_nested_groups_and_quotes_names() {
    let g = tenant();
    let p = project(&g).env("AZURE_FILTER_GROUPS", "Eng");
    p.run(FETCH, &[]).expect_success();
    let mut ids: Vec<String> = p
        .source_users()
        .iter()
        .map(|u| u["external_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    let p = project(&g).env("AZURE_FILTER_GROUPS", "Eng's Backend");
    p.run(FETCH, &[]).expect_success();
    assert_eq!(p.source_users().len(), 1);
}

#[test]
fn an_unknown_group_fails_instead_of_emptying_the_list() {
    let g = tenant();
    let p = project(&g).env("AZURE_FILTER_GROUPS", "Eng, Engg");
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("no group named \"Engg\"");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn an_expired_token_is_renewed_once() {
    let g = tenant().tokens_expire_after(2);
    let p = project(&g);
    p.run(FETCH, &[]).expect_success();
    assert_eq!(p.source_users().len(), 8);
    assert_eq!(g.tokens_issued(), 2);
}

#[test]
fn throttling_is_retried() {
    let g = tenant().throttle_every(2);
    let p = project(&g);
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("Graph answered 429");
    assert_eq!(p.source_users().len(), 8);
}

#[test]
fn a_failing_page_leaves_the_previous_file() {
    let g = tenant().fail_page(2);
    let p = project(&g);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("Graph answered 500 to users, page 2");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_wrong_secret_is_named_but_not_printed() {
    let g = tenant();
    let p = project(&g).env("AZURE_CLIENT_SECRET", "wrong-secret-77");
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("Invalid client secret")
        .expect_stderr("AZURE_CLIENT_SECRET");
    assert!(!run.stderr.contains("wrong-secret-77"));
}

#[test]
fn fetch_prepare_and_sync_end_to_end() {
    let g = tenant();
    let tc = FakeTimecamp::start(10);
    let p = project(&g)
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "true")
        .timecamp(&tc, 10);
    p.run(FETCH, &[]).expect_success();
    // The source's own record is kept for rules and filters, but not copied further.
    p.assert_fetched_with_raw_data("userPrincipalName");
    p.run(PREPARE, &[]).expect_success();
    p.assert_prepared_without_raw_data();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(
        tc.group_path_of("e4@contoso.onmicrosoft.com"),
        "Company/Engineering/The Boss"
    );
    assert_eq!(tc.role_of("boss@contoso.onmicrosoft.com"), 2);
    assert_eq!(tc.user_count(), 7, "the disabled account is not created");
}

/// Members of `AZURE_SUPERVISOR_GROUPS` (nested groups included) become
/// supervisors; `AZURE_ADDITIONAL_EMAIL_SOURCE` picks the field written to
/// TimeCamp as the additional e-mail.
#[test]
fn supervisor_groups_and_the_additional_email_reach_timecamp() {
    let g = tenant();
    let tc = FakeTimecamp::start(10);
    let p = project(&g)
        .env("AZURE_SUPERVISOR_GROUPS", " Eng's Backend ,")
        .env("AZURE_ADDITIONAL_EMAIL_SOURCE", "mail")
        .timecamp(&tc, 10);
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    let e3 = find(&u, "external_id", "e3");
    assert_eq!(e3["role_id"], "2");
    assert_eq!(e3["real_email"], "e3@contoso.com", "lower-cased");
    assert!(find(&u, "external_id", "e1").get("role_id").is_none());
    p.run(PREPARE, &[]).expect_success();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(tc.role_of("e3@contoso.onmicrosoft.com"), 2);
    assert_eq!(tc.role_of("e1@contoso.onmicrosoft.com"), 3);
    assert_eq!(
        tc.setting_of("e1@contoso.onmicrosoft.com", "additional_email")
            .as_deref(),
        Some("e1@contoso.com")
    );

    project(&g)
        .env("AZURE_SUPERVISOR_GROUPS", "Leads")
        .run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("AZURE_SUPERVISOR_GROUPS: no group named \"Leads\"");
    project(&g)
        .env("AZURE_ADDITIONAL_EMAIL_SOURCE", "otherMails")
        .run(FETCH, &[])
        .expect_code(2)
        .expect_stderr("AZURE_ADDITIONAL_EMAIL_SOURCE");
}

#[test]
fn a_next_link_to_another_host_is_not_followed_and_gets_no_token() {
    let elsewhere = scim_test_support::WebhookReceiver::start();
    let g = tenant().next_link_to(elsewhere.base());
    let p = project(&g);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("the next page is on another origin");
    assert_eq!(elsewhere.requests(), [], "the token never left its host");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_next_link_that_repeats_stops_the_fetch() {
    let g = tenant().repeat_next_link();
    let p = project(&g);
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("stopped instead of looping");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_token_lifetime_past_any_clock_is_no_crash() {
    let g = tenant().token_expires_in(json!(u64::MAX));
    let p = project(&g);
    p.run(FETCH, &[]).expect_success();
    assert_eq!(p.source_users().len(), 8);
    assert_eq!(g.tokens_issued(), 1);
}

#[test]
fn a_token_answer_cut_short_is_refused_without_printing_the_token() {
    let g = tenant().token_answers_cut_short();
    let p = project(&g);
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr("(the token request): not JSON");
    assert!(
        !run.stderr.contains("token-1\"") && !run.stderr.contains("token-1\\\""),
        "the token is not shown:\n{}",
        run.stderr
    );
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}
