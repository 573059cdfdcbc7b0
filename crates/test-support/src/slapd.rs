//! A real OpenLDAP server for tests: `slapd` from Debian (`.ci/run` installs
//! `slapd`, `ldap-utils` and `openssl`), started on loopback ports held for
//! it with its own temporary database, and stopped on drop.
//!
//! slapd cannot bind port 0 (it reads `ldap://host:0/` as the default port
//! 389) nor take a listening socket from its parent, so its two ports are
//! [`ReservedPort`]s: held by this process until slapd listens on them, so no
//! other test can take them in between (slapd binds with `SO_REUSEADDR`).
//!
//! It carries the Active Directory attributes fetch-ldap reads (a small schema:
//! `sAMAccountName`, `userAccountControl`, `objectGUID`, `department`), the
//! `memberof` overlay, and TLS with a throw-away CA for LDAPS and StartTLS.
//! Entries are added online with `ldapadd`, so the overlay maintains `memberOf`.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ReservedPort;

pub const LDAP_BASE: &str = "dc=corp,dc=local";
pub const LDAP_ADMIN_DN: &str = "cn=admin,dc=corp,dc=local";
pub const LDAP_ADMIN_PASSWORD: &str = "admin-secret-7q";
/// A plain user, subject to the server's size limit of 10 entries per search
/// (paged searches may go on): reading more than 10 users needs paging.
pub const LDAP_READER_DN: &str = "cn=reader,dc=corp,dc=local";
pub const LDAP_READER_PASSWORD: &str = "reader-secret-3k";

/// Active Directory's attributes, under a private test OID arc.
const AD_SCHEMA: &str = r#"
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'objectGUID'
  EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.4 NAME 'department'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'adUser' AUXILIARY
  MAY ( sAMAccountName $ userAccountControl $ objectGUID $ department ) )
"#;

/// A running slapd.
pub struct Slapd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    tls_port: u16,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: cannot start ({e}); .ci/run installs slapd, ldap-utils and openssl")
    });
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for `localhost` / 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) {
    make_certificates_for(dir, "DNS:localhost,IP:127.0.0.1");
}

/// A CA (`ca.pem`) and a server certificate (`server.pem`, `server.key`)
/// signed by it for the given subjectAltName list.
pub(crate) fn make_certificates_for(dir: &Path, alt_names: &str) {
    let p = |f: &str| dir.join(f).display().to_string();
    run(
        Command::new("openssl").args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=timecamp-scim test CA",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
        ]),
        "openssl (CA)",
    );
    run(
        Command::new("openssl").args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
        ]),
        "openssl (server key)",
    );
    std::fs::write(
        dir.join("server.ext"),
        format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName={alt_names}\n"
        ),
    )
    .expect("write server.ext");
    run(
        Command::new("openssl").args([
            "x509",
            "-req",
            "-in",
            &p("server.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &p("server.ext"),
            "-out",
            &p("server.pem"),
        ]),
        "openssl (server certificate)",
    );
}

impl Slapd {
    /// Starts an empty directory with the base entry `dc=corp,dc=local`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let d = dir.path();
        make_certificates(d);
        std::fs::create_dir(d.join("db")).expect("db directory");
        std::fs::write(d.join("ad.schema"), AD_SCHEMA).expect("schema");
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include {dir}/ad.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             moduleload memberof\n\
             pidfile {dir}/slapd.pid\n\
             TLSCACertificateFile {dir}/ca.pem\n\
             TLSCertificateFile {dir}/server.pem\n\
             TLSCertificateKeyFile {dir}/server.key\n\
             sizelimit 500\n\
             database mdb\n\
             maxsize 104857600\n\
             suffix \"{LDAP_BASE}\"\n\
             rootdn \"{LDAP_ADMIN_DN}\"\n\
             rootpw {LDAP_ADMIN_PASSWORD}\n\
             directory {dir}/db\n\
             index objectClass eq\n\
             limits users size.soft=10 size.hard=10 size.prtotal=unlimited\n\
             overlay memberof\n",
            dir = d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf).expect("slapd.conf");
        // Held until slapd listens on both (see the module's documentation).
        let (held, held_tls) = (ReservedPort::new(), ReservedPort::new());
        let (port, tls_port) = (held.port(), held_tls.port());
        let urls = format!("ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/");
        let log = std::fs::File::create(d.join("slapd.log")).expect("log file");
        let child = Command::new("/usr/sbin/slapd")
            .args(["-d", "0", "-f"])
            .arg(d.join("slapd.conf"))
            .args(["-h", &urls])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start /usr/sbin/slapd ({e}); .ci/run installs it"));
        let mut server = Self {
            child,
            dir,
            port,
            tls_port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err()
            || TcpStream::connect(("127.0.0.1", tls_port)).is_err()
        {
            let exited = server.child.try_wait().ok().flatten().is_some();
            assert!(
                Instant::now() < deadline && !exited,
                "slapd did not start:\n{}",
                std::fs::read_to_string(server.dir.path().join("slapd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        drop((held, held_tls));
        server.add(&format!(
            "dn: {LDAP_BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: corp\no: Corp\n\n\
             dn: {LDAP_READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
             cn: reader\nuserPassword: {LDAP_READER_PASSWORD}\n"
        ));
        server
    }

    /// `LDAP_HOST` value (the certificate is for `localhost`).
    pub fn host(&self) -> &'static str {
        "localhost"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The LDAPS port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The CA that signed the server certificate (for `SSL_CERT_FILE`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Adds entries (LDIF) as the directory's administrator.
    pub fn add(&self, ldif: &str) {
        let mut child = Command::new("ldapadd")
            .args([
                "-x",
                "-H",
                &format!("ldap://127.0.0.1:{}", self.port),
                "-D",
                LDAP_ADMIN_DN,
                "-w",
                LDAP_ADMIN_PASSWORD,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ldapadd (ldap-utils)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ldif.as_bytes())
            .expect("write LDIF");
        let out = child.wait_with_output().expect("ldapadd");
        assert!(
            out.status.success(),
            "ldapadd failed: {}\n{ldif}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server (to break a fetch in the middle).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
