//! `sync-users --whoami`: the first thing to run with one's own account.
//! Whose the API key is, the account's top group and how
//! `TIMECAMP_ROOT_GROUP_ID` relates to it, and whom the settings protect from
//! the sync (the key's owner, administrators, ignored ids, hand-made users).
//! Reads only; needs only `TIMECAMP_API_KEY`.

use std::fmt::Write;

use scim_core::settings::SyncSettings;
use scim_groups::{GroupNode, GroupTree};
use scim_sync::{CurrentState, CurrentUser};
use scim_timecamp::Client;
use serde::Serialize;

use crate::sync::Output;

/// A TimeCamp user as `--whoami` names them.
#[derive(Debug, Clone, Serialize)]
pub struct Someone {
    pub id: u64,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub enabled: bool,
}

impl Someone {
    fn of(u: &CurrentUser) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            name: u.display_name.clone(),
            role: scim_sync::plan::role_name(u.role_id),
            enabled: u.enabled,
        }
    }

    fn line(&self) -> String {
        format!(
            "user {} ({}{}), {}{}",
            self.id,
            self.email,
            self.name
                .as_deref()
                .map(|n| format!(", {n:?}"))
                .unwrap_or_default(),
            self.role,
            if self.enabled { "" } else { ", disabled" }
        )
    }
}

/// What `--whoami` found.
#[derive(Debug, Clone, Serialize)]
pub struct WhoAmI {
    /// The user the API key belongs to.
    pub owner: Someone,
    /// The account's top group (id, name).
    pub top_group: (u64, String),
    /// `TIMECAMP_ROOT_GROUP_ID` as set, and what it is.
    pub root_group_id: Option<u64>,
    pub root_group: String,
    /// Never demoted unless `TIMECAMP_ALLOW_ADMIN_DEMOTION=true`.
    pub administrators: Vec<Someone>,
    pub allow_admin_demotion: bool,
    /// `TIMECAMP_IGNORED_USER_IDS`, each with the user it names (if any).
    pub ignored: Vec<(u64, Option<Someone>)>,
    /// Users added by hand, protected with `TIMECAMP_DISABLE_MANUAL_USER_UPDATES=true`.
    pub manual: Option<Vec<Someone>>,
}

pub async fn run(
    client: &Client,
    root_group_id: Option<u64>,
    settings: &SyncSettings,
    output: Output,
) -> anyhow::Result<()> {
    let me = client.me().await?;
    let mut state = scim_sync::read_state(client).await?;
    state.owner_id = Some(me.user_id);
    let found = whoami(
        &state,
        root_group_id,
        settings,
        me.user_id,
        me.email,
        me.display_name,
    );
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&found)?),
        _ => print!("{}", found.text()),
    }
    Ok(())
}

/// What the settings and the account say, worked out from TimeCamp's state.
pub fn whoami(
    state: &CurrentState,
    root_group_id: Option<u64>,
    settings: &SyncSettings,
    owner: u64,
    owner_email: String,
    owner_name: Option<String>,
) -> WhoAmI {
    let tree = GroupTree::new(state.groups.iter().map(|g| GroupNode {
        id: g.group_id,
        parent: g.parent_id,
        name: g.name.clone(),
    }));
    let name_of = |id: u64| {
        state
            .groups
            .iter()
            .find(|g| g.group_id == id)
            .map(|g| g.name.trim().to_owned())
    };
    let top = state
        .groups
        .iter()
        .filter(|g| g.parent_id == 0)
        .map(|g| g.group_id)
        .min()
        .unwrap_or_default();
    let top_group = (top, name_of(top).unwrap_or_default());
    let root_group = match root_group_id {
        None => format!(
            "not set: set TIMECAMP_ROOT_GROUP_ID={top} to sync the whole account, or to the id of \
             a group below it to sync only there"
        ),
        Some(id) if id == top => format!("{id}, the account's top group {:?}", top_group.1),
        Some(id) => match (name_of(id), tree.path_below(top, id)) {
            (Some(_), Some(path)) => format!(
                "{id}, the group {:?} under the account's top group: only that part is synced",
                format!("{}/{path}", top_group.1)
            ),
            _ => format!(
                "{id}: no such group in this account (the top group is {top}); sync-users would \
                 find no group to work under"
            ),
        },
    };
    let someone = |id: u64| state.users.iter().find(|u| u.id == id).map(Someone::of);
    let owner = someone(owner).unwrap_or(Someone {
        id: owner,
        email: owner_email,
        name: owner_name,
        role: "not listed by GET /users".into(),
        enabled: true,
    });
    let mut users: Vec<&CurrentUser> = state.users.iter().collect();
    users.sort_by_key(|u| u.id);
    WhoAmI {
        administrators: users
            .iter()
            .filter(|u| u.is_admin())
            .map(|u| Someone::of(u))
            .collect(),
        allow_admin_demotion: settings.allow_admin_demotion,
        ignored: settings
            .ignored_user_ids
            .iter()
            .map(|id| (*id, someone(*id)))
            .collect(),
        manual: settings.disable_manual_user_updates.then(|| {
            users
                .iter()
                .filter(|u| u.is_manual())
                .map(|u| Someone::of(u))
                .collect()
        }),
        owner,
        top_group,
        root_group_id,
        root_group,
    }
}

impl WhoAmI {
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "API key of: {}", self.owner.line());
        let _ = writeln!(
            out,
            "Account's top group: {} {:?}",
            self.top_group.0, self.top_group.1
        );
        let _ = writeln!(out, "TIMECAMP_ROOT_GROUP_ID: {}", self.root_group);
        let _ = writeln!(out, "The sync never disables, moves or demotes:");
        let _ = writeln!(out, "  the key's owner: {}", self.owner.line());
        let demotion = if self.allow_admin_demotion {
            "may be demoted: TIMECAMP_ALLOW_ADMIN_DEMOTION=true"
        } else {
            "never demoted (TIMECAMP_ALLOW_ADMIN_DEMOTION=false), disabled if they leave the source"
        };
        let _ = writeln!(
            out,
            "  administrators ({}), {demotion}:",
            self.administrators.len()
        );
        for a in &self.administrators {
            let _ = writeln!(out, "    {}", a.line());
        }
        if self.ignored.is_empty() {
            let _ = writeln!(out, "  TIMECAMP_IGNORED_USER_IDS: none");
        } else {
            let _ = writeln!(out, "  TIMECAMP_IGNORED_USER_IDS (never touched at all):");
        }
        for (id, who) in &self.ignored {
            let _ = match who {
                Some(u) => writeln!(out, "    {}", u.line()),
                None => writeln!(out, "    {id}: no such user in this account"),
            };
        }
        match &self.manual {
            None => {
                let _ = writeln!(
                    out,
                    "  users added by hand: not protected (TIMECAMP_DISABLE_MANUAL_USER_UPDATES=false)"
                );
            }
            Some(manual) => {
                let _ = writeln!(
                    out,
                    "  users added by hand ({}), TIMECAMP_DISABLE_MANUAL_USER_UPDATES=true:",
                    manual.len()
                );
                for u in manual {
                    let _ = writeln!(out, "    {}", u.line());
                }
            }
        }
        out
    }
}
