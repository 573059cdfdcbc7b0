//! From a record and its group path to a TimeCamp user: who is left out,
//! the group rewrite rules, the depth rule, the role, the e-mail domain rule
//! and the additional e-mail.

use std::collections::HashSet;
use std::sync::Arc;

use scim_model::{GroupMode, Role, SourceUser, TimecampUser, email_problem};
use serde_json::Value;

use crate::notes::{NoteReason, Notes};
use crate::record::{Rec, is_true, non_blank};
use crate::{PrepareError, PrepareOptions, replace_domain, rewrite_path};

/// What turns records into users, over the whole record set.
pub(crate) struct Users<'r> {
    opts: &'r PrepareOptions,
    /// The e-mails of the records `TIMECAMP_EXCLUDE_REGEX` matches.
    excluded: HashSet<&'r str>,
    /// Whether any record forces the supervisor role: then nobody else gets it.
    force_supervisor_exists: bool,
    crumbs: Interned,
}

impl<'r> Users<'r> {
    pub(crate) fn new(
        recs: &'r [Rec<'r>],
        source: &[SourceUser],
        opts: &'r PrepareOptions,
    ) -> Self {
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
        Users {
            opts,
            excluded,
            force_supervisor_exists: source
                .iter()
                .any(|u| is_true(u.force_supervisor_role.as_deref())),
            crumbs: Interned::default(),
        }
    }

    /// The TimeCamp user a record becomes, or `None` (with a note, except
    /// for a record without e-mail, noted when it was collected).
    pub(crate) fn user(
        &mut self,
        rec: &Rec,
        is_supervisor: bool,
        breadcrumb: String,
        notes: &mut Notes,
    ) -> Result<Option<TimecampUser>, PrepareError> {
        let opts = self.opts;
        let Some(email) = rec.email.as_deref() else {
            return Ok(None);
        };
        if rec.hierarchy_only {
            notes.add(rec.label(), false, NoteReason::HierarchyOnly);
            return Ok(None);
        }
        if self.excluded.contains(email) {
            let pattern = opts.exclude.as_ref().map(|f| f.as_str().to_owned());
            notes.add(
                rec.label(),
                false,
                NoteReason::Excluded {
                    pattern: pattern.unwrap_or_default(),
                },
            );
            return Ok(None);
        }
        let breadcrumb = self.rewrite_group(rec, breadcrumb, notes);
        // The one depth rule, on the path as it is written; a forced
        // administrator goes to the root whatever the source says.
        let forced_admin = is_true(rec.src.force_global_admin_role.as_deref());
        if !forced_admin {
            scim_groups::check_depth(&breadcrumb, || rec.label())?;
        }
        let role = decide_role(
            rec,
            is_supervisor,
            self.force_supervisor_exists,
            opts,
            notes,
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
            return Ok(None);
        }
        let real_email = self.real_email(rec, &timecamp_email, notes);
        Ok(Some(TimecampUser {
            timecamp_external_id: Some(rec.id.unwrap_or_default().to_owned()),
            timecamp_user_name: Some(rec.display_name().to_owned()),
            timecamp_email,
            timecamp_groups_breadcrumb: Some(self.crumbs.intern(if forced_admin {
                String::new()
            } else {
                breadcrumb
            })),
            timecamp_status: rec.status,
            timecamp_role: Some(role),
            timecamp_real_email: real_email,
            extra: Default::default(),
        }))
    }

    /// `TIMECAMP_CHANGE_GROUPS_REGEX` over a group path, noted when it moved.
    fn rewrite_group(&self, rec: &Rec, breadcrumb: String, notes: &mut Notes) -> String {
        let rules = &self.opts.group_rules;
        if breadcrumb.is_empty() || rules.is_empty() {
            return breadcrumb;
        }
        let (rewritten, applied) = rewrite_path(&breadcrumb, rules);
        // Normalised, so the sync finds the groups it would create.
        let rewritten = scim_groups::normalise_path(&rewritten);
        if rewritten == breadcrumb {
            return breadcrumb;
        }
        notes.add(
            rec.label(),
            false,
            NoteReason::GroupRewritten {
                from: breadcrumb,
                to: rewritten.clone(),
                rules: applied.iter().map(|r| (*r).to_owned()).collect(),
            },
        );
        rewritten
    }

    /// The additional e-mail, under the domain rule; left out (noted) when
    /// unusable, and when it is the TimeCamp e-mail itself.
    fn real_email(&self, rec: &Rec, timecamp_email: &str, notes: &mut Notes) -> Option<String> {
        let domain = self.opts.replace_email_domain.as_deref();
        non_blank(rec.src.real_email.as_deref())
            .map(|r| replace_domain(r, domain))
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
            })
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
