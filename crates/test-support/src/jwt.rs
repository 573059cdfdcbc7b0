//! Signed JWTs as a service sees them: the throw-away test keys, and the
//! check a token endpoint makes of a client's assertion (the signature, with
//! the public key, then the claims). The RustCrypto implementations verify
//! here, not `ring`, which the fetchers sign with: a mistake in one is not
//! repeated by the other.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// A throw-away key pair (crates/test-support/keys/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKey {
    /// RSA 2048, for PS256 and RS256.
    Rsa,
    /// P-256, for ES256.
    P256,
    /// P-521, for ES512.
    P521,
}

impl TestKey {
    /// The private key, PEM (PKCS#8).
    pub fn private_pem(self) -> &'static str {
        match self {
            TestKey::Rsa => include_str!("../keys/rsa.pem"),
            TestKey::P256 => include_str!("../keys/p256.pem"),
            TestKey::P521 => include_str!("../keys/p521.pem"),
        }
    }

    /// The public key, PEM (SubjectPublicKeyInfo).
    pub fn public_pem(self) -> &'static str {
        match self {
            TestKey::Rsa => include_str!("../keys/rsa.pub.pem"),
            TestKey::P256 => include_str!("../keys/p256.pub.pem"),
            TestKey::P521 => include_str!("../keys/p521.pub.pem"),
        }
    }
}

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn part(token_part: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token_part)
        .map_err(|e| format!("not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

/// Checks the signature of the compact JWT `token` with `key` under the
/// algorithm `alg` (the one the service registered for the client, not the
/// one the token claims), and returns its header and claims.
pub(crate) fn verify(token: &str, key: TestKey, alg: &str) -> Result<(Value, Value), String> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWT (three parts)".into());
    };
    let header = part(h)?;
    let claims = part(c)?;
    if header["alg"] != alg {
        return Err(format!(
            "the token says alg {}, the client is registered with {alg}",
            header["alg"]
        ));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| format!("signature not base64url: {e}"))?;
    let message = format!("{h}.{c}");
    let message = message.as_bytes();
    let bad = |e: &dyn std::fmt::Display| format!("bad signature: {e}");
    match (key, alg) {
        (TestKey::Rsa, "PS256" | "RS256") => {
            use rsa::pkcs8::DecodePublicKey;
            use rsa::signature::Verifier;
            let public = rsa::RsaPublicKey::from_public_key_pem(key.public_pem())
                .map_err(|e| e.to_string())?;
            if alg == "PS256" {
                let sig =
                    rsa::pss::Signature::try_from(signature.as_slice()).map_err(|e| bad(&e))?;
                rsa::pss::VerifyingKey::<rsa::sha2::Sha256>::new(public)
                    .verify(message, &sig)
                    .map_err(|e| bad(&e))?;
            } else {
                let sig = rsa::pkcs1v15::Signature::try_from(signature.as_slice())
                    .map_err(|e| bad(&e))?;
                rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(public)
                    .verify(message, &sig)
                    .map_err(|e| bad(&e))?;
            }
        }
        (TestKey::P256, "ES256") => {
            use p256::ecdsa::signature::Verifier;
            use p256::pkcs8::DecodePublicKey;
            let public = p256::ecdsa::VerifyingKey::from_public_key_pem(key.public_pem())
                .map_err(|e| e.to_string())?;
            let sig = p256::ecdsa::Signature::from_slice(&signature).map_err(|e| bad(&e))?;
            public.verify(message, &sig).map_err(|e| bad(&e))?;
        }
        (TestKey::P521, "ES512") => {
            use p521::ecdsa::signature::Verifier;
            use p521::pkcs8::DecodePublicKey;
            let public = p521::PublicKey::from_public_key_pem(key.public_pem())
                .map_err(|e| e.to_string())?;
            let public = p521::ecdsa::VerifyingKey::from_affine(*public.as_affine())
                .map_err(|e| e.to_string())?;
            let sig = p521::ecdsa::Signature::from_slice(&signature).map_err(|e| bad(&e))?;
            public.verify(message, &sig).map_err(|e| bad(&e))?;
        }
        _ => return Err(format!("the key cannot verify {alg}")),
    }
    Ok((header, claims))
}

/// `exp` after now and at most `max_life` seconds after `iat`, `iat` not in
/// the future (a minute of clock skew allowed).
pub(crate) fn check_times(claims: &Value, max_life: i64) -> Result<(), String> {
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err("iat and exp must be numbers".into());
    };
    let now = now();
    if iat > now + 60 {
        return Err("iat is in the future".into());
    }
    if exp <= now {
        return Err("the assertion has expired".into());
    }
    if exp - iat > max_life {
        return Err(format!(
            "exp is {} s after iat, more than {max_life} s",
            exp - iat
        ));
    }
    Ok(())
}

/// The pairs of a form-encoded body.
pub(crate) fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}
