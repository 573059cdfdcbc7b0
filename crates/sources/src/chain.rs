//! Completing the supervisor chain: people the listing names as a manager but
//! did not return (they left, or a filter left them out) are looked up, up
//! the chain until nothing new turns up, so that prepare can build the
//! hierarchy. BambooHR and HiBob share this; Okta resolves managers by a
//! configurable field and has its own loop.

use std::collections::{BTreeSet, HashSet};

use scim_model::SourceUser;
use tracing::warn;

/// Looks up the missing supervisors of `users` with `lookup` (given the
/// missing external ids, sorted; returning the records it found) and appends
/// what it finds, round after round. Ids a lookup did not return are warned
/// about once and not asked for again. Returns how many were added.
pub async fn complete<E>(
    users: &mut Vec<SourceUser>,
    service: &str,
    mut lookup: impl AsyncFnMut(&[String]) -> Result<Vec<SourceUser>, E>,
) -> Result<usize, E> {
    let before = users.len();
    let mut known: HashSet<String> = users.iter().filter_map(|u| u.external_id.clone()).collect();
    let mut not_found: HashSet<String> = HashSet::new();
    loop {
        let missing: Vec<String> = users
            .iter()
            .filter_map(|u| u.supervisor_id.as_deref())
            .filter(|id| !id.is_empty() && !known.contains(*id) && !not_found.contains(*id))
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(users.len() - before);
        }
        for user in lookup(&missing).await? {
            if let Some(id) = user.external_id.clone()
                && known.insert(id)
            {
                users.push(user);
            }
        }
        for id in missing.into_iter().filter(|id| !known.contains(id)) {
            warn!("supervisor {id} is not in {service}; their reports keep the id");
            not_found.insert(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, boss: &str) -> SourceUser {
        SourceUser {
            external_id: Some(id.into()),
            supervisor_id: Some(boss.into()),
            ..SourceUser::default()
        }
    }

    #[tokio::test]
    async fn missing_supervisors_are_fetched_up_the_chain_and_unknown_ones_asked_once() {
        let mut users = vec![person("1", "10"), person("2", "10"), person("3", "99")];
        let mut asked: Vec<Vec<String>> = Vec::new();
        let added = complete(&mut users, "the test", async |ids: &[String]| {
            asked.push(ids.to_vec());
            Ok::<_, ()>(
                ids.iter()
                    .filter_map(|id| match id.as_str() {
                        "10" => Some(person("10", "20")),
                        "20" => Some(person("20", "")),
                        _ => None,
                    })
                    .collect(),
            )
        })
        .await
        .unwrap();
        assert_eq!(added, 2);
        assert_eq!(asked, vec![vec!["10", "99"], vec!["20"]]);
    }
}
