//! Checks on a source's whole list of people, shared by the API sources.
//!
//! A listing read page by page can hold one person twice: the service
//! repeated a row, or the person changed while the pages were read (a new
//! e-mail sorts them onto a later page). Two records with one id and other
//! e-mails would become two TimeCamp users, and which record wins depends
//! on their order; so the fetch stops, and a rerun reads a settled listing.

use std::collections::HashMap;

use scim_model::SourceUser;

/// One id on two records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{service} listed the id {id} twice (e-mails {first} and {second}): the listing changed \
     while it was read, or its pages overlap; run the fetch again"
)]
pub struct RepeatedId {
    pub service: String,
    pub id: String,
    pub first: String,
    pub second: String,
}

/// Refuses a list in which two records have one `external_id`.
pub fn one_record_per_id(service: &str, users: &[SourceUser]) -> Result<(), RepeatedId> {
    let mut seen: HashMap<&str, &str> = HashMap::with_capacity(users.len());
    for u in users {
        let id = u.external_id.as_deref().unwrap_or_default();
        let email = u.email.as_deref().unwrap_or_default();
        if id.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(id, email) {
            return Err(RepeatedId {
                service: service.to_owned(),
                id: id.to_owned(),
                first: first.to_owned(),
                second: email.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, email: &str) -> SourceUser {
        SourceUser {
            external_id: Some(id.into()),
            email: Some(email.into()),
            ..SourceUser::default()
        }
    }

    #[test]
    fn an_id_on_two_records_is_refused() {
        assert!(one_record_per_id("Google", &[user("1", "a@x.com"), user("2", "b@x.com")]).is_ok());
        let err = one_record_per_id("Google", &[user("1", "a@x.com"), user("1", "new@x.com")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Google listed the id 1 twice (e-mails a@x.com and new@x.com): the listing changed \
             while it was read, or its pages overlap; run the fetch again"
        );
    }
}
