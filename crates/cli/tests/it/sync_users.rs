//! sync-users against the fake TimeCamp, one story per behaviour: the test
//! cases of the seed README, every switch, dry run, and reruns.

use scim_test_support::{FakeTimecamp, Project, Run, TOKEN};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_sync-users");
const ROOT: u64 = 10;

/// An active prepared record.
fn active(email: &str, name: &str, crumb: &str, role: &str) -> Value {
    json!({"timecamp_external_id": "", "timecamp_user_name": name, "timecamp_email": email,
           "timecamp_groups_breadcrumb": crumb, "timecamp_status": "active", "timecamp_role": role})
}

fn inactive(email: &str) -> Value {
    json!({"timecamp_external_id": "", "timecamp_user_name": "Gone", "timecamp_email": email,
           "timecamp_groups_breadcrumb": "", "timecamp_status": "inactive", "timecamp_role": "user"})
}

fn with(mut v: Value, key: &str, value: &str) -> Value {
    v[key] = json!(value);
    v
}

struct Sync {
    fake: FakeTimecamp,
    project: Project,
}

impl Sync {
    fn new(fake: FakeTimecamp, records: Value) -> Self {
        let project = Project::new()
            .env("DISABLE_FILE_LOGGING", "true")
            .timecamp(&fake, ROOT)
            .prepared(&records);
        Self { fake, project }
    }

    fn env(mut self, key: &str, value: &str) -> Self {
        self.project = self.project.env(key, value);
        self
    }

    fn run(&self, args: &[&str]) -> Run {
        self.project.run(BIN, args)
    }

    /// Runs, expects success, and returns the writes it made.
    fn sync(&self) -> Vec<String> {
        self.fake.clear_requests();
        self.run(&[]).expect_success();
        self.writes()
    }

    fn writes(&self) -> Vec<String> {
        self.fake
            .writes()
            .iter()
            .map(|w| format!("{} {} {}", w.method, w.path, w.body))
            .collect()
    }

    /// A second run right after must change nothing.
    fn assert_converged(&self) {
        let writes = self.sync();
        assert!(writes.is_empty(), "rerun wrote: {writes:#?}");
    }
}

fn company() -> FakeTimecamp {
    FakeTimecamp::start(ROOT)
}

// ---- the test cases of the seed README ----

#[test]
fn user_changed_name_is_renamed() {
    let s = Sync::new(
        company()
            .user(2, "alice@x.com", "Alice Old", ROOT)
            .setting(2, "added_manually", "1"),
        json!([active("alice@x.com", "Alice New", "", "user")]),
    );
    let writes = s.sync();
    assert_eq!(
        s.fake.display_name("alice@x.com").as_deref(),
        Some("Alice New")
    );
    // The sync takes ownership first (added_manually=0), then renames.
    assert!(writes[0].starts_with("PUT user/2/setting"), "{writes:?}");
    assert!(
        writes[1].starts_with("POST user {\"display_name\":\"Alice New\""),
        "{writes:?}"
    );
    s.assert_converged();
}

#[test]
fn user_changed_group_is_moved() {
    let s = Sync::new(
        company()
            .group(11, "Eng", ROOT)
            .group(12, "Sales", ROOT)
            .user(2, "a@x.com", "A", 11),
        json!([active("a@x.com", "A", "Sales", "user")]),
    );
    s.sync();
    assert_eq!(s.fake.group_path_of("a@x.com"), "Company/Sales");
    s.assert_converged();
}

#[test]
fn user_added_is_created_with_name_role_and_settings() {
    let record = with(
        with(
            active("new@x.com", "New Person", "Eng/Backend", "supervisor"),
            "timecamp_external_id",
            "E9",
        ),
        "timecamp_real_email",
        "new.person@home.org",
    );
    let s = Sync::new(company(), json!([record]));
    s.sync();
    assert_eq!(s.fake.group_path_of("new@x.com"), "Company/Eng/Backend");
    assert_eq!(
        s.fake.display_name("new@x.com").as_deref(),
        Some("New Person")
    );
    assert_eq!(s.fake.role_of("new@x.com"), 2);
    assert_eq!(
        s.fake.setting_of("new@x.com", "external_id").as_deref(),
        Some("E9")
    );
    assert_eq!(
        s.fake
            .setting_of("new@x.com", "additional_email")
            .as_deref(),
        Some("new.person@home.org")
    );
    assert_eq!(
        s.fake.setting_of("new@x.com", "added_manually").as_deref(),
        Some("0")
    );
    s.assert_converged();
}

#[test]
fn new_user_gets_no_invitation_email() {
    let s = Sync::new(
        company(),
        json!([active("quiet@x.com", "Quiet", "", "user")]),
    );
    s.sync();
    assert!(s.fake.user_id("quiet@x.com").is_some());
    assert!(s.fake.invitation_emails_sent().is_empty());
}

#[test]
fn user_marked_inactive_is_disabled() {
    let s = Sync::new(
        company()
            .user(2, "stays@x.com", "Stays", ROOT)
            .user(3, "leaver@x.com", "Leaver", ROOT),
        json!([
            active("stays@x.com", "Stays", "", "user"),
            inactive("leaver@x.com")
        ]),
    );
    s.sync();
    assert!(!s.fake.is_enabled("leaver@x.com"));
    s.assert_converged();
}

#[test]
fn user_removed_from_source_is_disabled() {
    let s = Sync::new(
        company()
            .user(3, "stays@x.com", "Stays", ROOT)
            .user(4, "gone@x.com", "Gone", ROOT),
        json!([active("stays@x.com", "Stays", "", "user")]),
    );
    let run = s.run(&[]);
    run.expect_success()
        .expect_stderr("gone@x.com: disabled (not in the source)");
    assert!(!s.fake.is_enabled("gone@x.com"));
    assert!(s.fake.is_enabled("stays@x.com"));
    s.assert_converged();
}

#[test]
fn user_added_as_inactive_is_not_created() {
    let s = Sync::new(
        company().user(2, "stays@x.com", "Stays", ROOT),
        json!([
            active("stays@x.com", "Stays", "", "user"),
            inactive("never@x.com")
        ]),
    );
    let writes = s.sync();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(s.fake.user_id("never@x.com"), None);
}

#[test]
fn user_with_empty_department_goes_to_the_root_group() {
    let s = Sync::new(
        company().group(11, "Eng", ROOT).user(2, "a@x.com", "A", 11),
        json!([
            active("a@x.com", "A", "", "user"),
            active("b@x.com", "B", "", "user")
        ]),
    );
    s.sync();
    assert_eq!(s.fake.group_id_of("a@x.com"), ROOT);
    assert_eq!(s.fake.group_id_of("b@x.com"), ROOT);
}

#[test]
fn whitespace_around_slashes_matches_existing_groups() {
    let s = Sync::new(
        company()
            .group(11, "Eng ", ROOT)
            .group(12, " Backend", 11)
            .user(2, "a@x.com", "A", ROOT),
        json!([active("a@x.com", "A", " Eng /  Backend ", "user")]),
    );
    let writes = s.sync();
    assert_eq!(s.fake.group_id_of("a@x.com"), 12);
    assert!(
        !writes.iter().any(|w| w.starts_with("PUT group ")),
        "no group created: {writes:?}"
    );
}

#[test]
fn external_id_in_display_name_is_written_as_given() {
    let s = Sync::new(
        company().user(2, "a@x.com", "Ada", ROOT),
        json!([active("a@x.com", "Ada - 12", "", "user")]),
    );
    s.sync();
    assert_eq!(s.fake.display_name("a@x.com").as_deref(), Some("Ada - 12"));
}

#[test]
fn real_email_is_set_and_updated_as_additional_email() {
    let s = Sync::new(
        company()
            .user(2, "a@corp.local", "A", ROOT)
            .user(3, "b@corp.local", "B", ROOT)
            .setting(3, "additional_email", "old@home.org"),
        json!([
            with(
                active("a@corp.local", "A", "", "user"),
                "timecamp_real_email",
                "a@corp.com"
            ),
            with(
                active("b@corp.local", "B", "", "user"),
                "timecamp_real_email",
                "b@corp.com"
            )
        ]),
    );
    s.sync();
    assert_eq!(
        s.fake
            .setting_of("a@corp.local", "additional_email")
            .as_deref(),
        Some("a@corp.com")
    );
    assert_eq!(
        s.fake
            .setting_of("b@corp.local", "additional_email")
            .as_deref(),
        Some("b@corp.com")
    );
    s.assert_converged();
}

#[test]
fn additional_email_equal_to_the_primary_is_never_written() {
    let s = Sync::new(
        company(),
        json!([with(
            active("same@x.com", "S", "", "user"),
            "timecamp_real_email",
            "SAME@x.com"
        )]),
    );
    s.sync();
    assert_eq!(s.fake.setting_of("same@x.com", "additional_email"), None);
}

#[test]
fn roles_from_supervisors_are_set() {
    let s = Sync::new(
        company()
            .user(2, "boss@x.com", "Boss", ROOT)
            .user(3, "dev@x.com", "Dev", ROOT)
            .role(3, 2),
        json!([
            active("boss@x.com", "Boss", "", "supervisor"),
            active("dev@x.com", "Dev", "", "user")
        ]),
    );
    s.sync();
    assert_eq!(s.fake.role_of("boss@x.com"), 2);
    assert_eq!(s.fake.role_of("dev@x.com"), 3);
    s.assert_converged();
}

#[test]
fn external_id_is_updated() {
    let s = Sync::new(
        company()
            .user(2, "a@x.com", "A", ROOT)
            .setting(2, "external_id", "OLD"),
        json!([with(
            active("a@x.com", "A", "", "user"),
            "timecamp_external_id",
            "NEW"
        )]),
    );
    s.sync();
    assert_eq!(
        s.fake.setting_of("a@x.com", "external_id").as_deref(),
        Some("NEW")
    );
    s.assert_converged();
}

#[test]
fn user_is_matched_by_additional_email() {
    let s = Sync::new(
        company().user(4, "carol.alt@x.com", "Carol", ROOT).setting(
            4,
            "additional_email",
            "Carol@x.com",
        ),
        json!([with(
            active("carol@x.com", "Carol", "", "user"),
            "timecamp_external_id",
            "E4"
        )]),
    );
    s.sync();
    assert_eq!(s.fake.user_count(), 1, "no second Carol was invited");
    assert_eq!(
        s.fake
            .setting_of("carol.alt@x.com", "external_id")
            .as_deref(),
        Some("E4")
    );
    assert!(s.fake.is_enabled("carol.alt@x.com"));
}

#[test]
fn disable_new_users_still_creates_the_groups_of_the_source() {
    let s = Sync::new(
        company().user(2, "a@x.com", "A", ROOT),
        json!([
            active("a@x.com", "A", "Eng", "user"),
            active("new@x.com", "N", "Sales", "user")
        ]),
    )
    .env("TIMECAMP_DISABLE_NEW_USERS", "true");
    s.sync();
    assert_eq!(s.fake.user_id("new@x.com"), None);
    // The structure follows the source, as the original's README promises:
    // "create only groups that could be potentially created".
    assert_eq!(
        s.fake.group_paths(),
        ["Company", "Company/Eng", "Company/Sales"]
    );
    assert_eq!(s.fake.group_path_of("a@x.com"), "Company/Eng");
}

#[test]
fn supervisor_based_groups_are_created_nested() {
    let s = Sync::new(
        company(),
        json!([
            active("a@x.com", "A", "A", "supervisor"),
            active("b@x.com", "B", "A/B", "supervisor"),
            active("c@x.com", "C", "A/B", "user"),
            active("d@x.com", "D", "A", "user"),
            active("e@x.com", "E", "", "user")
        ]),
    );
    s.sync();
    assert_eq!(
        s.fake.group_paths(),
        ["Company", "Company/A", "Company/A/B"]
    );
    assert_eq!(s.fake.group_path_of("c@x.com"), "Company/A/B");
    assert_eq!(s.fake.group_path_of("e@x.com"), "Company");
    assert_eq!(s.fake.role_of("b@x.com"), 2);
    s.assert_converged();
}

#[test]
fn disabled_users_are_moved_to_the_disabled_users_group() {
    let s = Sync::new(
        company()
            .group(99, "Former", ROOT)
            .group(11, "Eng", ROOT)
            .user(4, "stays@x.com", "Stays", 11)
            .user(5, "dan@x.com", "Dan", 11),
        json!([
            active("stays@x.com", "Stays", "Eng", "user"),
            inactive("dan@x.com")
        ]),
    )
    .env("TIMECAMP_DISABLED_USERS_GROUP_ID", "99");
    s.sync();
    assert!(!s.fake.is_enabled("dan@x.com"));
    assert_eq!(s.fake.group_id_of("dan@x.com"), 99);
    s.assert_converged();
}

#[test]
fn disabled_user_returning_is_reenabled() {
    let s = Sync::new(
        company()
            .user(3, "bob@x.com", "Bob", ROOT)
            .disabled(3)
            .setting(3, "added_manually", "1"),
        json!([active("bob@x.com", "Bob", "", "user")]),
    );
    let run = s.run(&[]);
    run.expect_success()
        .expect_stderr("bob@x.com: re-enabled")
        .expect_stderr("BILLING WARNING");
    assert!(s.fake.is_enabled("bob@x.com"));
    assert_eq!(
        s.fake.setting_of("bob@x.com", "added_manually").as_deref(),
        Some("0")
    );
    s.assert_converged();
}

#[test]
fn added_manually_is_reset_after_an_update_only() {
    let s = Sync::new(
        company()
            .user(2, "changed@x.com", "Old", ROOT)
            .setting(2, "added_manually", "1")
            .user(3, "same@x.com", "Same", ROOT)
            .setting(3, "added_manually", "1"),
        json!([
            active("changed@x.com", "New", "", "user"),
            active("same@x.com", "Same", "", "user")
        ]),
    );
    s.sync();
    assert_eq!(
        s.fake
            .setting_of("changed@x.com", "added_manually")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        s.fake.setting_of("same@x.com", "added_manually").as_deref(),
        Some("1")
    );
}

#[test]
fn a_user_timecamp_does_not_mark_as_hand_made_is_changed_without_a_mark_write() {
    // No added_manually at all: the user is not hand-made, so nothing to take over.
    let s = Sync::new(
        company().user(2, "a@x.com", "Old", ROOT),
        json!([active("a@x.com", "New", "", "user")]),
    );
    let writes = s.sync();
    assert_eq!(
        writes,
        ["POST user {\"display_name\":\"New\",\"user_id\":\"2\"}"]
    );
    s.assert_converged();
}

// ---- switches ----

#[test]
fn ignored_users_are_never_touched() {
    let s = Sync::new(
        company()
            .user(1, "owner@x.com", "Owner", ROOT)
            .user(2, "admin@x.com", "Admin", ROOT),
        json!([active("admin@x.com", "Renamed Admin", "Elsewhere", "user")]),
    )
    .env("TIMECAMP_IGNORED_USER_IDS", "1, 2");
    let writes = s.sync();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(s.fake.is_enabled("owner@x.com"));
}

#[test]
fn disable_external_id_sync_holds_for_new_and_existing_users() {
    let s = Sync::new(
        company().user(2, "a@x.com", "A", ROOT),
        json!([
            with(
                active("a@x.com", "A", "", "user"),
                "timecamp_external_id",
                "E1"
            ),
            with(
                active("b@x.com", "B", "", "user"),
                "timecamp_external_id",
                "E2"
            )
        ]),
    )
    .env("TIMECAMP_DISABLE_EXTERNAL_ID_SYNC", "true");
    s.sync();
    assert_eq!(s.fake.setting_of("a@x.com", "external_id"), None);
    assert_eq!(s.fake.setting_of("b@x.com", "external_id"), None);
}

#[test]
fn disable_additional_email_sync_holds_for_new_users_too() {
    let s = Sync::new(
        company().user(2, "a@x.com", "A", ROOT),
        json!([
            with(
                active("a@x.com", "A", "", "user"),
                "timecamp_real_email",
                "a@home.org"
            ),
            with(
                active("b@x.com", "B", "", "user"),
                "timecamp_real_email",
                "b@home.org"
            )
        ]),
    )
    .env("TIMECAMP_DISABLE_ADDITIONAL_EMAIL_SYNC", "yes");
    s.sync();
    assert_eq!(s.fake.setting_of("a@x.com", "additional_email"), None);
    assert_eq!(s.fake.setting_of("b@x.com", "additional_email"), None);
}

#[test]
fn disable_manual_user_updates_protects_manual_users_from_updates_and_deactivation() {
    let s = Sync::new(
        company()
            .user(2, "manual@x.com", "Manual", ROOT)
            .setting(2, "added_manually", "1")
            .user(3, "contractor@x.com", "Contractor", ROOT)
            .setting(3, "added_manually", "1"),
        json!([active("manual@x.com", "Renamed", "Eng", "supervisor")]),
    )
    .env("TIMECAMP_DISABLE_MANUAL_USER_UPDATES", "true");
    let writes = s.sync();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(s.fake.is_enabled("contractor@x.com"));
}

#[test]
fn disable_group_updates_leaves_users_in_their_group() {
    let s = Sync::new(
        company().group(11, "Eng", ROOT).user(2, "a@x.com", "A", 11),
        json!([active("a@x.com", "A", "Sales", "user")]),
    )
    .env("TIMECAMP_DISABLE_GROUP_UPDATES", "true");
    s.sync();
    assert_eq!(s.fake.group_id_of("a@x.com"), 11, "not moved");
    assert_eq!(
        s.fake.group_paths(),
        ["Company", "Company/Eng", "Company/Sales"],
        "the group the source names is created all the same"
    );
    s.assert_converged();
}

#[test]
fn disable_role_updates_leaves_roles_alone() {
    let s = Sync::new(
        company().user(2, "a@x.com", "A", ROOT).role(2, 1),
        json!([active("a@x.com", "A", "", "user")]),
    )
    .env("TIMECAMP_DISABLE_ROLE_UPDATES", "true");
    s.sync();
    assert_eq!(s.fake.role_of("a@x.com"), 1);
}

#[test]
fn disable_groups_creation_keeps_existing_users_in_place() {
    let s = Sync::new(
        company().group(11, "Eng", ROOT).user(2, "a@x.com", "A", 11),
        json!([
            active("a@x.com", "A", "Missing/Group", "user"),
            active("new@x.com", "N", "Missing", "user")
        ]),
    )
    .env("TIMECAMP_DISABLE_GROUPS_CREATION", "true");
    s.run(&[])
        .expect_success()
        .expect_stderr("does not exist and TIMECAMP_DISABLE_GROUPS_CREATION is set; not moved");
    assert_eq!(s.fake.group_id_of("a@x.com"), 11);
    assert_eq!(s.fake.group_id_of("new@x.com"), ROOT);
    assert_eq!(s.fake.group_paths(), ["Company", "Company/Eng"]);
}

// ---- fixes over the original ----

#[test]
fn role_change_after_a_move_is_sent_to_the_new_group() {
    let s = Sync::new(
        company()
            .group(11, "Eng", ROOT)
            .group(12, "Sales", ROOT)
            .user(2, "a@x.com", "A", 11),
        json!([active("a@x.com", "A", "Sales", "supervisor")]),
    );
    let writes = s.sync();
    assert!(
        writes.contains(&"PUT group/12/user {\"role_id\":\"2\",\"user_id\":\"2\"}".to_owned()),
        "{writes:#?}"
    );
    assert_eq!(s.fake.role_of("a@x.com"), 2);
}

#[test]
fn group_paths_resolve_under_the_root_group_only() {
    // The account's top group is "Company" (10); the sync root is "Team" (11).
    // A breadcrumb "Company" must become a new group under Team, not the top group.
    let s = Sync::new(
        FakeTimecamp::start(10)
            .group(11, "Team", 10)
            .user(2, "a@x.com", "A", 11),
        json!([active("a@x.com", "A", "Company", "user")]),
    )
    .env("TIMECAMP_ROOT_GROUP_ID", "11");
    s.sync();
    assert_eq!(s.fake.group_path_of("a@x.com"), "Company/Team/Company");
}

#[test]
fn new_user_listed_late_is_finished_after_polling() {
    let s = Sync::new(
        company().invites_visible_after(2),
        json!([with(
            active("slow@x.com", "Slow", "", "supervisor"),
            "timecamp_external_id",
            "S1"
        )]),
    );
    s.sync();
    assert_eq!(s.fake.display_name("slow@x.com").as_deref(), Some("Slow"));
    assert_eq!(
        s.fake.setting_of("slow@x.com", "external_id").as_deref(),
        Some("S1")
    );
    assert_eq!(s.fake.role_of("slow@x.com"), 2);
}

#[test]
fn new_user_never_listed_is_reported_and_finished_by_the_next_run() {
    let s = Sync::new(
        company().invites_visible_after(1000),
        json!([with(
            active("ghost@x.com", "Ghost", "", "user"),
            "timecamp_external_id",
            "G1"
        )]),
    )
    .env("TIMECAMP_NEW_USER_WAIT_SECONDS", "1");
    s.run(&[])
        .expect_success()
        .expect_stderr("ghost@x.com: created, but not listed by TimeCamp")
        .expect_stderr("pending for the next run 1");
    // TimeCamp lists the user by the next run (a new fake stands for that later state).
    let s = Sync::new(
        company().user(1001, "ghost@x.com", "ghost", ROOT),
        json!([with(
            active("ghost@x.com", "Ghost", "", "user"),
            "timecamp_external_id",
            "G1"
        )]),
    );
    s.sync();
    assert_eq!(s.fake.display_name("ghost@x.com").as_deref(), Some("Ghost"));
    assert_eq!(
        s.fake.setting_of("ghost@x.com", "external_id").as_deref(),
        Some("G1")
    );
}

#[test]
fn one_failing_user_does_not_stop_the_others_and_the_rerun_converges() {
    let s = Sync::new(
        company()
            .user(2, "broken@x.com", "Old", ROOT)
            .setting(2, "added_manually", "1")
            .user(3, "fine@x.com", "Old", ROOT)
            .fail_writes_for("broken@x.com"),
        json!([
            active("broken@x.com", "Broken", "", "user"),
            active("fine@x.com", "Fine", "", "user"),
            active("new@x.com", "New", "", "user")
        ]),
    );
    let run = s.run(&[]);
    run.expect_code(1)
        .expect_stderr("broken@x.com: mark as managed by the sync failed")
        .expect_stderr("broken@x.com: rename skipped")
        .expect_stderr("failed 1");
    assert_eq!(s.fake.display_name("fine@x.com").as_deref(), Some("Fine"));
    assert_eq!(s.fake.display_name("new@x.com").as_deref(), Some("New"));
    s.fake.clear_faults();
    s.sync();
    assert_eq!(
        s.fake.display_name("broken@x.com").as_deref(),
        Some("Broken")
    );
    s.assert_converged();
}

#[test]
fn invalid_email_rejected_by_timecamp_fails_only_that_user() {
    let s = Sync::new(
        company(),
        json!([
            active("not-an-email", "Bad", "", "user"),
            active("ok@x.com", "Ok", "", "user")
        ]),
    );
    s.run(&[])
        .expect_code(1)
        .expect_stderr("inviting 2 users into group 10 at once failed")
        .expect_stderr("not-an-email: create user failed");
    assert!(s.fake.user_id("ok@x.com").is_some());
}

#[test]
fn throttled_requests_are_retried_after_retry_after() {
    let s = Sync::new(
        company()
            .user(2, "a@x.com", "Old", ROOT)
            .throttle_every(3, 0),
        json!([active("a@x.com", "New", "Eng", "supervisor")]),
    );
    let run = s.run(&[]);
    run.expect_success().expect_stderr("TimeCamp answered 429");
    s.fake.clear_faults();
    assert_eq!(s.fake.display_name("a@x.com").as_deref(), Some("New"));
    assert_eq!(s.fake.group_path_of("a@x.com"), "Company/Eng");
    s.assert_converged();
}

// ---- what the admin sees ----

#[test]
fn dry_run_sends_no_write_and_prints_the_plan_by_kind() {
    let s = Sync::new(
        company()
            .user(2, "alice@x.com", "Alice Old", ROOT)
            .user(5, "dan@x.com", "Dan", ROOT),
        json!([
            active("alice@x.com", "Alice", "Eng", "supervisor"),
            active("eve@x.com", "Eve", "Sales", "user")
        ]),
    );
    let run = s.run(&["--dry-run"]);
    run.expect_success()
        .expect_stderr("Dry run, would have: created 1, updated 1, disabled 1, re-enabled 0, unchanged 0, failed 0");
    assert!(s.fake.writes().is_empty(), "{:?}", s.writes());
    for expected in [
        "create group (2):",
        "create user (1):\n  eve@x.com \"Eve\" in \"Sales\" as user",
        "rename (1):\n  alice@x.com: \"Alice Old\" -> \"Alice\"",
        "move (1):",
        "set role (1):",
        "disable (1):\n  dan@x.com (not in the source)",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn dry_run_json_output_is_machine_readable() {
    let s = Sync::new(company(), json!([active("eve@x.com", "Eve", "", "user")]));
    let run = s.run(&["--dry-run", "--output", "json"]);
    run.expect_success();
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["plan"]["changes"][0]["kind"], "create_user");
    assert_eq!(v["plan"]["changes"][0]["email"], "eve@x.com");
    assert_eq!(v["summary"]["created"], 1);
}

#[test]
fn json_output_of_a_real_run_lists_each_change_with_its_status() {
    let s = Sync::new(
        company()
            .user(2, "a@x.com", "Old", ROOT)
            .setting(2, "added_manually", "1"),
        json!([active("a@x.com", "New", "", "user")]),
    );
    let run = s.run(&["--output", "json"]);
    run.expect_success();
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["result"]["applied"][0]["kind"], "reset_added_manually");
    assert_eq!(v["result"]["applied"][1]["kind"], "rename");
    assert_eq!(v["result"]["applied"][1]["status"], "done");
    assert_eq!(v["summary"]["updated"], 1);
}

#[test]
fn missing_api_key_exits_2_naming_it() {
    let s = Sync::new(company(), json!([active("a@x.com", "A", "", "user")]))
        .env("TIMECAMP_API_KEY", "");
    s.run(&[]).expect_code(2).expect_stderr("TIMECAMP_API_KEY");
    assert!(s.fake.requests().is_empty());
}

/// A bad prepare setting stops prepare, which leaves the prepared file as it
/// was; the sync does not read prepare's settings, so it syncs that file.
/// Only `--explain`, which prepares the source again, reads and checks them.
#[test]
fn a_bad_prepare_setting_stops_only_explain() {
    let s = Sync::new(
        company().user(2, "a@x.com", "Old", ROOT),
        json!([active("a@x.com", "New", "", "user")]),
    )
    .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "ture")
    .env("TIMECAMP_CHANGE_GROUPS_REGEX", "(unclosed|||x");
    s.run(&["--explain", "a@x.com"])
        .expect_code(2)
        .expect_stderr("TIMECAMP_USE_SUPERVISOR_GROUPS");
    assert!(s.fake.writes().is_empty());
    assert_eq!(s.sync().len(), 1, "the rename is applied");
}

#[test]
fn missing_input_asks_for_prepare() {
    let s = Sync::new(company(), json!([])).env("TIMECAMP_API_KEY", TOKEN);
    std::fs::remove_file(s.project.path("var/timecamp_users.json")).unwrap();
    s.run(&[])
        .expect_code(1)
        .expect_stderr("run prepare-timecamp first");
}

#[test]
fn api_key_is_never_logged() {
    let s = Sync::new(company(), json!([active("a@x.com", "A", "", "user")]));
    let run = s.run(&["--debug"]);
    run.expect_success().expect_stderr("TimeCamp request: GET");
    assert!(!run.stderr.contains(TOKEN));
    assert!(!run.stdout.contains(TOKEN));
}

#[test]
fn turning_tls_verification_off_is_warned_about() {
    let s = Sync::new(company(), json!([active("a@x.com", "A", "", "user")]))
        .env("TIMECAMP_SSL_VERIFY", "false");
    s.run(&["--dry-run"])
        .expect_success()
        .expect_stderr("TLS certificate verification is OFF");
    let s = Sync::new(company(), json!([active("a@x.com", "A", "", "user")]));
    let run = s.run(&["--dry-run"]);
    assert!(!run.stderr.contains("verification is OFF"));
}

#[test]
fn wrong_api_key_fails_without_changes() {
    let s = Sync::new(company(), json!([active("a@x.com", "A", "", "user")]))
        .env("TIMECAMP_API_KEY", "wrong");
    s.run(&[])
        .expect_code(1)
        .expect_stderr("TimeCamp answered 401")
        .expect_stderr("check TIMECAMP_API_KEY");
    assert!(s.fake.writes().is_empty());
}

/// The original's worked example, with its bugs fixed: the role goes to the new group,
/// Eve gets her name at once, Dan is moved to the disabled-users group.
#[test]
fn worked_example_of_the_spec_converges_in_one_run() {
    let fake = company()
        .group(11, "Eng ", ROOT)
        .user(1, "owner@x.com", "Owner", ROOT)
        .user(2, "Alice@x.com", "Alice Old", ROOT)
        .setting(2, "external_id", "E2")
        .user(3, "bob@x.com", "Bob", 11)
        .disabled(3)
        .user(4, "carol.alt@x.com", "Carol", 11)
        .role(4, 2)
        .setting(4, "additional_email", "carol@x.com")
        .user(5, "dan@x.com", "Dan", 11)
        .group(99, "Disabled", ROOT);
    let records = json!([
        with(
            active("alice@x.com", "Alice", "Eng/Backend", "supervisor"),
            "timecamp_external_id",
            "E2"
        ),
        with(
            with(
                active("bob@x.com", "Bob", "Eng", "user"),
                "timecamp_external_id",
                "E3"
            ),
            "timecamp_real_email",
            "bob@home.com"
        ),
        with(
            active("carol@x.com", "Carol", "Eng", "supervisor"),
            "timecamp_external_id",
            "E4"
        ),
        with(
            with(
                active("eve@x.com", "Eve", "Sales", "supervisor"),
                "timecamp_external_id",
                "E6"
            ),
            "timecamp_real_email",
            "eve@home.com"
        ),
        inactive("gone@x.com")
    ]);
    let s = Sync::new(fake, records)
        .env("TIMECAMP_IGNORED_USER_IDS", "1")
        .env("TIMECAMP_DISABLED_USERS_GROUP_ID", "99");
    s.sync();
    assert_eq!(s.fake.group_path_of("alice@x.com"), "Company/Eng/Backend");
    assert_eq!(s.fake.role_of("alice@x.com"), 2);
    assert!(s.fake.is_enabled("bob@x.com"));
    assert_eq!(
        s.fake.setting_of("bob@x.com", "external_id").as_deref(),
        Some("E3")
    );
    assert_eq!(
        s.fake
            .setting_of("carol.alt@x.com", "external_id")
            .as_deref(),
        Some("E4")
    );
    assert_eq!(s.fake.display_name("eve@x.com").as_deref(), Some("Eve"));
    assert_eq!(s.fake.group_path_of("eve@x.com"), "Company/Sales");
    assert!(!s.fake.is_enabled("dan@x.com"));
    assert_eq!(s.fake.group_id_of("dan@x.com"), 99);
    assert!(s.fake.is_enabled("owner@x.com"));
    assert_eq!(s.fake.user_id("gone@x.com"), None);
    s.assert_converged();
}

#[test]
fn new_users_are_invited_in_batches_per_group() {
    let mut records: Vec<Value> = (0..120)
        .map(|i| active(&format!("n{i}@x.com"), &format!("N {i}"), "Sales", "user"))
        .collect();
    records.push(active("e@x.com", "E", "Eng", "user"));
    let s = Sync::new(company(), Value::Array(records));
    let writes = s.sync();
    let invites: Vec<&String> = writes
        .iter()
        .filter(|w| w.starts_with("POST group/") && w.contains("/user "))
        .collect();
    // 120 into Sales: three requests of at most 50; one into Eng.
    assert_eq!(invites.len(), 4, "{invites:#?}");
    assert_eq!(s.fake.user_count(), 121);
    s.assert_converged();
}

#[test]
fn a_changed_email_keeps_the_account_and_with_the_switch_becomes_the_login() {
    let s = Sync::new(
        company()
            .user(2, "ann.old@x.com", "Ann", ROOT)
            .setting(2, "external_id", "E1")
            .setting(2, "added_manually", "0"),
        json!([with(
            active("ann.new@x.com", "Ann", "", "user"),
            "timecamp_external_id",
            "E1"
        )]),
    );
    s.run(&[])
        .expect_success()
        .expect_stderr("is ann.new@x.com in the source, found by external id; its e-mail stays");
    assert_eq!(s.fake.user_count(), 1, "no second account, no extra seat");
    assert!(s.fake.is_enabled("ann.old@x.com"));

    let s = s.env("TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID", "true");
    let dry = s.run(&["--dry-run"]);
    dry.expect_success();
    assert!(
        dry.stdout
            .contains("ann.new@x.com: e-mail: ann.old@x.com -> ann.new@x.com"),
        "{}",
        dry.stdout
    );
    s.sync();
    assert_eq!(s.fake.user_id("ann.new@x.com"), Some(2));
    assert_eq!(s.fake.user_count(), 1);
    s.assert_converged();
}

#[test]
fn remove_empty_groups_after_a_clean_sync_only() {
    let account = || {
        company()
            .group(11, "Old", ROOT)
            .group(12, "Eng", ROOT)
            .user(2, "a@x.com", "A", 12)
            .user(3, "b@x.com", "B", 12)
    };
    let records = json!([
        active("a@x.com", "A New", "Eng", "user"),
        active("b@x.com", "B", "Eng", "user")
    ]);
    // A failed change: the clean-up does not run.
    let s = Sync::new(account().fail_writes_for("a@x.com"), records.clone())
        .env("TIMECAMP_REMOVE_EMPTY_GROUPS", "true");
    s.run(&[]).expect_code(1);
    assert!(s.fake.group_paths().contains(&"Company/Old".to_owned()));

    let s = Sync::new(account(), records).env("TIMECAMP_REMOVE_EMPTY_GROUPS", "true");
    s.run(&[])
        .expect_success()
        .expect_stderr("Deleted empty group \"Old\"");
    let paths = s.fake.group_paths();
    assert!(!paths.contains(&"Company/Old".to_owned()), "{paths:?}");
    assert!(paths.contains(&"Company/Eng".to_owned()), "{paths:?}");
}

#[test]
fn disable_groups_creation_creates_no_group_for_anyone() {
    let s = Sync::new(
        company().user(2, "a@x.com", "A", ROOT),
        json!([active("a@x.com", "A", "Eng", "user")]),
    )
    .env("TIMECAMP_DISABLE_GROUPS_CREATION", "true")
    .env("TIMECAMP_DISABLE_NEW_USERS", "true");
    s.sync();
    assert_eq!(s.fake.group_paths(), ["Company"]);
}

#[test]
fn every_applied_change_is_journalled_and_a_dry_run_writes_no_line() {
    let s = Sync::new(
        company()
            .user(2, "ann@x.com", "Ann Old", ROOT)
            .user(3, "bob@x.com", "Bob", ROOT)
            .setting(2, "added_manually", "0"),
        json!([active("ann@x.com", "Ann", "", "user")]),
    )
    .env("TIMECAMP_MAX_DEACTIVATIONS", "100%");
    s.run(&["--dry-run"]).expect_success();
    assert!(
        !s.project.exists("var/logs/changes.jsonl"),
        "dry runs write nothing"
    );

    s.sync();
    let text = s.project.read("var/logs/changes.jsonl");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // "When was bob@ disabled, and why?"
    let bob = lines
        .iter()
        .find(|l| l["email"] == "bob@x.com" && l["kind"] == "disable")
        .expect("bob's disable is in the journal");
    assert_eq!(bob["result"], "applied");
    assert_eq!(bob["new"], "disabled (not in the source)");
    assert_eq!(bob["stage"], "sync-users");
    assert!(bob["time"].as_str().unwrap().contains('T'));
    let ann = lines.iter().find(|l| l["kind"] == "rename").unwrap();
    assert_eq!(
        (ann["old"].as_str(), ann["new"].as_str()),
        (Some("Ann Old"), Some("Ann"))
    );
    assert!(lines.iter().all(|l| l["run_id"] == lines[0]["run_id"]));
}

#[test]
fn explain_tells_one_persons_story_and_writes_nothing() {
    let s = Sync::new(
        company()
            .user(2, "ann@x.com", "Ann Old", ROOT)
            .setting(2, "external_id", "E1")
            .user(3, "gone@x.com", "Gone", ROOT),
        json!([
            with(
                active("ann@x.com", "Ann", "", "user"),
                "timecamp_external_id",
                "E1"
            ),
            active("new@x.com", "New", "Sales", "user")
        ]),
    );
    let s = Sync {
        project: s.project.users(json!({"users": [
            {"external_id": "E1", "name": "Ann", "email": "Ann@x.com", "department": "",
             "job_title": "Dev", "status": "active", "supervisor_id": ""}
        ]})),
        fake: s.fake,
    };
    let run = s.run(&[
        "--explain",
        "ann@x.com",
        "--explain",
        "new@x.com",
        "--explain",
        "gone@x.com",
    ]);
    run.expect_success();
    let out = &run.stdout;
    assert!(
        out.contains("== ann@x.com\nsource: external_id \"E1\", name \"Ann\""),
        "{out}"
    );
    assert!(
        out.contains("prepared: active as \"Ann\" in \"\", role user"),
        "{out}"
    );
    assert!(
        out.contains(
            "TimeCamp: user 2 (ann@x.com), enabled, group 10, external id \"E1\", matched by e-mail"
        ),
        "{out}"
    );
    assert!(out.contains("plan: rename: Ann Old -> Ann"), "{out}");
    assert!(
        out.contains("== new@x.com\nsource: no record in var/users.json"),
        "{out}"
    );
    assert!(
        out.contains("plan: create user -> in \"Sales\" as user"),
        "{out}"
    );
    assert!(out.contains("== gone@x.com"), "{out}");
    assert!(
        out.contains("plan: disable: enabled -> disabled (not in the source)"),
        "{out}"
    );
    assert!(s.fake.writes().is_empty(), "explain writes nothing");
}

#[test]
fn a_dotenv_written_for_the_newest_original_runs_unchanged_end_to_end() {
    let fake = company().group(11, "Eng", ROOT);
    let dotenv = format!(
        "# settings of the newest original\n\
         TIMECAMP_API_KEY={TOKEN}\n\
         TIMECAMP_ROOT_GROUP_ID={ROOT}\n\
         TIMECAMP_API_URL={}\n\
         TIMECAMP_SSL_VERIFY=false\n\
         TIMECAMP_EXCLUDE_REGEX=job_title=\"Contractor\"\n\
         TIMECAMP_CHANGE_GROUPS_REGEX=^Company/(.*)|||\\1\n\
         TIMECAMP_PREPARE_TRANSFORM_CONFIG='{{\"transform\": [{{\"property\": \"job_title\", \"action\": \"replace_all\", \"value\": \"Staff\"}}], \"filter\": {{\"property\": \"raw_data.kind\", \"string\": {{\"equals\": \"staff\"}}}}}}'\n\
         TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID=true\n\
         TIMECAMP_REMOVE_EMPTY_GROUPS=true\n\
         TIMECAMP_SYNC_PERSISTENT_SETTINGS=false\n\
         TIMECAMP_DISABLE_USER_DEACTIVATION=false\n\
         HIBOB_SERVICE_USER_ID=\n\
         OKTA_USER_STATUSES=ACTIVE\n",
        fake.url()
    );
    let p = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_NEW_USER_WAIT_SECONDS", "5")
        .file(".env", dotenv)
        .users(json!({"users": [
            {"external_id": "1", "name": "Ann", "email": "ann@x.com", "department": "Company/Eng",
             "job_title": "Dev", "status": "active", "supervisor_id": "", "raw_data": {"kind": "staff"}},
            {"external_id": "2", "name": "Cy", "email": "cy@x.com", "department": "Company/Eng",
             "job_title": "Contractor", "status": "active", "supervisor_id": "", "raw_data": {"kind": "vendor"}}
        ]}));
    p.run(env!("CARGO_BIN_EXE_prepare-timecamp"), &[])
        .expect_success()
        .expect_stderr(
            "TIMECAMP_SYNC_PERSISTENT_SETTINGS is a setting of the newest original tool",
        );
    p.run(BIN, &[]).expect_success();
    assert_eq!(fake.group_path_of("ann@x.com"), "Company/Eng");
    assert_eq!(fake.user_id("cy@x.com"), None, "the contractor is left out");
}

/// On a terminal (here a pseudo-terminal from `script`) applying shows a
/// progress bar; without one, nothing is drawn and the log keeps its lines.
#[test]
fn a_terminal_gets_a_progress_bar_and_a_log_does_not() {
    let records = json!([
        active("a@x.com", "A", "Eng", "user"),
        active("b@x.com", "B", "Eng", "user"),
        active("c@x.com", "C", "Sales", "user")
    ]);
    let s = Sync::new(FakeTimecamp::start(ROOT), records.clone()).env("TERM", "xterm");
    // A pseudo-terminal 100 columns wide (script's own has no size).
    let command = format!("stty cols 100 rows 40; {BIN}");
    let run = s
        .project
        .run("/usr/bin/script", &["-qfec", &command, "/dev/null"]);
    run.expect_success();
    let changes = s.fake.writes().len();
    assert!(changes > 0);
    assert!(
        run.stdout.contains("applying changes [="),
        "the terminal shows a bar: {}",
        run.stdout
    );

    let s = Sync::new(FakeTimecamp::start(ROOT), records);
    let run = s.run(&[]);
    run.expect_success();
    assert!(!run.stderr.contains("applying changes ["), "{}", run.stderr);
}

/// In supervisor mode explain shows the chain the supervisor groups come
/// from, and the department prefix `TIMECAMP_SKIP_DEPARTMENTS` removed.
#[test]
fn explain_shows_the_supervisor_chain_and_the_skipped_prefix() {
    let s = Sync::new(company(), json!([active("ann@x.com", "Ann", "", "user")]))
        .env("TIMECAMP_USE_SUPERVISOR_GROUPS", "true")
        .env("TIMECAMP_USE_DEPARTMENT_GROUPS", "false")
        .env("TIMECAMP_SKIP_DEPARTMENTS", "Company");
    let person = |id: &str, name: &str, boss: &str| {
        json!({"external_id": id, "name": name, "email": format!("{}@x.com", name.to_lowercase()),
               "department": "Company/Eng", "job_title": "", "status": "active", "supervisor_id": boss})
    };
    let s = Sync {
        project: s.project.users(json!({"users": [
            person("E1", "Cleo", ""), person("E2", "Dan", "E1"), person("E3", "Ann", "E2")
        ]})),
        fake: s.fake,
    };
    let run = s.run(&["--explain", "ann@x.com", "--explain", "cleo@x.com"]);
    run.expect_success();
    let out = &run.stdout;
    assert!(
        out.contains("prepare: department \"Company/Eng\" -> \"Eng\": TIMECAMP_SKIP_DEPARTMENTS removes the prefix"),
        "{out}"
    );
    assert!(
        out.contains("prepare: supervisor chain (the supervisor groups): Dan (E2) -> Cleo (E1)"),
        "{out}"
    );
    assert!(
        out.contains("== cleo@x.com\nsource: external_id \"E1\""),
        "{out}"
    );
    assert!(
        out.contains("prepare: supervisor chain (the supervisor groups): none, top level"),
        "{out}"
    );
}

// ---- counts, progress and requests ----

#[test]
fn a_fault_run_counts_each_person_once() {
    // Each hand-made user is taken over, then their rename fails: failed, not also updated.
    let mut fake = company();
    let mut records = Vec::new();
    for i in 1..=3u64 {
        let email = format!("u{i}@x.com");
        fake = fake
            .user(i, &email, "Old", ROOT)
            .setting(i, "added_manually", "1");
        records.push(active(&email, &format!("New {i}"), "", "user"));
    }
    records.push(active("same@x.com", "Same", "", "user"));
    let fake = fake
        .user(4, "same@x.com", "Same", ROOT)
        .fail_requests("POST", "user");
    let s = Sync::new(fake, Value::Array(records));
    let run = s.run(&["--output", "json"]);
    run.expect_code(1)
        .expect_stderr("created 0, updated 0, disabled 0, re-enabled 0, unchanged 1, failed 3");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["summary"]["failed"], 3);
    assert_eq!(v["summary"]["updated"], 0);
}

#[test]
fn a_first_import_shows_progress_over_the_new_users_finishing_writes() {
    // 20 new people: one invitation, then four finishing writes each, 100 ms a
    // request, one at a time: well past the 5 s between progress lines.
    let records: Vec<Value> = (1..=20)
        .map(|i| {
            with(
                active(&format!("n{i}@x.com"), &format!("New {i}"), "", "user"),
                "timecamp_external_id",
                &format!("N{i}"),
            )
        })
        .collect();
    let s = Sync::new(
        company().latency(std::time::Duration::from_millis(100)),
        Value::Array(records),
    )
    .env("TIMECAMP_CONCURRENCY", "1");
    // 20 invitations + 20 x (mark as managed, name, external id).
    s.run(&[]).expect_success().expect_stderr(" of 80 changes");
}

#[test]
fn moves_and_role_changes_to_one_group_go_in_one_request() {
    let mut fake = company().group(11, "Eng", ROOT).group(12, "Sales", ROOT);
    let mut records = Vec::new();
    for i in 2..=6u64 {
        let email = format!("u{i}@x.com");
        fake = fake.user(i, &email, &format!("U{i}"), 11);
        records.push(active(&email, &format!("U{i}"), "Sales", "supervisor"));
    }
    let s = Sync::new(fake, Value::Array(records));
    let writes = s.sync();
    assert_eq!(
        writes,
        [
            "PUT group/11/user {\"group_id\":\"12\",\"user_id\":[2,3,4,5,6]}",
            "PUT group/12/user {\"role_id\":\"2\",\"user_id\":[2,3,4,5,6]}",
        ]
    );
    assert_eq!(s.fake.group_path_of("u4@x.com"), "Company/Sales");
    assert_eq!(s.fake.role_of("u4@x.com"), 2);
    s.assert_converged();
}

#[test]
fn a_refused_batch_is_retried_one_by_one_and_only_the_bad_user_fails() {
    let mut fake = company().group(11, "Eng", ROOT).group(12, "Sales", ROOT);
    let mut records = Vec::new();
    for i in 2..=4u64 {
        let email = format!("u{i}@x.com");
        fake = fake.user(i, &email, &format!("U{i}"), 11);
        records.push(active(&email, &format!("U{i}"), "Sales", "user"));
    }
    let s = Sync::new(fake.fail_writes_for("u3@x.com"), Value::Array(records));
    s.run(&[])
        .expect_code(1)
        .expect_stderr("move for 3 users at once failed")
        .expect_stderr("u3@x.com: move failed");
    assert_eq!(s.fake.group_path_of("u2@x.com"), "Company/Sales");
    assert_eq!(s.fake.group_path_of("u4@x.com"), "Company/Sales");
    assert_eq!(s.fake.group_path_of("u3@x.com"), "Company/Eng");
}

// ---- --explain ----

#[test]
fn explain_matches_the_exact_email_speaks_roles_and_says_why_someone_is_left_alone() {
    let s = Sync::new(
        company().user(2, "ann@x.com", "Ann", ROOT).role(2, 1).user(
            3,
            "ignored@x.com",
            "Ignored",
            ROOT,
        ),
        json!([active("ann@x.com", "Ann", "", "user")]),
    )
    .env("TIMECAMP_ALLOW_ADMIN_DEMOTION", "true")
    .env("TIMECAMP_IGNORED_USER_IDS", "3");
    let s = Sync {
        // No name in the source: prepare notes it about ann@x.com.
        project: s.project.users(json!({"users": [
            {"external_id": "E1", "email": "ann@x.com", "department": "", "status": "active"}
        ]})),
        fake: s.fake,
    };
    let run = s.run(&[
        "--explain",
        "ann@x.com",
        "--explain",
        "ann@x.co",
        "--explain",
        "ignored@x.com",
    ]);
    run.expect_success();
    let out = &run.stdout;
    let of = |email: &str| {
        out.split("== ")
            .find(|part| part.starts_with(&format!("{email}\n")))
            .unwrap_or_else(|| panic!("no {email} in {out}"))
            .to_owned()
    };
    assert!(of("ann@x.com").contains("\nprepare: "), "{out}");
    assert!(
        !of("ann@x.co").contains("\nprepare: "),
        "ann@x.co is not ann@x.com: {out}"
    );
    assert!(
        of("ann@x.com").contains("plan: set role: administrator -> user"),
        "{out}"
    );
    assert!(
        of("ignored@x.com")
            .contains("plan: nothing, TimeCamp user 3 is in TIMECAMP_IGNORED_USER_IDS"),
        "{out}"
    );

    let run = s.run(&["--explain", "ann@x.com", "--output", "json"]);
    run.expect_success();
    let v: Value = serde_json::from_str(&run.stdout).expect("--output json prints JSON");
    assert_eq!(v[0]["email"], "ann@x.com");
    assert_eq!(v[0]["plan"][0], "set role: administrator -> user");
    assert!(s.fake.writes().is_empty(), "explain writes nothing");
}

/// A hand-made account the sync takes over is said in plain words in the
/// plan, in `--explain` and in the log of the run.
#[test]
fn taking_over_a_hand_made_account_is_said_in_plain_words() {
    let s = Sync::new(
        company()
            .user(2, "alice@x.com", "Alice Old", ROOT)
            .setting(2, "added_manually", "1"),
        json!([active("alice@x.com", "Alice New", "", "user")]),
    );
    let plain = "added by hand in TimeCamp; from now on the sync manages this account";
    let plan = s.run(&["--dry-run"]);
    plan.expect_success();
    assert!(
        plan.stdout.contains(&format!(
            "mark as managed by the sync (1):\n  alice@x.com: {plain}"
        )),
        "{}",
        plan.stdout
    );
    let explained = s.run(&["--explain", "alice@x.com"]);
    assert!(
        explained
            .stdout
            .contains(&format!("plan: mark as managed by the sync: {plain}")),
        "{}",
        explained.stdout
    );
    s.run(&[])
        .expect_success()
        .expect_stderr(&format!("alice@x.com: {plain}"));
}

/// `--explain` of the key's owner, whom the source would move and demote,
/// says why nothing happens instead of "TimeCamp already matches".
#[test]
fn explain_says_the_keys_owner_is_left_alone_and_why() {
    let s = Sync::new(
        company()
            .group(11, "Eng", ROOT)
            .user(1, "owner@x.com", "Owner", ROOT)
            .role(1, 1)
            .owner(1),
        json!([active("owner@x.com", "Owner", "Eng", "user")]),
    );
    let run = s.run(&["--explain", "owner@x.com"]);
    run.expect_success();
    assert!(
        run.stdout.contains(
            "plan: nothing, left alone: it holds the API key (TIMECAMP_API_KEY): the sync never \
             moves, demotes or disables that account\n"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("already matches"), "{}", run.stdout);
}
