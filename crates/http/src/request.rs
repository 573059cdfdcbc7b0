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

    /// The texts of this request's credentials, in every form a server could
    /// echo back (a proxy or a debugging endpoint that repeats the request's
    /// headers in its error page): the token, the password, the whole header
    /// value and the encoded `user:password` of Basic. Messages hide them
    /// ([`Hidden`]), because a message goes to logs and to the alert webhook,
    /// another host.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(token) => found.push(token.expose().to_owned()),
            Auth::Basic { user, password } => {
                // BambooHR's key is the user name, with any password.
                found.push(user.clone());
                found.push(password.expose().to_owned());
                found.push(base64(format!("{user}:{}", password.expose()).as_bytes()));
            }
            Auth::Header { value, .. } => {
                // `SSWS <token>`: the token may be echoed without its scheme.
                found.push(value.expose().to_owned());
                found.extend(value.expose().split_whitespace().map(str::to_owned));
            }
        }
        if let Body::Form(fields) = &self.body {
            for (_, value) in fields {
                found.push(value.expose().to_owned());
                // As it went on the wire: `a+b/c=` is sent as `a%2Bb%2Fc%3D`.
                found.push(
                    url::form_urlencoded::byte_serialize(value.expose().as_bytes()).collect(),
                );
            }
        }
        if let Some(password) = self.url.password() {
            found.push(password.to_owned());
        }
        found
    }
}

/// Credentials shorter than this are not looked for in messages: so short a
/// value would also match ordinary words (BambooHR's password is `x`), and
/// the services issue none so short.
const MIN_SECRET_CHARS: usize = 8;

/// Texts to hide from messages (a request's credentials); never shown
/// themselves, not even by `Debug`.
#[derive(Clone, Default)]
pub(crate) struct Hidden(Vec<String>);

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[hidden]")
    }
}

impl Hidden {
    /// The texts of `found` long enough to be looked for, longest first (a
    /// value is hidden whole before any part of it), each once.
    pub(crate) fn new(mut found: Vec<String>) -> Self {
        found.retain(|s| s.chars().count() >= MIN_SECRET_CHARS);
        found.sort_by_key(|s| std::cmp::Reverse(s.len()));
        found.dedup();
        Self(found)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every occurrence of each hidden text replaced by `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        self.0.iter().fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "***")
        })
    }
}

/// Standard base64 with padding, as HTTP Basic credentials are encoded.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_encoded_as_http_sends_them() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"evil:pw"), "ZXZpbDpwdw==");
    }

    #[test]
    fn every_form_of_a_credential_is_hidden_but_short_values_are_not() {
        let url = Url::parse("https://h.example/x").unwrap();
        let basic = Request::get(url.clone(), "c").basic("0123456789abcdef", &Secret::new("x"));
        let text = "echo: Basic MDEyMzQ1Njc4OWFiY2RlZjp4 user 0123456789abcdef x";
        assert_eq!(
            Hidden::new(basic.secrets()).redact(text),
            "echo: Basic *** user *** x"
        );
        let okta = Request::get(url, "c")
            .secret_header("authorization", Secret::new("SSWS 00abcdefghijkl"));
        assert_eq!(
            Hidden::new(okta.secrets()).redact("got SSWS 00abcdefghijkl, token 00abcdefghijkl"),
            "got ***, token ***"
        );
        let token = Request::post(Url::parse("https://login.example/t").unwrap(), "c")
            .form(vec![("client_secret", Secret::new("s3cr+t/value=="))]);
        assert_eq!(
            Hidden::new(token.secrets())
                .redact("body: client_secret=s3cr%2Bt%2Fvalue%3D%3D, or s3cr+t/value=="),
            "body: client_secret=***, or ***"
        );
    }
}
