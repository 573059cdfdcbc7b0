//! Planning: TimeCamp's current state + the prepared users → the list of
//! changes. Pure code, no I/O, so every rule of the sync is tested without a
//! server.
//!
//! Rules (the original's, with its bugs fixed): users are matched by
//! e-mail, then by additional e-mail (case-insensitive), then by external id; group paths resolve
//! under the root group only; a value that already matches is never
//! written; roles go to the group the user ends up in; new users get
//! their display name and respect the additional e-mail switch;
//! an additional e-mail equal to the primary is never written.

use std::collections::{HashMap, HashSet};
use std::fmt;

use scim_groups::{DuplicateName, GroupNode, GroupTree, normalise_path, path_parts};
use scim_model::timecamp::Group;
use scim_model::{Role, Status, TimecampUser};
use serde::Serialize;

/// TimeCamp allows groups up to this level (the account's top group is level 1).
pub const MAX_GROUP_LEVEL: usize = 4;

/// The switches of the sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    pub root_group_id: u64,
    pub ignored_user_ids: HashSet<u64>,
    /// Where disabled users go; `None` leaves them in their group.
    pub disabled_users_group_id: Option<u64>,
    pub disable_new_users: bool,
    pub disable_external_id_sync: bool,
    pub disable_additional_email_sync: bool,
    pub disable_manual_user_updates: bool,
    pub disable_group_updates: bool,
    pub disable_role_updates: bool,
    pub disable_groups_creation: bool,
    /// `TIMECAMP_DISABLE_USER_DEACTIVATION`: leavers are not disabled (only moved
    /// to the disabled-users group, when one is set, as the newer upstream does).
    pub disable_user_deactivation: bool,
    /// `TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID`: a user found by external id gets
    /// the source's e-mail as their primary e-mail.
    pub update_email_on_external_id: bool,
}

/// A TimeCamp user with the settings and role the sync cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentUser {
    pub id: u64,
    pub email: String,
    pub display_name: Option<String>,
    pub group_id: u64,
    pub enabled: bool,
    /// The `added_manually` setting as TimeCamp has it.
    pub added_manually: Option<String>,
    pub additional_email: Option<String>,
    pub external_id: Option<String>,
    /// Role id in `group_id`, when `people_picker` lists it.
    pub role_id: Option<u8>,
}

impl CurrentUser {
    fn is_manual(&self) -> bool {
        self.added_manually.as_deref().map(str::trim) == Some("1")
    }
}

/// What TimeCamp holds now.
#[derive(Debug, Clone, Default)]
pub struct CurrentState {
    pub groups: Vec<Group>,
    /// In `GET /users` order.
    pub users: Vec<CurrentUser>,
    /// Lower-cased e-mails an earlier run invited but did not finish (it never
    /// wrote their `added_manually=0`; see [`crate::pending`]). TimeCamp may
    /// show them as added by hand; they are the sync's all the same.
    pub pending_invites: HashSet<String>,
}

impl CurrentState {
    /// Whether the sync must leave this user alone as added by hand.
    fn protected_as_manual(&self, user: &CurrentUser, opts: &SyncOptions) -> bool {
        opts.disable_manual_user_updates
            && user.is_manual()
            && !self.pending_invites.contains(&lower(&user.email))
    }
}

/// A group that exists, or one the plan creates (index into the plan's group list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupRef {
    Existing(u64),
    New(usize),
}

/// A user the plan creates: what the invite and the follow-ups set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub group: GroupRef,
    pub group_path: String,
    pub role: Role,
    pub additional_email: Option<String>,
    pub external_id: Option<String>,
}

/// Which TimeCamp user a change is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRef {
    pub id: u64,
    pub email: String,
}

/// One change to TimeCamp. Changes of one user appear in the order they must
/// be applied; groups come before anything that uses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    CreateGroup {
        /// Index referred to by [`GroupRef::New`].
        key: usize,
        /// Full path under the root group.
        path: String,
        name: String,
        parent: GroupRef,
    },
    CreateUser(NewUser),
    ReEnable {
        user: UserRef,
    },
    Rename {
        user: UserRef,
        from: Option<String>,
        to: String,
    },
    Move {
        user: UserRef,
        from: u64,
        to: GroupRef,
        to_path: String,
    },
    SetRole {
        user: UserRef,
        group: GroupRef,
        from: Option<u8>,
        to: Role,
    },
    /// The primary e-mail of a user found by external id.
    SetEmail {
        user: UserRef,
        from: String,
        to: String,
    },
    SetAdditionalEmail {
        user: UserRef,
        from: Option<String>,
        to: String,
    },
    SetExternalId {
        user: UserRef,
        from: Option<String>,
        to: String,
    },
    ResetAddedManually {
        user: UserRef,
    },
    Disable {
        user: UserRef,
        reason: LeaveReason,
    },
    MoveToDisabledGroup {
        user: UserRef,
        from: u64,
        to: u64,
    },
}

impl Change {
    /// A short name of the kind, for grouping and counting.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::CreateGroup { .. } => "create group",
            Change::CreateUser(_) => "create user",
            Change::ReEnable { .. } => "re-enable",
            Change::Rename { .. } => "rename",
            Change::Move { .. } => "move",
            Change::SetEmail { .. } => "set e-mail",
            Change::SetRole { .. } => "set role",
            Change::SetAdditionalEmail { .. } => "set additional e-mail",
            Change::SetExternalId { .. } => "set external id",
            Change::ResetAddedManually { .. } => "reset added_manually",
            Change::Disable { .. } => "disable",
            Change::MoveToDisabledGroup { .. } => "move to disabled-users group",
        }
    }

    /// The existing user the change is about, if any.
    pub fn user(&self) -> Option<&UserRef> {
        match self {
            Change::CreateGroup { .. } | Change::CreateUser(_) => None,
            Change::ReEnable { user }
            | Change::Rename { user, .. }
            | Change::Move { user, .. }
            | Change::SetRole { user, .. }
            | Change::SetEmail { user, .. }
            | Change::SetAdditionalEmail { user, .. }
            | Change::SetExternalId { user, .. }
            | Change::ResetAddedManually { user }
            | Change::Disable { user, .. }
            | Change::MoveToDisabledGroup { user, .. } => Some(user),
        }
    }
}

/// Why a TimeCamp user who left is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    InactiveInSource,
    NotInSource,
}

impl fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LeaveReason::InactiveInSource => "inactive in the source",
            LeaveReason::NotInSource => "not in the source",
        })
    }
}

/// Why the sync leaves someone alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Not in TimeCamp, and `TIMECAMP_DISABLE_NEW_USERS` is set.
    NewUsersDisabled,
    /// A second record that matches a TimeCamp user an earlier record matched.
    SameTimecampUser {
        id: u64,
        first: String,
    },
    Ignored {
        id: u64,
    },
    /// Added by hand, and `TIMECAMP_DISABLE_MANUAL_USER_UPDATES` is set.
    Manual,
    /// Left, but added by hand and protected.
    ManualLeaver(LeaveReason),
    /// Its external id is on several TimeCamp users.
    SharedExternalId {
        id: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NewUsersDisabled => {
                f.write_str("not in TimeCamp, and TIMECAMP_DISABLE_NEW_USERS is set")
            }
            SkipReason::SameTimecampUser { id, first } => {
                write!(f, "matches the same TimeCamp user ({id}) as {first}")
            }
            SkipReason::Ignored { id } => {
                write!(f, "TimeCamp user {id} is in TIMECAMP_IGNORED_USER_IDS")
            }
            SkipReason::Manual => {
                f.write_str("added manually, and TIMECAMP_DISABLE_MANUAL_USER_UPDATES is set")
            }
            SkipReason::SharedExternalId { id } => write!(
                f,
                "not in TimeCamp by e-mail, and its external id {id:?} is on several TimeCamp users"
            ),
            SkipReason::ManualLeaver(why) => write!(
                f,
                "{why}, but added manually and TIMECAMP_DISABLE_MANUAL_USER_UPDATES is set"
            ),
        }
    }
}

/// Something about TimeCamp's state or the prepared file that a person should
/// know; the plan goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanWarning {
    DuplicateGroupName(DuplicateName),
    RootGroupMissing {
        root: u64,
    },
    /// Two TimeCamp users with one e-mail; only `kept` is synced.
    SharedEmail {
        email: String,
        first: u64,
        kept: u64,
    },
    EmptyEmail,
    /// A group the plan creates would be deeper than TimeCamp allows.
    TooDeep {
        path: String,
        level: usize,
    },
    /// A new user's group is missing and may not be created: they go to the root.
    NewUserInRoot {
        email: String,
        path: String,
    },
    /// A user's group is missing and may not be created: they stay where they are.
    NotMoved {
        email: String,
        path: String,
    },
    /// A second TimeCamp account of a person who is already synced.
    DuplicateAccount {
        email: String,
        id: u64,
    },
    /// Several TimeCamp users carry one external id: none is matched by it,
    /// and none is disabled for it.
    SharedExternalId {
        external_id: String,
        ids: Vec<u64>,
    },
    /// Found by external id, with another e-mail than the source's, and
    /// `TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID` is off: the e-mail stays.
    EmailKept {
        id: u64,
        timecamp: String,
        source: String,
    },
}

impl fmt::Display for PlanWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanWarning::DuplicateGroupName(d) => write!(f, "{d}"),
            PlanWarning::RootGroupMissing { root } => {
                write!(
                    f,
                    "TIMECAMP_ROOT_GROUP_ID {root} is not among the account's groups"
                )
            }
            PlanWarning::SharedEmail { email, first, kept } => write!(
                f,
                "TimeCamp users {first} and {kept} share the e-mail {email}; only {kept} is synced"
            ),
            PlanWarning::EmptyEmail => f.write_str("an active record has an empty e-mail; skipped"),
            PlanWarning::TooDeep { path, level } => write!(
                f,
                "group {path:?} would be at level {level}, deeper than TimeCamp's limit of \
                 {MAX_GROUP_LEVEL}; its creation will fail"
            ),
            PlanWarning::NewUserInRoot { email, path } => write!(
                f,
                "{email}: group {path:?} does not exist and TIMECAMP_DISABLE_GROUPS_CREATION is \
                 set; creating the user in the root group"
            ),
            PlanWarning::NotMoved { email, path } => write!(
                f,
                "{email}: group {path:?} does not exist and TIMECAMP_DISABLE_GROUPS_CREATION is \
                 set; not moved"
            ),
            PlanWarning::SharedExternalId { external_id, ids } => {
                let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
                write!(
                    f,
                    "TimeCamp users {} all have the external id {external_id:?}; the record with \
                     it is not matched by it, and they are left alone",
                    ids.join(", ")
                )
            }
            PlanWarning::EmailKept {
                id,
                timecamp,
                source,
            } => write!(
                f,
                "TimeCamp user {id} ({timecamp}) is {source} in the source, found by external id; \
                 its e-mail stays (TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID is off)"
            ),
            PlanWarning::DuplicateAccount { email, id } => write!(
                f,
                "{email} (TimeCamp user {id}) duplicates an account that is already synced; left \
                 enabled"
            ),
        }
    }
}

/// Serialised as the sentence people read, so the JSON output stays simple.
macro_rules! serialize_as_text {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serialize_as_text!(LeaveReason, SkipReason, PlanWarning);

/// A prepared record the sync deliberately leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub email: String,
    pub reason: SkipReason,
}

/// The result of planning.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Matched active users that already match.
    pub unchanged: Vec<String>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<PlanWarning>,
    /// Which TimeCamp user each active record was matched to, and how.
    #[serde(skip)]
    pub matches: Vec<Match>,
}

/// How an active record found its TimeCamp user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    Email,
    AdditionalEmail,
    ExternalId,
}

impl fmt::Display for MatchedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchedBy::Email => "e-mail",
            MatchedBy::AdditionalEmail => "additional e-mail",
            MatchedBy::ExternalId => "external id",
        })
    }
}

/// An active record and the TimeCamp user it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The record's e-mail, lower-cased.
    pub email: String,
    pub user_id: u64,
    pub by: MatchedBy,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether applying it may add paid seats: it creates or re-enables users.
    pub fn adds_seats(&self) -> bool {
        self.changes
            .iter()
            .any(|c| matches!(c, Change::CreateUser(_) | Change::ReEnable { .. }))
    }
}

fn lower(s: &str) -> String {
    s.trim().to_lowercase()
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// The account's groups plus the ones this plan creates, for resolving paths
/// under the root. Existing groups are looked up in the shared [`GroupTree`],
/// so the sync picks the same group as remove-empty-groups protects.
struct Groups {
    root: u64,
    tree: GroupTree,
    /// Planned groups: path → key.
    planned: HashMap<String, usize>,
    planned_levels: Vec<usize>,
    creation_allowed: bool,
}

enum Target {
    Found(GroupRef, String),
    /// The path does not exist and may not be created.
    Missing(String),
}

impl Groups {
    fn new(
        groups: &[Group],
        root: u64,
        creation_allowed: bool,
        warnings: &mut Vec<PlanWarning>,
    ) -> Self {
        let tree = GroupTree::new(groups.iter().map(|g| GroupNode {
            id: g.group_id,
            parent: g.parent_id,
            name: g.name.clone(),
        }));
        warnings.extend(
            tree.duplicates()
                .iter()
                .cloned()
                .map(PlanWarning::DuplicateGroupName),
        );
        Self {
            root,
            tree,
            planned: HashMap::new(),
            planned_levels: Vec::new(),
            creation_allowed,
        }
    }

    /// Resolves a breadcrumb under the root group, planning the groups that
    /// are missing (when allowed). Parts are trimmed and empty parts ignored.
    fn resolve(
        &mut self,
        breadcrumb: &str,
        changes: &mut Vec<Change>,
        warnings: &mut Vec<PlanWarning>,
    ) -> Target {
        let path = normalise_path(breadcrumb);
        let resolved = self.tree.resolve(self.root, &path);
        let mut current = GroupRef::Existing(resolved.found.last().copied().unwrap_or(self.root));
        let mut level = self.tree.level(self.root) + resolved.found.len();
        let mut prefix: Vec<&str> = path_parts(&path).take(resolved.found.len()).collect();
        for part in resolved.missing {
            level += 1;
            prefix.push(part);
            let prefix_path = prefix.join("/");
            if let Some(key) = self.planned.get(&prefix_path) {
                current = GroupRef::New(*key);
                continue;
            }
            if !self.creation_allowed {
                return Target::Missing(path);
            }
            let key = self.planned_levels.len();
            if level > MAX_GROUP_LEVEL {
                warnings.push(PlanWarning::TooDeep {
                    path: prefix_path.clone(),
                    level,
                });
            }
            self.planned.insert(prefix_path.clone(), key);
            self.planned_levels.push(level);
            changes.push(Change::CreateGroup {
                key,
                path: prefix_path,
                name: part.to_owned(),
                parent: current,
            });
            current = GroupRef::New(key);
        }
        Target::Found(current, path)
    }
}

/// Computes the changes that make TimeCamp match `desired`.
pub fn plan(current: &CurrentState, desired: &[TimecampUser], opts: &SyncOptions) -> Plan {
    let mut out = Plan::default();
    let mut group_changes = Vec::new();
    let mut user_changes = Vec::new();
    let mut groups = Groups::new(
        &current.groups,
        opts.root_group_id,
        !opts.disable_groups_creation,
        &mut out.warnings,
    );
    if !groups.tree.contains(opts.root_group_id) {
        out.warnings.push(PlanWarning::RootGroupMissing {
            root: opts.root_group_id,
        });
    }

    let mut by_email: HashMap<String, usize> = HashMap::new();
    let mut by_additional: HashMap<String, usize> = HashMap::new();
    let mut by_external_id: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, u) in current.users.iter().enumerate() {
        if let Some(previous) = by_email.insert(lower(&u.email), i) {
            out.warnings.push(PlanWarning::SharedEmail {
                email: lower(&u.email),
                first: current.users[previous].id,
                kept: u.id,
            });
        }
        if let Some(extra) = non_empty(u.additional_email.as_deref()) {
            by_additional.entry(lower(extra)).or_insert(i);
        }
        if let Some(id) = non_empty(u.external_id.as_deref()) {
            by_external_id.entry(id.to_owned()).or_default().push(i);
        }
    }
    // Users of a shared external id are matched by it by nobody, and disabled for it by nobody.
    let mut processed: HashMap<u64, String> = HashMap::new();

    let active_emails: HashSet<String> = desired
        .iter()
        .filter(|d| d.timecamp_status == Status::Active)
        .map(|d| lower(&d.timecamp_email))
        .collect();
    let inactive_emails: HashSet<String> = desired
        .iter()
        .filter(|d| d.timecamp_status != Status::Active)
        .map(|d| lower(&d.timecamp_email))
        .collect();

    for record in desired
        .iter()
        .filter(|d| d.timecamp_status == Status::Active)
    {
        let email = lower(&record.timecamp_email);
        if email.is_empty() {
            out.warnings.push(PlanWarning::EmptyEmail);
            continue;
        }
        let mut by_id = false;
        let mut by = MatchedBy::Email;
        let found = match by_email.get(&email) {
            Some(i) => Some(i),
            None => {
                by = MatchedBy::AdditionalEmail;
                by_additional.get(&email)
            }
        };
        let matched = match found {
            Some(&i) => Some(&current.users[i]),
            // Then by external id: the person's e-mail changed in the source.
            None if !opts.disable_external_id_sync => {
                match non_empty(record.timecamp_external_id.as_deref())
                    .and_then(|id| Some((id, by_external_id.get(id)?)))
                {
                    Some((_, found)) if found.len() == 1 => {
                        by_id = true;
                        by = MatchedBy::ExternalId;
                        Some(&current.users[found[0]])
                    }
                    Some((id, found)) => {
                        out.warnings.push(PlanWarning::SharedExternalId {
                            external_id: id.to_owned(),
                            ids: found.iter().map(|&i| current.users[i].id).collect(),
                        });
                        for &i in found {
                            processed
                                .entry(current.users[i].id)
                                .or_insert(email.clone());
                        }
                        out.skipped.push(Skipped {
                            email,
                            reason: SkipReason::SharedExternalId { id: id.to_owned() },
                        });
                        continue;
                    }
                    None => None,
                }
            }
            None => None,
        };
        match matched {
            Some(user) => {
                if let Some(first) = processed.get(&user.id) {
                    out.skipped.push(Skipped {
                        email,
                        reason: SkipReason::SameTimecampUser {
                            id: user.id,
                            first: first.clone(),
                        },
                    });
                    continue;
                }
                processed.insert(user.id, email.clone());
                out.matches.push(Match {
                    email: email.clone(),
                    user_id: user.id,
                    by,
                });
                update_existing(
                    user,
                    record,
                    by_id,
                    current,
                    opts,
                    &mut groups,
                    &mut group_changes,
                    &mut user_changes,
                    &mut out,
                );
            }
            None if opts.disable_new_users => out.skipped.push(Skipped {
                email,
                reason: SkipReason::NewUsersDisabled,
            }),
            None => {
                let breadcrumb = record
                    .timecamp_groups_breadcrumb
                    .as_deref()
                    .unwrap_or_default();
                let (group, group_path) =
                    match groups.resolve(breadcrumb, &mut group_changes, &mut out.warnings) {
                        Target::Found(g, p) => (g, p),
                        Target::Missing(p) => {
                            out.warnings.push(PlanWarning::NewUserInRoot {
                                email: email.clone(),
                                path: p,
                            });
                            (GroupRef::Existing(opts.root_group_id), String::new())
                        }
                    };
                let name = non_empty(record.timecamp_user_name.as_deref())
                    .unwrap_or(&email)
                    .to_owned();
                user_changes.push(Change::CreateUser(NewUser {
                    additional_email: wanted_additional_email(record, &email, opts),
                    external_id: wanted_external_id(record, opts),
                    email,
                    name,
                    group,
                    group_path,
                    role: record.timecamp_role.unwrap_or(Role::User),
                }));
            }
        }
    }

    for user in &current.users {
        if processed.contains_key(&user.id) || !user.enabled {
            continue;
        }
        let email = lower(&user.email);
        let extra = non_empty(user.additional_email.as_deref()).map(lower);
        let known = |set: &HashSet<String>| {
            set.contains(&email) || extra.as_ref().is_some_and(|e| set.contains(e))
        };
        if known(&active_emails) {
            // Same person as an active record matched to another TimeCamp account.
            out.warnings
                .push(PlanWarning::DuplicateAccount { email, id: user.id });
            continue;
        }
        let reason = if known(&inactive_emails) {
            LeaveReason::InactiveInSource
        } else {
            LeaveReason::NotInSource
        };
        if opts.ignored_user_ids.contains(&user.id) {
            continue;
        }
        if current.protected_as_manual(user, opts) {
            out.skipped.push(Skipped {
                email,
                reason: SkipReason::ManualLeaver(reason),
            });
            continue;
        }
        let user_ref = UserRef { id: user.id, email };
        if !opts.disable_user_deactivation {
            user_changes.push(Change::Disable {
                user: user_ref.clone(),
                reason,
            });
        }
        if let Some(target) = opts.disabled_users_group_id.filter(|g| *g != user.group_id) {
            user_changes.push(Change::MoveToDisabledGroup {
                user: user_ref,
                from: user.group_id,
                to: target,
            });
        }
    }

    // The group structure follows the source: the groups its active users
    // need exist even when this run does not create or move those users
    // (TIMECAMP_DISABLE_NEW_USERS, TIMECAMP_DISABLE_GROUP_UPDATES), unless
    // group creation itself is off. Resolving again plans nothing twice.
    // Records of people the sync leaves alone (ignored, hand-made, ambiguous)
    // do not shape it.
    if !opts.disable_groups_creation {
        let left_alone: HashSet<String> = out
            .skipped
            .iter()
            .filter(|s| s.reason != SkipReason::NewUsersDisabled)
            .map(|s| s.email.clone())
            .collect();
        for record in desired
            .iter()
            .filter(|d| d.timecamp_status == Status::Active)
            .filter(|d| !left_alone.contains(&lower(&d.timecamp_email)))
        {
            let breadcrumb = record
                .timecamp_groups_breadcrumb
                .as_deref()
                .unwrap_or_default();
            groups.resolve(breadcrumb, &mut group_changes, &mut out.warnings);
        }
    }

    out.changes = group_changes;
    out.changes.extend(user_changes);
    out
}

/// Enabled TimeCamp users the sync may disable: not ignored, and not protected
/// as manually added. The base of a percentage `TIMECAMP_MAX_DEACTIVATIONS`.
pub fn managed_enabled_users(current: &CurrentState, opts: &SyncOptions) -> usize {
    current
        .users
        .iter()
        .filter(|u| u.enabled && !opts.ignored_user_ids.contains(&u.id))
        .filter(|u| !current.protected_as_manual(u, opts))
        .count()
}

/// Problems in the prepared file that make it unsafe to apply at all.
pub fn validate_input(desired: &[TimecampUser]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, d) in desired.iter().enumerate() {
        let email = lower(&d.timecamp_email);
        if email.is_empty() {
            problems.push(format!("record #{} has an empty timecamp_email", i + 1));
            continue;
        }
        if let Some(first) = seen.insert(email.clone(), i) {
            problems.push(format!(
                "records #{} and #{} have the same e-mail {email}",
                first + 1,
                i + 1
            ));
        }
        let crumb = d.timecamp_groups_breadcrumb.as_deref().unwrap_or_default();
        if let Err(too_deep) =
            scim_groups::check_depth(crumb, || format!("record #{} ({email})", i + 1))
        {
            problems.push(too_deep.to_string());
        }
    }
    problems
}

fn wanted_additional_email(
    record: &TimecampUser,
    primary: &str,
    opts: &SyncOptions,
) -> Option<String> {
    if opts.disable_additional_email_sync {
        return None;
    }
    non_empty(record.timecamp_real_email.as_deref())
        .filter(|e| lower(e) != primary)
        .map(str::to_owned)
}

fn wanted_external_id(record: &TimecampUser, opts: &SyncOptions) -> Option<String> {
    if opts.disable_external_id_sync {
        return None;
    }
    non_empty(record.timecamp_external_id.as_deref()).map(str::to_owned)
}

#[allow(clippy::too_many_arguments)] // one call site; the pieces are the planner's state
fn update_existing(
    user: &CurrentUser,
    record: &TimecampUser,
    found_by_external_id: bool,
    current: &CurrentState,
    opts: &SyncOptions,
    groups: &mut Groups,
    group_changes: &mut Vec<Change>,
    changes: &mut Vec<Change>,
    out: &mut Plan,
) {
    let email = lower(&record.timecamp_email);
    if opts.ignored_user_ids.contains(&user.id) {
        out.skipped.push(Skipped {
            email,
            reason: SkipReason::Ignored { id: user.id },
        });
        return;
    }
    if current.protected_as_manual(user, opts) {
        out.skipped.push(Skipped {
            email,
            reason: SkipReason::Manual,
        });
        return;
    }
    let unfinished_invite = current.pending_invites.contains(&lower(&user.email));
    let me = UserRef {
        id: user.id,
        email: email.clone(),
    };
    let before = changes.len();

    if !user.enabled {
        changes.push(Change::ReEnable { user: me.clone() });
    }
    if let Some(name) = non_empty(record.timecamp_user_name.as_deref())
        && user.display_name.as_deref() != Some(name)
    {
        changes.push(Change::Rename {
            user: me.clone(),
            from: user.display_name.clone(),
            to: name.to_owned(),
        });
    }
    // Found by external id with another e-mail: the person's address changed.
    let mut primary = lower(&user.email);
    if found_by_external_id && primary != email {
        if opts.update_email_on_external_id {
            changes.push(Change::SetEmail {
                user: me.clone(),
                from: user.email.clone(),
                to: email.clone(),
            });
            primary = email.clone();
        } else {
            out.warnings.push(PlanWarning::EmailKept {
                id: user.id,
                timecamp: primary.clone(),
                source: email.clone(),
            });
        }
    }
    let mut role_group = GroupRef::Existing(user.group_id);
    if !opts.disable_group_updates {
        let breadcrumb = record
            .timecamp_groups_breadcrumb
            .as_deref()
            .unwrap_or_default();
        match groups.resolve(breadcrumb, group_changes, &mut out.warnings) {
            Target::Found(target, path) if target != GroupRef::Existing(user.group_id) => {
                changes.push(Change::Move {
                    user: me.clone(),
                    from: user.group_id,
                    to: target,
                    to_path: path,
                });
                role_group = target;
            }
            Target::Found(..) => {}
            // Leave the user where they are rather than dump them in the root.
            Target::Missing(path) => out.warnings.push(PlanWarning::NotMoved {
                email: email.clone(),
                path,
            }),
        }
    }
    if !opts.disable_role_updates {
        let wanted = record.timecamp_role.unwrap_or(Role::User);
        // A user people_picker does not list has TimeCamp's default role, user.
        let current = user.role_id.unwrap_or(Role::User.id());
        if current != wanted.id() {
            changes.push(Change::SetRole {
                user: me.clone(),
                group: role_group,
                from: user.role_id,
                to: wanted,
            });
        }
    }
    if let Some(wanted) = wanted_additional_email(record, &primary, opts)
        && non_empty(user.additional_email.as_deref()).map(lower) != Some(lower(&wanted))
    {
        changes.push(Change::SetAdditionalEmail {
            user: me.clone(),
            from: user.additional_email.clone(),
            to: wanted,
        });
    }
    if let Some(wanted) = wanted_external_id(record, opts)
        && non_empty(user.external_id.as_deref()) != Some(wanted.as_str())
    {
        changes.push(Change::SetExternalId {
            user: me.clone(),
            from: user.external_id.clone(),
            to: wanted,
        });
    }
    let changed = changes.len() > before;
    if (changed || unfinished_invite) && user.added_manually.as_deref().map(str::trim) != Some("0")
    {
        // The sync owns a user it changes. The reset goes first: a run
        // interrupted after it leaves changes the next run plans again from
        // TimeCamp's state; one interrupted before it changed nothing yet.
        changes.insert(before, Change::ResetAddedManually { user: me });
    }
    if changes.len() == before {
        out.unchanged.push(email);
    }
}
