//! Test helpers shared by the integration suites.
//!
//! - [`Project`]: a throw-away working directory in which a stage binary runs with
//!   exactly the environment the test gives it.
//! - [`FakeTimecamp`]: a stateful TimeCamp API on loopback that behaves like the
//!   real one as its documentation and clients show it (string ids, an invite that does not return
//!   the user, throttling, the group depth limit), with switches for faults.
//! - [`FakeBambooHr`]: BambooHR's dataset API, paged, filtered and throttled.
//! - [`FakeFactorial`]: Factorial's teams, employees and leaves, cursor-paged.
//! - [`FakeGraph`]: Entra ID's token endpoint and Microsoft Graph users and groups.
//! - [`FakeHibob`]: HiBob's people search, with field selection and filters.
//! - [`FakeOkta`]: Okta's users and groups, `Link`-paged and rate-limited.
//! - [`FakeNetsuite`]: NetSuite's token endpoint (a certificate-signed JWT
//!   assertion, verified) and SuiteQL, paged by `offset` and `hasMore`.
//! - [`FakeGoogle`]: Google's service-account token endpoint (an RS256 JWT,
//!   verified) and the Directory API's users, paged by `nextPageToken`.
//! - [`FakePersonio`]: Personio's API v2: token, persons, employments and
//!   departments, cursor-paged.
//! - [`TestKey`]: throw-away RSA, P-256 and P-521 keys for signed JWTs.
//! - [`MotoServer`]: a real S3-compatible server (moto) on loopback.
//! - [`Slapd`]: a real OpenLDAP server on loopback, with TLS and `memberOf`.
//! - [`TlsServer`]: a real TLS endpoint (`openssl s_server`) with a private CA.
//! - [`WebhookReceiver`]: keeps the alerts a stage POSTs, and records any request
//!   that reaches it (to show a credential did not).
//! - [`ReservedPort`]: a loopback port held for a test, for servers that
//!   cannot bind port 0 and for "nobody listens here".
//! - [`browser`]: headless Chromium running the HTML pages the stages write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
mod fake_bamboohr;
mod fake_factorial;
mod fake_google;
mod fake_graph;
mod fake_hibob;
mod fake_netsuite;
mod fake_okta;
mod fake_personio;
mod fake_timecamp;
mod jwt;
mod moto;
mod ports;
mod project;
mod slapd;
mod tls_server;
mod webhook;

pub use fake_bamboohr::{BAMBOOHR_KEY, BAMBOOHR_SUBDOMAIN, FakeBambooHr};
pub use fake_factorial::{FACTORIAL_KEY, FakeFactorial};
pub use fake_google::{FakeGoogle, GOOGLE_ADMIN, GOOGLE_SERVICE_ACCOUNT};
pub use fake_graph::{AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT, FakeGraph};
pub use fake_hibob::{FakeHibob, HIBOB_SERVICE_USER, HIBOB_TOKEN};
pub use fake_netsuite::{
    FakeNetsuite, NETSUITE_ACCOUNT, NETSUITE_CERTIFICATE_ID, NETSUITE_CLIENT_ID,
};
pub use fake_okta::{FakeOkta, OKTA_TOKEN};
pub use fake_personio::{FakePersonio, PERSONIO_CLIENT_ID, PERSONIO_CLIENT_SECRET};
pub use fake_timecamp::{FakeTimecamp, Recorded, TOKEN};
pub use jwt::TestKey;
pub use moto::MotoServer;
pub use ports::ReservedPort;
pub use project::{Project, Run, binary};
pub use slapd::{
    LDAP_ADMIN_DN, LDAP_ADMIN_PASSWORD, LDAP_BASE, LDAP_READER_DN, LDAP_READER_PASSWORD, Slapd,
};
pub use tls_server::{Certificate, TlsServer};
pub use webhook::{Received, WebhookReceiver};

/// A fake's state and where it listens: what every stateful fake shares.
pub(crate) struct Served<S> {
    state: std::sync::Arc<std::sync::Mutex<S>>,
    addr: std::net::SocketAddr,
}

pub(crate) type Shared<S> = std::sync::Arc<std::sync::Mutex<S>>;

impl<S: Send + 'static> Served<S> {
    /// Serves `routes`, which take the shared state, on a free loopback port.
    pub(crate) fn start(state: S, routes: axum::Router<Shared<S>>) -> Self {
        let state = std::sync::Arc::new(std::sync::Mutex::new(state));
        let addr = serve(routes.with_state(state.clone()));
        Self { state, addr }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, S> {
        self.state.lock().unwrap()
    }

    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://` and the address.
    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Serves `app` on a free loopback port from a thread of its own, for fakes
/// that live as long as the test process.
pub(crate) fn serve(app: axum::Router) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the fake");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            tx.send(listener.local_addr().expect("its address"))
                .expect("the test waits for the address");
            axum::serve(listener, app).await.expect("the fake serves");
        });
    });
    rx.recv().expect("the fake started")
}

/// A throw-away CA (`ca.pem`) and a server certificate it signed for
/// `alt_names` (`server.pem`, `server.key`), written into `dir`.
pub fn make_certificates(dir: &std::path::Path, alt_names: &str) {
    slapd::make_certificates_for(dir, alt_names);
}

/// Standard base64 with padding (LDIF values, Basic auth in fakes).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                T[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// The record whose `field` is `value`; panics listing them all otherwise.
pub fn find<'a>(
    records: &'a [serde_json::Value],
    field: &str,
    value: &str,
) -> &'a serde_json::Value {
    records
        .iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no record with {field} = {value:?} in {records:#?}"))
}
