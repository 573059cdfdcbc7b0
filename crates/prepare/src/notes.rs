//! The notes of a run: why a record was dropped, changed, or needs a
//! person's attention, and which record it is.

use scim_model::EmailProblem;

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
    /// Another record has the same external id; `earlier` names it. With
    /// `agree`, every record of the id would head the same supervisor group
    /// (the same name and supervisor), so reports of the id are placed under
    /// it; otherwise nobody is placed under the id.
    SharedExternalId {
        id: String,
        earlier: String,
        agree: bool,
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
    /// The supervisor id is held by records that would head different groups.
    SupervisorAmbiguous {
        supervisor_id: String,
    },
    UnknownRoleId {
        role_id: String,
    },
    /// Other records have the same final e-mail; `other` names them.
    SameEmail {
        email: String,
        other: String,
        outcome: SameEmailOutcome,
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
            | NoteReason::SupervisorNotFound { .. }
            | NoteReason::SupervisorAmbiguous { .. } => NoteKind::Warning,
        }
    }
}

impl std::fmt::Display for NoteReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoteReason::SharedExternalId { id, earlier, agree } => write!(
                f,
                "external_id {id} is also used by {earlier}; both are kept, and {}",
                shared_id_reports(id, *agree)
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
            NoteReason::SupervisorAmbiguous { supervisor_id } => write!(
                f,
                "supervisor_id {supervisor_id} is the external_id of several records with \
                 different names or supervisors, so no supervisor group applies"
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
                other,
                outcome,
            } => outcome.describe(f, email, other),
        }
    }
}

/// Where the reports of an external id two records hold go.
fn shared_id_reports(id: &str, agree: bool) -> String {
    if agree {
        format!(
            "as they have the same name and supervisor, reports of {id} are placed under \
             their group"
        )
    } else {
        format!(
            "as they have different names or supervisors, nobody is placed under {id}: which \
             of them it means is not known. Give each person their own external_id in the \
             source"
        )
    }
}

/// What became of a record whose final e-mail another record has too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameEmailOutcome {
    /// Inactive, and left out for the active record of the e-mail and
    /// external id.
    ActiveKept,
    /// The same TimeCamp user as another record: written once.
    Identical,
    /// Inactive, as the other records of the e-mail and external id, which
    /// make other users: none of them is written.
    InactiveDiffer,
}

impl SameEmailOutcome {
    fn describe(
        self,
        f: &mut std::fmt::Formatter<'_>,
        email: &str,
        other: &str,
    ) -> std::fmt::Result {
        match self {
            SameEmailOutcome::ActiveKept => write!(
                f,
                "inactive, with the same TimeCamp e-mail {email} and external id as the \
                 active {other}, which is kept"
            ),
            SameEmailOutcome::Identical => write!(
                f,
                "the same TimeCamp user as {other} (same e-mail {email}, external id, name, \
                 group and role): written once"
            ),
            SameEmailOutcome::InactiveDiffer => write!(
                f,
                "inactive, with the same TimeCamp e-mail {email} and external id as the \
                 inactive {other} but other details; none of them is written, so the account with that e-mail is \
                 disabled, as it would be for either"
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

/// Names a record in a note: position in `users.json` (1-based), e-mail and
/// external id.
pub(crate) fn label(position: usize, email: Option<&str>, id: Option<&str>) -> String {
    let mut s = format!("record #{position}");
    match (email, id) {
        (Some(e), Some(i)) => s.push_str(&format!(" ({e}, external_id {i})")),
        (Some(e), None) => s.push_str(&format!(" ({e})")),
        (None, Some(i)) => s.push_str(&format!(" (external_id {i})")),
        (None, None) => {}
    }
    s
}

/// The notes of a run, in the order prepare makes them.
#[derive(Default)]
pub(crate) struct Notes(pub(crate) Vec<Note>);

impl Notes {
    pub(crate) fn add(&mut self, record: String, serious: bool, reason: NoteReason) {
        self.0.push(Note {
            kind: reason.kind(),
            record,
            reason,
            serious,
        });
    }
}
