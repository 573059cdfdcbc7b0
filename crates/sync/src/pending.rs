//! The users a run invited but has not yet made its own.
//!
//! TimeCamp may list an invitee as added by hand (`added_manually=1`) until
//! the sync writes `added_manually=0`. A run that dies between the invite and
//! that write (kill -9, a timeout, a failed request) would leave a person whom
//! every later run with `TIMECAMP_DISABLE_MANUAL_USER_UPDATES=true` skips as
//! hand-made, forever, a leaver included. Nothing in TimeCamp tells the two
//! apart, so the sync writes down whom it is about to invite *before* the
//! invite, and crosses them off once their `added_manually=0` is written.
//!
//! The file is `var/pending_new_users.json`, an array of
//! `{email, name, group_id, real_email, external_id, role}`, the layout the
//! newest original uses for its unfinished new users; only `email` is needed
//! to read one back.

use std::collections::{BTreeMap, HashSet};

use scim_core::storage::{self, StageFileError, Storage};
use serde::{Deserialize, Serialize};

use crate::apply::{Outcome, Report};
use crate::plan::{Change, CurrentState, GroupRef, NewUser, Plan};

/// Where the journal lives, next to the other stage files.
pub const PENDING_FILE: &str = "var/pending_new_users.json";

/// One invited user whose `added_manually=0` is not yet written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memo {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub group_id: Option<u64>,
    #[serde(default)]
    pub real_email: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
}

impl From<&NewUser> for Memo {
    fn from(new: &NewUser) -> Self {
        Memo {
            email: new.email.clone(),
            name: Some(new.name.clone()),
            group_id: match new.group {
                GroupRef::Existing(id) => Some(id),
                GroupRef::New(_) => None,
            },
            real_email: new.additional_email.clone(),
            external_id: new.external_id.clone(),
            role: Some(new.role.as_str().to_owned()),
        }
    }
}

impl Memo {
    fn key(&self) -> String {
        self.email.trim().to_lowercase()
    }
}

/// The journal as read at the start of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journal {
    memos: BTreeMap<String, Memo>,
}

impl Journal {
    pub fn from_memos(memos: impl IntoIterator<Item = Memo>) -> Self {
        Self {
            memos: memos.into_iter().map(|m| (m.key(), m)).collect(),
        }
    }

    /// Reads the journal; a missing file is an empty journal.
    pub async fn read(storage: &dyn Storage) -> Result<Self, StageFileError> {
        if !storage.exists(PENDING_FILE).await? {
            return Ok(Self::default());
        }
        let memos: Vec<Memo> =
            storage::read_json(storage, PENDING_FILE, "a list of {\"email\": ...} records").await?;
        Ok(Self::from_memos(memos))
    }

    pub async fn write(&self, storage: &dyn Storage) -> Result<(), StageFileError> {
        let memos: Vec<&Memo> = self.memos.values().collect();
        storage::write_json(storage, PENDING_FILE, &memos).await
    }

    pub fn is_empty(&self) -> bool {
        self.memos.is_empty()
    }

    /// The lower-cased e-mails, for [`CurrentState::pending_invites`].
    pub fn emails(&self) -> HashSet<String> {
        self.memos.keys().cloned().collect()
    }

    /// The journal to write before applying `plan`: everything pending, plus
    /// every user the plan invites.
    pub fn before_apply(&self, plan: &Plan) -> Self {
        let mut next = self.clone();
        for change in &plan.changes {
            if let Change::CreateUser(new) = change {
                let memo = Memo::from(new);
                next.memos.insert(memo.key(), memo);
            }
        }
        next
    }

    /// The journal after the run: a user leaves it once their
    /// `added_manually=0` is written (by this run or, as TimeCamp shows, an
    /// earlier one; a user TimeCamp does not mark as hand-made needs no
    /// write), or once they are neither in TimeCamp
    /// nor invited by this run (the invite never happened and the person is
    /// no longer wanted). Everyone else stays for the next run.
    pub fn after_apply(&self, current: &CurrentState, plan: &Plan, report: &Report) -> Self {
        let owned: HashSet<String> = report
            .applied
            .iter()
            .chain(&report.finalised)
            .filter(|a| a.outcome == Outcome::Done)
            .filter_map(|a| match &a.change {
                Change::ResetAddedManually { user } => Some(user.email.trim().to_lowercase()),
                _ => None,
            })
            .collect();
        let in_timecamp: HashSet<String> = current
            .users
            .iter()
            .map(|u| u.email.trim().to_lowercase())
            .collect();
        // Owned already (an earlier run wrote the reset but not the journal,
        // or TimeCamp never marked them as hand-made).
        let reset_before: HashSet<String> = current
            .users
            .iter()
            .filter(|u| !u.is_manual())
            .map(|u| u.email.trim().to_lowercase())
            .collect();
        let invited_now: HashSet<String> = plan
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::CreateUser(new) => Some(new.email.trim().to_lowercase()),
                _ => None,
            })
            .collect();
        Self {
            memos: self
                .memos
                .iter()
                .filter(|(email, _)| !owned.contains(*email) && !reset_before.contains(*email))
                .filter(|(email, _)| in_timecamp.contains(*email) || invited_now.contains(*email))
                .map(|(k, m)| (k.clone(), m.clone()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::Applied;
    use crate::plan::{CurrentUser, UserRef};
    use scim_model::Role;

    fn memo(email: &str) -> Memo {
        Memo {
            email: email.into(),
            name: None,
            group_id: None,
            real_email: None,
            external_id: None,
            role: None,
        }
    }

    fn invite(email: &str) -> Change {
        Change::CreateUser(NewUser {
            email: email.into(),
            name: "N".into(),
            group: GroupRef::Existing(10),
            group_path: String::new(),
            role: Role::User,
            additional_email: None,
            external_id: None,
            after: None,
        })
    }

    fn reset(email: &str, outcome: Outcome) -> Applied {
        Applied {
            change: Change::ResetAddedManually {
                user: UserRef {
                    id: 1,
                    email: email.into(),
                },
            },
            outcome,
        }
    }

    #[test]
    fn invitees_are_recorded_before_the_invite() {
        let plan = Plan {
            changes: vec![invite("New@x.com")],
            ..Plan::default()
        };
        let next = Journal::default().before_apply(&plan);
        assert_eq!(next.emails(), HashSet::from(["new@x.com".to_owned()]));
    }

    #[test]
    fn a_user_leaves_the_journal_once_owned_and_stays_otherwise() {
        let journal = Journal::from_memos([memo("a@x.com"), memo("b@x.com"), memo("gone@x.com")]);
        let current = CurrentState {
            users: ["a@x.com", "b@x.com"]
                .into_iter()
                .map(|e| CurrentUser {
                    email: e.into(),
                    // How TimeCamp shows an invitee until the sync owns them.
                    added_manually: Some("1".into()),
                    ..CurrentUser::default()
                })
                .collect(),
            ..CurrentState::default()
        };
        let report = Report {
            applied: vec![
                reset("a@x.com", Outcome::Done),
                reset(
                    "b@x.com",
                    Outcome::Failed {
                        error: "500".into(),
                    },
                ),
            ],
            ..Report::default()
        };
        let next = journal.after_apply(&current, &Plan::default(), &report);
        // a is owned now; b's reset failed; gone is neither in TimeCamp nor invited.
        assert_eq!(next.emails(), HashSet::from(["b@x.com".to_owned()]));
    }

    #[test]
    fn an_invite_not_yet_visible_stays_in_the_journal() {
        let plan = Plan {
            changes: vec![invite("late@x.com")],
            ..Plan::default()
        };
        let journal = Journal::default().before_apply(&plan);
        let next = journal.after_apply(&CurrentState::default(), &plan, &Report::default());
        assert_eq!(next.emails(), HashSet::from(["late@x.com".to_owned()]));
    }
}
