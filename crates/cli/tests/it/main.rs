//! The stages as an admin runs them: each binary started in a throw-away
//! directory against real servers (fakes of TimeCamp and the HR systems over
//! HTTP, slapd, moto, an openssl TLS server). One test binary for the crate,
//! so the heavy dependencies link once; each module is one area.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic by design

mod browser;
mod deployment;
mod error_chains;
mod fetch_azuread;
mod fetch_bamboohr;
mod fetch_csv;
mod fetch_google;
mod fetch_hibob;
mod fetch_ldap;
mod fetch_netsuite;
mod fetch_okta;
mod fetch_personio;
mod hostile_input;
mod http_errors;
mod http_service;
mod http_service_limits;
mod identity;
mod no_dotenv;
mod panic_hook;
mod prepare_cli;
mod prepare_golden;
mod proxy;
mod s3_storage;
mod scim_server;
mod signed_assertions;
mod stage_list;
mod sync_safety;
mod sync_users;
mod time_off;
mod tls;
mod tools;
mod workspace;
