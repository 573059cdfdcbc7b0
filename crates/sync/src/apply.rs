//! Reading TimeCamp's state and applying a plan through the client.
//!
//! A failing change is recorded with its reason and the rest of the plan goes
//! on; only the later changes of the same user (or of users in a group that
//! could not be created) are skipped, since they depend on it. The next run
//! converges because planning starts again from what TimeCamp holds.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use scim_core::model::Role;
use scim_timecamp::{ApiError, Client, SETTING_NAMES};
use serde::Serialize;
use tracing::{info, warn};

use crate::plan::{Change, CurrentState, CurrentUser, GroupRef, NewUser, Plan, UserRef};
use scim_plan::text::{display_path, subject};

/// Reads groups, users, their settings and roles: the bulk reads of a run.
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
            reason: "the run was asked to stop; the next run does this".into(),
        })
    }
}

/// Told how far a run is (changes done, changes in all) after every step; a
/// terminal draws a bar with it. Without one, progress goes to the log.
#[derive(Clone)]
pub struct ProgressHook(pub std::sync::Arc<dyn Fn(usize, usize) + Send + Sync>);

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

/// How far a run is: given to the hook, or logged at intervals so a long
/// first import shows life in the log (`applied 800 of 1801 changes`).
#[derive(Debug)]
struct Progress {
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    last: std::sync::Mutex<std::time::Instant>,
    hook: Option<ProgressHook>,
}

/// Seconds between progress lines.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    fn new(total: usize, hook: Option<ProgressHook>) -> Self {
        Self {
            total,
            done: Default::default(),
            last: std::sync::Mutex::new(std::time::Instant::now()),
            hook,
        }
    }

    fn tick(&self, n: usize) {
        let done = self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        if let Some(hook) = &self.hook {
            (hook.0)(done.min(self.total), self.total);
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.elapsed() >= PROGRESS_EVERY && done < self.total {
            *last = std::time::Instant::now();
            info!("applied {done} of {} changes", self.total);
        }
    }
}

/// How the plan is applied.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long to wait for invited users to appear in `GET /users`.
    pub new_user_wait: Duration,
    pub poll_interval: Duration,
    /// Write requests in flight at once (users in parallel; one user's changes in order).
    pub concurrency: usize,
    pub stop: StopFlag,
    /// Where progress goes instead of the log (a terminal's bar).
    pub progress: Option<ProgressHook>,
}

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Failed {
        error: String,
    },
    /// Not attempted because something it depends on failed.
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
        self.applied
            .iter()
            .chain(&self.finalised)
            .filter(|a| matches!(a.outcome, Outcome::Failed { .. }))
    }
}

/// TimeCamp's invite takes several addresses for one group; this many go in one request.
pub const INVITE_BATCH: usize = 50;

/// The order a plan is applied in, as indexes into `plan.changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Group creations by depth among the new groups: a level runs after the
    /// one before it, its creations in parallel.
    pub group_levels: Vec<Vec<usize>>,
    /// The users this plan creates: invited in batches per group, after the
    /// groups exist. (A new user has no other change in the plan; what the
    /// invite cannot set follows once TimeCamp lists them.)
    pub invites: Vec<usize>,
    /// One sequence per existing user (by TimeCamp id), in plan order: users in
    /// parallel, each sequence in order, since a later change may depend on an
    /// earlier one.
    pub user_sequences: Vec<Vec<usize>>,
}

/// Splits a plan into group levels and per-user sequences. Pure.
pub fn schedule(plan: &Plan) -> Schedule {
    let mut out = Schedule::default();
    let mut depth: HashMap<usize, usize> = HashMap::new();
    let mut slot: HashMap<u64, usize> = HashMap::new();
    for (i, change) in plan.changes.iter().enumerate() {
        let subject = match change {
            Change::CreateGroup { key, parent, .. } => {
                let d = match parent {
                    GroupRef::New(p) => depth.get(p).map_or(0, |d| d + 1),
                    GroupRef::Existing(_) => 0,
                };
                depth.insert(*key, d);
                if out.group_levels.len() <= d {
                    out.group_levels.resize(d + 1, Vec::new());
                }
                out.group_levels[d].push(i);
                continue;
            }
            Change::CreateUser(_) => {
                out.invites.push(i);
                continue;
            }
            // Every other change is about an existing user.
            other => other.user().map_or(0, |u| u.id),
        };
        let n = *slot.entry(subject).or_insert_with(|| {
            out.user_sequences.push(Vec::new());
            out.user_sequences.len() - 1
        });
        out.user_sequences[n].push(i);
    }
    out
}

/// A group creation's outcome, by change index; `created` holds (key, new id).
struct GroupDone {
    index: usize,
    outcome: Outcome,
    created: Option<(usize, u64)>,
}

/// One user's outcomes, by change index.
struct UserDone {
    done: Vec<(usize, Outcome)>,
}

/// A user created in this run, waiting to be finished.
struct Created {
    user: NewUser,
    /// The group invited into.
    group_id: u64,
}

/// Applies the plan: groups first, parents before children (each level in
/// parallel); then every user's changes in plan order, users in parallel up
/// to `opts.concurrency`; then the finishing writes of new users.
pub async fn apply(client: &Client, plan: &Plan, opts: &ApplyOptions) -> Report {
    let concurrency = opts.concurrency.max(1);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.changes.len()];

    let Schedule {
        group_levels,
        invites,
        user_sequences,
    } = schedule(plan);
    let progress = Progress::new(plan.changes.len(), opts.progress.clone());
    let mut new_groups: HashMap<usize, u64> = HashMap::new();
    let mut failed_groups: HashSet<usize> = HashSet::new();
    for level in group_levels {
        let results: Vec<GroupDone> = futures::stream::iter(level)
            .map(|index| {
                let change = &plan.changes[index];
                let new_groups = &new_groups;
                let failed_groups = &failed_groups;
                let stop = &opts.stop;
                async move {
                    let blocked = stop.skipped().or_else(|| {
                        blocked_by(change, failed_groups).map(|reason| Outcome::Skipped { reason })
                    });
                    let (outcome, created) = match blocked {
                        Some(outcome) => (outcome, None),
                        None => match execute(client, change, new_groups).await {
                            Ok(Executed::Group(key, id)) => (Outcome::Done, Some((key, id))),
                            Ok(_) => (Outcome::Done, None),
                            Err(e) => (
                                Outcome::Failed {
                                    error: e.to_string(),
                                },
                                None,
                            ),
                        },
                    };
                    GroupDone {
                        index,
                        outcome,
                        created,
                    }
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        progress.tick(results.len());
        for GroupDone {
            index: i,
            outcome,
            created,
        } in results
        {
            if let Some((key, id)) = created {
                new_groups.insert(key, id);
            } else if let Change::CreateGroup { key, .. } = &plan.changes[i] {
                failed_groups.insert(*key);
            }
            log_outcome(&plan.changes[i], &outcome);
            outcomes[i] = Some(outcome);
        }
    }

    if plan.adds_seats() {
        warn_billing();
    }
    let mut created = Vec::new();
    for (i, outcome, user) in
        invite_in_batches(client, plan, &invites, &new_groups, &failed_groups, opts).await
    {
        progress.tick(1);
        log_outcome(&plan.changes[i], &outcome);
        outcomes[i] = Some(outcome);
        created.extend(user);
    }
    let results: Vec<UserDone> = futures::stream::iter(user_sequences)
        .map(|sequence| {
            let new_groups = &new_groups;
            let failed_groups = &failed_groups;
            let progress = &progress;
            async move {
                let changes: Vec<&Change> = sequence.iter().map(|&i| &plan.changes[i]).collect();
                let outcomes =
                    run_in_order(client, &changes, new_groups, failed_groups, &opts.stop).await;
                progress.tick(changes.len());
                UserDone {
                    done: sequence.into_iter().zip(outcomes).collect(),
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for result in results {
        for (i, outcome) in result.done {
            outcomes[i] = Some(outcome);
        }
    }

    let mut report = Report {
        applied: plan
            .changes
            .iter()
            .zip(outcomes)
            .map(|(change, outcome)| Applied {
                change: change.clone(),
                // Every change is in exactly one group level or user sequence.
                outcome: outcome.unwrap_or(Outcome::Skipped {
                    reason: "not reached".into(),
                }),
            })
            .collect(),
        ..Report::default()
    };
    if !created.is_empty() {
        finalise(client, created, opts, &mut report).await;
    }
    report
}

/// Invites the new users, one request per group and batch of [`INVITE_BATCH`],
/// batches in parallel. A batch TimeCamp refuses is tried again address by
/// address, so one bad address fails alone. Returns each invite's outcome and,
/// when it succeeded, the user to finish.
async fn invite_in_batches(
    client: &Client,
    plan: &Plan,
    invites: &[usize],
    new_groups: &HashMap<usize, u64>,
    failed_groups: &HashSet<usize>,
    opts: &ApplyOptions,
) -> Vec<(usize, Outcome, Option<Created>)> {
    let mut done = Vec::new();
    let mut by_group: Vec<(u64, Vec<(usize, Created)>)> = Vec::new();
    for &i in invites {
        let change = &plan.changes[i];
        let Change::CreateUser(new) = change else {
            continue;
        };
        if let Some(reason) = blocked_by(change, failed_groups) {
            done.push((i, Outcome::Skipped { reason }, None));
            continue;
        }
        let gid = group_id(new.group, new_groups);
        let user = Created {
            user: new.clone(),
            group_id: gid,
        };
        match by_group.iter_mut().find(|(g, _)| *g == gid) {
            Some((_, users)) => users.push((i, user)),
            None => by_group.push((gid, vec![(i, user)])),
        }
    }
    let batches: Vec<(u64, Vec<(usize, Created)>)> = by_group
        .into_iter()
        .flat_map(|(gid, users)| {
            let mut chunks = Vec::new();
            let mut users = users.into_iter().peekable();
            while users.peek().is_some() {
                chunks.push((gid, users.by_ref().take(INVITE_BATCH).collect::<Vec<_>>()));
            }
            chunks
        })
        .collect();
    let results: Vec<Vec<(usize, Outcome, Option<Created>)>> = futures::stream::iter(batches)
        .map(|(gid, users)| invite_batch(client, plan, new_groups, gid, users, &opts.stop))
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    done.extend(results.into_iter().flatten());
    done
}

async fn invite_batch(
    client: &Client,
    plan: &Plan,
    new_groups: &HashMap<usize, u64>,
    gid: u64,
    users: Vec<(usize, Created)>,
    stop: &StopFlag,
) -> Vec<(usize, Outcome, Option<Created>)> {
    if let Some(stopped) = stop.skipped() {
        return users
            .into_iter()
            .map(|(i, _)| (i, stopped.clone(), None))
            .collect();
    }
    let emails: Vec<&str> = users.iter().map(|(_, u)| u.user.email.as_str()).collect();
    let first = client.invite_many(gid, &emails).await;
    match first {
        Ok(()) => users
            .into_iter()
            .map(|(i, u)| (i, Outcome::Done, Some(u)))
            .collect(),
        // A batch that may have been applied is not sent again, one by one
        // either: the next run reads who is there.
        Err(e) if users.len() == 1 || e.outcome_unknown() => users
            .into_iter()
            .map(|(i, _)| {
                (
                    i,
                    Outcome::Failed {
                        error: e.to_string(),
                    },
                    None,
                )
            })
            .collect(),
        Err(e) => {
            warn!(
                "inviting {} users into group {gid} at once failed ({e}); inviting them one by one",
                users.len()
            );
            let mut out = Vec::with_capacity(users.len());
            for (i, u) in users {
                if let Some(stopped) = stop.skipped() {
                    out.push((i, stopped, None));
                    continue;
                }
                match execute(client, &plan.changes[i], new_groups).await {
                    Ok(_) => out.push((i, Outcome::Done, Some(u))),
                    Err(e) => out.push((
                        i,
                        Outcome::Failed {
                            error: e.to_string(),
                        },
                        None,
                    )),
                }
            }
            out
        }
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

/// Why a change cannot run: the new group it needs could not be created.
/// (A failed earlier change of the same user stops the user's sequence instead.)
fn blocked_by(change: &Change, failed_groups: &HashSet<usize>) -> Option<String> {
    let group = match change {
        Change::CreateGroup { parent, .. } => Some(parent),
        Change::CreateUser(new) => Some(&new.group),
        Change::Move { to, .. } => Some(to),
        Change::SetRole { group, .. } => Some(group),
        _ => None,
    };
    match group {
        Some(GroupRef::New(key)) if failed_groups.contains(key) => {
            Some("its group could not be created".into())
        }
        _ => None,
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

/// What a successful change produced.
enum Executed {
    Nothing,
    Group(usize, u64),
}

async fn execute(
    client: &Client,
    change: &Change,
    new_groups: &HashMap<usize, u64>,
) -> Result<Executed, ApiError> {
    match change {
        Change::CreateGroup {
            key, name, parent, ..
        } => {
            let id = client
                .create_group(name, group_id(*parent, new_groups))
                .await?;
            return Ok(Executed::Group(*key, id));
        }
        // One address alone: what a refused batch falls back to.
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
    Ok(Executed::Nothing)
}

/// Waits (bounded) for invited users to be listed, then sets what the invite
/// cannot: added_manually (first), display name, role, additional e-mail, external id.
async fn finalise(
    client: &Client,
    created: Vec<Created>,
    opts: &ApplyOptions,
    report: &mut Report,
) {
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

    let mut ready = Vec::new();
    for c in created {
        match found.get(&c.user.email.to_lowercase()) {
            Some(user) => ready.push((c, user.clone())),
            None => {
                warn!(
                    "{}: created, but not listed by TimeCamp after {} s; its name, role and settings will be set by the next run",
                    c.user.email,
                    opts.new_user_wait.as_secs()
                );
                report.pending.push(Pending {
                    email: c.user.email,
                    reason: "not yet listed by TimeCamp after the invitation".into(),
                });
            }
        }
    }
    let finished: Vec<Vec<Applied>> = futures::stream::iter(ready)
        .map(|(c, user)| finish_one(client, c, user, &opts.stop))
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    report.finalised.extend(finished.into_iter().flatten());
}

/// The follow-up writes of one new user, in order; stops at the first failure.
async fn finish_one(
    client: &Client,
    c: Created,
    user: scim_timecamp::User,
    stop: &StopFlag,
) -> Vec<Applied> {
    let me = UserRef {
        id: user.user_id,
        email: c.user.email.clone(),
    };
    // Ownership first: once added_manually=0 is written, whatever else is left
    // undone is planned again by the next run from TimeCamp's state alone.
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
    let refs: Vec<&Change> = follow_ups.iter().collect();
    let outcomes = run_in_order(client, &refs, &HashMap::new(), &HashSet::new(), stop).await;
    follow_ups
        .into_iter()
        .zip(outcomes)
        .map(|(change, outcome)| Applied { change, outcome })
        .collect()
}

/// Runs one user's changes in order; after the first one that does not
/// succeed, the rest are skipped, since each may depend on the one before.
async fn run_in_order(
    client: &Client,
    changes: &[&Change],
    new_groups: &HashMap<usize, u64>,
    failed_groups: &HashSet<usize>,
    stop: &StopFlag,
) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(changes.len());
    let mut failed = false;
    for change in changes {
        let outcome = if failed {
            Outcome::Skipped {
                reason: "an earlier change of this user failed".into(),
            }
        } else if let Some(stopped) = stop.skipped() {
            stopped
        } else if let Some(reason) = blocked_by(change, failed_groups) {
            Outcome::Skipped { reason }
        } else {
            match execute(client, change, new_groups).await {
                Ok(_) => Outcome::Done,
                Err(e) => Outcome::Failed {
                    error: e.to_string(),
                },
            }
        };
        failed |= !matches!(outcome, Outcome::Done);
        log_outcome(change, &outcome);
        outcomes.push(outcome);
    }
    outcomes
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
        Change::ResetAddedManually { .. } => "added_manually set to 0".into(),
        Change::Disable { reason, .. } => format!("disabled ({reason})"),
        Change::MoveToDisabledGroup { to, .. } => format!("moved to the disabled-users group {to}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::LeaveReason;

    fn user(id: u64) -> UserRef {
        UserRef {
            id,
            email: format!("u{id}@x.com"),
        }
    }

    fn group(key: usize, parent: GroupRef) -> Change {
        Change::CreateGroup {
            key,
            path: format!("g{key}"),
            name: format!("g{key}"),
            parent,
        }
    }

    #[test]
    fn groups_run_by_depth_and_each_user_in_plan_order() {
        let plan = Plan {
            changes: vec![
                group(0, GroupRef::Existing(10)),
                group(1, GroupRef::New(0)),
                group(2, GroupRef::Existing(10)),
                group(3, GroupRef::New(1)),
                Change::ResetAddedManually { user: user(7) },
                Change::Disable {
                    user: user(8),
                    reason: LeaveReason::NotInSource,
                },
                Change::Rename {
                    user: user(7),
                    from: None,
                    to: "A".into(),
                },
                Change::CreateUser(NewUser {
                    email: "n@x.com".into(),
                    name: "N".into(),
                    group: GroupRef::New(3),
                    group_path: "g0/g1/g3".into(),
                    role: scim_core::model::Role::User,
                    additional_email: None,
                    external_id: None,
                    after: None,
                }),
            ],
            ..Plan::default()
        };
        let s = schedule(&plan);
        assert_eq!(s.group_levels, [vec![0, 2], vec![1], vec![3]]);
        assert_eq!(s.invites, [7]);
        assert_eq!(s.user_sequences, [vec![4, 6], vec![5]]);
    }
}
