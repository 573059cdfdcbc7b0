//! Every program in one binary, chosen by the name it is called by: the image
//! ships this file once with each program's name as a link to it (one copy of
//! the code instead of twelve). `timecamp-scim --list` prints the names.
//!
//! Each program's `main` is its own binary's file, included here, so the
//! separate binaries (`cargo install`) and the links run the same code. A test
//! holds this list to the stage list (`crates/core/src/stages.rs`).

use std::process::ExitCode;

#[path = "display-tree.rs"]
mod display_tree;
#[path = "fetch-azuread.rs"]
mod fetch_azuread;
#[path = "fetch-bamboohr.rs"]
mod fetch_bamboohr;
#[path = "fetch-csv.rs"]
mod fetch_csv;
#[path = "fetch-factorial.rs"]
mod fetch_factorial;
#[path = "fetch-google.rs"]
mod fetch_google;
#[path = "fetch-hibob.rs"]
mod fetch_hibob;
#[path = "fetch-ldap.rs"]
mod fetch_ldap;
#[path = "fetch-netsuite.rs"]
mod fetch_netsuite;
#[path = "fetch-okta.rs"]
mod fetch_okta;
#[path = "fetch-personio.rs"]
mod fetch_personio;
#[path = "http-service.rs"]
mod http_service;
#[path = "prepare-timecamp.rs"]
mod prepare_timecamp;
#[path = "remove-empty-groups.rs"]
mod remove_empty_groups;
#[path = "scim-server.rs"]
mod scim_server;
#[path = "sync-time-off.rs"]
mod sync_time_off;
#[path = "sync-users.rs"]
mod sync_users;

/// A program's `main`.
type Main = fn() -> ExitCode;

/// The programs, by the name each is called by.
const PROGRAMS: &[(&str, Main)] = &[
    ("fetch-bamboohr", fetch_bamboohr::main),
    ("fetch-azuread", fetch_azuread::main),
    ("fetch-ldap", fetch_ldap::main),
    ("fetch-factorial", fetch_factorial::main),
    ("fetch-hibob", fetch_hibob::main),
    ("fetch-okta", fetch_okta::main),
    ("fetch-netsuite", fetch_netsuite::main),
    ("fetch-google", fetch_google::main),
    ("fetch-personio", fetch_personio::main),
    ("fetch-csv", fetch_csv::main),
    ("prepare-timecamp", prepare_timecamp::main),
    ("sync-users", sync_users::main),
    ("sync-time-off", sync_time_off::main),
    ("display-tree", display_tree::main),
    ("remove-empty-groups", remove_empty_groups::main),
    ("http-service", http_service::main),
    ("scim-server", scim_server::main),
];

fn main() -> ExitCode {
    let called = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    if let Some((_, main)) = PROGRAMS.iter().find(|(name, _)| *name == called) {
        return main();
    }
    let names: Vec<&str> = PROGRAMS.iter().map(|(name, _)| *name).collect();
    if std::env::args().nth(1).as_deref() == Some("--list") {
        println!("{}", names.join("\n"));
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "timecamp-scim runs the program it is called as: make a link to it named after one of \
         {}, and run that (`timecamp-scim --list` prints the names)",
        names.join(", ")
    );
    ExitCode::from(2)
}
