//! prepare-timecamp as a pure function: source users in, desired TimeCamp
//! state out, plus a note for every record that was dropped or changed.
//!
//! The rules are those of the original tool: group paths by
//! department, by supervisor chain, or both; display names; roles; e-mail
//! domain rules. Where the original loses or corrupts data silently, this
//! version keeps the record or says why it did not (see the README's
//! "Differences from the original"). Every step is linear in the number of
//! users: records are indexed once by id and supervisor paths are memoised.
//!
//! [`prepare`] takes the steps in order, a module each: the transform config
//! ([`transform`]), the collect step (`record`: each record checked and its
//! name formatted), the hierarchy (`hierarchy`: records indexed by id, the
//! supervisors' paths, each record's group path), the user (`user`: who is
//! left out, group rewrites, the depth rule, the role, the e-mail rules), and
//! one user per e-mail (`one_per_email`). `notes` holds what each step notes.

#![warn(clippy::too_many_lines)]

mod hierarchy;
mod notes;
mod one_per_email;
mod record;
mod rules;
mod text;
pub mod transform;
mod user;

use std::collections::HashSet;

use scim_model::{GroupMode, Role, SourceUser, Status, TimecampUser};
use serde_json::Value;

use hierarchy::Hierarchy;
use notes::{Notes, label};
use one_per_email::Chosen;
use record::{Rec, collect, is_true, non_blank};
use user::Users;

pub use notes::{Note, NoteKind, NoteReason, SameEmailOutcome};
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
    /// Records of one TimeCamp e-mail are of different people, or are active
    /// records of one person that differ.
    #[error(
        "{} TimeCamp e-mail(s) are each shared by records with different external ids, or \
         by active records of one person that differ, so whose account it is, or which \
         details are right, cannot be told: {}. Keeping one would be a guess, and leaving \
         them out would disable an account whose person may still be in the source. Fix \
         the source: give each person their own e-mail (for a leaver whose address went to \
         someone else, change or remove the old record), or, for one person listed twice, \
         remove the extra record or make the two agree",
        conflicts.len(),
        EmailConflict::list(conflicts)
    )]
    SameEmail { conflicts: Vec<EmailConflict> },
}

/// Records of one TimeCamp e-mail that stop prepare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConflict {
    /// The final TimeCamp e-mail.
    pub email: String,
    /// The records at odds, in file order, each with its status, position and
    /// ids (`active record #3 (ada@example.com, external_id 10)`).
    pub records: Vec<String>,
    /// Each record's external id (`""` without one), in the same order.
    pub external_ids: Vec<String>,
    /// Whether they all have one external id: one person, whose active
    /// records differ. Otherwise the ids differ (or one has none).
    pub one_person: bool,
    /// What differs between them: `external id`, `name`, `group`, `role`,
    /// `status`, `additional e-mail`.
    pub differ: Vec<&'static str>,
}

impl EmailConflict {
    /// The most conflicts one message lists; the count says how many there are.
    const LISTED: usize = 20;

    fn list(conflicts: &[EmailConflict]) -> String {
        let mut text = conflicts
            .iter()
            .take(Self::LISTED)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if conflicts.len() > Self::LISTED {
            text.push_str(&format!("; and {} more", conflicts.len() - Self::LISTED));
        }
        text
    }
}

impl std::fmt::Display for EmailConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let records = match self.records.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        };
        write!(
            f,
            "{}: {records}{} differ in {}",
            self.email,
            if self.one_person {
                ", with the same external_id,"
            } else {
                ""
            },
            self.differ.join(", ")
        )
    }
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

/// Turns source users into the desired TimeCamp state.
pub fn prepare(source: &[SourceUser], opts: &PrepareOptions) -> Result<Prepared, PrepareError> {
    let mut notes = Notes::default();
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
    let hierarchy = Hierarchy::new(&recs, opts, &mut notes);
    let paths = hierarchy.paths(&mut notes)?;
    let mut make = Users::new(&recs, source, opts);
    let mut chosen = Chosen::with_capacity(recs.len());
    for (i, rec) in recs.iter().enumerate() {
        let is_supervisor = hierarchy.has_reports(rec);
        let breadcrumb = hierarchy.breadcrumb(rec, is_supervisor, &paths, &mut notes);
        if let Some(user) = make.user(rec, is_supervisor, breadcrumb, &mut notes)? {
            chosen.keep_one_per_email(i, user);
        }
    }

    // The paths are held by the users now; the lookup is no longer needed.
    drop(make);
    let mut users = chosen.into_users(&recs, &mut notes)?;
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
