//! The one HTTP layer of timecamp-scim. TimeCamp, every HR system, the
//! identity provider's token endpoint and the alert webhook are called
//! through it, so each rule below is written once.
//!
//! # What every request gets
//!
//! - **A timeout per attempt** ([`ClientOptions::timeout`]), from sending to
//!   the end of the answer. Waits between attempts are not part of it.
//! - **One retry policy** ([`RetryPolicy`], one loop in [`Client::send`]):
//!   throttling (429) and gateway answers (502, 503, 504), timeouts and broken
//!   connections are retried up to [`RetryPolicy::max_attempts`], after the
//!   server's `Retry-After`, its rate-limit window's reset, a JSON
//!   `retry_after`, or exponential backoff with jitter. Every wait is logged
//!   with its length. A server may ask for at most [`RetryPolicy::max_wait`]
//!   (5 minutes); a longer ask is not waited out (a daily quota will not be
//!   back after 5 retries): the call fails at once, saying how long the
//!   server asked for ([`ErrorKind::WaitTooLong`]).
//!   Unanswered time (timeouts, refused connections and the waits after them)
//!   is counted per client against [`RetryPolicy::unanswered_budget`]; once it
//!   is spent, such failures are final, so a service that never answers fails
//!   a run in bounded time. Time spent waiting because the service said "not
//!   now" (after a 429, 502, 503, 504 or a refusal that passes, and for a
//!   spent rate-limit window) is counted per client too, as the run's clock
//!   sees it, against [`RetryPolicy::wait_budget`] ([`DEFAULT_WAIT_BUDGET`],
//!   15 minutes); a wait that would pass it is not made and the call fails at
//!   once, saying how long the run waited and what the service asked
//!   ([`ErrorKind::WaitBudgetSpent`]), so a service that keeps answering "in
//!   5 minutes" cannot stretch a run to hours.
//! - **Rate-limit windows**: an answer saying no request is left
//!   (`X-RateLimit-Remaining: 0`, Okta's `X-Rate-Limit-Remaining: 0`) makes the
//!   client's *next* request wait for the reset; the answer itself is read at
//!   once.
//! - **Writes that are not safe to repeat** ([`Repeat::Unsafe`], e.g. creating
//!   a group) are sent again only when they certainly did not arrive (no
//!   connection, 429); after a timeout, a broken connection or a gateway error
//!   the call fails with [`ErrorKind::OutcomeUnknown`] instead of risking a
//!   duplicate.
//! - **Bounded answers**: a successful body larger than
//!   [`ClientOptions::max_body`] ([`DEFAULT_MAX_BODY`], 64 MiB) is refused while
//!   it streams in, before it is buffered; an error body is read up to 64 KiB.
//!   No compression is negotiated, so no answer expands after the check.
//! - **Bounded parsing**: parsed JSON takes several times its text (a 60 MB
//!   page of `{}` items took 2.8 GB), so a body's size bounds nothing by
//!   itself. Every value is charged, as it is built, with an estimate of the
//!   memory it takes ([`json`]); an answer stops parsing past
//!   [`ClientOptions::max_json_memory`] and a listing past
//!   [`Paging::max_memory`] ([`DEFAULT_MAX_JSON_MEMORY`], 2 GiB, for all its
//!   pages together) or [`Paging::max_items`] items ([`DEFAULT_MAX_ITEMS`],
//!   200,000).
//! - **Credentials stay with their host**: redirects are followed only within
//!   the request's origin (at most 5; for a write, only 307 and 308, which keep
//!   its method and body), no `Referer` is sent, and a paging link
//!   to another origin is refused ([`paging`]). A request's credentials (its
//!   token, password, key header, form values; a secret URL's path and query)
//!   are hidden from every message, so a server or proxy that echoes them in
//!   an error page does not get them into the logs or the alert webhook.
//! - **Time values from servers** (`Retry-After` in seconds or as a date, the
//!   rate-limit reset, `Date`) are parsed defensively: `inf`, `NaN`, `1e20`,
//!   negative values and the year 9999 neither panic nor wait past the cap
//!   ([`wait`]).
//!
//! # Errors that say what to fix
//!
//! A failure is an [`Error`]: the call's [`Context`] and a typed
//! [`ErrorKind`] (a status, a host name that does not resolve, a refused
//! certificate, ...), never a decision made on error text. Each client
//! declares, in its [`Hints`], which settings its 401/403, 404, DNS and
//! connection failures point at, and the error's `Display` names them:
//! `TimeCamp answered 401 to GET group: Unauthorized; check TIMECAMP_API_KEY`.
//! A host name that does not resolve is named and not retried; neither is
//! a temporary failure of the DNS server (the system resolver reports it
//! only in its error text, and the layer decides nothing on text), so it is
//! final for the run and the next scheduled run resolves afresh. Refused
//! certificates are classified from the typed `rustls` error ([`tls`]),
//! which `fetch-ldap` uses too.
//!
//! # Paging
//!
//! A listing's paging is data, a [`Paging`]: where the items are (a JSON
//! pointer) and how the next page is found ([`Next`]): the `Link` header, a
//! URL in the body (`@odata.nextLink`), a cursor token sent back as a query
//! parameter (`nextPageToken` → `pageToken`), a page number, or an offset
//! advanced by the items received (SuiteQL's `offset` with `hasMore`).
//! [`Client::all`] reads every page; [`Pages`] is the same walk for a client
//! that sends its own requests (one that renews a token on 401). Every style
//! refuses a next page on another origin, stops on a page asked for or
//! answered twice, on a run of empty pages that announce more
//! ([`paging::MAX_EMPTY_PAGES_IN_A_ROW`]), and after [`Paging::max_pages`]
//! pages, [`Paging::max_items`] items or [`Paging::max_memory`] of parsed
//! items.
//!
//! A new source declares its client and its paging, and reads:
//!
//! ```no_run
//! use scim_http::{Client, ClientOptions, ErrorText, Hints, More, Next, Paging, Request};
//! use scim_core::Secret;
//!
//! /// NetSuite's SuiteQL: `?limit=&offset=`, `hasMore`, items in `items`.
//! const SUITEQL: Paging = Paging::new(
//!     "/items",
//!     Next::Offset { param: "offset", more: More::Flag("/hasMore") },
//! );
//! /// Google's Directory API: `nextPageToken`, sent back as `pageToken`.
//! const GOOGLE_USERS: Paging = Paging::new(
//!     "/users",
//!     Next::Cursor { token_at: "/nextPageToken", param: "pageToken", more: None },
//! );
//!
//! async fn employees(host: &str, token: &Secret) -> Result<Vec<serde_json::Value>, scim_http::Error> {
//!     let client = Client::new(ClientOptions {
//!         error_text: ErrorText { json: &["/o:errorDetails/0/detail", "/title"], headers: &[] },
//!         ..ClientOptions::new(
//!             "NetSuite",
//!             Hints {
//!                 credentials: "NETSUITE_CLIENT_ID and NETSUITE_CERTIFICATE_ID",
//!                 location: "NETSUITE_ACCOUNT_ID",
//!                 ..Hints::default()
//!             },
//!         )
//!     })?;
//!     let url = client.url(&format!("{host}/services/rest/query/v1/suiteql?limit=1000"))?;
//!     let query = Request::post(url, "the employee query")
//!         .bearer(token)
//!         .header("Prefer", "transient")
//!         .json(serde_json::json!({"q": "SELECT id, email FROM employee ORDER BY id"}));
//!     client.all(&query, SUITEQL).await
//! }
//! ```

pub mod client;
pub mod dns;
pub mod error;
pub mod json;
pub mod paging;
pub mod request;
pub mod tls;
pub mod wait;

pub use client::{
    Client, ClientOptions, DEFAULT_MAX_BODY, DEFAULT_WAIT_BUDGET, ErrorText, RequestCounts,
    Response, RetryPolicy, host_port,
};
pub use error::{Context, Error, ErrorKind, Hints, RedirectRefused, WaitRefused};
pub use json::{DEFAULT_MAX_ITEMS, DEFAULT_MAX_JSON_MEMORY};
pub use paging::{More, Next, Pages, Paging, PagingError};
pub use request::{Repeat, Request, TransientRefusal};
pub use reqwest::Method;
pub use tls::{TlsProblem, TlsRefusal};
pub use url::Url;
