//! How far an apply is, over every write it makes: the plan's changes and
//! the new users' finishing writes (name, role, settings), which the plan
//! does not list but a first import is mostly made of.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use scim_model::Role;
use tracing::info;

use crate::plan::{Change, NewUser, Plan};

/// Told how far a run is (steps done, steps in all) after every step; a
/// terminal draws a bar with it. Without one, progress goes to the log.
#[derive(Clone)]
pub struct ProgressHook(pub std::sync::Arc<dyn Fn(usize, usize) + Send + Sync>);

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

/// Seconds between progress lines in the log.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How far a run is: given to the hook, or logged at intervals so a long
/// first import shows life in the log (`applied 800 of 1801 changes`).
#[derive(Debug)]
pub(crate) struct Progress {
    total: AtomicUsize,
    done: AtomicUsize,
    last: Mutex<Instant>,
    hook: Option<ProgressHook>,
}

impl Progress {
    /// For the plan's changes and the finishing writes its new users are expected to need.
    pub(crate) fn of(plan: &Plan, hook: Option<ProgressHook>) -> Self {
        Self {
            total: AtomicUsize::new(steps(plan)),
            done: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
            hook,
        }
    }

    /// The total changed by `more` steps (negative: fewer), when a new
    /// user's finishing writes turn out other than expected.
    pub(crate) fn adjust(&self, expected: usize, actual: usize) {
        if actual >= expected {
            self.total.fetch_add(actual - expected, Ordering::Relaxed);
        } else {
            self.total.fetch_sub(expected - actual, Ordering::Relaxed);
        }
    }

    pub(crate) fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.total.load(Ordering::Relaxed).max(done);
        if let Some(hook) = &self.hook {
            (hook.0)(done, total);
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.elapsed() >= PROGRESS_EVERY && done < total {
            *last = Instant::now();
            info!("applied {done} of {total} changes");
        }
    }
}

/// Every write step of applying `plan`: its changes, and each new user's
/// expected finishing writes.
pub fn steps(plan: &Plan) -> usize {
    plan.changes.len()
        + plan
            .changes
            .iter()
            .map(|c| match c {
                Change::CreateUser(new) => expected_follow_ups(new),
                _ => 0,
            })
            .sum::<usize>()
}

/// The writes that finish a new user, as far as they are known before
/// TimeCamp lists them: marked as managed, the name (TimeCamp names a new
/// user after the e-mail's local part), the role, the settings.
pub(crate) fn expected_follow_ups(new: &NewUser) -> usize {
    let default_name = new.email.split('@').next().unwrap_or_default();
    1 + usize::from(new.name != default_name)
        + usize::from(new.role != Role::User)
        + usize::from(new.additional_email.is_some())
        + usize::from(new.external_id.is_some())
}
