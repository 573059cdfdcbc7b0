//! The rules of prepare, one behaviour per test, on in-memory records.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic by design

use scim_model::{EmailProblem, GroupMode, Role, SourceUser, Status, TimecampUser};
use scim_prepare::{
    MAX_SUPERVISOR_DEPTH, NoteKind, NoteReason, PrepareError, PrepareOptions, Prepared,
    SameEmailOutcome, SkipPrefixes, prepare,
};
use serde_json::json;

fn users(value: serde_json::Value) -> Vec<SourceUser> {
    serde_json::from_value(value).unwrap()
}

fn find<'a>(p: &'a Prepared, email: &str) -> &'a TimecampUser {
    p.users
        .iter()
        .find(|u| u.timecamp_email == email)
        .unwrap_or_else(|| panic!("{email} not in output: {:#?}", p.users))
}

fn crumb<'a>(p: &'a Prepared, email: &str) -> &'a str {
    find(p, email)
        .timecamp_groups_breadcrumb
        .as_deref()
        .unwrap()
}

fn role(p: &Prepared, email: &str) -> Role {
    find(p, email).timecamp_role.unwrap()
}

fn mode(mode: GroupMode) -> PrepareOptions {
    PrepareOptions {
        mode,
        ..PrepareOptions::default()
    }
}

fn person(id: &str, name: &str, sup: &str) -> serde_json::Value {
    json!({"external_id": id, "name": name, "email": format!("{}@x.com", name.to_lowercase()),
           "department": "", "job_title": null, "status": "active", "supervisor_id": sup})
}

/// The README's example: A, B reports to A, C to B, D to A, E alone.
fn readme_example() -> Vec<SourceUser> {
    users(json!([
        person("1", "A", ""),
        person("2", "B", "1"),
        person("3", "C", "2"),
        person("4", "D", "1"),
        person("5", "E", ""),
    ]))
}

#[test]
fn readme_supervisor_example_places_everyone() {
    let p = prepare(&readme_example(), &mode(GroupMode::Supervisor)).unwrap();
    assert_eq!(crumb(&p, "a@x.com"), "A");
    assert_eq!(crumb(&p, "b@x.com"), "A/B");
    assert_eq!(crumb(&p, "c@x.com"), "A/B");
    assert_eq!(crumb(&p, "d@x.com"), "A");
    assert_eq!(crumb(&p, "e@x.com"), "");
    assert_eq!(role(&p, "a@x.com"), Role::Supervisor);
    assert_eq!(role(&p, "b@x.com"), Role::Supervisor);
    assert_eq!(role(&p, "c@x.com"), Role::User);
    assert_eq!(role(&p, "e@x.com"), Role::User);
    assert!(p.notes.is_empty(), "{:?}", p.notes);
}

#[test]
fn external_id_appears_once_in_supervisor_group_names() {
    let opts = PrepareOptions {
        show_external_id: true,
        ..mode(GroupMode::Supervisor)
    };
    let p = prepare(&readme_example(), &opts).unwrap();
    assert_eq!(
        find(&p, "a@x.com").timecamp_user_name.as_deref(),
        Some("A - 1")
    );
    assert_eq!(crumb(&p, "a@x.com"), "A - 1");
    assert_eq!(crumb(&p, "c@x.com"), "A - 1/B - 2");
}

#[test]
fn job_titles_name_users_and_groups_without_nesting() {
    let mut data = readme_example();
    for (u, t) in data.iter_mut().zip(["CEO", "CTO", "Dev", "Dev", "Dev"]) {
        u.job_title = Some(t.into());
    }
    let users_only = PrepareOptions {
        job_title_user_names: true,
        ..mode(GroupMode::Supervisor)
    };
    let p = prepare(&data, &users_only).unwrap();
    assert_eq!(
        find(&p, "a@x.com").timecamp_user_name.as_deref(),
        Some("CEO [A]")
    );
    assert_eq!(crumb(&p, "b@x.com"), "A/B");

    let all = PrepareOptions {
        job_title_user_names: true,
        job_title_group_names: true,
        show_external_id: true,
        ..mode(GroupMode::Supervisor)
    };
    let p = prepare(&data, &all).unwrap();
    assert_eq!(
        find(&p, "a@x.com").timecamp_user_name.as_deref(),
        Some("CEO [A] - 1")
    );
    assert_eq!(crumb(&p, "a@x.com"), "CEO [A] - 1");
    assert_eq!(crumb(&p, "c@x.com"), "CEO [A] - 1/CTO [B] - 2");
}

#[test]
fn name_with_brackets_keeps_its_full_text_as_group_name() {
    let data = users(json!([
        person("1", "John [Johnny]", ""),
        person("2", "Kid", "1")
    ]));
    let p = prepare(&data, &mode(GroupMode::Supervisor)).unwrap();
    assert_eq!(crumb(&p, "kid@x.com"), "John [Johnny]");
}

#[test]
fn slash_in_a_job_title_does_not_create_a_group_level() {
    let mut data = users(json!([person("1", "Boss", ""), person("2", "Kid", "1")]));
    data[0].job_title = Some("R&D/QA Lead".into());
    let opts = PrepareOptions {
        job_title_group_names: true,
        ..mode(GroupMode::Supervisor)
    };
    let p = prepare(&data, &opts).unwrap();
    assert_eq!(crumb(&p, "kid@x.com"), "R&D-QA Lead [Boss]");
}

#[test]
fn two_person_cycle_is_broken_at_the_smallest_id_with_a_warning() {
    let data = users(json!([
        person("1", "A", "2"),
        person("2", "B", "1"),
        person("3", "C", "1")
    ]));
    let p = prepare(&data, &mode(GroupMode::Supervisor)).unwrap();
    assert_eq!(crumb(&p, "a@x.com"), "A");
    assert_eq!(crumb(&p, "b@x.com"), "A/B");
    assert_eq!(crumb(&p, "c@x.com"), "A");
    let cycle = p
        .notes
        .iter()
        .find_map(|n| match &n.reason {
            NoteReason::SupervisorCycle { chain, top } => Some((chain, top)),
            _ => None,
        })
        .expect("cycle reported");
    assert!(cycle.0.contains(&"A (1)".to_owned()) && cycle.0.contains(&"B (2)".to_owned()));
    assert_eq!(cycle.1, "A (1)", "broken at the smallest id");
}

#[test]
fn long_cycle_with_a_tail_resolves_every_member() {
    // Tail(4) -> C3 -> C2 -> C5 -> C3: cycle {3, 2, 5} with Tail hanging off it.
    // C2 (smallest id) becomes top-level; C3 reports to C2, C5 to C3.
    let data = users(json!([
        person("4", "Tail", "3"),
        person("3", "C3", "2"),
        person("2", "C2", "5"),
        person("5", "C5", "3"),
        person("9", "Leaf", "4"),
    ]));
    let p = prepare(&data, &mode(GroupMode::Supervisor)).unwrap();
    assert_eq!(crumb(&p, "c2@x.com"), "C2");
    assert_eq!(crumb(&p, "c3@x.com"), "C2/C3");
    assert_eq!(crumb(&p, "c5@x.com"), "C2/C3/C5");
    assert_eq!(crumb(&p, "tail@x.com"), "C2/C3/Tail");
    assert_eq!(crumb(&p, "leaf@x.com"), "C2/C3/Tail");
    assert_eq!(
        p.notes
            .iter()
            .filter(|n| matches!(n.reason, NoteReason::SupervisorCycle { .. }))
            .count(),
        1
    );
}

#[test]
fn self_managed_supervisor_becomes_top_level_with_a_warning() {
    let data = users(json!([person("1", "A", "1"), person("3", "C", "1")]));
    let p = prepare(&data, &mode(GroupMode::Supervisor)).unwrap();
    assert_eq!(crumb(&p, "a@x.com"), "A");
    assert_eq!(crumb(&p, "c@x.com"), "A");
    assert!(
        p.notes
            .iter()
            .any(|n| n.reason == NoteReason::OwnSupervisor)
    );
}

#[test]
fn skip_prefix_applies_to_supervisor_paths() {
    let data = users(json!([
        person("1", "Boss", ""),
        person("2", "Mid", "1"),
        person("3", "Low", "2")
    ]));
    let opts = PrepareOptions {
        skip_departments: SkipPrefixes::new(&["Boss"]),
        ..mode(GroupMode::Supervisor)
    };
    let p = prepare(&data, &opts).unwrap();
    assert_eq!(crumb(&p, "boss@x.com"), "");
    assert_eq!(crumb(&p, "mid@x.com"), "Mid");
    assert_eq!(crumb(&p, "low@x.com"), "Mid");
}

#[test]
fn supervisor_outside_the_data_leaves_the_normalised_department() {
    let mut data = users(json!([person("1", "Orphan", "99")]));
    data[0].department = Some(" Eng / Front ".into());
    let opts = PrepareOptions {
        skip_departments: SkipPrefixes::new(&["Eng"]),
        ..mode(GroupMode::Supervisor)
    };
    let p = prepare(&data, &opts).unwrap();
    assert_eq!(crumb(&p, "orphan@x.com"), "Front");
    assert!(p.notes.iter().any(|n| n.reason
        == NoteReason::SupervisorNotFound {
            supervisor_id: "99".into()
        }));
}

#[test]
fn inactive_top_supervisor_still_names_the_group() {
    let mut data = users(json!([person("1", "Boss", ""), person("2", "Mid", "1")]));
    data[0].status = Some(Status::Inactive);
    let p = prepare(&data, &mode(GroupMode::Supervisor)).unwrap();
    assert_eq!(crumb(&p, "boss@x.com"), "Boss");
    assert_eq!(find(&p, "boss@x.com").timecamp_status, Status::Inactive);
    assert_eq!(role(&p, "boss@x.com"), Role::Supervisor);
    assert_eq!(crumb(&p, "mid@x.com"), "Boss");
}

fn hybrid_example() -> Vec<SourceUser> {
    users(json!([
        {"external_id": "123", "name": "John Doe", "email": "john@x.com", "department": "Engineering",
         "job_title": "Engineering Manager", "status": "active", "supervisor_id": ""},
        {"external_id": "124", "name": "Jane Smith", "email": "jane@x.com", "department": "Engineering/Frontend",
         "job_title": "Frontend Developer", "status": "active", "supervisor_id": "123"},
        {"external_id": "125", "name": "Bob Wilson", "email": "bob@x.com", "department": "Sales/EMEA",
         "job_title": "Sales Manager", "status": "active", "supervisor_id": ""},
        {"external_id": "126", "name": "Alice Johnson", "email": "alice@x.com", "department": "Sales/EMEA",
         "job_title": "Sales Rep", "status": "active", "supervisor_id": "125"}
    ]))
}

#[test]
fn hybrid_puts_supervisor_groups_under_departments() {
    let opts = PrepareOptions {
        job_title_group_names: true,
        ..mode(GroupMode::Hybrid)
    };
    let p = prepare(&hybrid_example(), &opts).unwrap();
    assert_eq!(
        crumb(&p, "john@x.com"),
        "Engineering/Engineering Manager [John Doe]"
    );
    assert_eq!(
        crumb(&p, "jane@x.com"),
        "Engineering/Frontend/Engineering Manager [John Doe]"
    );
    assert_eq!(
        crumb(&p, "bob@x.com"),
        "Sales/EMEA/Sales Manager [Bob Wilson]"
    );
    assert_eq!(
        crumb(&p, "alice@x.com"),
        "Sales/EMEA/Sales Manager [Bob Wilson]"
    );
    assert_eq!(role(&p, "john@x.com"), Role::Supervisor);
    assert_eq!(role(&p, "alice@x.com"), Role::User);
}

#[test]
fn department_mode_ignores_supervisors() {
    let p = prepare(&hybrid_example(), &mode(GroupMode::Department)).unwrap();
    assert_eq!(crumb(&p, "john@x.com"), "Engineering");
    assert_eq!(crumb(&p, "jane@x.com"), "Engineering/Frontend");
    assert_eq!(crumb(&p, "alice@x.com"), "Sales/EMEA");
    assert!(p.users.iter().all(|u| u.timecamp_role == Some(Role::User)));
}

#[test]
fn hybrid_without_departments_uses_skipped_supervisor_paths() {
    let mut data = users(json!([
        person("1", "Boss", ""),
        person("2", "Mid", "1"),
        person("3", "Low", "2"),
        person("4", "Orphan", "77"),
        person("5", "Dept", "2"),
    ]));
    data[4].department = Some("Boss/Sub".into());
    let opts = PrepareOptions {
        skip_departments: SkipPrefixes::new(&["Boss"]),
        ..mode(GroupMode::Hybrid)
    };
    let p = prepare(&data, &opts).unwrap();
    assert_eq!(crumb(&p, "boss@x.com"), "");
    assert_eq!(crumb(&p, "mid@x.com"), "Mid");
    assert_eq!(crumb(&p, "low@x.com"), "Mid");
    assert_eq!(crumb(&p, "orphan@x.com"), "");
    assert_eq!(crumb(&p, "dept@x.com"), "Sub/Mid");
}

#[test]
fn roles_follow_the_first_matching_rule() {
    let data = users(json!([
        {"external_id": "1", "name": "A", "email": "a@x.com", "department": "IT", "status": "active",
         "supervisor_id": "", "force_global_admin_role": true},
        {"external_id": "2", "name": "B", "email": "b@x.com", "department": "IT", "status": "active",
         "supervisor_id": "1", "force_supervisor_role": true},
        {"external_id": "3", "name": "C", "email": "c@x.com", "department": "IT", "status": "active",
         "supervisor_id": "2"},
        {"external_id": "4", "name": "D", "email": "d@x.com", "department": "IT", "status": "active",
         "supervisor_id": "", "is_supervisor": true}
    ]));
    let p = prepare(&data, &mode(GroupMode::Department)).unwrap();
    assert_eq!(role(&p, "a@x.com"), Role::Administrator);
    assert_eq!(
        crumb(&p, "a@x.com"),
        "",
        "global admins sit in the root group"
    );
    assert_eq!(role(&p, "b@x.com"), Role::Supervisor);
    assert_eq!(role(&p, "c@x.com"), Role::User);
    assert_eq!(role(&p, "d@x.com"), Role::User);
}

#[test]
fn is_supervisor_role_reads_booleans_and_yes_strings() {
    let mut data = users(json!([
        person("1", "T", ""),
        person("2", "Y", ""),
        person("3", "N", ""),
        person("4", "Absent", "")
    ]));
    data[0].is_supervisor = Some(Box::new(json!(true)));
    data[1].is_supervisor = Some(Box::new(json!("Yes")));
    data[2].is_supervisor = Some(Box::new(json!(1)));
    let opts = PrepareOptions {
        use_is_supervisor_role: true,
        ..mode(GroupMode::Supervisor)
    };
    let p = prepare(&data, &opts).unwrap();
    assert_eq!(role(&p, "t@x.com"), Role::Supervisor);
    assert_eq!(role(&p, "y@x.com"), Role::Supervisor);
    assert_eq!(role(&p, "n@x.com"), Role::User);
    assert_eq!(role(&p, "absent@x.com"), Role::User);
}

#[test]
fn department_mode_maps_source_role_ids() {
    let mut data = users(json!([
        person("1", "A", ""),
        person("2", "G", ""),
        person("3", "Q", "")
    ]));
    data[0].role_id = Some("1".into());
    data[1].role_id = Some("5".into());
    data[2].role_id = Some("9".into());
    let p = prepare(&data, &mode(GroupMode::Department)).unwrap();
    assert_eq!(role(&p, "a@x.com"), Role::Administrator);
    assert_eq!(role(&p, "g@x.com"), Role::Guest);
    assert_eq!(role(&p, "q@x.com"), Role::User);
    assert!(
        p.notes
            .iter()
            .any(|n| matches!(n.reason, NoteReason::UnknownRoleId { .. }))
    );
}

#[test]
fn domain_replacement_never_makes_the_additional_email_equal_the_primary() {
    let data = users(json!([
        {"external_id": "1", "name": "A", "email": "a@corp.local", "real_email": "a@corp.com", "status": "active"},
        {"external_id": "2", "name": "B", "email": "b@corp.local", "real_email": "B@CORP.LOCAL", "status": "active"},
        {"external_id": "3", "name": "C", "email": "c@x@y", "real_email": "c2@q.com", "status": "active"},
        {"external_id": "4", "name": "D", "email": "D@Corp.Local", "real_email": "dee@gmail.com", "status": "active"}
    ]));
    let opts = PrepareOptions {
        replace_email_domain: Some("corp.com".into()),
        ..PrepareOptions::default()
    };
    let p = prepare(&data, &opts).unwrap();
    assert_eq!(find(&p, "a@corp.com").timecamp_real_email, None);
    assert_eq!(find(&p, "b@corp.com").timecamp_real_email, None);
    // Two @: not an address TimeCamp can invite; dropped with the reason.
    assert!(p.users.iter().all(|u| u.timecamp_email != "c@x@y"));
    assert!(
        p.notes.iter().any(|n| matches!(
            n.reason,
            NoteReason::UnusableEmail {
                problem: EmailProblem::SeveralAts,
                ..
            }
        )),
        "{:#?}",
        p.notes
    );
    assert_eq!(
        find(&p, "d@corp.com").timecamp_real_email.as_deref(),
        Some("dee@corp.com")
    );
}

#[test]
fn user_names_are_cleaned_and_decorated() {
    let mut data = users(json!([person("3", "Bob", "")]));
    data[0].name = Some("  Bob (the) _builder_ “B” ".into());
    data[0].job_title = Some("Dev".into());
    let opts = PrepareOptions {
        job_title_user_names: true,
        show_external_id: true,
        ..PrepareOptions::default()
    };
    let p = prepare(&data, &opts).unwrap();
    assert_eq!(
        find(&p, "bob@x.com").timecamp_user_name.as_deref(),
        Some("Dev [Bob the builder B] - 3")
    );
}

#[test]
fn record_without_external_id_is_kept_with_a_warning() {
    let data = users(
        json!([{"name": "NoId", "email": "noid@x.com", "department": "Ops", "status": "active"}]),
    );
    let p = prepare(&data, &PrepareOptions::default()).unwrap();
    assert_eq!(crumb(&p, "noid@x.com"), "Ops");
    assert_eq!(
        find(&p, "noid@x.com").timecamp_external_id.as_deref(),
        Some("")
    );
    assert_eq!(p.notes[0].kind, NoteKind::Warning);
}

/// One person's old record, left inactive next to the current one.
#[test]
fn duplicate_emails_keep_the_active_record_and_report_the_other() {
    let data = users(json!([
        {"external_id": "7", "name": "Now", "email": "SAME@x.com", "status": "active"},
        {"external_id": "7", "name": "Then", "email": "same@x.com", "status": "inactive"}
    ]));
    let p = prepare(&data, &PrepareOptions::default()).unwrap();
    assert_eq!(p.users.len(), 1);
    assert_eq!(p.users[0].timecamp_user_name.as_deref(), Some("Now"));
    let note = p
        .notes
        .iter()
        .find(|n| matches!(n.reason, NoteReason::SameEmail { .. }))
        .unwrap();
    assert_eq!(note.kind, NoteKind::Dropped);
    assert!(note.record.contains("#2"), "{note:?}");
    assert!(
        matches!(
            note.reason,
            NoteReason::SameEmail {
                outcome: SameEmailOutcome::ActiveKept,
                ..
            }
        ),
        "{note:?}"
    );
}

/// Two people given one address (a reused e-mail, a typo): which of them
/// owns the account is not prepare's to guess, whatever their order.
#[test]
fn two_active_people_with_one_email_stop_prepare_naming_both() {
    for data in [
        json!([
            {"external_id": "10", "name": "Ada", "email": "ada@x.com", "status": "active"},
            {"external_id": "11", "name": "Ada L", "email": "ADA@x.com", "status": "active"}
        ]),
        json!([
            {"external_id": "11", "name": "Ada L", "email": "ADA@x.com", "status": "active"},
            {"external_id": "10", "name": "Ada", "email": "ada@x.com", "status": "active"}
        ]),
    ] {
        let err = prepare(&users(data), &PrepareOptions::default()).unwrap_err();
        let PrepareError::SameEmail { conflicts } = &err else {
            panic!("{err}");
        };
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].email, "ada@x.com");
        assert_eq!(conflicts[0].differ, ["external id", "name"]);
        let mut ids = conflicts[0].external_ids.clone();
        ids.sort();
        assert_eq!(ids, ["10", "11"]);
        let text = err.to_string();
        assert!(
            text.contains("record #1 (ada@x.com, external_id 1"),
            "{text}"
        );
        assert!(
            text.contains("record #2 (ada@x.com, external_id 1"),
            "{text}"
        );
        assert!(text.contains("Fix the source"), "{text}");
    }
}

#[test]
fn one_person_listed_twice_with_two_groups_stops_prepare() {
    let data = users(json!([
        {"external_id": "7", "name": "Dup", "email": "dup@x.com", "department": "A", "status": "active"},
        {"external_id": "7", "name": "Dup", "email": "dup@x.com", "department": "B", "status": "active"}
    ]));
    let err = prepare(&data, &PrepareOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "dup@x.com: active record #1 (dup@x.com, external_id 7) and active record #2 \
             (dup@x.com, external_id 7), with the same external_id, differ in group"
        ),
        "{text}"
    );
}

#[test]
fn one_person_listed_twice_alike_is_written_once() {
    let data = users(json!([
        {"external_id": "7", "name": "Dup", "email": "DUP@x.com", "department": "A", "status": "active"},
        {"external_id": "7", "name": "Dup", "email": "dup@x.com", "department": "A", "status": "active"}
    ]));
    let p = prepare(&data, &PrepareOptions::default()).unwrap();
    assert_eq!(p.users.len(), 1);
    assert_eq!(crumb(&p, "dup@x.com"), "A");
    assert!(p.notes.iter().any(|n| matches!(
        n.reason,
        NoteReason::SameEmail {
            outcome: SameEmailOutcome::Identical,
            ..
        }
    )));
}

/// An address that went to a new person while the leaver's record stays:
/// keeping the active record would make the sync give the new person the
/// leaver's account, so prepare stops, whatever the order or the statuses.
#[test]
fn records_of_one_email_with_different_external_ids_stop_prepare_whatever_their_status() {
    for (a, b) in [
        ("active", "inactive"),
        ("inactive", "active"),
        ("inactive", "inactive"),
    ] {
        let data = users(json!([
            {"external_id": "20", "name": "Bob", "email": "bob@x.com", "status": a},
            {"external_id": "21", "name": "Bob", "email": "BOB@x.com", "status": b}
        ]));
        let err = prepare(&data, &PrepareOptions::default()).unwrap_err();
        let PrepareError::SameEmail { conflicts } = &err else {
            panic!("{err}");
        };
        assert_eq!(conflicts.len(), 1);
        assert!(!conflicts[0].one_person);
        assert_eq!(conflicts[0].external_ids, ["20", "21"]);
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "bob@x.com: {a} record #1 (bob@x.com, external_id 20) and {b} record #2 \
                 (bob@x.com, external_id 21) differ in external id"
            )),
            "{text}"
        );
    }
    // One record without an external id cannot be told to be the same person.
    let data = users(json!([
        {"external_id": "20", "name": "Bob", "email": "bob@x.com", "status": "active"},
        {"name": "Bob", "email": "bob@x.com", "status": "inactive"}
    ]));
    let err = prepare(&data, &PrepareOptions::default()).unwrap_err();
    assert!(matches!(err, PrepareError::SameEmail { .. }), "{err}");
}

/// Two inactive records of one address that differ: the account is disabled
/// whichever were written, so neither is, and no order picks one.
#[test]
fn inactive_records_of_one_email_that_differ_are_all_left_out() {
    let data = users(json!([
        {"external_id": "7", "name": "Left", "email": "left@x.com", "status": "inactive"},
        {"external_id": "7", "name": "Left Again", "email": "LEFT@x.com", "status": "inactive"},
        {"external_id": "9", "name": "Stays", "email": "stays@x.com", "status": "active"}
    ]));
    let p = prepare(&data, &PrepareOptions::default()).unwrap();
    assert_eq!(p.users.len(), 1);
    assert_eq!(p.users[0].timecamp_email, "stays@x.com");
    let left: Vec<&str> = p
        .notes
        .iter()
        .filter(|n| {
            matches!(
                n.reason,
                NoteReason::SameEmail {
                    outcome: SameEmailOutcome::InactiveDiffer,
                    ..
                }
            )
        })
        .map(|n| n.record.as_str())
        .collect();
    assert_eq!(
        left,
        [
            "record #1 (left@x.com, external_id 7)",
            "record #2 (left@x.com, external_id 7)"
        ]
    );
    assert_eq!(p.stats.dropped, 2);
}

#[test]
fn an_active_record_wins_over_inactive_ones_that_differ_among_themselves() {
    let data = users(json!([
        {"external_id": "7", "name": "Old", "email": "a@x.com", "status": "inactive"},
        {"external_id": "7", "name": "Older", "email": "a@x.com", "status": "inactive"},
        {"external_id": "7", "name": "Now", "email": "a@x.com", "status": "active"}
    ]));
    let p = prepare(&data, &PrepareOptions::default()).unwrap();
    assert_eq!(p.users.len(), 1);
    assert_eq!(p.users[0].timecamp_user_name.as_deref(), Some("Now"));
    assert_eq!(p.stats.dropped, 2);
}

#[test]
fn addresses_that_collide_only_after_domain_replacement_stop_prepare() {
    let data = users(json!([
        {"external_id": "1", "name": "A", "email": "a@one.local", "status": "active"},
        {"external_id": "2", "name": "A2", "email": "a@two.local", "status": "active"}
    ]));
    let opts = PrepareOptions {
        replace_email_domain: Some("corp.com".into()),
        ..PrepareOptions::default()
    };
    let err = prepare(&data, &opts).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "a@corp.com: active record #1 (a@one.local, external_id 1) and active record #2 \
             (a@two.local, external_id 2) differ in external id, name"
        ),
        "{text}"
    );
}

#[test]
fn duplicate_external_ids_keep_both_people_and_warn() {
    let data = users(json!([
        {"external_id": "7", "name": "One", "email": "one@x.com", "status": "active"},
        {"external_id": "7", "name": "Two", "email": "two@x.com", "status": "active"}
    ]));
    let p = prepare(&data, &PrepareOptions::default()).unwrap();
    assert_eq!(p.users.len(), 2);
    assert!(
        p.notes
            .iter()
            .any(|n| matches!(n.reason, NoteReason::SharedExternalId { .. }))
    );
}

/// Two people with one external id, both heading a group: a report of that
/// id is placed under neither, rather than under the later one.
#[test]
fn a_supervisor_id_two_different_records_hold_places_nobody_under_it() {
    for data in [
        json!([
            person("7", "One", ""),
            person("7", "Two", ""),
            person("8", "Report", "7")
        ]),
        json!([
            person("8", "Report", "7"),
            person("7", "Two", ""),
            person("7", "One", "")
        ]),
    ] {
        let p = prepare(&users(data), &mode(GroupMode::Supervisor)).unwrap();
        assert_eq!(crumb(&p, "report@x.com"), "");
        assert_eq!(crumb(&p, "one@x.com"), "");
        assert_eq!(crumb(&p, "two@x.com"), "");
        assert!(p.notes.iter().any(|n| n.record.contains("report@x.com")
            && n.reason
                == NoteReason::SupervisorAmbiguous {
                    supervisor_id: "7".into()
                }));
        assert!(
            p.notes
                .iter()
                .any(|n| matches!(n.reason, NoteReason::SharedExternalId { agree: false, .. }))
        );
    }
}

#[test]
fn a_supervisor_listed_twice_alike_still_heads_the_group() {
    let data = users(json!([
        person("7", "Boss", ""),
        person("8", "Report", "7"),
        person("7", "Boss", "")
    ]));
    let p = prepare(&data, &mode(GroupMode::Supervisor)).unwrap();
    assert_eq!(crumb(&p, "report@x.com"), "Boss");
    assert_eq!(crumb(&p, "boss@x.com"), "Boss");
    assert_eq!(p.users.len(), 2);
}

#[test]
fn records_without_email_shape_the_hierarchy_but_are_not_output() {
    let data = users(json!([
        {"external_id": "123", "name": "John Doe", "email": "", "department": "R&D",
         "status": "inactive", "supervisor_id": ""},
        person("124", "Jane", "123")
    ]));
    let p = prepare(&data, &mode(GroupMode::Supervisor)).unwrap();
    assert_eq!(p.users.len(), 1);
    assert_eq!(crumb(&p, "jane@x.com"), "John Doe");
    let note = &p.notes[0];
    assert_eq!(note.kind, NoteKind::Dropped);
    assert!(
        !note.serious,
        "an inactive hierarchy-only record is routine"
    );
}

#[test]
fn missing_name_and_status_are_reported_not_fatal() {
    let data = users(json!([{"external_id": "1", "email": "who@x.com"}]));
    let p = prepare(&data, &PrepareOptions::default()).unwrap();
    let u = find(&p, "who@x.com");
    assert_eq!(u.timecamp_user_name.as_deref(), Some("who@x.com"));
    assert_eq!(u.timecamp_status, Status::Inactive);
    assert_eq!(u.timecamp_groups_breadcrumb.as_deref(), Some(""));
    assert_eq!(p.stats.changed, 2);
}

#[test]
fn output_is_sorted_by_email_and_counts_add_up() {
    let data = users(json!([
        person("2", "Zed", ""),
        person("1", "Amy", ""),
        person("3", "Max", "")
    ]));
    let p = prepare(&data, &PrepareOptions::default()).unwrap();
    let emails: Vec<_> = p.users.iter().map(|u| u.timecamp_email.as_str()).collect();
    assert_eq!(emails, ["amy@x.com", "max@x.com", "zed@x.com"]);
    assert_eq!(p.stats.prepared, 3);
    assert_eq!(p.stats.active, 3);
    assert_eq!(p.stats.users, 3);
}

/// A chain of `n` people, each reporting to the one before.
fn chain(n: usize) -> Vec<SourceUser> {
    users(serde_json::Value::Array(
        (0..n)
            .map(|i| {
                let sup = if i == 0 {
                    String::new()
                } else {
                    format!("{}", i - 1)
                };
                person(&i.to_string(), &format!("P{i}"), &sup)
            })
            .collect(),
    ))
}

#[test]
fn supervisor_chain_at_the_depth_limit_is_prepared() {
    let p = prepare(
        &chain(MAX_SUPERVISOR_DEPTH + 1),
        &mode(GroupMode::Supervisor),
    )
    .unwrap();
    let deepest = format!("p{}@x.com", MAX_SUPERVISOR_DEPTH);
    // The last person is no supervisor: they sit in their supervisor's group.
    assert_eq!(crumb(&p, &deepest).split('/').count(), MAX_SUPERVISOR_DEPTH);
}

#[test]
fn supervisor_chain_past_the_depth_limit_is_refused_naming_the_record() {
    for mode_ in [GroupMode::Supervisor, GroupMode::Hybrid] {
        let err = prepare(&chain(100_000), &mode(mode_)).unwrap_err();
        let PrepareError::ChainTooDeep { record, limit } = &err else {
            panic!("{err}");
        };
        assert_eq!(*limit, MAX_SUPERVISOR_DEPTH);
        assert!(
            record.contains(&format!("external_id {MAX_SUPERVISOR_DEPTH}")),
            "{err}"
        );
    }
}

fn in_department(path: &str) -> Vec<SourceUser> {
    users(json!([
        {"external_id": "1", "name": "Ann", "email": "ann@x.com", "department": "Sales", "status": "active"},
        {"external_id": "2", "name": "Deep", "email": "deep@x.com", "department": path, "status": "active"}
    ]))
}

#[test]
fn a_department_twenty_thousand_levels_deep_stops_prepare_naming_the_record() {
    let deep: Vec<String> = (0..20_000).map(|i| format!("L{i}")).collect();
    let err = prepare(&in_department(&deep.join("/")), &PrepareOptions::default()).unwrap_err();
    let PrepareError::PathTooDeep(too_deep) = &err else {
        panic!("{err}");
    };
    assert_eq!(too_deep.levels, 20_000);
    assert!(
        err.to_string()
            .starts_with("record #2 (deep@x.com, external_id 2): the group path has 20000 levels"),
        "{err}"
    );
    let limit = &deep[..scim_groups::MAX_PATH_DEPTH];
    let p = prepare(&in_department(&limit.join("/")), &PrepareOptions::default()).unwrap();
    assert_eq!(crumb(&p, "deep@x.com"), limit.join("/"));
}

#[test]
fn a_department_under_a_long_supervisor_chain_is_held_to_the_same_limit() {
    let limit: Vec<String> = (0..scim_groups::MAX_PATH_DEPTH)
        .map(|i| format!("L{i}"))
        .collect();
    let mut records = in_department(&limit.join("/"));
    // Deep reports to Ann: in hybrid mode her group goes below the department.
    records[1].supervisor_id = Some("1".into());
    let err = prepare(&records, &mode(GroupMode::Hybrid)).unwrap_err();
    assert!(
        matches!(&err, PrepareError::PathTooDeep(d) if d.levels == scim_groups::MAX_PATH_DEPTH + 1),
        "{err}"
    );
}

#[test]
fn department_mode_ignores_deep_supervisor_chains() {
    let p = prepare(&chain(1_000), &mode(GroupMode::Department)).unwrap();
    assert_eq!(p.users.len(), 1_000);
}

#[test]
fn unusable_emails_are_dropped_with_the_reason() {
    let data = users(json!([
        {"external_id": "1", "name": "Space", "email": "a b@x.com", "status": "active"},
        {"external_id": "2", "name": "Zero", "email": "zero\u{200b}@x.com", "status": "active"},
        {"external_id": "3", "name": "NoAt", "email": "noat.x.com", "status": "active"},
        {"external_id": "4", "name": "Number", "email": "12345", "status": "active"},
        {"external_id": "5", "name": "Fine", "email": "fine@x.com", "status": "active",
         "real_email": "bad real@x.com"}
    ]));
    let p = prepare(&data, &mode(GroupMode::Department)).unwrap();
    let emails: Vec<&str> = p.users.iter().map(|u| u.timecamp_email.as_str()).collect();
    assert_eq!(emails, ["fine@x.com"]);
    assert_eq!(find(&p, "fine@x.com").timecamp_real_email, None);
    let problems: Vec<EmailProblem> = p
        .notes
        .iter()
        .filter_map(|n| match &n.reason {
            NoteReason::UnusableEmail { problem, .. } => Some(*problem),
            _ => None,
        })
        .collect();
    assert_eq!(
        problems,
        [
            EmailProblem::WhiteSpace,
            EmailProblem::Invisible,
            EmailProblem::NoAt,
            EmailProblem::Number
        ]
    );
    assert!(p.notes.iter().any(|n| matches!(
        n.reason,
        NoteReason::UnusableAdditionalEmail {
            problem: EmailProblem::WhiteSpace,
            ..
        }
    )));
}

#[test]
fn an_explicit_administrator_or_guest_role_is_kept_in_supervisor_and_hybrid_modes() {
    let mut data = users(json!([
        person("1", "Boss", ""),
        person("2", "Guest", "1"),
        person("3", "Admin", "1"),
        person("4", "Plain", "1")
    ]));
    data[1].role_id = Some("5".into());
    data[2].role_id = Some("1".into());
    data[3].role_id = Some("2".into());
    for m in [GroupMode::Supervisor, GroupMode::Hybrid] {
        let p = prepare(&data, &mode(m)).unwrap();
        assert_eq!(role(&p, "boss@x.com"), Role::Supervisor, "{m:?}");
        assert_eq!(role(&p, "guest@x.com"), Role::Guest, "{m:?}");
        assert_eq!(role(&p, "admin@x.com"), Role::Administrator, "{m:?}");
        // Supervisor and user still follow the hierarchy.
        assert_eq!(role(&p, "plain@x.com"), Role::User, "{m:?}");
    }
}

#[test]
fn a_manager_outside_the_scope_shapes_the_tree_but_is_no_user() {
    // Top (hierarchy only) <- Mid <- Low; Solo reports straight to Top.
    let mut data = users(json!([
        person("1", "Top", ""),
        person("2", "Mid", "1"),
        person("3", "Low", "2"),
        person("4", "Solo", "1")
    ]));
    data[0].status = Some(Status::Inactive);
    data[0]
        .extra
        .insert("hierarchy_only".into(), serde_json::Value::Bool(true));
    let p = prepare(&data, &mode(GroupMode::Supervisor)).unwrap();
    assert!(
        p.users.iter().all(|u| u.timecamp_email != "top@x.com"),
        "never output"
    );
    // The walk stops at Top: Mid heads a top-level group.
    assert_eq!(crumb(&p, "mid@x.com"), "Mid");
    assert_eq!(crumb(&p, "low@x.com"), "Mid");
    // A non-supervisor whose manager is out of scope: the root group.
    assert_eq!(crumb(&p, "solo@x.com"), "");
    assert!(
        p.notes
            .iter()
            .any(|n| n.reason == NoteReason::HierarchyOnly)
    );
    assert!(
        !p.notes
            .iter()
            .any(|n| matches!(n.reason, NoteReason::SupervisorNotFound { .. })),
        "{:#?}",
        p.notes
    );
}
