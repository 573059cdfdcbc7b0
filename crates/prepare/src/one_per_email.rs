//! One TimeCamp user per final e-mail address: an active record wins over an
//! inactive one, otherwise the later record wins (as in the original), and
//! the other is reported instead of vanishing.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use scim_model::{Status, TimecampUser};

use crate::notes::{NoteReason, Notes};
use crate::record::Rec;

/// The prepared users so far, one per final e-mail.
pub(crate) struct Chosen<S = RandomState> {
    users: Vec<TimecampUser>,
    /// For each e-mail, the record it came from and its slot in `users`,
    /// found by the hash of the e-mail and compared with the e-mail of the
    /// user in the slot: the e-mail is not stored a second time (a record is
    /// held per person), nor the user (this was a third of the peak memory).
    at: HashTable<(usize, usize)>,
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
            hasher,
        }
    }

    /// Adds the user of record `i`, or reports it or the one it replaces.
    pub(crate) fn keep_one_per_email(
        &mut self,
        recs: &[Rec],
        i: usize,
        user: TimecampUser,
        notes: &mut Notes,
    ) {
        let hash = self.hasher.hash_one(user.timecamp_email.as_str());
        let users = &self.users;
        let found = self.at.find_mut(hash, |&(_, slot)| {
            users[slot].timecamp_email == user.timecamp_email
        });
        let Some((prev, slot)) = found else {
            self.users.push(user);
            let (users, hasher) = (&self.users, &self.hasher);
            self.at
                .insert_unique(hash, (i, users.len() - 1), |&(_, slot)| {
                    hasher.hash_one(users[slot].timecamp_email.as_str())
                });
            return;
        };
        let slot = *slot;
        let prev_user = &self.users[slot];
        let new_wins = !(prev_user.timecamp_status == Status::Active
            && user.timecamp_status != Status::Active);
        let (winner, loser) = if new_wins { (i, *prev) } else { (*prev, i) };
        notes.add(
            recs[loser].label(),
            true,
            NoteReason::SameEmail {
                email: user.timecamp_email.clone(),
                kept: recs[winner].label(),
                active_wins: recs[winner].status != recs[loser].status,
            },
        );
        if new_wins {
            *prev = i;
            self.users[slot] = user;
        }
    }

    /// The users, in the order they were first kept.
    pub(crate) fn into_users(self) -> Vec<TimecampUser> {
        self.users
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
        let sources: Vec<SourceUser> = (0..4)
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
        for (i, (email, status)) in [
            ("a@x.com", Status::Inactive),
            ("b@x.com", Status::Active),
            ("a@x.com", Status::Active),
            ("b@x.com", Status::Inactive),
        ]
        .into_iter()
        .enumerate()
        {
            chosen.keep_one_per_email(&recs, i, user(email, status), &mut notes);
        }
        let kept: Vec<(&str, Status)> = chosen
            .users
            .iter()
            .map(|u| (u.timecamp_email.as_str(), u.timecamp_status))
            .collect();
        assert_eq!(
            kept,
            [("a@x.com", Status::Active), ("b@x.com", Status::Active)],
            "the later active a@ replaces the inactive one; the inactive b@ does not replace the active one"
        );
        let same: Vec<&NoteReason> = notes
            .0
            .iter()
            .map(|n| &n.reason)
            .filter(|r| matches!(r, NoteReason::SameEmail { .. }))
            .collect();
        assert_eq!(same.len(), 2);
    }
}
