//! The order of the source records never changes what prepare decides: every
//! permutation of a set of records full of duplicates (one person listed
//! twice, an active and an inactive record of one person, inactive records
//! of one person that differ, people with one address, an external id two
//! people share, one that a report names) gives the same bytes, or the same
//! refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic by design

use scim_model::{GroupMode, SourceUser};
use scim_prepare::{PrepareError, PrepareOptions, prepare};
use serde_json::{Value, json};

fn rec(id: &str, name: &str, email: &str, status: &str, sup: &str, dept: &str) -> Value {
    json!({"external_id": id, "name": name, "email": email, "status": status,
           "supervisor_id": sup, "department": dept})
}

/// What prepare made of one order: the output file's bytes, or the refusal
/// without the records' positions (which follow the order by design).
#[derive(Debug, PartialEq)]
enum Outcome {
    Written(String),
    /// Each conflict's e-mail, its records' external ids (sorted) and what differs.
    SameEmail(Vec<(String, Vec<String>, Vec<&'static str>)>),
    Other(String),
}

fn outcome(records: &[SourceUser], opts: &PrepareOptions) -> Outcome {
    match prepare(records, opts) {
        Ok(p) => Outcome::Written(serde_json::to_string_pretty(&p.users).unwrap()),
        Err(PrepareError::SameEmail { conflicts }) => {
            let mut found: Vec<_> = conflicts
                .into_iter()
                .map(|c| {
                    let mut ids = c.external_ids;
                    ids.sort();
                    (c.email, ids, c.differ)
                })
                .collect();
            found.sort();
            Outcome::SameEmail(found)
        }
        Err(other) => Outcome::Other(format!("{other:?}")),
    }
}

/// Calls `each` with every permutation of `items` (Heap's algorithm).
fn permutations<T: Clone>(items: &[T], mut each: impl FnMut(&[T])) {
    let mut a = items.to_vec();
    let mut c = vec![0; a.len()];
    each(&a);
    let mut i = 0;
    while i < a.len() {
        if c[i] < i {
            a.swap(if i % 2 == 0 { 0 } else { c[i] }, i);
            each(&a);
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
}

/// Asserts that every order of `records` gives the outcome of the first.
fn same_for_every_order(records: Value, opts: &PrepareOptions) -> Outcome {
    let records: Vec<SourceUser> = serde_json::from_value(records).unwrap();
    let first = outcome(&records, opts);
    let mut orders = 0;
    permutations(&records, |order| {
        orders += 1;
        let this = outcome(order, opts);
        assert_eq!(
            this,
            first,
            "order {:?} gives another result",
            order
                .iter()
                .map(|r| (r.external_id.as_deref(), r.email.as_deref()))
                .collect::<Vec<_>>()
        );
    });
    assert_eq!(orders, (1..=records.len()).product::<usize>());
    first
}

fn mode(mode: GroupMode) -> PrepareOptions {
    PrepareOptions {
        mode,
        ..PrepareOptions::default()
    }
}

#[test]
fn duplicate_emails_give_the_same_file_in_every_order() {
    let written = same_for_every_order(
        json!([
            // One person listed twice, alike.
            rec("10", "Ada", "ada@x.com", "active", "", "Eng"),
            rec("10", "Ada", "ADA@x.com", "active", "", "Eng"),
            // One person's current and old record.
            rec("20", "Bob", "bob@x.com", "active", "", "Ops"),
            rec("20", "Bob Old", "Bob@x.com", "inactive", "", "Ops"),
            // A leaver listed twice, with different details.
            rec("30", "Cy", "cy@x.com", "inactive", "", "Eng"),
            rec("30", "Cy Two", "cy@x.com", "inactive", "", "Ops"),
            // Someone else with Bob's external id.
            rec("20", "Flo", "flo@x.com", "active", "", "Sales"),
        ]),
        &PrepareOptions::default(),
    );
    let Outcome::Written(file) = written else {
        panic!("{written:?}");
    };
    let users: Vec<Value> = serde_json::from_str(&file).unwrap();
    let kept: Vec<(&str, &str)> = users
        .iter()
        .map(|u| {
            (
                u["timecamp_email"].as_str().unwrap(),
                u["timecamp_external_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("ada@x.com", "10"),
            ("bob@x.com", "20"),
            ("flo@x.com", "20")
        ]
    );
}

#[test]
fn shared_supervisor_ids_give_the_same_groups_in_every_order() {
    let records = json!([
        // A supervisor listed twice, alike, with a report.
        rec("1", "Boss", "boss@x.com", "active", "", "Mgmt"),
        rec("1", "Boss", "BOSS@x.com", "active", "", "Mgmt"),
        rec("2", "Rep", "rep@x.com", "active", "1", "Eng"),
        // Two people with one id, and a report naming it.
        rec("3", "One", "one@x.com", "active", "1", "Eng"),
        rec("3", "Two", "two@x.com", "active", "", "Eng"),
        rec("4", "Zed", "zed@x.com", "active", "3", "Eng"),
        // Rep's old record, inactive, under another supervisor.
        rec("2", "Rep Old", "rep@x.com", "inactive", "3", "Eng"),
    ]);
    for m in [GroupMode::Supervisor, GroupMode::Hybrid] {
        let written = same_for_every_order(records.clone(), &mode(m));
        assert!(matches!(written, Outcome::Written(_)), "{written:?}");
    }
}

#[test]
fn two_people_with_one_email_are_refused_alike_in_every_order() {
    let refused = same_for_every_order(
        json!([
            rec("10", "Ada", "ada@x.com", "active", "", ""),
            rec("11", "Ada L", "ADA@x.com", "active", "", ""),
            rec("12", "Ada Old", "ada@x.com", "inactive", "", ""),
            rec("20", "Bob", "bob@x.com", "active", "", "A"),
            rec("20", "Bob", "bob@x.com", "active", "", "B"),
            rec("20", "Bob", "bob@x.com", "active", "", "A"),
            rec("30", "Cy", "cy@x.com", "active", "", ""),
        ]),
        &PrepareOptions::default(),
    );
    assert_eq!(
        refused,
        Outcome::SameEmail(vec![
            (
                "ada@x.com".into(),
                vec!["10".into(), "11".into(), "12".into()],
                vec!["external id", "name", "status"]
            ),
            (
                "bob@x.com".into(),
                vec!["20".into(), "20".into(), "20".into()],
                vec!["group"]
            ),
        ])
    );
}
