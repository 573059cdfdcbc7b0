//! The supervisor hierarchy: records indexed by external id, the group path
//! of every supervisor (cycles broken, depth bounded), and each record's
//! group path in the chosen mode.

use std::collections::{HashMap, HashSet};

use scim_model::{GroupMode, Status};

use crate::notes::{NoteReason, Notes};
use crate::record::{Rec, non_blank};
use crate::text::clean_name;
use crate::{MAX_SUPERVISOR_DEPTH, PrepareError, PrepareOptions};

/// Supervisor paths and breadcrumbs, over the whole record set.
pub(crate) struct Hierarchy<'r, 'a> {
    recs: &'r [Rec<'a>],
    /// Each external id and the record that heads its group. Records that
    /// share an id and would head the same group (one person listed twice)
    /// are represented by the first; an id held by records that would head
    /// different groups is not here, so nobody is placed under it: which of
    /// them it means is not known, and the file order must not decide.
    by_id: HashMap<&'a str, usize>,
    /// The external ids held by records that would head different groups.
    ambiguous: HashSet<&'a str>,
    /// The external ids someone names as their supervisor.
    with_reports: HashSet<&'a str>,
    opts: &'r PrepareOptions,
}

impl<'r, 'a> Hierarchy<'r, 'a> {
    /// Indexes the records by external id. Records sharing an id all stay in
    /// the output, each with a note.
    pub(crate) fn new(recs: &'r [Rec<'a>], opts: &'r PrepareOptions, notes: &mut Notes) -> Self {
        let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(recs.len());
        let mut ambiguous: HashSet<&str> = HashSet::new();
        let mut shared: Vec<(usize, usize)> = Vec::new();
        for (i, rec) in recs.iter().enumerate() {
            let Some(id) = rec.id else { continue };
            let first = *by_id.entry(id).or_insert(i);
            if first != i {
                shared.push((i, first));
                if !heads_the_same_group(&recs[first], rec, opts) {
                    ambiguous.insert(id);
                }
            }
        }
        for (i, first) in shared {
            let id = recs[i].id.unwrap_or_default();
            notes.add(
                recs[i].label(),
                true,
                NoteReason::SharedExternalId {
                    id: id.to_owned(),
                    earlier: recs[first].label(),
                    agree: !ambiguous.contains(id),
                },
            );
        }
        by_id.retain(|id, _| !ambiguous.contains(id));
        let with_reports = recs.iter().filter_map(|r| r.supervisor).collect();
        Hierarchy {
            recs,
            by_id,
            ambiguous,
            with_reports,
            opts,
        }
    }
}

/// Whether two records of one external id would head the same supervisor
/// group: the same group name, under the same supervisor.
fn heads_the_same_group(a: &Rec, b: &Rec, opts: &PrepareOptions) -> bool {
    a.supervisor == b.supervisor
        && a.hierarchy_only == b.hierarchy_only
        && group_name(a, opts) == group_name(b, opts)
}

/// The name of the group a supervisor heads. Built from the source name, so
/// the external id and job title appear once; a `/` would
/// create an extra level and becomes `-`.
fn group_name(rec: &Rec, opts: &PrepareOptions) -> String {
    let mut base = rec.base_name.to_string();
    if opts.job_title_group_names
        && let Some(title) = non_blank(rec.src.job_title.as_deref())
    {
        base = format!("{title} [{base}]");
    }
    if opts.show_external_id
        && let Some(id) = rec.id
    {
        base = format!("{base} - {id}");
    }
    clean_name(&base.replace('/', "-"))
}

impl Hierarchy<'_, '_> {
    /// Whether someone reports to this record: it heads a group of its own.
    pub(crate) fn has_reports(&self, rec: &Rec) -> bool {
        rec.id.is_some_and(|id| self.with_reports.contains(id))
    }

    /// The group path of every supervisor, by record index: none in
    /// department mode, where no path follows the supervisors.
    pub(crate) fn paths(&self, notes: &mut Notes) -> Result<Vec<Option<String>>, PrepareError> {
        match self.opts.mode {
            GroupMode::Department => Ok(Vec::new()),
            GroupMode::Supervisor | GroupMode::Hybrid => self.supervisor_paths(notes),
        }
    }

    fn group_name(&self, i: usize) -> String {
        group_name(&self.recs[i], self.opts)
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
    fn supervisor_paths(&self, notes: &mut Notes) -> Result<Vec<Option<String>>, PrepareError> {
        let n = self.recs.len();
        let mut paths: Vec<Option<String>> = vec![None; n];
        // Levels of each path, checked before a longer path is built.
        let mut depth: Vec<usize> = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut starts: Vec<usize> = self
            .with_reports
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

    pub(crate) fn breadcrumb(
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
            let supervisor_id = s.to_owned();
            notes.add(
                rec.label(),
                rec.status == Status::Active,
                if self.ambiguous.contains(s) {
                    NoteReason::SupervisorAmbiguous { supervisor_id }
                } else {
                    NoteReason::SupervisorNotFound { supervisor_id }
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
