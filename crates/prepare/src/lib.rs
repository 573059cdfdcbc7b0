//! prepare-timecamp as a pure function: source users in, desired TimeCamp
//! state out, plus a note for every record that was dropped or changed.
//!
//! The rules are those of the original tool: group paths by
//! department, by supervisor chain, or both; display names; roles; e-mail
//! domain rules. Where the original loses or corrupts data silently, this
//! version keeps the record or says why it did not (see the README's
//! "Differences from the original"). Every step is linear in the number of
//! users: records are indexed once by id and supervisor paths are memoised.

mod rules;
mod text;
pub mod transform;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use scim_model::{EmailProblem, GroupMode, Role, SourceUser, Status, TimecampUser, email_problem};
use serde_json::Value;

pub use rules::{ExcludeFilter, GroupRule, RuleError, parse_group_rules, rewrite_path};
pub use text::{SkipPrefixes, clean_name, replace_domain};

/// The switches of prepare, independent of where they came from.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    pub mode: GroupMode,
    /// `TIMECAMP_USE_JOB_TITLE_NAME_USERS`: `"<title> [<name>]"` user names.
    pub job_title_user_names: bool,
    /// `TIMECAMP_USE_JOB_TITLE_NAME_GROUPS`: `"<title> [<name>]"` supervisor groups.
    pub job_title_group_names: bool,
    /// `TIMECAMP_SHOW_EXTERNAL_ID`: `" - <id>"` after user and supervisor group names.
    pub show_external_id: bool,
    pub skip_departments: SkipPrefixes,
    pub replace_email_domain: Option<String>,
    /// `TIMECAMP_USE_IS_SUPERVISOR_ROLE`: role from the source's `is_supervisor`.
    pub use_is_supervisor_role: bool,
    /// `TIMECAMP_EXCLUDE_REGEX`: people left out of the output (they still
    /// shape the supervisor hierarchy).
    pub exclude: Option<ExcludeFilter>,
    /// `TIMECAMP_CHANGE_GROUPS_REGEX`: rewrites of the final group paths, in order.
    pub group_rules: Vec<GroupRule>,
    /// `TIMECAMP_PREPARE_TRANSFORM_CONFIG`, applied to the source records first.
    pub transform: Option<transform::TransformConfig>,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        Self {
            mode: GroupMode::Department,
            job_title_user_names: false,
            job_title_group_names: false,
            show_external_id: false,
            skip_departments: SkipPrefixes::default(),
            replace_email_domain: None,
            use_is_supervisor_role: false,
            exclude: None,
            group_rules: Vec::new(),
            transform: None,
        }
    }
}

/// The deepest supervisor chain prepare follows: a chain is a group path, so
/// the depth limit of every group path. A longer chain is bad data (a loop
/// through several ids, an import error); refusing it keeps time and memory
/// linear in the number of users instead of growing with the square of the depth.
pub const MAX_SUPERVISOR_DEPTH: usize = scim_groups::MAX_PATH_DEPTH;

/// Why prepare produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    #[error(
        "the supervisor chain above {record} is deeper than {limit} levels; check the \
         supervisor_id values in the source (a supervisor group path cannot be that deep)"
    )]
    ChainTooDeep { record: String, limit: usize },
    /// A transform rule made a record that is no longer a source user (e.g.
    /// a name set to an object).
    #[error("TIMECAMP_PREPARE_TRANSFORM_CONFIG made a record unreadable: {0}")]
    Transform(String),
    /// A record's final group path is deeper than any stage accepts.
    #[error(transparent)]
    PathTooDeep(#[from] scim_groups::PathTooDeep),
}

/// What happened to a record that did not go through unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// Not in the output.
    Dropped,
    /// In the output, with a value the source did not give.
    Changed,
    /// In the output as given, but something about it needs a person's attention.
    Warning,
}

/// Why a record did not go through unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteReason {
    /// Another record has the same external id; `earlier` names it.
    SharedExternalId {
        id: String,
        earlier: String,
    },
    UnusableEmail {
        email: String,
        problem: EmailProblem,
    },
    UnusableAdditionalEmail {
        email: String,
        problem: EmailProblem,
    },
    NoStatus,
    NoEmail,
    NoExternalId,
    NoName {
        fallback: String,
    },
    /// Someone reports to themselves.
    OwnSupervisor,
    /// A loop of supervisors, each as `name (id)`, broken at `top`.
    SupervisorCycle {
        chain: Vec<String>,
        top: String,
    },
    SupervisorNotFound {
        supervisor_id: String,
    },
    UnknownRoleId {
        role_id: String,
    },
    /// Another record has the same final e-mail; `kept` names the one kept.
    SameEmail {
        email: String,
        kept: String,
        active_wins: bool,
    },
    /// Matches `TIMECAMP_EXCLUDE_REGEX`.
    Excluded {
        pattern: String,
    },
    /// A manager from outside the fetched scope, kept only for the supervisor tree.
    HierarchyOnly,
    /// Left out by the transform config's `exclude`.
    TransformExcluded,
    /// Changed by the transform config's `transform` rules.
    Transformed,
    /// `TIMECAMP_CHANGE_GROUPS_REGEX` moved the group path.
    GroupRewritten {
        from: String,
        to: String,
        rules: Vec<String>,
    },
}

impl NoteReason {
    /// What the note means for the record: the one place that decides it.
    pub fn kind(&self) -> NoteKind {
        match self {
            NoteReason::UnusableEmail { .. }
            | NoteReason::NoEmail
            | NoteReason::SameEmail { .. }
            | NoteReason::Excluded { .. }
            | NoteReason::HierarchyOnly
            | NoteReason::TransformExcluded => NoteKind::Dropped,
            NoteReason::UnusableAdditionalEmail { .. }
            | NoteReason::NoStatus
            | NoteReason::NoName { .. }
            | NoteReason::UnknownRoleId { .. }
            | NoteReason::GroupRewritten { .. }
            | NoteReason::Transformed => NoteKind::Changed,
            NoteReason::SharedExternalId { .. }
            | NoteReason::NoExternalId
            | NoteReason::OwnSupervisor
            | NoteReason::SupervisorCycle { .. }
            | NoteReason::SupervisorNotFound { .. } => NoteKind::Warning,
        }
    }
}

impl std::fmt::Display for NoteReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoteReason::SharedExternalId { id, earlier } => write!(
                f,
                "external_id {id} is also used by {earlier}; both are kept, and reports of {id} \
                 are placed under this later record"
            ),
            NoteReason::UnusableEmail { email, problem } => {
                write!(
                    f,
                    "the e-mail {email:?} {problem}, so it cannot be a TimeCamp login"
                )
            }
            NoteReason::UnusableAdditionalEmail { email, problem } => {
                write!(f, "the additional e-mail {email:?} {problem}; left out")
            }
            NoteReason::NoStatus => f.write_str("no status; treated as inactive"),
            NoteReason::NoEmail => f.write_str(
                "no e-mail address, so it cannot be a TimeCamp user (still used for the \
                 supervisor hierarchy)",
            ),
            NoteReason::NoExternalId => f.write_str(
                "no external_id: kept, but nobody can name this person as their supervisor",
            ),
            NoteReason::NoName { fallback } => {
                write!(f, "no name; using {fallback:?} as the display name")
            }
            NoteReason::OwnSupervisor => {
                f.write_str("reports to themselves; treated as a top-level supervisor")
            }
            NoteReason::SupervisorCycle { chain, top } => write!(
                f,
                "supervisor cycle {} -> {}; {top} is treated as top-level",
                chain.join(" -> "),
                chain.first().map(String::as_str).unwrap_or_default()
            ),
            NoteReason::SupervisorNotFound { supervisor_id } => write!(
                f,
                "supervisor_id {supervisor_id} is not in users.json, so no supervisor group applies"
            ),
            NoteReason::UnknownRoleId { role_id } => {
                write!(f, "unknown role_id {role_id:?}; using the user role")
            }
            NoteReason::TransformExcluded => {
                f.write_str("left out by TIMECAMP_PREPARE_TRANSFORM_CONFIG (exclude)")
            }
            NoteReason::Transformed => {
                f.write_str("changed by TIMECAMP_PREPARE_TRANSFORM_CONFIG (transform)")
            }
            NoteReason::HierarchyOnly => f.write_str(
                "outside the fetched scope (hierarchy_only): shapes the supervisor groups, not a TimeCamp user",
            ),
            NoteReason::Excluded { pattern } => {
                write!(f, "left out by TIMECAMP_EXCLUDE_REGEX ({pattern})")
            }
            NoteReason::GroupRewritten { from, to, rules } => write!(
                f,
                "group {from:?} -> {to:?} by TIMECAMP_CHANGE_GROUPS_REGEX ({})",
                rules.join(" ;;; ")
            ),
            NoteReason::SameEmail {
                email,
                kept,
                active_wins,
            } => write!(
                f,
                "same TimeCamp e-mail {email} as {kept}; {}",
                if *active_wins {
                    "the active one is kept"
                } else {
                    "the later one is kept"
                }
            ),
        }
    }
}

/// One record's note, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Follows from the reason ([`NoteReason::kind`]).
    pub kind: NoteKind,
    /// Which record: position in `users.json` (1-based), e-mail and external id.
    pub record: String,
    pub reason: NoteReason,
    /// Whether a person should look at it (an active user affected), or it is routine.
    pub serious: bool,
}

/// Counts for the closing log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub source_records: usize,
    pub prepared: usize,
    pub active: usize,
    pub inactive: usize,
    pub administrators: usize,
    pub supervisors: usize,
    pub users: usize,
    pub guests: usize,
    pub forced_supervisors: usize,
    pub forced_admins: usize,
    pub groups: usize,
    pub dropped: usize,
    pub changed: usize,
    pub warnings: usize,
}

/// The result of [`prepare`].
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Sorted by `timecamp_email`.
    pub users: Vec<TimecampUser>,
    pub notes: Vec<Note>,
    pub stats: Stats,
}

/// A source record after the checks of the collect step.
struct Rec<'a> {
    src: &'a SourceUser,
    position: usize,
    id: Option<&'a str>,
    supervisor: Option<&'a str>,
    /// The name as given (or its fallback), before formatting. Borrowed from
    /// the source when it can be: a record is held per person.
    base_name: Cow<'a, str>,
    /// The user name, when formatting made it differ from `base_name`.
    display_name: Option<String>,
    /// Lower-cased; borrowed when the source has it so already.
    email: Option<Cow<'a, str>>,
    status: Status,
    /// A manager from outside the fetched scope: shapes the tree, never output.
    hierarchy_only: bool,
}

impl Rec<'_> {
    fn display_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.base_name)
    }

    fn label(&self) -> String {
        label(self.position, self.email.as_deref(), self.id)
    }
}

fn label(position: usize, email: Option<&str>, id: Option<&str>) -> String {
    let mut s = format!("record #{position}");
    match (email, id) {
        (Some(e), Some(i)) => s.push_str(&format!(" ({e}, external_id {i})")),
        (Some(e), None) => s.push_str(&format!(" ({e})")),
        (None, Some(i)) => s.push_str(&format!(" (external_id {i})")),
        (None, None) => {}
    }
    s
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

struct Notes(Vec<Note>);

impl Notes {
    fn add(&mut self, record: String, serious: bool, reason: NoteReason) {
        self.0.push(Note {
            kind: reason.kind(),
            record,
            reason,
            serious,
        });
    }
}

/// The transform config over the source records: excluded ones leave (they
/// no longer shape the hierarchy), matching ones are rewritten; each is noted.
fn apply_transform(
    source: &[SourceUser],
    config: &transform::TransformConfig,
    notes: &mut Notes,
) -> Result<Vec<SourceUser>, PrepareError> {
    let mut values = source
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| PrepareError::Transform(e.to_string()))?;
    let applied = config.apply(&mut values);
    for (i, (src, what)) in source.iter().zip(&applied.each).enumerate() {
        let record = || {
            label(
                i + 1,
                non_blank(src.email.as_deref()),
                non_blank(src.external_id.as_deref()),
            )
        };
        match what {
            None => notes.add(record(), false, NoteReason::TransformExcluded),
            Some(true) => notes.add(record(), false, NoteReason::Transformed),
            Some(false) => {}
        }
    }
    values
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<Vec<SourceUser>, _>>()
        .map_err(|e| PrepareError::Transform(e.to_string()))
}

/// Turns source users into the desired TimeCamp state.
pub fn prepare(source: &[SourceUser], opts: &PrepareOptions) -> Result<Prepared, PrepareError> {
    let mut notes = Notes(Vec::new());
    let transformed;
    let source = match &opts.transform {
        None => source,
        Some(config) => {
            transformed = apply_transform(source, config, &mut notes)?;
            transformed.as_slice()
        }
    };
    let recs: Vec<Rec> = source
        .iter()
        .enumerate()
        .map(|(i, src)| collect(src, i + 1, opts, &mut notes))
        .collect();

    // Later records win an id, as in the original, but both stay in the output.
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(recs.len());
    for (i, rec) in recs.iter().enumerate() {
        if let Some(id) = rec.id
            && let Some(previous) = by_id.insert(id, i)
        {
            notes.add(
                rec.label(),
                true,
                NoteReason::SharedExternalId {
                    id: id.to_owned(),
                    earlier: recs[previous].label(),
                },
            );
        }
    }
    let with_reports: HashSet<&str> = recs.iter().filter_map(|r| r.supervisor).collect();
    let force_supervisor_exists = source
        .iter()
        .any(|u| is_true(u.force_supervisor_role.as_deref()));

    let hierarchy = Hierarchy {
        recs: &recs,
        by_id: &by_id,
        opts,
    };
    let paths = match opts.mode {
        GroupMode::Department => Vec::new(),
        GroupMode::Supervisor | GroupMode::Hybrid => {
            hierarchy.supervisor_paths(&with_reports, &mut notes)?
        }
    };

    // Everyone with the e-mail of a record the pattern matches is left out of
    // the output (all records of one e-mail become one user); they still shape
    // the hierarchy above.
    let excluded: HashSet<&str> = match &opts.exclude {
        Some(filter) => recs
            .iter()
            .filter(|r| filter.excludes(r.src))
            .filter_map(|r| r.email.as_deref())
            .collect(),
        None => HashSet::new(),
    };
    // One slot per final e-mail; the map holds where, not the user itself, so
    // each prepared user is stored once (this was a third of the peak memory).
    let mut chosen = Chosen {
        users: Vec::with_capacity(recs.len()),
        at: HashMap::with_capacity(recs.len()),
        colliding: HashMap::new(),
        hasher: std::hash::RandomState::new(),
    };
    let mut crumbs = Interned::default();
    for (i, rec) in recs.iter().enumerate() {
        let is_supervisor = rec.id.is_some_and(|id| with_reports.contains(id));
        let mut breadcrumb = hierarchy.breadcrumb(rec, is_supervisor, &paths, &mut notes);
        let Some(email) = rec.email.as_deref() else {
            continue;
        };
        if rec.hierarchy_only {
            notes.add(rec.label(), false, NoteReason::HierarchyOnly);
            continue;
        }
        if excluded.contains(email) {
            notes.add(
                rec.label(),
                false,
                NoteReason::Excluded {
                    pattern: opts
                        .exclude
                        .as_ref()
                        .map(|f| f.as_str().to_owned())
                        .unwrap_or_default(),
                },
            );
            continue;
        }
        if !breadcrumb.is_empty() && !opts.group_rules.is_empty() {
            let (rewritten, applied) = rewrite_path(&breadcrumb, &opts.group_rules);
            // Normalised, so the sync finds the groups it would create.
            let rewritten = scim_groups::normalise_path(&rewritten);
            if rewritten != breadcrumb {
                notes.add(
                    rec.label(),
                    false,
                    NoteReason::GroupRewritten {
                        from: breadcrumb.clone(),
                        to: rewritten.clone(),
                        rules: applied.iter().map(|r| (*r).to_owned()).collect(),
                    },
                );
                breadcrumb = rewritten;
            }
        }
        // The one depth rule, on the path as it is written; a forced
        // administrator goes to the root whatever the source says.
        let forced_admin = is_true(rec.src.force_global_admin_role.as_deref());
        if !forced_admin {
            scim_groups::check_depth(&breadcrumb, || rec.label())?;
        }
        let role = decide_role(
            rec,
            is_supervisor,
            force_supervisor_exists,
            opts,
            &mut notes,
        );
        let timecamp_email = replace_domain(email, opts.replace_email_domain.as_deref());
        if let Some(problem) = email_problem(&timecamp_email) {
            notes.add(
                rec.label(),
                true,
                NoteReason::UnusableEmail {
                    email: timecamp_email.clone(),
                    problem,
                },
            );
            continue;
        }
        let real_email = non_blank(rec.src.real_email.as_deref())
            .map(|r| replace_domain(r, opts.replace_email_domain.as_deref()))
            // Compared after the domain rule, so it never equals the primary.
            .filter(|r| r.to_lowercase() != timecamp_email)
            .filter(|r| match email_problem(r) {
                None => true,
                Some(problem) => {
                    notes.add(
                        rec.label(),
                        false,
                        NoteReason::UnusableAdditionalEmail {
                            email: r.clone(),
                            problem,
                        },
                    );
                    false
                }
            });
        let user = TimecampUser {
            timecamp_external_id: Some(rec.id.unwrap_or_default().to_owned()),
            timecamp_user_name: Some(rec.display_name().to_owned()),
            timecamp_email: timecamp_email.clone(),
            timecamp_groups_breadcrumb: Some(crumbs.intern(if forced_admin {
                String::new()
            } else {
                breadcrumb
            })),
            timecamp_status: rec.status,
            timecamp_role: Some(role),
            timecamp_real_email: real_email,
            extra: Default::default(),
        };
        keep_one_per_email(&recs, i, user, &mut chosen, &mut notes);
    }

    // The paths are held by the users now; the lookup is no longer needed.
    drop(crumbs);
    let mut users = chosen.users;
    // E-mails are unique here, so an unstable sort gives the same order without
    // the scratch copy a stable sort makes.
    users.sort_unstable_by(|a, b| a.timecamp_email.cmp(&b.timecamp_email));
    let stats = stats(source, &users, &notes.0);
    Ok(Prepared {
        users,
        notes: notes.0,
        stats,
    })
}

/// The collect step: checks one record and formats its name.
fn collect<'a>(
    src: &'a SourceUser,
    position: usize,
    opts: &PrepareOptions,
    notes: &mut Notes,
) -> Rec<'a> {
    let id = non_blank(src.external_id.as_deref());
    let email = non_blank(src.email.as_deref()).map(lower_case);
    let status = src.status.unwrap_or(Status::Inactive);
    let record = label(position, email.as_deref(), id);
    let active = status == Status::Active;

    if src.status.is_none() {
        notes.add(record.clone(), true, NoteReason::NoStatus);
    }
    if email.is_none() {
        notes.add(record.clone(), active, NoteReason::NoEmail);
    }
    if id.is_none() && email.is_some() {
        // The original dropped these, and the sync then disabled them.
        notes.add(record.clone(), active, NoteReason::NoExternalId);
    }
    let base_name: Cow<str> = match non_blank(src.name.as_deref()) {
        Some(name) => Cow::Borrowed(name),
        None => {
            let fallback = email
                .as_deref()
                .or(id)
                .map(str::to_owned)
                .unwrap_or_default();
            if email.is_some() {
                notes.add(
                    record,
                    active,
                    NoteReason::NoName {
                        fallback: fallback.clone(),
                    },
                );
            }
            Cow::Owned(fallback)
        }
    };

    let mut display = base_name.to_string();
    if opts.job_title_user_names
        && let Some(title) = non_blank(src.job_title.as_deref())
    {
        display = format!("{title} [{display}]");
    }
    if opts.show_external_id
        && let Some(id) = id
    {
        display = format!("{display} - {id}");
    }

    Rec {
        src,
        position,
        id,
        supervisor: non_blank(src.supervisor_id.as_deref()),
        display_name: Some(clean_name(&display)).filter(|d| *d != base_name),
        base_name,
        email,
        status,
        hierarchy_only: src.is_hierarchy_only(),
    }
}

/// `s` lower-cased, copied only when that changes it.
fn lower_case(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| c.to_lowercase().eq(std::iter::once(c))) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Supervisor paths and breadcrumbs, over the whole record set.
struct Hierarchy<'r, 'a> {
    recs: &'r [Rec<'a>],
    by_id: &'r HashMap<&'a str, usize>,
    opts: &'r PrepareOptions,
}

impl Hierarchy<'_, '_> {
    /// The name of the group a supervisor heads. Built from the source name, so
    /// the external id and job title appear once; a `/` would
    /// create an extra level and becomes `-`.
    fn group_name(&self, i: usize) -> String {
        let rec = &self.recs[i];
        let mut base = rec.base_name.to_string();
        if self.opts.job_title_group_names
            && let Some(title) = non_blank(rec.src.job_title.as_deref())
        {
            base = format!("{title} [{base}]");
        }
        if self.opts.show_external_id
            && let Some(id) = rec.id
        {
            base = format!("{base} - {id}");
        }
        clean_name(&base.replace('/', "-"))
    }

    /// The supervisor index a record reports to, when that supervisor is in the data.
    /// A manager from outside the fetched scope ends the chain: the one below
    /// them heads a top-level group.
    fn supervisor_of(&self, i: usize) -> Option<usize> {
        self.recs[i]
            .supervisor
            .and_then(|s| self.by_id.get(s).copied())
            .filter(|&u| !self.recs[u].hierarchy_only)
    }

    /// The full group path of every supervisor (by record index), following
    /// the chain to the top. Each record is visited once. A cycle (including
    /// someone reporting to themselves) is broken at the member with the
    /// smallest external id, which becomes a top-level group, with a warning:
    /// the original flattened these silently.
    fn supervisor_paths(
        &self,
        with_reports: &HashSet<&str>,
        notes: &mut Notes,
    ) -> Result<Vec<Option<String>>, PrepareError> {
        let n = self.recs.len();
        let mut paths: Vec<Option<String>> = vec![None; n];
        // Levels of each path, checked before a longer path is built.
        let mut depth: Vec<usize> = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut starts: Vec<usize> = with_reports
            .iter()
            .filter_map(|id| self.by_id.get(id).copied())
            .filter(|&i| !self.recs[i].hierarchy_only)
            .collect();
        starts.sort_unstable(); // deterministic cycle reports

        for start in starts {
            let mut stack: Vec<usize> = Vec::new();
            let mut cur = start;
            let mut cycle_at = None;
            while paths[cur].is_none() {
                if on_stack[cur] {
                    cycle_at = stack.iter().position(|&s| s == cur);
                    break;
                }
                on_stack[cur] = true;
                stack.push(cur);
                match self.supervisor_of(cur) {
                    Some(up) => cur = up,
                    None => {
                        paths[cur] = Some(self.group_name(cur));
                        depth[cur] = 1;
                        stack.pop();
                        break;
                    }
                }
            }
            let mut order: Vec<usize> = Vec::with_capacity(stack.len());
            if let Some(k) = cycle_at {
                let cycle = &stack[k..];
                let (j, &root) = cycle
                    .iter()
                    .enumerate()
                    .min_by(|a, b| self.recs[*a.1].id.cmp(&self.recs[*b.1].id))
                    .unwrap_or((0, &cycle[0])); // a cycle has at least one member
                self.report_cycle(cycle, root, notes);
                paths[root] = Some(self.group_name(root));
                depth[root] = 1;
                // Members below the root in the cycle, nearest first, then the
                // ones after it in the stack, which reach the root around the loop.
                order.extend(cycle[..j].iter().rev());
                order.extend(cycle[j + 1..].iter().rev());
                order.extend(stack[..k].iter().rev());
            } else {
                order.extend(stack.iter().rev());
            }
            for &i in &order {
                let up = self.supervisor_of(i).filter(|&u| paths[u].is_some());
                depth[i] = up.map_or(1, |u| depth[u] + 1);
                if depth[i] > MAX_SUPERVISOR_DEPTH {
                    return Err(PrepareError::ChainTooDeep {
                        record: self.recs[i].label(),
                        limit: MAX_SUPERVISOR_DEPTH,
                    });
                }
                paths[i] = Some(match up.and_then(|u| paths[u].as_deref()) {
                    Some(p) => format!("{p}/{}", self.group_name(i)),
                    None => self.group_name(i),
                });
            }
            for &i in &stack {
                on_stack[i] = false;
            }
        }
        Ok(paths)
    }

    fn report_cycle(&self, cycle: &[usize], root: usize, notes: &mut Notes) {
        let who = |i: usize| {
            format!(
                "{} ({})",
                self.recs[i].base_name,
                self.recs[i].id.unwrap_or_default()
            )
        };
        let reason = if cycle.len() == 1 {
            NoteReason::OwnSupervisor
        } else {
            NoteReason::SupervisorCycle {
                chain: cycle.iter().map(|&i| who(i)).collect(),
                top: who(root),
            }
        };
        notes.add(self.recs[root].label(), true, reason);
    }

    fn breadcrumb(
        &self,
        rec: &Rec,
        is_supervisor: bool,
        paths: &[Option<String>],
        notes: &mut Notes,
    ) -> String {
        let skip = &self.opts.skip_departments;
        let department = rec.src.department.as_deref().unwrap_or_default();
        let winner = rec.id.and_then(|id| self.by_id.get(id).copied());
        let own_path = || {
            winner
                .filter(|_| is_supervisor)
                .and_then(|w| paths[w].as_deref())
        };
        let found = rec.supervisor.and_then(|s| self.by_id.get(s).copied());
        let above_scope = found.is_some_and(|u| self.recs[u].hierarchy_only);
        let supervisor = found.filter(|_| !above_scope);
        if let (Some(s), None) = (rec.supervisor, found)
            && self.opts.mode != GroupMode::Department
        {
            notes.add(
                rec.label(),
                rec.status == Status::Active,
                NoteReason::SupervisorNotFound {
                    supervisor_id: s.to_owned(),
                },
            );
        }
        let supervisor_path = || supervisor.and_then(|s| paths[s].as_deref());

        match self.opts.mode {
            GroupMode::Department => skip.clean_path(department),
            GroupMode::Supervisor => {
                if let Some(path) = own_path() {
                    skip.clean_path(path)
                } else if let Some(path) = supervisor_path() {
                    skip.clean_path(path)
                } else if above_scope {
                    // Their manager is outside the fetched scope: the root group.
                    String::new()
                } else if rec.supervisor.is_some() {
                    // Supervisor outside the data: the department, normalised.
                    skip.clean_path(department)
                } else {
                    String::new()
                }
            }
            GroupMode::Hybrid => {
                let dept = skip.clean_path(department);
                if !dept.is_empty() {
                    let own = is_supervisor.then_some(winner).flatten();
                    match own.or(supervisor) {
                        Some(head) => format!("{dept}/{}", self.group_name(head)),
                        None => dept,
                    }
                } else if let Some(path) = own_path().or_else(supervisor_path) {
                    // Skip prefixes apply here too, as in supervisor-only mode.
                    skip.clean_path(path)
                } else {
                    String::new()
                }
            }
        }
    }
}

/// First match wins, in the original's order.
fn decide_role(
    rec: &Rec,
    is_supervisor: bool,
    force_supervisor_exists: bool,
    opts: &PrepareOptions,
    notes: &mut Notes,
) -> Role {
    let src = rec.src;
    if is_true(src.force_global_admin_role.as_deref()) {
        return Role::Administrator;
    }
    if is_true(src.force_supervisor_role.as_deref()) {
        return Role::Supervisor;
    }
    if force_supervisor_exists {
        return Role::User;
    }
    if opts.use_is_supervisor_role {
        let yes = match src.is_supervisor.as_deref() {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => {
                matches!(s.trim().to_lowercase().as_str(), "true" | "1" | "yes")
            }
            _ => false,
        };
        return if yes { Role::Supervisor } else { Role::User };
    }
    let explicit = non_blank(src.role_id.as_deref()).map(|id| {
        Role::from_id(id).unwrap_or_else(|| {
            notes.add(
                rec.label(),
                false,
                NoteReason::UnknownRoleId {
                    role_id: id.to_owned(),
                },
            );
            Role::User
        })
    });
    match opts.mode {
        // The hierarchy decides supervisor or user; an administrator or guest
        // the source names explicitly stays one.
        GroupMode::Supervisor | GroupMode::Hybrid => match explicit {
            Some(role @ (Role::Administrator | Role::Guest)) => role,
            _ if is_supervisor => Role::Supervisor,
            _ => Role::User,
        },
        GroupMode::Department => explicit.unwrap_or(Role::User),
    }
}

/// Group paths shared by everyone in the group: one string per group, not per
/// person (a supervisor's path can be long, and a record is held per person).
#[derive(Default)]
struct Interned(HashSet<Arc<str>>);

impl Interned {
    fn intern(&mut self, path: String) -> Arc<str> {
        if let Some(shared) = self.0.get(path.as_str()) {
            return shared.clone();
        }
        let shared: Arc<str> = path.into();
        self.0.insert(shared.clone());
        shared
    }
}

/// The prepared users so far, one per final e-mail.
struct Chosen<S = std::hash::RandomState> {
    users: Vec<TimecampUser>,
    /// Hash of the e-mail → (the record it came from, its slot in `users`).
    /// Keyed by hash so the e-mail is not stored a second time (a record is
    /// held per person); the slot's user has the e-mail to compare.
    at: HashMap<u64, (usize, usize)>,
    /// E-mails whose hash another e-mail took first (rare).
    colliding: HashMap<String, (usize, usize)>,
    hasher: S,
}

impl<S: std::hash::BuildHasher> Chosen<S> {
    fn find(&self, email: &str) -> Option<(usize, usize)> {
        let &(rec, slot) = self.at.get(&self.hash(email))?;
        if self.users[slot].timecamp_email == email {
            Some((rec, slot))
        } else {
            self.colliding.get(email).copied()
        }
    }

    fn set(&mut self, email: &str, entry: (usize, usize)) {
        let hash = self.hash(email);
        match self.at.get(&hash) {
            Some(&(_, slot)) if self.users[slot].timecamp_email != email => {
                self.colliding.insert(email.to_owned(), entry);
            }
            _ => {
                self.at.insert(hash, entry);
            }
        }
    }

    fn hash(&self, email: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, email)
    }
}

/// One TimeCamp user per final e-mail address: an active record wins over an
/// inactive one, otherwise the later record wins (as in the original), and the
/// other is reported instead of vanishing.
fn keep_one_per_email<S: std::hash::BuildHasher>(
    recs: &[Rec],
    i: usize,
    user: TimecampUser,
    chosen: &mut Chosen<S>,
    notes: &mut Notes,
) {
    let Some((prev, slot)) = chosen.find(&user.timecamp_email) else {
        chosen.set(&user.timecamp_email, (i, chosen.users.len()));
        chosen.users.push(user);
        return;
    };
    let key = user.timecamp_email.clone();
    let prev_user = &chosen.users[slot];
    let new_wins =
        !(prev_user.timecamp_status == Status::Active && user.timecamp_status != Status::Active);
    let (winner, loser) = if new_wins { (i, prev) } else { (prev, i) };
    notes.add(
        recs[loser].label(),
        true,
        NoteReason::SameEmail {
            email: key.clone(),
            kept: recs[winner].label(),
            active_wins: recs[winner].status != recs[loser].status,
        },
    );
    if new_wins {
        chosen.users[slot] = user;
        chosen.set(&key, (i, slot));
    }
}

fn stats(source: &[SourceUser], users: &[TimecampUser], notes: &[Note]) -> Stats {
    let mut s = Stats {
        source_records: source.len(),
        prepared: users.len(),
        ..Stats::default()
    };
    let mut groups = HashSet::new();
    for u in users {
        match u.timecamp_status {
            Status::Active => s.active += 1,
            Status::Inactive => s.inactive += 1,
        }
        match u.timecamp_role.unwrap_or(Role::User) {
            Role::Administrator => s.administrators += 1,
            Role::Supervisor => s.supervisors += 1,
            Role::User => s.users += 1,
            Role::Guest => s.guests += 1,
        }
        if let Some(b) = u
            .timecamp_groups_breadcrumb
            .as_deref()
            .filter(|b| !b.is_empty())
        {
            groups.insert(b);
        }
    }
    s.groups = groups.len();
    s.forced_supervisors = source
        .iter()
        .filter(|u| is_true(u.force_supervisor_role.as_deref()))
        .count();
    s.forced_admins = source
        .iter()
        .filter(|u| is_true(u.force_global_admin_role.as_deref()))
        .count();
    for n in notes {
        match n.kind {
            NoteKind::Dropped => s.dropped += 1,
            NoteKind::Changed => s.changed += 1,
            NoteKind::Warning => s.warnings += 1,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every e-mail hashes alike, so every second one takes the colliding path.
    #[derive(Default)]
    struct SameHash;

    impl std::hash::Hasher for SameHash {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }

    impl std::hash::BuildHasher for SameHash {
        type Hasher = SameHash;
        fn build_hasher(&self) -> SameHash {
            SameHash
        }
    }

    fn user(email: &str, status: Status) -> TimecampUser {
        TimecampUser {
            timecamp_external_id: None,
            timecamp_user_name: None,
            timecamp_email: email.into(),
            timecamp_groups_breadcrumb: None,
            timecamp_status: status,
            timecamp_role: None,
            timecamp_real_email: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn one_user_per_email_survives_hash_collisions() {
        let sources: Vec<SourceUser> = (0..4)
            .map(|n| SourceUser {
                email: Some(format!("p{n}@x.com")),
                ..SourceUser::default()
            })
            .collect();
        let opts = PrepareOptions::default();
        let mut notes = Notes(Vec::new());
        let recs: Vec<Rec> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| collect(s, i + 1, &opts, &mut notes))
            .collect();
        let mut chosen = Chosen {
            users: Vec::new(),
            at: HashMap::new(),
            colliding: HashMap::new(),
            hasher: SameHash,
        };
        for (i, (email, status)) in [
            ("a@x.com", Status::Inactive),
            ("b@x.com", Status::Active),
            ("a@x.com", Status::Active),
            ("b@x.com", Status::Inactive),
        ]
        .into_iter()
        .enumerate()
        {
            keep_one_per_email(&recs, i, user(email, status), &mut chosen, &mut notes);
        }
        let kept: Vec<(&str, Status)> = chosen
            .users
            .iter()
            .map(|u| (u.timecamp_email.as_str(), u.timecamp_status))
            .collect();
        assert_eq!(
            kept,
            [("a@x.com", Status::Active), ("b@x.com", Status::Active)],
            "the later active a@ replaces the inactive one; the inactive b@ does not replace the active one"
        );
        let same: Vec<&NoteReason> = notes
            .0
            .iter()
            .map(|n| &n.reason)
            .filter(|r| matches!(r, NoteReason::SameEmail { .. }))
            .collect();
        assert_eq!(same.len(), 2);
    }
}
