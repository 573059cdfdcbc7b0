//! Group membership: the groups named in `OKTA_FILTER_GROUPS`,
//! `OKTA_FILTER_GROUP_IDS` and `OKTA_SUPERVISOR_GROUPS`, found by exact name
//! or id, and their members.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use tracing::warn;

use super::OktaError;
use super::client::{Api, PAGE_SIZE};
use crate::fields::{text_of, value_at};

impl Api<'_> {
    /// The id of the group named exactly `name`.
    async fn group_id(&self, var: &'static str, name: &str) -> Result<String, OktaError> {
        let url = self.url(
            "api/v1/groups",
            &[("q", name.to_owned()), ("limit", PAGE_SIZE.to_string())],
        )?;
        let found = self.all(url, &format!("group {name:?}")).await?;
        found
            .iter()
            .find(|g| text_of(value_at(g, "profile.name")) == name)
            .map(|g| text_of(g.get("id")))
            .ok_or_else(|| OktaError::UnknownGroup {
                var,
                name: name.to_owned(),
            })
    }

    async fn members(&self, group_id: &str) -> Result<Vec<Value>, OktaError> {
        let mut url = self.url("api/v1/groups/", &[("limit", PAGE_SIZE.to_string())])?;
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend([group_id, "users"]);
        }
        self.all(url, &format!("members of group {group_id}")).await
    }

    /// The users of the named groups and ids, each once, in order.
    pub(super) async fn group_members(
        &self,
        var: &'static str,
        names: &[String],
        ids: &[String],
    ) -> Result<Vec<Value>, OktaError> {
        let mut group_ids: Vec<String> = Vec::new();
        for name in names {
            group_ids.push(self.group_id(var, name).await?);
        }
        for id in ids {
            if !group_ids.contains(id) {
                group_ids.push(id.clone());
            }
        }
        let mut out: Vec<Value> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        for gid in group_ids {
            for u in self.members(&gid).await? {
                let id = text_of(u.get("id"));
                match at.get(&id) {
                    Some(&i) => out[i] = u,
                    None => {
                        at.insert(id, out.len());
                        out.push(u);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The Okta ids of the members of `OKTA_SUPERVISOR_GROUPS` (none when
    /// the setting is empty).
    pub(super) async fn supervisor_ids(&self) -> Result<HashSet<String>, OktaError> {
        let groups = &self.s.supervisor_groups;
        if groups.is_empty() {
            return Ok(HashSet::new());
        }
        let members = self
            .group_members("OKTA_SUPERVISOR_GROUPS", groups, &[])
            .await?;
        if members.is_empty() {
            warn!(
                "OKTA_SUPERVISOR_GROUPS: the groups have no members; nobody gets the supervisor role from them"
            );
        }
        Ok(members.iter().map(|u| text_of(u.get("id"))).collect())
    }

    /// The people to fetch: the members of the filter groups when any is
    /// set, else every user of the chosen statuses.
    pub(super) async fn population(&self) -> Result<Vec<Value>, OktaError> {
        let s = self.s;
        if s.filter_groups.is_empty() && s.filter_group_ids.is_empty() {
            self.users_with_statuses().await
        } else {
            self.group_members("OKTA_FILTER_GROUPS", &s.filter_groups, &s.filter_group_ids)
                .await
        }
    }
}
