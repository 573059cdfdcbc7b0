//! TimeCamp's group tree, and the one rule for group paths.
//!
//! Every stage that turns a path like `Eng / Backend` into groups goes through
//! here: prepare writes paths, display-tree draws them, sync-users resolves
//! them to groups it moves people into, remove-empty-groups resolves them to
//! groups it must keep. When two of them resolved paths their own way, they
//! disagreed on sibling groups with the same name, and remove-empty-groups
//! could delete the group the sync had just filled. Now both ask one
//! [`GroupTree`], which picks the same group every time.
//!
//! It also holds the one depth limit of group paths ([`MAX_PATH_DEPTH`],
//! checked by [`check_depth`]): prepare refuses to write a deeper path, the
//! sync refuses to plan one, display-tree to draw one. Nothing here recurses,
//! so a deep tree from elsewhere (a hostile server's groups) cannot overflow
//! the stack either.
//!
//! No I/O and no dependencies: the tree is built from `(id, parent, name)`.

use std::collections::{HashMap, HashSet};

/// The most levels a group path may have, in every stage. TimeCamp itself
/// nests groups four levels deep; a path of more than 32 is bad data (a
/// department field holding a whole history, a loop written out), and
/// refusing it keeps every stage's time and memory linear in the input.
pub const MAX_PATH_DEPTH: usize = 32;

/// A group path deeper than [`MAX_PATH_DEPTH`], and the record that has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTooDeep {
    /// Which record, as the caller names it (`record #3 (ann@x.com)`).
    pub record: String,
    /// How many levels the path has.
    pub levels: usize,
}

impl std::fmt::Display for PathTooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the group path has {} levels, more than the {MAX_PATH_DEPTH} a group path may \
             have; check the department (or supervisor) values of this person in the source",
            self.record, self.levels
        )
    }
}

impl std::error::Error for PathTooDeep {}

/// The depth rule of every stage: `path` may have at most [`MAX_PATH_DEPTH`]
/// levels. `record` names the record holding it, asked only when it is too deep.
pub fn check_depth(path: &str, record: impl FnOnce() -> String) -> Result<(), PathTooDeep> {
    let levels = path_parts(path).count();
    if levels > MAX_PATH_DEPTH {
        return Err(PathTooDeep {
            record: record(),
            levels,
        });
    }
    Ok(())
}

/// The parts of a group path: split on `/`, each trimmed, empty ones dropped.
/// `" Eng //  Backend "` is `["Eng", "Backend"]`; `""` is the root itself.
pub fn path_parts(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').map(str::trim).filter(|p| !p.is_empty())
}

/// A path in its one written form: `Eng/Backend`.
pub fn normalise_path(path: &str) -> String {
    path_parts(path).collect::<Vec<_>>().join("/")
}

/// One group as the account lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNode {
    pub id: u64,
    pub parent: u64,
    pub name: String,
}

/// Sibling groups with the same (trimmed) name. Paths lead to `chosen`, the
/// one with the smallest id, whatever order the account lists them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateName {
    pub parent: u64,
    pub name: String,
    pub chosen: u64,
    pub others: Vec<u64>,
}

impl std::fmt::Display for DuplicateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let others: Vec<String> = self.others.iter().map(u64::to_string).collect();
        write!(
            f,
            "groups {} and {} under group {} are all named {:?}; paths lead to {}, the others \
             are left alone",
            self.chosen,
            others.join(", "),
            self.parent,
            self.name,
            self.chosen
        )
    }
}

/// How far a path resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<'p> {
    /// The groups along the path that exist, from the top; empty when even
    /// the first part is missing.
    pub found: Vec<u64>,
    /// The parts below the last found group that do not exist yet.
    pub missing: Vec<&'p str>,
}

impl Resolved<'_> {
    /// The group the whole path names, when it exists.
    pub fn group(&self, start: u64) -> Option<u64> {
        self.missing
            .is_empty()
            .then(|| self.found.last().copied().unwrap_or(start))
    }
}

/// The account's groups, indexed for path lookups.
#[derive(Debug, Clone, Default)]
pub struct GroupTree {
    nodes: HashMap<u64, GroupNode>,
    /// parent → children, sorted by (trimmed name, id).
    children: HashMap<u64, Vec<u64>>,
    duplicates: Vec<DuplicateName>,
}

impl GroupTree {
    pub fn new(groups: impl IntoIterator<Item = GroupNode>) -> Self {
        let mut nodes: HashMap<u64, GroupNode> = HashMap::new();
        for g in groups {
            nodes.insert(g.id, g);
        }
        let mut children: HashMap<u64, Vec<u64>> = HashMap::new();
        // A group listed as its own parent is a root of nothing, not a loop.
        for g in nodes.values().filter(|g| g.parent != g.id) {
            children.entry(g.parent).or_default().push(g.id);
        }
        let key = |id: &u64| (nodes[id].name.trim().to_owned(), *id);
        for list in children.values_mut() {
            list.sort_by_key(key);
        }
        let mut duplicates = Vec::new();
        let mut parents: Vec<&u64> = children.keys().collect();
        parents.sort();
        for parent in parents {
            let list = &children[parent];
            let mut i = 0;
            while i < list.len() {
                let name = nodes[&list[i]].name.trim();
                let same: Vec<u64> = list[i..]
                    .iter()
                    .take_while(|id| nodes[id].name.trim() == name)
                    .copied()
                    .collect();
                if same.len() > 1 {
                    duplicates.push(DuplicateName {
                        parent: *parent,
                        name: name.to_owned(),
                        chosen: same[0],
                        others: same[1..].to_vec(),
                    });
                }
                i += same.len();
            }
        }
        Self {
            nodes,
            children,
            duplicates,
        }
    }

    pub fn contains(&self, id: u64) -> bool {
        self.nodes.contains_key(&id)
    }

    pub fn name(&self, id: u64) -> Option<&str> {
        self.nodes.get(&id).map(|g| g.name.trim())
    }

    pub fn parent(&self, id: u64) -> Option<u64> {
        self.nodes.get(&id).map(|g| g.parent)
    }

    /// Every set of same-named siblings, once each.
    pub fn duplicates(&self) -> &[DuplicateName] {
        &self.duplicates
    }

    /// The children of a group, by name then id.
    pub fn children(&self, id: u64) -> &[u64] {
        self.children
            .get(&id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The child of `parent` named `name` (trimmed; the smallest id among same-named ones).
    pub fn child(&self, parent: u64, name: &str) -> Option<u64> {
        let name = name.trim();
        self.children(parent)
            .iter()
            .copied()
            .find(|id| self.nodes[id].name.trim() == name)
    }

    /// Follows `path` down from `start` as far as its groups exist.
    pub fn resolve<'p>(&self, start: u64, path: &'p str) -> Resolved<'p> {
        let mut found = Vec::new();
        let mut at = start;
        let mut parts = path_parts(path);
        for part in parts.by_ref() {
            match self.child(at, part) {
                Some(next) => {
                    found.push(next);
                    at = next;
                }
                None => {
                    let mut missing = vec![part];
                    missing.extend(parts);
                    return Resolved { found, missing };
                }
            }
        }
        Resolved {
            found,
            missing: Vec::new(),
        }
    }

    /// The level of a group, the account's top group being 1. A parent cycle
    /// in the account's data ends the count instead of hanging.
    pub fn level(&self, id: u64) -> usize {
        let mut level = 0;
        let mut seen = HashSet::new();
        let mut at = id;
        while let Some(g) = self.nodes.get(&at) {
            if !seen.insert(at) {
                break;
            }
            level += 1;
            at = g.parent;
        }
        level
    }

    /// The path of `id` below `root` (`""` for the root), if `id` is in its
    /// subtree at most [`MAX_PATH_DEPTH`] levels down. A deeper group has no
    /// path any stage would write, and building one for each group of a deep
    /// chain would take time and memory growing with the square of its depth.
    pub fn path_below(&self, root: u64, id: u64) -> Option<String> {
        let mut parts = Vec::new();
        let mut at = id;
        while at != root {
            // Also ends a parent cycle: it never reaches the root.
            if parts.len() == MAX_PATH_DEPTH {
                return None;
            }
            let g = self.nodes.get(&at)?;
            parts.push(g.name.trim());
            at = g.parent;
        }
        parts.reverse();
        Some(parts.join("/"))
    }

    /// The subtree below `root` (not `root` itself), children before their
    /// parents. Without recursion, and safe against parent cycles.
    pub fn below_post_order(&self, root: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut seen: HashSet<u64> = HashSet::from([root]);
        let mut stack: Vec<(u64, bool)> = vec![(root, false)];
        while let Some((id, expanded)) = stack.pop() {
            if expanded {
                if id != root {
                    out.push(id);
                }
                continue;
            }
            stack.push((id, true));
            for &child in self.children(id).iter().rev() {
                if seen.insert(child) {
                    stack.push((child, false));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(id: u64, name: &str, parent: u64) -> GroupNode {
        GroupNode {
            id,
            parent,
            name: name.into(),
        }
    }

    #[test]
    fn paths_are_split_trimmed_and_empty_parts_dropped() {
        assert_eq!(
            path_parts(" Eng //  Backend ").collect::<Vec<_>>(),
            ["Eng", "Backend"]
        );
        assert_eq!(normalise_path("Sales / EMEA "), "Sales/EMEA");
        assert_eq!(path_parts("").count(), 0);
    }

    #[test]
    fn same_named_siblings_resolve_to_the_smallest_id_in_any_listing_order() {
        for order in [[30, 20, 40], [20, 30, 40], [40, 30, 20]] {
            let tree = GroupTree::new(
                [g(10, "Root", 0)]
                    .into_iter()
                    .chain(order.iter().map(|&id| g(id, " Sales ", 10))),
            );
            assert_eq!(tree.child(10, "Sales"), Some(20), "{order:?}");
            assert_eq!(tree.duplicates().len(), 1);
            assert_eq!(tree.duplicates()[0].others, [30, 40]);
        }
    }

    #[test]
    fn resolve_reports_the_existing_prefix_and_the_missing_rest() {
        let tree = GroupTree::new([g(10, "Root", 0), g(11, "Eng", 10), g(12, "Backend", 11)]);
        let r = tree.resolve(10, "Eng / Backend");
        assert_eq!((r.found.as_slice(), r.group(10)), (&[11, 12][..], Some(12)));
        let r = tree.resolve(10, "Eng/Frontend/Web");
        assert_eq!(r.found, [11]);
        assert_eq!(r.missing, ["Frontend", "Web"]);
        assert_eq!(r.group(10), None);
        assert_eq!(tree.resolve(10, "").group(10), Some(10));
    }

    #[test]
    fn levels_paths_and_post_order_survive_parent_cycles() {
        let tree = GroupTree::new([
            g(1, "Top", 0),
            g(10, "Root", 1),
            g(11, "A", 10),
            g(12, "B", 11),
            g(20, "X", 21),
            g(21, "Y", 20),
        ]);
        assert_eq!(tree.level(12), 4);
        assert!(tree.level(20) <= 2);
        assert_eq!(tree.path_below(10, 12).as_deref(), Some("A/B"));
        assert_eq!(tree.path_below(10, 20), None);
        assert_eq!(tree.below_post_order(10), [12, 11]);
        assert_eq!(tree.below_post_order(20), [21]);
    }

    #[test]
    fn paths_deeper_than_the_limit_are_refused_naming_the_record() {
        let limit = vec!["L"; MAX_PATH_DEPTH].join("/");
        assert_eq!(check_depth(&limit, || unreachable!()), Ok(()));
        let deep = vec!["L"; 20_000].join(" / ");
        let err = check_depth(&deep, || "record #7 (deep@x.com)".into()).unwrap_err();
        assert_eq!(err.levels, 20_000);
        assert!(
            err.to_string()
                .starts_with("record #7 (deep@x.com): the group path has 20000 levels"),
            "{err}"
        );
    }

    #[test]
    fn a_chain_of_twenty_thousand_groups_is_walked_without_recursion() {
        let depth = 20_000;
        let tree = GroupTree::new(
            std::iter::once(g(1, "Root", 0)).chain((2..=depth).map(|id| g(id, "G", id - 1))),
        );
        assert_eq!(tree.level(depth), depth as usize);
        assert_eq!(tree.below_post_order(1).len(), depth as usize - 1);
        assert_eq!(
            tree.path_below(1, 1 + MAX_PATH_DEPTH as u64)
                .map(|p| p.split('/').count()),
            Some(MAX_PATH_DEPTH)
        );
        assert_eq!(tree.path_below(1, depth), None, "deeper than any path");
        let deep_path = vec!["G"; depth as usize - 1].join("/");
        assert_eq!(tree.resolve(1, &deep_path).group(1), Some(depth));
    }
}
