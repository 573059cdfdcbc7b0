//! Signed JSON Web Tokens (JWS compact form), for the OAuth 2.0 grants in
//! which a client proves who it is with a private key instead of a secret:
//! NetSuite's client-credentials assertion (PS256, ES256 or ES512) and
//! Google's service-account grant (RS256).
//!
//! Only signing is here; the services verify. RSA signatures are made by
//! `ring` (constant-time, and already built for rustls), ECDSA ones by the
//! RustCrypto curves (`p256`, `p521`: ring has no P-521), in the fixed
//! `r || s` form JWS requires. Keys are read from PEM: PKCS#8
//! (`BEGIN PRIVATE KEY`, what `openssl req -newkey` and Google write), PKCS#1
//! (`BEGIN RSA PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`); an encrypted
//! key is refused with the command that decrypts it. Key files are read by
//! [`read_key_file`]: a regular file of at most [`MAX_KEY_FILE_BYTES`].

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

/// The largest key file read: a PEM key, or Google's JSON key file, is a
/// few kilobytes.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The text of the key file at `path`, named by the setting `var`: a
/// regular file (a FIFO would block the stage, a device never end) of at
/// most [`MAX_KEY_FILE_BYTES`], in UTF-8 (PEM or JSON), with or without a
/// byte-order mark.
pub fn read_key_file(var: &str, path: &str) -> Result<String, scim_core::ConfigError> {
    use scim_core::files::{FileError, read_regular_at_most};
    let failed = |what: String| scim_core::ConfigError::Conflict(format!("{var}={path} {what}"));
    let bytes = read_regular_at_most(std::path::Path::new(path), MAX_KEY_FILE_BYTES).map_err(
        |e| match e {
            FileError::TooLarge { .. } => failed(format!(
                "is larger than {} KiB, not a key file",
                MAX_KEY_FILE_BYTES / 1024
            )),
            e => failed(e.to_string()),
        },
    )?;
    // A byte-order mark, which Windows editors write, is not part of the text.
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .map(<[u8]>::to_vec)
        .unwrap_or(bytes);
    String::from_utf8(bytes).map_err(|_| {
        failed(
            "is not PEM text (a DER key? openssl pkey -inform DER -in <that file> -out key.pem \
             writes it as PEM)"
                .into(),
        )
    })
}

/// A JWS signature algorithm this tool signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PSS with SHA-256 (NetSuite's default).
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Google's service accounts).
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-521 with SHA-512.
    Es512,
}

impl Algorithm {
    /// Its name in a JWT header (`PS256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ps256 => "PS256",
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
            Algorithm::Es512 => "ES512",
        }
    }

    /// The algorithm named `text`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Algorithm::Ps256,
            Algorithm::Rs256,
            Algorithm::Es256,
            Algorithm::Es512,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(text.trim()))
    }

    /// What kind of key it needs, for messages.
    fn key_kind(self) -> &'static str {
        match self {
            Algorithm::Ps256 | Algorithm::Rs256 => "an RSA private key",
            Algorithm::Es256 => "an EC private key on the P-256 curve (prime256v1)",
            Algorithm::Es512 => "an EC private key on the P-521 curve (secp521r1)",
        }
    }
}

/// Why a key cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "it holds no PEM private key (-----BEGIN PRIVATE KEY----- ... -----END PRIVATE KEY-----)"
    )]
    NoPem,
    #[error(
        "the private key is encrypted; store it without a passphrase \
         (openssl pkey -in encrypted.pem -out key.pem)"
    )]
    Encrypted,
    #[error("its PEM text is not valid base64")]
    Base64,
    #[error("{algorithm} needs {needs}, and this is not one ({why})")]
    WrongKind {
        algorithm: &'static str,
        needs: &'static str,
        why: String,
    },
    #[error("signing failed")]
    Signing,
}

enum Key {
    Rsa(ring::signature::RsaKeyPair),
    P256(p256::ecdsa::SigningKey),
    P521(Box<p521::ecdsa::SigningKey>),
}

/// A private key, checked against the algorithm it signs with.
pub struct SigningKey {
    algorithm: Algorithm,
    key: Key,
}

impl std::fmt::Debug for SigningKey {
    /// Never the key itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.algorithm.name())
    }
}

/// The first private-key block of a PEM text: its label and DER bytes.
fn pem_private_key(pem: &str) -> Result<(String, Vec<u8>), KeyError> {
    let mut lines = pem.lines().map(str::trim);
    loop {
        let Some(line) = lines.next() else {
            return Err(KeyError::NoPem);
        };
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        if label == "ENCRYPTED PRIVATE KEY" {
            return Err(KeyError::Encrypted);
        }
        if !label.ends_with("PRIVATE KEY") {
            continue;
        }
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        for line in lines.by_ref() {
            if line == end {
                // An old OpenSSL "traditional" encrypted key says so in a header.
                if body.contains("Proc-Type:") || body.contains("DEK-Info:") {
                    return Err(KeyError::Encrypted);
                }
                let der = STANDARD
                    .decode(body.as_bytes())
                    .map_err(|_| KeyError::Base64)?;
                return Ok((label.to_owned(), der));
            }
            if line.contains(':') {
                body.push_str(line);
                body.push('\n');
            } else {
                body.push_str(line);
            }
        }
        return Err(KeyError::NoPem);
    }
}

impl SigningKey {
    /// Reads the private key in `pem` for `algorithm`.
    pub fn from_pem(pem: &str, algorithm: Algorithm) -> Result<Self, KeyError> {
        let (label, der) = pem_private_key(pem)?;
        let wrong = |why: String| KeyError::WrongKind {
            algorithm: algorithm.name(),
            needs: algorithm.key_kind(),
            why,
        };
        let key = match algorithm {
            Algorithm::Ps256 | Algorithm::Rs256 => {
                let parsed = match label.as_str() {
                    "RSA PRIVATE KEY" => ring::signature::RsaKeyPair::from_der(&der),
                    "PRIVATE KEY" => ring::signature::RsaKeyPair::from_pkcs8(&der),
                    other => return Err(wrong(format!("the PEM holds an {other}"))),
                };
                Key::Rsa(parsed.map_err(|e| wrong(e.to_string()))?)
            }
            Algorithm::Es256 => {
                use p256::pkcs8::DecodePrivateKey;
                let secret = match label.as_str() {
                    "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
                        .map_err(|_| wrong("not a P-256 SEC1 key".into()))?,
                    "PRIVATE KEY" => p256::SecretKey::from_pkcs8_der(&der)
                        .map_err(|e| wrong(format!("not a P-256 PKCS#8 key: {e}")))?,
                    other => return Err(wrong(format!("the PEM holds an {other}"))),
                };
                Key::P256(p256::ecdsa::SigningKey::from(secret))
            }
            Algorithm::Es512 => {
                use p521::pkcs8::DecodePrivateKey;
                let secret = match label.as_str() {
                    "EC PRIVATE KEY" => p521::SecretKey::from_sec1_der(&der)
                        .map_err(|_| wrong("not a P-521 SEC1 key".into()))?,
                    "PRIVATE KEY" => p521::SecretKey::from_pkcs8_der(&der)
                        .map_err(|e| wrong(format!("not a P-521 PKCS#8 key: {e}")))?,
                    other => return Err(wrong(format!("the PEM holds an {other}"))),
                };
                let key = p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes())
                    .map_err(|_| wrong("not a P-521 key".into()))?;
                Key::P521(Box::new(key))
            }
        };
        Ok(Self { algorithm, key })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn signature(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.key {
            Key::Rsa(pair) => {
                let padding: &dyn ring::signature::RsaEncoding = match self.algorithm {
                    Algorithm::Ps256 => &ring::signature::RSA_PSS_SHA256,
                    _ => &ring::signature::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &ring::rand::SystemRandom::new(), message, &mut out)
                    .map_err(|_| KeyError::Signing)?;
                Ok(out)
            }
            Key::P256(key) => {
                use p256::ecdsa::signature::Signer;
                let signature: p256::ecdsa::Signature =
                    key.try_sign(message).map_err(|_| KeyError::Signing)?;
                Ok(signature.to_bytes().to_vec())
            }
            Key::P521(key) => {
                use p521::ecdsa::signature::Signer;
                let signature: p521::ecdsa::Signature =
                    key.try_sign(message).map_err(|_| KeyError::Signing)?;
                Ok(signature.to_bytes().to_vec())
            }
        }
    }

    /// The compact JWT of `claims`, with the header `{"alg", "typ": "JWT"}`
    /// and `kid` when given.
    pub fn sign(&self, kid: Option<&str>, claims: &Value) -> Result<String, KeyError> {
        let mut header = Map::new();
        header.insert("alg".into(), json!(self.algorithm.name()));
        header.insert("typ".into(), json!("JWT"));
        if let Some(kid) = kid {
            header.insert("kid".into(), json!(kid));
        }
        let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let signing_input = format!("{}.{}", encode(&Value::Object(header)), encode(claims));
        let signature = self.signature(signing_input.as_bytes())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// A random identifier for a token's `jti`: 128 bits from the system's
/// random source, in hex.
pub fn random_id() -> Result<String, KeyError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| KeyError::Signing)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Throw-away test keys (crates/test-support/keys/README.md).
    const RSA: &str = include_str!("../../test-support/keys/rsa.pem");
    const RSA_PKCS1: &str = include_str!("../../test-support/keys/rsa-pkcs1.pem");
    const P256: &str = include_str!("../../test-support/keys/p256.pem");
    const P256_SEC1: &str = include_str!("../../test-support/keys/p256-sec1.pem");
    const P521: &str = include_str!("../../test-support/keys/p521.pem");

    fn parts(token: &str) -> (Value, Value, Vec<u8>) {
        let p: Vec<&str> = token.split('.').collect();
        assert_eq!(p.len(), 3, "{token}");
        let json = |s: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
        (
            json(p[0]),
            json(p[1]),
            URL_SAFE_NO_PAD.decode(p[2]).unwrap(),
        )
    }

    #[test]
    fn each_algorithm_signs_with_its_key_and_names_itself() {
        let claims = json!({"iss": "me", "exp": 1});
        for (pem, alg, len) in [
            (RSA, Algorithm::Ps256, 256),
            (RSA_PKCS1, Algorithm::Ps256, 256),
            (RSA, Algorithm::Rs256, 256),
            (P256, Algorithm::Es256, 64),
            (P256_SEC1, Algorithm::Es256, 64),
            (P521, Algorithm::Es512, 132),
        ] {
            let key = SigningKey::from_pem(pem, alg).unwrap();
            let (header, body, signature) = parts(&key.sign(Some("cert-7"), &claims).unwrap());
            assert_eq!(
                header,
                json!({"alg": alg.name(), "typ": "JWT", "kid": "cert-7"})
            );
            assert_eq!(body, claims);
            assert_eq!(signature.len(), len, "{}", alg.name());
        }
    }

    #[test]
    fn a_key_of_the_wrong_kind_or_form_is_named() {
        let err = SigningKey::from_pem(P256, Algorithm::Ps256).unwrap_err();
        assert!(matches!(err, KeyError::WrongKind { .. }), "{err}");
        assert!(
            err.to_string().contains("PS256 needs an RSA private key"),
            "{err}"
        );
        let err = SigningKey::from_pem(P256, Algorithm::Es512).unwrap_err();
        assert!(err.to_string().contains("P-521"), "{err}");
        assert!(matches!(
            SigningKey::from_pem(RSA, Algorithm::Es256),
            Err(KeyError::WrongKind { .. })
        ));
        assert_eq!(
            SigningKey::from_pem("not a key", Algorithm::Ps256).unwrap_err(),
            KeyError::NoPem
        );
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(
            SigningKey::from_pem(encrypted, Algorithm::Ps256).unwrap_err(),
            KeyError::Encrypted
        );
        let broken = "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            SigningKey::from_pem(broken, Algorithm::Ps256).unwrap_err(),
            KeyError::Base64
        );
        // A certificate before the key (a combined file) is passed over.
        let combined =
            format!("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n{RSA}");
        assert!(SigningKey::from_pem(&combined, Algorithm::Ps256).is_ok());
        assert_eq!(
            format!("{:?}", SigningKey::from_pem(RSA, Algorithm::Rs256).unwrap()),
            "SigningKey(RS256)",
            "no key material in debug output"
        );
    }

    #[test]
    fn algorithm_names_parse_in_any_case_and_ids_are_random() {
        assert_eq!(Algorithm::parse("es512"), Some(Algorithm::Es512));
        assert_eq!(Algorithm::parse("HS256"), None);
        let (a, b) = (random_id().unwrap(), random_id().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
