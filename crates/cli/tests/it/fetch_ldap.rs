//! fetch-ldap against a real OpenLDAP server with Active Directory attributes:
//! binds, paging, TLS, e-mail modes, departments, managers, role groups,
//! disabled accounts, and failures that must leave `var/users.json` alone.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use scim_test_support::{
    FakeTimecamp, LDAP_ADMIN_DN, LDAP_ADMIN_PASSWORD, LDAP_READER_DN, LDAP_READER_PASSWORD,
    Project, Slapd, TOKEN, base64, find,
};

const FETCH: &str = env!("CARGO_BIN_EXE_fetch-ldap");
const PREPARE: &str = env!("CARGO_BIN_EXE_prepare-timecamp");
const SYNC: &str = env!("CARGO_BIN_EXE_sync-users");
const OLD_USERS: &str = "{\"users\": [{\"previous\": true}]}";
const SALES: usize = 14;

/// The GUID bytes whose AD text form is `xxxxxxxx-0000-4000-8000-0000000000nn`.
fn guid(n: u8) -> (String, String) {
    let bytes = [
        n, 0xaa, 0xbb, 0xcc, 0, 0, 0, 0x40, 0x80, 0, 0, 0, 0, 0, 0, n,
    ];
    (
        base64(&bytes),
        format!("ccbbaa{n:02x}-0000-4000-8000-0000000000{n:02x}"),
    )
}

fn person(dn: &str, cn: &str, guid_n: u8, extra: &str) -> String {
    format!(
        "dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: adUser\ncn: {cn}\nsn: {}\nobjectGUID:: {}\n{extra}\n",
        cn.rsplit(' ').next().unwrap_or(cn),
        guid(guid_n).0
    )
}

/// People: IT (CIO Ewa), IT/Helpdesk (Jan, supervisor of "Smith, John"), Sales (14 people
/// managed by Old Boss, who sits outside the searched subtree), one disabled account.
fn seeded() -> Slapd {
    let s = Slapd::start();
    let mut ldif = String::from(
        "dn: ou=People,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: People\n\n\
         dn: ou=IT,ou=People,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: IT\ndescription: Information Technology\n\n\
         dn: ou=Helpdesk,ou=IT,ou=People,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: Helpdesk\n\n\
         dn: ou=Sales,ou=People,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: Sales\n\n\
         dn: ou=Former,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: Former\n\n\
         dn: ou=Groups,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: Groups\n\n",
    );
    ldif += &person(
        "cn=Ewa Nowak,ou=IT,ou=People,dc=corp,dc=local",
        "Ewa Nowak",
        1,
        "displayName: Ewa Nowak\nsAMAccountName: ENowak\nmail: EwA.Nowak@corp.com\ntitle: CIO\ndepartment: IT\nuserAccountControl: 512\n",
    );
    ldif += "\n";
    ldif += &person(
        "cn=Jan Kowalski,ou=Helpdesk,ou=IT,ou=People,dc=corp,dc=local",
        "Jan Kowalski",
        2,
        "givenName: Jan\nsAMAccountName: jkowalski\nmail: jan.kowalski@corp.com, jan@private.org\ntitle: Technician\n\
         department: IT Support\nuserAccountControl: 512\nmanager: cn=Ewa Nowak,ou=IT,ou=People,dc=corp,dc=local\n",
    );
    ldif += "\n";
    ldif += &person(
        "cn=Smith\\, John,ou=Helpdesk,ou=IT,ou=People,dc=corp,dc=local",
        "Smith, John",
        3,
        "displayName: John Smith\nsAMAccountName: jsmith\nuserAccountControl: 512\n\
         manager: cn=Jan Kowalski,ou=Helpdesk,ou=IT,ou=People,dc=corp,dc=local\n",
    );
    ldif += "\n";
    ldif += &person(
        "cn=Gone Person,ou=Sales,ou=People,dc=corp,dc=local",
        "Gone Person",
        4,
        "displayName: Gone Person\nmail: gone@corp.com\nuserAccountControl: 514\n",
    );
    ldif += "\n";
    ldif += &person(
        "cn=Old Boss,ou=Former,dc=corp,dc=local",
        "Old Boss",
        5,
        "displayName: Old Boss\nmail: old.boss@corp.com\nuserAccountControl: 514\n",
    );
    for i in 0..SALES {
        ldif += "\n";
        ldif += &person(
            &format!("cn=Seller {i},ou=Sales,ou=People,dc=corp,dc=local"),
            &format!("Seller {i}"),
            10 + i as u8,
            &format!(
                "displayName: Seller {i}\nmail: seller{i}@corp.com\nuserAccountControl: 512\n\
                 manager: cn=Old Boss,ou=Former,dc=corp,dc=local\n"
            ),
        );
    }
    ldif += "\ndn: cn=timecamp_mgr,ou=Groups,dc=corp,dc=local\nobjectClass: groupOfNames\ncn: timecamp_mgr\n\
             member: cn=Jan Kowalski,ou=Helpdesk,ou=IT,ou=People,dc=corp,dc=local\n\n\
             dn: cn=timecamp_admin,ou=Groups,dc=corp,dc=local\nobjectClass: groupOfNames\ncn: timecamp_admin\n\
             member: cn=Ewa Nowak,ou=IT,ou=People,dc=corp,dc=local\n";
    s.add(&ldif);
    s
}

fn project(s: &Slapd) -> Project {
    Project::new()
        .env("DISABLE_FILE_LOGGING", "true")
        .env("LDAP_HOST", s.host())
        .env("LDAP_PORT", &s.port().to_string())
        .env("LDAP_DOMAIN", "corp.local")
        .env("LDAP_DN", "ou=People,dc=corp,dc=local")
        .env("LDAP_USERNAME", LDAP_READER_DN)
        .env("LDAP_PASSWORD", LDAP_READER_PASSWORD)
        .env("LDAP_PAGE_SIZE", "4")
        .env("LDAP_TIMEOUT_SECONDS", "10")
        .file("var/users.json", OLD_USERS)
}

#[test]
fn paged_search_reads_more_users_than_the_size_limit_with_a_dn_bind() {
    let s = seeded();
    let p = project(&s);
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    assert_eq!(
        u.len(),
        SALES + 3,
        "the default filter leaves the disabled account out"
    );
    let ewa = find(&u, "email", "ewa.nowak@corp.com");
    assert_eq!(ewa["external_id"], guid(1).1);
    assert_eq!(ewa["name"], "Ewa Nowak");
    assert_eq!(ewa["department"], "IT");
    assert_eq!(ewa["job_title"], "CIO");
    assert_eq!(ewa["status"], "active");
    let jan = find(&u, "email", "jan.kowalski@corp.com");
    assert_eq!(
        jan["supervisor_id"],
        guid(1).1,
        "manager DN resolved to its GUID"
    );
    assert_eq!(
        jan["name"], "Jan Kowalski",
        "givenName + sn when there is no displayName"
    );
    let smith = find(&u, "email", "jsmith@corp.local");
    assert_eq!(smith["supervisor_id"], guid(2).1);
    // Key order as the original writes it.
    let keys: Vec<&String> = jan.as_object().unwrap().keys().collect();
    assert_eq!(
        keys[..7],
        [
            "external_id",
            "name",
            "email",
            "department",
            "job_title",
            "status",
            "supervisor_id"
        ]
    );
}

/// The premise of the test above: for the reader, an unpaged search of the
/// same users hits the server's size limit, so only paging reads them all.
#[test]
fn without_paging_the_reader_hits_the_size_limit() {
    let s = seeded();
    let out = std::process::Command::new("ldapsearch")
        .args([
            "-x",
            "-H",
            &format!("ldap://127.0.0.1:{}", s.port()),
            "-D",
            LDAP_READER_DN,
            "-w",
            LDAP_READER_PASSWORD,
        ])
        .args([
            "-b",
            "ou=People,dc=corp,dc=local",
            "(objectClass=person)",
            "cn",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "ldapsearch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Size limit exceeded"));
}

#[test]
fn disabled_accounts_come_through_as_inactive() {
    let s = seeded();
    let p = project(&s).env("LDAP_FILTER", "(objectClass=person)");
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    assert_eq!(find(&u, "email", "gone@corp.com")["status"], "inactive");
    assert_eq!(find(&u, "email", "seller0@corp.com")["status"], "active");
}

#[test]
fn email_modes_and_real_email() {
    let s = seeded();
    let p = project(&s).env("LDAP_USE_SAMACCOUNTNAME", "true");
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    let jan = find(&u, "email", "jkowalski@corp.local");
    assert_eq!(
        jan["real_email"], "jan.kowalski@corp.com",
        "the selected address, not the raw list"
    );

    let p = project(&s)
        .env("LDAP_USE_WINDOWS_LOGIN_EMAIL", "true")
        .env("LDAP_EMAIL_DOMAIN", "corp.com");
    p.run(FETCH, &[]).expect_success();
    assert!(
        p.source_users()
            .iter()
            .any(|u| u["email"] == "enowak@corp.com")
    );

    let p = project(&s).env("LDAP_USE_SAMACCOUNTNAME_ONLY", "true");
    p.run(FETCH, &[]).expect_success();
    assert!(p.source_users().iter().any(|u| u["email"] == "jkowalski"));

    let p = project(&s)
        .env("LDAP_USE_SAMACCOUNTNAME", "true")
        .env("LDAP_USE_REAL_EMAIL_AS_EMAIL", "true");
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    assert!(
        find(&u, "email", "jan.kowalski@corp.com")
            .get("real_email")
            .is_none()
    );

    let p = project(&s).env("TIMECAMP_REPLACE_EMAIL_DOMAIN", "@private.org");
    p.run(FETCH, &[]).expect_success();
    assert!(
        p.source_users()
            .iter()
            .any(|u| u["email"] == "jan@private.org"),
        "preferred domain among several"
    );
}

#[test]
fn departments_from_the_ou_path_and_descriptions() {
    let s = seeded();
    let p = project(&s).env("LDAP_USE_OU_STRUCTURE", "true");
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    assert_eq!(
        find(&u, "email", "jsmith@corp.local")["department"],
        "People/IT/Helpdesk"
    );
    let p = project(&s)
        .env("LDAP_USE_OU_STRUCTURE", "true")
        .env("LDAP_USE_OU_DESCRIPTION", "true");
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    assert_eq!(
        find(&u, "email", "jsmith@corp.local")["department"],
        "People/Information Technology/Helpdesk"
    );
}

#[test]
fn role_groups_set_the_force_flags() {
    let s = seeded();
    let p = project(&s)
        .env("LDAP_SUPERVISOR_GROUP_NAME", "timecamp_mgr")
        .env("LDAP_GLOBAL_ADMIN_GROUP_NAME", "TimeCamp_Admin");
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    assert_eq!(
        find(&u, "email", "jan.kowalski@corp.com")["force_supervisor_role"],
        true
    );
    assert_eq!(
        find(&u, "email", "ewa.nowak@corp.com")["force_global_admin_role"],
        true
    );
    assert!(
        find(&u, "email", "seller1@corp.com")
            .get("force_supervisor_role")
            .is_none()
    );
}

#[test]
fn supervisors_outside_the_filter_are_added_as_inactive() {
    let s = seeded();
    let p = project(&s).env("TIMECAMP_USE_SUPERVISOR_GROUPS", "true");
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    let boss = find(&u, "email", "old.boss@corp.com");
    assert_eq!(boss["status"], "inactive");
    assert_eq!(boss["external_id"], guid(5).1);
    assert_eq!(
        find(&u, "email", "seller3@corp.com")["supervisor_id"],
        guid(5).1
    );
}

#[test]
fn ldaps_and_starttls_verify_the_certificate() {
    let s = seeded();
    let ca = s.ca_file().display().to_string();
    let ldaps = |p: Project| {
        p.env("LDAP_PORT", &s.tls_port().to_string())
            .env("LDAP_USE_SSL", "true")
    };

    let p = ldaps(project(&s)).env("SSL_CERT_FILE", &ca);
    p.run(FETCH, &[]).expect_success();
    assert_eq!(p.source_users().len(), SALES + 3);

    let p = project(&s)
        .env("LDAP_USE_START_TLS", "true")
        .env("SSL_CERT_FILE", &ca);
    p.run(FETCH, &[]).expect_success();
    assert_eq!(p.source_users().len(), SALES + 3);

    // A certificate nobody vouches for is refused, unless verification is turned off.
    let p = ldaps(project(&s));
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("cannot connect to ldaps://localhost")
        .expect_stderr(
            "self-signed or issued by a certificate authority this machine does not trust",
        )
        .expect_stderr("set SSL_CERT_FILE")
        .expect_stderr("LDAP_SSL_VERIFY=false turns the certificate check off");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
    let p = ldaps(project(&s)).env("LDAP_SSL_VERIFY", "false");
    p.run(FETCH, &[])
        .expect_success()
        .expect_stderr("LDAP_SSL_VERIFY=false");
}

#[test]
fn a_wrong_password_fails_the_bind_without_printing_it() {
    let s = seeded();
    let p = project(&s).env("LDAP_PASSWORD", "wrong-password-99");
    let run = p.run(FETCH, &[]);
    run.expect_code(1)
        .expect_stderr(&format!("bind as {LDAP_READER_DN} failed"));
    assert!(!run.stderr.contains("wrong-password-99"));
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn a_directory_that_returns_nobody_leaves_the_previous_file() {
    let s = seeded();
    let p = project(&s).env("LDAP_FILTER", "(sAMAccountName=nobody-has-this)");
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("the source returned no users");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn missing_settings_exit_2_naming_them() {
    Project::new()
        .env("LDAP_HOST", "localhost")
        .run(FETCH, &[])
        .expect_code(2)
        .expect_stderr("fetch-ldap needs LDAP_DOMAIN, LDAP_DN, LDAP_USERNAME and LDAP_PASSWORD");
}

/// Forwards one connection to slapd, and cuts it once `limit` bytes came back.
fn cutting_proxy(target: u16, limit: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((mut client, _)) = listener.accept() else {
            return;
        };
        let mut server = TcpStream::connect(("127.0.0.1", target)).unwrap();
        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut c2, &mut s2);
        });
        let mut sent = 0;
        let mut buf = [0u8; 512];
        while sent < limit {
            match server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let n = n.min(limit - sent);
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                }
            }
        }
        let _ = client.shutdown(std::net::Shutdown::Both);
        let _ = server.shutdown(std::net::Shutdown::Both);
    });
    port
}

#[test]
fn a_connection_broken_in_the_middle_of_paging_leaves_the_previous_file() {
    let s = seeded();
    // Enough for the bind and the first pages, not for all of them.
    let port = cutting_proxy(s.port(), 2500);
    let p = project(&s)
        .env("LDAP_HOST", "127.0.0.1")
        .env("LDAP_PORT", &port.to_string());
    p.run(FETCH, &[])
        .expect_code(1)
        .expect_stderr("fetch-ldap stopped")
        .expect_stderr("the connection broke after");
    assert_eq!(p.read("var/users.json"), OLD_USERS);
}

#[test]
fn fetch_prepare_and_sync_end_to_end() {
    let s = seeded();
    let fake = FakeTimecamp::start(10);
    let p = project(&s)
        .env("LDAP_USERNAME", LDAP_ADMIN_DN)
        .env("LDAP_PASSWORD", LDAP_ADMIN_PASSWORD)
        .env("LDAP_USE_OU_STRUCTURE", "true")
        .env("TIMECAMP_SKIP_DEPARTMENTS", "People")
        .env("LDAP_SUPERVISOR_GROUP_NAME", "timecamp_mgr")
        .env("TIMECAMP_API_URL", &fake.url())
        .env("TIMECAMP_API_KEY", TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .env("TIMECAMP_NEW_USER_WAIT_SECONDS", "5");
    p.run(FETCH, &[]).expect_success();
    // The source's own record is kept for rules and filters, but not copied further.
    p.assert_fetched_with_raw_data("dn");
    p.run(PREPARE, &[]).expect_success();
    p.assert_prepared_without_raw_data();
    p.run(SYNC, &[]).expect_success();
    assert_eq!(
        fake.group_path_of("jsmith@corp.local"),
        "Company/IT/Helpdesk"
    );
    assert_eq!(fake.role_of("jan.kowalski@corp.com"), 2);
    assert_eq!(
        fake.setting_of("jsmith@corp.local", "external_id"),
        Some(guid(3).1)
    );
    assert_eq!(fake.user_count(), SALES + 3);
}

/// OpenLDAP writes special characters of DNs as hex escapes (`ou=Sales\2C EMEA`,
/// `\C3\A9` for é); departments and group names are read decoded. A `mail`
/// with several values prefers the replacement domain, as a comma-joined one does.
#[test]
fn hex_escaped_dns_are_decoded_and_multi_valued_mail_prefers_the_domain() {
    let s = Slapd::start();
    let mut ldif = String::from(
        "dn: ou=People,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: People\n\n\
         dn: ou=Sales\\2C EMEA,ou=People,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: Sales, EMEA\n\n\
         dn: ou=R\\C3\\A9seau \\2B Ops,ou=Sales\\2C EMEA,ou=People,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: R\u{e9}seau + Ops\n\n\
         dn: ou=Groups,dc=corp,dc=local\nobjectClass: organizationalUnit\nou: Groups\n\n",
    );
    ldif += &person(
        "cn=Ann Lee,ou=R\\C3\\A9seau \\2B Ops,ou=Sales\\2C EMEA,ou=People,dc=corp,dc=local",
        "Ann Lee",
        1,
        "displayName: Ann Lee\nmail: ann.lee@old-corp.com\nmail: Ann.Lee@corp.com\nuserAccountControl: 512\n",
    );
    ldif += "\ndn: cn=Leads\\2C EMEA,ou=Groups,dc=corp,dc=local\nobjectClass: groupOfNames\ncn: Leads, EMEA\n\
             member: cn=Ann Lee,ou=R\\C3\\A9seau \\2B Ops,ou=Sales\\2C EMEA,ou=People,dc=corp,dc=local\n";
    s.add(&ldif);

    let p = project(&s)
        .env("LDAP_USE_OU_STRUCTURE", "true")
        .env("LDAP_SUPERVISOR_GROUP_NAME", "Leads, EMEA")
        .env("TIMECAMP_REPLACE_EMAIL_DOMAIN", "corp.com");
    p.run(FETCH, &[]).expect_success();
    let u = p.source_users();
    assert_eq!(u.len(), 1);
    assert_eq!(u[0]["department"], "People/Sales, EMEA/R\u{e9}seau + Ops");
    assert_eq!(
        u[0]["email"], "ann.lee@corp.com",
        "the value in the preferred domain, of two"
    );
    assert_eq!(
        u[0]["force_supervisor_role"], true,
        "member of the group whose name has an escaped comma"
    );

    let p = project(&s);
    p.run(FETCH, &[]).expect_success();
    assert_eq!(
        p.source_users()[0]["email"],
        "ann.lee@old-corp.com",
        "without a preferred domain, the first value"
    );
}
