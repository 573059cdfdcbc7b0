//! Settings and Okta users for the unit tests of every part.

use scim_core::Env;
use serde_json::{Value, json};

use super::OktaSettings;

pub(super) fn settings(extra: &[(&'static str, &'static str)]) -> OktaSettings {
    let mut pairs = vec![("OKTA_ORG_URL", "acme.okta.com/"), ("OKTA_API_TOKEN", "t")];
    pairs.extend_from_slice(extra);
    OktaSettings::from_env(&Env::from_pairs(pairs)).unwrap()
}

pub(super) fn okta_user(id: &str, status: &str, number: &str, manager: &str) -> Value {
    json!({"id": id, "status": status, "profile": {
        "login": format!("{id}@acme.com"), "email": format!("{id}@Acme.com"),
        "firstName": "First", "lastName": id, "displayName": "",
        "employeeNumber": number, "managerId": manager, "department": "Eng", "title": null}})
}
