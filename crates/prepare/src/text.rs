//! Small text rules of prepare: names, department paths and e-mail domains.

/// Characters the original strips from names. The curly double quotes were
/// meant to be in this list but were lost to a string-literal bug there.
const STRIPPED: &[char] = &['(', ')', '{', '}', '`', '´', '_', '“', '”', '„'];

/// Removes the stripped characters, then surrounding whitespace.
pub fn clean_name(name: &str) -> String {
    name.chars()
        .filter(|c| !STRIPPED.contains(c))
        .collect::<String>()
        .trim()
        .to_owned()
}

pub use scim_groups::path_parts;

/// Department prefixes to strip (`TIMECAMP_SKIP_DEPARTMENTS`), normalised like
/// paths so that `Company / HR` matches `Company/HR`.
#[derive(Debug, Clone, Default)]
pub struct SkipPrefixes(Vec<Vec<String>>);

impl SkipPrefixes {
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Self {
        Self(
            entries
                .iter()
                .map(|e| {
                    path_parts(e.as_ref())
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .filter(|p| !p.is_empty())
                .collect(),
        )
    }

    /// The normalised path with the first matching prefix (whole components,
    /// case-sensitive) removed. Only one prefix is removed.
    pub fn clean_path(&self, path: &str) -> String {
        let parts: Vec<&str> = path_parts(path).collect();
        let rest = self
            .0
            .iter()
            .find(|prefix| {
                prefix.len() <= parts.len() && prefix.iter().zip(&parts).all(|(a, b)| a == b)
            })
            .map_or(&parts[..], |prefix| &parts[prefix.len()..]);
        rest.join("/")
    }
}

/// Replaces the domain of an address with exactly one `@`; other values are
/// returned unchanged. `domain` may be given with or without the `@`.
pub fn replace_domain(email: &str, domain: Option<&str>) -> String {
    let Some(domain) = domain.map(str::trim).filter(|d| !d.is_empty()) else {
        return email.to_owned();
    };
    let domain = domain.trim_start_matches('@');
    match email.split_once('@') {
        Some((local, rest)) if !rest.contains('@') && !email.is_empty() => {
            format!("{local}@{domain}")
        }
        _ => email.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_name_strips_brackets_underscores_and_curly_quotes() {
        assert_eq!(
            clean_name("Jan (Kowalski) {x} `a´ _b_ “q”"),
            "Jan Kowalski x a b q"
        );
    }

    #[test]
    fn paths_are_trimmed_and_empty_parts_dropped() {
        let none = SkipPrefixes::default();
        assert_eq!(none.clean_path(" A //  B "), "A/B");
        assert_eq!(none.clean_path("Sales / EMEA "), "Sales/EMEA");
        assert_eq!(none.clean_path(""), "");
    }

    #[test]
    fn skip_prefixes_follow_the_spec_table() {
        let skip = SkipPrefixes::new(&["Company/HR", " CEO ", "Company"]);
        assert_eq!(skip.clean_path("Company/HR/Team"), "Team");
        assert_eq!(skip.clean_path("Company"), "");
        assert_eq!(skip.clean_path("CEO/Ops"), "Ops");
        assert_eq!(skip.clean_path("Comp/x"), "Comp/x");
        assert_eq!(skip.clean_path(" A //  B "), "A/B");
    }

    #[test]
    fn skip_prefix_written_with_spaces_around_slash_still_matches() {
        let skip = SkipPrefixes::new(&["Company / HR"]);
        assert_eq!(skip.clean_path("Company/HR/Team"), "Team");
    }

    #[test]
    fn only_the_first_matching_prefix_is_removed() {
        let skip = SkipPrefixes::new(&["A", "B"]);
        assert_eq!(skip.clean_path("A/B/C"), "B/C");
    }

    #[test]
    fn domain_replacement_needs_exactly_one_at_sign() {
        assert_eq!(
            replace_domain("a@corp.local", Some("corp.com")),
            "a@corp.com"
        );
        assert_eq!(
            replace_domain("a@corp.local", Some("@corp.com")),
            "a@corp.com"
        );
        assert_eq!(replace_domain("c@x@y", Some("corp.com")), "c@x@y");
        assert_eq!(replace_domain("plain", Some("corp.com")), "plain");
        assert_eq!(replace_domain("a@b", None), "a@b");
        assert_eq!(replace_domain("", Some("corp.com")), "");
    }
}
