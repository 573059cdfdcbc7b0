//! sync-time-off planning: leaves → attendance days per TimeCamp user. Pure;
//! the I/O (reading day types, users and recorded days, writing) is in the binary.
//!
//! Every leave is bounded before its days are walked: a leave until
//! 9999-12-31 would otherwise be millions of days in memory and thousands of
//! requests. A leave longer than [`MAX_LEAVE_DAYS`], or starting more than
//! [`WINDOW_DAYS`] after today, is refused with a warning naming it; one that
//! ended more than [`WINDOW_DAYS`] before today is history (an HR system
//! returns years of it) and is counted, not written.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use scim_model::Leave;
use scim_model::timecamp::{AttendanceDay, DayType};

/// A full working day, in minutes.
pub const WORK_MINUTES: u32 = 480;
/// TimeCamp takes at most this many days' span in one request.
pub const MAX_SPAN_DAYS: i64 = 100;
/// The longest leave written, in calendar days, first and last included: two
/// years, more than the longest parental leave most countries grant at once.
pub const MAX_LEAVE_DAYS: i64 = 731;
/// How far from today a leave is written: one that starts later than this
/// many days after today is refused, one that ended earlier than this many
/// days before today is left as TimeCamp has it.
pub const WINDOW_DAYS: u64 = 731;

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
    /// Ended before the window: history the source keeps, not a mistake, so
    /// the stage counts these instead of warning about each on every run.
    pub history: bool,
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Plans the attendance days of every leave. `users` maps lower-cased e-mails
/// to TimeCamp user ids (the original matched case-sensitively); `today`
/// places the window of leaves that are written.
pub fn plan(
    leaves: &[Leave],
    day_types: &[DayType],
    users: &HashMap<String, u64>,
    include_weekends: bool,
    today: NaiveDate,
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
        let mut skip = |reason: String, history: bool| {
            skipped.push(SkippedLeave {
                leave: label.clone(),
                reason,
                history,
            })
        };
        let (Some(start), Some(end)) = (
            date(&leave.start_on),
            date(leave.finish_on.as_deref().unwrap_or(&leave.start_on)),
        ) else {
            skip("dates are not YYYY-MM-DD".into(), false);
            continue;
        };
        if end < start {
            skip("ends before it starts".into(), false);
            continue;
        }
        if let Some(problem) = out_of_bounds(start, end, today) {
            skip(problem.to_string(), matches!(problem, Bounds::EndedLongAgo));
            continue;
        }
        let emails = leave.emails();
        if emails.is_empty() {
            skip("no e-mail".into(), false);
            continue;
        }
        // The person's account may be under any of their addresses (Factorial
        // keeps a work and a login e-mail; TimeCamp may know either).
        let Some((email, user_id)) = emails
            .iter()
            .find_map(|e| users.get(e).map(|id| (e.clone(), *id)))
        else {
            skip(
                if emails.len() == 1 {
                    "no TimeCamp user with this e-mail".into()
                } else {
                    format!("no TimeCamp user with any of {}", emails.join(", "))
                },
                false,
            );
            continue;
        };
        let Some(type_name) = leave.tc_leave_type.as_deref() else {
            skip(
                "no TimeCamp day type (add it, or a Default, to LeaveTypeMap)".into(),
                false,
            );
            continue;
        };
        let Some(day_type) = day_types.iter().find(|t| t.name == type_name) else {
            skip(
                format!("TimeCamp has no day type named {type_name:?}"),
                false,
            );
            continue;
        };
        let vacation = type_name.to_lowercase().contains("vacation");
        let entry = by_user.entry(user_id).or_insert_with(|| UserDays {
            user_id,
            email: email.clone(),
            days: BTreeMap::new(),
        });
        // At most MAX_LEAVE_DAYS days, checked above.
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

/// Why a leave's dates are outside what is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bounds {
    TooLong { days: i64 },
    StartsTooLate { latest: NaiveDate },
    EndedLongAgo,
}

impl std::fmt::Display for Bounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bounds::TooLong { days } => write!(
                f,
                "it lasts {days} days, more than the {MAX_LEAVE_DAYS} a leave may have; \
                 check its dates in the HR system (an open end written as a far-off date?)"
            ),
            Bounds::StartsTooLate { latest } => write!(
                f,
                "it starts more than {WINDOW_DAYS} days from today (after {latest}); \
                 check its dates in the HR system"
            ),
            Bounds::EndedLongAgo => write!(
                f,
                "it ended more than {WINDOW_DAYS} days ago; it is left as TimeCamp has it"
            ),
        }
    }
}

/// Checks a leave against [`MAX_LEAVE_DAYS`] and the window around `today`.
fn out_of_bounds(start: NaiveDate, end: NaiveDate, today: NaiveDate) -> Option<Bounds> {
    let days = (end - start).num_days() + 1;
    if days > MAX_LEAVE_DAYS {
        return Some(Bounds::TooLong { days });
    }
    let window = Days::new(WINDOW_DAYS);
    // Past the ends of the calendar there is nothing to limit on that side.
    if let Some(latest) = today.checked_add_days(window)
        && start > latest
    {
        return Some(Bounds::StartsTooLate { latest });
    }
    if today
        .checked_sub_days(window)
        .is_some_and(|earliest| end < earliest)
    {
        return Some(Bounds::EndedLongAgo);
    }
    None
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

    /// The day the tests run on, as far as the plan knows.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 9, 1).unwrap()
    }

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
        let (planned, skipped) = plan(&[l.clone()], &types(), &users, false, today());
        assert_eq!(skipped, vec![]);
        assert_eq!(
            (planned[0].user_id, planned[0].email.as_str()),
            (7, "anna.login@x.com")
        );

        let (_, skipped) = plan(&[l], &types(), &HashMap::new(), false, today());
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
            today(),
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
            today(),
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
        let (plan, skipped) = plan(&leaves, &types(), &users, false, today());
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
            today(),
        );
        let days: Vec<(NaiveDate, AttendanceDay)> =
            plan[0].days.iter().map(|(d, a)| (*d, a.clone())).collect();
        let b = batches(&days);
        assert_eq!(b.len(), 4);
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 365);
        assert!(b.iter().all(|batch| batch.len() <= 100));
    }

    #[test]
    fn a_leave_until_the_year_9999_is_refused_by_name_and_the_others_go_on() {
        let users = HashMap::from([("anna@x.com".to_owned(), 7)]);
        let leaves = [
            leave(
                "anna@x.com",
                "2025-08-04",
                Some("9999-12-31"),
                Some("Vacation"),
            ),
            leave("anna@x.com", "2025-08-05", None, Some("Vacation")),
        ];
        let (planned, skipped) = plan(&leaves, &types(), &users, true, today());
        assert_eq!(
            planned[0].days.len(),
            1,
            "only the one-day leave is written"
        );
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].leave, "anna@x.com 2025-08-04..9999-12-31");
        assert!(
            skipped[0]
                .reason
                .contains("lasts 2912593 days, more than the 731"),
            "{}",
            skipped[0].reason
        );
        assert!(!skipped[0].history, "a mistake, warned about");
    }

    #[test]
    fn the_longest_leave_is_two_years_first_and_last_day_included() {
        let users = HashMap::from([("a@x".to_owned(), 1)]);
        let longest = leave("a@x", "2025-01-01", Some("2026-12-31"), Some("Vacation"));
        let (planned, skipped) = plan(&[longest], &types(), &users, true, today());
        assert_eq!((planned[0].days.len(), skipped.len()), (730, 0));
        let too_long = leave("a@x", "2025-01-01", Some("2027-01-02"), Some("Vacation"));
        let (planned, skipped) = plan(&[too_long], &types(), &users, true, today());
        assert!(planned.is_empty());
        assert!(skipped[0].reason.contains("lasts 732 days"), "{skipped:?}");
    }

    #[test]
    fn leaves_far_ahead_are_refused_and_long_past_ones_are_history() {
        let users = HashMap::from([("a@x".to_owned(), 1)]);
        // Today is 2025-09-01: the window runs from 2023-09-01 to 2027-09-02.
        let leaves = [
            leave("a@x", "9999-01-01", None, Some("Vacation")),
            leave("a@x", "2027-09-03", None, Some("Vacation")),
            leave("a@x", "2027-09-02", None, Some("Vacation")),
            leave("a@x", "0001-01-01", Some("0001-01-05"), Some("Vacation")),
            leave("a@x", "2023-08-31", None, Some("Vacation")),
            leave("a@x", "2023-08-31", Some("2023-09-01"), Some("Vacation")),
        ];
        let (planned, skipped) = plan(&leaves, &types(), &users, true, today());
        let written: Vec<&String> = planned[0].days.values().map(|d| &d.day).collect();
        assert_eq!(written, ["2023-08-31", "2023-09-01", "2027-09-02"]);
        let reasons: Vec<(&str, bool)> = skipped
            .iter()
            .map(|s| (s.leave.as_str(), s.history))
            .collect();
        assert_eq!(
            reasons,
            [
                ("a@x 9999-01-01..9999-01-01", false),
                ("a@x 2027-09-03..2027-09-03", false),
                ("a@x 0001-01-01..0001-01-05", true),
                ("a@x 2023-08-31..2023-08-31", true),
            ]
        );
        assert!(
            skipped[0]
                .reason
                .contains("starts more than 731 days from today")
        );
        assert!(skipped[2].reason.contains("ended more than 731 days ago"));
    }
}
