//! Planning: TimeCamp's current state + the prepared users → the list of
//! changes. Pure code, no I/O, so every rule of the sync is tested without a
//! server.
//!
//! Who is who comes first, from [`crate::matching::resolve`]; this module
//! turns each person's identity into changes. Rules (the original's, with
//! its bugs fixed): group paths resolve under the root group only; a value
//! that already matches is never written; roles go to the group the user
//! ends up in; new users get their display name and respect the additional
//! e-mail switch; an additional e-mail equal to the primary is never
//! written; the account that holds the API key is never disabled, moved or
//! demoted, and an administrator is not demoted unless
//! `TIMECAMP_ALLOW_ADMIN_DEMOTION` says so.

use std::collections::{HashMap, HashSet};

use scim_groups::{GroupNode, GroupTree, normalise_path, path_parts};
use scim_model::timecamp::Group;
use scim_model::{Role, Status, TimecampUser};

use crate::matching::{Identities, Identity, Login, Person, Unmatched};
// The types lived here before they had a module of their own; their paths stay.
pub use crate::types::*;

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
    let identities = crate::matching::resolve(current, desired, opts);
    let mut planner = Planner::new(current, opts);
    planner
        .out
        .warnings
        .extend(identities.warnings.iter().cloned());
    if desired
        .iter()
        .any(|d| d.timecamp_status == Status::Active && lower(&d.timecamp_email).is_empty())
    {
        planner.out.warnings.push(PlanWarning::EmptyEmail);
    }
    for person in &identities.people {
        planner.person(person, &desired[person.record], &identities);
    }
    planner.leavers(&identities);
    planner.groups_of_the_source(desired);
    planner.finish(identities)
}

/// The planner's working state: the groups (existing and planned), the
/// changes so far, and the plan being filled.
struct Planner<'a> {
    current: &'a CurrentState,
    opts: &'a SyncOptions,
    users: HashMap<u64, &'a CurrentUser>,
    groups: Groups,
    group_changes: Vec<Change>,
    user_changes: Vec<Change>,
    out: Plan,
}

impl<'a> Planner<'a> {
    fn new(current: &'a CurrentState, opts: &'a SyncOptions) -> Self {
        let mut out = Plan::default();
        let groups = Groups::new(
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
        Self {
            current,
            opts,
            users: current.users.iter().map(|u| (u.id, u)).collect(),
            groups,
            group_changes: Vec::new(),
            user_changes: Vec::new(),
            out,
        }
    }

    /// One active record's changes, by who it is.
    fn person(&mut self, person: &Person, record: &TimecampUser, identities: &Identities) {
        let email = person.email.clone();
        match &person.identity {
            Identity::Account { id, by, login } => {
                let Some(user) = self.users.get(id).copied() else {
                    return;
                };
                self.out.matches.push(Match {
                    email: email.clone(),
                    user_id: *id,
                    by: *by,
                });
                self.update_existing(user, record, *login, identities);
            }
            Identity::New { .. } if self.opts.disable_new_users => self.out.skipped.push(Skipped {
                email,
                user_id: None,
                reason: SkipReason::NewUsersDisabled,
            }),
            Identity::New { after } => self.create_user(&email, record, *after, identities),
            Identity::HeldBack(reason) => {
                self.out
                    .held_back
                    .push(HeldBack::new(email, reason.clone()));
            }
        }
    }

    fn create_user(
        &mut self,
        email: &str,
        record: &TimecampUser,
        after: Option<u64>,
        identities: &Identities,
    ) {
        let breadcrumb = record
            .timecamp_groups_breadcrumb
            .as_deref()
            .unwrap_or_default();
        let (group, group_path) =
            match self
                .groups
                .resolve(breadcrumb, &mut self.group_changes, &mut self.out.warnings)
            {
                Target::Found(g, p) => (g, p),
                Target::Missing(p) => {
                    self.out.warnings.push(PlanWarning::NewUserInRoot {
                        email: email.to_owned(),
                        path: p,
                    });
                    (GroupRef::Existing(self.opts.root_group_id), String::new())
                }
            };
        let name = non_empty(record.timecamp_user_name.as_deref())
            .unwrap_or(email)
            .to_owned();
        self.user_changes.push(Change::CreateUser(NewUser {
            additional_email: wanted_additional_email(record, email, self.opts),
            external_id: wanted_external_id(record, self.opts, identities),
            email: email.to_owned(),
            name,
            group,
            group_path,
            role: record.timecamp_role.unwrap_or(Role::User),
            after,
        }));
    }

    /// The changes of a person matched with `user`.
    fn update_existing(
        &mut self,
        user: &CurrentUser,
        record: &TimecampUser,
        login: Login,
        identities: &Identities,
    ) {
        let email = lower(&record.timecamp_email);
        if self.opts.ignored_user_ids.contains(&user.id) {
            self.out.skipped.push(Skipped {
                email,
                user_id: None,
                reason: SkipReason::Ignored { id: user.id },
            });
            return;
        }
        if self.current.protected_as_manual(user, self.opts) {
            self.out.skipped.push(Skipped {
                email,
                user_id: None,
                reason: SkipReason::Manual,
            });
            return;
        }
        let me = UserRef {
            id: user.id,
            email: email.clone(),
        };
        let mut changes = Vec::new();
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
        let primary = self.login(user, &email, login, &me, &mut changes);
        let role_group = self.placement(user, record, &me, &mut changes);
        self.role(user, record, role_group, &me, &mut changes);
        if let Some(wanted) = wanted_additional_email(record, &primary, self.opts)
            && non_empty(user.additional_email.as_deref()).map(lower) != Some(lower(&wanted))
        {
            changes.push(Change::SetAdditionalEmail {
                user: me.clone(),
                from: user.additional_email.clone(),
                to: wanted,
            });
        }
        if let Some(wanted) = wanted_external_id(record, self.opts, identities)
            && non_empty(user.external_id.as_deref()) != Some(wanted.as_str())
        {
            changes.push(Change::SetExternalId {
                user: me.clone(),
                from: user.external_id.clone(),
                to: wanted,
            });
        }
        let unfinished_invite = self.current.pending_invites.contains(&lower(&user.email));
        if (!changes.is_empty() || unfinished_invite) && user.is_manual() {
            // The sync owns a user it changes. The mark goes first: a run
            // interrupted after it leaves changes the next run plans again
            // from TimeCamp's state; one interrupted before it changed nothing
            // yet. (A user TimeCamp does not mark as hand-made is the sync's
            // already: no write.)
            changes.insert(0, Change::ResetAddedManually { user: me });
        }
        if changes.is_empty() {
            self.out.unchanged.push(email);
        }
        self.user_changes.extend(changes);
    }

    /// The login change, if any; returns the primary e-mail after the run.
    fn login(
        &mut self,
        user: &CurrentUser,
        email: &str,
        login: Login,
        me: &UserRef,
        changes: &mut Vec<Change>,
    ) -> String {
        match login {
            Login::Same => lower(&user.email),
            Login::Update { after } => {
                changes.push(Change::SetEmail {
                    user: me.clone(),
                    from: user.email.clone(),
                    to: email.to_owned(),
                    after,
                });
                email.to_owned()
            }
            Login::Kept(why) => {
                self.out.warnings.push(PlanWarning::EmailKept {
                    id: user.id,
                    timecamp: lower(&user.email),
                    source: email.to_owned(),
                    why,
                });
                lower(&user.email)
            }
        }
    }

    /// The move to the record's group, if any; returns the group the role is set in.
    fn placement(
        &mut self,
        user: &CurrentUser,
        record: &TimecampUser,
        me: &UserRef,
        changes: &mut Vec<Change>,
    ) -> GroupRef {
        let here = GroupRef::Existing(user.group_id);
        if self.opts.disable_group_updates {
            return here;
        }
        let breadcrumb = record
            .timecamp_groups_breadcrumb
            .as_deref()
            .unwrap_or_default();
        match self
            .groups
            .resolve(breadcrumb, &mut self.group_changes, &mut self.out.warnings)
        {
            Target::Found(target, path) if target != here => {
                if self.current.is_owner(user.id) {
                    self.out.warnings.push(PlanWarning::OwnerKept {
                        id: user.id,
                        email: me.email.clone(),
                        change: format!("moved to {path:?}"),
                    });
                    return here;
                }
                changes.push(Change::Move {
                    user: me.clone(),
                    from: user.group_id,
                    to: target,
                    to_path: path,
                });
                target
            }
            Target::Found(..) => here,
            // Leave the user where they are rather than dump them in the root.
            Target::Missing(path) => {
                self.out.warnings.push(PlanWarning::NotMoved {
                    email: me.email.clone(),
                    path,
                });
                here
            }
        }
    }

    /// The role change, if any, unless it would demote the key's owner or an administrator.
    fn role(
        &mut self,
        user: &CurrentUser,
        record: &TimecampUser,
        group: GroupRef,
        me: &UserRef,
        changes: &mut Vec<Change>,
    ) {
        if self.opts.disable_role_updates {
            return;
        }
        let wanted = record.timecamp_role.unwrap_or(Role::User);
        // A user people_picker does not list has TimeCamp's default role, user.
        if user.role_id.unwrap_or(Role::User.id()) == wanted.id() {
            return;
        }
        let change = Change::SetRole {
            user: me.clone(),
            group,
            from: user.role_id,
            to: wanted,
        };
        if self.current.is_owner(user.id) {
            self.out.warnings.push(PlanWarning::OwnerKept {
                id: user.id,
                email: me.email.clone(),
                change: format!("given the role {wanted}"),
            });
        } else if user.is_admin() && change.demotes() && !self.opts.allow_admin_demotion {
            self.out.warnings.push(PlanWarning::AdminKept {
                id: user.id,
                email: me.email.clone(),
                to: wanted,
            });
        } else {
            changes.push(change);
        }
    }

    /// Enabled accounts no active record matched: disabled (and moved to the
    /// disabled-users group), unless something says they stay.
    fn leavers(&mut self, identities: &Identities) {
        for (id, fate) in &identities.unmatched {
            let Some(user) = self.users.get(id).copied().filter(|u| u.enabled) else {
                continue;
            };
            let email = lower(&user.email);
            let reason = match fate {
                // Reported with the held-back person.
                Unmatched::HeldBack(_) => continue,
                Unmatched::IdOf(of) | Unmatched::EmailOf(of) => {
                    self.out.warnings.push(PlanWarning::DuplicateAccount {
                        email,
                        id: *id,
                        of: of.clone(),
                    });
                    continue;
                }
                Unmatched::Inactive => LeaveReason::InactiveInSource,
                // The source says who leaves (scim-server): an account it
                // never named is not its to disable.
                Unmatched::NotInSource if self.opts.leave_users_not_in_source => continue,
                Unmatched::NotInSource => LeaveReason::NotInSource,
            };
            let skip = if self.opts.ignored_user_ids.contains(id) {
                Some(SkipReason::Ignored { id: *id })
            } else if self.current.is_owner(*id) {
                Some(SkipReason::Owner(reason))
            } else if self.current.protected_as_manual(user, self.opts) {
                Some(SkipReason::ManualLeaver(reason))
            } else {
                None
            };
            if let Some(reason) = skip {
                self.out.skipped.push(Skipped {
                    email,
                    user_id: Some(*id),
                    reason,
                });
                continue;
            }
            let user_ref = UserRef { id: *id, email };
            if !self.opts.disable_user_deactivation {
                self.user_changes.push(Change::Disable {
                    user: user_ref.clone(),
                    reason,
                });
            }
            if let Some(target) = self
                .opts
                .disabled_users_group_id
                .filter(|g| *g != user.group_id)
            {
                self.user_changes.push(Change::MoveToDisabledGroup {
                    user: user_ref,
                    from: user.group_id,
                    to: target,
                });
            }
        }
    }

    /// The group structure follows the source: the groups its active users
    /// need exist even when this run does not create or move those users
    /// (TIMECAMP_DISABLE_NEW_USERS, TIMECAMP_DISABLE_GROUP_UPDATES), unless
    /// group creation itself is off. Resolving again plans nothing twice.
    /// Records of people the sync leaves alone (ignored, hand-made, held
    /// back) do not shape it. Records are taken by e-mail, so the new groups'
    /// order does not depend on the file's.
    fn groups_of_the_source(&mut self, desired: &[TimecampUser]) {
        if self.opts.disable_groups_creation {
            return;
        }
        let left_alone: HashSet<String> = self
            .out
            .skipped
            .iter()
            .filter(|s| s.reason != SkipReason::NewUsersDisabled && s.user_id.is_none())
            .map(|s| s.email.clone())
            .chain(self.out.held_back.iter().map(|h| h.email.clone()))
            .collect();
        let mut records: Vec<(String, &TimecampUser)> = desired
            .iter()
            .filter(|d| d.timecamp_status == Status::Active)
            .map(|d| (lower(&d.timecamp_email), d))
            .filter(|(email, _)| !email.is_empty() && !left_alone.contains(email))
            .collect();
        records.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, record) in records {
            let breadcrumb = record
                .timecamp_groups_breadcrumb
                .as_deref()
                .unwrap_or_default();
            self.groups
                .resolve(breadcrumb, &mut self.group_changes, &mut self.out.warnings);
        }
    }

    fn finish(mut self, identities: Identities) -> Plan {
        self.out.changes = self.group_changes;
        self.out.changes.extend(self.user_changes);
        self.out.identities = identities;
        self.out
    }
}

/// Enabled TimeCamp users the sync may disable: not ignored, not the key's
/// owner, and not protected as manually added. The base of a percentage
/// `TIMECAMP_MAX_DEACTIVATIONS`.
pub fn managed_enabled_users(current: &CurrentState, opts: &SyncOptions) -> usize {
    current
        .users
        .iter()
        .filter(|u| u.enabled && !opts.ignored_user_ids.contains(&u.id))
        .filter(|u| !current.is_owner(u.id))
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

/// The record's external id, unless ids are off or several records share it.
fn wanted_external_id(
    record: &TimecampUser,
    opts: &SyncOptions,
    identities: &Identities,
) -> Option<String> {
    if opts.disable_external_id_sync {
        return None;
    }
    non_empty(record.timecamp_external_id.as_deref())
        .filter(|id| !identities.shared_source_ids.contains(*id))
        .map(str::to_owned)
}
