//! The plan as a page people can look at (`sync-users --dry-run --output
//! html`): the group tree as it will be after the run, each person where the
//! sync puts them, with what changes marked (new groups and people, moves
//! with where from, renames, role and e-mail changes, disables, re-enables,
//! and people left alone with the reason). Pure: built from the plan, the
//! prepared users and TimeCamp's state the plan was made from.

use std::collections::HashMap;

use scim_groups::{GroupNode, GroupTree, normalise_path, path_parts};
use scim_model::{Role, Status, TimecampUser};
use scim_report::{Group, Mark, MarkKind, Member, Page};

use crate::plan::{Change, CurrentState, NewUser, Plan};
use crate::types::role_name;

/// The page of `plan`, made from `current` and the prepared `desired` users.
pub fn plan_page(
    plan: &Plan,
    desired: &[TimecampUser],
    current: &CurrentState,
    root_group_id: u64,
    title: &str,
) -> Page {
    let tree = GroupTree::new(current.groups.iter().map(|g| GroupNode {
        id: g.group_id,
        parent: g.parent_id,
        name: g.name.clone(),
    }));
    let path_of = |id: u64| match tree.path_below(root_group_id, id) {
        Some(p) if p.is_empty() => "the root group".to_owned(),
        Some(p) => p,
        None => format!("group {id}"),
    };

    // Marks by TimeCamp user id (existing people) and by e-mail (new ones).
    let mut by_id: HashMap<u64, Vec<Mark>> = HashMap::new();
    let mut new_people: HashMap<String, Vec<Mark>> = HashMap::new();
    // People who leave, in plan order, with what happens to them.
    let mut leavers: Vec<u64> = Vec::new();
    let mut leave_marks: HashMap<u64, Vec<Mark>> = HashMap::new();
    let mut leave = |id: u64, mark: Mark| {
        leave_marks
            .entry(id)
            .or_insert_with(|| {
                leavers.push(id);
                Vec::new()
            })
            .push(mark)
    };
    let mut root = Group::named("Root group");
    // Every group there is stays (empty ones too), then the plan adds to it;
    // but not one deeper than any path may be (TimeCamp's own limit is four
    // levels, so only a broken or hostile answer has them).
    let mut too_deep = 0;
    for id in tree.below_post_order(root_group_id).into_iter().rev() {
        match tree.path_below(root_group_id, id) {
            Some(path) => {
                root.at(path_parts(&path));
            }
            None => too_deep += 1,
        }
    }
    let count = |label: &str, counts: &mut Vec<(String, usize)>| match counts
        .iter_mut()
        .find(|(l, _)| l == label)
    {
        Some((_, n)) => *n += 1,
        None => counts.push((label.to_owned(), 1)),
    };
    let mut counts: Vec<(String, usize)> = [
        "New groups",
        "New people",
        "Moves",
        "Renames",
        "Role changes",
        "E-mail changes",
        "Disables",
        "Re-enables",
    ]
    .iter()
    .map(|l| ((*l).to_owned(), 0))
    .collect();
    for change in &plan.changes {
        let mark = |kind, text: String| Mark::new(kind, text);
        match change {
            Change::CreateGroup { path, .. } => {
                root.at(path_parts(path))
                    .marks
                    .push(mark(MarkKind::New, "new group".into()));
                count("New groups", &mut counts);
            }
            Change::CreateUser(NewUser { email, .. }) => {
                new_people
                    .entry(email.to_lowercase())
                    .or_default()
                    .push(mark(MarkKind::New, "new".into()));
                count("New people", &mut counts);
            }
            Change::ReEnable { user } => {
                by_id
                    .entry(user.id)
                    .or_default()
                    .push(mark(MarkKind::Enable, "re-enabled".into()));
                count("Re-enables", &mut counts);
            }
            Change::Rename { user, from, .. } => {
                by_id.entry(user.id).or_default().push(mark(
                    MarkKind::Rename,
                    format!("renamed from {:?}", from.as_deref().unwrap_or("")),
                ));
                count("Renames", &mut counts);
            }
            Change::Move { user, from, .. } => {
                by_id.entry(user.id).or_default().push(mark(
                    MarkKind::Move,
                    format!("moved from {}", path_of(*from)),
                ));
                count("Moves", &mut counts);
            }
            Change::SetRole { user, from, to, .. } => {
                by_id.entry(user.id).or_default().push(mark(
                    MarkKind::Role,
                    format!("role: {} → {to}", role_name(*from)),
                ));
                count("Role changes", &mut counts);
            }
            Change::SetEmail { user, from, to, .. } => {
                by_id
                    .entry(user.id)
                    .or_default()
                    .push(mark(MarkKind::Email, format!("e-mail: {from} → {to}")));
                count("E-mail changes", &mut counts);
            }
            Change::SetAdditionalEmail { user, to, .. } => {
                by_id
                    .entry(user.id)
                    .or_default()
                    .push(mark(MarkKind::Email, format!("additional e-mail → {to}")));
            }
            Change::SetExternalId { user, to, .. } => {
                by_id
                    .entry(user.id)
                    .or_default()
                    .push(mark(MarkKind::Other, format!("external id → {to}")));
            }
            // Bookkeeping of the sync, not something a person sees change.
            Change::ResetAddedManually { .. } => {}
            Change::Disable { user, reason } => {
                leave(
                    user.id,
                    mark(MarkKind::Disable, format!("disabled: {reason}")),
                );
                count("Disables", &mut counts);
            }
            Change::MoveToDisabledGroup { user, to, .. } => leave(
                user.id,
                mark(
                    MarkKind::Disable,
                    format!("moved to the disabled-users group ({})", path_of(*to)),
                ),
            ),
        }
    }

    let matched: HashMap<&str, u64> = plan
        .matches
        .iter()
        .map(|m| (m.email.as_str(), m.user_id))
        .collect();
    let skipped: HashMap<String, String> = plan
        .skipped
        .iter()
        .filter(|s| s.user_id.is_none())
        .map(|s| (s.email.to_lowercase(), format!("left alone: {}", s.reason)))
        .chain(
            plan.held_back
                .iter()
                .map(|h| (h.email.clone(), format!("held back: {}", h.reason))),
        )
        .collect();
    let mut placed = 0;
    for u in desired
        .iter()
        .filter(|u| u.timecamp_status == Status::Active)
    {
        let email = u.timecamp_email.trim().to_lowercase();
        let mut marks = match matched.get(email.as_str()) {
            Some(id) => by_id.remove(id).unwrap_or_default(),
            None => new_people.remove(&email).unwrap_or_default(),
        };
        if let Some(reason) = skipped.get(&email) {
            marks.push(Mark::new(MarkKind::Skipped, reason.clone()));
        }
        let crumb = normalise_path(u.timecamp_groups_breadcrumb.as_deref().unwrap_or_default());
        root.at(path_parts(&crumb)).members.push(Member {
            name: u
                .timecamp_user_name
                .clone()
                .unwrap_or_else(|| u.timecamp_email.clone()),
            email: u.timecamp_email.clone(),
            role: u.timecamp_role.unwrap_or(Role::User).to_string(),
            marks,
        });
        placed += 1;
    }
    // People who leave stay where TimeCamp has them, marked.
    let users_by_id: HashMap<u64, &crate::plan::CurrentUser> =
        current.users.iter().map(|u| (u.id, u)).collect();
    for id in leavers {
        let Some(user) = users_by_id.get(&id) else {
            continue;
        };
        let path = tree
            .path_below(root_group_id, user.group_id)
            .unwrap_or_default();
        root.at(path_parts(&path)).members.push(Member {
            name: user
                .display_name
                .clone()
                .unwrap_or_else(|| user.email.clone()),
            email: user.email.clone(),
            role: role_name(user.role_id),
            marks: leave_marks.remove(&id).unwrap_or_default(),
        });
    }
    let mut all_counts = vec![("People after the run".to_owned(), placed)];
    all_counts.extend(counts);
    all_counts.push(("Unchanged".into(), plan.unchanged.len()));
    all_counts.push(("Left alone".into(), plan.skipped.len()));
    all_counts.push(("Held back".into(), plan.held_back.len()));
    let mut notes: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    if too_deep > 0 {
        notes.push(format!(
            "{too_deep} group(s) of TimeCamp lie more than {} levels below the root group and \
             are not drawn",
            scim_groups::MAX_PATH_DEPTH
        ));
    }
    Page {
        title: title.to_owned(),
        counts: all_counts,
        root,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{CurrentUser, SyncOptions};
    use scim_model::timecamp::Group as TcGroup;

    fn group(id: u64, parent: u64, name: &str) -> TcGroup {
        TcGroup {
            group_id: id,
            parent_id: parent,
            name: name.into(),
        }
    }

    fn record(email: &str, name: &str, path: &str) -> TimecampUser {
        serde_json::from_value(serde_json::json!({
            "timecamp_email": email, "timecamp_user_name": name,
            "timecamp_groups_breadcrumb": path, "timecamp_status": "active", "timecamp_role": "user"
        }))
        .unwrap()
    }

    fn tc_user(id: u64, email: &str, group: u64) -> CurrentUser {
        CurrentUser {
            id,
            email: email.into(),
            display_name: Some(email.split('@').next().unwrap().into()),
            group_id: group,
            enabled: true,
            added_manually: Some("0".into()),
            ..CurrentUser::default()
        }
    }

    #[test]
    fn the_page_shows_the_tree_after_the_run_with_each_change_marked() {
        let current = CurrentState {
            groups: vec![
                group(10, 0, "Company"),
                group(11, 10, "Sales"),
                group(12, 10, "Eng"),
            ],
            users: vec![
                tc_user(1, "ann@x.com", 11),
                tc_user(2, "bob@x.com", 12),
                tc_user(3, "gone@x.com", 12),
            ],
            ..CurrentState::default()
        };
        let desired = vec![
            record("ann@x.com", "ann", "Eng"),
            record("bob@x.com", "bob", "Eng"),
            record("new@x.com", "New Person", "Eng/Platform"),
        ];
        let opts = SyncOptions {
            root_group_id: 10,
            ..SyncOptions::default()
        };
        let plan = crate::plan::plan(&current, &desired, &opts);
        let page = plan_page(&plan, &desired, &current, 10, "Plan");
        let eng = page.root.children.iter().find(|g| g.name == "Eng").unwrap();
        let ann = eng.members.iter().find(|m| m.email == "ann@x.com").unwrap();
        assert_eq!(ann.marks, [Mark::new(MarkKind::Move, "moved from Sales")]);
        let bob = eng.members.iter().find(|m| m.email == "bob@x.com").unwrap();
        assert!(bob.marks.is_empty(), "unchanged");
        let gone = eng
            .members
            .iter()
            .find(|m| m.email == "gone@x.com")
            .unwrap();
        assert_eq!(gone.marks[0].kind, MarkKind::Disable);
        let platform = &eng.children[0];
        assert_eq!(platform.marks, [Mark::new(MarkKind::New, "new group")]);
        assert_eq!(platform.members[0].marks, [Mark::new(MarkKind::New, "new")]);
        let count = |l: &str| page.counts.iter().find(|(x, _)| x == l).unwrap().1;
        assert_eq!(
            (
                count("Moves"),
                count("New people"),
                count("New groups"),
                count("Disables"),
                count("Unchanged")
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(count("People after the run"), 3);
    }

    /// TimeCamp nests groups four levels deep; an answer with a chain of
    /// 20,000 is drawn to the depth limit, in time linear in the groups.
    #[test]
    fn groups_deeper_than_any_path_are_counted_in_a_note_not_drawn() {
        let depth: u64 = 20_000;
        let mut groups = vec![group(10, 0, "Company")];
        groups.extend((11..10 + depth).map(|id| group(id, id - 1, "G")));
        let current = CurrentState {
            groups,
            users: vec![tc_user(1, "ann@x.com", 10)],
            ..CurrentState::default()
        };
        let desired = vec![record("ann@x.com", "ann", "")];
        let opts = SyncOptions {
            root_group_id: 10,
            ..SyncOptions::default()
        };
        let plan = crate::plan::plan(&current, &desired, &opts);
        let page = plan_page(&plan, &desired, &current, 10, "Plan");
        assert_eq!(page.root.descendants(), scim_groups::MAX_PATH_DEPTH);
        let not_drawn = depth as usize - 1 - scim_groups::MAX_PATH_DEPTH;
        assert!(
            page.notes.contains(&format!(
                "{not_drawn} group(s) of TimeCamp lie more than 32 levels below the root group and are not drawn"
            )),
            "{:?}",
            page.notes
        );
    }
}
