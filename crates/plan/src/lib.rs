//! The pure half of the stages that write to TimeCamp: given what TimeCamp
//! holds and what it should hold, the changes as data. [`matching`] decides
//! who is who, [`plan`] is the user sync's planner (its vocabulary in
//! [`types`]), [`guard`] its mass-deactivation check, [`text`] and [`page`]
//! the plan for people (terminal and HTML), [`time_off`] the plan of
//! attendance days from leaves, [`empty_groups`] the groups remove-empty-groups
//! deletes. Nothing here does I/O or needs an async
//! runtime, so every rule is tested on in-memory values; `scim-sync` reads
//! TimeCamp, applies the plan and keeps the journals.

pub mod empty_groups;
pub mod guard;
pub mod matching;
pub mod page;
pub mod plan;
pub mod text;
pub mod time_off;
pub mod types;

pub use guard::{DeactivationCheck, check_deactivations};
pub use page::plan_page;
pub use plan::{managed_enabled_users, plan, validate_input};
pub use text::plan_text;
pub use types::{
    Change, CurrentState, CurrentUser, GroupRef, HeldBack, HoldReason, Plan, SyncOptions, role_name,
};
