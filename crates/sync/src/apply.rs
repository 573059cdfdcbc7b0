//! Reading TimeCamp's state and applying a plan through the client, in the
//! order of [`crate::schedule`].
//!
//! A failing change is recorded with its reason and the rest of the plan goes
//! on; only the later changes of the same user (or of users in a group that
//! could not be created, or waiting for an address that was not freed) are
//! skipped, since they depend on it. Each outcome goes to the change journal,
//! the log and the progress as soon as it is known. The next run converges
//! because planning starts again from what TimeCamp holds.
//!
//! Moves and role changes that share a request (`PUT group/{id}/user` with
//! the same target) go as one request for up to [`BATCH`] users, as
//! invitations do; a batch TimeCamp refuses is tried again user by user, so
//! one bad user fails alone. A group creation or invitation whose outcome is
//! unknown (the answer was lost) is looked up in TimeCamp before it is sent
//! again.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use scim_model::Role;
use scim_timecamp::{ApiError, Client, SETTING_NAMES};
use serde::Serialize;
use tracing::{info, warn};

use crate::journal::Recorder;
use crate::plan::{Change, CurrentState, CurrentUser, GroupRef, NewUser, Plan, UserRef};
use crate::progress::{Progress, ProgressHook, expected_follow_ups};
use crate::schedule::{Stages, schedule, stages, waits_for};
use scim_plan::text::{display_path, subject};

/// Reads the key's owner, groups, users, their settings and roles: the bulk
/// reads of a run.
pub async fn read_state(client: &Client) -> Result<CurrentState, ApiError> {
    info!("Reading TimeCamp: the key's owner, groups, users and roles");
    let (me, groups, users, roles) =
        tokio::try_join!(client.me(), client.groups(), client.users(), client.roles())?;
    let ids: Vec<u64> = users.iter().map(|u| u.user_id).collect();
    info!(
        "Read {} groups and {} users; reading their settings",
        groups.len(),
        ids.len()
    );
    let settings = if ids.is_empty() {
        Default::default()
    } else {
        client.settings(&ids, &SETTING_NAMES).await?
    };
    let users = users
        .into_iter()
        .map(|u| {
            let s = settings.get(&u.user_id);
            let get = |name: &str| s.and_then(|m| m.get(name)).cloned();
            CurrentUser {
                enabled: get("disabled_user").as_deref().map(str::trim) != Some("1"),
                added_manually: get("added_manually"),
                additional_email: get("additional_email"),
                external_id: get("external_id"),
                role_id: roles
                    .get(&u.user_id)
                    .and_then(|r| r.get(&u.group_id))
                    .copied(),
                id: u.user_id,
                email: u.email,
                display_name: u.display_name,
                group_id: u.group_id,
            }
        })
        .collect();
    Ok(CurrentState {
        groups,
        users,
        pending_invites: HashSet::new(),
        owner_id: Some(me.user_id),
    })
}

/// Set from outside (a signal handler) to stop a run between requests: the
/// request in flight finishes, no new one starts, and what is left is
/// reported as skipped for the next run to do.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl StopFlag {
    pub fn request(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_requested(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn skipped(&self) -> Option<Outcome> {
        self.is_requested().then(|| Outcome::Skipped {
            reason: STOPPED.into(),
        })
    }
}

const STOPPED: &str = "the run was asked to stop; the next run does this";

/// How the plan is applied.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long to wait for invited users to appear in `GET /users`.
    pub new_user_wait: Duration,
    pub poll_interval: Duration,
    /// Write requests in flight at once.
    pub concurrency: usize,
    pub stop: StopFlag,
    /// Where progress goes instead of the log (a terminal's bar).
    pub progress: Option<ProgressHook>,
    /// Where each change goes as soon as its outcome is known (none in tests
    /// and benchmarks).
    pub journal: Option<Recorder>,
}

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Failed {
        error: String,
    },
    /// Not attempted because something it depends on failed, or the run was
    /// asked to stop.
    Skipped {
        reason: String,
    },
}

/// A change and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    #[serde(flatten)]
    pub change: Change,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A created user whose settings could not be finished in this run.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub email: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// In plan order.
    pub applied: Vec<Applied>,
    /// Follow-up writes for new users (name, role, settings), done after they appeared.
    pub finalised: Vec<Applied>,
    pub pending: Vec<Pending>,
}

impl Report {
    pub fn failures(&self) -> impl Iterator<Item = &Applied> {
        self.all()
            .filter(|a| matches!(a.outcome, Outcome::Failed { .. }))
    }

    /// The plan's changes, then the new users' follow-ups.
    pub fn all(&self) -> impl Iterator<Item = &Applied> {
        self.applied.iter().chain(&self.finalised)
    }

    /// Changes not made: skipped (a stop, or something they depend on), and
    /// the expected follow-ups of new users TimeCamp did not list in time.
    pub fn not_made(&self) -> usize {
        self.all()
            .filter(|a| matches!(a.outcome, Outcome::Skipped { .. }))
            .count()
            + self.pending.len()
    }
}

/// TimeCamp's invite, and its `PUT group/{id}/user`, take several users for
/// one group; this many go in one request.
pub const BATCH: usize = 50;

/// Applies the plan in the order of [`crate::schedule`], then finishes the
/// new users once TimeCamp lists them.
pub async fn apply(client: &Client, plan: &Plan, opts: &ApplyOptions) -> Report {
    let progress = Progress::of(plan, opts.progress.clone());
    let sink = Sink {
        progress: &progress,
        journal: opts.journal.as_ref(),
    };
    let schedule = schedule(plan);
    let mut run = Run::new(client, &plan.changes, opts, &sink);
    run.groups(&schedule.group_levels).await;
    if plan.adds_seats() {
        warn_billing();
    }
    run.first(&schedule.users.first).await;
    let created = run.invites(&schedule.invites).await;
    run.later(&schedule.users).await;
    let mut report = Report {
        applied: run.report(),
        ..Report::default()
    };
    if !created.is_empty() {
        finalise(client, created, opts, &sink, &mut report).await;
    }
    report
}

/// Where each outcome goes as soon as it is known: the log, the journal, the progress.
struct Sink<'a> {
    progress: &'a Progress,
    journal: Option<&'a Recorder>,
}

impl Sink<'_> {
    fn record(&self, change: &Change, outcome: &Outcome) {
        log_outcome(change, outcome);
        if let Some(journal) = self.journal {
            journal.change(change, outcome);
        }
        self.progress.tick();
    }
}

/// A user created in this run, waiting to be finished.
struct Created {
    user: NewUser,
    /// The group invited into.
    group_id: u64,
}

/// The state of applying one list of changes: outcomes so far, the groups
/// created, and what later changes depend on.
struct Run<'a> {
    client: &'a Client,
    changes: &'a [Change],
    opts: &'a ApplyOptions,
    sink: &'a Sink<'a>,
    outcomes: Vec<Option<Outcome>>,
    new_groups: HashMap<usize, u64>,
    failed_groups: HashSet<usize>,
    /// Users a change of whom was not made: their later changes are skipped.
    blocked: HashSet<u64>,
    /// Users whose login change was made: what invitations and later login changes wait for.
    moved_logins: HashSet<u64>,
}

impl<'a> Run<'a> {
    fn new(
        client: &'a Client,
        changes: &'a [Change],
        opts: &'a ApplyOptions,
        sink: &'a Sink<'a>,
    ) -> Self {
        Self {
            client,
            changes,
            opts,
            sink,
            outcomes: vec![None; changes.len()],
            new_groups: HashMap::new(),
            failed_groups: HashSet::new(),
            blocked: HashSet::new(),
            moved_logins: HashSet::new(),
        }
    }

    fn concurrency(&self) -> usize {
        self.opts.concurrency.max(1)
    }

    /// Keeps the outcomes of a stage (each already recorded as it came).
    fn keep(&mut self, done: impl IntoIterator<Item = (usize, Outcome)>) {
        for (i, outcome) in done {
            let change = &self.changes[i];
            match (&outcome, change) {
                (Outcome::Done, Change::SetEmail { user, .. }) => {
                    self.moved_logins.insert(user.id);
                }
                (Outcome::Done, _) => {}
                (_, Change::CreateGroup { key, .. }) => {
                    self.failed_groups.insert(*key);
                }
                (_, other) => {
                    if let Some(user) = other.user() {
                        self.blocked.insert(user.id);
                    }
                }
            }
            self.outcomes[i] = Some(outcome);
        }
    }

    /// Why change `i` cannot run now, if it cannot: a stop, a failed earlier
    /// change of its user, a group that could not be created, an address not freed.
    fn blocked(&self, change: &Change) -> Option<Outcome> {
        if let Some(stopped) = self.opts.stop.skipped() {
            return Some(stopped);
        }
        let skip = |reason: &str| {
            Some(Outcome::Skipped {
                reason: reason.into(),
            })
        };
        if change.user().is_some_and(|u| self.blocked.contains(&u.id)) {
            return skip("an earlier change of this user was not made");
        }
        let group = match change {
            Change::CreateGroup { parent, .. } => Some(parent),
            Change::CreateUser(new) => Some(&new.group),
            Change::Move { to, .. } => Some(to),
            Change::SetRole { group, .. } => Some(group),
            _ => None,
        };
        if let Some(GroupRef::New(key)) = group
            && self.failed_groups.contains(key)
        {
            return skip("its group could not be created");
        }
        if let Some(holder) = waits_for(change)
            && !self.moved_logins.contains(&holder)
        {
            return Some(Outcome::Skipped {
                reason: format!(
                    "the address is not free: TimeCamp user {holder}'s e-mail change was not made"
                ),
            });
        }
        None
    }

    fn group_id(&self, r: GroupRef) -> u64 {
        group_id(r, &self.new_groups)
    }

    /// New groups, level by level, each level in parallel.
    async fn groups(&mut self, levels: &[Vec<usize>]) {
        for level in levels {
            let this = &*self;
            let results: Vec<GroupDone> = futures::stream::iter(level)
                .map(|&i| async move {
                    let change = &this.changes[i];
                    let (outcome, created) = match this.blocked(change) {
                        Some(outcome) => (outcome, None),
                        None => match this.create_group(change).await {
                            Ok(created) => (Outcome::Done, created),
                            Err(e) => (failed(&e), None),
                        },
                    };
                    this.sink.record(change, &outcome);
                    (i, outcome, created)
                })
                .buffer_unordered(self.concurrency())
                .collect()
                .await;
            for (i, outcome, created) in results {
                if let Some((key, id)) = created {
                    self.new_groups.insert(key, id);
                }
                self.keep([(i, outcome)]);
            }
        }
    }

    /// `PUT group`; when the answer is lost, looks for the group before
    /// trying again (a second creation would make a duplicate).
    async fn create_group(&self, change: &Change) -> Result<Option<(usize, u64)>, ApiError> {
        let Change::CreateGroup {
            key, name, parent, ..
        } = change
        else {
            return Ok(None);
        };
        let parent = self.group_id(*parent);
        let mut tries = 0;
        loop {
            tries += 1;
            match self.client.create_group(name, parent).await {
                Ok(id) => return Ok(Some((*key, id))),
                Err(e) if e.outcome_unknown() => {
                    warn!("{e}; looking whether group {name:?} exists now");
                    let groups = self.client.groups().await?;
                    if let Some(g) = groups
                        .iter()
                        .filter(|g| g.parent_id == parent && g.name.trim() == name.trim())
                        .min_by_key(|g| g.group_id)
                    {
                        info!("group {name:?} was created (group {})", g.group_id);
                        return Ok(Some((*key, g.group_id)));
                    }
                    if tries >= UNKNOWN_TRIES {
                        return Err(e);
                    }
                    info!("group {name:?} does not exist; creating it again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Each user's first changes, wave after wave, users in parallel.
    async fn first(&mut self, waves: &[Vec<Vec<usize>>]) {
        for wave in waves {
            self.sequences(wave).await;
        }
    }

    /// Per-user sequences in parallel, each in order.
    async fn sequences(&mut self, sequences: &[Vec<usize>]) {
        let this = &*self;
        let results: Vec<Vec<(usize, Outcome)>> = futures::stream::iter(sequences)
            .map(|sequence| this.in_order(sequence))
            .buffer_unordered(self.concurrency())
            .collect()
            .await;
        self.keep(results.into_iter().flatten());
    }

    /// One user's changes in order; after the first one not made, the rest
    /// are skipped, since each may depend on the one before.
    async fn in_order(&self, sequence: &[usize]) -> Vec<(usize, Outcome)> {
        let mut out = Vec::with_capacity(sequence.len());
        let mut stuck = false;
        for &i in sequence {
            let change = &self.changes[i];
            let outcome = if stuck {
                Outcome::Skipped {
                    reason: "an earlier change of this user was not made".into(),
                }
            } else if let Some(outcome) = self.blocked(change) {
                outcome
            } else {
                match self.execute(change).await {
                    Ok(()) => Outcome::Done,
                    Err(e) => failed(&e),
                }
            };
            stuck |= outcome != Outcome::Done;
            self.sink.record(change, &outcome);
            out.push((i, outcome));
        }
        out
    }

    /// Moves, role changes (both batched), then the settings.
    async fn later(&mut self, stages: &Stages) {
        self.batched(&stages.moves).await;
        self.batched(&stages.roles).await;
        self.sequences(&stages.last).await;
    }

    /// Changes that share a request, as one request per target and
    /// [`BATCH`] users; a refused batch is tried again user by user.
    async fn batched(&mut self, indexes: &[usize]) {
        let mut ready: Vec<(Target, Vec<usize>)> = Vec::new();
        let mut done = Vec::new();
        for &i in indexes {
            let change = &self.changes[i];
            if let Some(outcome) = self.blocked(change) {
                self.sink.record(change, &outcome);
                done.push((i, outcome));
                continue;
            }
            let Some(target) = self.target(change) else {
                continue;
            };
            match ready
                .iter_mut()
                .find(|(t, batch)| *t == target && batch.len() < BATCH)
            {
                Some((_, batch)) => batch.push(i),
                None => ready.push((target, vec![i])),
            }
        }
        let this = &*self;
        let results: Vec<Vec<(usize, Outcome)>> = futures::stream::iter(ready)
            .map(|(target, batch)| this.batch(target, batch))
            .buffer_unordered(self.concurrency())
            .collect()
            .await;
        done.extend(results.into_iter().flatten());
        self.keep(done);
    }

    /// The request a move or role change goes in.
    fn target(&self, change: &Change) -> Option<Target> {
        match change {
            Change::Move { from, to, .. } => Some(Target::Move {
                from: *from,
                to: self.group_id(*to),
            }),
            Change::MoveToDisabledGroup { from, to, .. } => Some(Target::Move {
                from: *from,
                to: *to,
            }),
            Change::SetRole { group, to, .. } => Some(Target::Role {
                group: self.group_id(*group),
                role: to.id(),
            }),
            _ => None,
        }
    }

    async fn batch(&self, target: Target, batch: Vec<usize>) -> Vec<(usize, Outcome)> {
        let ids: Vec<u64> = batch
            .iter()
            .filter_map(|&i| self.changes[i].user().map(|u| u.id))
            .collect();
        let result = if let Some(stopped) = self.opts.stop.skipped() {
            Err(stopped)
        } else {
            match target {
                Target::Move { from, to } => self.client.move_users(&ids, from, to).await,
                Target::Role { group, role } => self.client.set_roles(&ids, group, role).await,
            }
            .map_err(|e| failed(&e))
        };
        let outcomes: Vec<Outcome> = match result {
            Ok(()) => vec![Outcome::Done; batch.len()],
            Err(outcome) if batch.len() == 1 || !matches!(outcome, Outcome::Failed { .. }) => {
                vec![outcome; batch.len()]
            }
            Err(Outcome::Failed { error }) => {
                warn!(
                    "{} for {} users at once failed ({error}); trying them one by one",
                    self.changes[batch[0]].kind(),
                    batch.len()
                );
                let mut one_by_one = Vec::with_capacity(batch.len());
                for &i in &batch {
                    one_by_one.push(match self.opts.stop.skipped() {
                        Some(stopped) => stopped,
                        None => match self.execute(&self.changes[i]).await {
                            Ok(()) => Outcome::Done,
                            Err(e) => failed(&e),
                        },
                    });
                }
                one_by_one
            }
            Err(outcome) => vec![outcome; batch.len()],
        };
        batch
            .into_iter()
            .zip(outcomes)
            .map(|(i, outcome)| {
                self.sink.record(&self.changes[i], &outcome);
                (i, outcome)
            })
            .collect()
    }

    /// Invites the new users, one request per group and batch of [`BATCH`],
    /// batches in parallel. A batch TimeCamp refuses is tried again address by
    /// address, so one bad address fails alone. Returns the users to finish.
    async fn invites(&mut self, invites: &[usize]) -> Vec<Created> {
        let mut by_group: Vec<(u64, Vec<usize>)> = Vec::new();
        let mut done = Vec::new();
        for &i in invites {
            let change = &self.changes[i];
            let Change::CreateUser(new) = change else {
                continue;
            };
            if let Some(outcome) = self.blocked(change) {
                self.sink.record(change, &outcome);
                done.push((i, outcome));
                continue;
            }
            let gid = self.group_id(new.group);
            match by_group
                .iter_mut()
                .find(|(g, batch)| *g == gid && batch.len() < BATCH)
            {
                Some((_, batch)) => batch.push(i),
                None => by_group.push((gid, vec![i])),
            }
        }
        let this = &*self;
        let results: Vec<Vec<(usize, Outcome)>> = futures::stream::iter(by_group)
            .map(|(gid, batch)| this.invite_batch(gid, batch))
            .buffer_unordered(self.concurrency())
            .collect()
            .await;
        done.extend(results.into_iter().flatten());
        let created = done
            .iter()
            .filter(|(_, outcome)| *outcome == Outcome::Done)
            .filter_map(|(i, _)| match &self.changes[*i] {
                Change::CreateUser(new) => Some(Created {
                    user: new.clone(),
                    group_id: self.group_id(new.group),
                }),
                _ => None,
            })
            .collect();
        self.keep(done);
        created
    }

    async fn invite_batch(&self, gid: u64, batch: Vec<usize>) -> Vec<(usize, Outcome)> {
        let email = |i: usize| match &self.changes[i] {
            Change::CreateUser(new) => new.email.as_str(),
            _ => "",
        };
        let emails: Vec<&str> = batch.iter().map(|&i| email(i)).collect();
        let outcomes: Vec<Outcome> = match self.opts.stop.skipped() {
            Some(stopped) => vec![stopped; batch.len()],
            None => match self.invite_checked(gid, &emails).await {
                Ok(outcomes) => outcomes,
                Err(e) if batch.len() == 1 => vec![failed(&e)],
                Err(e) => {
                    warn!(
                        "inviting {} users into group {gid} at once failed ({e}); inviting them one by one",
                        batch.len()
                    );
                    let mut one_by_one = Vec::with_capacity(batch.len());
                    for address in &emails {
                        one_by_one.push(match self.opts.stop.skipped() {
                            Some(stopped) => stopped,
                            None => match self.invite_checked(gid, &[address]).await {
                                Ok(mut o) => o.pop().unwrap_or(Outcome::Done),
                                Err(e) => failed(&e),
                            },
                        });
                    }
                    one_by_one
                }
            },
        };
        batch
            .into_iter()
            .zip(outcomes)
            .map(|(i, outcome)| {
                self.sink.record(&self.changes[i], &outcome);
                (i, outcome)
            })
            .collect()
    }

    /// Invites `emails` into `gid`. When the answer is lost, reads the users
    /// to see who was added, and invites again only the others (a blind
    /// second invitation may e-mail a person twice).
    async fn invite_checked(&self, gid: u64, emails: &[&str]) -> Result<Vec<Outcome>, ApiError> {
        let mut missing: Vec<&str> = emails.to_vec();
        let mut tries = 0;
        loop {
            tries += 1;
            match self.client.invite_many(gid, &missing).await {
                Ok(()) => return Ok(vec![Outcome::Done; emails.len()]),
                Err(e) if e.outcome_unknown() => {
                    warn!(
                        "{e}; looking which of the {} invitees exist now",
                        missing.len()
                    );
                    let listed: HashSet<String> = self
                        .client
                        .users()
                        .await?
                        .into_iter()
                        .map(|u| u.email.trim().to_lowercase())
                        .collect();
                    missing.retain(|m| !listed.contains(&m.trim().to_lowercase()));
                    if missing.is_empty() {
                        return Ok(vec![Outcome::Done; emails.len()]);
                    }
                    if tries >= UNKNOWN_TRIES {
                        let error = e.to_string();
                        return Ok(emails
                            .iter()
                            .map(|m| match missing.contains(m) {
                                true => Outcome::Failed {
                                    error: error.clone(),
                                },
                                false => Outcome::Done,
                            })
                            .collect());
                    }
                    info!(
                        "{} invitee(s) not added yet; inviting them again",
                        missing.len()
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn execute(&self, change: &Change) -> Result<(), ApiError> {
        execute(self.client, change, &self.new_groups).await
    }

    /// Every change with its outcome, in the order given.
    fn report(self) -> Vec<Applied> {
        self.changes
            .iter()
            .zip(self.outcomes)
            .map(|(change, outcome)| Applied {
                change: change.clone(),
                // Every change is in exactly one stage.
                outcome: outcome.unwrap_or(Outcome::Skipped {
                    reason: "not reached".into(),
                }),
            })
            .collect()
    }
}

/// A group creation's change index, outcome, and (plan key, new id) when made.
type GroupDone = (usize, Outcome, Option<(usize, u64)>);

/// How often a write whose outcome is unknown is looked up and tried again.
const UNKNOWN_TRIES: u32 = 2;

/// The request a batched change goes in: `PUT group/{from}/user` moving to
/// `to`, or `PUT group/{group}/user` giving `role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Move { from: u64, to: u64 },
    Role { group: u64, role: u8 },
}

fn failed(e: &ApiError) -> Outcome {
    Outcome::Failed {
        error: e.to_string(),
    }
}

fn log_outcome(change: &Change, outcome: &Outcome) {
    match outcome {
        Outcome::Done => info!("{}: {}", subject(change), describe_done(change)),
        Outcome::Failed { error } => {
            warn!("{}: {} failed: {error}", subject(change), change.kind())
        }
        Outcome::Skipped { reason } => {
            warn!("{}: {} skipped: {reason}", subject(change), change.kind())
        }
    }
}

fn group_id(r: GroupRef, new_groups: &HashMap<usize, u64>) -> u64 {
    match r {
        GroupRef::Existing(id) => id,
        // Groups are created before the users that need them, and a use of a
        // group that failed is blocked; 0 is never a valid target.
        GroupRef::New(key) => new_groups.get(&key).copied().unwrap_or(0),
    }
}

/// One change alone: what a refused batch falls back to, and every change
/// that has no batch.
async fn execute(
    client: &Client,
    change: &Change,
    new_groups: &HashMap<usize, u64>,
) -> Result<(), ApiError> {
    match change {
        Change::CreateGroup { name, parent, .. } => {
            client
                .create_group(name, group_id(*parent, new_groups))
                .await?;
        }
        Change::CreateUser(new) => {
            client
                .invite(group_id(new.group, new_groups), &new.email)
                .await?
        }
        Change::ReEnable { user } => client.set_setting(user.id, "disabled_user", "0").await?,
        Change::Rename { user, to, .. } => client.set_display_name(user.id, to).await?,
        Change::SetEmail { user, to, .. } => client.set_email(user.id, to).await?,
        Change::Move { user, from, to, .. } => {
            client
                .move_user(user.id, *from, group_id(*to, new_groups))
                .await?;
        }
        Change::SetRole {
            user, group, to, ..
        } => {
            client
                .set_role(user.id, group_id(*group, new_groups), to.id())
                .await?;
        }
        Change::SetAdditionalEmail { user, to, .. } => {
            client.set_setting(user.id, "additional_email", to).await?;
        }
        Change::SetExternalId { user, to, .. } => {
            client.set_setting(user.id, "external_id", to).await?
        }
        Change::ResetAddedManually { user } => {
            client.set_setting(user.id, "added_manually", "0").await?
        }
        Change::Disable { user, .. } => client.set_setting(user.id, "disabled_user", "1").await?,
        Change::MoveToDisabledGroup { user, from, to } => {
            client.move_user(user.id, *from, *to).await?
        }
    }
    Ok(())
}

/// Waits (bounded) for invited users to be listed, then sets what the invite
/// cannot: added_manually (first), display name, role, additional e-mail,
/// external id; roles go in batches like the plan's.
async fn finalise(
    client: &Client,
    created: Vec<Created>,
    opts: &ApplyOptions,
    sink: &Sink<'_>,
    report: &mut Report,
) {
    let found = wait_until_listed(client, &created, opts).await;
    let mut follow_ups = Vec::new();
    for c in created {
        let expected = expected_follow_ups(&c.user);
        match found.get(&c.user.email.to_lowercase()) {
            Some(user) => {
                let mine = follow_ups_of(&c, user);
                sink.progress.adjust(expected, mine.len());
                follow_ups.extend(mine);
            }
            None => {
                sink.progress.adjust(expected, 0);
                let reason = if opts.stop.is_requested() {
                    STOPPED.to_owned()
                } else {
                    warn!(
                        "{}: created, but not listed by TimeCamp after {} s; its name, role and settings will be set by the next run",
                        c.user.email,
                        opts.new_user_wait.as_secs()
                    );
                    "not yet listed by TimeCamp after the invitation".into()
                };
                report.pending.push(Pending {
                    email: c.user.email,
                    reason,
                });
            }
        }
    }
    let indexes: Vec<usize> = (0..follow_ups.len()).collect();
    let stages = stages(&follow_ups, &indexes);
    let mut run = Run::new(client, &follow_ups, opts, sink);
    run.first(&stages.first).await;
    run.later(&stages).await;
    report.finalised = run.report();
}

/// Polls `GET /users` until every invitee is listed, the wait is over, or
/// the run is asked to stop; returns the ones found by lower-cased e-mail.
async fn wait_until_listed(
    client: &Client,
    created: &[Created],
    opts: &ApplyOptions,
) -> HashMap<String, scim_timecamp::User> {
    let deadline = tokio::time::Instant::now() + opts.new_user_wait;
    let wanted: HashSet<String> = created
        .iter()
        .map(|c| c.user.email.to_lowercase())
        .collect();
    let mut found: HashMap<String, scim_timecamp::User> = HashMap::new();
    loop {
        if opts.stop.is_requested() {
            break;
        }
        match client.users().await {
            Ok(users) => {
                for u in users {
                    let key = u.email.trim().to_lowercase();
                    if wanted.contains(&key) {
                        found.insert(key, u);
                    }
                }
            }
            Err(e) => warn!("cannot list users to finish the new ones: {e}"),
        }
        if found.len() == created.len() || tokio::time::Instant::now() >= deadline {
            break;
        }
        info!(
            "Waiting for {} new user(s) to appear in TimeCamp",
            created.len() - found.len()
        );
        tokio::time::sleep(opts.poll_interval).await;
    }
    found
}

/// The follow-up writes of one new user, in order. Ownership first: once
/// added_manually=0 is written, whatever else is left undone is planned
/// again by the next run from TimeCamp's state alone.
fn follow_ups_of(c: &Created, user: &scim_timecamp::User) -> Vec<Change> {
    let me = UserRef {
        id: user.user_id,
        email: c.user.email.clone(),
    };
    let mut follow_ups = vec![Change::ResetAddedManually { user: me.clone() }];
    if user.display_name.as_deref() != Some(c.user.name.as_str()) {
        follow_ups.push(Change::Rename {
            user: me.clone(),
            from: user.display_name.clone(),
            to: c.user.name.clone(),
        });
    }
    if c.user.role != Role::User {
        follow_ups.push(Change::SetRole {
            user: me.clone(),
            // The group TimeCamp lists them in; the invited group if it lists none.
            group: GroupRef::Existing(if user.group_id == 0 {
                c.group_id
            } else {
                user.group_id
            }),
            from: None,
            to: c.user.role,
        });
    }
    if let Some(e) = &c.user.additional_email {
        follow_ups.push(Change::SetAdditionalEmail {
            user: me.clone(),
            from: None,
            to: e.clone(),
        });
    }
    if let Some(id) = &c.user.external_id {
        follow_ups.push(Change::SetExternalId {
            user: me.clone(),
            from: None,
            to: id.clone(),
        });
    }
    follow_ups
}

/// The original's seat-billing warning, logged before users are created or re-enabled.
pub fn warn_billing() {
    warn!(
        "BILLING WARNING: IF YOUR TIMECAMP ACCOUNT DOES NOT HAVE ENOUGH PAID SEATS FOR THE USERS \
         BEING ADDED OR RE-ENABLED, TIMECAMP ADDS SEATS AUTOMATICALLY AND CHARGES FOR THEM"
    );
}

fn describe_done(change: &Change) -> String {
    match change {
        Change::CreateGroup { .. } => "group created".into(),
        Change::CreateUser(NewUser { group_path, .. }) => {
            format!("invited into {:?}", display_path(group_path))
        }
        Change::ReEnable { .. } => "re-enabled".into(),
        Change::SetEmail { from, to, .. } => format!("e-mail changed from {from} to {to}"),
        Change::Rename { to, .. } => format!("renamed to {to:?}"),
        Change::Move { to_path, .. } => format!("moved to {:?}", display_path(to_path)),
        Change::SetRole { to, .. } => format!("role set to {to}"),
        Change::SetAdditionalEmail { to, .. } => format!("additional e-mail set to {to}"),
        Change::SetExternalId { to, .. } => format!("external id set to {to}"),
        Change::ResetAddedManually { .. } => scim_plan::types::MANAGED_FROM_NOW_ON.into(),
        Change::Disable { reason, .. } => format!("disabled ({reason})"),
        Change::MoveToDisabledGroup { to, .. } => format!("moved to the disabled-users group {to}"),
    }
}
