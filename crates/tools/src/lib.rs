//! The pure part of display-tree, separate from its I/O so it is tested
//! without a server: the group-tree preview ([`tree`]). The choice of groups
//! remove-empty-groups deletes is a plan of changes to TimeCamp, with the
//! other planners in `scim-plan`.

pub mod tree;
