//! One TimeCamp user per final e-mail address, whatever the order of the
//! records, and never by guessing whose account an address is.
//!
//! The records of one e-mail are decided on together, once every record is
//! in:
//! - records with different external ids (or one with an id and one
//!   without) are different people, or may be: prepare stops, naming them,
//!   whatever their status. Keeping the active one would make the sync give
//!   it the account, with its history, of the person the other record is;
//! - otherwise they are one person: an active record wins over inactive
//!   ones, and records that would give TimeCamp the same user are written
//!   once;
//! - active records of one person that differ (two groups, two names) stop
//!   prepare too: which is right is not known, and leaving both out would
//!   make the sync disable an account whose person is still in the source;
//! - inactive records of one person that differ are all left out: the
//!   account is disabled either way.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use scim_model::{Status, TimecampUser};

use crate::notes::{NoteReason, Notes, SameEmailOutcome};
use crate::record::Rec;
use crate::{EmailConflict, PrepareError};

/// The other records of an e-mail than the first, each with its user when
/// that differs from the first one's.
type Others = Vec<(usize, Option<TimecampUser>)>;

/// The prepared users so far, one per final e-mail.
pub(crate) struct Chosen<S = RandomState> {
    users: Vec<TimecampUser>,
    /// For each e-mail, the record it came from and its slot in `users`,
    /// found by the hash of the e-mail and compared with the e-mail of the
    /// user in the slot: the e-mail is not stored a second time (a record is
    /// held per person), nor the user (this was a third of the peak memory).
    at: HashTable<(usize, usize)>,
    /// By slot, the other records of its e-mail (rare: a map, not a field per
    /// slot), each with its user when that differs from the one in the slot.
    /// Decided on once every record is in, so that no order of the records
    /// changes what is written.
    others: HashMap<usize, Others>,
    hasher: S,
}

impl Chosen {
    /// Room for `capacity` users.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Chosen::with_hasher(RandomState::new(), capacity)
    }
}

impl<S: BuildHasher> Chosen<S> {
    pub(crate) fn with_hasher(hasher: S, capacity: usize) -> Self {
        Chosen {
            users: Vec::with_capacity(capacity),
            at: HashTable::with_capacity(capacity),
            others: HashMap::new(),
            hasher,
        }
    }

    /// Adds the user of record `i`; a second record of an e-mail is put
    /// aside for [`Chosen::into_users`].
    pub(crate) fn keep_one_per_email(&mut self, i: usize, user: TimecampUser) {
        let hash = self.hasher.hash_one(user.timecamp_email.as_str());
        let users = &self.users;
        let found = self.at.find(hash, |&(_, slot)| {
            users[slot].timecamp_email == user.timecamp_email
        });
        let Some(&(_, slot)) = found else {
            self.users.push(user);
            let (users, hasher) = (&self.users, &self.hasher);
            self.at
                .insert_unique(hash, (i, users.len() - 1), |&(_, slot)| {
                    hasher.hash_one(users[slot].timecamp_email.as_str())
                });
            return;
        };
        let differs = (user != self.users[slot]).then_some(user);
        self.others.entry(slot).or_default().push((i, differs));
    }

    /// The users, in the order their e-mails were first seen; an error when
    /// the records of an e-mail are of different people, or are active and
    /// differ.
    pub(crate) fn into_users(
        mut self,
        recs: &[Rec],
        notes: &mut Notes,
    ) -> Result<Vec<TimecampUser>, PrepareError> {
        if self.others.is_empty() {
            return Ok(self.users);
        }
        let first_by_slot: HashMap<usize, usize> = self
            .at
            .iter()
            .filter(|(_, slot)| self.others.contains_key(slot))
            .map(|&(rec, slot)| (slot, rec))
            .collect();
        let mut others: Vec<(usize, Others)> = self.others.drain().collect();
        others.sort_unstable_by_key(|(slot, _)| *slot);
        let mut conflicts = Vec::new();
        let mut dropped = vec![false; self.users.len()];
        for (slot, others) in others {
            let in_slot = &self.users[slot];
            // Every slot with others is in the table.
            let first = first_by_slot.get(&slot).copied().unwrap_or_default();
            let mut records: Vec<(usize, &TimecampUser)> = others
                .iter()
                .map(|(r, differs)| (*r, differs.as_ref().unwrap_or(in_slot)))
                .collect();
            records.push((first, in_slot));
            records.sort_unstable_by_key(|(r, _)| *r);
            match decide(recs, &records) {
                Decision::Conflict => conflicts.push(conflict(recs, &records)),
                Decision::Keep(winner) => {
                    note_kept(recs, &records, winner, notes);
                    let winner = records[winner].1.clone();
                    self.users[slot] = winner;
                }
                Decision::LeaveOut => {
                    dropped[slot] = true;
                    note_left_out(recs, &records, notes);
                }
            }
        }
        if !conflicts.is_empty() {
            conflicts.sort_unstable_by(|a: &EmailConflict, b| a.email.cmp(&b.email));
            return Err(PrepareError::SameEmail { conflicts });
        }
        let mut slot = 0;
        self.users.retain(|_| {
            slot += 1;
            !dropped[slot - 1]
        });
        Ok(self.users)
    }
}

/// Notes every record of an e-mail but the one kept.
fn note_kept(recs: &[Rec], records: &[(usize, &TimecampUser)], winner: usize, notes: &mut Notes) {
    let (kept, user) = records[winner];
    let active = user.timecamp_status == Status::Active;
    for (k, &(r, u)) in records.iter().enumerate() {
        if k == winner {
            continue;
        }
        let outcome = if active && u.timecamp_status != Status::Active {
            SameEmailOutcome::ActiveKept
        } else {
            SameEmailOutcome::Identical
        };
        notes.add(
            recs[r].label(),
            false,
            NoteReason::SameEmail {
                email: user.timecamp_email.clone(),
                other: recs[kept].label(),
                outcome,
            },
        );
    }
}

/// Notes every record of an e-mail none of which is written.
fn note_left_out(recs: &[Rec], records: &[(usize, &TimecampUser)], notes: &mut Notes) {
    for &(r, u) in records {
        let others = records
            .iter()
            .filter(|(o, _)| *o != r)
            .map(|(o, _)| recs[*o].label())
            .collect::<Vec<_>>()
            .join(", ");
        notes.add(
            recs[r].label(),
            false,
            NoteReason::SameEmail {
                email: u.timecamp_email.clone(),
                other: others,
                outcome: SameEmailOutcome::InactiveDiffer,
            },
        );
    }
}

/// What becomes of the records of one e-mail.
enum Decision {
    /// Stop prepare: different people, or one active person's two versions.
    Conflict,
    /// Write the user of the record at this index (of the file-ordered list).
    Keep(usize),
    /// Write none of them.
    LeaveOut,
}

/// The one rule for the records of one e-mail, `records` in file order. It
/// depends on the set of records only, not on their order: the index it
/// keeps is of a record equal to every other candidate.
fn decide(recs: &[Rec], records: &[(usize, &TimecampUser)]) -> Decision {
    let id = recs[records[0].0].id;
    if records.iter().any(|&(r, _)| recs[r].id != id) {
        return Decision::Conflict;
    }
    let active = |u: &TimecampUser| u.timecamp_status == Status::Active;
    let candidates: Vec<usize> = if records.iter().any(|(_, u)| active(u)) {
        (0..records.len())
            .filter(|&k| active(records[k].1))
            .collect()
    } else {
        (0..records.len()).collect()
    };
    let first = candidates[0];
    if candidates.iter().all(|&k| records[k].1 == records[first].1) {
        Decision::Keep(first)
    } else if active(records[first].1) {
        Decision::Conflict
    } else {
        Decision::LeaveOut
    }
}

/// The records of one e-mail that stop prepare (in file order): what the
/// admin needs to fix it.
fn conflict(recs: &[Rec], records: &[(usize, &TimecampUser)]) -> EmailConflict {
    let id = recs[records[0].0].id;
    let one_person = records.iter().all(|&(r, _)| recs[r].id == id);
    // For one person, only the active records are at odds.
    let at_odds: Vec<(usize, &TimecampUser)> = records
        .iter()
        .copied()
        .filter(|(_, u)| !one_person || u.timecamp_status == Status::Active)
        .collect();
    let first = at_odds[0].1;
    let mut differ = Vec::new();
    let mut check = |what: &'static str, same: &dyn Fn(&TimecampUser) -> bool| {
        if !at_odds.iter().all(|(_, u)| same(u)) {
            differ.push(what);
        }
    };
    check("external id", &|u| {
        u.timecamp_external_id == first.timecamp_external_id
    });
    check("name", &|u| {
        u.timecamp_user_name == first.timecamp_user_name
    });
    check("group", &|u| {
        u.timecamp_groups_breadcrumb == first.timecamp_groups_breadcrumb
    });
    check("role", &|u| u.timecamp_role == first.timecamp_role);
    check("status", &|u| u.timecamp_status == first.timecamp_status);
    check("additional e-mail", &|u| {
        u.timecamp_real_email == first.timecamp_real_email
    });
    EmailConflict {
        email: first.timecamp_email.clone(),
        records: at_odds
            .iter()
            .map(|&(r, u)| format!("{} {}", u.timecamp_status.as_str(), recs[r].label()))
            .collect(),
        external_ids: at_odds
            .iter()
            .map(|&(r, _)| recs[r].id.unwrap_or_default().to_owned())
            .collect(),
        one_person,
        differ,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrepareOptions;
    use crate::record::collect;
    use scim_model::SourceUser;

    /// Every e-mail hashes alike, so every one after the first is told apart
    /// by its text alone.
    #[derive(Default)]
    struct SameHash;

    impl std::hash::Hasher for SameHash {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }

    impl std::hash::BuildHasher for SameHash {
        type Hasher = SameHash;
        fn build_hasher(&self) -> SameHash {
            SameHash
        }
    }

    fn user(email: &str, status: Status) -> TimecampUser {
        TimecampUser {
            timecamp_external_id: None,
            timecamp_user_name: None,
            timecamp_email: email.into(),
            timecamp_groups_breadcrumb: None,
            timecamp_status: status,
            timecamp_role: None,
            timecamp_real_email: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn one_user_per_email_survives_hash_collisions() {
        let sources: Vec<SourceUser> = (0..5)
            .map(|n| SourceUser {
                email: Some(format!("p{n}@x.com")),
                ..SourceUser::default()
            })
            .collect();
        let opts = PrepareOptions::default();
        let mut notes = Notes::default();
        let recs: Vec<Rec> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| collect(s, i + 1, &opts, &mut notes))
            .collect();
        let mut chosen = Chosen::with_hasher(SameHash, 0);
        let mut named_c = user("c@x.com", Status::Inactive);
        named_c.timecamp_user_name = Some("C".into());
        for (i, u) in [
            user("a@x.com", Status::Inactive),
            user("b@x.com", Status::Active),
            user("a@x.com", Status::Active),
            user("c@x.com", Status::Inactive),
            named_c,
        ]
        .into_iter()
        .enumerate()
        {
            chosen.keep_one_per_email(i, u);
        }
        let kept: Vec<(String, Status)> = chosen
            .into_users(&recs, &mut notes)
            .unwrap()
            .into_iter()
            .map(|u| (u.timecamp_email, u.timecamp_status))
            .collect();
        assert_eq!(
            kept,
            [
                ("a@x.com".to_owned(), Status::Active),
                ("b@x.com".to_owned(), Status::Active)
            ],
            "the active a@ replaces the inactive one; the two inactive c@ that differ are left out"
        );
    }
}
