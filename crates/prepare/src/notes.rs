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
