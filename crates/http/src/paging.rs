//! Paging styles as data, and the walk over a listing's pages that every
//! style shares.
//!
//! A listing is described by a [`Paging`]: where a page's items are (a JSON
//! pointer) and how the next page is found ([`Next`]). [`Pages`] walks it: it
//! hands out the URL of each page to request and takes each answer back,
//! returning the page's items. It sends nothing itself, so a client with its
//! own needs (a token renewed on 401) drives it with its own requests; the
//! common case is [`crate::Client::all`].
//!
//! Whatever the style, the walk refuses a next page on another origin (the
//! credentials of a request would go with it) or with user info of its own
//! in its link (the HTTP library would send it as a second, server-chosen
//! `Authorization` header), stops on a page asked for
//! twice or whose items are those of the page before it (a server that
//! ignores the cursor would otherwise be read forever, even if it stamps
//! each answer with a request id), stops after [`Paging::max_pages`],
//! refuses an offset page that announces more pages without having items
//! (its successor would be the same page), and stops after
//! [`MAX_EMPTY_PAGES_IN_A_ROW`] pages in a row that have no items yet
//! announce more (each with a new cursor, such a server would otherwise be
//! read to `max_pages`).
//!
//! A listing's memory is bounded too, not only each page's size: each page
//! is parsed in one pass ([`crate::json`]), its items taken straight into
//! their list, and the walk stops once the listing passes
//! [`Paging::max_items`] items or its items would take more than
//! [`Paging::max_memory`] once parsed (parsed JSON takes several times its
//! text, some 30 to 50 times for hostile shapes such as a page of `{}`, so a
//! body's size limit alone bounds nothing).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hasher};

use reqwest::header::{HeaderMap, LINK};
use serde_json::Value;
use url::Url;

use crate::json::{self, DEFAULT_MAX_ITEMS, DEFAULT_MAX_JSON_MEMORY, Found, Meter, Over};

/// The default most pages one listing may take: five times the pages of
/// [`DEFAULT_MAX_ITEMS`] people at the smallest page size any supported API
/// uses (100), since some (Graph) may answer pages short or empty.
pub const DEFAULT_MAX_PAGES: u32 = 10_000;

/// The most pages in a row that may have no items and still announce a
/// next page. Graph sends an empty page with a next link now and then (a
/// filtered listing, an advanced query), so one is no error; a run of them
/// is a server that never comes to an end, which would otherwise be read to
/// [`DEFAULT_MAX_PAGES`] (some 30 minutes at 200 ms a page). Offset paging
/// stops at the first: an offset that does not move asks for the same page.
pub const MAX_EMPTY_PAGES_IN_A_ROW: u32 = 5;

/// How a listing is paged.
#[derive(Debug, Clone, PartialEq)]
pub struct Paging {
    /// JSON pointer to the page's list of items: `/value`, `/data`; `""` when
    /// the answer is the list itself.
    pub items: &'static str,
    pub next: Next,
    /// Pages read before the walk stops with an error.
    pub max_pages: u32,
    /// Items of the whole listing read before the walk stops with an error.
    pub max_items: u64,
    /// The most memory the listing's items may take once parsed (an
    /// estimate, [`crate::json`]), before the walk stops with an error.
    pub max_memory: u64,
}

impl Paging {
    /// Items at `items`, next pages as `next`, at most [`DEFAULT_MAX_PAGES`]
    /// pages, [`DEFAULT_MAX_ITEMS`] items and [`DEFAULT_MAX_JSON_MEMORY`].
    pub const fn new(items: &'static str, next: Next) -> Self {
        Self {
            items,
            next,
            max_pages: DEFAULT_MAX_PAGES,
            max_items: DEFAULT_MAX_ITEMS,
            max_memory: DEFAULT_MAX_JSON_MEMORY,
        }
    }
}

/// How the next page is found.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// One answer holds everything (HiBob's people search).
    None,
    /// The `Link: <url>; rel="next"` header (Okta).
    LinkHeader,
    /// A URL in the body at a JSON pointer: `/@odata.nextLink` (Graph),
    /// `/_meta/links/next/href` (Personio v2). Absent, null or empty: last page.
    UrlAt(&'static str),
    /// A token in the body at `token_at`, sent back as the query parameter
    /// `param`: Google's `nextPageToken` → `pageToken`. With `more`, that
    /// says whether there is a next page; without, a token does.
    Cursor {
        token_at: &'static str,
        param: &'static str,
        more: Option<More>,
    },
    /// A page number in the query parameter `param`, from `first` (BambooHR's `page`).
    PageNumber {
        param: &'static str,
        first: u64,
        more: More,
    },
    /// An offset in the query parameter `param`, advanced by the number of
    /// items each page returned (NetSuite SuiteQL's `offset`, with `limit` in
    /// the first URL and `/hasMore` as `more`).
    Offset { param: &'static str, more: More },
}

/// Whether a page says there is another.
#[derive(Debug, Clone, PartialEq)]
pub enum More {
    /// A boolean at a JSON pointer (`/hasMore`, `/meta/has_next_page`);
    /// absent or null means false, any other value is an error.
    Flag(&'static str),
    /// A value at a JSON pointer that is present and not null, false or ""
    /// (BambooHR's `/pagination/next_page`).
    Present(&'static str),
    /// A page with this many items may have a successor; a shorter one is the last.
    FullPage(usize),
}

impl More {
    /// Whether page `page` says there is another. A flag that is neither a
    /// boolean nor absent is an error: read as "no more", it would end the
    /// listing early in silence.
    fn says_more(&self, body: &Value, items: usize, page: u32) -> Result<bool, PagingError> {
        match self {
            More::Flag(at) => match body.pointer(at) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(more)) => Ok(*more),
                Some(other) => Err(unexpected(page, at, other, "true or false")),
            },
            More::Present(at) => Ok(present(body.pointer(at))),
            More::FullPage(size) => Ok(items >= *size && *size > 0),
        }
    }
}

fn unexpected(
    page: u32,
    pointer: &'static str,
    value: &Value,
    expected: &'static str,
) -> PagingError {
    PagingError::UnexpectedValue {
        page,
        pointer,
        value: value.to_string().chars().take(100).collect(),
        expected,
    }
}

fn present(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Null) | Some(Value::Bool(false)))
        && value != Some(&Value::String(String::new()))
}

/// Why a walk over pages stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    #[error(
        "the next page is on another origin ({origin}) than the listing; not followed, so \
         the credentials stay with their own host"
    )]
    OtherOrigin { origin: String },
    #[error(
        "page {page} names its next page with credentials of its own (user info in the link); \
         not followed"
    )]
    CredentialsInLink { page: u32 },
    #[error("the next page would be a page already read ({url}); stopped instead of looping")]
    RepeatedUrl { url: String },
    #[error(
        "page {page} has the same items as the page before it: the server ignores the paging \
         parameters; stopped instead of looping"
    )]
    RepeatedPage { page: u32 },
    #[error("more than {limit} pages; stopped (a listing that long is taken for a loop)")]
    TooManyPages { limit: u32 },
    #[error(
        "page {page} brings the listing past {limit} items, the most this tool reads in one \
         listing; stopped"
    )]
    TooManyItems { page: u32, limit: u64 },
    #[error(
        "page {page} brings the listing's items past {} MiB of memory once read, the most this \
         tool gives one listing; stopped",
        limit / (1024 * 1024)
    )]
    TooMuchMemory { page: u32, limit: u64 },
    /// The last of `in_a_row` pages in a row without items that announced
    /// a next page (1 for offset paging, [`MAX_EMPTY_PAGES_IN_A_ROW`] for the others).
    #[error("{}", empty_pages(*page, *in_a_row))]
    EmptyPageWithMore { page: u32, in_a_row: u32 },
    #[error("page {page} has no list at {pointer:?}")]
    NoList { page: u32, pointer: &'static str },
    #[error("page {page} names its next page as {link:?}, which is not a URL")]
    BadNextLink { page: u32, link: String },
    #[error("page {page} announces a next page without the {what} to reach it")]
    NoCursor { page: u32, what: &'static str },
    #[error("page {page} has {value} at {pointer:?}, where the API puts {expected}")]
    UnexpectedValue {
        page: u32,
        pointer: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("page {page} is not JSON: {message}")]
    NotJson { page: u32, message: String },
}

fn empty_pages(page: u32, in_a_row: u32) -> String {
    match in_a_row {
        0 | 1 => format!("page {page} announces a next page but has no items"),
        n => format!(
            "{n} pages in a row, up to page {page}, announce a next page but have no items; \
             stopped instead of reading empty pages without end"
        ),
    }
}

/// A walk over the pages of one listing.
#[derive(Debug)]
pub struct Pages {
    paging: Paging,
    first: Url,
    next: Option<Url>,
    /// Pages answered so far.
    page: u32,
    /// Items received so far (the next offset).
    received: u64,
    asked: HashSet<String>,
    last_items: Option<u64>,
    /// Pages in a row, up to the last one, without items that announced more.
    empty_in_a_row: u32,
    /// What the listing's items take so far, and may take.
    meter: Meter,
}

impl Pages {
    /// A walk starting at `first`, which holds any fixed parameters (`limit`,
    /// filters); for the page-number and offset styles, the first page's
    /// number or offset is set in it.
    pub fn new(first: Url, paging: Paging) -> Self {
        let (next, received) = match &paging.next {
            Next::PageNumber {
                param, first: n, ..
            } => (with_param(&first, param, &n.to_string()), 0),
            Next::Offset { param, .. } => {
                let start = query_value(&first, param)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                (with_param(&first, param, &start.to_string()), start)
            }
            _ => (first.clone(), 0),
        };
        Self {
            meter: Meter::new(paging.max_memory, paging.max_items),
            paging,
            first,
            next: Some(next),
            page: 0,
            received,
            asked: HashSet::new(),
            last_items: None,
            empty_in_a_row: 0,
        }
    }

    /// The URL of the next page to request; `None` once the listing is read.
    pub fn next_url(&self) -> Option<&Url> {
        self.next.as_ref()
    }

    /// The number of the page [`Pages::next_url`] asks for, from 1.
    pub fn page(&self) -> u32 {
        self.page + 1
    }

    /// Takes the answer to [`Pages::next_url`] (its headers and body) and
    /// returns the page's items; the next URL is worked out from it.
    pub fn accept(&mut self, headers: &HeaderMap, body: &[u8]) -> Result<Vec<Value>, PagingError> {
        let Some(asked) = self.next.take() else {
            return Ok(Vec::new());
        };
        self.page += 1;
        let page = self.page;
        self.asked.insert(asked.to_string());
        let parsed = json::page(body, self.paging.items, &mut self.meter).map_err(|e| match e {
            json::ParseError::Syntax(e) => PagingError::NotJson {
                page,
                message: e.to_string(),
            },
            json::ParseError::Over(Over::Items) => PagingError::TooManyItems {
                page,
                limit: self.paging.max_items,
            },
            json::ParseError::Over(Over::Memory) => PagingError::TooMuchMemory {
                page,
                limit: self.paging.max_memory,
            },
        })?;
        let value = parsed.rest;
        let items = match parsed.items {
            Found::List(items) => items,
            // Some paged APIs say "no (more) items" with null; an answer
            // that is the whole listing must hold its list.
            Found::Null if self.paging.next != Next::None => Vec::new(),
            Found::Null | Found::Nothing => {
                return Err(PagingError::NoList {
                    page,
                    pointer: self.paging.items,
                });
            }
        };
        // The items, not the body: a server that ignores the paging
        // parameters may still stamp each answer (a request id, a time).
        let fingerprint = fingerprint(&items);
        if !items.is_empty() && self.last_items == Some(fingerprint) {
            return Err(PagingError::RepeatedPage { page });
        }
        self.last_items = Some(fingerprint);
        self.received += items.len() as u64;

        let next = self.next_after(&asked, headers, &value, items.len())?;
        if let Some(url) = &next {
            if items.is_empty() {
                self.empty_in_a_row += 1;
                // An offset that does not move would ask for this page again.
                if matches!(self.paging.next, Next::Offset { .. })
                    || self.empty_in_a_row >= MAX_EMPTY_PAGES_IN_A_ROW
                {
                    return Err(PagingError::EmptyPageWithMore {
                        page,
                        in_a_row: self.empty_in_a_row,
                    });
                }
            } else {
                self.empty_in_a_row = 0;
            }
            if url.origin() != self.first.origin() {
                return Err(PagingError::OtherOrigin {
                    origin: url.origin().ascii_serialization(),
                });
            }
            if (url.username(), url.password()) != (self.first.username(), self.first.password()) {
                return Err(PagingError::CredentialsInLink { page });
            }
            if self.asked.contains(url.as_str()) {
                return Err(PagingError::RepeatedUrl {
                    url: scim_core::mask_url_credentials(url.as_str()).into_owned(),
                });
            }
            if page >= self.paging.max_pages {
                return Err(PagingError::TooManyPages {
                    limit: self.paging.max_pages,
                });
            }
        }
        self.next = next;
        Ok(items)
    }

    fn next_after(
        &self,
        asked: &Url,
        headers: &HeaderMap,
        body: &Value,
        items: usize,
    ) -> Result<Option<Url>, PagingError> {
        let page = self.page;
        let link = |text: &str| {
            // Relative links are resolved against the page that named them.
            asked.join(text).map_err(|_| PagingError::BadNextLink {
                page,
                link: text.chars().take(200).collect(),
            })
        };
        match &self.paging.next {
            Next::None => Ok(None),
            Next::LinkHeader => headers
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link)
                .map(|l| link(&l))
                .transpose(),
            Next::UrlAt(at) => match body.pointer(at) {
                Some(Value::String(s)) if !s.is_empty() => link(s).map(Some),
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(_)) => Ok(None),
                Some(other) => Err(PagingError::BadNextLink {
                    page,
                    link: other.to_string().chars().take(200).collect(),
                }),
            },
            Next::Cursor {
                token_at,
                param,
                more,
            } => {
                let token = match body.pointer(token_at) {
                    Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    None | Some(Value::Null | Value::String(_)) => None,
                    // Without a flag, the token alone says whether there is more.
                    Some(other) if more.is_none() => {
                        return Err(unexpected(
                            page,
                            token_at,
                            other,
                            "a cursor (text or a number)",
                        ));
                    }
                    Some(_) => None,
                };
                let wanted = match more {
                    Some(more) => more.says_more(body, items, page)?,
                    None => token.is_some(),
                };
                match (wanted, token) {
                    (false, _) => Ok(None),
                    (true, None) => Err(PagingError::NoCursor {
                        page,
                        what: "cursor",
                    }),
                    (true, Some(token)) => Ok(Some(with_param(asked, param, &token))),
                }
            }
            Next::PageNumber { param, first, more } => {
                if !more.says_more(body, items, page)? {
                    return Ok(None);
                }
                let number = first.saturating_add(u64::from(page));
                Ok(Some(with_param(asked, param, &number.to_string())))
            }
            Next::Offset { param, more } => {
                if !more.says_more(body, items, page)? {
                    return Ok(None);
                }
                Ok(Some(with_param(asked, param, &self.received.to_string())))
            }
        }
    }
}

/// A hash of a page's items, to tell a page from the one before it.
fn fingerprint(items: &[Value]) -> u64 {
    struct Hashing(DefaultHasher);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hashing(DefaultHasher::new());
    // Writing values into a hasher cannot fail (no I/O, keys are text).
    let _ = serde_json::to_writer(&mut h, items);
    h.0.finish()
}

/// `url` with the query parameter `name` set to `value` (replaced, not repeated).
fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
    out
}

fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The `rel="next"` URL of a `Link` header (RFC 8288): `<url>; param=value,
/// <url>; ...`. A URL may hold commas, a quoted value commas and semicolons,
/// and `rel` several relation types (`rel="prev next"`).
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let (_, after) = rest.split_once('<')?;
        let (url, after) = after.split_once('>')?;
        // This link's parameters run to the next comma outside quotes.
        let (params, next) = split_outside_quotes(after, ',');
        if says_next(params) {
            return Some(url.trim().to_owned());
        }
        rest = next;
    }
}

/// Whether a link's parameters (`; rel="next"; title="..."`) name it the next page.
fn says_next(mut params: &str) -> bool {
    while !params.is_empty() {
        let (param, more) = split_outside_quotes(params, ';');
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("next"))
        {
            return true;
        }
        params = more;
    }
    false
}

/// `text` cut at the first `delimiter` outside double quotes: the part
/// before it, and the part after it ("" when there is none).
fn split_outside_quotes(text: &str, delimiter: char) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => return (&text[..i], &text[i + c.len_utf8()..]),
            _ => {}
        }
    }
    (text, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn no_headers() -> HeaderMap {
        HeaderMap::new()
    }

    fn link(to: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_str(&format!("<{to}>; rel=\"next\"")).unwrap(),
        );
        h
    }

    #[test]
    fn link_headers_give_the_next_page() {
        let h = r#"<https://acme.okta.com/api/v1/users?limit=200>; rel="self", <https://acme.okta.com/api/v1/users?after=00u5&limit=200>; rel="next""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://acme.okta.com/api/v1/users?after=00u5&limit=200")
        );
        assert_eq!(next_link(r#"<https://x/a>; rel="self""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn a_next_link_is_found_whatever_commas_and_relations_the_header_holds() {
        // Commas are legal in a URL and in a quoted parameter; a link may
        // have several relation types. Missing the link would end the
        // listing early, in silence, and the people left out would be disabled.
        for (header, next) in [
            (
                r#"<https://o.example/api/users?after=a,b&limit=200>; rel="next""#,
                "https://o.example/api/users?after=a,b&limit=200",
            ),
            (
                r#"<https://o.example/1>; rel="self"; title="a, b", <https://o.example/2>; rel="next""#,
                "https://o.example/2",
            ),
            (
                r#"<https://o.example/1,2>; rel="prev next""#,
                "https://o.example/1,2",
            ),
            (r#"<https://o.example/3>;rel=next"#, "https://o.example/3"),
            (
                r#"<https://o.example/4>; REL = "Next""#,
                "https://o.example/4",
            ),
            (
                r#"<https://o.example/1>; title="x; rel=next", <https://o.example/5>; rel=next"#,
                "https://o.example/5",
            ),
        ] {
            assert_eq!(next_link(header).as_deref(), Some(next), "{header}");
        }
        for none in [
            r#"<https://o.example/1>; rel="self""#,
            r#"<https://o.example/1>; rel="nextish""#,
            r#"<https://o.example/1>; title="rel=next""#,
            "",
            "<",
        ] {
            assert_eq!(next_link(none), None, "{none}");
        }
    }

    #[test]
    fn a_more_flag_or_cursor_of_an_unexpected_type_stops_the_walk_with_an_error() {
        // Read as "no more pages", they would end the listing early in silence.
        let factorial = Paging::new(
            "/data",
            Next::Cursor {
                token_at: "/meta/end_cursor",
                param: "after_id",
                more: Some(More::Flag("/meta/has_next_page")),
            },
        );
        for flag in [json!("true"), json!(1), json!("yes"), json!({})] {
            let mut p = Pages::new(url("https://f.example/api/employees"), factorial.clone());
            let err = p
                .accept(
                    &no_headers(),
                    &body(json!({"data": [1], "meta": {"has_next_page": flag, "end_cursor": 7}})),
                )
                .unwrap_err();
            assert!(
                matches!(err, PagingError::UnexpectedValue { page: 1, .. }),
                "{flag}: {err}"
            );
        }
        // Absent, null or false: the last page.
        for last in [json!(null), json!(false)] {
            let mut p = Pages::new(url("https://f.example/api/employees"), factorial.clone());
            p.accept(
                &no_headers(),
                &body(json!({"data": [1], "meta": {"has_next_page": last}})),
            )
            .unwrap();
            assert_eq!(p.next_url(), None);
        }
        let google = Paging::new(
            "/users",
            Next::Cursor {
                token_at: "/nextPageToken",
                param: "pageToken",
                more: None,
            },
        );
        for token in [json!({"t": 1}), json!(["t"]), json!(true)] {
            let mut p = Pages::new(url("https://g.example/users"), google.clone());
            let err = p
                .accept(
                    &no_headers(),
                    &body(json!({"users": [1], "nextPageToken": token})),
                )
                .unwrap_err();
            assert!(
                matches!(err, PagingError::UnexpectedValue { page: 1, .. }),
                "{token}: {err}"
            );
        }
    }

    #[test]
    fn a_link_header_listing_is_read_to_the_end() {
        let mut p = Pages::new(
            url("https://o.example/api/users?limit=2"),
            Paging::new("", Next::LinkHeader),
        );
        let items = p
            .accept(
                &link("https://o.example/api/users?after=2"),
                &body(json!([1, 2])),
            )
            .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            p.next_url().unwrap().as_str(),
            "https://o.example/api/users?after=2"
        );
        assert_eq!(p.page(), 2);
        p.accept(&no_headers(), &body(json!([3]))).unwrap();
        assert_eq!(p.next_url(), None);
    }

    #[test]
    fn a_next_link_to_another_origin_is_refused() {
        for other in [
            "https://evil.example/v1.0/users?$skiptoken=2",
            "http://graph.example/v1.0/users?$skiptoken=2",
            "https://graph.example:444/v1.0/users?$skiptoken=2",
        ] {
            let mut p = Pages::new(
                url("https://graph.example/v1.0/users"),
                Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
            );
            let err = p
                .accept(
                    &no_headers(),
                    &body(json!({"value": [1], "@odata.nextLink": other})),
                )
                .unwrap_err();
            assert!(
                matches!(err, PagingError::OtherOrigin { .. }),
                "{other}: {err}"
            );
            assert_eq!(p.next_url(), None, "nothing more is asked");
        }
    }

    #[test]
    fn a_next_link_with_credentials_of_its_own_is_refused() {
        // Same origin, but the HTTP library would send the user info as a
        // Basic header of the server's choosing, next to the real credential.
        for link in [
            "https://evil:pw@graph.example/v1.0/users?$skiptoken=2",
            "https://evil@graph.example/v1.0/users?$skiptoken=2",
        ] {
            let mut p = Pages::new(
                url("https://graph.example/v1.0/users"),
                Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
            );
            let err = p
                .accept(
                    &no_headers(),
                    &body(json!({"value": [1], "@odata.nextLink": link})),
                )
                .unwrap_err();
            assert_eq!(err, PagingError::CredentialsInLink { page: 1 }, "{link}");
            assert!(!err.to_string().contains("pw"), "{err}");
            assert_eq!(p.next_url(), None, "nothing more is asked");
        }
    }

    #[test]
    fn a_repeated_next_link_stops_the_walk() {
        let mut p = Pages::new(
            url("https://o.example/api/users"),
            Paging::new("", Next::LinkHeader),
        );
        p.accept(
            &link("https://o.example/api/users?after=1"),
            &body(json!([1])),
        )
        .unwrap();
        let err = p
            .accept(
                &link("https://o.example/api/users?after=1"),
                &body(json!([2])),
            )
            .unwrap_err();
        assert!(matches!(err, PagingError::RepeatedUrl { .. }), "{err}");
    }

    #[test]
    fn a_server_that_ignores_the_page_parameter_is_caught() {
        let mut p = Pages::new(
            url("https://b.example/api/employees?page_size=2"),
            Paging::new(
                "/data",
                Next::PageNumber {
                    param: "page",
                    first: 1,
                    more: More::Present("/pagination/next_page"),
                },
            ),
        );
        assert_eq!(
            p.next_url().unwrap().as_str(),
            "https://b.example/api/employees?page_size=2&page=1"
        );
        let same = body(json!({"data": [1, 2], "pagination": {"next_page": "x"}}));
        p.accept(&no_headers(), &same).unwrap();
        assert_eq!(
            p.next_url().unwrap().as_str(),
            "https://b.example/api/employees?page_size=2&page=2"
        );
        let err = p.accept(&no_headers(), &same).unwrap_err();
        assert_eq!(err, PagingError::RepeatedPage { page: 2 });
    }

    #[test]
    fn the_walk_stops_at_the_page_limit() {
        let paging = Paging {
            max_pages: 3,
            ..Paging::new(
                "/items",
                Next::Cursor {
                    token_at: "/next",
                    param: "pageToken",
                    more: None,
                },
            )
        };
        let mut p = Pages::new(url("https://g.example/users"), paging);
        for n in 1..=2 {
            p.accept(
                &no_headers(),
                &body(json!({"items": [n], "next": format!("t{n}")})),
            )
            .unwrap();
        }
        let err = p
            .accept(&no_headers(), &body(json!({"items": [3], "next": "t3"})))
            .unwrap_err();
        assert_eq!(err, PagingError::TooManyPages { limit: 3 });
    }

    #[test]
    fn offset_paging_advances_by_the_items_received_until_has_more_is_false() {
        let mut p = Pages::new(
            url("https://n.example/suiteql?limit=2"),
            Paging::new(
                "/items",
                Next::Offset {
                    param: "offset",
                    more: More::Flag("/hasMore"),
                },
            ),
        );
        assert_eq!(
            p.next_url().unwrap().as_str(),
            "https://n.example/suiteql?limit=2&offset=0"
        );
        p.accept(
            &no_headers(),
            &body(json!({"items": [1, 2], "hasMore": true})),
        )
        .unwrap();
        assert_eq!(
            p.next_url().unwrap().as_str(),
            "https://n.example/suiteql?limit=2&offset=2"
        );
        p.accept(
            &no_headers(),
            &body(json!({"items": [3], "hasMore": false})),
        )
        .unwrap();
        assert_eq!(p.next_url(), None);
    }

    #[test]
    fn more_announced_on_an_empty_page_is_an_error() {
        let mut p = Pages::new(
            url("https://n.example/suiteql?limit=2"),
            Paging::new(
                "/items",
                Next::Offset {
                    param: "offset",
                    more: More::Flag("/hasMore"),
                },
            ),
        );
        let err = p
            .accept(&no_headers(), &body(json!({"items": [], "hasMore": true})))
            .unwrap_err();
        assert_eq!(
            err,
            PagingError::EmptyPageWithMore {
                page: 1,
                in_a_row: 1
            }
        );
    }

    /// Each style that can announce a next page on a page without items,
    /// and an answer of page `n` (its headers and body) with `items`, that
    /// announces page `n + 1` with a link, cursor or flag never seen before.
    #[allow(clippy::type_complexity)]
    fn styles_that_can_announce_more_when_empty()
    -> Vec<(Paging, fn(u32, &[u32]) -> (HeaderMap, Value))> {
        vec![
            (Paging::new("/value", Next::LinkHeader), |n, items| {
                (
                    link(&format!("https://g.example/users?after={n}")),
                    json!({"value": items}),
                )
            }),
            (
                Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
                |n, items| {
                    (
                        no_headers(),
                        json!({"value": items, "@odata.nextLink": format!("https://g.example/users?skiptoken={n}")}),
                    )
                },
            ),
            (
                Paging::new(
                    "/users",
                    Next::Cursor {
                        token_at: "/nextPageToken",
                        param: "pageToken",
                        more: None,
                    },
                ),
                |n, items| {
                    (
                        no_headers(),
                        json!({"users": items, "nextPageToken": format!("t{n}")}),
                    )
                },
            ),
            (
                Paging::new(
                    "/data",
                    Next::Cursor {
                        token_at: "/meta/end_cursor",
                        param: "after_id",
                        more: Some(More::Flag("/meta/has_next_page")),
                    },
                ),
                |n, items| {
                    (
                        no_headers(),
                        json!({"data": items, "meta": {"has_next_page": true, "end_cursor": n}}),
                    )
                },
            ),
            (
                Paging::new(
                    "/employees",
                    Next::PageNumber {
                        param: "page",
                        first: 1,
                        more: More::Present("/pagination/next_page"),
                    },
                ),
                |n, items| {
                    (
                        no_headers(),
                        json!({"employees": items, "pagination": {"next_page": n + 1}}),
                    )
                },
            ),
        ]
    }

    #[test]
    fn every_style_stops_after_a_run_of_empty_pages_that_announce_more() {
        for (paging, answer) in styles_that_can_announce_more_when_empty() {
            let mut p = Pages::new(url("https://g.example/users"), paging.clone());
            for n in 1..MAX_EMPTY_PAGES_IN_A_ROW {
                let (headers, page) = answer(n, &[]);
                p.accept(&headers, &body(page)).unwrap();
                assert!(p.next_url().is_some(), "{paging:?}");
            }
            let (headers, page) = answer(MAX_EMPTY_PAGES_IN_A_ROW, &[]);
            assert_eq!(
                p.accept(&headers, &body(page)),
                Err(PagingError::EmptyPageWithMore {
                    page: MAX_EMPTY_PAGES_IN_A_ROW,
                    in_a_row: MAX_EMPTY_PAGES_IN_A_ROW
                }),
                "{paging:?}"
            );
        }
    }

    /// Graph sends an empty page with a next link now and then: a page with
    /// items between them starts the count again.
    #[test]
    fn empty_pages_now_and_then_are_read_through() {
        for (paging, answer) in styles_that_can_announce_more_when_empty() {
            let mut p = Pages::new(url("https://g.example/users"), paging.clone());
            let mut n = 0;
            let mut received = 0;
            for _ in 0..3 {
                for _ in 1..MAX_EMPTY_PAGES_IN_A_ROW {
                    n += 1;
                    let (headers, page) = answer(n, &[]);
                    p.accept(&headers, &body(page)).unwrap();
                }
                n += 1;
                let (headers, page) = answer(n, &[n]);
                received += p.accept(&headers, &body(page)).unwrap().len();
            }
            assert_eq!(received, 3, "{paging:?}");
            assert!(p.next_url().is_some(), "{paging:?}");
        }
    }

    #[test]
    fn a_cursor_with_a_more_flag_needs_its_cursor() {
        let paging = Paging::new(
            "/data",
            Next::Cursor {
                token_at: "/meta/end_cursor",
                param: "after_id",
                more: Some(More::Flag("/meta/has_next_page")),
            },
        );
        let mut p = Pages::new(
            url("https://f.example/api/employees?limit=1"),
            paging.clone(),
        );
        p.accept(
            &no_headers(),
            &body(json!({"data": [1], "meta": {"has_next_page": true, "end_cursor": 17}})),
        )
        .unwrap();
        assert_eq!(
            p.next_url().unwrap().as_str(),
            "https://f.example/api/employees?limit=1&after_id=17"
        );
        let mut p = Pages::new(url("https://f.example/api/employees"), paging);
        let err = p
            .accept(
                &no_headers(),
                &body(json!({"data": [1], "meta": {"has_next_page": true}})),
            )
            .unwrap_err();
        assert!(matches!(err, PagingError::NoCursor { .. }), "{err}");
    }

    #[test]
    fn a_page_without_its_list_or_json_is_an_error() {
        let mut p = Pages::new(
            url("https://g.example/users"),
            Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
        );
        assert_eq!(
            p.accept(&no_headers(), &body(json!({"error": "x"}))),
            Err(PagingError::NoList {
                page: 1,
                pointer: "/value"
            })
        );
        let mut p = Pages::new(
            url("https://g.example/users"),
            Paging::new("/value", Next::None),
        );
        assert!(matches!(
            p.accept(&no_headers(), b"<html>"),
            Err(PagingError::NotJson { .. })
        ));
    }

    #[test]
    fn a_listing_stops_once_its_pages_bring_it_past_its_most_items() {
        let paging = Paging {
            max_items: 5,
            ..Paging::new(
                "/data",
                Next::Cursor {
                    token_at: "/next",
                    param: "after",
                    more: None,
                },
            )
        };
        let mut p = Pages::new(url("https://f.example/people"), paging);
        let first = p
            .accept(
                &no_headers(),
                &body(json!({"data": [1, 2, 3], "next": "a"})),
            )
            .unwrap();
        assert_eq!(first.len(), 3);
        let err = p
            .accept(
                &no_headers(),
                &body(json!({"data": [4, 5, 6], "next": "b"})),
            )
            .unwrap_err();
        assert_eq!(err, PagingError::TooManyItems { page: 2, limit: 5 });
        assert!(err.to_string().contains("past 5 items"), "{err}");
    }

    #[test]
    fn a_listing_stops_once_its_items_would_take_more_than_its_memory() {
        let paging = Paging {
            max_memory: 1024 * 1024,
            ..Paging::new("/value", Next::UrlAt("/next"))
        };
        // Each page is small; together they pass the bound.
        let page = |n: u32| {
            let items: Vec<Value> = (0..1000).map(|i| json!({"id": i, "page": n})).collect();
            body(json!({"value": items, "next": format!("https://g.example/p{n}")}))
        };
        let mut p = Pages::new(url("https://g.example/users"), paging);
        let mut n = 0;
        let err = loop {
            n += 1;
            match p.accept(&no_headers(), &page(n)) {
                Ok(items) => assert_eq!(items.len(), 1000),
                Err(e) => break e,
            }
        };
        assert!(n > 1, "one page alone is under the bound");
        assert_eq!(
            err,
            PagingError::TooMuchMemory {
                page: n,
                limit: 1024 * 1024
            }
        );
        assert!(err.to_string().contains("past 1 MiB of memory"), "{err}");
        // A page of hostile shape stops while it is parsed, whatever its items.
        let mut p = Pages::new(
            url("https://g.example/users"),
            Paging {
                max_memory: 1024 * 1024,
                ..Paging::new("/value", Next::None)
            },
        );
        let nested = format!(r#"{{"value": [{{"a": [{}{{}}]}}]}}"#, "{},".repeat(100_000));
        assert!(matches!(
            p.accept(&no_headers(), nested.as_bytes()),
            Err(PagingError::TooMuchMemory { page: 1, .. })
        ));
    }

    #[test]
    fn null_ends_a_paged_listing_but_is_no_list_for_a_listing_in_one_answer() {
        let mut p = Pages::new(
            url("https://b.example/employees"),
            Paging::new("/data", Next::UrlAt("/next")),
        );
        assert_eq!(
            p.accept(&no_headers(), &body(json!({"data": null}))),
            Ok(vec![])
        );
        let mut p = Pages::new(
            url("https://h.example/v1/people/search"),
            Paging::new("/employees", Next::None),
        );
        assert_eq!(
            p.accept(&no_headers(), &body(json!({"employees": null}))),
            Err(PagingError::NoList {
                page: 1,
                pointer: "/employees"
            })
        );
    }

    #[test]
    fn a_relative_next_link_is_resolved_against_the_page() {
        let mut p = Pages::new(
            url("https://p.example/v2/persons?limit=50"),
            Paging::new("/data", Next::UrlAt("/_meta/links/next/href")),
        );
        p.accept(
            &no_headers(),
            &body(json!({"data": [1], "_meta": {"links": {"next": {"href": "/v2/persons?cursor=abc"}}}})),
        )
        .unwrap();
        assert_eq!(
            p.next_url().unwrap().as_str(),
            "https://p.example/v2/persons?cursor=abc"
        );
    }

    /// Every style that pages, as the sources use them.
    fn paged_styles() -> Vec<(&'static str, Paging)> {
        vec![
            (
                "offset",
                Paging::new(
                    "/items",
                    Next::Offset {
                        param: "offset",
                        more: More::Flag("/hasMore"),
                    },
                ),
            ),
            (
                "page number",
                Paging::new(
                    "/data",
                    Next::PageNumber {
                        param: "page",
                        first: 1,
                        more: More::Present("/pagination/next_page"),
                    },
                ),
            ),
            (
                "cursor",
                Paging::new(
                    "/users",
                    Next::Cursor {
                        token_at: "/nextPageToken",
                        param: "pageToken",
                        more: None,
                    },
                ),
            ),
            (
                "cursor and flag",
                Paging::new(
                    "/data",
                    Next::Cursor {
                        token_at: "/meta/end_cursor",
                        param: "after",
                        more: Some(More::Flag("/meta/has_next_page")),
                    },
                ),
            ),
            ("link header", Paging::new("", Next::LinkHeader)),
            (
                "next link",
                Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
            ),
        ]
    }

    /// Page `n` of a listing that never ends, in `paging`'s style: its
    /// items (`n` and `n + 0.5`), and whatever says there is another page.
    fn endless_page(paging: &Paging, n: u32) -> (HeaderMap, Vec<u8>) {
        let items = json!([n, f64::from(n) + 0.5]);
        let next = format!("https://s.example/list?p={}", n + 1);
        match paging.next {
            Next::Offset { .. } => (no_headers(), body(json!({"items": items, "hasMore": true}))),
            Next::PageNumber { .. } => (
                no_headers(),
                body(json!({"data": items, "pagination": {"next_page": n + 1}})),
            ),
            Next::Cursor { more: None, .. } => (
                no_headers(),
                body(json!({"users": items, "nextPageToken": format!("t{n}")})),
            ),
            Next::Cursor { .. } => (
                no_headers(),
                body(
                    json!({"data": items, "meta": {"end_cursor": format!("c{n}"), "has_next_page": true}}),
                ),
            ),
            Next::LinkHeader => (link(&next), body(items)),
            Next::UrlAt(_) => (
                no_headers(),
                body(json!({"value": items, "@odata.nextLink": next})),
            ),
            Next::None => unreachable!("not a paged style"),
        }
    }

    #[test]
    fn every_style_stops_at_the_page_limit() {
        for (style, paging) in paged_styles() {
            let paging = Paging {
                max_pages: 3,
                ..paging
            };
            let mut p = Pages::new(url("https://s.example/list?limit=2"), paging.clone());
            for n in 1..=2 {
                let (headers, page) = endless_page(&paging, n);
                assert_eq!(p.accept(&headers, &page).map(|i| i.len()), Ok(2), "{style}");
            }
            let (headers, page) = endless_page(&paging, 3);
            assert_eq!(
                p.accept(&headers, &page),
                Err(PagingError::TooManyPages { limit: 3 }),
                "{style}"
            );
        }
    }

    #[test]
    fn every_style_stops_on_a_page_that_repeats_the_one_before() {
        // The server ignores where the walk is and answers the first page
        // again, with something that differs each time (a request id, a
        // time), so only the items tell the two apart.
        for (style, paging) in paged_styles() {
            let mut p = Pages::new(url("https://s.example/list?limit=2"), paging.clone());
            let stamped = |page: Vec<u8>, n: u32| {
                let mut v: Value = serde_json::from_slice(&page).unwrap();
                if let Some(o) = v.as_object_mut() {
                    o.insert("requestId".into(), json!(format!("r{n}")));
                }
                body(v)
            };
            let (headers, first) = endless_page(&paging, 1);
            p.accept(&headers, &stamped(first.clone(), 1)).unwrap();
            // Same items, a fresh next page (a cursor or link that moves).
            let (headers, second) = endless_page(&paging, 2);
            let mut v: Value = serde_json::from_slice(&second).unwrap();
            let items: Value = serde_json::from_slice(&first).unwrap();
            let same_items = |v: &Value| v.pointer(paging.items).cloned().unwrap();
            match v.pointer_mut(paging.items) {
                Some(slot) => *slot = same_items(&items),
                None => unreachable!(),
            }
            let err = p.accept(&headers, &stamped(body(v), 2)).unwrap_err();
            assert_eq!(err, PagingError::RepeatedPage { page: 2 }, "{style}");
        }
    }

    #[test]
    fn a_repeated_cursor_stops_the_walk() {
        let paging = Paging::new(
            "/users",
            Next::Cursor {
                token_at: "/nextPageToken",
                param: "pageToken",
                more: None,
            },
        );
        let mut p = Pages::new(url("https://g.example/users?maxResults=2"), paging);
        p.accept(
            &no_headers(),
            &body(json!({"users": [1], "nextPageToken": "a"})),
        )
        .unwrap();
        p.accept(
            &no_headers(),
            &body(json!({"users": [2], "nextPageToken": "b"})),
        )
        .unwrap();
        // Back to the second page's cursor: the walk would go round for ever.
        let err = p
            .accept(
                &no_headers(),
                &body(json!({"users": [3], "nextPageToken": "a"})),
            )
            .unwrap_err();
        assert!(matches!(err, PagingError::RepeatedUrl { .. }), "{err:?}");
    }

    #[test]
    fn a_link_header_to_another_origin_or_scheme_is_refused() {
        for next in [
            "https://evil.example/api/v1/users?after=2",
            "http://o.example/api/v1/users?after=2",
            "https://o.example:8443/api/v1/users?after=2",
        ] {
            let mut p = Pages::new(
                url("https://o.example/api/v1/users"),
                Paging::new("", Next::LinkHeader),
            );
            let err = p.accept(&link(next), &body(json!([1]))).unwrap_err();
            assert!(
                matches!(err, PagingError::OtherOrigin { .. }),
                "{next}: {err:?}"
            );
        }
    }

    #[test]
    fn empty_pages_with_a_next_link_or_cursor_are_followed() {
        // Graph documents empty pages in the middle of a listing.
        let mut p = Pages::new(
            url("https://graph.example/v1.0/users"),
            Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
        );
        let empty = |n: u32| {
            body(
                json!({"value": [], "@odata.nextLink": format!("https://graph.example/v1.0/users?skip={n}")}),
            )
        };
        assert_eq!(p.accept(&no_headers(), &empty(1)), Ok(vec![]));
        assert_eq!(p.accept(&no_headers(), &empty(2)), Ok(vec![]));
        assert_eq!(
            p.accept(&no_headers(), &body(json!({"value": [1]}))),
            Ok(vec![json!(1)])
        );
        assert!(p.next_url().is_none());
    }

    #[test]
    fn fields_of_the_wrong_type_stop_the_walk_in_every_style() {
        let cases: Vec<(Paging, Value)> = vec![
            // SuiteQL's hasMore as text.
            (
                Paging::new(
                    "/items",
                    Next::Offset {
                        param: "offset",
                        more: More::Flag("/hasMore"),
                    },
                ),
                json!({"items": [1], "hasMore": "true"}),
            ),
            // @odata.nextLink as a number, or as an object.
            (
                Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
                json!({"value": [1], "@odata.nextLink": 2}),
            ),
            (
                Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
                json!({"value": [1], "@odata.nextLink": {"href": "x"}}),
            ),
            // The items as an object, a text, a number.
            (
                Paging::new(
                    "/data",
                    Next::PageNumber {
                        param: "page",
                        first: 1,
                        more: More::Present("/pagination/next_page"),
                    },
                ),
                json!({"data": {"0": 1}, "pagination": {"next_page": 2}}),
            ),
            (
                Paging::new(
                    "/users",
                    Next::Cursor {
                        token_at: "/nextPageToken",
                        param: "pageToken",
                        more: None,
                    },
                ),
                json!({"users": "1,2", "nextPageToken": "a"}),
            ),
            (Paging::new("", Next::LinkHeader), json!({"id": 1})),
            // A has_next_page of 1.
            (
                Paging::new(
                    "/data",
                    Next::Cursor {
                        token_at: "/meta/end_cursor",
                        param: "after",
                        more: Some(More::Flag("/meta/has_next_page")),
                    },
                ),
                json!({"data": [1], "meta": {"end_cursor": "c", "has_next_page": 1}}),
            ),
        ];
        for (paging, page) in cases {
            let mut p = Pages::new(url("https://s.example/list"), paging);
            let result = p.accept(&no_headers(), &body(page.clone()));
            assert!(
                matches!(
                    result,
                    Err(PagingError::UnexpectedValue { page: 1, .. }
                        | PagingError::BadNextLink { page: 1, .. }
                        | PagingError::NoList { page: 1, .. })
                ),
                "{page}: {result:?}"
            );
            assert!(p.next_url().is_none(), "{page}: the walk goes no further");
        }
    }
}
