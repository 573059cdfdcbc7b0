//! The plan as a page people can look at (`sync-users --dry-run --output
//! html`): the group tree as it will be after the run, each person where the
//! sync leaves them, with their role after the run and what changes marked
//! (new groups and people, moves with where from, renames, role and e-mail
//! changes, disables, re-enables). People the sync leaves alone are drawn
//! where they stay, as TimeCamp has them, marked with the reason: the key's
//! owner, administrators kept from a demotion, ignored and hand-made
//! accounts, second accounts, held-back people. A plan the guard would refuse
//! says so first. Pure: built from the plan, the prepared users and
//! TimeCamp's state the plan was made from.
#![warn(clippy::too_many_lines)]

use std::collections::{HashMap, HashSet};

use scim_groups::{GroupNode, GroupTree, normalise_path, path_parts};
use scim_model::{Role, Status, TimecampUser};
use scim_report::{Banner, Group, Mark, MarkKind, Member, Page};

use crate::guard::DeactivationCheck;
use crate::plan::{Change, CurrentState, CurrentUser, NewUser, Plan, PlanWarning, SkipReason};
use crate::text::NO_CHANGES;
use crate::types::{MANAGED_FROM_NOW_ON, role_name};

/// The page of `plan`, made from `current` and the prepared `desired` users.
/// `refused` is the guard's check when a real run would be refused.
pub fn plan_page(
    plan: &Plan,
    desired: &[TimecampUser],
    current: &CurrentState,
    root_group_id: u64,
    title: &str,
    refused: Option<&DeactivationCheck>,
) -> Page {
    let view = View::new(current, root_group_id);
    let (mut root, too_deep) = view.existing_groups();
    let mut counts = Counts::default();
    let mut outcomes = outcomes(plan, &view, &mut root, &mut counts);
    kept_marks(plan, &mut outcomes);
    let mut drawn = Drawn {
        root,
        accounts: HashSet::new(),
        staying: 0,
    };
    drawn.matched_people(plan, &view, &mut outcomes);
    drawn.new_people(plan);
    drawn.records_left_out(plan, desired);
    drawn.accounts_left_alone(plan, &view);
    drawn.leavers(plan, &view, &mut outcomes);
    Page {
        title: title.to_owned(),
        banners: banners(plan, refused),
        counts: counts.all(drawn.staying, plan),
        root: std::mem::take(&mut drawn.root),
        notes: notes(plan, too_deep),
    }
}

/// TimeCamp's groups and users, looked up by id, and where each group is
/// drawn.
struct View<'a> {
    root_group_id: u64,
    tree: GroupTree,
    users: HashMap<u64, &'a CurrentUser>,
}

impl<'a> View<'a> {
    fn new(current: &'a CurrentState, root_group_id: u64) -> Self {
        let tree = GroupTree::new(current.groups.iter().map(|g| GroupNode {
            id: g.group_id,
            parent: g.parent_id,
            name: g.name.clone(),
        }));
        Self {
            root_group_id,
            tree,
            users: current.users.iter().map(|u| (u.id, u)).collect(),
        }
    }

    /// Every group there is, empty ones too (the plan adds to them), but not
    /// one deeper than any path may be (TimeCamp's own limit is four levels,
    /// so only a broken or hostile answer has them): those are counted.
    fn existing_groups(&self) -> (Group, usize) {
        let mut root = Group::named("Root group");
        let mut too_deep = 0;
        for id in self
            .tree
            .below_post_order(self.root_group_id)
            .into_iter()
            .rev()
        {
            match self.tree.path_below(self.root_group_id, id) {
                Some(path) => {
                    root.at(path_parts(&path));
                }
                None => too_deep += 1,
            }
        }
        (root, too_deep)
    }

    /// A group as the marks name it.
    fn path_of(&self, id: u64) -> String {
        match self.tree.path_below(self.root_group_id, id) {
            Some(p) if p.is_empty() => "the root group".to_owned(),
            Some(p) => p,
            None => format!("group {id}"),
        }
    }

    /// Where an account in group `id` is drawn: its path below the root, or
    /// the root group with a mark that it is elsewhere.
    fn place(&self, id: u64) -> (String, Option<Mark>) {
        match self.tree.path_below(self.root_group_id, id) {
            Some(path) => (path, None),
            None => (
                String::new(),
                Some(Mark::new(
                    MarkKind::Skipped,
                    format!("in group {id}, outside the root group"),
                )),
            ),
        }
    }
}

/// The counts at the top of the page, in the order they are shown.
struct Counts(Vec<(&'static str, usize)>);

impl Default for Counts {
    fn default() -> Self {
        Self(
            [
                "New groups",
                "New people",
                "Moves",
                "Renames",
                "Role changes",
                "E-mail changes",
                "Disables",
                "Re-enables",
            ]
            .into_iter()
            .map(|l| (l, 0))
            .collect(),
        )
    }
}

impl Counts {
    fn add(&mut self, label: &str) {
        if let Some((_, n)) = self.0.iter_mut().find(|(l, _)| *l == label) {
            *n += 1;
        }
    }

    fn all(self, staying: usize, plan: &Plan) -> Vec<(String, usize)> {
        let mut all = vec![("People after the run".to_owned(), staying)];
        all.extend(self.0.into_iter().map(|(l, n)| (l.to_owned(), n)));
        all.push(("Unchanged".into(), plan.unchanged.len()));
        all.push(("Left alone".into(), plan.skipped.len()));
        all.push(("Held back".into(), plan.held_back.len()));
        all
    }
}

/// What the run does to one existing account: its marks, and what it has
/// after the run where that differs from TimeCamp's state now.
#[derive(Default)]
struct Outcome {
    marks: Vec<Mark>,
    path: Option<String>,
    role: Option<Role>,
    name: Option<String>,
    email: Option<String>,
    /// Disabled, or moved to the disabled-users group.
    leaves: bool,
}

/// Each change as a mark (new groups on the tree, the rest by account),
/// counted.
fn outcomes(
    plan: &Plan,
    view: &View,
    root: &mut Group,
    counts: &mut Counts,
) -> HashMap<u64, Outcome> {
    let mut by_id: HashMap<u64, Outcome> = HashMap::new();
    for change in &plan.changes {
        let (label, mark) = match change {
            Change::CreateGroup { path, .. } => {
                root.at(path_parts(path))
                    .marks
                    .push(Mark::new(MarkKind::New, "new group"));
                counts.add("New groups");
                continue;
            }
            // Drawn with the new people.
            Change::CreateUser(_) => {
                counts.add("New people");
                continue;
            }
            other => mark_of(other, view),
        };
        let Some(user) = change.user() else { continue };
        let outcome = by_id.entry(user.id).or_default();
        match change {
            Change::Move { to_path, .. } => outcome.path = Some(normalise_path(to_path)),
            Change::SetRole { to, .. } => outcome.role = Some(*to),
            Change::Rename { to, .. } => outcome.name = Some(to.clone()),
            Change::SetEmail { to, .. } => outcome.email = Some(to.clone()),
            Change::Disable { .. } | Change::MoveToDisabledGroup { .. } => outcome.leaves = true,
            _ => {}
        }
        outcome.marks.push(mark);
        if let Some(label) = label {
            counts.add(label);
        }
    }
    by_id
}

/// The mark of a change to an existing account, and the count it adds to.
fn mark_of(change: &Change, view: &View) -> (Option<&'static str>, Mark) {
    let (label, kind, text) = match change {
        Change::ReEnable { .. } => (Some("Re-enables"), MarkKind::Enable, "re-enabled".into()),
        Change::Rename { from, .. } => (
            Some("Renames"),
            MarkKind::Rename,
            format!("renamed from {:?}", from.as_deref().unwrap_or("")),
        ),
        Change::Move { from, .. } => (
            Some("Moves"),
            MarkKind::Move,
            format!("moved from {}", view.path_of(*from)),
        ),
        Change::SetRole { from, to, .. } => (
            Some("Role changes"),
            MarkKind::Role,
            format!("role: {} → {to}", role_name(*from)),
        ),
        Change::SetEmail { from, to, .. } => (
            Some("E-mail changes"),
            MarkKind::Email,
            format!("e-mail: {from} → {to}"),
        ),
        Change::SetAdditionalEmail { to, .. } => {
            (None, MarkKind::Email, format!("additional e-mail → {to}"))
        }
        Change::SetExternalId { to, .. } => (None, MarkKind::Other, format!("external id → {to}")),
        Change::ResetAddedManually { .. } => (None, MarkKind::Other, MANAGED_FROM_NOW_ON.into()),
        Change::Disable { reason, .. } => (
            Some("Disables"),
            MarkKind::Disable,
            format!("disabled: {reason}"),
        ),
        Change::MoveToDisabledGroup { to, .. } => (
            None,
            MarkKind::Disable,
            format!("moved to the disabled-users group ({})", view.path_of(*to)),
        ),
        Change::CreateGroup { .. } | Change::CreateUser(_) => (None, MarkKind::New, "new".into()),
    };
    (label, Mark::new(kind, text))
}

/// What the sync keeps as it is for a matched account, though the source
/// asks otherwise: the key's owner, an administrator not demoted.
fn kept_marks(plan: &Plan, outcomes: &mut HashMap<u64, Outcome>) {
    for w in &plan.warnings {
        let (id, text) = match w {
            PlanWarning::OwnerKept { id, change, .. } => {
                (*id, format!("left alone: holds the API key, not {change}"))
            }
            PlanWarning::AdminKept { id, to, .. } => (
                *id,
                format!(
                    "left alone: administrator, not made {to} (TIMECAMP_ALLOW_ADMIN_DEMOTION is off)"
                ),
            ),
            _ => continue,
        };
        outcomes
            .entry(id)
            .or_default()
            .marks
            .push(Mark::new(MarkKind::Skipped, text));
    }
}

/// The tree being drawn, the accounts on it, and how many people it holds
/// after the run.
struct Drawn {
    root: Group,
    accounts: HashSet<u64>,
    staying: usize,
}

impl Drawn {
    /// An existing account, where and as what it is after the run.
    fn account(&mut self, user: &CurrentUser, view: &View, outcome: Outcome, more: Vec<Mark>) {
        if !self.accounts.insert(user.id) {
            return;
        }
        let (here, elsewhere) = view.place(user.group_id);
        let mut marks = outcome.marks;
        marks.extend(more);
        let path = match outcome.path {
            Some(path) => path,
            None => {
                marks.extend(elsewhere);
                here
            }
        };
        let reenabled = marks.iter().any(|m| m.kind == MarkKind::Enable);
        if !user.enabled && !reenabled {
            marks.push(Mark::new(MarkKind::Skipped, "disabled, and stays so"));
        }
        if !outcome.leaves {
            self.staying += 1;
        }
        let email = outcome.email.unwrap_or_else(|| user.email.clone());
        self.root.at(path_parts(&path)).members.push(Member {
            name: outcome
                .name
                .or_else(|| user.display_name.clone())
                .unwrap_or_else(|| email.clone()),
            role: outcome
                .role
                .map_or_else(|| role_name(user.role_id), |r| r.to_string()),
            email,
            marks,
        });
    }

    /// The people of the source matched with an account: where the run puts
    /// them, or, when it leaves them alone, where they are.
    fn matched_people(&mut self, plan: &Plan, view: &View, outcomes: &mut HashMap<u64, Outcome>) {
        let left_alone: HashMap<&str, String> = plan
            .skipped
            .iter()
            .filter(|s| s.user_id.is_none())
            .map(|s| (s.email.as_str(), format!("left alone: {}", s.reason)))
            .collect();
        for m in &plan.matches {
            let Some(user) = view.users.get(&m.user_id) else {
                continue;
            };
            let why = left_alone
                .get(m.email.as_str())
                .map(|why| Mark::new(MarkKind::Skipped, why.clone()));
            let outcome = outcomes.remove(&m.user_id).unwrap_or_default();
            self.account(user, view, outcome, why.into_iter().collect());
        }
    }

    /// The accounts the plan creates, in their group with their role.
    fn new_people(&mut self, plan: &Plan) {
        for change in &plan.changes {
            let Change::CreateUser(NewUser {
                email,
                name,
                group_path,
                role,
                ..
            }) = change
            else {
                continue;
            };
            self.root.at(path_parts(group_path)).members.push(Member {
                name: name.clone(),
                email: email.clone(),
                role: role.to_string(),
                marks: vec![Mark::new(MarkKind::New, "new")],
            });
            self.staying += 1;
        }
    }

    /// Active records the run neither matches nor creates: held back (their
    /// accounts stay as they are), or new and not created. Drawn where the
    /// source puts them, with the reason.
    fn records_left_out(&mut self, plan: &Plan, desired: &[TimecampUser]) {
        let why: HashMap<String, (String, bool)> = plan
            .skipped
            .iter()
            .filter(|s| s.reason == SkipReason::NewUsersDisabled)
            .map(|s| {
                (
                    s.email.clone(),
                    (format!("left alone: {}", s.reason), false),
                )
            })
            .chain(
                plan.held_back
                    .iter()
                    .map(|h| (h.email.clone(), (format!("held back: {}", h.reason), true))),
            )
            .collect();
        for u in desired
            .iter()
            .filter(|u| u.timecamp_status == Status::Active)
        {
            let Some((text, stays)) = why.get(&u.timecamp_email.trim().to_lowercase()) else {
                continue;
            };
            let crumb = normalise_path(u.timecamp_groups_breadcrumb.as_deref().unwrap_or_default());
            self.root.at(path_parts(&crumb)).members.push(Member {
                name: u
                    .timecamp_user_name
                    .clone()
                    .unwrap_or_else(|| u.timecamp_email.clone()),
                email: u.timecamp_email.clone(),
                role: u.timecamp_role.unwrap_or(Role::User).to_string(),
                marks: vec![Mark::new(MarkKind::Skipped, text.clone())],
            });
            if *stays {
                self.staying += 1;
            }
        }
    }

    /// Enabled accounts no active record matched that stay as they are:
    /// ignored, the key's owner, hand-made, second accounts of a person.
    fn accounts_left_alone(&mut self, plan: &Plan, view: &View) {
        let skipped = plan
            .skipped
            .iter()
            .filter_map(|s| Some((s.user_id?, format!("left alone: {}", s.reason))));
        let second = plan.warnings.iter().filter_map(|w| match w {
            PlanWarning::DuplicateAccount { id, of, .. } => Some((
                *id,
                format!("left alone: looks like a second account of {of}"),
            )),
            _ => None,
        });
        let alone: Vec<(u64, String)> = skipped.chain(second).collect();
        for (id, why) in alone {
            if let Some(user) = view.users.get(&id) {
                let why = vec![Mark::new(MarkKind::Skipped, why)];
                self.account(user, view, Outcome::default(), why);
            }
        }
    }

    /// People who leave stay where TimeCamp has them, marked, in plan order.
    fn leavers(&mut self, plan: &Plan, view: &View, outcomes: &mut HashMap<u64, Outcome>) {
        for change in &plan.changes {
            let (Change::Disable { user, .. } | Change::MoveToDisabledGroup { user, .. }) = change
            else {
                continue;
            };
            if let (Some(account), Some(outcome)) =
                (view.users.get(&user.id), outcomes.remove(&user.id))
            {
                self.account(account, view, outcome, Vec::new());
            }
        }
    }
}

/// What the page says before anything else: that a real run would be
/// refused, or that the plan changes nothing.
fn banners(plan: &Plan, refused: Option<&DeactivationCheck>) -> Vec<Banner> {
    let mut banners = Vec::new();
    if let Some(check) = refused {
        banners.push(Banner::alert(format!(
            "A real run would stop here: {}",
            check.refusal()
        )));
    }
    if plan.changes.is_empty() {
        banners.push(Banner::info(NO_CHANGES));
    }
    banners
}

fn notes(plan: &Plan, too_deep: usize) -> Vec<String> {
    let mut notes: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    if too_deep > 0 {
        notes.push(format!(
            "{too_deep} group(s) of TimeCamp lie more than {} levels below the root group and \
             are not drawn",
            scim_groups::MAX_PATH_DEPTH
        ));
    }
    notes
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
        let page = plan_page(&plan, &desired, &current, 10, "Plan", None);
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
        let page = plan_page(&plan, &desired, &current, 10, "Plan", None);
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

    fn company() -> CurrentState {
        CurrentState {
            groups: vec![group(10, 0, "Company"), group(11, 10, "Eng")],
            ..CurrentState::default()
        }
    }

    fn member<'p>(g: &'p Group, email: &str) -> Option<&'p Member> {
        g.members.iter().find(|m| m.email == email)
    }

    fn texts(m: &Member) -> Vec<&str> {
        m.marks.iter().map(|k| k.text.as_str()).collect()
    }

    /// The ignored administrator and the key's owner stay in the root group
    /// as administrators, whatever the source says; an ignored account the
    /// source no longer has stays where it is. Each is marked with why.
    #[test]
    fn people_left_alone_are_drawn_where_they_stay_with_their_role() {
        let mut current = company();
        let admin = |id, email| CurrentUser {
            role_id: Some(1),
            ..tc_user(id, email, 10)
        };
        current.users = vec![
            admin(1, "owner@x.com"),
            admin(2, "boss@x.com"),
            tc_user(3, "gone@x.com", 11),
        ];
        current.owner_id = Some(1);
        let desired = vec![
            record("owner@x.com", "owner", "Eng"),
            record("boss@x.com", "boss", "Eng"),
        ];
        let opts = SyncOptions {
            root_group_id: 10,
            ignored_user_ids: [2, 3].into(),
            ..SyncOptions::default()
        };
        let plan = crate::plan::plan(&current, &desired, &opts);
        assert!(plan.changes.is_empty(), "{:?}", plan.changes);
        let page = plan_page(&plan, &desired, &current, 10, "Plan", None);
        let eng = &page.root.children[0];
        let owner = member(&page.root, "owner@x.com").expect("in the root group");
        assert_eq!(owner.role, "administrator");
        assert_eq!(
            texts(owner),
            [
                "left alone: holds the API key, not moved to \"Eng\"",
                "left alone: holds the API key, not given the role user"
            ]
        );
        let boss = member(&page.root, "boss@x.com").expect("in the root group");
        assert_eq!(boss.role, "administrator");
        assert_eq!(
            texts(boss),
            ["left alone: TimeCamp user 2 is in TIMECAMP_IGNORED_USER_IDS"]
        );
        assert!(member(eng, "boss@x.com").is_none() && member(eng, "owner@x.com").is_none());
        let gone = member(eng, "gone@x.com").expect("where TimeCamp has them");
        assert_eq!(
            texts(gone),
            ["left alone: TimeCamp user 3 is in TIMECAMP_IGNORED_USER_IDS"]
        );
        assert!(
            owner
                .marks
                .iter()
                .chain(&boss.marks)
                .all(|m| !m.kind.is_change()),
            "leaving alone is no change"
        );
        let count = |l: &str| page.counts.iter().find(|(x, _)| x == l).unwrap().1;
        assert_eq!(count("People after the run"), 3);
        assert_eq!(page.banners, [Banner::info(NO_CHANGES)]);
    }

    #[test]
    fn an_administrator_the_source_would_demote_stays_one_on_the_page() {
        let mut current = company();
        current.users = vec![CurrentUser {
            role_id: Some(1),
            ..tc_user(1, "boss@x.com", 11)
        }];
        let desired = vec![record("boss@x.com", "boss", "Eng")];
        let opts = SyncOptions {
            root_group_id: 10,
            ..SyncOptions::default()
        };
        let plan = crate::plan::plan(&current, &desired, &opts);
        let page = plan_page(&plan, &desired, &current, 10, "Plan", None);
        let boss = member(&page.root.children[0], "boss@x.com").unwrap();
        assert_eq!(boss.role, "administrator");
        assert_eq!(
            texts(boss),
            ["left alone: administrator, not made user (TIMECAMP_ALLOW_ADMIN_DEMOTION is off)"]
        );
    }

    #[test]
    fn a_plan_the_guard_refuses_says_so_first() {
        let mut current = company();
        current.users = (1..=4)
            .map(|i| tc_user(i, &format!("u{i}@x.com"), 11))
            .collect();
        let desired = vec![record("u1@x.com", "u1", "Eng")];
        let opts = SyncOptions {
            root_group_id: 10,
            ..SyncOptions::default()
        };
        let plan = crate::plan::plan(&current, &desired, &opts);
        let check = crate::check_deactivations(
            &plan,
            &current,
            &opts,
            scim_model::DeactivationLimit::Count(1),
        );
        assert!(check.exceeded());
        let page = plan_page(&plan, &desired, &current, 10, "Plan", Some(&check));
        assert_eq!(
            page.banners,
            [Banner::alert(format!(
                "A real run would stop here: {}",
                check.refusal()
            ))]
        );
        assert!(
            plan_page(&plan, &desired, &current, 10, "Plan", None)
                .banners
                .is_empty()
        );
    }

    #[test]
    fn a_hand_made_account_the_sync_takes_over_says_so_in_plain_words() {
        let mut current = company();
        current.users = vec![CurrentUser {
            added_manually: Some("1".into()),
            ..tc_user(1, "ann@x.com", 11)
        }];
        let desired = vec![record("ann@x.com", "Ann Smith", "Eng")];
        let opts = SyncOptions {
            root_group_id: 10,
            ..SyncOptions::default()
        };
        let plan = crate::plan::plan(&current, &desired, &opts);
        let page = plan_page(&plan, &desired, &current, 10, "Plan", None);
        let ann = member(&page.root.children[0], "ann@x.com").unwrap();
        assert_eq!(ann.name, "Ann Smith", "the name after the run");
        assert_eq!(texts(ann), [MANAGED_FROM_NOW_ON, "renamed from \"ann\""]);
        let text = crate::plan_text(&plan);
        assert!(
            text.contains(&format!("  ann@x.com: {MANAGED_FROM_NOW_ON}\n")),
            "{text}"
        );
        assert!(
            MANAGED_FROM_NOW_ON
                .starts_with("added by hand in TimeCamp; from now on the sync manages")
        );
    }
}
