//! What a refused TLS connection means for the admin, for every client
//! (the HTTP services through this crate, LDAP through `ldap3`).
//!
//! A certificate problem is not a network blip: retrying it only delays the
//! message, and the message must say what to change. HTTP and LDAP libraries
//! report both as "error sending request" or "I/O error"; the cause is the
//! typed [`rustls::Error`] further down the error chain, often hidden behind
//! a [`std::io::Error`] (whose `source()` skips the error it wraps, so it is
//! read through [`std::io::Error::get_ref`]). [`classify`] finds it there; the
//! text of the chain is read only when no typed error is found (a library
//! that formats its cause into a string).

use std::error::Error;
use std::fmt;

/// Why a TLS handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate is self-signed or issued by a CA this machine does not trust.
    UntrustedIssuer,
    /// The server presents a CA certificate as its own (`openssl req -x509`
    /// makes one by default); refused even when that certificate is trusted.
    CaCertificate,
    /// The certificate is for another host name.
    WrongName,
    Expired,
    NotYetValid,
    /// The server answered in plain text (an `http://` service behind `https://`).
    NotTls,
    /// Any other handshake failure.
    Other,
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsProblem::UntrustedIssuer => {
                "its certificate is self-signed or issued by a certificate authority this machine \
                 does not trust (a private CA, or a proxy that inspects TLS)"
            }
            TlsProblem::CaCertificate => {
                "its certificate is a CA certificate (basicConstraints CA:TRUE, which `openssl req \
                 -x509` makes by default), and a CA certificate is refused as a server's own \
                 certificate even when it is trusted"
            }
            TlsProblem::WrongName => "its certificate is issued for another host name",
            TlsProblem::Expired => "its certificate has expired (or this machine's clock is wrong)",
            TlsProblem::NotYetValid => {
                "its certificate is not valid yet (check this machine's clock)"
            }
            TlsProblem::NotTls => {
                "it does not speak TLS on that port (is the URL https:// where the service is \
                 plain http://?)"
            }
            TlsProblem::Other => "the TLS handshake failed",
        })
    }
}

/// The TLS problem an error (or one of its causes) describes, if any.
pub fn classify(error: &(dyn Error + 'static)) -> Option<TlsProblem> {
    typed(error).or_else(|| classify_text(&error_chain(error)))
}

/// The typed rustls error in `error`'s chain, looking inside `io::Error`s.
fn typed(error: &(dyn Error + 'static)) -> Option<TlsProblem> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(rustls) = e.downcast_ref::<rustls::Error>() {
            return Some(from_rustls(rustls));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = typed(inner)
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn from_rustls(error: &rustls::Error) -> TlsProblem {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer | C::BadSignature => TlsProblem::UntrustedIssuer,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::WrongName,
            C::Expired | C::ExpiredContext { .. } => TlsProblem::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => TlsProblem::NotYetValid,
            C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
                Some(webpki::Error::CaUsedAsEndEntity) => TlsProblem::CaCertificate,
                _ => TlsProblem::Other,
            },
            _ => TlsProblem::Other,
        },
        rustls::Error::InvalidMessage(_) => TlsProblem::NotTls,
        _ => TlsProblem::Other,
    }
}

/// The TLS problem the text of an error chain names, for errors that carry
/// their cause only as text.
pub fn classify_text(chain: &str) -> Option<TlsProblem> {
    let has = |needle: &str| chain.contains(needle);
    if has("CaUsedAsEndEntity") {
        Some(TlsProblem::CaCertificate)
    } else if has("UnknownIssuer")
        || has("unknown issuer")
        || has("self-signed")
        || has("self signed")
    {
        Some(TlsProblem::UntrustedIssuer)
    } else if has("NotValidForName") || has("not valid for name") {
        Some(TlsProblem::WrongName)
    } else if has("certificate expired") || has("Expired") {
        Some(TlsProblem::Expired)
    } else if has("not valid yet") || has("NotValidYet") {
        Some(TlsProblem::NotYetValid)
    } else if has("InvalidContentType") || has("corrupt message") {
        Some(TlsProblem::NotTls)
    } else if has("invalid peer certificate")
        || has("received fatal alert")
        || has("peer is incompatible")
        || has("HandshakeFailure")
    {
        Some(TlsProblem::Other)
    } else {
        None
    }
}

/// A refused TLS connection, said so that an admin knows what to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRefusal {
    /// `host:port` or the URL's host.
    pub host: String,
    pub problem: TlsProblem,
    /// The switch that turns verification off for this service, if it has one.
    pub insecure_switch: Option<&'static str>,
}

impl fmt::Display for TlsRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TLS connection to {} refused: {}. ",
            self.host, self.problem
        )?;
        f.write_str(match self.problem {
            TlsProblem::UntrustedIssuer => {
                "For a private CA, set SSL_CERT_FILE to a PEM file holding it"
            }
            TlsProblem::CaCertificate => {
                "Give the server a certificate signed by a CA (CA:FALSE), and set SSL_CERT_FILE \
                 to a PEM file holding that CA"
            }
            TlsProblem::WrongName => {
                "Use the host name the certificate names in the URL, or reissue the certificate \
                 for this name (SSL_CERT_FILE only adds trusted CAs)"
            }
            TlsProblem::Expired | TlsProblem::NotYetValid => {
                "Renew the server's certificate (SSL_CERT_FILE only adds trusted CAs; it cannot \
                 make an expired certificate valid)"
            }
            TlsProblem::NotTls => {
                "Use http:// in the URL if the service is plain HTTP (certificate settings such \
                 as SSL_CERT_FILE do not apply to it)"
            }
            TlsProblem::Other => {
                "If the server uses a private CA, set SSL_CERT_FILE to a PEM file holding it"
            }
        })?;
        if let Some(switch) = self.insecure_switch
            && self.problem != TlsProblem::NotTls
        {
            write!(
                f,
                "; as a last resort, {switch}=false turns the certificate check off"
            )?;
        }
        Ok(())
    }
}

/// Every message of an error and its causes, joined with `: `.
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(next) = cur {
        let text = next.to_string();
        // Wrappers often repeat their cause; say each thing once.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = next.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn behind_io(e: rustls::Error) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("error sending request")
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_typed_rustls_error_is_found_behind_an_io_error() {
        use rustls::CertificateError as C;
        let cases = [
            (C::UnknownIssuer.into(), TlsProblem::UntrustedIssuer),
            (C::NotValidForName.into(), TlsProblem::WrongName),
            (C::Expired.into(), TlsProblem::Expired),
            (C::NotValidYet.into(), TlsProblem::NotYetValid),
            (
                C::Other(rustls::OtherError(Arc::new(
                    webpki::Error::CaUsedAsEndEntity,
                )))
                .into(),
                TlsProblem::CaCertificate,
            ),
            (
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
                TlsProblem::NotTls,
            ),
        ];
        for (error, problem) in cases {
            let wrapped = Wrapper(behind_io(error));
            assert_eq!(classify(&wrapped), Some(problem));
        }
        let plain = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&plain), None);
    }

    #[test]
    fn text_is_the_fallback_for_untyped_causes() {
        let chain = "error sending request for url (https://127.0.0.1:4443/x): client error (Connect): \
                     invalid peer certificate: UnknownIssuer";
        assert_eq!(classify_text(chain), Some(TlsProblem::UntrustedIssuer));
        assert_eq!(
            classify_text("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))"),
            Some(TlsProblem::CaCertificate)
        );
        assert_eq!(
            classify_text("received corrupt message of type InvalidContentType"),
            Some(TlsProblem::NotTls)
        );
        assert_eq!(classify_text("connection refused"), None);
    }

    #[test]
    fn every_certificate_refusal_names_ssl_cert_file_and_the_switch() {
        for problem in [
            TlsProblem::UntrustedIssuer,
            TlsProblem::CaCertificate,
            TlsProblem::WrongName,
            TlsProblem::Expired,
            TlsProblem::NotYetValid,
            TlsProblem::Other,
        ] {
            let text = TlsRefusal {
                host: "tc.example:443".into(),
                problem,
                insecure_switch: Some("TIMECAMP_SSL_VERIFY"),
            }
            .to_string();
            assert!(text.contains("tc.example:443"), "{text}");
            assert!(text.contains("SSL_CERT_FILE"), "{text}");
            assert!(text.contains("TIMECAMP_SSL_VERIFY=false"), "{text}");
        }
        let plain = TlsRefusal {
            host: "tc.example:443".into(),
            problem: TlsProblem::NotTls,
            insecure_switch: Some("TIMECAMP_SSL_VERIFY"),
        }
        .to_string();
        assert!(plain.contains("http://"), "{plain}");
        assert!(
            !plain.contains("TIMECAMP_SSL_VERIFY"),
            "no switch helps: {plain}"
        );
    }
}
