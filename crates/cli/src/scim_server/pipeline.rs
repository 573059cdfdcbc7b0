//! From pushes to TimeCamp: after a quiet period the usual stages run
//! in-process on the pushed population, with everything they have when run
//! from cron: `var/users.json` is written as a fetcher writes it, prepare
//! writes `var/timecamp_users.json`, and the sync takes the writers' lock and
//! runs with its guards, its change journal and its alerts.
//!
//! When: [`Schedule`] decides. Each saved change moves the sync to
//! `SCIM_SYNC_DELAY_SECONDS` after it, so a provider's burst (an initial
//! cycle of thousands of users) ends in one sync; a provider that never
//! pauses still gets a sync every ten quiet periods. A failed sync is tried
//! again later (the wait doubles, up to an hour); a refused one (too many
//! deactivations) waits for the next change, and is tried again on restart.
//!
//! One rule differs from a pull source: the provider says who leaves
//! (`active` false, DELETE), and has not necessarily pushed everyone yet, so
//! TimeCamp users it never pushed are left alone instead of disabled.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use scim_core::settings::{PrepareSettings, SyncSettings, TimecampApi};
use scim_core::storage::{self, Storage, TIMECAMP_USERS_FILE, USERS_FILE};
use scim_model::SourceUsersFile;
use scim_prepare::PrepareOptions;
use scim_protocol::{GroupSource, Synced};
use scim_sync::StopFlag;
use scim_sync::run;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use super::store::Store;
use crate::Refused;
use crate::notify::{self, NotifySettings, Outcome};

/// The program name in the journal, the lock and alerts.
const PROGRAM: &str = "scim-server";
/// The longest wait before a failed sync is tried again.
const MAX_RETRY: Duration = Duration::from_secs(3600);
/// A provider that never pauses still gets a sync after this many quiet periods.
const MAX_DELAYS: u32 = 10;

/// What one sync attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Applied; TimeCamp matches the population.
    Synced,
    /// `var/users.json` would be what the last sync ran on: nothing to do.
    Unchanged,
    /// No user has been pushed yet.
    Empty,
    /// A guard refused it; nothing was changed.
    Refused,
    /// It failed (TimeCamp unreachable, some changes failed, stopped).
    Failed,
}

/// When the next sync is due.
#[derive(Debug, Clone)]
pub struct Schedule {
    delay: Duration,
    due: Option<Instant>,
    /// The first change since the last sync, for [`MAX_DELAYS`].
    first: Option<Instant>,
    retry: Duration,
}

impl Schedule {
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            due: None,
            first: None,
            retry: delay,
        }
    }

    /// A change was saved at `now`.
    pub fn changed(&mut self, now: Instant) {
        let first = *self.first.get_or_insert(now);
        let latest = first + self.delay * MAX_DELAYS;
        self.due = Some((now + self.delay).min(latest));
    }

    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// After an attempt that ended at `now`; `pending` if changes are still unsynced.
    pub fn after(&mut self, attempt: &Attempt, now: Instant, pending: bool) {
        match attempt {
            Attempt::Failed => {
                self.due = Some(now + self.retry);
                self.retry = (self.retry * 2).min(MAX_RETRY);
            }
            _ => {
                self.retry = self.delay;
                self.first = None;
                self.due = None;
                if pending && *attempt != Attempt::Refused {
                    self.changed(now);
                }
            }
        }
    }
}

/// What the sync needs, checked at start.
pub struct Pipeline {
    pub store: Arc<Store>,
    pub storage: Arc<dyn Storage>,
    pub timecamp: TimecampApi,
    pub prepare_settings: PrepareSettings,
    pub prepare: PrepareOptions,
    pub sync: SyncSettings,
    /// `TIMECAMP_LOCK_WAIT_SECONDS`.
    pub lock_wait: Duration,
    pub groups: GroupSource,
    pub notify: Option<NotifySettings>,
    pub stop: StopFlag,
    /// The lock of the stages that change TimeCamp, where the stage files are.
    pub lock: Box<dyn scim_core::lock::Lock>,
}

impl Pipeline {
    /// Runs syncs when they are due, until `shutdown` turns true.
    pub async fn run(self, delay: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut saved = self.store.subscribe();
        let mut schedule = Schedule::new(delay);
        if self.store.read(|p| p.revision() != p.synced().revision) {
            info!(
                "Changes pushed before the last stop are not synced yet; syncing in {} s",
                delay.as_secs()
            );
            schedule.changed(Instant::now());
        }
        let mut seen = self.store.read(|p| p.revision());
        loop {
            let due = schedule.due();
            tokio::select! {
                changed = saved.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let revision = self.store.read(|p| p.revision());
                    if revision != seen {
                        seen = revision;
                        schedule.changed(Instant::now());
                    }
                }
                () = sleep_until(due), if due.is_some() => {
                    let attempt = self.attempt().await;
                    let pending = self.store.read(|p| p.revision() != p.synced().revision);
                    seen = self.store.read(|p| p.revision());
                    schedule.after(&attempt, Instant::now(), pending);
                    if let Some(next) = schedule.due() && attempt == Attempt::Failed {
                        info!("The sync is tried again in {} s", next.saturating_duration_since(Instant::now()).as_secs());
                    }
                }
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// One sync, with its alert.
    pub async fn attempt(&self) -> Attempt {
        self.store.sync_started();
        let result = self.sync().await;
        let (attempt, outcome, code) = match &result {
            Ok(a) => (*a, Outcome::Success, 0),
            Err(e) if e.chain().any(|c| c.is::<Refused>()) => {
                (Attempt::Refused, Outcome::Refused, crate::EXIT_REFUSED)
            }
            Err(_) => (Attempt::Failed, Outcome::Failure, crate::EXIT_FAILURE),
        };
        match &result {
            Ok(Attempt::Synced) => info!("Sync finished"),
            Ok(_) => {}
            Err(e) if attempt == Attempt::Refused => warn!(
                "The sync was refused, nothing was changed: {e:#}. If the provider really \
                 deprovisioned these people, raise TIMECAMP_MAX_DEACTIVATIONS and restart scim-server"
            ),
            Err(e) => warn!("The sync failed: {e:#}"),
        }
        let ran = matches!(
            attempt,
            Attempt::Synced | Attempt::Refused | Attempt::Failed
        );
        self.store.sync_ended(
            match attempt {
                Attempt::Synced => "synced",
                Attempt::Unchanged => "unchanged",
                Attempt::Empty => "nothing pushed",
                Attempt::Refused => "refused",
                Attempt::Failed => "failed",
            },
            ran,
        );
        if ran && let Some(settings) = &self.notify {
            let error = result.as_ref().err().map(|e| format!("{e:#}"));
            notify::send(settings, PROGRAM, outcome, code, error.as_deref()).await;
        }
        attempt
    }

    async fn sync(&self) -> anyhow::Result<Attempt> {
        let (revision, derived) = self
            .store
            .read(|p| (p.revision(), scim_protocol::source_users(p, self.groups)));
        for note in &derived.notes {
            warn!("{note}");
        }
        if derived.users.is_empty() {
            info!("No user has been pushed yet; nothing to sync");
            return Ok(Attempt::Empty);
        }
        let file = SourceUsersFile {
            users: derived.users,
            ..Default::default()
        };
        let digest = storage::sha256_hex(&storage::to_json_bytes(&file)?);
        let last = self.store.read(|p| p.synced().clone());
        if last.users_sha256.as_deref() == Some(digest.as_str()) {
            info!("The pushed changes leave {USERS_FILE} as the last sync had it; nothing to sync");
            self.store.mark_synced(Synced {
                revision,
                users_sha256: Some(digest),
            });
            return Ok(Attempt::Unchanged);
        }
        let (users, inactive) = (
            file.users.len(),
            file.users
                .iter()
                .filter(|u| u.status != Some(scim_model::Status::Active))
                .count(),
        );
        info!(
            "Syncing the pushed population (revision {revision}): {users} users, {inactive} of them inactive"
        );
        // Every pushed user may have left: the sync disables only them.
        storage::write_source_users(self.storage.as_ref(), &file, true)
            .await
            .with_context(|| format!("cannot write {USERS_FILE}"))?;
        drop(file);
        crate::prepare::prepare_stored(
            self.storage.as_ref(),
            &self.prepare_settings,
            &self.prepare,
            USERS_FILE,
            TIMECAMP_USERS_FILE,
        )
        .await?;
        // The lock of every stage that changes TimeCamp: a flock under var/,
        // or an object in the bucket that CronJobs in other pods share. A
        // lock lost while the sync runs stops it, as it stops sync-users.
        let mut held = self.lock.acquire(PROGRAM, self.lock_wait).await?;
        let applied = tokio::select! {
            applied = self.apply() => applied,
            lost = held.lost() => Err(lost.into()),
        };
        held.release().await;
        applied?;
        self.store.mark_synced(Synced {
            revision,
            users_sha256: Some(digest),
        });
        Ok(Attempt::Synced)
    }

    /// sync-users on the prepared file: plan, guard, apply, journal.
    async fn apply(&self) -> anyhow::Result<()> {
        let api = self.timecamp.require_api()?;
        let mut options = scim_sync::sync_options(&self.sync, &api);
        options.leave_users_not_in_source = true;
        let desired = run::load_prepared(
            self.storage.as_ref(),
            TIMECAMP_USERS_FILE,
            run::Source::Listed,
        )
        .await
        .map_err(crate::sync::policy)?;
        let client = crate::sync::client(&self.timecamp, api.api_key)?;
        let planned = run::plan_run(&client, self.storage.as_ref(), desired, options)
            .await
            .map_err(crate::sync::policy)?;
        let (check, refused) = run::guard(&planned, &self.sync, false);
        if refused {
            return Err(Refused(check.refusal()).into());
        }
        let executed = run::execute(
            &planned,
            &client,
            self.storage.as_ref(),
            &self.sync,
            run::ExecuteOptions {
                stop: self.stop.clone(),
                progress: None,
            },
        )
        .await
        .map_err(crate::sync::policy)?;
        crate::sync::report(&planned, &executed)?;
        info!("{}", executed.summary.line(false));
        crate::sync::finish(
            &planned,
            &executed,
            &self.stop,
            &client,
            self.storage.as_ref(),
            &self.sync,
        )
        .await
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_secs(30);

    #[test]
    fn each_change_moves_the_sync_to_a_quiet_period_after_it() {
        let t0 = Instant::now();
        let mut s = Schedule::new(D);
        assert_eq!(s.due(), None);
        s.changed(t0);
        s.changed(t0 + Duration::from_secs(20));
        assert_eq!(s.due(), Some(t0 + Duration::from_secs(50)));
    }

    #[test]
    fn a_provider_that_never_pauses_still_gets_a_sync() {
        let t0 = Instant::now();
        let mut s = Schedule::new(D);
        for i in 0..1000 {
            s.changed(t0 + Duration::from_secs(i));
        }
        assert_eq!(s.due(), Some(t0 + D * MAX_DELAYS));
    }

    #[test]
    fn failures_back_off_and_a_refusal_waits_for_the_next_change() {
        let t0 = Instant::now();
        let mut s = Schedule::new(D);
        s.changed(t0);
        s.after(&Attempt::Failed, t0, true);
        assert_eq!(s.due(), Some(t0 + D));
        s.after(&Attempt::Failed, t0, true);
        assert_eq!(s.due(), Some(t0 + D * 2));
        for _ in 0..20 {
            s.after(&Attempt::Failed, t0, true);
        }
        assert_eq!(s.due(), Some(t0 + MAX_RETRY));
        s.after(&Attempt::Refused, t0, true);
        assert_eq!(s.due(), None);
        s.after(&Attempt::Synced, t0, true);
        assert_eq!(
            s.due(),
            Some(t0 + D),
            "changes made during the sync get their own"
        );
        s.after(&Attempt::Synced, t0, false);
        assert_eq!(s.due(), None);
    }
}
