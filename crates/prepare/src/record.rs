//! The collect step: each source record checked (status, e-mail, external
//! id, name) and its user name formatted, once per record.

use std::borrow::Cow;

use scim_model::{SourceUser, Status};
use serde_json::Value;

use crate::PrepareOptions;
use crate::notes::{NoteReason, Notes, label};
use crate::text::clean_name;

/// A source record after the checks of the collect step.
pub(crate) struct Rec<'a> {
    pub(crate) src: &'a SourceUser,
    pub(crate) position: usize,
    pub(crate) id: Option<&'a str>,
    pub(crate) supervisor: Option<&'a str>,
    /// The name as given (or its fallback), before formatting. Borrowed from
    /// the source when it can be: a record is held per person.
    pub(crate) base_name: Cow<'a, str>,
    /// The user name, when formatting made it differ from `base_name`.
    pub(crate) display_name: Option<String>,
    /// Lower-cased; borrowed when the source has it so already.
    pub(crate) email: Option<Cow<'a, str>>,
    pub(crate) status: Status,
    /// A manager from outside the fetched scope: shapes the tree, never output.
    pub(crate) hierarchy_only: bool,
}

impl Rec<'_> {
    pub(crate) fn display_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.base_name)
    }

    pub(crate) fn label(&self) -> String {
        label(self.position, self.email.as_deref(), self.id)
    }
}

/// A source text, trimmed, when it is not blank.
pub(crate) fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A source flag that is set: only JSON `true` counts.
pub(crate) fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

/// The collect step: checks one record and formats its name.
pub(crate) fn collect<'a>(
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
