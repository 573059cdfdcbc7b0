//! The order a plan is applied in, worked out before any request: pure, so
//! it is tested on plans alone.
//!
//! New groups go first, level by level. Then each user's first changes
//! (marked as managed by the sync, re-enabled, renamed, a new login,
//! disabled), users in parallel, in waves: a login change that needs an
//! address another user's change frees runs in a later wave than that one.
//! Then the invitations (an address freed by a login change is free by
//! then), then the moves and the role changes, which TimeCamp takes for
//! several users in one request (`PUT group/{id}/user` with a list), then
//! each user's settings (additional e-mail, external id). One user's changes
//! keep the plan's order across the stages.

use std::collections::{BTreeMap, HashMap};

use crate::plan::{Change, GroupRef, Plan};

/// The order a plan is applied in, as indexes into `plan.changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Group creations by depth among the new groups: a level runs after the
    /// one before it, its creations in parallel.
    pub group_levels: Vec<Vec<usize>>,
    /// The users this plan creates: invited in batches per group, after the
    /// login changes. (What the invite cannot set follows once TimeCamp
    /// lists them.)
    pub invites: Vec<usize>,
    /// The existing users' changes, in stages.
    pub users: Stages,
}

/// One group of users' changes in the order the stages run them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stages {
    /// Waves of per-user sequences (marked as managed, re-enable, rename,
    /// login, disable): a wave runs after the one before it, its users in
    /// parallel, each sequence in order.
    pub first: Vec<Vec<Vec<usize>>>,
    /// Moves and moves into the disabled-users group: batched by (from, to).
    pub moves: Vec<usize>,
    /// Role changes: batched by (group, role).
    pub roles: Vec<usize>,
    /// Per-user sequences of the settings (additional e-mail, external id).
    pub last: Vec<Vec<usize>>,
}

impl Stages {
    /// Every change the stages hold.
    pub fn len(&self) -> usize {
        self.first.iter().flatten().map(Vec::len).sum::<usize>()
            + self.moves.len()
            + self.roles.len()
            + self.last.iter().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which stage a change of an existing user runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    First,
    Move,
    Role,
    Last,
}

fn stage(change: &Change) -> Stage {
    match change {
        Change::Move { .. } | Change::MoveToDisabledGroup { .. } => Stage::Move,
        Change::SetRole { .. } => Stage::Role,
        Change::SetAdditionalEmail { .. } | Change::SetExternalId { .. } => Stage::Last,
        _ => Stage::First,
    }
}

/// Splits a plan into group levels, invitations and the users' stages.
pub fn schedule(plan: &Plan) -> Schedule {
    let mut out = Schedule::default();
    let mut depth: HashMap<usize, usize> = HashMap::new();
    let mut users = Vec::new();
    for (i, change) in plan.changes.iter().enumerate() {
        match change {
            Change::CreateGroup { key, parent, .. } => {
                let d = match parent {
                    GroupRef::New(p) => depth.get(p).map_or(0, |d| d + 1),
                    GroupRef::Existing(_) => 0,
                };
                depth.insert(*key, d);
                if out.group_levels.len() <= d {
                    out.group_levels.resize(d + 1, Vec::new());
                }
                out.group_levels[d].push(i);
            }
            Change::CreateUser(_) => out.invites.push(i),
            _ => users.push(i),
        }
    }
    out.users = stages(&plan.changes, &users);
    out
}

/// The stages of `indexes` (changes of existing users, in plan order).
pub fn stages(changes: &[Change], indexes: &[usize]) -> Stages {
    // Per user, in order of first appearance: (first, last) sequences.
    let mut order: Vec<u64> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut firsts: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut lasts: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut out = Stages::default();
    for &i in indexes {
        let Some(user) = changes[i].user().map(|u| u.id) else {
            continue;
        };
        if seen.insert(user) {
            order.push(user);
        }
        match stage(&changes[i]) {
            Stage::First => firsts.entry(user).or_default().push(i),
            Stage::Move => out.moves.push(i),
            Stage::Role => out.roles.push(i),
            Stage::Last => lasts.entry(user).or_default().push(i),
        }
    }
    let waves = login_waves(changes, indexes);
    for user in &order {
        if let Some(sequence) = firsts.remove(user) {
            let wave = waves.get(user).copied().unwrap_or(0);
            if out.first.len() <= wave {
                out.first.resize(wave + 1, Vec::new());
            }
            out.first[wave].push(sequence);
        }
        if let Some(sequence) = lasts.remove(user) {
            out.last.push(sequence);
        }
    }
    out
}

/// The wave of each user with a login change: one more than the user whose
/// change frees the address. The planner never plans a circle; a wait for a
/// user without a login change in the plan counts as none.
fn login_waves(changes: &[Change], indexes: &[usize]) -> HashMap<u64, usize> {
    let after: BTreeMap<u64, Option<u64>> = indexes
        .iter()
        .filter_map(|&i| match &changes[i] {
            Change::SetEmail { user, after, .. } => Some((user.id, *after)),
            _ => None,
        })
        .collect();
    let mut waves = HashMap::new();
    for &user in after.keys() {
        // Follow the chain; its length is bounded by the number of users.
        let mut wave = 0;
        let mut at = user;
        while let Some(Some(next)) = after.get(&at) {
            if !after.contains_key(next) || wave > after.len() {
                break;
            }
            wave += 1;
            at = *next;
        }
        waves.insert(user, wave);
    }
    waves
}

/// The user whose login change must be done before change `i` (a login
/// change or an invitation), if any.
pub fn waits_for(change: &Change) -> Option<u64> {
    match change {
        Change::SetEmail { after, .. } => *after,
        Change::CreateUser(new) => new.after,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{LeaveReason, NewUser, UserRef};
    use scim_model::Role;

    fn user(id: u64) -> UserRef {
        UserRef {
            id,
            email: format!("u{id}@x.com"),
        }
    }

    fn group(key: usize, parent: GroupRef) -> Change {
        Change::CreateGroup {
            key,
            path: format!("g{key}"),
            name: format!("g{key}"),
            parent,
        }
    }

    fn login(id: u64, after: Option<u64>) -> Change {
        Change::SetEmail {
            user: user(id),
            from: "old@x.com".into(),
            to: format!("new{id}@x.com"),
            after,
        }
    }

    #[test]
    fn groups_by_depth_users_in_stages_each_in_plan_order() {
        let plan = Plan {
            changes: vec![
                group(0, GroupRef::Existing(10)),
                group(1, GroupRef::New(0)),
                group(2, GroupRef::Existing(10)),
                group(3, GroupRef::New(1)),
                Change::ResetAddedManually { user: user(7) },
                Change::Disable {
                    user: user(8),
                    reason: LeaveReason::NotInSource,
                },
                Change::Rename {
                    user: user(7),
                    from: None,
                    to: "A".into(),
                },
                Change::Move {
                    user: user(7),
                    from: 10,
                    to: GroupRef::New(3),
                    to_path: "g0/g1/g3".into(),
                },
                Change::SetRole {
                    user: user(7),
                    group: GroupRef::New(3),
                    from: None,
                    to: Role::Supervisor,
                },
                Change::SetExternalId {
                    user: user(7),
                    from: None,
                    to: "E7".into(),
                },
                Change::MoveToDisabledGroup {
                    user: user(8),
                    from: 10,
                    to: 99,
                },
                Change::CreateUser(NewUser {
                    email: "n@x.com".into(),
                    name: "N".into(),
                    group: GroupRef::New(3),
                    group_path: "g0/g1/g3".into(),
                    role: Role::User,
                    additional_email: None,
                    external_id: None,
                    after: None,
                }),
            ],
            ..Plan::default()
        };
        let s = schedule(&plan);
        assert_eq!(s.group_levels, [vec![0, 2], vec![1], vec![3]]);
        assert_eq!(s.invites, [11]);
        assert_eq!(s.users.first, [vec![vec![4, 6], vec![5]]]);
        assert_eq!(s.users.moves, [7, 10]);
        assert_eq!(s.users.roles, [8]);
        assert_eq!(s.users.last, [vec![9]]);
        assert_eq!(s.users.len(), 7);
    }

    #[test]
    fn a_login_change_runs_a_wave_after_the_one_that_frees_its_address() {
        // 1 takes 2's address, 2 takes 3's, 3 moves to a free one; 4 waits for nobody.
        let plan = Plan {
            changes: vec![
                login(1, Some(2)),
                login(2, Some(3)),
                login(3, None),
                login(4, None),
            ],
            ..Plan::default()
        };
        let s = schedule(&plan);
        assert_eq!(
            s.users.first,
            [vec![vec![2], vec![3]], vec![vec![1]], vec![vec![0]]]
        );
    }
}
