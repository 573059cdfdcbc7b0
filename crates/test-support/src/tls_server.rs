//! A real TLS endpoint on loopback (`openssl s_server`), with a certificate
//! from a throw-away CA, for testing what the HTTP clients say when a
//! certificate is refused and that `SSL_CERT_FILE` makes it trusted.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::slapd::{free_port, make_certificates_for};

/// `openssl s_server -www`: completes TLS handshakes and answers any GET with
/// an HTML status page (never what an API client expects).
pub struct TlsServer {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsServer {
    /// A server whose certificate names `alt_names` (e.g. `IP:127.0.0.1`,
    /// or `DNS:example.org` for a name that does not match).
    pub fn start(alt_names: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        make_certificates_for(dir.path(), alt_names);
        let port = free_port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(dir.path().join("server.pem"))
            .arg("-key")
            .arg(dir.path().join("server.key"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server starts (scripts/test installs openssl)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, dir, port }
    }

    /// `https://127.0.0.1:<port>` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The CA that signed the server certificate (for `SSL_CERT_FILE`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}
