//! Turning one directory entry into a source user: pure
//! functions, tested without a server.

use scim_model::{SourceUser, Status};

/// `objectGUID` bytes as Active Directory prints them: the first three fields
/// little-endian (Python's `uuid.UUID(bytes_le=...)`).
pub fn guid_text(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let rev = |s: &[u8]| s.iter().rev().copied().collect::<Vec<u8>>();
    Some(format!(
        "{}-{}-{}-{}-{}",
        hex(&rev(&b[0..4])),
        hex(&rev(&b[4..6])),
        hex(&rev(&b[6..8])),
        hex(&b[8..10]),
        hex(&b[10..16])
    ))
}

/// The RDNs of a DN, split on commas that are not escaped (`CN=Smith\, John`
/// stays one RDN; the original split on every comma).
pub fn rdns(dn: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            current.push(c);
            escaped = true;
        } else if c == ',' {
            out.push(current.trim().to_owned());
            current.clear();
        } else {
            current.push(c);
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// The value of an RDN (`OU=IT` → `IT`), with its escapes decoded: `\,`
/// (Active Directory's style) and `\2C` (OpenLDAP's hex style, which also
/// writes UTF-8 bytes as `\C3\A9`) both mean the character.
pub fn rdn_value(rdn: &str) -> Option<(String, String)> {
    let (attr, value) = rdn.split_once('=')?;
    let bytes = value.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                // `\` before a special character: the character itself.
                if let Some(&next) = bytes.get(i + 1) {
                    out.push(next);
                }
                i += 2;
            }
        }
    }
    Some((
        attr.trim().to_lowercase(),
        String::from_utf8_lossy(&out).trim().to_owned(),
    ))
}

/// The OU path of an entry's DN, top-most OU first, with the DN of each OU
/// (for description lookups): `CN=Jan,OU=Helpdesk,OU=IT,DC=corp` →
/// [("IT", "OU=IT,DC=corp"), ("Helpdesk", "OU=Helpdesk,OU=IT,DC=corp")].
pub fn ou_path(dn: &str) -> Vec<(String, String)> {
    let parts = rdns(dn);
    let mut out: Vec<(String, String)> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, rdn)| match rdn_value(rdn) {
            Some((attr, value)) if attr == "ou" => Some((value, parts[i..].join(","))),
            _ => None,
        })
        .collect();
    out.reverse();
    out
}

/// Chooses the primary address from a `mail` value that may hold several,
/// comma-separated: the first in the preferred domain, else the first.
pub fn select_email(raw: &str, preferred_domain: Option<&str>) -> String {
    let addresses: Vec<String> = raw
        .split(',')
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty())
        .collect();
    // A domain written with a leading `@` means the same (it never matched in the original).
    let wanted = preferred_domain
        .map(|d| d.trim().trim_start_matches('@').to_lowercase())
        .filter(|d| !d.is_empty())
        .map(|d| format!("@{d}"));
    wanted
        .and_then(|w| addresses.iter().find(|a| a.ends_with(&w)).cloned())
        .or_else(|| addresses.first().cloned())
        .unwrap_or_default()
}

/// Whether one of the group DNs has the common name `group` (case-insensitive;
/// direct membership, any OU). The original searched the joined DNs for the
/// substring `cn=<group>,`, which also matched an OU or a deeper RDN of that
/// name; comparing the first RDN is exact.
pub fn member_of(groups: &[String], group: &str) -> bool {
    groups.iter().any(|dn| {
        rdns(dn)
            .first()
            .and_then(|rdn| rdn_value(rdn))
            .is_some_and(|(attr, value)| attr == "cn" && value.eq_ignore_ascii_case(group))
    })
}

/// How the primary e-mail is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailMode {
    /// `mail`, or `sAMAccountName@LDAP_DOMAIN` when there is no `mail`.
    Mail,
    /// `LDAP_USE_SAMACCOUNTNAME`: `sAMAccountName@LDAP_DOMAIN`.
    SamAccountName,
    /// `LDAP_USE_SAMACCOUNTNAME_ONLY`: bare `sAMAccountName`.
    SamAccountNameOnly,
    /// `LDAP_USE_WINDOWS_LOGIN_EMAIL`: `sAMAccountName@(LDAP_EMAIL_DOMAIN or LDAP_DOMAIN)`.
    WindowsLogin,
}

/// What the mapping needs from the settings.
#[derive(Debug, Clone)]
pub struct MapOptions {
    pub domain: String,
    pub email_domain: Option<String>,
    pub email_mode: EmailMode,
    pub real_email_as_email: bool,
    pub preferred_domain: Option<String>,
    pub supervisor_group: Option<String>,
    pub admin_group: Option<String>,
}

/// The attributes of an entry that the mapping reads.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub external_id: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub mail: String,
    pub sam_account_name: String,
    pub title: String,
    pub member_of: Vec<String>,
    pub disabled: bool,
}

/// Builds the source user.
pub fn to_source_user(
    e: &Entry,
    department: String,
    supervisor_id: String,
    opts: &MapOptions,
) -> SourceUser {
    let selected = select_email(&e.mail, opts.preferred_domain.as_deref());
    let mut email = selected.clone();
    let mut real_email = String::new();
    let sam = e.sam_account_name.trim();
    if !sam.is_empty() {
        let generated = match opts.email_mode {
            EmailMode::SamAccountNameOnly => Some(sam.to_lowercase()),
            EmailMode::WindowsLogin => {
                let domain = opts.email_domain.as_deref().unwrap_or(&opts.domain);
                Some(format!("{sam}@{domain}").to_lowercase())
            }
            EmailMode::SamAccountName => Some(format!("{sam}@{}", opts.domain).to_lowercase()),
            EmailMode::Mail if selected.is_empty() => {
                Some(format!("{sam}@{}", opts.domain).to_lowercase())
            }
            EmailMode::Mail => None,
        };
        if let Some(generated) = generated {
            email = generated;
            // The selected address, not the whole raw value.
            real_email = selected;
        }
    }
    if opts.real_email_as_email && !real_email.is_empty() {
        email = std::mem::take(&mut real_email);
    }
    let mut name = e.display_name.trim().to_owned();
    if name.is_empty() {
        name = format!("{} {}", e.given_name.trim(), e.surname.trim())
            .trim()
            .to_owned();
    }
    let flag = |group: &Option<String>| {
        group
            .as_deref()
            .filter(|g| member_of(&e.member_of, g))
            .map(|_| Box::new(serde_json::Value::Bool(true)))
    };
    SourceUser {
        external_id: Some(e.external_id.clone()),
        name: Some(name),
        email: Some(email),
        department: Some(department),
        job_title: Some(e.title.trim().to_owned()),
        status: Some(if e.disabled {
            Status::Inactive
        } else {
            Status::Active
        }),
        supervisor_id: Some(supervisor_id),
        force_supervisor_role: flag(&opts.supervisor_group),
        force_global_admin_role: flag(&opts.admin_group),
        real_email: (!real_email.is_empty()).then_some(real_email),
        ..SourceUser::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(mode: EmailMode) -> MapOptions {
        MapOptions {
            domain: "corp.local".into(),
            email_domain: None,
            email_mode: mode,
            real_email_as_email: false,
            preferred_domain: None,
            supervisor_group: Some("timecamp_mgr".into()),
            admin_group: Some("timecamp_admin".into()),
        }
    }

    #[test]
    fn guid_is_printed_like_active_directory() {
        let bytes = [
            0xd4, 0xc2, 0xf1, 0xa3, 0x6e, 0x0b, 0x8a, 0x4f, 0x9d, 0x21, 0x5e, 0x7c, 0x3b, 0x9a,
            0x1f, 0x00,
        ];
        assert_eq!(
            guid_text(&bytes).unwrap(),
            "a3f1c2d4-0b6e-4f8a-9d21-5e7c3b9a1f00"
        );
        assert_eq!(guid_text(&[1, 2, 3]), None);
    }

    #[test]
    fn ou_path_is_top_down_and_respects_escaped_commas() {
        let path = ou_path("CN=Smith\\, John,OU=Helpdesk,OU=IT\\, Ops,DC=corp,DC=local");
        assert_eq!(path[0].0, "IT, Ops");
        assert_eq!(path[0].1, "OU=IT\\, Ops,DC=corp,DC=local");
        assert_eq!(path[1].0, "Helpdesk");
        assert!(ou_path("CN=x,DC=corp").is_empty());
    }

    #[test]
    fn hex_escaped_dn_values_are_decoded() {
        let path = ou_path("cn=Ann,ou=Sales\\2C EMEA,ou=R\\C3\\A9seau \\2B Ops,dc=corp");
        let names: Vec<&str> = path.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Réseau + Ops", "Sales, EMEA"]);
        assert_eq!(
            rdn_value("CN=Smith\\, John"),
            Some(("cn".into(), "Smith, John".into()))
        );
        assert!(member_of(
            &["cn=Time\\2Fcamp Managers,ou=g".to_owned()],
            "time/camp managers"
        ));
    }

    #[test]
    fn preferred_domain_picks_among_several_addresses() {
        assert_eq!(
            select_email(" A@old.com , b@New.com", Some("new.com")),
            "b@new.com"
        );
        assert_eq!(
            select_email("a@old.com,b@new.com", Some("@new.com")),
            "b@new.com"
        );
        assert_eq!(select_email("a@old.com,b@new.com", None), "a@old.com");
        assert_eq!(select_email("", Some("x")), "");
    }

    #[test]
    fn group_membership_compares_the_common_name() {
        let groups = vec!["CN=timecamp_mgr,OU=Groups,DC=corp".to_owned()];
        assert!(member_of(&groups, "TimeCamp_Mgr"));
        assert!(!member_of(&groups, "mgr"));
        assert!(!member_of(
            &["CN=x,OU=timecamp_mgr".to_owned()],
            "timecamp_mgr"
        ));
    }

    fn entry() -> Entry {
        Entry {
            external_id: "g1".into(),
            display_name: "".into(),
            given_name: "Jan".into(),
            surname: "Kowalski".into(),
            mail: "Jan.Kowalski@corp.com".into(),
            sam_account_name: "JKowalski".into(),
            title: "Technician".into(),
            member_of: vec!["CN=timecamp_mgr,OU=Groups,DC=corp".into()],
            disabled: false,
        }
    }

    #[test]
    fn email_modes_generate_from_the_account_name_and_keep_the_real_address() {
        let u = to_source_user(
            &entry(),
            "IT".into(),
            "".into(),
            &opts(EmailMode::SamAccountName),
        );
        assert_eq!(u.email.as_deref(), Some("jkowalski@corp.local"));
        assert_eq!(u.real_email.as_deref(), Some("jan.kowalski@corp.com"));
        assert_eq!(u.name.as_deref(), Some("Jan Kowalski"));
        assert_eq!(
            u.force_supervisor_role.as_deref(),
            Some(&serde_json::Value::Bool(true))
        );
        assert_eq!(u.force_global_admin_role, None);

        let u = to_source_user(
            &entry(),
            "".into(),
            "".into(),
            &opts(EmailMode::SamAccountNameOnly),
        );
        assert_eq!(u.email.as_deref(), Some("jkowalski"));

        let mut o = opts(EmailMode::WindowsLogin);
        o.email_domain = Some("Corp.COM".into());
        let u = to_source_user(&entry(), "".into(), "".into(), &o);
        assert_eq!(u.email.as_deref(), Some("jkowalski@corp.com"));

        let mut o = opts(EmailMode::SamAccountName);
        o.real_email_as_email = true;
        let u = to_source_user(&entry(), "".into(), "".into(), &o);
        assert_eq!(u.email.as_deref(), Some("jan.kowalski@corp.com"));
        assert_eq!(u.real_email, None);
    }

    #[test]
    fn mail_mode_falls_back_to_the_account_name_only_without_mail() {
        let u = to_source_user(&entry(), "".into(), "".into(), &opts(EmailMode::Mail));
        assert_eq!(u.email.as_deref(), Some("jan.kowalski@corp.com"));
        assert_eq!(u.real_email, None);
        let mut e = entry();
        e.mail.clear();
        let u = to_source_user(&e, "".into(), "".into(), &opts(EmailMode::Mail));
        assert_eq!(u.email.as_deref(), Some("jkowalski@corp.local"));
    }

    #[test]
    fn disabled_accounts_are_inactive() {
        let mut e = entry();
        e.disabled = true;
        let u = to_source_user(&e, "".into(), "".into(), &opts(EmailMode::Mail));
        assert_eq!(u.status, Some(Status::Inactive));
    }
}
