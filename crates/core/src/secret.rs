//! A string that must never reach a log line, an error message or `Debug` output.

use std::fmt;

/// API keys, passwords and tokens. `Debug` and `Display` print `***`; the value
/// is only reachable through [`Secret::expose`], which makes every use greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for the one place that sends it (an HTTP header, a bind).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces the user-info part of every URL in `text` (`https://user:pass@host`
/// becomes `https://***@host`). Log lines go through this, because a proxy or
/// endpoint setting with credentials in it ends up in messages and errors.
pub fn mask_url_credentials(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("://") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first `/`, `?`, `#`, quote or white space.
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '"' | '\'' | '>'))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(i) => {
                out.push_str("***");
                out.push_str(&authority[i..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_masked() {
        assert_eq!(
            mask_url_credentials(
                "GET https://bob:hunter2@proxy.example:8080/x failed; see http://host/y"
            ),
            "GET https://***@proxy.example:8080/x failed; see http://host/y"
        );
        assert_eq!(
            mask_url_credentials("s3 endpoint \"http://key:sec@minio:9000\""),
            "s3 endpoint \"http://***@minio:9000\""
        );
        assert_eq!(mask_url_credentials("no url here"), "no url here");
        assert_eq!(
            mask_url_credentials("mail bob@x.com at https://h/"),
            "mail bob@x.com at https://h/"
        );
    }

    #[test]
    fn secret_is_masked_in_debug_and_display() {
        let s = Secret::new("tc-api-key-123");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "tc-api-key-123");
    }
}
