//! The pure parts of the tools, separate from their I/O so they are tested
//! without a server: the group-tree preview of display-tree ([`tree`]) and the
//! choice of groups remove-empty-groups deletes ([`empty`]).

pub mod empty;
pub mod tree;
