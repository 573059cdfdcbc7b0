//! Department trees as paths: sources that hold departments as rows with a
//! parent (NetSuite's `department`, Personio's org units) turn each into its
//! `/`-separated path from the top, the form `var/users.json` has.
//!
//! The rules, the same for every source: a row without an id or a name is
//! left out with a warning; two rows with one id stop the fetch (which one
//! is meant cannot be told); a parent that is not among the rows makes the
//! department a top one, with a warning; a parent cycle stops the fetch, and
//! so does a department nested more than [`MAX_DEPTH`] levels deep. The walk
//! is iterative, so no depth of nesting can exhaust the stack.

use std::collections::HashMap;

use tracing::warn;

/// The deepest nesting taken; TimeCamp's groups nest only a few levels.
pub const MAX_DEPTH: usize = 32;

/// One department as the source lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("{service} lists the department id {id} twice ({first:?} and {second:?})")]
    DuplicateId {
        service: String,
        id: String,
        first: String,
        second: String,
    },
    #[error("{service}'s departments form a cycle of parents: {}", .ids.join(" -> "))]
    Cycle { service: String, ids: Vec<String> },
    #[error("{service}'s department {id} is nested more than {MAX_DEPTH} levels deep")]
    TooDeep { service: String, id: String },
}

/// The path of every department, by id.
pub fn paths(
    service: &str,
    rows: impl IntoIterator<Item = (Option<String>, Option<String>, Option<String>)>,
) -> Result<HashMap<String, String>, TreeError> {
    let mut units: HashMap<String, Unit> = HashMap::new();
    for (id, name, parent) in rows {
        let id = id.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let name = name.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let (Some(id), Some(name)) = (id, name) else {
            warn!("{service}: a department without an id or a name is left out");
            continue;
        };
        let parent = parent
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        if let Some(first) = units.get(&id) {
            return Err(TreeError::DuplicateId {
                service: service.to_owned(),
                id,
                first: first.name.clone(),
                second: name,
            });
        }
        units.insert(id.clone(), Unit { id, name, parent });
    }
    for unit in units.values() {
        if let Some(p) = &unit.parent
            && !units.contains_key(p)
        {
            warn!(
                "{service}: the parent {p} of the department {} ({}) is not among the departments; it is taken as a top department",
                unit.id, unit.name
            );
        }
    }
    // Each department's path and depth.
    let mut done: HashMap<String, (String, usize)> = HashMap::new();
    // Sorted, so which department a cycle is reported from does not depend on order.
    let mut ids: Vec<&String> = units.keys().collect();
    ids.sort();
    for start in ids {
        if done.contains_key(start) {
            continue;
        }
        // Up the chain to a known path or the top.
        let mut chain: Vec<&Unit> = Vec::new();
        let mut at = units.get(start);
        let base = loop {
            let Some(unit) = at else {
                break (String::new(), 0);
            };
            if let Some(known) = done.get(&unit.id) {
                break known.clone();
            }
            if let Some(i) = chain.iter().position(|u| u.id == unit.id) {
                let mut ids: Vec<String> = chain[i..].iter().map(|u| u.id.clone()).collect();
                ids.push(unit.id.clone());
                return Err(TreeError::Cycle {
                    service: service.to_owned(),
                    ids,
                });
            }
            chain.push(unit);
            if chain.len() > MAX_DEPTH {
                return Err(TreeError::TooDeep {
                    service: service.to_owned(),
                    id: start.clone(),
                });
            }
            at = unit.parent.as_ref().and_then(|p| units.get(p));
        };
        let (mut path, mut depth) = base;
        for unit in chain.iter().rev() {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(&unit.name);
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(TreeError::TooDeep {
                    service: service.to_owned(),
                    id: start.clone(),
                });
            }
            done.insert(unit.id.clone(), (path.clone(), depth));
        }
    }
    Ok(done.into_iter().map(|(id, (path, _))| (id, path)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, name: &str, parent: &str) -> (Option<String>, Option<String>, Option<String>) {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        (some(id), some(name), some(parent))
    }

    #[test]
    fn each_department_gets_its_path_whatever_the_order() {
        let rows = vec![
            row("3", "Backend", "2"),
            row("1", "Company", ""),
            row("2", "Engineering", "1"),
            row("4", "Orphans", "99"),
            row("", "No id", "1"),
            row("5", "", "1"),
        ];
        let mut reversed = rows.clone();
        reversed.reverse();
        for rows in [rows, reversed] {
            let p = paths("NetSuite", rows).unwrap();
            assert_eq!(p["3"], "Company/Engineering/Backend");
            assert_eq!(p["2"], "Company/Engineering");
            assert_eq!(p["4"], "Orphans", "a missing parent makes a top department");
            assert_eq!(p.len(), 4);
        }
    }

    #[test]
    fn duplicates_cycles_and_depth_stop() {
        assert!(matches!(
            paths("NetSuite", vec![row("1", "A", ""), row("1", "B", "")]),
            Err(TreeError::DuplicateId { .. })
        ));
        let err = paths(
            "NetSuite",
            vec![row("1", "A", "3"), row("2", "B", "1"), row("3", "C", "2")],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "NetSuite's departments form a cycle of parents: 1 -> 3 -> 2 -> 1"
        );
        assert!(matches!(
            paths("NetSuite", vec![row("1", "Self", "1")]),
            Err(TreeError::Cycle { .. })
        ));
        // 20,000 levels: refused, not a stack overflow.
        let deep: Vec<_> = (0..20_000)
            .map(|i| row(&i.to_string(), "D", &(i + 1).to_string()))
            .collect();
        assert!(matches!(
            paths("NetSuite", deep),
            Err(TreeError::TooDeep { .. })
        ));
        let ok: Vec<_> = (0..MAX_DEPTH)
            .map(|i| row(&i.to_string(), "D", &(i + 1).to_string()))
            .collect();
        assert!(paths("NetSuite", ok).is_ok(), "{MAX_DEPTH} levels are fine");
    }
}
