//! sync-time-off planning: leaves → attendance days per TimeCamp user. Pure;
//! the I/O (reading day types, users and recorded days, writing) is in the binary.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, Weekday};
use scim_model::Leave;
use scim_model::timecamp::{AttendanceDay, DayType};

/// A full working day, in minutes.
pub const WORK_MINUTES: u32 = 480;
/// TimeCamp takes at most this many days' span in one request.
pub const MAX_SPAN_DAYS: i64 = 100;

/// The days one user should have, by date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDays {
    pub user_id: u64,
    pub email: String,
    pub days: BTreeMap<NaiveDate, AttendanceDay>,
}

/// Why a leave was not planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLeave {
    pub leave: String,
    pub reason: String,
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Plans the attendance days of every leave. `users` maps lower-cased e-mails
/// to TimeCamp user ids (the original matched case-sensitively).
pub fn plan(
    leaves: &[Leave],
    day_types: &[DayType],
    users: &HashMap<String, u64>,
    include_weekends: bool,
) -> (Vec<UserDays>, Vec<SkippedLeave>) {
    let mut by_user: BTreeMap<u64, UserDays> = BTreeMap::new();
    let mut skipped = Vec::new();
    for leave in leaves {
        let label = format!(
            "{} {}..{}",
            leave.email.as_deref().unwrap_or("(no e-mail)"),
            leave.start_on,
            leave.finish_on.as_deref().unwrap_or(&leave.start_on)
        );
        let mut skip = |reason: String| {
            skipped.push(SkippedLeave {
                leave: label.clone(),
                reason,
            })
        };
        let emails = leave.emails();
        if emails.is_empty() {
            skip("no e-mail".into());
            continue;
        }
        // The person's account may be under any of their addresses (Factorial
        // keeps a work and a login e-mail; TimeCamp may know either).
        let Some((email, user_id)) = emails
            .iter()
            .find_map(|e| users.get(e).map(|id| (e.clone(), *id)))
        else {
            skip(if emails.len() == 1 {
                "no TimeCamp user with this e-mail".into()
            } else {
                format!("no TimeCamp user with any of {}", emails.join(", "))
            });
            continue;
        };
        let Some(type_name) = leave.tc_leave_type.as_deref() else {
            skip("no TimeCamp day type (add it, or a Default, to LeaveTypeMap)".into());
            continue;
        };
        let Some(day_type) = day_types.iter().find(|t| t.name == type_name) else {
            skip(format!("TimeCamp has no day type named {type_name:?}"));
            continue;
        };
        let (Some(start), Some(end)) = (
            date(&leave.start_on),
            date(leave.finish_on.as_deref().unwrap_or(&leave.start_on)),
        ) else {
            skip("dates are not YYYY-MM-DD".into());
            continue;
        };
        if end < start {
            skip("ends before it starts".into());
            continue;
        }
        let vacation = type_name.to_lowercase().contains("vacation");
        let entry = by_user.entry(user_id).or_insert_with(|| UserDays {
            user_id,
            email: email.clone(),
            days: BTreeMap::new(),
        });
        for day in start.iter_days().take_while(|d| *d <= end) {
            if !include_weekends && matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                continue;
            }
            entry.days.insert(
                day,
                AttendanceDay {
                    day: day.format("%Y-%m-%d").to_string(),
                    day_type_id: day_type.id,
                    should_be: if day_type.day_off { 0 } else { WORK_MINUTES },
                    vacation_time: if vacation { WORK_MINUTES } else { 0 },
                },
            );
        }
    }
    (by_user.into_values().collect(), skipped)
}

/// Splits days (in date order) into requests whose span stays within TimeCamp's limit.
pub fn batches(days: &[(NaiveDate, AttendanceDay)]) -> Vec<Vec<AttendanceDay>> {
    let mut out: Vec<Vec<AttendanceDay>> = Vec::new();
    let mut first: Option<NaiveDate> = None;
    for (date, day) in days {
        match first {
            Some(f) if (*date - f).num_days() < MAX_SPAN_DAYS => {
                if let Some(last) = out.last_mut() {
                    last.push(day.clone());
                }
            }
            _ => {
                first = Some(*date);
                out.push(vec![day.clone()]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<DayType> {
        vec![
            DayType {
                id: 13,
                name: "Vacation".into(),
                day_off: true,
            },
            DayType {
                id: 14,
                name: "Sick Leave".into(),
                day_off: true,
            },
        ]
    }

    fn leave(email: &str, start: &str, end: Option<&str>, t: Option<&str>) -> Leave {
        Leave {
            email: Some(email.into()),
            start_on: start.into(),
            finish_on: end.map(str::to_owned),
            tc_leave_type: t.map(str::to_owned),
            ..Leave::default()
        }
    }

    #[test]
    fn a_leave_finds_its_user_by_any_of_the_persons_emails() {
        let users = HashMap::from([("anna.login@x.com".to_owned(), 7)]);
        let mut l = leave(" Anna@X.com ", "2026-03-02", None, Some("Vacation"));
        l.other_emails = vec!["Anna.Login@x.com".into()];
        let (planned, skipped) = plan(&[l.clone()], &types(), &users, false);
        assert_eq!(skipped, vec![]);
        assert_eq!(
            (planned[0].user_id, planned[0].email.as_str()),
            (7, "anna.login@x.com")
        );

        let (_, skipped) = plan(&[l], &types(), &HashMap::new(), false);
        assert_eq!(
            skipped[0].reason,
            "no TimeCamp user with any of anna@x.com, anna.login@x.com"
        );
    }

    #[test]
    fn weekdays_of_a_leave_become_days_off_with_vacation_minutes() {
        let users = HashMap::from([("anna@x.com".to_owned(), 7)]);
        // 2025-08-08 is a Friday: the weekend after it is left out.
        let (plan, skipped) = plan(
            &[leave(
                "Anna@X.com",
                "2025-08-07",
                Some("2025-08-11"),
                Some("Vacation"),
            )],
            &types(),
            &users,
            false,
        );
        assert!(skipped.is_empty());
        let days: Vec<&String> = plan[0].days.values().map(|d| &d.day).collect();
        assert_eq!(days, ["2025-08-07", "2025-08-08", "2025-08-11"]);
        let d = plan[0].days.values().next().unwrap();
        assert_eq!((d.day_type_id, d.should_be, d.vacation_time), (13, 0, 480));
    }

    #[test]
    fn weekends_can_be_included() {
        let users = HashMap::from([("anna@x.com".to_owned(), 7)]);
        let (plan, _) = plan(
            &[leave(
                "anna@x.com",
                "2025-08-08",
                Some("2025-08-11"),
                Some("Sick Leave"),
            )],
            &types(),
            &users,
            true,
        );
        assert_eq!(plan[0].days.len(), 4);
        assert_eq!(plan[0].days.values().next().unwrap().vacation_time, 0);
    }

    #[test]
    fn unusable_leaves_are_skipped_with_a_reason_and_the_rest_go_on() {
        let users = HashMap::from([("anna@x.com".to_owned(), 7)]);
        let leaves = [
            leave("nobody@x.com", "2025-08-04", None, Some("Vacation")),
            leave("anna@x.com", "2025-08-04", None, None),
            leave("anna@x.com", "2025-08-04", None, Some("Party")),
            leave("anna@x.com", "2025-08-05", None, Some("Vacation")),
        ];
        let (plan, skipped) = plan(&leaves, &types(), &users, false);
        assert_eq!(skipped.len(), 3);
        assert_eq!(
            plan[0].days.len(),
            1,
            "a null finish date is a one-day leave"
        );
    }

    #[test]
    fn batches_keep_each_request_within_one_hundred_days() {
        let users = HashMap::from([("a@x".to_owned(), 1)]);
        let (plan, _) = plan(
            &[leave(
                "a@x",
                "2025-01-01",
                Some("2025-12-31"),
                Some("Vacation"),
            )],
            &types(),
            &users,
            true,
        );
        let days: Vec<(NaiveDate, AttendanceDay)> =
            plan[0].days.iter().map(|(d, a)| (*d, a.clone())).collect();
        let b = batches(&days);
        assert_eq!(b.len(), 4);
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 365);
        assert!(b.iter().all(|batch| batch.len() <= 100));
    }
}
