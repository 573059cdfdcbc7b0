//! The pushed population: every user and group a provider created, with the
//! ids the endpoint gave them, and the operations of the protocol on it.
//!
//! Rules kept here, in one place:
//! - `userName` is unique among users, without regard to case, surrounding
//!   white space or Unicode form ([`user_name_key`]; 409 `uniqueness` otherwise);
//! - so is the e-mail TimeCamp would know a user by (two users with one
//!   e-mail would be two people for one account, and prepare would stop);
//! - a group's members are users or groups the endpoint holds;
//! - DELETE of a user keeps it, inactive and invisible to SCIM (404 from
//!   then on), so the sync disables its TimeCamp account; a later user with
//!   the same `userName`, e-mail or `externalId` takes its place, except one
//!   with its `userName` or e-mail and another `externalId` (someone else)
//!   while no sync has disabled the deleted user's account (409). DELETE of
//!   a group removes it;
//! - every successful change raises the revision by one, so the store knows
//!   what is saved and the debounce what is synced;
//! - list order is creation order, so pages are stable.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{ScimError, ScimType};
use crate::filter;
use crate::limits;
use crate::patch;
use crate::resource::{self, Selection};
use crate::schema::{ENTERPRISE_URN, Kind};

/// One stored resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stored {
    pub id: String,
    pub created: String,
    #[serde(rename = "lastModified")]
    pub last_modified: String,
    pub version: u64,
    /// When a DELETE removed the user (users only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    /// The population's revision that DELETE made: once a sync has read it,
    /// TimeCamp has disabled the user's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_revision: Option<u64>,
    /// The attributes as the client set them, canonical (no `id`, `meta`, `schemas`).
    pub attributes: Map<String, Value>,
}

impl Stored {
    pub fn user_name(&self) -> Option<&str> {
        self.attributes.get("userName").and_then(Value::as_str)
    }

    pub fn external_id(&self) -> Option<&str> {
        self.attributes
            .get("externalId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The ids in `members`.
    fn member_ids(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("value").and_then(Value::as_str))
    }
}

/// What the last sync ran on, kept with the population so a restart knows
/// whether a sync is due.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Synced {
    /// The revision the last finished sync read.
    pub revision: u64,
    /// The SHA-256 of the `var/users.json` it ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_sha256: Option<String>,
}

/// Resources in creation order, found by id.
#[derive(Debug, Default, Clone)]
struct Table {
    rows: BTreeMap<u64, Stored>,
    by_id: HashMap<String, u64>,
    next: u64,
}

impl Table {
    fn get(&self, id: &str) -> Option<&Stored> {
        self.by_id.get(id).and_then(|seq| self.rows.get(seq))
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Stored> {
        self.by_id.get(id).and_then(|seq| self.rows.get_mut(seq))
    }

    fn insert(&mut self, row: Stored) {
        let seq = self.next;
        self.next += 1;
        self.by_id.insert(row.id.clone(), seq);
        self.rows.insert(seq, row);
    }

    fn remove(&mut self, id: &str) -> Option<Stored> {
        let seq = self.by_id.remove(id)?;
        self.rows.remove(&seq)
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn iter(&self) -> impl Iterator<Item = &Stored> {
        self.rows.values()
    }
}

/// The users and groups a provider pushed.
#[derive(Debug, Default, Clone)]
pub struct Population {
    revision: u64,
    synced: Synced,
    users: Table,
    groups: Table,
    /// [`user_name_key`] of every user not deleted → its id.
    user_names: HashMap<String, String>,
    /// [`email_key`] of every user not deleted that has an e-mail → its id.
    emails: HashMap<String, String>,
    /// Deleted users by what a new user may share with them
    /// ([`Population::deleted_keys`]), so a write looks at those alone.
    deleted_by: HashMap<String, BTreeSet<String>>,
    /// Member id → the groups it is a direct member of.
    member_of: HashMap<String, BTreeSet<String>>,
    /// Members of all groups together (bounded by [`limits::MAX_MEMBERSHIPS`]).
    memberships: usize,
    /// Resources changed since [`Population::take_changed`] last ran.
    changed: BTreeSet<(Kind, String)>,
}

/// What a change needs from outside: the time, and a fresh id.
pub struct Stamp<'a> {
    /// RFC 3339, UTC.
    pub now: &'a str,
    pub new_id: &'a mut dyn FnMut() -> String,
}

/// The query of a list request (`GET /Users?...`), as given.
#[derive(Debug, Default, Clone)]
pub struct Query<'a> {
    pub filter: Option<&'a str>,
    pub start_index: Option<&'a str>,
    pub count: Option<&'a str>,
    pub attributes: Option<&'a str>,
    pub excluded_attributes: Option<&'a str>,
    pub sort_by: Option<&'a str>,
    pub sort_order: Option<&'a str>,
}

pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The form in which two `userName`s are the same: without the white space
/// around it (the e-mail TimeCamp gets is the trimmed `userName`), in
/// Unicode's compatibility form (`jose\u{301}` is `jos\u{e9}`, a full-width
/// `ａ` is `a`), without regard to case. Two users whose names read the
/// same are one person pushed twice, or two that TimeCamp could not tell
/// apart: either way the second is refused, not guessed about.
pub(crate) fn user_name_key(name: &str) -> String {
    icu_normalizer::ComposingNormalizerBorrowed::new_nfkc()
        .normalize(name.trim())
        .to_lowercase()
}

/// The e-mail TimeCamp would know a user with these attributes by, in the
/// form in which two are the same ([`user_name_key`]).
fn email_key(attributes: &Map<String, Value>) -> Option<String> {
    crate::source::email_of(attributes).map(|m| user_name_key(&m))
}

/// A department, or a group's name, is a TimeCamp group path (`/` nests):
/// one deeper than every stage accepts would stop prepare, and so the sync
/// of everyone, so it is refused when pushed.
fn group_path_depth(path: &str, what: &str) -> Result<(), ScimError> {
    scim_groups::check_depth(path, String::new).map_err(|e| {
        invalid(format!(
            "{what} is a group path of {} levels (a / starts a level); at most {} are accepted",
            e.levels,
            scim_groups::MAX_PATH_DEPTH
        ))
    })
}

fn not_found(kind: Kind, id: &str) -> ScimError {
    ScimError::not_found(format!("no {} has id {id}", kind.name().to_lowercase()))
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidValue, detail)
}

/// The file the population is saved as could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    #[error("it is not a saved SCIM population: {0}")]
    Shape(String),
    #[error("it was written by a newer version (format {0}); this version reads format {FORMAT}")]
    Format(u32),
    #[error("it holds two resources with the id {0}")]
    DuplicateId(String),
    #[error("two users have the userName {0}")]
    DuplicateUserName(String),
    #[error("the changes file follows snapshot {changes}, but the snapshot is number {snapshot}")]
    Mismatch { changes: u64, snapshot: u64 },
}

const FORMAT: u32 = 1;

#[derive(Serialize)]
struct SnapshotOut<'a> {
    format: u32,
    snapshot: u64,
    revision: u64,
    synced: &'a Synced,
    users: Vec<&'a Stored>,
    groups: Vec<&'a Stored>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotIn {
    #[allow(dead_code)] // checked before the whole is read
    format: u32,
    snapshot: u64,
    revision: u64,
    synced: Synced,
    users: Vec<Stored>,
    groups: Vec<Stored>,
}

#[derive(Serialize)]
struct ChangesOut<'a> {
    format: u32,
    base: u64,
    revision: u64,
    synced: &'a Synced,
    users: Vec<&'a Stored>,
    groups: Vec<&'a Stored>,
    removed_users: Vec<&'a str>,
    removed_groups: Vec<&'a str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesIn {
    #[allow(dead_code)] // checked before the whole is read
    format: u32,
    base: u64,
    revision: u64,
    synced: Synced,
    users: Vec<Stored>,
    groups: Vec<Stored>,
    removed_users: Vec<String>,
    removed_groups: Vec<String>,
}

impl Population {
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn synced(&self) -> &Synced {
        &self.synced
    }

    /// Records what a finished sync ran on; not a change of the population.
    pub fn mark_synced(&mut self, synced: Synced) {
        self.synced = synced;
    }

    /// Users not deleted, and deleted ones.
    pub fn user_counts(&self) -> (usize, usize) {
        let deleted = self.users.iter().filter(|u| u.deleted.is_some()).count();
        (self.users.len() - deleted, deleted)
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Every user, deleted ones included, in creation order.
    pub fn users(&self) -> impl Iterator<Item = &Stored> {
        self.users.iter()
    }

    pub(crate) fn user(&self, id: &str) -> Option<&Stored> {
        self.users.get(id)
    }

    /// The groups `member` is a direct member of, by display name.
    pub(crate) fn group_names_of(&self, member: &str) -> Vec<&str> {
        self.member_of
            .get(member)
            .into_iter()
            .flatten()
            .filter_map(|g| self.groups.get(g))
            .filter_map(|g| g.attributes.get("displayName").and_then(Value::as_str))
            .collect()
    }

    fn table(&self, kind: Kind) -> &Table {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    /// A resource that exists for SCIM (a deleted user does not).
    fn live(&self, kind: Kind, id: &str) -> Result<&Stored, ScimError> {
        self.table(kind)
            .get(id)
            .filter(|r| r.deleted.is_none())
            .ok_or_else(|| not_found(kind, id))
    }

    /// POST: creates the resource and returns its id.
    pub fn create(
        &mut self,
        kind: Kind,
        body: &Value,
        stamp: Stamp<'_>,
    ) -> Result<String, ScimError> {
        let attributes = resource::read(kind, body)?;
        let (count, most) = match kind {
            Kind::User => (self.users.len(), limits::MAX_USERS),
            Kind::Group => (self.groups.len(), limits::MAX_GROUPS),
        };
        if count >= most {
            return Err(ScimError::new(
                507,
                None,
                format!(
                    "the endpoint keeps at most {most} {}s",
                    kind.name().to_lowercase()
                ),
            ));
        }
        self.check(kind, None, &attributes)?;
        let id = loop {
            let id = (stamp.new_id)();
            if self.users.get(&id).is_none() && self.groups.get(&id).is_none() {
                break id;
            }
        };
        let row = Stored {
            id: id.clone(),
            created: stamp.now.to_owned(),
            last_modified: stamp.now.to_owned(),
            version: 1,
            deleted: None,
            deleted_revision: None,
            attributes,
        };
        self.store(kind, row);
        Ok(id)
    }

    /// PUT: replaces the resource's attributes.
    pub fn replace(
        &mut self,
        kind: Kind,
        id: &str,
        body: &Value,
        now: &str,
    ) -> Result<(), ScimError> {
        self.live(kind, id)?;
        let attributes = resource::read(kind, body)?;
        self.check(kind, Some(id), &attributes)?;
        self.update(kind, id, attributes, now);
        Ok(())
    }

    /// PATCH: applies the operations, all or none.
    pub fn patch(
        &mut self,
        kind: Kind,
        id: &str,
        body: &Value,
        now: &str,
    ) -> Result<(), ScimError> {
        let ops = patch::parse(kind, body)?;
        let mut attributes = self.live(kind, id)?.attributes.clone();
        patch::apply(kind, &mut attributes, &ops)?;
        self.check(kind, Some(id), &attributes)?;
        if self.live(kind, id)?.attributes != attributes {
            self.update(kind, id, attributes, now);
        }
        Ok(())
    }

    /// DELETE: a user is kept, inactive and out of sight; a group goes. Both
    /// leave every group they were in.
    pub fn delete(&mut self, kind: Kind, id: &str, now: &str) -> Result<(), ScimError> {
        self.live(kind, id)?;
        let groups: Vec<String> = self.member_of.remove(id).into_iter().flatten().collect();
        self.memberships = self.memberships.saturating_sub(groups.len());
        self.changed.insert((kind, id.to_owned()));
        for gid in groups {
            self.changed.insert((Kind::Group, gid.clone()));
            if let Some(group) = self.groups.get_mut(&gid) {
                if let Some(Value::Array(members)) = group.attributes.get_mut("members") {
                    members.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
                }
                resource::remove_empty(&mut group.attributes);
                group.version += 1;
                group.last_modified = now.to_owned();
            }
        }
        match kind {
            Kind::User => {
                if let Some(user) = self.users.get_mut(id) {
                    user.deleted = Some(now.to_owned());
                    user.deleted_revision = Some(self.revision + 1);
                    user.version += 1;
                    user.last_modified = now.to_owned();
                    let user = user.clone();
                    self.index_deleted(&user);
                    if let Some(name) = user.user_name() {
                        self.user_names.remove(&user_name_key(name));
                    }
                    if let Some(key) = email_key(&user.attributes)
                        && self.emails.get(&key).is_some_and(|o| o == id)
                    {
                        self.emails.remove(&key);
                    }
                }
            }
            Kind::Group => {
                if let Some(group) = self.groups.remove(id) {
                    self.memberships = self.memberships.saturating_sub(group.member_ids().count());
                    for member in group.member_ids() {
                        if let Some(set) = self.member_of.get_mut(member) {
                            set.remove(id);
                        }
                    }
                }
            }
        }
        self.revision += 1;
        Ok(())
    }

    /// The checks every write makes before it changes anything: sizes,
    /// `userName` uniqueness, members that exist.
    fn check(
        &self,
        kind: Kind,
        id: Option<&str>,
        attributes: &Map<String, Value>,
    ) -> Result<(), ScimError> {
        match kind {
            Kind::User => {
                let size = serde_json::to_vec(attributes)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX);
                if size > limits::MAX_USER_BYTES {
                    return Err(invalid(format!(
                        "the user would take {size} bytes; at most {} are kept",
                        limits::MAX_USER_BYTES
                    )));
                }
                let department = attributes
                    .get(ENTERPRISE_URN)
                    .and_then(|e| e.get("department"))
                    .and_then(Value::as_str);
                if let Some(path) = department {
                    group_path_depth(path, "the enterprise department")?;
                }
                let name = attributes
                    .get("userName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if let Some(other) = self.user_names.get(&user_name_key(name))
                    && Some(other.as_str()) != id
                {
                    return Err(ScimError::new(
                        409,
                        Some(ScimType::Uniqueness),
                        format!("userName {name} is taken by user {other}"),
                    ));
                }
                if let Some(key) = email_key(attributes)
                    && let Some(other) = self.emails.get(&key)
                    && Some(other.as_str()) != id
                {
                    return Err(ScimError::new(
                        409,
                        Some(ScimType::Uniqueness),
                        format!(
                            "TimeCamp would know this user by the e-mail {}, which is user \
                             {other}'s: two users cannot have one TimeCamp account",
                            crate::source::email_of(attributes).unwrap_or_default()
                        ),
                    ));
                }
                if let Some(e) = self.leaver_not_yet_disabled(name, attributes) {
                    return Err(e);
                }
            }
            Kind::Group => {
                if let Some(name) = attributes.get("displayName").and_then(Value::as_str) {
                    group_path_depth(name, "displayName")?;
                }
                let mut without_members = attributes.clone();
                without_members.remove("members");
                let size = serde_json::to_vec(&without_members)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX);
                if size > limits::MAX_GROUP_BYTES {
                    return Err(invalid(format!(
                        "the group would take {size} bytes without its members; at most {} are kept",
                        limits::MAX_GROUP_BYTES
                    )));
                }
                let given = attributes
                    .get("members")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let held = id
                    .and_then(|id| self.groups.get(id))
                    .map_or(0, |g| g.member_ids().count());
                let after = self.memberships.saturating_sub(held) + given;
                if after > limits::MAX_MEMBERSHIPS {
                    return Err(ScimError::new(
                        507,
                        None,
                        format!(
                            "the groups would have {after} members in all; the endpoint keeps at most {}",
                            limits::MAX_MEMBERSHIPS
                        ),
                    ));
                }
                let mut seen = BTreeSet::new();
                for member in attributes
                    .get("members")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(value) = member.get("value").and_then(Value::as_str) else {
                        return Err(invalid(
                            "every member needs a value: the id of a user or group",
                        ));
                    };
                    if Some(value) == id {
                        return Err(invalid("a group cannot be a member of itself"));
                    }
                    let user = self.users.get(value).is_some_and(|u| u.deleted.is_none());
                    if !user && self.groups.get(value).is_none() {
                        return Err(invalid(format!("members: no user or group has id {value}")));
                    }
                    if !seen.insert(value) {
                        return Err(invalid(format!("members: {value} is listed twice")));
                    }
                }
            }
        }
        Ok(())
    }

    /// A deleted user with the `userName` `name` and another `externalId`
    /// than `attributes` has, whose deletion no sync has read yet: the new
    /// holder of the address is someone else, and TimeCamp still has the
    /// leaver's account enabled, which the sync would hand to them (an
    /// enabled account whose id nobody in the source carries is matched by
    /// e-mail). Once a sync has disabled the account, the newcomer is
    /// accepted and the sync holds them back from it as a reused address.
    fn leaver_not_yet_disabled(
        &self,
        name: &str,
        attributes: &Map<String, Value>,
    ) -> Option<ScimError> {
        let external = attributes
            .get("externalId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())?;
        let mut keys = vec![format!("n:{}", user_name_key(name))];
        keys.extend(email_key(attributes).map(|m| format!("m:{m}")));
        let leaver = self.deleted_sharing(&keys).find(|u| {
            u.external_id().is_some_and(|e| e != external)
                && u.deleted_revision.unwrap_or(self.revision) > self.synced.revision
        })?;
        Some(ScimError::new(
            409,
            Some(ScimType::Uniqueness),
            format!(
                "userName {name} belonged to user {} (externalId {}), deleted at {}, whose \
                 TimeCamp account is not disabled yet; this user's externalId is {external}, so \
                 it is someone else, who would be given that account. Try again after the next \
                 sync (SCIM_SYNC_DELAY_SECONDS after the last change)",
                leaver.id,
                leaver.external_id().unwrap_or_default(),
                leaver.deleted.as_deref().unwrap_or_default(),
            ),
        ))
    }

    /// Adds a new resource and its index entries.
    fn store(&mut self, kind: Kind, row: Stored) {
        self.changed.insert((kind, row.id.clone()));
        match kind {
            Kind::User => {
                self.forget_deleted_like(&row);
                if let Some(name) = row.user_name() {
                    self.user_names.insert(user_name_key(name), row.id.clone());
                }
                if let Some(key) = email_key(&row.attributes) {
                    self.emails.insert(key, row.id.clone());
                }
                self.users.insert(row);
            }
            Kind::Group => {
                for member in row.member_ids() {
                    self.member_of
                        .entry(member.to_owned())
                        .or_default()
                        .insert(row.id.clone());
                }
                self.memberships += row.member_ids().count();
                self.groups.insert(row);
            }
        }
        self.revision += 1;
    }

    /// A user created or changed takes the place of a deleted one with the
    /// same `userName` or `externalId`: one person, one record.
    fn forget_deleted_like(&mut self, row: &Stored) {
        let gone: Vec<String> = self
            .deleted_sharing(&Self::deleted_keys(row))
            .filter(|u| u.id != row.id)
            .map(|u| u.id.clone())
            .collect();
        for id in gone {
            if let Some(user) = self.users.remove(&id) {
                self.unindex_deleted(&user);
            }
            self.changed.insert((Kind::User, id));
        }
    }

    /// What a deleted user is found by: its `userName`, its e-mail and its
    /// `externalId`, each in the form two are the same.
    fn deleted_keys(row: &Stored) -> Vec<String> {
        let mut keys = Vec::with_capacity(3);
        keys.extend(row.user_name().map(|n| format!("n:{}", user_name_key(n))));
        keys.extend(email_key(&row.attributes).map(|m| format!("m:{m}")));
        keys.extend(row.external_id().map(|x| format!("x:{x}")));
        keys
    }

    fn index_deleted(&mut self, row: &Stored) {
        for key in Self::deleted_keys(row) {
            self.deleted_by
                .entry(key)
                .or_default()
                .insert(row.id.clone());
        }
    }

    fn unindex_deleted(&mut self, row: &Stored) {
        for key in Self::deleted_keys(row) {
            if let Some(ids) = self.deleted_by.get_mut(&key) {
                ids.remove(&row.id);
                if ids.is_empty() {
                    self.deleted_by.remove(&key);
                }
            }
        }
    }

    /// The deleted users with one of `keys`, each once, by id.
    fn deleted_sharing(&self, keys: &[String]) -> impl Iterator<Item = &Stored> {
        let ids: BTreeSet<&String> = keys
            .iter()
            .filter_map(|k| self.deleted_by.get(k))
            .flatten()
            .collect();
        ids.into_iter()
            .filter_map(|id| self.users.get(id))
            .filter(|u| u.deleted.is_some())
    }

    fn update(&mut self, kind: Kind, id: &str, attributes: Map<String, Value>, now: &str) {
        let Some(mut row) = self.table(kind).get(id).cloned() else {
            return;
        };
        self.changed.insert((kind, id.to_owned()));
        match kind {
            Kind::User => {
                if let Some(old) = row.user_name() {
                    self.user_names.remove(&user_name_key(old));
                }
                if let Some(key) = email_key(&row.attributes)
                    && self.emails.get(&key).is_some_and(|o| o == id)
                {
                    self.emails.remove(&key);
                }
            }
            Kind::Group => {
                for member in row.member_ids() {
                    if let Some(set) = self.member_of.get_mut(member) {
                        set.remove(id);
                    }
                }
                self.memberships = self.memberships.saturating_sub(row.member_ids().count());
            }
        }
        row.attributes = attributes;
        row.version += 1;
        row.last_modified = now.to_owned();
        match kind {
            Kind::User => {
                self.forget_deleted_like(&row);
                if let Some(name) = row.user_name() {
                    self.user_names.insert(user_name_key(name), id.to_owned());
                }
                if let Some(key) = email_key(&row.attributes) {
                    self.emails.insert(key, id.to_owned());
                }
                if let Some(slot) = self.users.get_mut(id) {
                    *slot = row;
                }
            }
            Kind::Group => {
                for member in row.member_ids() {
                    self.member_of
                        .entry(member.to_owned())
                        .or_default()
                        .insert(id.to_owned());
                }
                self.memberships += row.member_ids().count();
                if let Some(slot) = self.groups.get_mut(id) {
                    *slot = row;
                }
            }
        }
        self.revision += 1;
    }

    /// GET of one resource, as the client sees it.
    pub fn get(
        &self,
        kind: Kind,
        id: &str,
        base: &str,
        selection: &Selection,
    ) -> Result<Value, ScimError> {
        let row = self.live(kind, id)?;
        let mut out = self.render(kind, row, base);
        selection.apply(kind, &mut out);
        Ok(Value::Object(out))
    }

    /// A list request: filter, page, attribute selection.
    pub fn list(&self, kind: Kind, query: &Query<'_>, base: &str) -> Result<Value, ScimError> {
        if query.sort_by.is_some() || query.sort_order.is_some() {
            return Err(invalid(
                "sorting is not supported (ServiceProviderConfig: sort.supported is false)",
            ));
        }
        let selection = Selection::parse(kind, query.attributes, query.excluded_attributes)?;
        let number = |name: &str, text: Option<&str>| -> Result<Option<i64>, ScimError> {
            text.map(|t| {
                t.trim()
                    .parse::<i64>()
                    .map_err(|_| invalid(format!("{name} must be a whole number")))
            })
            .transpose()
        };
        let start = number("startIndex", query.start_index)?.unwrap_or(1).max(1);
        let count = number("count", query.count)?
            .map_or(limits::DEFAULT_PAGE, |c| {
                usize::try_from(c.max(0)).unwrap_or(0)
            })
            .min(limits::MAX_PAGE);
        let filter = query.filter.map(|f| filter::compile(kind, f)).transpose()?;
        let table = self.table(kind);
        let candidates: Vec<&Stored> = match (kind, filter.as_ref().and_then(|f| f.user_name_eq()))
        {
            (Kind::User, Some(name)) => self
                .user_names
                .get(&user_name_key(name))
                .and_then(|id| table.get(id))
                .into_iter()
                .collect(),
            _ => table.iter().filter(|r| r.deleted.is_none()).collect(),
        };
        let matched: Vec<&Stored> = match &filter {
            None => candidates,
            Some(f) => candidates
                .into_iter()
                .filter(|row| {
                    if f.reads_computed() {
                        f.matches(&self.render(kind, row, base))
                    } else {
                        let mut view = row.attributes.clone();
                        view.insert("id".into(), json!(row.id));
                        view.insert("meta".into(), self.meta(kind, row, base));
                        f.matches(&view)
                    }
                })
                .collect(),
        };
        let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
        let page: Vec<Value> = matched
            .iter()
            .skip(skip)
            .take(count)
            .map(|row| {
                let mut out = self.render(kind, row, base);
                selection.apply(kind, &mut out);
                Value::Object(out)
            })
            .collect();
        Ok(json!({
            "schemas": [LIST_RESPONSE_URN],
            "totalResults": matched.len(),
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        }))
    }

    fn meta(&self, kind: Kind, row: &Stored, base: &str) -> Value {
        json!({
            "resourceType": kind.name(),
            "created": row.created,
            "lastModified": row.last_modified,
            "location": format!("{base}{}/{}", kind.endpoint(), row.id),
            "version": format!("W/\"{}\"", row.version),
        })
    }

    /// The resource as a client sees it: `schemas`, `id`, the attributes in
    /// the schema's order, what the endpoint computes (a user's `groups`,
    /// the manager's `displayName`), and `meta`.
    pub fn render(&self, kind: Kind, row: &Stored, base: &str) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("schemas".into(), Value::Null);
        out.insert("id".into(), json!(row.id));
        if let Some(e) = row.attributes.get("externalId") {
            out.insert("externalId".into(), e.clone());
        }
        for attr in kind.core().attributes {
            if let Some(v) = row.attributes.get(attr.name) {
                out.insert(attr.name.to_owned(), v.clone());
            }
        }
        if kind == Kind::User {
            let groups: Vec<Value> = self
                .member_of
                .get(&row.id)
                .into_iter()
                .flatten()
                .filter_map(|gid| self.groups.get(gid))
                .map(|g| {
                    json!({
                        "value": g.id,
                        "$ref": format!("{base}/Groups/{}", g.id),
                        "display": g.attributes.get("displayName").cloned().unwrap_or(Value::Null),
                        "type": "direct",
                    })
                })
                .collect();
            if !groups.is_empty() {
                out.insert("groups".into(), Value::Array(groups));
            }
        }
        for ext in kind.extensions() {
            let Some(Value::Object(fields)) = row.attributes.get(ext.id) else {
                continue;
            };
            let mut fields = fields.clone();
            if ext.id == ENTERPRISE_URN
                && let Some(Value::Object(manager)) = fields.get_mut("manager")
                && let Some(name) = manager
                    .get("value")
                    .and_then(Value::as_str)
                    .and_then(|m| self.users.get(m))
                    .filter(|m| m.deleted.is_none())
                    .and_then(|m| m.attributes.get("displayName"))
            {
                manager.insert("displayName".into(), name.clone());
            }
            out.insert(ext.id.to_owned(), Value::Object(fields));
        }
        out.insert("meta".into(), self.meta(kind, row, base));
        resource::set_schemas(kind, &mut out);
        out
    }

    /// The resources changed since the last call (what the next save must hold).
    pub fn take_changed(&mut self) -> BTreeSet<(Kind, String)> {
        std::mem::take(&mut self.changed)
    }

    /// The whole population, saved as snapshot `number`: compact JSON,
    /// resources in creation order.
    pub fn snapshot_bytes(&self, number: u64) -> Vec<u8> {
        let file = SnapshotOut {
            format: FORMAT,
            snapshot: number,
            revision: self.revision,
            synced: &self.synced,
            users: self.users.iter().collect(),
            groups: self.groups.iter().collect(),
        };
        // Strings, numbers and maps with string keys always serialise.
        serde_json::to_vec(&file).unwrap_or_default()
    }

    /// The resources `ids` as they are now (or their removal), for the
    /// changes file kept beside snapshot `base`: a save costs what changed
    /// since the snapshot, not the whole population.
    pub fn changes_bytes(&self, base: u64, ids: &BTreeSet<(Kind, String)>) -> Vec<u8> {
        let present = |kind: Kind| -> Vec<&Stored> {
            self.table(kind)
                .iter()
                .filter(|r| ids.contains(&(kind, r.id.clone())))
                .collect()
        };
        let removed = |kind: Kind| -> Vec<&str> {
            ids.iter()
                .filter(|(k, id)| *k == kind && self.table(kind).get(id).is_none())
                .map(|(_, id)| id.as_str())
                .collect()
        };
        let file = ChangesOut {
            format: FORMAT,
            base,
            revision: self.revision,
            synced: &self.synced,
            users: present(Kind::User),
            groups: present(Kind::Group),
            removed_users: removed(Kind::User),
            removed_groups: removed(Kind::Group),
        };
        serde_json::to_vec(&file).unwrap_or_default()
    }

    /// Reads a snapshot and, when there is one, the changes file beside it.
    /// A changes file older than the snapshot (the process stopped between
    /// writing a snapshot and the next changes) is already in the snapshot.
    pub fn load(snapshot: &[u8], changes: Option<&[u8]>) -> Result<Loaded, LoadError> {
        let file: SnapshotIn = parse(snapshot)?;
        let mut pop = Population {
            revision: file.revision,
            synced: file.synced,
            ..Default::default()
        };
        for row in file.users {
            pop.users.insert(row);
        }
        for row in file.groups {
            pop.groups.insert(row);
        }
        let mut pending = BTreeSet::new();
        if let Some(bytes) = changes {
            let c: ChangesIn = parse(bytes)?;
            if c.base > file.snapshot {
                return Err(LoadError::Mismatch {
                    changes: c.base,
                    snapshot: file.snapshot,
                });
            }
            if c.base == file.snapshot {
                pop.revision = c.revision;
                pop.synced = c.synced;
                for (kind, id) in c
                    .removed_users
                    .iter()
                    .map(|id| (Kind::User, id))
                    .chain(c.removed_groups.iter().map(|id| (Kind::Group, id)))
                {
                    match kind {
                        Kind::User => pop.users.remove(id),
                        Kind::Group => pop.groups.remove(id),
                    };
                    pending.insert((kind, id.clone()));
                }
                for (kind, row) in c
                    .users
                    .into_iter()
                    .map(|r| (Kind::User, r))
                    .chain(c.groups.into_iter().map(|r| (Kind::Group, r)))
                {
                    pending.insert((kind, row.id.clone()));
                    let table = match kind {
                        Kind::User => &mut pop.users,
                        Kind::Group => &mut pop.groups,
                    };
                    match table.get_mut(&row.id) {
                        Some(slot) => *slot = row,
                        None => table.insert(row),
                    }
                }
            }
        }
        pop.index()?;
        Ok(Loaded {
            population: pop,
            snapshot: file.snapshot,
            pending,
        })
    }

    /// Builds the indexes from the tables, checking what the operations keep true.
    fn index(&mut self) -> Result<(), LoadError> {
        for row in self.groups.iter() {
            if self.users.get(&row.id).is_some() {
                return Err(LoadError::DuplicateId(row.id.clone()));
            }
        }
        for row in self.users.iter().filter(|r| r.deleted.is_some()) {
            for key in Self::deleted_keys(row) {
                self.deleted_by
                    .entry(key)
                    .or_default()
                    .insert(row.id.clone());
            }
        }
        for row in self.users.iter().filter(|r| r.deleted.is_none()) {
            if let Some(name) = row.user_name()
                && self
                    .user_names
                    .insert(user_name_key(name), row.id.clone())
                    .is_some()
            {
                return Err(LoadError::DuplicateUserName(name.to_owned()));
            }
            // Files saved before e-mails were unique may share one: prepare
            // names such records; the first keeps the address here.
            if let Some(key) = email_key(&row.attributes) {
                self.emails.entry(key).or_insert_with(|| row.id.clone());
            }
        }
        for row in self.groups.iter() {
            for member in row.member_ids() {
                self.member_of
                    .entry(member.to_owned())
                    .or_default()
                    .insert(row.id.clone());
            }
            self.memberships += row.member_ids().count();
        }
        Ok(())
    }
}

/// What [`Population::load`] gives back.
#[derive(Debug)]
pub struct Loaded {
    pub population: Population,
    /// The number of the snapshot read.
    pub snapshot: u64,
    /// The resources the changes file held: the next changes file holds them too.
    pub pending: BTreeSet<(Kind, String)>,
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, LoadError> {
    #[derive(Deserialize)]
    struct Header {
        format: u32,
    }
    let header: Header =
        serde_json::from_slice(bytes).map_err(|e| LoadError::Shape(e.to_string()))?;
    if header.format != FORMAT {
        return Err(LoadError::Format(header.format));
    }
    serde_json::from_slice(bytes).map_err(|e| LoadError::Shape(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::schema::USER_URN;

    pub(crate) fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("id-{n}")
        }
    }

    pub(crate) fn add_user(
        pop: &mut Population,
        next: &mut dyn FnMut() -> String,
        name: &str,
        extra: Value,
    ) -> String {
        let mut body = json!({"schemas": [USER_URN, ENTERPRISE_URN], "userName": name});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        pop.create(
            Kind::User,
            &body,
            Stamp {
                now: "2026-01-01T00:00:00Z",
                new_id: next,
            },
        )
        .unwrap()
    }

    /// `body` pushed as a new user, at the time "t".
    fn create_user(
        pop: &mut Population,
        next: &mut dyn FnMut() -> String,
        body: &Value,
    ) -> Result<String, ScimError> {
        pop.create(
            Kind::User,
            body,
            Stamp {
                now: "t",
                new_id: next,
            },
        )
    }

    fn group(
        pop: &mut Population,
        next: &mut dyn FnMut() -> String,
        name: &str,
        members: &[&str],
    ) -> Result<String, ScimError> {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        pop.create(
            Kind::Group,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members}),
            Stamp { now: "2026-01-01T00:00:00Z", new_id: next },
        )
    }

    const B: &str = "https://h/scim/v2";

    #[test]
    fn a_taken_user_name_is_a_uniqueness_conflict_whatever_its_case() {
        let mut pop = Population::default();
        let mut next = ids();
        let ann = add_user(&mut pop, &mut next, "ann@x.com", json!({}));
        let body = json!({"schemas": [USER_URN], "userName": "ANN@x.com"});
        let e = create_user(&mut pop, &mut next, &body).unwrap_err();
        assert_eq!((e.status, e.scim_type), (409, Some(ScimType::Uniqueness)));
        let bob = add_user(&mut pop, &mut next, "bob@x.com", json!({}));
        let e = pop.replace(Kind::User, &bob, &body, "t").unwrap_err();
        assert_eq!(e.status, 409);
        pop.replace(Kind::User, &ann, &body, "t").unwrap();
        assert_eq!(pop.revision(), 3);
    }

    #[test]
    fn a_user_name_differing_only_in_white_space_or_unicode_form_is_taken() {
        let mut pop = Population::default();
        let mut next = ids();
        add_user(&mut pop, &mut next, "ann@x.com", json!({}));
        add_user(&mut pop, &mut next, "jos\u{e9}@x.com", json!({}));
        // Each would give TimeCamp the e-mail of a user already pushed (the
        // e-mail is the trimmed userName), or one that reads the same.
        for taken in [
            " ann@x.com",
            "ann@x.com\t",
            "\u{ff41}nn@x.com",
            "jose\u{301}@x.com",
            "JOSE\u{301}@X.COM",
        ] {
            let body = json!({"schemas": [USER_URN], "userName": taken});
            let e = create_user(&mut pop, &mut next, &body).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (409, Some(ScimType::Uniqueness)),
                "{taken:?}"
            );
        }
        assert_eq!(pop.user_counts(), (2, 0));
        let q = Query {
            filter: Some(r#"userName eq "ANN@x.com""#),
            ..Default::default()
        };
        assert_eq!(pop.list(Kind::User, &q, B).unwrap()["totalResults"], 1);
    }

    #[test]
    fn two_users_that_would_give_timecamp_one_e_mail_are_a_uniqueness_conflict() {
        let mut pop = Population::default();
        let mut next = ids();
        let ann = add_user(
            &mut pop,
            &mut next,
            "ann@x.com",
            json!({"externalId": "E1"}),
        );
        let create = |pop: &mut Population, next: &mut dyn FnMut() -> String, body: Value| {
            pop.create(
                Kind::User,
                &body,
                Stamp {
                    now: "t",
                    new_id: next,
                },
            )
        };
        // Not an e-mail, so TimeCamp would know them by their work e-mail: Ann's.
        let jdoe = json!({"schemas": [USER_URN], "userName": "jdoe",
            "emails": [{"value": "Ann@X.com", "type": "work"}]});
        let e = create(&mut pop, &mut next, jdoe.clone()).unwrap_err();
        assert_eq!(
            (e.status, e.scim_type),
            (409, Some(ScimType::Uniqueness)),
            "{}",
            e.detail
        );
        assert!(e.detail.contains(&ann), "{}", e.detail);
        let bob = add_user(
            &mut pop,
            &mut next,
            "bob",
            json!({"emails": [{"value": "bob@x.com"}]}),
        );
        let e = create(
            &mut pop,
            &mut next,
            json!({"schemas": [USER_URN], "userName": "BOB@x.com"}),
        )
        .unwrap_err();
        assert_eq!(e.status, 409);
        // Once Bob's e-mail changes, the address is free.
        let change = json!({"schemas": [patch::PATCH_URN], "Operations": [{"op": "replace", "path": "emails", "value": [{"value": "robert@x.com"}]}]});
        pop.patch(Kind::User, &bob, &change, "t").unwrap();
        create(
            &mut pop,
            &mut next,
            json!({"schemas": [USER_URN], "userName": "bob@x.com"}),
        )
        .unwrap();
        // A deleted user's address, taken by a user with its externalId, or
        // none: the new user takes the deleted one's place (one record per
        // e-mail, or prepare would stop on the two).
        pop.delete(Kind::User, &ann, "t").unwrap();
        create(&mut pop, &mut next, jdoe).unwrap();
        assert_eq!(pop.user_counts(), (3, 0));
        let d = crate::source::source_users(&pop, crate::source::GroupSource::Department);
        let mut mails: Vec<String> = d
            .users
            .iter()
            .filter_map(|u| u.email.clone())
            .map(|m| m.to_lowercase())
            .collect();
        mails.dedup();
        assert_eq!(mails.len(), 3, "{mails:?}");
    }

    #[test]
    fn a_deleted_user_is_gone_for_scim_and_kept_inactive_for_the_sync() {
        let mut pop = Population::default();
        let mut next = ids();
        let ann = add_user(
            &mut pop,
            &mut next,
            "ann@x.com",
            json!({"externalId": "E1"}),
        );
        let sales = group(&mut pop, &mut next, "Sales", &[&ann]).unwrap();
        pop.delete(Kind::User, &ann, "2026-02-01T00:00:00Z")
            .unwrap();
        assert_eq!(
            pop.get(Kind::User, &ann, B, &Selection::default())
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(pop.delete(Kind::User, &ann, "t").unwrap_err().status, 404);
        let g = pop
            .get(Kind::Group, &sales, B, &Selection::default())
            .unwrap();
        assert!(g.get("members").is_none(), "{g}");
        let list = pop.list(Kind::User, &Query::default(), B).unwrap();
        assert_eq!(list["totalResults"], 0);
        assert_eq!(pop.user_counts(), (0, 1));
        // The same person pushed again takes the deleted record's place.
        add_user(
            &mut pop,
            &mut next,
            "ann@y.com",
            json!({"externalId": "E1"}),
        );
        assert_eq!(pop.user_counts(), (1, 0));
    }

    #[test]
    fn a_leavers_user_name_goes_to_someone_with_another_external_id_only_once_the_leaver_is_synced()
    {
        let mut pop = Population::default();
        let mut next = ids();
        let ann = add_user(
            &mut pop,
            &mut next,
            "ann@x.com",
            json!({"externalId": "E1"}),
        );
        let bob = add_user(
            &mut pop,
            &mut next,
            "bob@x.com",
            json!({"externalId": "E3"}),
        );
        pop.delete(Kind::User, &ann, "t").unwrap();
        // Before a sync has disabled Ann's account, her address pushed for
        // someone else (another externalId) would hand them her account.
        let newcomer = json!({"schemas": [USER_URN], "userName": "ANN@x.com", "externalId": "E2"});
        let e = create_user(&mut pop, &mut next, &newcomer).unwrap_err();
        assert_eq!(
            (e.status, e.scim_type),
            (409, Some(ScimType::Uniqueness)),
            "{}",
            e.detail
        );
        assert!(
            e.detail.contains("E1") && e.detail.contains("E2"),
            "{}",
            e.detail
        );
        // Nor may a user be renamed to it.
        let rename = json!({"schemas": [patch::PATCH_URN], "Operations": [{"op": "replace", "path": "userName", "value": "ann@x.com"}]});
        assert_eq!(
            pop.patch(Kind::User, &bob, &rename, "t")
                .unwrap_err()
                .status,
            409
        );
        assert_eq!(pop.user_counts(), (1, 1));
        // The same person (same externalId) takes the record's place at once.
        let mut same = pop.clone();
        add_user(
            &mut same,
            &mut next,
            "ann@x.com",
            json!({"externalId": "E1"}),
        );
        assert_eq!(same.user_counts(), (2, 0));
        // Once a sync has run on the deletion, the account is disabled: the
        // newcomer is accepted, and the sync's matching holds them back from it.
        pop.mark_synced(Synced {
            revision: pop.revision(),
            users_sha256: None,
        });
        create_user(&mut pop, &mut next, &newcomer).unwrap();
        assert_eq!(pop.user_counts(), (2, 0));
    }

    #[test]
    fn memberships_in_all_groups_are_bounded_not_only_those_of_one() {
        // 10,000 groups of 100,000 members each would be a billion: groups
        // of groups reach the bound without a single user.
        let mut pop = Population::default();
        let mut next = ids();
        let side = 1_000;
        assert_eq!(side * side, limits::MAX_MEMBERSHIPS);
        let leaves: Vec<String> = (0..side)
            .map(|i| group(&mut pop, &mut next, &format!("L{i}"), &[]).unwrap())
            .collect();
        let leaves: Vec<&str> = leaves.iter().map(String::as_str).collect();
        let mut last = String::new();
        for i in 0..side {
            last = group(&mut pop, &mut next, &format!("G{i}"), &leaves).unwrap();
        }
        let e = group(&mut pop, &mut next, "One more", &leaves[..1]).unwrap_err();
        assert_eq!(e.status, 507, "{}", e.detail);
        let add = json!({"schemas": [patch::PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": last}]}]});
        let e = pop.patch(Kind::Group, leaves[0], &add, "t").unwrap_err();
        assert_eq!(e.status, 507, "{}", e.detail);
        // Room made by a group that goes is room again.
        pop.delete(Kind::Group, &last, "t").unwrap();
        group(&mut pop, &mut next, "One more", &leaves).unwrap();
    }

    #[test]
    fn a_group_path_deeper_than_every_stage_accepts_is_refused_when_pushed() {
        // Accepted, it would stop prepare, and so every sync, for everyone.
        let mut pop = Population::default();
        let mut next = ids();
        let deep = vec!["a"; scim_groups::MAX_PATH_DEPTH + 1].join("/");
        let body = json!({"schemas": [USER_URN, ENTERPRISE_URN], "userName": "ann@x.com",
            ENTERPRISE_URN: {"department": deep}});
        let e = create_user(&mut pop, &mut next, &body).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{}", e.detail);
        assert!(e.detail.contains("department"), "{}", e.detail);
        assert!(group(&mut pop, &mut next, &deep, &[]).is_err());
        let fine = vec!["a"; scim_groups::MAX_PATH_DEPTH].join("/");
        add_user(
            &mut pop,
            &mut next,
            "ann@x.com",
            json!({ENTERPRISE_URN: {"department": fine}}),
        );
        group(&mut pop, &mut next, &fine, &[]).unwrap();
    }

    #[test]
    fn members_must_exist_and_membership_shows_on_the_user() {
        let mut pop = Population::default();
        let mut next = ids();
        let ann = add_user(&mut pop, &mut next, "ann@x.com", json!({}));
        assert_eq!(
            group(&mut pop, &mut next, "G", &["nobody"])
                .unwrap_err()
                .scim_type,
            Some(ScimType::InvalidValue)
        );
        assert!(group(&mut pop, &mut next, "G", &[&ann, &ann]).is_err());
        let g = group(&mut pop, &mut next, "Sales", &[&ann]).unwrap();
        let user = pop.get(Kind::User, &ann, B, &Selection::default()).unwrap();
        assert_eq!(
            user["groups"],
            json!([{"value": g, "$ref": format!("{B}/Groups/{g}"), "display": "Sales", "type": "direct"}])
        );
        let patch = json!({"schemas": [patch::PATCH_URN], "Operations": [{"op": "remove", "path": format!("members[value eq \"{ann}\"]")}]});
        pop.patch(Kind::Group, &g, &patch, "t").unwrap();
        let user = pop.get(Kind::User, &ann, B, &Selection::default()).unwrap();
        assert!(user.get("groups").is_none());
    }

    #[test]
    fn lists_filter_page_and_select() {
        let mut pop = Population::default();
        let mut next = ids();
        for i in 0..5 {
            add_user(
                &mut pop,
                &mut next,
                &format!("u{i}@x.com"),
                json!({"displayName": format!("U {i}")}),
            );
        }
        let q = Query {
            start_index: Some("2"),
            count: Some("2"),
            attributes: Some("userName"),
            ..Default::default()
        };
        let page = pop.list(Kind::User, &q, B).unwrap();
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["itemsPerPage"], 2);
        assert_eq!(
            page["Resources"][0],
            json!({"schemas": [USER_URN], "id": "id-2", "userName": "u1@x.com"})
        );
        let q = Query {
            filter: Some(r#"userName eq "U3@X.COM""#),
            ..Default::default()
        };
        assert_eq!(
            pop.list(Kind::User, &q, B).unwrap()["Resources"][0]["id"],
            "id-4"
        );
        let q = Query {
            filter: Some(r#"displayName co "u""#),
            count: Some("0"),
            ..Default::default()
        };
        let counted = pop.list(Kind::User, &q, B).unwrap();
        assert_eq!(
            (
                counted["totalResults"].as_u64(),
                counted["Resources"].as_array().map(Vec::len)
            ),
            (Some(5), Some(0))
        );
        assert!(
            pop.list(
                Kind::User,
                &Query {
                    count: Some("x"),
                    ..Default::default()
                },
                B
            )
            .is_err()
        );
        assert!(
            pop.list(
                Kind::User,
                &Query {
                    sort_by: Some("userName"),
                    ..Default::default()
                },
                B
            )
            .is_err()
        );
    }

    #[test]
    fn the_saved_form_reads_back_the_same() {
        let mut pop = Population::default();
        let mut next = ids();
        let ann = add_user(
            &mut pop,
            &mut next,
            "ann@x.com",
            json!({ENTERPRISE_URN: {"department": "D"}}),
        );
        let bob = add_user(&mut pop, &mut next, "bob@x.com", json!({}));
        group(&mut pop, &mut next, "G", &[&ann]).unwrap();
        pop.delete(Kind::User, &bob, "t").unwrap();
        pop.mark_synced(Synced {
            revision: 2,
            users_sha256: Some("ab".into()),
        });
        let back = Population::load(&pop.snapshot_bytes(1), None).unwrap();
        assert_eq!((back.snapshot, back.pending.len()), (1, 0));
        let back = back.population;
        assert_eq!(back.snapshot_bytes(1), pop.snapshot_bytes(1));
        assert_eq!(back.revision(), 4);
        assert_eq!(
            back.get(Kind::User, &ann, B, &Selection::default()),
            pop.get(Kind::User, &ann, B, &Selection::default())
        );
        // The deleted user is found again after the load: pushed again, Bob
        // takes the record's place.
        let mut back = back;
        add_user(&mut back, &mut next, " BOB@x.com", json!({}));
        assert_eq!(back.user_counts(), (2, 0));
        assert!(matches!(
            Population::load(b"{\"format\": 9}", None),
            Err(LoadError::Format(9))
        ));
        assert!(matches!(
            Population::load(b"[]", None),
            Err(LoadError::Shape(_))
        ));
    }

    #[test]
    fn a_snapshot_and_its_changes_read_back_as_the_population_was() {
        let mut pop = Population::default();
        let mut next = ids();
        let ann = add_user(&mut pop, &mut next, "ann@x.com", json!({}));
        let bob = add_user(&mut pop, &mut next, "bob@x.com", json!({}));
        let g = group(&mut pop, &mut next, "G", &[&ann, &bob]).unwrap();
        let snapshot = pop.snapshot_bytes(7);
        pop.take_changed();
        // After the snapshot: a user created, one deleted (leaving the
        // group), one changed, a group removed.
        let cat = add_user(&mut pop, &mut next, "cat@x.com", json!({}));
        pop.delete(Kind::User, &bob, "t").unwrap();
        let body = json!({"schemas": [patch::PATCH_URN], "Operations": [{"op": "replace", "path": "displayName", "value": "Ann"}]});
        pop.patch(Kind::User, &ann, &body, "t").unwrap();
        let h = group(&mut pop, &mut next, "H", &[&cat]).unwrap();
        pop.delete(Kind::Group, &h, "t").unwrap();
        let changed = pop.take_changed();
        let changes = pop.changes_bytes(7, &changed);
        let loaded = Population::load(&snapshot, Some(&changes)).unwrap();
        assert_eq!(loaded.pending, changed);
        let back = loaded.population;
        assert_eq!(back.snapshot_bytes(7), pop.snapshot_bytes(7));
        let list = |p: &Population| p.list(Kind::User, &Query::default(), B).unwrap();
        assert_eq!(list(&back), list(&pop), "the same users, in the same order");
        assert_eq!(
            back.get(Kind::Group, &g, B, &Selection::default()).unwrap()["members"],
            json!([{"value": ann}])
        );
        // A changes file older than the snapshot is already in it.
        let newer = pop.snapshot_bytes(8);
        let stale = Population::load(&newer, Some(&changes)).unwrap();
        assert_eq!(stale.population.snapshot_bytes(8), newer);
        assert!(stale.pending.is_empty());
        // One newer than the snapshot cannot be: the snapshot is written first.
        let ahead = pop.changes_bytes(9, &changed);
        assert!(matches!(
            Population::load(&snapshot, Some(&ahead)),
            Err(LoadError::Mismatch {
                changes: 9,
                snapshot: 7
            })
        ));
    }

    #[test]
    fn a_failed_patch_changes_nothing() {
        let mut pop = Population::default();
        let mut next = ids();
        let ann = add_user(
            &mut pop,
            &mut next,
            "ann@x.com",
            json!({"displayName": "Ann"}),
        );
        let before = pop.get(Kind::User, &ann, B, &Selection::default()).unwrap();
        let body = json!({"schemas": [patch::PATCH_URN], "Operations": [
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "active", "value": "perhaps"},
        ]});
        assert!(pop.patch(Kind::User, &ann, &body, "later").is_err());
        assert_eq!(
            pop.get(Kind::User, &ann, B, &Selection::default()).unwrap(),
            before
        );
        assert_eq!(pop.revision(), 1);
    }
}
