//! A request as data: what to send, with which credentials, and whether it is
//! safe to send again.

use std::time::Duration;

use reqwest::Method;
use scim_core::Secret;
use serde_json::Value;
use url::Url;

/// Whether a request may be sent again after a failure that left its
/// outcome unknown (a timeout or a broken connection after it was sent, a
/// gateway error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, and writes that set a value: sending twice does what sending once does.
    Safe,
    /// Writes that create something (a group, an invitation): a second copy
    /// could create a second one. Sent again only when it certainly did not
    /// reach the server (no connection, 429).
    Unsafe,
}

/// A status the service uses for a refusal that passes (TimeCamp answers 403
/// to a group creation right after other changes), retried with waits of
/// `step`, `2 × step`, ... up to `attempts` tries in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransientRefusal {
    pub status: u16,
    pub attempts: u32,
    pub step: Duration,
}

#[derive(Clone)]
pub(crate) enum Auth {
    None,
    Bearer(Secret),
    Basic {
        user: String,
        password: Secret,
    },
    /// A header whose whole value is secret (`Authorization: SSWS …`, `x-api-key`).
    Header {
        name: &'static str,
        value: Secret,
    },
}

#[derive(Clone)]
pub(crate) enum Body {
    None,
    Json(Value),
    /// Form fields; values are secrets (a client secret), none is logged.
    Form(Vec<(&'static str, Secret)>),
}

/// One HTTP request, cheap to clone (paging sends copies with other URLs).
#[derive(Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) call: String,
    pub(crate) auth: Auth,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Body,
    pub(crate) repeat: Repeat,
    pub(crate) not_found_is_an_answer: bool,
    pub(crate) transient: Option<TransientRefusal>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("call", &self.call)
            .field("repeat", &self.repeat)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A request safe to repeat, named `call` in messages ("GET group",
    /// "the employee search").
    pub fn new(method: Method, url: Url, call: impl Into<String>) -> Self {
        Self {
            method,
            url,
            call: call.into(),
            auth: Auth::None,
            headers: Vec::new(),
            body: Body::None,
            repeat: Repeat::Safe,
            not_found_is_an_answer: false,
            transient: None,
        }
    }

    pub fn get(url: Url, call: impl Into<String>) -> Self {
        Self::new(Method::GET, url, call)
    }

    pub fn post(url: Url, call: impl Into<String>) -> Self {
        Self::new(Method::POST, url, call)
    }

    pub fn bearer(mut self, token: &Secret) -> Self {
        self.auth = Auth::Bearer(token.clone());
        self
    }

    pub fn basic(mut self, user: &str, password: &Secret) -> Self {
        self.auth = Auth::Basic {
            user: user.to_owned(),
            password: password.clone(),
        };
        self
    }

    /// A credential sent as a whole header value (`x-api-key: …`,
    /// `Authorization: SSWS …`).
    pub fn secret_header(mut self, name: &'static str, value: Secret) -> Self {
        self.auth = Auth::Header { name, value };
        self
    }

    /// A header that is no secret.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    /// An `application/x-www-form-urlencoded` body; the values may be secrets.
    pub fn form(mut self, fields: Vec<(&'static str, Secret)>) -> Self {
        self.body = Body::Form(fields);
        self
    }

    /// Marks the request as one that must not be sent twice ([`Repeat::Unsafe`]).
    pub fn unsafe_to_repeat(mut self) -> Self {
        self.repeat = Repeat::Unsafe;
        self
    }

    /// A 404 is an answer of the API here ("no such user"), not a sign of a
    /// wrong URL: its message does not point at the URL settings.
    pub fn not_found_is_an_answer(mut self) -> Self {
        self.not_found_is_an_answer = true;
        self
    }

    /// Retries a status the service uses for refusals that pass.
    pub fn transient_refusal(mut self, refusal: TransientRefusal) -> Self {
        self.transient = Some(refusal);
        self
    }

    /// The same request to another URL, named `call` (the next page).
    pub fn to(&self, url: Url, call: impl Into<String>) -> Self {
        Self {
            url,
            call: call.into(),
            ..self.clone()
        }
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn call(&self) -> &str {
        &self.call
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn repeat(&self) -> Repeat {
        self.repeat
    }
}
