//! What a failed connection means for the admin, shared by every HTTP client
//! (TimeCamp, BambooHR, Graph, Factorial).
//!
//! A certificate problem is not a network blip: retrying it only delays the
//! message, and the message must say what to change. HTTP libraries report
//! both as "error sending request for url"; the cause is further down the
//! error chain, which is read here as text, so this module needs no TLS or
//! HTTP library itself.

use std::error::Error;
use std::fmt;

/// Why a TLS handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate is self-signed or issued by a CA this machine does not trust.
    UntrustedIssuer,
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
            TlsProblem::WrongName => "its certificate is issued for another host name",
            TlsProblem::Expired => "its certificate has expired",
            TlsProblem::NotYetValid => {
                "its certificate is not valid yet (check this machine's clock)"
            }
            TlsProblem::NotTls => {
                "it does not speak TLS on that port (is the URL http:// rather than https://?)"
            }
            TlsProblem::Other => "the TLS handshake failed",
        })
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

/// The TLS problem an error chain (see [`error_chain`]) describes, if any.
pub fn tls_problem(chain: &str) -> Option<TlsProblem> {
    let has = |needle: &str| chain.contains(needle);
    if has("UnknownIssuer") || has("unknown issuer") || has("self-signed") || has("self signed") {
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
            "TLS connection to {} refused: {}",
            self.host, self.problem
        )?;
        match self.problem {
            TlsProblem::UntrustedIssuer => {
                write!(
                    f,
                    ". For a private CA, set SSL_CERT_FILE to a PEM file holding it"
                )?;
                if let Some(switch) = self.insecure_switch {
                    write!(f, "; as a last resort, {switch}=false turns the check off")?;
                }
                Ok(())
            }
            TlsProblem::WrongName => {
                f.write_str(". Use the host name the certificate names in the URL")
            }
            _ => Ok(()),
        }
    }
}

/// The host (and port) of a URL, for messages.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // Never a user name or password.
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_messages_are_classified() {
        let chain = "error sending request for url (https://127.0.0.1:4443/x): client error (Connect): \
                     invalid peer certificate: UnknownIssuer";
        assert_eq!(tls_problem(chain), Some(TlsProblem::UntrustedIssuer));
        assert_eq!(
            tls_problem(
                "invalid peer certificate: certificate not valid for name \"127.0.0.1\"; certificate is only valid for example.org"
            ),
            Some(TlsProblem::WrongName)
        );
        assert_eq!(
            tls_problem("received corrupt message of type InvalidContentType"),
            Some(TlsProblem::NotTls)
        );
        assert_eq!(tls_problem("connection refused"), None);
        assert_eq!(tls_problem("Connection reset by peer (os error 104)"), None);
    }

    #[test]
    fn refusal_says_what_to_set() {
        let r = TlsRefusal {
            host: "tc.example:443".into(),
            problem: TlsProblem::UntrustedIssuer,
            insecure_switch: Some("TIMECAMP_SSL_VERIFY"),
        };
        let text = r.to_string();
        assert!(text.contains("tc.example:443"), "{text}");
        assert!(text.contains("SSL_CERT_FILE"), "{text}");
        assert!(text.contains("TIMECAMP_SSL_VERIFY=false"), "{text}");
    }

    #[test]
    fn host_of_a_url_drops_credentials_and_path() {
        assert_eq!(
            host_of("https://u:p@api.example:8443/v1?x=1"),
            "api.example:8443"
        );
        assert_eq!(host_of("https://api.bamboohr.com/api"), "api.bamboohr.com");
    }
}
