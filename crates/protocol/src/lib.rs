//! SCIM 2.0 (RFC 7643, RFC 7644) for `scim-server`, as data and pure
//! functions: no I/O, no async runtime, so every rule is tested on values.
//!
//! - [`schema`]: the schemas served, declared once; `/Schemas`,
//!   `/ResourceTypes` and `/ServiceProviderConfig` are rendered from them,
//!   and reading, filtering and answering follow them;
//! - [`resource`]: a client's resource read into canonical form (names in any
//!   case, Entra ID's string booleans), and attribute selection on answers;
//! - [`filter`]: filters parsed by `scim_v2`'s bounded grammar, checked
//!   against the schema and evaluated with the RFC's case rules;
//! - [`patch`]: PATCH read whole, then applied all or nothing;
//! - [`population`]: the pushed users and groups, their ids and invariants,
//!   and the saved form that survives restarts;
//! - [`source`]: the population as the records of `var/users.json`, the file
//!   every fetcher writes, so the usual prepare and sync run on it;
//! - [`limits`]: every bound on what a client may send or keep.
//!
//! `scim_v2` provides the filter and PATCH-path grammar, which bounds depth
//! and the number of terms while it parses; what a path means, how values
//! compare and how PATCH applies are this crate's, against its own schema
//! tables, so what `/Schemas` publishes is what the endpoint does.

pub mod error;
pub mod filter;
pub mod limits;
pub mod patch;
pub mod path;
pub mod population;
pub mod resource;
pub mod schema;
pub mod source;

pub use error::{ScimError, ScimType};
pub use population::{LoadError, Loaded, Population, Query, Stamp, Stored, Synced};
pub use resource::Selection;
pub use schema::Kind;
pub use source::{Derived, GroupSource, Note, source_users};
