//! The user sources of timecamp-scim. Each fetcher reads its system into
//! `SourceUser` values; the binaries save them with the shared write path,
//! which refuses an empty list and never leaves half a file. The HTTP
//! sources call their services through the one HTTP layer, `scim-http`
//! (timeouts, retries, paging, size limits, errors that name the setting).

pub mod azuread;
pub mod bamboohr;
pub mod chain;
pub mod csv_file;
pub mod departments;
pub mod factorial;
pub mod fields;
pub mod google;
pub mod hibob;
pub mod jwt;
pub mod ldap;
pub mod ldap_map;
pub mod netsuite;
pub mod oauth;
pub mod okta;
pub mod people;
pub mod personio;
