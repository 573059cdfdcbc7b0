//! The planner's vocabulary: what it reads (TimeCamp's state, the switches),
//! what it produces (changes, people left alone or held back, warnings), and
//! how each is said to a person. The algorithm is in [`crate::plan`] and
//! [`crate::matching`].

use std::collections::HashSet;
use std::fmt;

use scim_groups::DuplicateName;
use scim_model::Role;
use scim_model::timecamp::Group;
use serde::Serialize;

use crate::matching::Identities;

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
    /// `TIMECAMP_ALLOW_ADMIN_DEMOTION`: an administrator may get a role with fewer rights.
    pub allow_admin_demotion: bool,
    /// A TimeCamp user the source does not list is left alone instead of
    /// disabled: the source says who leaves (scim-server, whose provider has
    /// not necessarily pushed everyone).
    pub leave_users_not_in_source: bool,
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
    /// Whether TimeCamp marks the user as added by hand (`added_manually=1`).
    pub fn is_manual(&self) -> bool {
        self.added_manually.as_deref().map(str::trim) == Some("1")
    }

    /// Whether the user is an administrator in their group.
    pub fn is_admin(&self) -> bool {
        self.role_id == Some(Role::Administrator.id())
    }
}

/// What TimeCamp holds now.
#[derive(Debug, Clone, Default)]
pub struct CurrentState {
    pub groups: Vec<Group>,
    /// In `GET /users` order (which the plan does not depend on).
    pub users: Vec<CurrentUser>,
    /// Lower-cased e-mails an earlier run invited but did not finish (it never
    /// wrote their `added_manually=0`; see `scim_sync::pending`). TimeCamp may
    /// show them as added by hand; they are the sync's all the same.
    pub pending_invites: HashSet<String>,
    /// The user the API key belongs to (`GET /me`): never disabled, moved,
    /// demoted, nor given another login.
    pub owner_id: Option<u64>,
}

impl CurrentState {
    /// Whether the sync must leave this user alone as added by hand.
    pub fn protected_as_manual(&self, user: &CurrentUser, opts: &SyncOptions) -> bool {
        opts.disable_manual_user_updates
            && user.is_manual()
            && !self.pending_invites.contains(&lower(&user.email))
    }

    /// Whether the sync may change this user at all: not ignored, not
    /// protected as hand-made.
    pub fn changeable(&self, user: &CurrentUser, opts: &SyncOptions) -> bool {
        !opts.ignored_user_ids.contains(&user.id) && !self.protected_as_manual(user, opts)
    }

    pub fn is_owner(&self, id: u64) -> bool {
        self.owner_id == Some(id)
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
    /// The TimeCamp user whose e-mail update frees this address: the invite
    /// waits for it (and is not sent when it fails).
    pub after: Option<u64>,
}

/// What [`Change::ResetAddedManually`] does, in plain words: the one text
/// of the plan, the page, `--explain` and the log. (The journal's `new`
/// keeps TimeCamp's setting, `added_manually=0`.)
pub const MANAGED_FROM_NOW_ON: &str = "added by hand in TimeCamp; from now on the sync manages \
     this account (TimeCamp's \"added manually\" mark is cleared, so \
     TIMECAMP_DISABLE_MANUAL_USER_UPDATES no longer keeps the sync away from it)";

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
    /// The primary e-mail (the login) of a user found by external id.
    SetEmail {
        user: UserRef,
        from: String,
        to: String,
        /// The TimeCamp user whose own e-mail update frees `to`: applied first.
        after: Option<u64>,
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
    /// `added_manually=0`: the user is the sync's from now on (said to
    /// people as [`MANAGED_FROM_NOW_ON`]).
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
    /// A short name of the kind, for grouping, counting and the journal.
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
            Change::ResetAddedManually { .. } => "mark as managed by the sync",
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

    /// Whether it takes rights away: a role with fewer rights than the user has.
    pub fn demotes(&self) -> bool {
        match self {
            Change::SetRole { from, to, .. } => rights(to.id()) < rights(role_id(*from)),
            _ => false,
        }
    }
}

/// The role id TimeCamp gives a user `people_picker` does not list: user.
fn role_id(listed: Option<u8>) -> u8 {
    listed.unwrap_or(Role::User.id())
}

/// How much a role may do, for comparing: administrator > supervisor > user > guest.
fn rights(role_id: u8) -> u8 {
    match role_id {
        1 => 4,
        2 => 3,
        5 => 1,
        _ => 2,
    }
}

/// A role id as people read it, the one wording of the plan, the page, the
/// journal and `--explain`: a user `people_picker` does not list is a user
/// (TimeCamp's default).
pub fn role_name(listed: Option<u8>) -> String {
    let id = role_id(listed);
    Role::from_id(&id.to_string()).map_or_else(|| format!("role {id}"), |r| r.to_string())
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

/// Why the sync leaves someone alone (a person of the source, or an account
/// no active record matched that stays enabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Not in TimeCamp, and `TIMECAMP_DISABLE_NEW_USERS` is set.
    NewUsersDisabled,
    Ignored {
        id: u64,
    },
    /// Added by hand, and `TIMECAMP_DISABLE_MANUAL_USER_UPDATES` is set.
    Manual,
    /// Left, but added by hand and protected.
    ManualLeaver(LeaveReason),
    /// Left, but it holds the API key.
    Owner(LeaveReason),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NewUsersDisabled => {
                f.write_str("not in TimeCamp, and TIMECAMP_DISABLE_NEW_USERS is set")
            }
            SkipReason::Ignored { id } => {
                write!(f, "TimeCamp user {id} is in TIMECAMP_IGNORED_USER_IDS")
            }
            SkipReason::Manual => {
                f.write_str("added manually, and TIMECAMP_DISABLE_MANUAL_USER_UPDATES is set")
            }
            SkipReason::ManualLeaver(why) => write!(
                f,
                "{why}, but added manually and TIMECAMP_DISABLE_MANUAL_USER_UPDATES is set"
            ),
            SkipReason::Owner(why) => write!(
                f,
                "{why}, but it holds the API key (TIMECAMP_API_KEY): never disabled"
            ),
        }
    }
}

/// Why a person of the source is held back: the evidence of who they are
/// disagrees, and no documented rule settles it (see docs/matching.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldReason {
    /// The e-mail finds some account(s), the external id another.
    EmailAndIdDisagree {
        email_accounts: Vec<u64>,
        id_account: u64,
        external_id: String,
    },
    /// The e-mail is the login of an account that carries another record's
    /// external id, and no e-mail update of that person frees it.
    AddressOfAnother {
        account: u64,
        owner: String,
        owner_active: bool,
    },
    /// The e-mail is the login of a disabled account with an external id no
    /// record has, and the record has another id: a leaver's address given
    /// to someone new looks the same as an id that changed.
    ReusedAddress {
        account: u64,
        external_id: String,
        source_id: String,
    },
    /// The external id is on several accounts or records, and the e-mail
    /// does not single one out.
    SharedExternalId {
        external_id: String,
        accounts: Vec<u64>,
    },
    /// The e-mail is on several accounts, and the external id does not single
    /// one out.
    SharedEmail { accounts: Vec<u64> },
    /// Another record has stronger evidence for the same account.
    SameAccount { account: u64, other: String },
    /// The account the e-mail finds is part of another held-back case.
    WithHeldBack { account: u64, other: String },
    /// Another record of the prepared file has the same e-mail.
    DuplicateRecord,
}

impl HoldReason {
    /// The TimeCamp accounts involved, none of which the run touches for this person.
    pub fn accounts(&self) -> Vec<u64> {
        let mut ids = match self {
            HoldReason::EmailAndIdDisagree {
                email_accounts,
                id_account,
                ..
            } => {
                let mut v = email_accounts.clone();
                v.push(*id_account);
                v
            }
            HoldReason::AddressOfAnother { account, .. }
            | HoldReason::ReusedAddress { account, .. }
            | HoldReason::SameAccount { account, .. }
            | HoldReason::WithHeldBack { account, .. } => vec![*account],
            HoldReason::SharedExternalId { accounts, .. }
            | HoldReason::SharedEmail { accounts } => accounts.clone(),
            HoldReason::DuplicateRecord => Vec::new(),
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

fn id_list(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReason::EmailAndIdDisagree {
                email_accounts,
                id_account,
                external_id,
            } => write!(
                f,
                "the e-mail is TimeCamp user {}'s but the external id {external_id:?} is TimeCamp \
                 user {id_account}'s; decide which account is this person's and change the other's \
                 e-mail or external id in TimeCamp",
                id_list(email_accounts)
            ),
            HoldReason::AddressOfAnother {
                account,
                owner,
                owner_active: true,
            } => write!(
                f,
                "the e-mail is the login of TimeCamp user {account}, which is {owner}'s by external \
                 id, and {owner} keeps it; move {owner} to the new address first (or set \
                 TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID=true)"
            ),
            HoldReason::AddressOfAnother {
                account,
                owner,
                owner_active: false,
            } => write!(
                f,
                "the e-mail is the login of TimeCamp user {account}, which is {owner}'s by external \
                 id, inactive in the source; change that account's e-mail if the address went to \
                 someone new"
            ),
            HoldReason::ReusedAddress {
                account,
                external_id,
                source_id,
            } => write!(
                f,
                "the e-mail is the login of disabled TimeCamp user {account}, whose external id \
                 {external_id:?} is not the source's {source_id:?}: if it is the same person, set \
                 the account's external id to {source_id:?}; if the address went to someone new, \
                 change the old account's e-mail"
            ),
            HoldReason::SharedExternalId {
                external_id,
                accounts,
            } => write!(
                f,
                "its external id {external_id:?} is on TimeCamp users {} (or on several records of \
                 the source), and the e-mail does not say which is this person's; give each person \
                 their own id",
                id_list(accounts)
            ),
            HoldReason::SharedEmail { accounts } => write!(
                f,
                "TimeCamp users {} all have this e-mail, and the external id does not say which is \
                 this person's",
                id_list(accounts)
            ),
            HoldReason::SameAccount { account, other } => write!(
                f,
                "TimeCamp user {account} is {other}'s by stronger evidence (an account is never \
                 shared)"
            ),
            HoldReason::WithHeldBack { account, other } => write!(
                f,
                "TimeCamp user {account} is part of the held-back case of {other}"
            ),
            HoldReason::DuplicateRecord => {
                f.write_str("another record of the prepared file has the same e-mail")
            }
        }
    }
}

/// A person of the source whose changes are all held back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldBack {
    pub email: String,
    pub reason: HoldReason,
    /// The accounts involved (also in the reason), for scripts.
    pub accounts: Vec<u64>,
}

impl HeldBack {
    pub fn new(email: String, reason: HoldReason) -> Self {
        Self {
            accounts: reason.accounts(),
            email,
            reason,
        }
    }
}

/// Why a person found by external id keeps their login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKept {
    /// `TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID` is off.
    SwitchOff,
    /// Another account holds the address, and no update of it frees it.
    Taken { by: u64 },
    /// The address is held by an account that waits for this one's (a swap).
    Swap { with: u64 },
    /// The account holds the API key.
    Owner,
}

impl fmt::Display for LoginKept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginKept::SwitchOff => f.write_str("TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID is off"),
            LoginKept::Taken { by } => write!(
                f,
                "TimeCamp user {by} has that address and keeps it; change one of them by hand"
            ),
            LoginKept::Swap { with } => write!(
                f,
                "TimeCamp user {with} has that address and needs this one's: swapping logins \
                 takes a temporary address, change one of them by hand"
            ),
            LoginKept::Owner => {
                f.write_str("it holds the API key, whose login the sync never changes")
            }
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
    /// Several TimeCamp users with one e-mail: matched only when an external id
    /// singles one out.
    SharedEmail {
        email: String,
        ids: Vec<u64>,
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
    /// A second TimeCamp account of a person of the source: left enabled.
    DuplicateAccount {
        email: String,
        id: u64,
        of: String,
    },
    /// Several TimeCamp users carry one external id of the source.
    SharedExternalId {
        external_id: String,
        ids: Vec<u64>,
    },
    /// Several records of the source carry one external id: it is no
    /// evidence for any of them and is not written.
    ExternalIdSharedInSource {
        external_id: String,
        emails: Vec<String>,
    },
    /// Found by external id, with another e-mail than the source's; the e-mail stays.
    EmailKept {
        id: u64,
        timecamp: String,
        source: String,
        why: LoginKept,
    },
    /// The API key's owner: what the source asks that the sync does not do.
    OwnerKept {
        id: u64,
        email: String,
        change: String,
    },
    /// An administrator the source gives fewer rights: kept, unless allowed.
    AdminKept {
        id: u64,
        email: String,
        to: Role,
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
            PlanWarning::SharedEmail { email, ids } => write!(
                f,
                "TimeCamp users {} share the e-mail {email}; none is matched by it alone",
                id_list(ids)
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
            PlanWarning::SharedExternalId { external_id, ids } => write!(
                f,
                "TimeCamp users {} all have the external id {external_id:?}; none is matched by \
                 it alone, and none is disabled for it",
                id_list(ids)
            ),
            PlanWarning::ExternalIdSharedInSource {
                external_id,
                emails,
            } => write!(
                f,
                "records {} of the source all have the external id {external_id:?}; it matches \
                 none of them and is not written",
                emails.join(", ")
            ),
            PlanWarning::EmailKept {
                id,
                timecamp,
                source,
                why,
            } => write!(
                f,
                "TimeCamp user {id} ({timecamp}) is {source} in the source, found by external id; \
                 its e-mail stays: {why}"
            ),
            PlanWarning::DuplicateAccount { email, id, of } => write!(
                f,
                "{email} (TimeCamp user {id}) looks like a second account of {of}, who is in the \
                 source; left enabled"
            ),
            PlanWarning::OwnerKept { id, email, change } => write!(
                f,
                "{email} (TimeCamp user {id}) holds the API key: not {change} (the sync never \
                 disables, moves or demotes the key's owner)"
            ),
            PlanWarning::AdminKept { id, email, to } => write!(
                f,
                "{email} (TimeCamp user {id}) is an administrator and the source says {to}: not \
                 demoted (set TIMECAMP_ALLOW_ADMIN_DEMOTION=true to allow it)"
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
serialize_as_text!(LeaveReason, SkipReason, PlanWarning, HoldReason);

/// A person (or an account) the sync deliberately leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub email: String,
    /// The TimeCamp account, when it is one no active record matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
    pub reason: SkipReason,
}

/// How an active record found its TimeCamp user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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

/// The result of planning.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Matched active users that already match.
    pub unchanged: Vec<String>,
    pub skipped: Vec<Skipped>,
    /// People whose changes are held back: who they are is not certain.
    pub held_back: Vec<HeldBack>,
    pub warnings: Vec<PlanWarning>,
    /// Which TimeCamp user each active record was matched to, and how.
    #[serde(skip)]
    pub matches: Vec<Match>,
    /// Who is who, as [`crate::matching::resolve`] decided it.
    #[serde(skip)]
    pub identities: Identities,
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

/// Trimmed and lower-cased: how e-mails are compared.
pub(crate) fn lower(s: &str) -> String {
    s.trim().to_lowercase()
}

pub(crate) fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}
