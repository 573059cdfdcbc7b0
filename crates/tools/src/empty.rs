//! remove-empty-groups: which groups under the root group can go.
//!
//! A group is removed when it has no user (enabled or disabled), every one of
//! its subgroups is removed too, and it is neither the root group, the
//! disabled-users group, nor a group `timecamp_users.json` still needs. The
//! order is bottom-up (children before parents), so a chain of empty groups
//! goes in one run. Groups outside the root's subtree are never considered
//! (the original looked at the whole account, Q-14).

use std::collections::{HashMap, HashSet};

use scim_timecamp::Group;

/// A group to delete, with its path under the root for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyGroup {
    pub id: u64,
    pub path: String,
}

/// The groups to delete, children before their parents.
pub fn empty_groups(
    groups: &[Group],
    occupied: &HashSet<u64>,
    root: u64,
    disabled_users_group: Option<u64>,
    needed_breadcrumbs: &[String],
) -> Vec<EmptyGroup> {
    let mut children: HashMap<u64, Vec<&Group>> = HashMap::new();
    for g in groups.iter().filter(|g| g.group_id != g.parent_id) {
        children.entry(g.parent_id).or_default().push(g);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| {
            a.name
                .trim()
                .cmp(b.name.trim())
                .then(a.group_id.cmp(&b.group_id))
        });
    }

    let mut protected: HashSet<u64> = HashSet::from([root]);
    protected.extend(disabled_users_group);
    for crumb in needed_breadcrumbs {
        let mut at = root;
        for part in crumb.split('/').map(str::trim).filter(|p| !p.is_empty()) {
            let Some(next) = children
                .get(&at)
                .and_then(|c| c.iter().find(|g| g.name.trim() == part))
            else {
                break;
            };
            protected.insert(next.group_id);
            at = next.group_id;
        }
    }

    // Post-order walk of the root's subtree, without recursion (deep trees are fine).
    let mut out = Vec::new();
    let mut removable: HashSet<u64> = HashSet::new();
    let mut seen: HashSet<u64> = HashSet::from([root]);
    let mut stack: Vec<(u64, String, bool)> = vec![(root, String::new(), false)];
    while let Some((id, path, expanded)) = stack.pop() {
        let kids = children.get(&id).map(Vec::as_slice).unwrap_or_default();
        if !expanded {
            stack.push((id, path.clone(), true));
            for g in kids.iter().rev() {
                // `seen` guards against a parent cycle in the account's data.
                if seen.insert(g.group_id) {
                    let child_path = if path.is_empty() {
                        g.name.trim().to_owned()
                    } else {
                        format!("{path}/{}", g.name.trim())
                    };
                    stack.push((g.group_id, child_path, false));
                }
            }
            continue;
        }
        let kids_gone = kids.iter().all(|g| removable.contains(&g.group_id));
        if kids_gone && !occupied.contains(&id) && !protected.contains(&id) {
            removable.insert(id);
            out.push(EmptyGroup { id, path });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(id: u64, name: &str, parent: u64) -> Group {
        Group {
            group_id: id,
            name: name.into(),
            parent_id: parent,
        }
    }

    fn ids(v: &[EmptyGroup]) -> Vec<u64> {
        v.iter().map(|e| e.id).collect()
    }

    #[test]
    fn a_chain_of_empty_groups_goes_bottom_up_in_one_run() {
        let groups = [
            g(1, "Top", 0),
            g(10, "Root", 1),
            g(11, "A", 10),
            g(12, "B", 11),
            g(13, "C", 12),
        ];
        let out = empty_groups(&groups, &HashSet::new(), 10, None, &[]);
        assert_eq!(ids(&out), [13, 12, 11]);
        assert_eq!(out[0].path, "A/B/C");
    }

    #[test]
    fn groups_with_users_or_needed_ones_stay_with_their_parents() {
        let groups = [
            g(10, "Root", 0),
            g(11, "Eng", 10),
            g(12, "Backend", 11),
            g(13, "Sales", 10),
            g(14, "EMEA", 13),
            g(15, "Old", 10),
            g(99, "Disabled", 10),
        ];
        let occupied = HashSet::from([12]);
        let out = empty_groups(&groups, &occupied, 10, Some(99), &["Sales / EMEA".into()]);
        assert_eq!(ids(&out), [15]);
    }

    #[test]
    fn groups_outside_the_root_subtree_are_never_touched() {
        let groups = [
            g(1, "Top", 0),
            g(2, "Elsewhere", 1),
            g(10, "Root", 1),
            g(11, "Empty", 10),
        ];
        let out = empty_groups(&groups, &HashSet::new(), 10, None, &[]);
        assert_eq!(ids(&out), [11]);
    }

    #[test]
    fn a_parent_cycle_does_not_hang() {
        let groups = [
            g(10, "Root", 0),
            g(11, "A", 12),
            g(12, "B", 11),
            g(13, "C", 10),
        ];
        let out = empty_groups(&groups, &HashSet::new(), 10, None, &[]);
        assert_eq!(ids(&out), [13]);
    }
}
