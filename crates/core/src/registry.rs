//! The registry of settings: every environment variable any stage reads,
//! declared once with its default, the stages that read it and what it means.
//!
//! The table in `docs/configuration.md` and the examples of `.env.sample` are
//! checked against this list by the tests, so the documentation cannot drift
//! from the code. A setting is added here first; the stages read it through
//! [`crate::Env`] (reading the process environment anywhere else is a lint
//! error, see `clippy.toml`). A variable one or two letters away from a
//! setting of its family ([`near_misses`]) stops every stage when the
//! environment is loaded, so a typo such as `TIMECAMP_IGNORE_USER_IDS` can
//! never be ignored; other variables that look like settings but are not in
//! the list are warned about at start ([`unknown_settings`]).

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// The default as the documentation states it (`–` for none).
    pub default: &'static str,
    /// Which stages read it.
    pub read_by: &'static str,
    /// What it means, one line.
    pub doc: &'static str,
    /// Never printed: keys, passwords, tokens.
    pub secret: bool,
}

impl Setting {
    /// Whether the stages that read it cannot run without it, as its doc
    /// says with a closing `(required)`; each stage's `--help` names these.
    pub fn is_required(&self) -> bool {
        self.doc.ends_with("(required)")
    }
}

const fn s(
    name: &'static str,
    default: &'static str,
    read_by: &'static str,
    doc: &'static str,
) -> Setting {
    Setting {
        name,
        default,
        read_by,
        doc,
        secret: false,
    }
}

const fn secret(
    name: &'static str,
    default: &'static str,
    read_by: &'static str,
    doc: &'static str,
) -> Setting {
    Setting {
        secret: true,
        ..s(name, default, read_by, doc)
    }
}

/// Every setting, in the order of `docs/configuration.md`.
pub const SETTINGS: &[Setting] = &[
    secret(
        "TIMECAMP_API_KEY",
        "–",
        "stages that call TimeCamp",
        "API token of a TimeCamp administrator. Never logged. Not needed by prepare",
    ),
    s(
        "TIMECAMP_DOMAIN",
        "`app.timecamp.com`",
        "stages that call TimeCamp (validated by prepare)",
        "TimeCamp host (`http://` or `https://` may be given)",
    ),
    s(
        "TIMECAMP_API_URL",
        "built from the domain",
        "stages that call TimeCamp (validated by prepare)",
        "full API base URL, e.g. `http://127.0.0.1:8080/third_party/api`; overrides `TIMECAMP_DOMAIN`",
    ),
    s(
        "TIMECAMP_SSL_VERIFY",
        "`true`",
        "stages that call TimeCamp (validated by prepare)",
        "verify TimeCamp's TLS certificate; `false` logs a warning",
    ),
    s(
        "TIMECAMP_HTTP_TIMEOUT_SECONDS",
        "`30`",
        "stages that call TimeCamp (validated by prepare)",
        "timeout of each request",
    ),
    s(
        "TIMECAMP_HTTP_MAX_ATTEMPTS",
        "`5`",
        "stages that call TimeCamp (validated by prepare)",
        "tries per request on 429, 502, 503, 504, timeouts and connection errors",
    ),
    s(
        "TIMECAMP_HTTP_RETRY_BUDGET_SECONDS",
        "`120`",
        "stages that call TimeCamp (validated by prepare)",
        "most time one run spends on unanswered requests (timeouts, refused connections) and the waits after them; then the run fails. 429s count against `TIMECAMP_HTTP_WAIT_BUDGET_SECONDS` instead",
    ),
    s(
        "TIMECAMP_HTTP_WAIT_BUDGET_SECONDS",
        "`900`",
        "stages that call TimeCamp (validated by prepare)",
        "most time one run waits because TimeCamp said \"not now\" (429, 502, 503, 504 and their `Retry-After`, a spent rate-limit window, a group creation refused for a while); waits of concurrent requests count once. A wait that would pass it is not made: the request fails at once, saying how long the run waited and what TimeCamp asked",
    ),
    s(
        "TIMECAMP_NEW_USER_WAIT_SECONDS",
        "`60`",
        "sync (validated by prepare)",
        "how long to wait for invited users to appear before setting their name, role and settings",
    ),
    s(
        "TIMECAMP_ROOT_GROUP_ID",
        "–",
        "all TimeCamp stages (validated by prepare)",
        "group under which everything is synced; positive whole number",
    ),
    s(
        "TIMECAMP_IGNORED_USER_IDS",
        "empty",
        "sync (validated by prepare)",
        "comma-separated user ids never touched",
    ),
    s(
        "TIMECAMP_DISABLED_USERS_GROUP_ID",
        "`0`",
        "sync, remove-empty-groups (validated by prepare)",
        "group that disabled users are moved to; `0` = off",
    ),
    s(
        "TIMECAMP_USE_SUPERVISOR_GROUPS",
        "`false`",
        "prepare, sync-users (with --explain)",
        "supervisor or hybrid group mode",
    ),
    s(
        "TIMECAMP_USE_DEPARTMENT_GROUPS",
        "`true`",
        "prepare, sync-users (with --explain)",
        "with supervisor groups: hybrid (`true`) or supervisor-only (`false`)",
    ),
    s(
        "TIMECAMP_USE_JOB_TITLE_NAME_USERS",
        "`false`",
        "prepare, sync-users (with --explain)",
        "user names `<title> [<name>]`",
    ),
    s(
        "TIMECAMP_USE_JOB_TITLE_NAME_GROUPS",
        "`false`",
        "prepare, sync-users (with --explain)",
        "supervisor group names `<title> [<name>]`",
    ),
    s(
        "TIMECAMP_SHOW_EXTERNAL_ID",
        "`false`",
        "prepare, sync-users (with --explain)",
        "` - <external id>` after user and supervisor group names",
    ),
    s(
        "TIMECAMP_SKIP_DEPARTMENTS",
        "empty",
        "prepare, sync-users (with --explain)",
        "comma-separated path prefixes to strip (whole components, case-sensitive, first match)",
    ),
    s(
        "TIMECAMP_REPLACE_EMAIL_DOMAIN",
        "empty",
        "prepare, sync-users (with --explain)",
        "new domain for every e-mail (`example.com` or `@example.com`)",
    ),
    s(
        "TIMECAMP_EXCLUDE_REGEX",
        "empty",
        "prepare, sync-users (with --explain)",
        "a pattern (regex) matched anywhere in each source record's `department=\"…\" job_title=\"…\" email=\"…\"`; matching people are left out (they still shape the supervisor groups); an invalid pattern stops prepare (exit 2)",
    ),
    s(
        "TIMECAMP_CHANGE_GROUPS_REGEX",
        "empty",
        "prepare, sync-users (with --explain)",
        "`pattern\\|\\|\\|replacement` rules separated by `;;;`, applied in order to every group path; replacements may use `\\1`, `\\g<name>`, `$1` or `${name}` (`$$` is a literal `$`); an invalid rule, or a replacement naming a group its pattern lacks, stops prepare (exit 2)",
    ),
    s(
        "TIMECAMP_PREPARE_TRANSFORM_CONFIG",
        "empty",
        "prepare, sync-users (with --explain)",
        "inline JSON or a file path: `exclude` and `filter` nodes (`and`, `or`, `not`, leaves comparing a `property` such as `department` or `raw_data.x` with `equals`, `starts_with`, `ends_with`, `contains`) and `transform` rules (`replace_all`), applied to the source records before prepare's own rules; any unknown key, operator or action stops prepare (exit 2) with its JSON path; at most 1 MiB, a regular file",
    ),
    s(
        "TIMECAMP_USE_IS_SUPERVISOR_ROLE",
        "`false`",
        "prepare, sync-users (with --explain)",
        "role from the source's `is_supervisor`",
    ),
    s(
        "TIMECAMP_DISABLE_NEW_USERS",
        "`false`",
        "sync (validated by prepare)",
        "do not create users",
    ),
    s(
        "TIMECAMP_DISABLE_EXTERNAL_ID_SYNC",
        "`false`",
        "sync (validated by prepare)",
        "never write external ids",
    ),
    s(
        "TIMECAMP_DISABLE_ADDITIONAL_EMAIL_SYNC",
        "`false`",
        "sync (validated by prepare)",
        "never write additional e-mails",
    ),
    s(
        "TIMECAMP_DISABLE_MANUAL_USER_UPDATES",
        "`false`",
        "sync (validated by prepare)",
        "leave users added by hand alone",
    ),
    s(
        "TIMECAMP_DISABLE_GROUP_UPDATES",
        "`false`",
        "sync (validated by prepare)",
        "do not move existing users",
    ),
    s(
        "TIMECAMP_DISABLE_ROLE_UPDATES",
        "`false`",
        "sync (validated by prepare)",
        "do not change roles",
    ),
    s(
        "TIMECAMP_DISABLE_GROUPS_CREATION",
        "`false`",
        "sync (validated by prepare)",
        "do not create groups",
    ),
    s(
        "TIMECAMP_DISABLE_USER_DEACTIVATION",
        "`false`",
        "sync (validated by prepare)",
        "never disable leavers (still moved to the disabled-users group when set, as in the newer upstream)",
    ),
    s(
        "TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID",
        "`false`",
        "sync (validated by prepare)",
        "a TimeCamp user found by external id (the person's e-mail changed in the source) gets the source's e-mail as their login; off: the account is kept with its old e-mail",
    ),
    s(
        "TIMECAMP_ALLOW_ADMIN_DEMOTION",
        "`false`",
        "sync (validated by prepare)",
        "let the sync give an administrator a role with fewer rights when the source says so; off: administrators keep their role, with a warning. The API key's owner is never demoted",
    ),
    s(
        "TIMECAMP_REMOVE_EMPTY_GROUPS",
        "`false`",
        "sync (validated by prepare)",
        "after a sync with no failure, delete the empty groups under the root, with the protections of `remove-empty-groups`",
    ),
    s(
        "TIMECAMP_MAX_DEACTIVATIONS",
        "`10%`",
        "sync (validated by prepare)",
        "most users one run may disable or demote: a number, or a share of the enabled users the sync manages (rounded up, at least 1)",
    ),
    s(
        "TIMECAMP_CONCURRENCY",
        "`8`",
        "sync (validated by prepare)",
        "write requests in flight at once (1–64)",
    ),
    s(
        "TIMECAMP_LOCK_WAIT_SECONDS",
        "`60`",
        "sync, remove-empty-groups, sync-time-off (validated by prepare)",
        "how long a run waits for another one on the same `var/` to finish",
    ),
    s(
        "DISABLE_FILE_LOGGING",
        "`false`",
        "every stage",
        "log to stderr only",
    ),
    s(
        "SSL_CERT_FILE",
        "the system CAs",
        "every stage that uses TLS",
        "a PEM file of the certificate authorities to trust (a private CA, a TLS-inspecting proxy), for TimeCamp, the HR systems and LDAP alike; read by the TLS library, as OpenSSL does",
    ),
    s(
        "HTTPS_PROXY",
        "none",
        "every stage that calls a server over HTTPS",
        "proxy for requests to `https://` servers (TimeCamp, the HR systems, the alert webhook; not S3 or LDAP): `http://host:port`, credentials as `http://user:password@host:port` (never logged); read by the HTTP library, as curl does (`https_proxy` too)",
    ),
    s(
        "HTTP_PROXY",
        "none",
        "every stage that calls a server over HTTP",
        "proxy for requests to `http://` servers, as `HTTPS_PROXY` (`http_proxy` too; `ALL_PROXY` for both)",
    ),
    s(
        "NO_PROXY",
        "none",
        "every stage that calls a server",
        "hosts reached without the proxy, separated by commas (`internal.example.com,10.0.0.0/8`)",
    ),
    secret(
        "NOTIFY_WEBHOOK_URL",
        "–",
        "every stage",
        "an HTTP(S) URL that gets one JSON message (with a `text` field, as Slack and Teams incoming webhooks expect) when a stage fails or is refused, and per `NOTIFY_ON`; checked at start (anything else stops the stage with exit 2); never logged, and never sent to another origin (no redirect to one is followed)",
    ),
    s(
        "NOTIFY_ON",
        "`failure`",
        "every stage",
        "when to send: `failure` (failed or refused runs), `changes` (also runs that changed TimeCamp), `always`",
    ),
    secret(
        "HTTP_SERVICE_TOKEN",
        "–",
        "http-service",
        "bearer token required on every request but `GET /health`; the service refuses to start without one",
    ),
    s(
        "HTTP_SERVICE_ALLOW_NO_AUTH",
        "`false`",
        "http-service",
        "run without a token (closed networks only)",
    ),
    s(
        "HTTP_SERVICE_HOST",
        "`0.0.0.0`",
        "http-service",
        "address to listen on",
    ),
    s(
        "HTTP_SERVICE_PORT",
        "`8181`",
        "http-service",
        "port to listen on",
    ),
    s(
        "HTTP_SERVICE_TIMEOUT_SECONDS",
        "`300`",
        "http-service",
        "a run taking longer is asked to stop (SIGTERM) and answered 408",
    ),
    s(
        "HTTP_SERVICE_STOP_GRACE_SECONDS",
        "`30`",
        "http-service",
        "how long a stage may take to stop after SIGTERM before it is killed; also when the service itself is stopped (SIGTERM, `docker stop`)",
    ),
    s(
        "HTTP_SERVICE_READ_TIMEOUT_SECONDS",
        "`10`",
        "http-service",
        "a connection must send a request's headers within this time of opening or of its previous answer, then the body within it again; idle and slow connections are closed (1–300)",
    ),
    s(
        "HTTP_SERVICE_MAX_CONNECTIONS",
        "`64`",
        "http-service",
        "open connections at most, lowered to fit the open-file limit; at the cap a new connection closes the oldest one with no request running (one that just opened gets a second to send its request), or is answered 503 (4–10000)",
    ),
    s(
        "HTTP_SERVICE_OUTPUT_TAIL_BYTES",
        "`262144`",
        "http-service",
        "how much of the end of a stage's stdout and of its stderr is kept and answered; earlier output is dropped with a note (1024–16777216)",
    ),
    secret(
        "SCIM_BEARER_TOKEN",
        "–",
        "scim-server",
        "the token Entra ID or Okta sends (`Authorization: Bearer ...`; their \"secret token\" / \"API token\"); at least 16 characters; compared in constant time (required)",
    ),
    s(
        "SCIM_HOST",
        "`127.0.0.1`",
        "scim-server",
        "address to listen on (`0.0.0.0` in a container or behind a proxy on another host)",
    ),
    s(
        "SCIM_PORT",
        "`8282`",
        "scim-server",
        "port to listen on (`0` picks a free one, named in the start-up line)",
    ),
    s(
        "SCIM_SYNC_DELAY_SECONDS",
        "`30`",
        "scim-server",
        "quiet period: prepare and sync run this long after the last pushed change (at the latest ten such periods after the first unsynced one)",
    ),
    s(
        "SCIM_GROUP_SOURCE",
        "`department`",
        "scim-server",
        "where a pushed user's TimeCamp group comes from: `department` (the enterprise extension's, and the manager in supervisor modes) or `groups` (the pushed group the user is in; in several, the first by name)",
    ),
    s(
        "SCIM_TLS_CERT_FILE",
        "–",
        "scim-server",
        "PEM certificate chain, to serve HTTPS without a proxy (with `SCIM_TLS_KEY_FILE`)",
    ),
    s(
        "SCIM_TLS_KEY_FILE",
        "–",
        "scim-server",
        "PEM private key of `SCIM_TLS_CERT_FILE`",
    ),
    s(
        "USE_S3_STORAGE",
        "`false`",
        "every stage",
        "keep the stage files in an S3-compatible bucket instead of `var/`",
    ),
    s(
        "S3_ENDPOINT_URL",
        "AWS",
        "every stage (with S3)",
        "endpoint of MinIO, Ceph, ... e.g. `http://minio:9000`",
    ),
    secret(
        "S3_ACCESS_KEY_ID",
        "–",
        "every stage (with S3)",
        "required with S3",
    ),
    secret(
        "S3_SECRET_ACCESS_KEY",
        "–",
        "every stage (with S3)",
        "required with S3; never logged",
    ),
    s(
        "S3_BUCKET_NAME",
        "–",
        "every stage (with S3)",
        "required with S3",
    ),
    s(
        "S3_REGION",
        "`us-east-1`",
        "every stage (with S3)",
        "region (an empty value keeps the default)",
    ),
    s(
        "S3_PATH_PREFIX",
        "empty",
        "every stage (with S3)",
        "keys become `<prefix>/var/users.json`, ...; surrounding `/` ignored",
    ),
    s(
        "S3_FORCE_PATH_STYLE",
        "`false`",
        "every stage (with S3)",
        "path-style URLs (`http://host/bucket/key`), needed by most self-hosted servers",
    ),
    s(
        "S3_LOCK_EXPIRY_SECONDS",
        "`120`",
        "sync (with S3)",
        "the lock object that keeps runs on different machines apart is renewed every third of this while its run lives; one left by a killed run is taken over after it (15–3600)",
    ),
    s(
        "BAMBOOHR_SUBDOMAIN",
        "–",
        "fetch-bamboohr",
        "the company's BambooHR subdomain (required)",
    ),
    secret(
        "BAMBOOHR_API_KEY",
        "–",
        "fetch-bamboohr",
        "API key; never logged (required)",
    ),
    s(
        "BAMBOOHR_API_URL",
        "`https://api.bamboohr.com/api/gateway.php`",
        "fetch-bamboohr",
        "API base (proxies, tests); `/{subdomain}/v1/datasets/employee` follows",
    ),
    s(
        "BAMBOOHR_EXCLUDE_FILTER",
        "–",
        "fetch-bamboohr",
        "one more dataset filter (JSON) every employee must satisfy, e.g. `{\"field\":\"customField4548\",\"operator\":\"not_checked\"}`; malformed → exit 2",
    ),
    s(
        "BAMBOOHR_EXCLUDED_DEPARTMENTS",
        "empty",
        "fetch-bamboohr",
        "comma-separated departments or divisions to leave out",
    ),
    s(
        "BAMBOOHR_SUPERVISOR_RULE",
        "empty",
        "fetch-bamboohr",
        "`field:value` setting `is_supervisor`, e.g. `isSupervisor:Yes`; without `:` → exit 2",
    ),
    s(
        "AZURE_TENANT_ID",
        "–",
        "fetch-azuread",
        "Directory (tenant) ID (required)",
    ),
    s(
        "AZURE_CLIENT_ID",
        "–",
        "fetch-azuread",
        "Application (client) ID (required)",
    ),
    secret(
        "AZURE_CLIENT_SECRET",
        "–",
        "fetch-azuread",
        "client secret value; never logged (required)",
    ),
    s(
        "AZURE_LOGIN_URL",
        "`https://login.microsoftonline.com`",
        "fetch-azuread",
        "token endpoint base (`/{tenant}/oauth2/v2.0/token` follows)",
    ),
    s(
        "AZURE_GRAPH_URL",
        "`https://graph.microsoft.com`",
        "fetch-azuread",
        "Graph base (`/v1.0/...` follows)",
    ),
    s(
        "AZURE_SCIM_ENDPOINT",
        "–",
        "fetch-azuread",
        "optional: a full Graph users URL (`.../v1.0/users`) is used as given; anything else is ignored with a warning",
    ),
    s(
        "AZURE_PREFER_REAL_EMAIL",
        "`false`",
        "fetch-azuread",
        "e-mail = `mail` when set, else `userPrincipalName`",
    ),
    s(
        "AZURE_FILTER_GROUPS",
        "empty",
        "fetch-azuread",
        "comma-separated group names; only their members (nested groups included) are read; an unknown name fails the fetch",
    ),
    s(
        "AZURE_SUPERVISOR_GROUPS",
        "empty",
        "fetch-azuread",
        "comma-separated group names; their members (nested groups included) get the supervisor role; an unknown name fails the fetch",
    ),
    s(
        "AZURE_ADDITIONAL_EMAIL_SOURCE",
        "empty",
        "fetch-azuread",
        "`mail` or `userPrincipalName` (`upn`): that field becomes the TimeCamp additional e-mail; empty or `none`: no additional e-mail",
    ),
    s(
        "LDAP_HOST",
        "–",
        "fetch-ldap",
        "directory server host (required)",
    ),
    s(
        "LDAP_PORT",
        "`389`",
        "fetch-ldap",
        "port; `636` alone means LDAPS",
    ),
    s(
        "LDAP_DOMAIN",
        "–",
        "fetch-ldap",
        "AD domain: appended to a bare `LDAP_USERNAME`, and used for generated e-mails (required)",
    ),
    s(
        "LDAP_DN",
        "–",
        "fetch-ldap",
        "search base, e.g. `OU=Staff,DC=corp,DC=local` (required)",
    ),
    s(
        "LDAP_USERNAME",
        "–",
        "fetch-ldap",
        "bind user: `svc-timecamp` (becomes `svc-timecamp@LDAP_DOMAIN`), a UPN, or a DN (required)",
    ),
    secret(
        "LDAP_PASSWORD",
        "–",
        "fetch-ldap",
        "bind password; never logged (required)",
    ),
    s(
        "LDAP_FILTER",
        "enabled AD accounts",
        "fetch-ldap",
        "`(&(objectClass=person)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))`; an empty value keeps it",
    ),
    s(
        "LDAP_PAGE_SIZE",
        "`1000`",
        "fetch-ldap",
        "paged-results page size",
    ),
    s(
        "LDAP_USE_SAMACCOUNTNAME",
        "`false`",
        "fetch-ldap",
        "e-mail = `sAMAccountName@LDAP_DOMAIN` (the `mail` becomes the additional e-mail)",
    ),
    s(
        "LDAP_USE_SAMACCOUNTNAME_ONLY",
        "`false`",
        "fetch-ldap",
        "e-mail = bare `sAMAccountName`",
    ),
    s(
        "LDAP_USE_WINDOWS_LOGIN_EMAIL",
        "`false`",
        "fetch-ldap",
        "e-mail = `sAMAccountName@(LDAP_EMAIL_DOMAIN or LDAP_DOMAIN)`",
    ),
    s(
        "LDAP_EMAIL_DOMAIN",
        "empty",
        "fetch-ldap",
        "domain of the windows-login e-mails",
    ),
    s(
        "LDAP_USE_REAL_EMAIL_AS_EMAIL",
        "`false`",
        "fetch-ldap",
        "use the `mail` address as the e-mail after all",
    ),
    s(
        "LDAP_USE_OU_STRUCTURE",
        "`false`",
        "fetch-ldap",
        "department = the entry's OU path (top first) instead of `department`",
    ),
    s(
        "LDAP_USE_OU_DESCRIPTION",
        "`false`",
        "fetch-ldap",
        "with the OU path: each OU's `description` instead of its name, when it has one",
    ),
    s(
        "LDAP_USE_SSL",
        "`false`",
        "fetch-ldap",
        "LDAPS (port 389 becomes 636)",
    ),
    s(
        "LDAP_USE_START_TLS",
        "`false`",
        "fetch-ldap",
        "StartTLS on the plain port",
    ),
    s(
        "LDAP_SSL_VERIFY",
        "`true`",
        "fetch-ldap",
        "check the server certificate (against the system CAs, or `SSL_CERT_FILE`)",
    ),
    s(
        "LDAP_SUPERVISOR_GROUP_NAME",
        "empty",
        "fetch-ldap",
        "members of this group (CN) get the supervisor role",
    ),
    s(
        "LDAP_GLOBAL_ADMIN_GROUP_NAME",
        "empty",
        "fetch-ldap",
        "members of this group (CN) become administrators",
    ),
    s(
        "LDAP_TIMEOUT_SECONDS",
        "`60`",
        "fetch-ldap",
        "timeout of the connection and of each LDAP operation",
    ),
    s(
        "HIBOB_SERVICE_USER_ID",
        "–",
        "fetch-hibob",
        "the API service user's id (HTTP Basic user) (required)",
    ),
    secret(
        "HIBOB_SERVICE_USER_TOKEN",
        "–",
        "fetch-hibob",
        "the service user's token; never logged (required)",
    ),
    s(
        "HIBOB_API_URL",
        "`https://api.hibob.com`",
        "fetch-hibob",
        "base URL of HiBob's API (proxies, tests)",
    ),
    s(
        "HIBOB_EXCLUDE_FILTER",
        "empty",
        "fetch-hibob",
        "one people-search filter, JSON `{\"fieldPath\", \"operator\": \"equals\", \"values\": [...]}`; despite the name, only the employees it matches are read; anything else stops the fetch",
    ),
    s(
        "HIBOB_EXCLUDED_DEPARTMENTS",
        "empty",
        "fetch-hibob",
        "comma-separated department names (as HiBob shows them) whose employees are left out",
    ),
    s(
        "HIBOB_SUPERVISOR_RULE",
        "empty",
        "fetch-hibob",
        "`field-path:value` marking supervisors (`is_supervisor`), e.g. `work.isManager:true`; empty: HiBob's `work.isManager`",
    ),
    s(
        "HIBOB_CUSTOM_FIELDS",
        "empty",
        "fetch-hibob",
        "comma-separated extra field paths to read (kept under `raw_data`, for transform filters)",
    ),
    s(
        "OKTA_ORG_URL",
        "–",
        "fetch-okta",
        "your Okta organisation, e.g. `https://acme.okta.com` (`https://` is added when missing) (required)",
    ),
    secret(
        "OKTA_API_TOKEN",
        "–",
        "fetch-okta",
        "an API token (`SSWS`) of a read-only admin; never logged (required)",
    ),
    s(
        "OKTA_USER_STATUSES",
        "`ACTIVE`",
        "fetch-okta",
        "comma-separated Okta statuses to read; `ACTIVE`, `LOCKED_OUT`, `PASSWORD_EXPIRED`, `RECOVERY` come through active, `SUSPENDED`, `DEPROVISIONED`, `STAGED`, `PROVISIONED` inactive; another name stops the fetch",
    ),
    s(
        "OKTA_FILTER_GROUPS",
        "empty",
        "fetch-okta",
        "comma-separated group names (exact, case-sensitive): only their members are read; an unknown name stops the fetch",
    ),
    s(
        "OKTA_FILTER_GROUP_IDS",
        "empty",
        "fetch-okta",
        "comma-separated group ids, read with `OKTA_FILTER_GROUPS`",
    ),
    s(
        "OKTA_SUPERVISOR_GROUPS",
        "empty",
        "fetch-okta",
        "comma-separated group names whose members get the supervisor role (`role_id` 2)",
    ),
    s(
        "OKTA_EXCLUDED_DEPARTMENTS",
        "empty",
        "fetch-okta",
        "comma-separated departments whose users are left out",
    ),
    s(
        "OKTA_EXTERNAL_ID_FIELD",
        "`id`",
        "fetch-okta",
        "field holding the stable id: `id` (Okta's user id), a profile attribute (`employeeNumber`) or a dotted path from the user (`profile.employeeNumber`)",
    ),
    s(
        "OKTA_EMAIL_FIELD",
        "`email`",
        "fetch-okta",
        "field holding the e-mail (else `profile.login`); an active user without it fails validation",
    ),
    s(
        "OKTA_NAME_FIELD",
        "`displayName`",
        "fetch-okta",
        "field holding the name; else first and last name, else e-mail, else login",
    ),
    s(
        "OKTA_DEPARTMENT_FIELD",
        "`department`",
        "fetch-okta",
        "field holding the department",
    ),
    s(
        "OKTA_JOB_TITLE_FIELD",
        "`title`",
        "fetch-okta",
        "field holding the job title",
    ),
    s(
        "OKTA_SUPERVISOR_ID_FIELD",
        "`managerId`",
        "fetch-okta",
        "field holding the manager reference (an object gives its `id`)",
    ),
    s(
        "OKTA_SUPERVISOR_MATCH_FIELD",
        "`OKTA_EXTERNAL_ID_FIELD`",
        "fetch-okta",
        "field of the manager the reference is compared with (e-mails and logins without case)",
    ),
    s(
        "OKTA_SUPERVISOR_RULE",
        "empty",
        "fetch-okta",
        "`field:value` marking supervisors (`is_supervisor`); an empty value matches users whose field is empty; `true` matches a boolean attribute",
    ),
    s(
        "OKTA_MAX_HIERARCHY_ROOTS",
        "`0`",
        "fetch-okta",
        "more managers at the top of the hierarchy than this fails validation; `0`: reported only",
    ),
    s(
        "FACTORIAL_API_URL",
        "–",
        "fetch-factorial",
        "the versioned API base, e.g. `https://api.factorialhr.com/api/2025-07-01` (required)",
    ),
    secret(
        "FACTORIAL_API_KEY",
        "–",
        "fetch-factorial",
        "API key (`x-api-key`); never logged (required)",
    ),
    s(
        "LeaveTypeMap",
        "–",
        "fetch-factorial",
        "JSON object: Factorial leave type → TimeCamp day type, key `Default` as fallback, e.g. `{\"Vacaciones\": \"Vacation\", \"Default\": \"Vacation\"}` (required)",
    ),
    s(
        "NETSUITE_ACCOUNT_ID",
        "–",
        "fetch-netsuite",
        "the account id, e.g. `1234567` or `1234567_SB1` for a sandbox; makes the host `https://1234567-sb1.suitetalk.api.netsuite.com` (required)",
    ),
    s(
        "NETSUITE_CLIENT_ID",
        "–",
        "fetch-netsuite",
        "the client id of the integration record (OAuth 2.0 client credentials) (required)",
    ),
    s(
        "NETSUITE_CERTIFICATE_ID",
        "–",
        "fetch-netsuite",
        "the id NetSuite gave the uploaded certificate (the JWT's `kid`) (required)",
    ),
    secret(
        "NETSUITE_PRIVATE_KEY",
        "–",
        "fetch-netsuite",
        "the certificate's private key as PEM text (a literal `\\n` stands for a line break); never logged; or `NETSUITE_PRIVATE_KEY_PATH`",
    ),
    s(
        "NETSUITE_PRIVATE_KEY_PATH",
        "–",
        "fetch-netsuite",
        "a file holding the certificate's private key (PEM, unencrypted: PKCS#8, PKCS#1 or SEC1); or `NETSUITE_PRIVATE_KEY`",
    ),
    s(
        "NETSUITE_JWT_ALGORITHM",
        "`PS256`",
        "fetch-netsuite",
        "how the token request is signed: `PS256` (an RSA key), `ES256` (P-256) or `ES512` (P-521); a key of another kind stops the fetch at start",
    ),
    s(
        "NETSUITE_BASE_URL",
        "from the account id",
        "fetch-netsuite",
        "the REST host, instead of the one the account id makes (proxies, tests)",
    ),
    s(
        "NETSUITE_PAGE_SIZE",
        "`1000`",
        "fetch-netsuite",
        "rows per SuiteQL page, 1 to 1000",
    ),
    s(
        "NETSUITE_TIMEOUT_SECONDS",
        "`30`",
        "fetch-netsuite",
        "timeout of each request",
    ),
    s(
        "NETSUITE_SSL_VERIFY",
        "`true`",
        "fetch-netsuite",
        "check NetSuite's TLS certificate; `false` logs a warning",
    ),
    s(
        "NETSUITE_EMPLOYEE_QUERY",
        "the default query",
        "fetch-netsuite",
        "SuiteQL instead of the default employee query, with the same column names (`external_id`, `email`, `first_name`, `last_name`, `name`, `job_title`, `supervisor_id`, `group_id`, `group_name`, `status`); order it by id so paging is stable",
    ),
    s(
        "NETSUITE_GROUP_QUERY",
        "the default query",
        "fetch-netsuite",
        "SuiteQL instead of the default department query (`group_id`, `group_name`, `parent_id`), ordered by id",
    ),
    s(
        "NETSUITE_ALLOW_EMPTY_RESULT",
        "`false`",
        "fetch-netsuite",
        "write `var/users.json` even when no employee is active (the sync would then disable everyone it manages)",
    ),
    s(
        "GOOGLE_SERVICE_ACCOUNT_KEY_FILE",
        "–",
        "fetch-google",
        "the JSON key file Google issued for the service account (IAM & Admin > Service accounts > Keys); or `GOOGLE_SERVICE_ACCOUNT_KEY`",
    ),
    secret(
        "GOOGLE_SERVICE_ACCOUNT_KEY",
        "–",
        "fetch-google",
        "the key file's content itself, for deployments without files; never logged; or `GOOGLE_SERVICE_ACCOUNT_KEY_FILE`",
    ),
    s(
        "GOOGLE_ADMIN_EMAIL",
        "–",
        "fetch-google",
        "the administrator the service account acts for (domain-wide delegation); needs to read users (required)",
    ),
    s(
        "GOOGLE_CUSTOMER_ID",
        "`my_customer`",
        "fetch-google",
        "the Workspace account whose users are read (`my_customer`: the admin's own)",
    ),
    s(
        "GOOGLE_DOMAIN",
        "empty",
        "fetch-google",
        "read only the users of this domain instead of the whole account (not with `GOOGLE_CUSTOMER_ID`)",
    ),
    s(
        "GOOGLE_DEPARTMENT_SOURCE",
        "`organization`",
        "fetch-google",
        "`organization`: the department of the user's primary organization; `org_unit_path`: the org unit path (`/Sales/EMEA` becomes `Sales/EMEA`)",
    ),
    s(
        "GOOGLE_API_URL",
        "`https://admin.googleapis.com`",
        "fetch-google",
        "the Admin SDK's base URL (proxies, tests)",
    ),
    s(
        "PERSONIO_CLIENT_ID",
        "–",
        "fetch-personio",
        "the client id of a Personio API credential (Settings > Integrations > API credentials) with `personio:persons:read` and read access to org units (required)",
    ),
    secret(
        "PERSONIO_CLIENT_SECRET",
        "–",
        "fetch-personio",
        "its client secret; never logged (required)",
    ),
    s(
        "PERSONIO_API_URL",
        "`https://api.personio.de`",
        "fetch-personio",
        "the API's base URL (proxies, tests)",
    ),
    s(
        "CSV_FILE",
        "`var/users.csv`",
        "fetch-csv",
        "the CSV file to read: a path (relative to the working directory), or with S3 storage the key under `S3_PATH_PREFIX`; UTF-8 (a BOM is fine), `,` or `;` separated, a header row; lines end with LF, CRLF or CR; at most 64 MiB, 200,000 rows, 1,000 columns and 4,096 characters a field, and what makes a `var/users.json` of at most 512 MiB",
    ),
    s(
        "CSV_COLUMN_EXTERNAL_ID",
        "`external_id`",
        "fetch-csv",
        "the header of the column holding each person's stable id (a column every file needs; names match without regard to case)",
    ),
    s(
        "CSV_COLUMN_NAME",
        "`name`",
        "fetch-csv",
        "the column holding the name (every file needs it)",
    ),
    s(
        "CSV_COLUMN_EMAIL",
        "`email`",
        "fetch-csv",
        "the column holding the login e-mail (every file needs it)",
    ),
    s(
        "CSV_COLUMN_DEPARTMENT",
        "`department`",
        "fetch-csv",
        "the column holding the department path (`Sales/EMEA`); optional unless set",
    ),
    s(
        "CSV_COLUMN_JOB_TITLE",
        "`job_title`",
        "fetch-csv",
        "the column holding the job title; optional unless set",
    ),
    s(
        "CSV_COLUMN_STATUS",
        "`status`",
        "fetch-csv",
        "the column holding the status; without it everyone in the file is active; optional unless set",
    ),
    s(
        "CSV_COLUMN_SUPERVISOR_ID",
        "`supervisor_id`",
        "fetch-csv",
        "the column holding the manager's external id; optional unless set",
    ),
    s(
        "CSV_ACTIVE_VALUES",
        "`active`",
        "fetch-csv",
        "comma-separated status values meaning active (any case); a value in neither list stops the fetch, naming the line",
    ),
    s(
        "CSV_INACTIVE_VALUES",
        "`inactive`",
        "fetch-csv",
        "comma-separated status values meaning inactive (any case): the sync disables these people",
    ),
    s(
        "TIMECAMP_TIME_OFF_INCLUDE_WEEKENDS",
        "`false`",
        "sync-time-off",
        "write Saturdays and Sundays of a leave too",
    ),
];

/// Settings of the newest original tool that this version does not read yet.
/// Set, they are warned about by name instead of passed over in silence.
const NOT_YET_SUPPORTED: &[&str] = &["TIMECAMP_SYNC_PERSISTENT_SETTINGS"];

/// Variables of the original that this version deliberately does not read.
const NOT_READ: &[(&str, &str)] = &[
    (
        "AZURE_SYNC_UPN_AS_ADDITIONAL_EMAIL",
        "replaced by AZURE_ADDITIONAL_EMAIL_SOURCE=userPrincipalName",
    ),
    (
        "AZURE_BEARER_TOKEN",
        "the Entra ID token is kept in memory for the run; .env is never rewritten",
    ),
    (
        "AZURE_TOKEN_EXPIRES_AT",
        "the Entra ID token is kept in memory for the run; .env is never rewritten",
    ),
    (
        "AZURE_REFRESH_TOKEN",
        "the Entra ID token is kept in memory for the run; .env is never rewritten",
    ),
    (
        "AZURE_REFRESH_TOKEN_EXPIRES_AT",
        "the Entra ID token is kept in memory for the run; .env is never rewritten",
    ),
];

/// The prefixes that mark a variable as meant for this tool, besides the
/// fetchers' own (declared with each fetcher in [`crate::stages`]).
const PREFIXES: &[&str] = &["TIMECAMP_", "NOTIFY_", "S3_", "HTTP_SERVICE_", "SCIM_"];

/// Whether `name` looks meant for this tool: it starts like its settings.
pub fn has_setting_prefix(name: &str) -> bool {
    PREFIXES.iter().any(|p| name.starts_with(p))
        || crate::stages::fetcher_of_setting(name).is_some()
}

/// The prefix of `name`'s family of settings (`TIMECAMP_`, `BAMBOOHR_`, ...).
fn family(name: &str) -> Option<&'static str> {
    PREFIXES
        .iter()
        .copied()
        .find(|p| name.starts_with(p))
        .or_else(|| match crate::stages::fetcher_of_setting(name)?.kind {
            crate::stages::Kind::Fetch { prefix, .. } => Some(prefix),
            _ => None,
        })
}

/// The setting called `name`, if there is one.
pub fn lookup(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The value of a setting as it may appear in a log line: `***` for secrets.
pub fn shown(name: &str, value: &str) -> String {
    match lookup(name) {
        Some(s) if s.secret => "***".to_owned(),
        _ => crate::secret::mask_url_credentials(value).into_owned(),
    }
}

/// The most letters a variable may differ from a setting of its family (same
/// prefix) and still be taken for a typo of it that stops the run.
pub const NEAR_MISS_DISTANCE: usize = 2;

/// A variable that is almost the name of a setting: a typo, which stops the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub name: String,
    pub setting: &'static str,
}

impl std::fmt::Display for NearMiss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is not a setting; did you mean {}?",
            self.name, self.setting
        )
    }
}

/// The variables among `names` that are not settings but within
/// [`NEAR_MISS_DISTANCE`] letters of a setting with the same prefix
/// (`TIMECAMP_`, `BAMBOOHR_`, ...). Each names the setting it misses.
pub fn near_misses<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<NearMiss> {
    names
        .into_iter()
        .filter(|name| looks_like_a_setting(name))
        .filter_map(|name| {
            let prefix = family(name)?;
            SETTINGS
                .iter()
                .filter(|s| s.name.starts_with(prefix))
                .map(|s| (edit_distance(name, s.name), s.name))
                .filter(|(d, _)| *d <= NEAR_MISS_DISTANCE)
                .min()
                .map(|(_, setting)| NearMiss {
                    name: name.to_owned(),
                    setting,
                })
        })
        .collect()
}

/// Whether `name` has a prefix of this tool, is not a setting, and is not a
/// variable known to be something else (the original's unread ones, the
/// newest original's, Kubernetes' service variables).
fn looks_like_a_setting(name: &str) -> bool {
    unregistered(name)
        && !NOT_YET_SUPPORTED.contains(&name)
        && !NOT_READ.iter().any(|(n, _)| *n == name)
}

/// Whether `name` has a prefix of this tool but is not a setting, leaving
/// out Kubernetes' service variables (`..._SERVICE_HOST`, `..._PORT...`).
fn unregistered(name: &str) -> bool {
    if !has_setting_prefix(name) || lookup(name).is_some() {
        return false;
    }
    let kubernetes = name.contains("_SERVICE_HOST")
        || name.contains("_SERVICE_PORT")
        || name.ends_with("_PORT")
        || name.contains("_PORT_");
    !kubernetes || name.starts_with("HTTP_SERVICE_")
}

/// A variable that looks like a setting but is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownSetting {
    /// Probably a typo of a setting.
    Misspelt { name: String, closest: &'static str },
    /// A setting of the newest original that this version does not read yet.
    NotYetSupported { name: String },
    /// A variable of the original this version deliberately does not read.
    NotRead { name: String, why: &'static str },
    /// Nothing close.
    Unknown { name: String },
}

impl std::fmt::Display for UnknownSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnknownSetting::Misspelt { name, closest } => write!(
                f,
                "{name} is not a setting of this version and is ignored; did you mean {closest}?"
            ),
            UnknownSetting::NotYetSupported { name } => write!(
                f,
                "{name} is a setting of the newest original tool that this version does not read \
                 yet; it is ignored"
            ),
            UnknownSetting::NotRead { name, why } => {
                write!(f, "{name} is not read by this version: {why}")
            }
            UnknownSetting::Unknown { name } => write!(
                f,
                "{name} is not a setting of this version and is ignored (every setting: \
                 docs/configuration.md)"
            ),
        }
    }
}

/// The variables among `names` that look like settings of this tool but are
/// none. Kubernetes' service variables (`..._SERVICE_HOST`, `..._PORT...`) are
/// not settings and are passed over.
pub fn unknown_settings<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<UnknownSetting> {
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| unregistered(n)) {
        let name = name.to_owned();
        out.push(if NOT_YET_SUPPORTED.contains(&name.as_str()) {
            UnknownSetting::NotYetSupported { name }
        } else if let Some((_, why)) = NOT_READ.iter().find(|(n, _)| *n == name) {
            UnknownSetting::NotRead { name, why }
        } else {
            match closest(&name) {
                Some(closest) => UnknownSetting::Misspelt { name, closest },
                None => UnknownSetting::Unknown { name },
            }
        });
    }
    out
}

/// The setting nearest to `name` by edit distance, if near enough to be a typo.
fn closest(name: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .map(|s| (edit_distance(name, s.name), s.name))
        .filter(|(d, _)| *d <= 3.max(name.len() / 6))
        .min()
        .map(|(_, n)| n)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// Whether `code_default`, the value the code uses when `name` is unset, is
/// the default the registry documents: the literal of a default written as
/// `` `value` ``; nothing (an empty string) for `–` or `empty`; anything for a
/// default the registry describes in words (`built from the domain`). The error
/// names both sides.
pub fn check_default(name: &str, code_default: &str) -> Result<(), String> {
    let Some(setting) = lookup(name) else {
        return Err(format!(
            "{name} is read but not declared in the settings registry (crates/core/src/registry.rs)"
        ));
    };
    let documented = setting.default;
    let agrees = match documented
        .strip_prefix('`')
        .and_then(|d| d.strip_suffix('`'))
    {
        // The default is another setting's value.
        Some(other) if lookup(other).is_some() => true,
        Some(literal) => literal == code_default,
        None if documented == "–" || documented == "empty" => code_default.is_empty(),
        None => true,
    };
    if agrees {
        Ok(())
    } else {
        Err(format!(
            "{name}: the code's default is {code_default:?} but the registry documents {documented} \
             (crates/core/src/registry.rs); make them the same"
        ))
    }
}

/// The stages that read settings whose row names a group of them rather
/// than one stage; the `read_by` text of every row is one of these phrases
/// or names stages of [`crate::stages::STAGES`] (a test holds every row to it).
/// scim-server runs prepare and the sync itself, so it reads their settings.
const READER_GROUPS: &[(&str, &[&str])] = &[
    (
        "stages that call TimeCamp",
        &[
            "sync-users",
            "sync-time-off",
            "remove-empty-groups",
            "scim-server",
        ],
    ),
    (
        "all TimeCamp stages",
        &[
            "prepare-timecamp",
            "sync-users",
            "sync-time-off",
            "remove-empty-groups",
            "scim-server",
        ],
    ),
    ("prepare", &["prepare-timecamp", "scim-server"]),
    ("sync", &["sync-users", "scim-server"]),
];

/// Rows read by every stage: `every stage`, `every stage (with S3)`, ...
fn read_by_every_stage(s: &Setting) -> bool {
    s.read_by.starts_with("every stage")
}

/// The stages a row's `read_by` names: stage names and the phrases of
/// [`READER_GROUPS`], separated by commas, each maybe followed by a remark in
/// parentheses (`sync (validated by prepare)` is read by sync-users and
/// checked by prepare-timecamp). `None` when a part names no stage.
pub fn readers(s: &Setting) -> Option<Vec<&'static str>> {
    if read_by_every_stage(s) {
        return Some(crate::stages::STAGES.iter().map(|st| st.name).collect());
    }
    let mut out = Vec::new();
    let mut add = |phrase: &str| -> bool {
        let phrase = phrase.trim();
        if let Some(stage) = crate::stages::find(phrase) {
            out.push(stage.name);
        } else if let Some((_, stages)) = READER_GROUPS.iter().find(|(p, _)| *p == phrase) {
            out.extend(stages.iter().copied());
        } else {
            return false;
        }
        true
    };
    for part in s.read_by.split(',') {
        let (main, remark) = match part.split_once('(') {
            Some((main, remark)) => (main, Some(remark.trim_end_matches(')'))),
            None => (part, None),
        };
        if !add(main) {
            return None;
        }
        // `(validated by prepare)`: prepare reads it too, to check it early.
        if let Some(by) = remark.and_then(|r| r.strip_prefix("validated by "))
            && !add(by)
        {
            return None;
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// The settings `stage` reads: its own first (in registry order), then
/// those every stage reads.
pub fn settings_of(stage: &str) -> (Vec<&'static Setting>, Vec<&'static Setting>) {
    let reads = |s: &&Setting| readers(s).is_some_and(|r| r.contains(&stage));
    let own = SETTINGS
        .iter()
        .filter(|s| !read_by_every_stage(s))
        .filter(reads)
        .collect();
    let common = SETTINGS.iter().filter(|s| read_by_every_stage(s)).collect();
    (own, common)
}

/// A registry text as a terminal shows it: no Markdown escapes.
fn plain(text: &str) -> String {
    text.replace("\\|", "|")
}

/// The closing lines of `stage`'s `-h`: what it needs and which settings it
/// reads, by name, from the registry.
pub fn short_help(stage: &str) -> String {
    let (own, common) = settings_of(stage);
    let required: Vec<&str> = own
        .iter()
        .filter(|s| s.is_required())
        .map(|s| s.name)
        .collect();
    let optional: Vec<&str> = own
        .iter()
        .filter(|s| !s.is_required())
        .map(|s| s.name)
        .collect();
    let mut out = String::new();
    if !required.is_empty() {
        out += &format!("Needs {}.\n", required.join(", "));
    }
    if !optional.is_empty() {
        out += &format!("Settings: {}.\n", optional.join(", "));
    }
    if own.is_empty() {
        out += "Needs no setting of its own.\n";
    }
    out += &format!(
        "Settings of every stage: {}.\n",
        common.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
    );
    out + "\n" + HELP_FOOTER
}

/// The closing lines of `stage`'s `--help`: each setting it reads with its
/// default and meaning, from the registry.
pub fn long_help(stage: &str) -> String {
    let (own, common) = settings_of(stage);
    let row = |s: &Setting| {
        let default = match s.default {
            "–" => String::new(),
            d => format!(" (default: {})", plain(d)),
        };
        format!("  {}{default}\n      {}\n", s.name, plain(s.doc))
    };
    let mut out = String::new();
    if own.is_empty() {
        out += "Needs no setting of its own.\n";
    } else {
        out += "Settings:\n";
        own.iter().for_each(|s| out += &row(s));
    }
    out += "\nSettings of every stage:\n";
    common.iter().for_each(|s| out += &row(s));
    out + "\n" + HELP_FOOTER
}

const HELP_FOOTER: &str = "Settings come from the environment and the first .env found from the \
    working directory upwards (the environment wins). Every setting, its default and meaning: \
    .env.sample and docs/configuration.md. Exit codes: 0 done, 1 failed, 2 bad settings or \
    flags, 3 refused by a safety guard (sync-users).";

/// The row of the settings table in `docs/configuration.md`.
pub fn table_row(s: &Setting) -> String {
    format!(
        "| `{}` | {} | {} | {} |",
        s.name, s.default, s.read_by, s.doc
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_declared_once() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a setting is declared twice");
        for n in NOT_YET_SUPPORTED {
            assert!(
                lookup(n).is_none(),
                "{n} is supported now: take it off the list"
            );
        }
    }

    #[test]
    fn typos_get_the_closest_setting() {
        let found = unknown_settings(["TIMECAMP_DISABLE_NEW_USER", "TIMECAMP_API_KEY", "PATH"]);
        assert_eq!(
            found,
            [UnknownSetting::Misspelt {
                name: "TIMECAMP_DISABLE_NEW_USER".into(),
                closest: "TIMECAMP_DISABLE_NEW_USERS"
            }]
        );
    }

    #[test]
    fn a_near_miss_names_the_setting_of_its_family() {
        let found = near_misses([
            "TIMECAMP_IGNORE_USER_IDS",
            "TIMECAMP_IGNORED_USER_IDS",
            "BAMBOOHR_SUBDOMIAN",
            "TIMECAMP_SOMETHING_ELSE_ENTIRELY",
            "TIMECAMP_SYNC_PERSISTENT_SETTINGS",
            "AZURE_BEARER_TOKEN",
            "TIMECAMP_SCIM_SERVICE_HOST",
            "PATH",
        ]);
        assert_eq!(
            found,
            [
                NearMiss {
                    name: "TIMECAMP_IGNORE_USER_IDS".into(),
                    setting: "TIMECAMP_IGNORED_USER_IDS"
                },
                NearMiss {
                    name: "BAMBOOHR_SUBDOMIAN".into(),
                    setting: "BAMBOOHR_SUBDOMAIN"
                }
            ]
        );
        assert_eq!(
            found[0].to_string(),
            "TIMECAMP_IGNORE_USER_IDS is not a setting; did you mean TIMECAMP_IGNORED_USER_IDS?"
        );
    }

    #[test]
    fn newest_original_settings_and_unread_ones_are_named_as_such() {
        let found = unknown_settings([
            "TIMECAMP_SYNC_PERSISTENT_SETTINGS",
            "AZURE_BEARER_TOKEN",
            "TIMECAMP_SOMETHING_ELSE_ENTIRELY",
            "TIMECAMP_SCIM_SERVICE_HOST",
        ]);
        assert!(matches!(found[0], UnknownSetting::NotYetSupported { .. }));
        assert!(matches!(found[1], UnknownSetting::NotRead { .. }));
        assert!(matches!(found[2], UnknownSetting::Unknown { .. }));
        assert_eq!(
            found.len(),
            3,
            "Kubernetes service variables are not settings"
        );
    }

    #[test]
    fn a_code_default_must_be_the_documented_one() {
        assert_eq!(check_default("TIMECAMP_HTTP_TIMEOUT_SECONDS", "30"), Ok(()));
        assert_eq!(
            check_default("TIMECAMP_USE_DEPARTMENT_GROUPS", "true"),
            Ok(())
        );
        assert_eq!(check_default("TIMECAMP_SKIP_DEPARTMENTS", ""), Ok(()));
        assert_eq!(check_default("TIMECAMP_API_URL", "anything"), Ok(()));
        assert_eq!(check_default("OKTA_SUPERVISOR_MATCH_FIELD", "id"), Ok(()));
        let err = check_default("TIMECAMP_HTTP_TIMEOUT_SECONDS", "60").unwrap_err();
        assert!(err.contains("\"60\"") && err.contains("`30`"), "{err}");
        assert!(check_default("TIMECAMP_SKIP_DEPARTMENTS", "x").is_err());
        assert!(check_default("TIMECAMP_NOT_A_SETTING", "").is_err());
    }

    #[test]
    fn every_row_names_the_stages_that_read_it() {
        for s in SETTINGS {
            let readers = readers(s).unwrap_or_else(|| {
                panic!(
                    "{}: read by {:?} names no stage (a stage's name, or a phrase of READER_GROUPS)",
                    s.name, s.read_by
                )
            });
            assert!(!readers.is_empty(), "{}", s.name);
        }
        let (own, common) = settings_of("prepare-timecamp");
        let names: Vec<&str> = own.iter().map(|s| s.name).collect();
        for name in [
            "TIMECAMP_EXCLUDE_REGEX",
            "TIMECAMP_CHANGE_GROUPS_REGEX",
            "TIMECAMP_PREPARE_TRANSFORM_CONFIG",
            "TIMECAMP_IGNORED_USER_IDS",
        ] {
            assert!(names.contains(&name), "{name}: {names:?}");
        }
        assert!(!names.contains(&"TIMECAMP_API_KEY"), "{names:?}");
        assert!(common.iter().any(|s| s.name == "USE_S3_STORAGE"));
    }

    #[test]
    fn help_shows_each_setting_with_its_registry_default_and_meaning() {
        let long = long_help("sync-users");
        assert!(
            long.contains(
                "  TIMECAMP_HTTP_TIMEOUT_SECONDS (default: `30`)\n      timeout of each request\n"
            ),
            "{long}"
        );
        let long = long_help("prepare-timecamp");
        assert!(long.contains("`pattern|||replacement`"), "{long}");
        let short = short_help("fetch-bamboohr");
        assert!(
            short.starts_with("Needs BAMBOOHR_SUBDOMAIN, BAMBOOHR_API_KEY.\n"),
            "{short}"
        );
    }

    #[test]
    fn secrets_are_shown_masked() {
        assert_eq!(shown("LDAP_PASSWORD", "hunter2"), "***");
        assert_eq!(
            shown("S3_ENDPOINT_URL", "http://k:s@minio:9000"),
            "http://***@minio:9000"
        );
        assert_eq!(
            shown("TIMECAMP_DOMAIN", "app.timecamp.com"),
            "app.timecamp.com"
        );
    }
}
