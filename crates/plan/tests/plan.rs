//! The planner on in-memory state: no server, one rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic by design

use scim_model::timecamp::Group;
use scim_model::{Role, Status, TimecampUser};
use scim_plan::plan::{LeaveReason, NewUser, PlanWarning};
use scim_plan::{Change, CurrentState, CurrentUser, GroupRef, SyncOptions, plan};

const ROOT: u64 = 10;

fn group(id: u64, name: &str, parent: u64) -> Group {
    Group {
        group_id: id,
        name: name.into(),
        parent_id: parent,
    }
}

fn user(id: u64, email: &str, name: &str, group_id: u64) -> CurrentUser {
    CurrentUser {
        id,
        email: email.into(),
        display_name: Some(name.into()),
        group_id,
        enabled: true,
        added_manually: Some("0".into()),
        role_id: Some(3),
        ..CurrentUser::default()
    }
}

fn want(email: &str, name: &str, crumb: &str, role: Role) -> TimecampUser {
    TimecampUser {
        timecamp_external_id: None,
        timecamp_user_name: Some(name.into()),
        timecamp_email: email.into(),
        timecamp_groups_breadcrumb: Some(crumb.into()),
        timecamp_status: Status::Active,
        timecamp_role: Some(role),
        timecamp_real_email: None,
        extra: Default::default(),
    }
}

fn gone(email: &str) -> TimecampUser {
    TimecampUser {
        timecamp_status: Status::Inactive,
        ..want(email, "Gone", "", Role::User)
    }
}

fn state(groups: Vec<Group>, users: Vec<CurrentUser>) -> CurrentState {
    let mut all = vec![group(ROOT, "Company", 0)];
    all.extend(groups);
    CurrentState {
        groups: all,
        users,
        ..CurrentState::default()
    }
}

fn opts() -> SyncOptions {
    SyncOptions {
        root_group_id: ROOT,
        ..SyncOptions::default()
    }
}

fn kinds(p: &scim_plan::Plan) -> Vec<&'static str> {
    p.changes.iter().map(Change::kind).collect()
}

#[test]
fn matching_state_plans_nothing() {
    let s = state(
        vec![group(11, "Eng", ROOT)],
        vec![user(1, "a@x.com", "A", 11)],
    );
    let p = plan(&s, &[want("A@X.com", "A", "Eng", Role::User)], &opts());
    assert!(p.is_empty(), "{:?}", p.changes);
    assert_eq!(p.unchanged, ["a@x.com"]);
}

#[test]
fn missing_groups_are_planned_once_parents_first() {
    let s = state(vec![], vec![]);
    let p = plan(
        &s,
        &[
            want("a@x.com", "A", "Eng/Backend", Role::User),
            want("b@x.com", "B", "Eng/Backend", Role::User),
            want("c@x.com", "C", "Eng", Role::User),
        ],
        &opts(),
    );
    assert_eq!(
        kinds(&p),
        [
            "create group",
            "create group",
            "create user",
            "create user",
            "create user"
        ]
    );
    assert!(
        matches!(&p.changes[0], Change::CreateGroup { path, parent: GroupRef::Existing(ROOT), .. } if path == "Eng")
    );
    assert!(
        matches!(&p.changes[1], Change::CreateGroup { path, parent: GroupRef::New(0), .. } if path == "Eng/Backend")
    );
}

#[test]
fn inactive_users_are_never_created() {
    let p = plan(&state(vec![], vec![]), &[gone("x@x.com")], &opts());
    assert!(p.is_empty());
}

#[test]
fn user_whose_additional_email_is_an_inactive_record_is_disabled() {
    // The original kept such users enabled.
    let mut u = user(1, "primary@x.com", "P", ROOT);
    u.additional_email = Some("old@x.com".into());
    let p = plan(&state(vec![], vec![u]), &[gone("old@x.com")], &opts());
    assert!(matches!(
        &p.changes[0],
        Change::Disable {
            reason: LeaveReason::InactiveInSource,
            ..
        }
    ));
}

#[test]
fn a_source_that_says_who_leaves_disables_only_those_it_lists_inactive() {
    let s = state(
        vec![],
        vec![
            user(1, "pushed@x.com", "P", ROOT),
            user(2, "never@x.com", "N", ROOT),
        ],
    );
    let o = SyncOptions {
        leave_users_not_in_source: true,
        ..opts()
    };
    let p = plan(&s, &[gone("pushed@x.com")], &o);
    assert_eq!(kinds(&p), ["disable"]);
    assert!(matches!(&p.changes[0], Change::Disable { user, .. } if user.id == 1));
    let pull = plan(&s, &[gone("pushed@x.com")], &opts());
    assert_eq!(
        kinds(&pull),
        ["disable", "disable"],
        "a pull source is the whole staff"
    );
}

#[test]
fn already_disabled_users_are_left_alone() {
    let mut u = user(1, "a@x.com", "A", ROOT);
    u.enabled = false;
    let p = plan(&state(vec![], vec![u]), &[], &opts());
    assert!(p.is_empty());
}

#[test]
fn ignored_users_are_neither_updated_nor_disabled() {
    let s = state(
        vec![],
        vec![user(1, "a@x.com", "A", ROOT), user(2, "b@x.com", "B", ROOT)],
    );
    let o = SyncOptions {
        ignored_user_ids: [1, 2].into(),
        ..opts()
    };
    let p = plan(&s, &[want("a@x.com", "New", "", Role::Supervisor)], &o);
    assert!(p.is_empty(), "{:?}", p.changes);
    // a@ as a person of the source, b@ as an account that would otherwise leave.
    assert_eq!(p.skipped.len(), 2, "{:?}", p.skipped);
    assert_eq!(p.skipped[1].user_id, Some(2));
}

#[test]
fn two_records_matching_one_user_are_reported_not_merged() {
    let mut u = user(1, "a@x.com", "A", ROOT);
    u.additional_email = Some("alias@x.com".into());
    let p = plan(
        &state(vec![], vec![u]),
        &[
            want("a@x.com", "A", "", Role::User),
            want("alias@x.com", "Alias", "", Role::User),
        ],
        &opts(),
    );
    assert!(p.is_empty());
    assert_eq!(p.held_back[0].email, "alias@x.com");
}

#[test]
fn second_timecamp_account_of_a_synced_person_is_left_enabled_with_a_warning() {
    let s = state(
        vec![],
        vec![
            user(1, "a@x.com", "A", ROOT),
            user(2, "A@x.com", "A dup", ROOT),
        ],
    );
    let p = plan(&s, &[want("a@x.com", "A", "", Role::User)], &opts());
    assert!(
        !p.changes
            .iter()
            .any(|c| matches!(c, Change::Disable { .. })),
        "{:?}",
        p.changes
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| matches!(w, PlanWarning::SharedEmail { .. })),
        "{:?}",
        p.warnings
    );
}

#[test]
fn user_missing_from_people_picker_counts_as_plain_user() {
    let mut u = user(1, "a@x.com", "A", ROOT);
    u.role_id = None;
    let p = plan(
        &state(vec![], vec![u]),
        &[want("a@x.com", "A", "", Role::User)],
        &opts(),
    );
    assert!(
        p.is_empty(),
        "no role write for a user who is already a plain user"
    );
}

#[test]
fn groups_deeper_than_timecamps_limit_are_warned_about() {
    let p = plan(
        &state(vec![], vec![]),
        &[want("a@x.com", "A", "L2/L3/L4/L5", Role::User)],
        &opts(),
    );
    assert!(
        p.warnings.iter().any(|w| *w
            == PlanWarning::TooDeep {
                path: "L2/L3/L4/L5".into(),
                level: 5
            }),
        "{:?}",
        p.warnings
    );
}

#[test]
fn sibling_groups_with_the_same_name_are_warned_about() {
    let s = state(
        vec![group(11, "Eng", ROOT), group(12, "Eng ", ROOT)],
        vec![],
    );
    let p = plan(&s, &[], &opts());
    assert!(
        p.warnings
            .iter()
            .any(|w| matches!(w, PlanWarning::DuplicateGroupName(d) if d.chosen == 11 && d.others == [12])),
        "{:?}",
        p.warnings
    );
}

#[test]
fn users_go_to_the_same_named_sibling_with_the_smallest_id_whatever_the_listing_order() {
    // TimeCamp lists 12 first; the path still leads to 11, the group remove-empty-groups keeps.
    let s = state(
        vec![group(12, "Eng", ROOT), group(11, "Eng", ROOT)],
        vec![user(1, "a@x.com", "A", ROOT)],
    );
    let p = plan(&s, &[want("a@x.com", "A", "Eng", Role::User)], &opts());
    assert!(
        matches!(
            p.changes.as_slice(),
            [Change::Move {
                to: GroupRef::Existing(11),
                ..
            }]
        ),
        "{:?}",
        p.changes
    );
}

#[test]
fn new_user_changes_carry_name_role_and_settings() {
    let mut w = want("n@x.com", "New", "", Role::Supervisor);
    w.timecamp_external_id = Some("E1".into());
    w.timecamp_real_email = Some("n@home.org".into());
    let p = plan(&state(vec![], vec![]), &[w], &opts());
    assert_eq!(
        p.changes[0],
        Change::CreateUser(NewUser {
            email: "n@x.com".into(),
            name: "New".into(),
            group: GroupRef::Existing(ROOT),
            group_path: String::new(),
            role: Role::Supervisor,
            additional_email: Some("n@home.org".into()),
            external_id: Some("E1".into()),
            after: None,
        })
    );
}

#[test]
fn additional_email_differing_only_in_case_is_not_rewritten() {
    let mut u = user(1, "a@x.com", "A", ROOT);
    u.additional_email = Some("A@Home.org".into());
    let mut w = want("a@x.com", "A", "", Role::User);
    w.timecamp_real_email = Some("a@home.org".into());
    let p = plan(&state(vec![], vec![u]), &[w], &opts());
    assert!(p.is_empty(), "{:?}", p.changes);
}

#[test]
fn manual_user_is_reset_only_when_changed() {
    let mut u = user(1, "a@x.com", "Old", ROOT);
    u.added_manually = Some("1".into());
    let p = plan(
        &state(vec![], vec![u]),
        &[want("a@x.com", "New", "", Role::User)],
        &opts(),
    );
    // Ownership first, so an interrupted run never leaves a changed user looking hand-made.
    assert_eq!(kinds(&p), ["mark as managed by the sync", "rename"]);
}

#[test]
fn unfinished_invitee_is_taken_over_although_marked_manual() {
    let mut u = user(1, "new@x.com", "New", ROOT);
    u.added_manually = Some("1".into());
    let mut current = state(vec![], vec![u]);
    current.pending_invites.insert("new@x.com".into());
    let protect = SyncOptions {
        disable_manual_user_updates: true,
        ..opts()
    };
    let p = plan(
        &current,
        &[want("new@x.com", "New", "", Role::User)],
        &protect,
    );
    assert_eq!(kinds(&p), ["mark as managed by the sync"]);
    assert!(p.skipped.is_empty(), "{:?}", p.skipped);
}

#[test]
fn hand_made_user_stays_protected_when_not_an_unfinished_invite() {
    let mut u = user(1, "hand@x.com", "Hand", ROOT);
    u.added_manually = Some("1".into());
    let protect = SyncOptions {
        disable_manual_user_updates: true,
        ..opts()
    };
    let p = plan(
        &state(vec![], vec![u]),
        &[want("hand@x.com", "Other", "", Role::User)],
        &protect,
    );
    assert!(p.is_empty(), "{:?}", p.changes);
    assert_eq!(p.skipped.len(), 1);
}

#[test]
fn unfinished_invitee_who_left_is_disabled_despite_the_manual_mark() {
    let mut u = user(1, "left@x.com", "Left", ROOT);
    u.added_manually = Some("1".into());
    let mut current = state(vec![], vec![u, user(2, "stay@x.com", "Stay", ROOT)]);
    current.pending_invites.insert("left@x.com".into());
    let protect = SyncOptions {
        disable_manual_user_updates: true,
        ..opts()
    };
    let p = plan(
        &current,
        &[want("stay@x.com", "Stay", "", Role::User)],
        &protect,
    );
    assert_eq!(kinds(&p), ["disable"]);
}

fn with_external_id(mut u: CurrentUser, id: &str) -> CurrentUser {
    u.external_id = Some(id.into());
    u
}

fn want_with_id(email: &str, id: &str) -> TimecampUser {
    let mut w = want(email, "Ann", "", Role::User);
    w.timecamp_external_id = Some(id.into());
    w
}

#[test]
fn person_whose_email_changed_keeps_the_account_found_by_external_id() {
    let s = state(
        vec![],
        vec![with_external_id(
            user(1, "ann.old@x.com", "Ann", ROOT),
            "E1",
        )],
    );
    let p = plan(&s, &[want_with_id("ann.new@x.com", "E1")], &opts());
    assert!(
        p.changes.is_empty(),
        "no new account, no disable: {:?}",
        p.changes
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| matches!(w, PlanWarning::EmailKept { id: 1, .. })),
        "{:?}",
        p.warnings
    );
}

#[test]
fn with_the_switch_the_primary_email_follows_the_source() {
    let s = state(
        vec![],
        vec![with_external_id(
            user(1, "ann.old@x.com", "Ann", ROOT),
            "E1",
        )],
    );
    let update = SyncOptions {
        update_email_on_external_id: true,
        ..opts()
    };
    let p = plan(&s, &[want_with_id("ann.new@x.com", "E1")], &update);
    assert_eq!(
        p.changes,
        [Change::SetEmail {
            user: scim_plan::plan::UserRef {
                id: 1,
                email: "ann.new@x.com".into()
            },
            from: "ann.old@x.com".into(),
            to: "ann.new@x.com".into(),
            after: None,
        }]
    );
}

#[test]
fn an_external_id_on_two_timecamp_users_matches_neither_and_disables_neither() {
    let s = state(
        vec![],
        vec![
            with_external_id(user(1, "a@x.com", "A", ROOT), "E1"),
            with_external_id(user(2, "b@x.com", "B", ROOT), "E1"),
            user(3, "stay@x.com", "Stay", ROOT),
        ],
    );
    let p = plan(
        &s,
        &[
            want_with_id("new@x.com", "E1"),
            want("stay@x.com", "Stay", "", Role::User),
        ],
        &opts(),
    );
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert!(p.warnings.iter().any(|w| matches!(
        w,
        PlanWarning::SharedExternalId { ids, .. } if ids == &[1, 2]
    )));
    assert_eq!(p.held_back.len(), 1);
    assert_eq!(p.held_back[0].accounts, [1, 2]);
}

#[test]
fn a_prepared_path_deeper_than_any_stage_accepts_is_refused_naming_the_record() {
    let deep = vec!["L"; scim_groups::MAX_PATH_DEPTH + 1].join("/");
    let problems = scim_plan::validate_input(&[
        want("ann@x.com", "Ann", "Sales", Role::User),
        want("deep@x.com", "Deep", &deep, Role::User),
    ]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("record #2 (deep@x.com): the group path has 33 levels"),
        "{problems:?}"
    );
    let limit = vec!["L"; scim_groups::MAX_PATH_DEPTH].join("/");
    assert!(
        scim_plan::validate_input(&[want("deep@x.com", "Deep", &limit, Role::User)]).is_empty()
    );
}
