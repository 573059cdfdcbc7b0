//! Test helpers shared by the integration suites.
//!
//! - [`Project`]: a throw-away working directory in which a stage binary runs with
//!   exactly the environment the test gives it.
//! - [`FakeTimecamp`]: a stateful TimeCamp API on loopback that behaves like the
//!   real one as `apis.md` describes it (string ids, an invite that does not return
//!   the user, throttling, the group depth limit), with switches for faults.
//! - [`FakeBambooHr`]: BambooHR's dataset API, paged, filtered and throttled.
//! - [`FakeFactorial`]: Factorial's teams, employees and leaves, cursor-paged.
//! - [`FakeGraph`]: Entra ID's token endpoint and Microsoft Graph users and groups.
//! - [`MotoServer`]: a real S3-compatible server (moto) on loopback.
//! - [`Slapd`]: a real OpenLDAP server on loopback, with TLS and `memberOf`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_bamboohr;
mod fake_factorial;
mod fake_graph;
mod fake_timecamp;
mod moto;
mod project;
mod slapd;

pub use fake_bamboohr::{BAMBOOHR_KEY, BAMBOOHR_SUBDOMAIN, FakeBambooHr};
pub use fake_factorial::{FACTORIAL_KEY, FakeFactorial};
pub use fake_graph::{AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT, FakeGraph};
pub use fake_timecamp::{FakeTimecamp, Recorded, TOKEN};
pub use moto::MotoServer;
pub use project::{Project, Run};
pub use slapd::{
    LDAP_ADMIN_DN, LDAP_ADMIN_PASSWORD, LDAP_BASE, LDAP_READER_DN, LDAP_READER_PASSWORD, Slapd,
};
