//! The pushed population in memory and on storage.
//!
//! A change is made in memory and answered only once it is saved, so a
//! restart finds every change a provider was told succeeded. Two files, each
//! replaced whole and atomically (a temporary file renamed over it, or one
//! S3 PUT): `var/scim_population.json`, a numbered snapshot of everything,
//! and `var/scim_population.changes.json`, the resources changed since that
//! snapshot. A save writes the changes file, which stays small; when it
//! would pass [`MAX_CHANGES_BYTES`], a new snapshot is written instead. So a
//! save costs what changed, not the whole population, and a crash between
//! the two files loses nothing: a changes file older than the snapshot is
//! already in it.
//!
//! Saves are grouped: the writer saves the newest state, and every request
//! whose change it holds is answered together. A save that fails (a full
//! disk, S3 down) is retried every second; the requests waiting for it are
//! answered 503 after [`SAVE_WAIT`], and `/health` says so until a save
//! succeeds again.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use std::collections::BTreeSet;

use scim_core::storage::{SCIM_CHANGES_FILE, SCIM_POPULATION_FILE, Storage};
use scim_protocol::{Kind, Population, ScimError};
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

/// How long a request waits for its change to be saved before it is answered 503.
pub const SAVE_WAIT: Duration = Duration::from_secs(30);
/// A changes file larger than this is replaced by a new snapshot.
pub const MAX_CHANGES_BYTES: usize = 256 * 1024;

/// The population, the count of changes made to it (of the population or of
/// its sync record), which saves are measured against, and what is saved.
struct State {
    population: Population,
    generation: u64,
    /// The number of the snapshot on storage (0: none yet).
    snapshot: u64,
    /// The resources changed since that snapshot.
    since_snapshot: BTreeSet<(Kind, String)>,
}

/// What the writer has saved.
#[derive(Debug, Clone, Default)]
pub struct Saved {
    pub generation: u64,
    /// The last save's error, until a save succeeds.
    pub error: Option<String>,
}

pub struct Store {
    state: Mutex<State>,
    storage: Arc<dyn Storage>,
    saved: watch::Sender<Saved>,
    dirty: Notify,
    syncs: Mutex<SyncStatus>,
}

/// The syncs since start, for `/health`.
#[derive(Debug, Clone, Default)]
pub struct SyncStatus {
    /// Attempts that ran (synced, refused or failed; not the ones with nothing to do).
    pub runs: u64,
    /// How the last one ended: `synced`, `unchanged`, `refused`, `failed`.
    pub last: Option<&'static str>,
    /// When the last one started and ended (RFC 3339, UTC).
    pub last_started: Option<String>,
    pub last_finished: Option<String>,
}

fn now_millis() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The population file could not be read at start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read {location}: {source}")]
    Read {
        location: String,
        #[source]
        source: scim_core::storage::StorageError,
    },
    #[error(
        "{location} cannot be used: {source}. It holds the users and groups the identity provider \
         pushed; restore it from a backup, or move it away to start empty (the provider then pushes \
         its users again on its next cycle)"
    )]
    Load {
        location: String,
        #[source]
        source: scim_protocol::LoadError,
    },
}

impl Store {
    /// Reads the saved population, or starts empty when there is none.
    pub async fn open(storage: Arc<dyn Storage>) -> Result<Arc<Self>, OpenError> {
        let location = storage.location(SCIM_POPULATION_FILE);
        // A kill during a save leaves its temporary file, as large as the
        // population; every crash would add one. This process owns the files.
        for name in [SCIM_POPULATION_FILE, SCIM_CHANGES_FILE] {
            if let Some(path) = storage.local_path(name) {
                match scim_core::storage::remove_leftover_temporaries(&path) {
                    Ok(0) => {}
                    Ok(n) => info!(
                        "Removed {n} temporary file(s) an interrupted save of {} left",
                        path.display()
                    ),
                    Err(e) => warn!(
                        "cannot remove the temporary files an interrupted save of {} left: {e}",
                        path.display()
                    ),
                }
            }
        }
        let snapshot = read_if_there(storage.as_ref(), SCIM_POPULATION_FILE).await?;
        let changes = read_if_there(storage.as_ref(), SCIM_CHANGES_FILE).await?;
        let (population, number, since_snapshot) = match (snapshot, changes) {
            (Some(snapshot), changes) => {
                let loaded = Population::load(&snapshot, changes.as_deref()).map_err(|source| {
                    OpenError::Load {
                        location: location.clone(),
                        source,
                    }
                })?;
                let (users, deleted) = loaded.population.user_counts();
                info!(
                    "Read the pushed population from {location}: {users} users ({deleted} deleted more), {} groups, revision {}",
                    loaded.population.group_count(),
                    loaded.population.revision()
                );
                (loaded.population, loaded.snapshot, loaded.pending)
            }
            (None, Some(_)) => {
                return Err(OpenError::Load {
                    location: storage.location(SCIM_CHANGES_FILE),
                    source: scim_protocol::LoadError::Shape(format!(
                        "it holds changes to {location}, which is missing"
                    )),
                });
            }
            (None, None) => {
                info!("No pushed population yet ({location}); starting empty");
                (Population::default(), 0, BTreeSet::new())
            }
        };
        Ok(Arc::new(Self {
            state: Mutex::new(State {
                population,
                generation: 0,
                snapshot: number,
                since_snapshot,
            }),
            storage,
            saved: watch::channel(Saved::default()).0,
            dirty: Notify::new(),
            syncs: Mutex::default(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the population as the last
        // whole operation left it: every operation changes a copy first.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the population.
    pub fn read<T>(&self, f: impl FnOnce(&Population) -> T) -> T {
        f(&self.lock().population)
    }

    /// Changes the population; on success returns what `f` returned and the
    /// generation to wait for with [`Store::saved`].
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Population) -> Result<T, ScimError>,
    ) -> Result<(T, u64), ScimError> {
        let mut state = self.lock();
        let before = state.population.revision();
        let out = f(&mut state.population)?;
        if state.population.revision() != before {
            state.generation += 1;
        }
        let generation = state.generation;
        drop(state);
        self.dirty.notify_one();
        Ok((out, generation))
    }

    /// Records a sync (not a change of the population, but saved with it).
    pub fn mark_synced(&self, synced: scim_protocol::Synced) -> u64 {
        let mut state = self.lock();
        state.population.mark_synced(synced);
        state.generation += 1;
        let generation = state.generation;
        drop(state);
        self.dirty.notify_one();
        generation
    }

    /// Waits until `generation` is saved; a 503 if saving keeps failing.
    pub async fn saved(&self, generation: u64) -> Result<(), ScimError> {
        let mut rx = self.saved.subscribe();
        let waited =
            tokio::time::timeout(SAVE_WAIT, rx.wait_for(|s| s.generation >= generation)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let why = self
                    .saved
                    .borrow()
                    .error
                    .clone()
                    .unwrap_or_else(|| "no answer from storage".into());
                Err(ScimError::new(
                    503,
                    None,
                    format!(
                        "the change is made but could not be saved yet ({why}); it is saved as soon as storage works again"
                    ),
                ))
            }
        }
    }

    /// The writer's progress, for `/health` and the debounce.
    pub fn subscribe(&self) -> watch::Receiver<Saved> {
        self.saved.subscribe()
    }

    /// Records that a sync attempt starts.
    pub fn sync_started(&self) {
        self.syncs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_started = Some(now_millis());
    }

    /// Records how a sync attempt ended.
    pub fn sync_ended(&self, outcome: &'static str, ran: bool) {
        let mut s = self.syncs.lock().unwrap_or_else(|p| p.into_inner());
        if ran {
            s.runs += 1;
        }
        s.last = Some(outcome);
        s.last_finished = Some(now_millis());
    }

    pub fn sync_status(&self) -> SyncStatus {
        self.syncs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn last_save_error(&self) -> Option<String> {
        self.saved.borrow().error.clone()
    }

    /// Saves whenever something changed, until `stop` is set and everything is saved.
    pub async fn run_writer(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let mut stop = stop;
        loop {
            if self.lock().generation > self.saved.borrow().generation {
                let (generation, file, bytes, snapshot) = self.next_save();
                match self.storage.write(file, bytes).await {
                    Ok(()) => {
                        if let Some(number) = snapshot {
                            let mut state = self.lock();
                            state.snapshot = number;
                            // What changed while it was written is still in the population's list.
                            state.since_snapshot.clear();
                        }
                        if self.saved.borrow().error.is_some() {
                            info!("The pushed population is saved again");
                        }
                        self.saved.send_replace(Saved {
                            generation,
                            error: None,
                        });
                        continue;
                    }
                    Err(e) => {
                        warn!("cannot save the pushed population: {e}; retrying in 1 s");
                        self.saved.send_modify(|s| s.error = Some(e.to_string()));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                () = self.dirty.notified() => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// What to write now: the changes since the snapshot, or a new snapshot
    /// (its number) when there is none yet or the changes grew too large.
    fn next_save(&self) -> (u64, &'static str, Vec<u8>, Option<u64>) {
        let mut state = self.lock();
        let state = &mut *state;
        let changed = state.population.take_changed();
        state.since_snapshot.extend(changed);
        if state.snapshot > 0 {
            let bytes = state
                .population
                .changes_bytes(state.snapshot, &state.since_snapshot);
            if bytes.len() <= MAX_CHANGES_BYTES {
                return (state.generation, SCIM_CHANGES_FILE, bytes, None);
            }
        }
        let number = state.snapshot + 1;
        let bytes = state.population.snapshot_bytes(number);
        (state.generation, SCIM_POPULATION_FILE, bytes, Some(number))
    }
}

/// A stage file's bytes, or `None` when it does not exist.
async fn read_if_there(storage: &dyn Storage, name: &str) -> Result<Option<Vec<u8>>, OpenError> {
    let location = storage.location(name);
    let read = |source| OpenError::Read {
        location: location.clone(),
        source,
    };
    if !storage.exists(name).await.map_err(read)? {
        return Ok(None);
    }
    storage.read(name).await.map(Some).map_err(read)
}
