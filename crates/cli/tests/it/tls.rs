//! What the HTTP stages say when a server's certificate is refused: which
//! host, why, and what to set; no retries, since a retry cannot fix it. The
//! server is a real TLS endpoint presenting a certificate from a private CA,
//! a self-signed CA certificate as `openssl req -x509` makes one, an expired
//! one, or no TLS at all.

use scim_test_support::{Certificate, FakeTimecamp, Project, Run, TlsServer};
use serde_json::json;

const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const BAMBOO: &str = env!("CARGO_BIN_EXE_fetch-bamboohr");
const AZURE: &str = env!("CARGO_BIN_EXE_fetch-azuread");

fn sync_against(server_url: &str) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("TIMECAMP_API_URL", server_url)
        .env("TIMECAMP_API_KEY", "tc-key")
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .prepared(
            &json!([{"timecamp_email": "a@x.com", "timecamp_status": "active",
                           "timecamp_user_name": "A", "timecamp_groups_breadcrumb": "",
                           "timecamp_role": "user"}]),
        )
}

fn assert_not_retried(run: &Run) {
    assert!(
        !run.stderr.contains("retrying"),
        "a certificate problem is not retried:\n{}",
        run.stderr
    );
}

#[test]
fn untrusted_certificate_stops_sync_at_once_naming_host_reason_and_settings() {
    let server = TlsServer::start("IP:127.0.0.1");
    let run = sync_against(&server.url("/third_party/api")).run(SYNC, &[]);
    run.expect_code(1)
        .expect_stderr("TLS connection to 127.0.0.1:")
        .expect_stderr(
            "self-signed or issued by a certificate authority this machine does not trust",
        )
        .expect_stderr("SSL_CERT_FILE")
        .expect_stderr("TIMECAMP_SSL_VERIFY=false");
    assert_not_retried(&run);
}

/// `.env` is never applied to the process environment, but the TLS
/// libraries read `SSL_CERT_FILE` from there: set in `.env`, it is trusted
/// all the same.
#[test]
fn private_ca_in_ssl_cert_file_set_in_dotenv_is_trusted() {
    let server = TlsServer::start("IP:127.0.0.1");
    let ca = server.ca_file().display().to_string();
    let run = sync_against(&server.url("/third_party/api"))
        .file(".env", format!("SSL_CERT_FILE={ca}\n"))
        .run(SYNC, &[]);
    run.expect_code(1);
    assert!(!run.stderr.contains("TLS connection"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unexpected answer") || run.stderr.contains("HTTP "),
        "{}",
        run.stderr
    );
}

#[test]
fn private_ca_in_ssl_cert_file_is_trusted() {
    let server = TlsServer::start("IP:127.0.0.1");
    let ca = server.ca_file().display().to_string();
    let run = sync_against(&server.url("/third_party/api"))
        .env("SSL_CERT_FILE", &ca)
        .run(SYNC, &[]);
    // The handshake succeeds; the test server is no TimeCamp, so the answer is wrong.
    run.expect_code(1);
    assert!(!run.stderr.contains("TLS connection"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unexpected answer") || run.stderr.contains("HTTP "),
        "{}",
        run.stderr
    );
}

#[test]
fn certificate_for_another_name_is_named_as_such() {
    let server = TlsServer::start("DNS:example.org");
    let ca = server.ca_file().display().to_string();
    let run = sync_against(&server.url("/third_party/api"))
        .env("SSL_CERT_FILE", &ca)
        .run(SYNC, &[]);
    run.expect_code(1)
        .expect_stderr("certificate is issued for another host name")
        .expect_stderr("SSL_CERT_FILE only adds trusted CAs")
        .expect_stderr("TIMECAMP_SSL_VERIFY=false");
    assert_not_retried(&run);
}

#[test]
fn a_self_signed_ca_certificate_is_named_with_what_to_do() {
    // `openssl req -x509` makes a CA certificate; TLS clients refuse one as a
    // server's own certificate, even when it is trusted through SSL_CERT_FILE.
    let server = TlsServer::presenting(Certificate::SelfSignedCa);
    let ca = server.ca_file().display().to_string();
    for trusted in [false, true] {
        let mut p = sync_against(&server.url("/third_party/api"));
        if trusted {
            p = p.env("SSL_CERT_FILE", &ca);
        }
        let run = p.run(SYNC, &[]);
        run.expect_code(1)
            .expect_stderr("TLS connection to 127.0.0.1:")
            .expect_stderr("its certificate is a CA certificate")
            .expect_stderr("set SSL_CERT_FILE")
            .expect_stderr("TIMECAMP_SSL_VERIFY=false");
        assert_not_retried(&run);
    }
    // The switch does turn the check off.
    let run = sync_against(&server.url("/third_party/api"))
        .env("TIMECAMP_SSL_VERIFY", "false")
        .run(SYNC, &[]);
    assert!(!run.stderr.contains("TLS connection"), "{}", run.stderr);
}

#[test]
fn an_expired_certificate_is_named_as_such() {
    let server = TlsServer::presenting(Certificate::Expired);
    let ca = server.ca_file().display().to_string();
    let run = sync_against(&server.url("/third_party/api"))
        .env("SSL_CERT_FILE", &ca)
        .run(SYNC, &[]);
    run.expect_code(1)
        .expect_stderr("its certificate has expired")
        .expect_stderr("SSL_CERT_FILE")
        .expect_stderr("TIMECAMP_SSL_VERIFY=false");
    assert_not_retried(&run);
    let run = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("BAMBOOHR_API_URL", &server.url("/api/gateway.php"))
        .env("BAMBOOHR_SUBDOMAIN", "acme")
        .env("BAMBOOHR_API_KEY", "bamboo-key")
        .env("SSL_CERT_FILE", &ca)
        .run(BAMBOO, &[]);
    run.expect_code(1)
        .expect_stderr("its certificate has expired")
        .expect_stderr("SSL_CERT_FILE");
    assert!(!run.stderr.contains("_SSL_VERIFY"), "{}", run.stderr);
}

#[test]
fn plain_http_behind_https_is_named_as_such() {
    let fake = FakeTimecamp::start(10);
    let run = sync_against(&fake.url().replace("http://", "https://")).run(SYNC, &[]);
    run.expect_code(1)
        .expect_stderr("does not speak TLS on that port")
        .expect_stderr("Use http:// in the URL")
        .expect_stderr("SSL_CERT_FILE");
    assert_not_retried(&run);
}

#[test]
fn fetch_bamboohr_names_the_certificate_problem_not_a_generic_send_error() {
    let server = TlsServer::start("IP:127.0.0.1");
    let run = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("BAMBOOHR_API_URL", &server.url("/api/gateway.php"))
        .env("BAMBOOHR_SUBDOMAIN", "acme")
        .env("BAMBOOHR_API_KEY", "bamboo-key")
        .run(BAMBOO, &[]);
    run.expect_code(1)
        .expect_stderr("TLS connection to 127.0.0.1:")
        .expect_stderr("SSL_CERT_FILE");
    assert!(
        !run.stderr.contains("error sending request"),
        "{}",
        run.stderr
    );
    assert_not_retried(&run);
}

#[test]
fn fetch_azuread_does_not_blame_the_credentials_for_a_tls_failure() {
    let server = TlsServer::start("IP:127.0.0.1");
    let run = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("AZURE_LOGIN_URL", &server.url(""))
        .env("AZURE_GRAPH_URL", &server.url(""))
        .env("AZURE_TENANT_ID", "tenant")
        .env("AZURE_CLIENT_ID", "client")
        .env("AZURE_CLIENT_SECRET", "azure-secret")
        .run(AZURE, &[]);
    run.expect_code(1)
        .expect_stderr("TLS connection to 127.0.0.1:")
        .expect_stderr("SSL_CERT_FILE");
    let errors = run.error_lines();
    assert!(
        errors.iter().all(|l| !l.contains("AZURE_CLIENT_SECRET")),
        "{errors:?}"
    );
    assert!(!run.stderr.contains("azure-secret"), "{}", run.stderr);
}

#[test]
fn connection_refused_is_said_in_plain_words() {
    // A port nobody listens on, held for the test so nothing else can.
    let nobody = scim_test_support::ReservedPort::new();
    let port = nobody.port();
    let run = Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env(
            "BAMBOOHR_API_URL",
            &format!("http://127.0.0.1:{port}/api/gateway.php"),
        )
        .env("BAMBOOHR_SUBDOMAIN", "acme")
        .env("BAMBOOHR_API_KEY", "bamboo-key")
        .run(BAMBOO, &[]);
    run.expect_code(1).expect_stderr("onnection refused");
}
