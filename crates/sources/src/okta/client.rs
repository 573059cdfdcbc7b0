//! Okta's REST API as this fetcher calls it: the token, the organisation's
//! own host, paged lists, and the users of the chosen statuses.

use std::collections::HashSet;

use scim_core::Secret;
use scim_http::{Client, ClientOptions, ErrorText, Hints, Next, Paging, Request, Url};
use serde_json::Value;

use super::{OktaError, OktaSettings};
use crate::fields::text_of;

/// Okta's largest page for users and groups.
pub(super) const PAGE_SIZE: u32 = 200;

/// Every list: the answer is the list; the next page is the `Link` header's.
const PAGING: Paging = Paging::new("", Next::LinkHeader);

/// What Okta's failures point at.
const HINTS: Hints = Hints {
    credentials: "OKTA_API_TOKEN (and that it has not expired)",
    forbidden: "the token's admin lacks the permission to read users and groups",
    bad_request: "",
    location: "OKTA_ORG_URL",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

pub(super) struct Api<'a> {
    pub(super) s: &'a OktaSettings,
    origin: Url,
    http: Client,
}

impl<'a> Api<'a> {
    pub(super) fn new(s: &'a OktaSettings) -> Result<Self, OktaError> {
        let http = Client::new(ClientOptions {
            timeout: s.timeout,
            error_text: ErrorText {
                json: &["/errorSummary"],
                headers: &[],
            },
            ..ClientOptions::new("Okta", HINTS)
        })?;
        Ok(Api {
            s,
            origin: http.url(&format!("{}/", s.org_url))?,
            http,
        })
    }
}

impl Api<'_> {
    pub(super) fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, OktaError> {
        let mut url = self.http.url(&format!("{}{path}", self.origin))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn request(&self, url: Url, call: &str) -> Request {
        Request::get(url, call).secret_header(
            "authorization",
            Secret::new(format!("SSWS {}", self.s.token.expose())),
        )
    }

    /// One user, or `None` when Okta has nobody by that id or login.
    pub(super) async fn user(&self, url: Url, call: &str) -> Result<Option<Value>, OktaError> {
        let request = self.request(url, call).not_found_is_an_answer();
        match self.http.json(&request).await {
            Ok(user) => Ok(Some(user)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every item of a list, following `rel="next"` to the end.
    pub(super) async fn all(&self, first: Url, call: &str) -> Result<Vec<Value>, OktaError> {
        Ok(self.http.all(&self.request(first, call), PAGING).await?)
    }

    /// Every user in one of `OKTA_USER_STATUSES`, each once, in order.
    pub(super) async fn users_with_statuses(&self) -> Result<Vec<Value>, OktaError> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut all = Vec::new();
        for status in &self.s.statuses {
            let url = self.url(
                "api/v1/users",
                &[
                    ("limit", PAGE_SIZE.to_string()),
                    ("filter", format!("status eq \"{status}\"")),
                ],
            )?;
            for u in self.all(url, &format!("{status} users")).await? {
                if seen.insert(text_of(u.get("id"))) {
                    all.push(u);
                }
            }
        }
        Ok(all)
    }
}
