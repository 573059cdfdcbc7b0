//! The bounds on what a client may send and keep, in one place (the docs
//! list them). Each protects memory or time against a broken or hostile
//! client; none is near what Entra ID or Okta send.

/// Most bytes of a `filter` (Entra's and Okta's lookups are well under 200).
pub const MAX_FILTER_BYTES: usize = 8 * 1024;
/// Most bytes of a PATCH `path`.
pub const MAX_PATH_BYTES: usize = 1024;
/// Most operations in one PATCH request.
pub const MAX_PATCH_OPERATIONS: usize = 1000;
/// Most resources one page of a list holds (`count` above it is lowered to it).
pub const MAX_PAGE: usize = 1000;
/// Resources on a page when the client does not say (`count` absent).
pub const DEFAULT_PAGE: usize = 100;
/// Most users the endpoint keeps (deleted ones included).
pub const MAX_USERS: usize = 100_000;
/// Most groups the endpoint keeps.
pub const MAX_GROUPS: usize = 10_000;
/// Most bytes of one user, as JSON.
pub const MAX_USER_BYTES: usize = 64 * 1024;
/// Most members of one group.
pub const MAX_MEMBERS: usize = 100_000;
/// Most members of all groups together (100,000 users in 10 groups each);
/// without it, 10,000 groups of 100,000 members would be a billion.
pub const MAX_MEMBERSHIPS: usize = 1_000_000;
/// Most bytes of one group without its members, as JSON.
pub const MAX_GROUP_BYTES: usize = 64 * 1024;
/// Most values of a multi-valued attribute of a user (e-mails, phone numbers, ...).
pub const MAX_VALUES: usize = 100;
