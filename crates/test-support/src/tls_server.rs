//! A real TLS endpoint on loopback (`openssl s_server`), presenting the
//! certificate a test chooses ([`Certificate`]), for testing what the HTTP
//! clients say when a certificate is refused and that `SSL_CERT_FILE` makes
//! a private CA trusted.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::slapd::{make_certificates_for, run};

/// The certificate a [`TlsServer`] presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Certificate {
    /// Issued by a throw-away CA for these subject alternative names
    /// (`IP:127.0.0.1`, or `DNS:example.org` for a name that does not match).
    IssuedFor(&'static str),
    /// Self-signed for 127.0.0.1 as `openssl req -x509` makes one: a CA
    /// certificate (`basicConstraints CA:TRUE`) serving as the server's own.
    SelfSignedCa,
    /// Issued by the throw-away CA for 127.0.0.1, valid only on 1 January 2020.
    Expired,
}

/// `openssl s_server -www`: completes TLS handshakes and answers any GET with
/// an HTML status page (never what an API client expects).
pub struct TlsServer {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    certificate: Certificate,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsServer {
    /// A server whose certificate, from a throw-away CA, names `alt_names`.
    pub fn start(alt_names: &'static str) -> Self {
        Self::presenting(Certificate::IssuedFor(alt_names))
    }

    /// A server presenting `certificate`.
    pub fn presenting(certificate: Certificate) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let d = dir.path();
        let p = |f: &str| d.join(f).display().to_string();
        match certificate {
            Certificate::IssuedFor(alt_names) => make_certificates_for(d, alt_names),
            Certificate::SelfSignedCa => run(
                Command::new("openssl").args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-keyout",
                    &p("server.key"),
                    "-out",
                    &p("server.pem"),
                ]),
                "openssl (self-signed certificate)",
            ),
            Certificate::Expired => {
                make_certificates_for(d, "IP:127.0.0.1");
                // `openssl ca` is the tool of OpenSSL 3.0 that sets both dates.
                std::fs::write(d.join("index.txt"), "").expect("index.txt");
                std::fs::write(d.join("serial"), "1000\n").expect("serial");
                std::fs::write(
                    d.join("ca.cnf"),
                    format!(
                        "[ca]\ndefault_ca = test\n[test]\ndatabase = {}\nnew_certs_dir = {}\n\
                         serial = {}\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n",
                        p("index.txt"),
                        d.display(),
                        p("serial")
                    ),
                )
                .expect("ca.cnf");
                run(
                    Command::new("openssl").args([
                        "ca",
                        "-batch",
                        "-notext",
                        "-config",
                        &p("ca.cnf"),
                        "-cert",
                        &p("ca.pem"),
                        "-keyfile",
                        &p("ca.key"),
                        "-in",
                        &p("server.csr"),
                        "-extfile",
                        &p("server.ext"),
                        "-startdate",
                        "20200101000000Z",
                        "-enddate",
                        "20200102000000Z",
                        "-out",
                        &p("server.pem"),
                    ]),
                    "openssl ca (expired certificate)",
                );
            }
        }
        // Port 0: the server binds a port of its own and prints it
        // (`ACCEPT 127.0.0.1:<port>`) before it accepts anything.
        let out = d.join("s_server.out");
        let mut child = Command::new("openssl")
            .args(["s_server", "-www", "-accept", "127.0.0.1:0"])
            .arg("-cert")
            .arg(d.join("server.pem"))
            .arg("-key")
            .arg(d.join("server.key"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("s_server's output file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server starts (scripts/test installs openssl)");
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if let Some(port) = text
                .lines()
                .find_map(|l| l.strip_prefix("ACCEPT 127.0.0.1:"))
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                break port;
            }
            let exited = child.try_wait().ok().flatten().is_some();
            assert!(
                Instant::now() < deadline && !exited,
                "openssl s_server did not listen: {text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            child,
            dir,
            port,
            certificate,
        }
    }

    /// `https://127.0.0.1:<port>` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The certificate to trust through `SSL_CERT_FILE`: the CA that signed
    /// the server's certificate, or the self-signed certificate itself.
    pub fn ca_file(&self) -> PathBuf {
        match self.certificate {
            Certificate::SelfSignedCa => self.dir.path().join("server.pem"),
            _ => self.dir.path().join("ca.pem"),
        }
    }
}
