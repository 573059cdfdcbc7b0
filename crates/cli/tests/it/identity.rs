//! sync-users deciding who is who, end to end: an account is never handed to
//! another person, held-back people are reported everywhere an admin looks
//! (plan, --explain, summary, JSON, alert), login changes are ordered, the
//! key's owner and administrators are protected, and `--whoami` says what
//! the settings protect.

use scim_test_support::{FakeTimecamp, Project, Run, WebhookReceiver};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_sync-users");
const ROOT: u64 = 10;

fn record(email: &str, name: &str, ext: &str) -> Value {
    json!({"timecamp_external_id": ext, "timecamp_user_name": name, "timecamp_email": email,
           "timecamp_groups_breadcrumb": "", "timecamp_status": "active", "timecamp_role": "user"})
}

fn project(fake: &FakeTimecamp, records: Value) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .timecamp(fake, ROOT)
        .env("TIMECAMP_MAX_DEACTIVATIONS", "100%")
        .prepared(&records)
}

fn run(p: &Project, args: &[&str]) -> Run {
    p.run(BIN, args)
}

/// Alice (E1, account 1001, a@) changes to e@, which Eve's account 1005
/// (E5, no longer in the source) holds.
#[test]
fn taken_address_is_held_back_explained_and_alerted_and_nothing_changes() {
    let hook = WebhookReceiver::start();
    let fake = FakeTimecamp::start(ROOT)
        .user(1001, "a@x.com", "Alice", ROOT)
        .setting(1001, "external_id", "E1")
        .user(1005, "e@x.com", "Eve", ROOT)
        .setting(1005, "external_id", "E5");
    let p = project(&fake, json!([record("e@x.com", "Alice", "E1")]))
        .env("NOTIFY_WEBHOOK_URL", hook.url());

    let dry = run(&p, &["--dry-run"]);
    dry.expect_success().expect_stderr("held back 1");
    assert!(dry.stdout.contains("held back"), "{}", dry.stdout);
    assert!(dry.stdout.contains("e@x.com: the e-mail is TimeCamp user 1005's but the external id \"E1\" is TimeCamp user 1001's"), "{}", dry.stdout);

    let out = run(&p, &["--output", "json"]);
    out.expect_success();
    assert!(fake.writes().is_empty(), "{:#?}", fake.writes());
    assert_eq!(fake.display_name("e@x.com").as_deref(), Some("Eve"));
    assert_eq!(
        fake.setting_of("e@x.com", "external_id").as_deref(),
        Some("E5")
    );
    assert!(fake.is_enabled("a@x.com") && fake.is_enabled("e@x.com"));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["summary"]["held_back"], 1);
    assert_eq!(v["held_back"][0]["email"], "e@x.com");
    assert_eq!(v["held_back"][0]["accounts"], json!([1001, 1005]));

    // An alert, although nothing failed and NOTIFY_ON is the default.
    let alert = hook.bodies().pop().expect("an alert");
    assert_eq!(alert["outcome"], "success");
    let text = alert["text"].as_str().unwrap();
    assert!(text.contains("1 person(s) held back"), "{text}");
    assert!(
        text.contains("e@x.com: the e-mail is TimeCamp user 1005's"),
        "{text}"
    );

    let explained = run(&p, &["--explain", "a@x.com", "--explain", "e@x.com"]);
    explained.expect_success();
    let out = &explained.stdout;
    assert!(
        out.contains("TimeCamp: user 1001 (a@x.com), enabled, group 10, external id \"E1\"; part of the held-back case of e@x.com"),
        "{out}"
    );
    assert!(!out.contains("not in the source"), "{out}");
    assert!(out.contains("== e@x.com\n"), "{out}");
    assert!(
        out.contains("plan: nothing, held back: the e-mail is TimeCamp user 1005's"),
        "{out}"
    );
}

/// a -> b and b -> z in one run, with the logins following the source.
#[test]
fn a_chain_of_address_changes_gives_no_account_away() {
    let fake = FakeTimecamp::start(ROOT)
        .user(1, "a@x.com", "Alice", ROOT)
        .setting(1, "external_id", "E1")
        .user(2, "b@x.com", "Bob", ROOT)
        .setting(2, "external_id", "E2");
    let p = project(
        &fake,
        json!([
            record("b@x.com", "Alice", "E1"),
            record("z@x.com", "Bob", "E2")
        ]),
    )
    .env("TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID", "true");
    run(&p, &[]).expect_success();
    assert_eq!(fake.user_count(), 2, "no new paid seat");
    assert_eq!(fake.user_id("b@x.com"), Some(1));
    assert_eq!(fake.user_id("z@x.com"), Some(2));
    assert_eq!(fake.display_name("b@x.com").as_deref(), Some("Alice"));
    assert!(fake.is_enabled("b@x.com") && fake.is_enabled("z@x.com"));
    fake.clear_requests();
    run(&p, &[]).expect_success();
    assert!(fake.writes().is_empty(), "{:#?}", fake.writes());
}

/// Alice a -> z and a new hire gets a@: whatever the order of the file.
#[test]
fn a_reused_address_goes_to_the_new_hire_after_the_old_holder_moves() {
    for records in [
        json!([
            record("a@x.com", "New Hire", "E99"),
            record("z@x.com", "Alice", "E1")
        ]),
        json!([
            record("z@x.com", "Alice", "E1"),
            record("a@x.com", "New Hire", "E99")
        ]),
    ] {
        let fake = FakeTimecamp::start(ROOT)
            .user(1, "a@x.com", "Alice", ROOT)
            .setting(1, "external_id", "E1");
        let p = project(&fake, records).env("TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID", "true");
        run(&p, &[]).expect_success();
        assert_eq!(fake.user_id("z@x.com"), Some(1), "Alice keeps her account");
        assert_eq!(
            fake.setting_of("z@x.com", "external_id").as_deref(),
            Some("E1")
        );
        assert_eq!(fake.display_name("z@x.com").as_deref(), Some("Alice"));
        let hire = fake
            .user_id("a@x.com")
            .expect("the new hire has an account");
        assert_ne!(hire, 1);
        assert_eq!(
            fake.setting_of("a@x.com", "external_id").as_deref(),
            Some("E99")
        );
        assert_eq!(fake.user_count(), 2);
    }
}

/// Two accounts carry DUP; d@ is an exact e-mail match renamed in the source.
#[test]
fn a_duplicate_external_id_does_not_skip_an_exact_email_match() {
    let fake = FakeTimecamp::start(ROOT)
        .user(1, "d@x.com", "D", ROOT)
        .setting(1, "external_id", "DUP")
        .user(2, "carl@x.com", "Carl", ROOT)
        .setting(2, "external_id", "DUP");
    let p = project(
        &fake,
        json!([
            record("carl.new@x.com", "Carl", "DUP"),
            record("d@x.com", "D Renamed", "DUP")
        ]),
    );
    let dry = run(&p, &["--dry-run"]);
    dry.expect_success();
    assert!(
        dry.stdout.contains("d@x.com: \"D\" -> \"D Renamed\""),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("carl.new@x.com: its external id \"DUP\""),
        "{}",
        dry.stdout
    );
    run(&p, &[]).expect_success();
    assert_eq!(fake.display_name("d@x.com").as_deref(), Some("D Renamed"));
    assert_eq!(
        fake.user_id("carl.new@x.com"),
        None,
        "no new seat for a guess"
    );
    assert!(fake.is_enabled("carl@x.com"));
}

#[test]
fn the_keys_owner_is_never_disabled_moved_or_demoted() {
    let fake = FakeTimecamp::start(ROOT)
        .group(11, "Eng", ROOT)
        .user(1, "owner@x.com", "Owner", ROOT)
        .role(1, 1)
        .owner(1)
        .user(2, "u@x.com", "U", ROOT);
    // Not in the source at all.
    let p = project(&fake, json!([record("u@x.com", "U", "")]));
    let out = run(&p, &[]);
    out.expect_success();
    assert!(fake.is_enabled("owner@x.com"), "{}", out.stderr);
    // In the source as a plain user of Eng.
    let mut owner = record("owner@x.com", "Owner", "");
    owner["timecamp_groups_breadcrumb"] = json!("Eng");
    let p = project(&fake, json!([owner, record("u@x.com", "U", "")]))
        .env("TIMECAMP_ALLOW_ADMIN_DEMOTION", "true");
    run(&p, &[])
        .expect_success()
        .expect_stderr("holds the API key: not moved to \"Eng\"");
    assert_eq!(fake.role_of("owner@x.com"), 1);
    assert_eq!(fake.group_id_of("owner@x.com"), ROOT);
}

#[test]
fn an_administrator_is_demoted_only_with_the_setting_and_it_counts_against_the_guard() {
    let company = || {
        (1..=5).fold(FakeTimecamp::start(ROOT), |f, i| {
            f.user(i, &format!("u{i}@x.com"), &format!("U{i}"), ROOT)
                .role(i, 1)
        })
    };
    let everyone = json!(
        (1..=5)
            .map(|i| record(&format!("u{i}@x.com"), &format!("U{i}"), ""))
            .collect::<Vec<_>>()
    );
    let fake = company();
    run(&project(&fake, everyone.clone()), &[])
        .expect_success()
        .expect_stderr("is an administrator and the source says user: not demoted");
    assert_eq!(fake.role_of("u1@x.com"), 1);

    // Allowed, five demotions are five rights taken away: past a limit of 2.
    let fake = company();
    let p = project(&fake, everyone)
        .env("TIMECAMP_ALLOW_ADMIN_DEMOTION", "true")
        .env("TIMECAMP_MAX_DEACTIVATIONS", "2");
    run(&p, &[])
        .expect_code(3)
        .expect_stderr("refusing to disable or demote 5 of 5 enabled users");
    assert!(fake.writes().is_empty());
    run(&p, &["--allow-mass-deactivation"]).expect_success();
    assert_eq!(fake.role_of("u1@x.com"), 3);
}

#[test]
fn whoami_names_the_keys_owner_the_root_group_and_whom_the_settings_protect() {
    let fake = FakeTimecamp::start(ROOT)
        .group(11, "Eng", ROOT)
        .user(1, "owner@x.com", "Owner", ROOT)
        .role(1, 1)
        .owner(1)
        .user(2, "boss@x.com", "Boss", 11)
        .role(2, 1)
        .user(3, "hand@x.com", "Hand", 11)
        .setting(3, "added_manually", "1");
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", scim_test_support::TOKEN)
        .env("TIMECAMP_IGNORED_USER_IDS", "3,77")
        .env("TIMECAMP_DISABLE_MANUAL_USER_UPDATES", "true");
    // No TIMECAMP_ROOT_GROUP_ID yet: that is what --whoami helps to find.
    let out = run(&p, &["--whoami"]);
    out.expect_success();
    let text = &out.stdout;
    assert!(
        text.contains("API key of: user 1 (owner@x.com, \"Owner\"), administrator"),
        "{text}"
    );
    assert!(
        text.contains("Account's top group: 10 \"Company\""),
        "{text}"
    );
    assert!(
        text.contains("TIMECAMP_ROOT_GROUP_ID: not set: set TIMECAMP_ROOT_GROUP_ID=10"),
        "{text}"
    );
    assert!(
        text.contains("user 2 (boss@x.com, \"Boss\"), administrator"),
        "{text}"
    );
    assert!(text.contains("77: no such user in this account"), "{text}");
    assert!(text.contains("users added by hand (1)"), "{text}");
    assert!(fake.writes().is_empty());

    let p = p.env("TIMECAMP_ROOT_GROUP_ID", "11");
    let out = run(&p, &["--whoami", "--output", "json"]);
    out.expect_success();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["owner"]["id"], 1);
    assert_eq!(v["root_group_id"], 11);
    assert!(
        v["root_group"]
            .as_str()
            .unwrap()
            .contains("\"Company/Eng\""),
        "{v}"
    );
    let p = p.env("TIMECAMP_ROOT_GROUP_ID", "99");
    let out = run(&p, &["--whoami"]);
    assert!(
        out.stdout.contains("99: no such group in this account"),
        "{}",
        out.stdout
    );
}
