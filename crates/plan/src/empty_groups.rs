//! remove-empty-groups: which groups under the root group can go.
//!
//! A group is removed when it has no user (enabled or disabled), every one of
//! its subgroups is removed too, and it is neither the root group, the
//! disabled-users group, nor a group `timecamp_users.json` still needs. The
//! order is bottom-up (children before parents), so a chain of empty groups
//! goes in one run. Groups outside the root's subtree are never considered
//! (the original looked at the whole account).

use std::collections::HashSet;

use scim_groups::{GroupNode, GroupTree};
use scim_model::timecamp::Group;

/// A group to delete, with its path under the root for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyGroup {
    pub id: u64,
    pub path: String,
}

/// The groups to delete, children before their parents. Paths resolve through
/// the same [`GroupTree`] as the sync's, so a group the sync fills is one this
/// keeps, also among same-named siblings.
pub fn empty_groups(
    groups: &[Group],
    occupied: &HashSet<u64>,
    root: u64,
    disabled_users_group: Option<u64>,
    needed_breadcrumbs: &[String],
) -> Vec<EmptyGroup> {
    let tree = GroupTree::new(groups.iter().map(|g| GroupNode {
        id: g.group_id,
        parent: g.parent_id,
        name: g.name.clone(),
    }));
    let mut protected: HashSet<u64> = HashSet::from([root]);
    protected.extend(disabled_users_group);
    for crumb in needed_breadcrumbs {
        protected.extend(tree.resolve(root, crumb).found);
    }

    let mut removable: HashSet<u64> = HashSet::new();
    let mut out = Vec::new();
    for id in tree.below_post_order(root) {
        let kids_gone = tree.children(id).iter().all(|c| removable.contains(c));
        if kids_gone && !occupied.contains(&id) && !protected.contains(&id) {
            removable.insert(id);
            out.push(EmptyGroup {
                id,
                path: tree.path_below(root, id).unwrap_or_else(|| {
                    format!(
                        "group {id}, more than {} levels below the root",
                        scim_groups::MAX_PATH_DEPTH
                    )
                }),
            });
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
    fn of_same_named_siblings_the_one_paths_lead_to_is_kept() {
        // Listed in any order, "Sales" means group 20 for the sync and here alike.
        let groups = [g(10, "Root", 0), g(30, "Sales", 10), g(20, "Sales", 10)];
        let out = empty_groups(&groups, &HashSet::new(), 10, None, &["Sales".into()]);
        assert_eq!(ids(&out), [30]);
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
