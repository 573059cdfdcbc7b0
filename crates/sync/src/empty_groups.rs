//! Deleting the empty groups under the root: the one loop that
//! remove-empty-groups and sync-users (`TIMECAMP_REMOVE_EMPTY_GROUPS=true`)
//! share. Which groups are empty is the pure planner's choice
//! ([`scim_plan::empty_groups`]); this reads TimeCamp and deletes them, children first.

use std::collections::{HashMap, HashSet};

use scim_plan::empty_groups::{EmptyGroup, empty_groups};
use scim_timecamp::{ApiError, Client};

use crate::journal::{Entry, Recorder};
use tracing::{info, warn};

/// What a removal found and did.
#[derive(Debug, Clone, Default)]
pub struct Removal {
    /// The empty groups, children before parents.
    pub empty: Vec<EmptyGroup>,
    /// Each delete tried, with the error if it failed.
    pub tried: Vec<(EmptyGroup, Option<String>)>,
}

impl Removal {
    pub fn deleted(&self) -> usize {
        self.tried.iter().filter(|(_, e)| e.is_none()).count()
    }

    pub fn failed(&self) -> usize {
        self.tried.iter().filter(|(_, e)| e.is_some()).count()
    }
}

/// The journal line of one delete tried (see [`crate::journal`]).
fn journal_entry(journal: &Recorder, g: &EmptyGroup, error: Option<&str>) -> Entry {
    Entry {
        time: crate::journal::now(),
        run_id: journal.run_id().to_owned(),
        stage: journal.stage().to_owned(),
        email: Some(g.path.clone()),
        user_id: None,
        kind: "delete group".into(),
        old: Some(format!("group {}", g.id)),
        new: None,
        result: if error.is_some() { "failed" } else { "applied" },
        error: error.map(str::to_owned),
    }
}

/// Reads TimeCamp's groups and users, and deletes the empty groups under
/// `root` (none with `dry_run`). Groups named by `needed` (the breadcrumbs of
/// the prepared active users), the root and the disabled-users group are
/// kept. Each delete tried goes to `journal` as it is done.
pub async fn remove_empty_groups(
    client: &Client,
    root: u64,
    disabled_users_group: Option<u64>,
    needed: &[String],
    dry_run: bool,
    journal: Option<&Recorder>,
) -> Result<Removal, ApiError> {
    let (groups, users) = tokio::try_join!(client.groups(), client.users())?;
    let occupied: HashSet<u64> = users.iter().map(|u| u.group_id).collect();
    let empty = empty_groups(&groups, &occupied, root, disabled_users_group, needed);
    let mut removal = Removal {
        empty,
        ..Removal::default()
    };
    if dry_run {
        return Ok(removal);
    }
    // A group whose child could not be deleted keeps that child, so it must stay:
    // TimeCamp would move the child to the top of the account.
    let parent: HashMap<u64, u64> = groups.iter().map(|g| (g.group_id, g.parent_id)).collect();
    let mut kept: HashSet<u64> = HashSet::new();
    for g in removal.empty.clone() {
        let g = &g;
        if kept.contains(&g.id) {
            warn!(
                "{:?} (group {}): kept, a subgroup could not be deleted",
                g.path, g.id
            );
            kept.extend(parent.get(&g.id));
            continue;
        }
        let error = match client.delete_group(g.id).await {
            Ok(()) => {
                info!("Deleted empty group {:?} (group {})", g.path, g.id);
                None
            }
            Err(e) => {
                warn!("{:?} (group {}): delete failed: {e}", g.path, g.id);
                kept.extend(parent.get(&g.id));
                Some(e.to_string())
            }
        };
        if let Some(journal) = journal {
            journal.entry(journal_entry(journal, g, error.as_deref()));
        }
        removal.tried.push((g.clone(), error));
    }
    info!(
        "Summary: deleted {} empty groups, failed {}",
        removal.deleted(),
        removal.failed()
    );
    Ok(removal)
}
