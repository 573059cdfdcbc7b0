//! Shared core of timecamp-scim.
//!
//! Every stage of the pipeline uses the same pieces (the stage files as typed
//! values are the `scim-model` crate's): configuration read once from the environment and `.env`
//! ([`env`], [`settings`]), storage of the stage files ([`storage`]), reading
//! a file a setting names ([`files`]), and the log set-up ([`logging`]). Nothing here talks to TimeCamp or an HR system.

pub mod env;
pub mod files;
pub mod host;
pub mod lock;
pub mod logging;
pub mod registry;
pub mod secret;
pub mod settings;
pub mod stages;
pub mod storage;

pub use env::{ConfigError, Env};
pub use secret::{Secret, mask_url_credentials};
