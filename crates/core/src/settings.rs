//! Typed settings shared by the stages, parsed once from [`Env`].
//!
//! Names and defaults are the original tool's, so an existing `.env` keeps
//! working. The `TIMECAMP_*` settings come in three parts, each parsed by
//! the stages that use it: [`TimecampApi`] (how to reach TimeCamp),
//! [`PrepareSettings`] and [`SyncSettings`]. prepare also parses the other
//! two (without using them), so a typo in the sync's settings fails the
//! pipeline's first TimeCamp stage rather than its last.

use crate::env::{ConfigError, Env};
use crate::secret::Secret;

use scim_model::{DeactivationLimit, GroupMode};

/// How to reach TimeCamp: what every stage that calls its API reads.
#[derive(Debug, Clone)]
pub struct TimecampApi {
    /// `TIMECAMP_API_KEY`; required only by stages that call the API.
    pub api_key: Option<Secret>,
    /// `TIMECAMP_DOMAIN`, default `app.timecamp.com`.
    pub domain: String,
    /// `TIMECAMP_ROOT_GROUP_ID`; required only by stages that work under it.
    pub root_group_id: Option<u64>,
    /// `TIMECAMP_API_URL`: full base URL; overrides the one built from the domain.
    pub api_url: Option<String>,
    /// `TIMECAMP_SSL_VERIFY`, default true (the original had verification off).
    pub ssl_verify: bool,
    /// `TIMECAMP_HTTP_TIMEOUT_SECONDS`, default 30.
    pub http_timeout_seconds: u64,
    /// `TIMECAMP_HTTP_MAX_ATTEMPTS`: tries per request, default 5.
    pub http_max_attempts: u32,
    /// `TIMECAMP_HTTP_RETRY_BUDGET_SECONDS`: most time a run spends on unanswered
    /// requests and their retries, default 120.
    pub http_retry_budget_seconds: u64,
    /// `TIMECAMP_HTTP_WAIT_BUDGET_SECONDS`: most time a run waits because
    /// TimeCamp said "not now" (429, 502-504, rate-limit resets), default 900.
    pub http_wait_budget_seconds: u64,
}

/// prepare's switches: how source records become TimeCamp users. The
/// regex and transform settings are kept as written; prepare compiles them
/// at start, into its options.
#[derive(Debug, Clone)]
pub struct PrepareSettings {
    pub use_supervisor_groups: bool,
    pub use_department_groups: bool,
    pub use_job_title_name_users: bool,
    pub use_job_title_name_groups: bool,
    pub show_external_id: bool,
    /// `TIMECAMP_SKIP_DEPARTMENTS`: comma-separated path prefixes.
    pub skip_departments: Vec<String>,
    /// `TIMECAMP_REPLACE_EMAIL_DOMAIN`, empty = off.
    pub replace_email_domain: Option<String>,
    /// `TIMECAMP_EXCLUDE_REGEX`, as written.
    pub exclude_regex: Option<String>,
    /// `TIMECAMP_CHANGE_GROUPS_REGEX`, as written.
    pub change_groups_regex: Option<String>,
    /// `TIMECAMP_PREPARE_TRANSFORM_CONFIG`: inline JSON or a file path.
    pub prepare_transform_config: Option<String>,
    pub use_is_supervisor_role: bool,
}

/// The sync's switches and limits: what it may change in TimeCamp, and how fast.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// `TIMECAMP_IGNORED_USER_IDS`: never updated, re-enabled or disabled.
    pub ignored_user_ids: Vec<u64>,
    /// `TIMECAMP_DISABLED_USERS_GROUP_ID`, `None` when 0 (off).
    pub disabled_users_group_id: Option<u64>,
    pub disable_new_users: bool,
    pub disable_external_id_sync: bool,
    pub disable_additional_email_sync: bool,
    pub disable_manual_user_updates: bool,
    pub disable_group_updates: bool,
    pub disable_role_updates: bool,
    pub disable_groups_creation: bool,
    /// `TIMECAMP_DISABLE_USER_DEACTIVATION`: never disable users (the newer upstream's name).
    pub disable_user_deactivation: bool,
    /// `TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID`: users found by external id get the source's e-mail.
    pub update_email_on_external_id: bool,
    /// `TIMECAMP_ALLOW_ADMIN_DEMOTION`: an administrator may be given a role with fewer rights.
    pub allow_admin_demotion: bool,
    /// `TIMECAMP_REMOVE_EMPTY_GROUPS`: after a sync with no failure, delete the empty groups.
    pub remove_empty_groups: bool,
    /// `TIMECAMP_MAX_DEACTIVATIONS`, default `10%`.
    pub max_deactivations: DeactivationLimit,
    /// `TIMECAMP_CONCURRENCY`: write requests in flight, default 8.
    pub concurrency: usize,
    /// `TIMECAMP_NEW_USER_WAIT_SECONDS`: how long to wait for invited users to appear, default 60.
    pub new_user_wait_seconds: u64,
}

/// What a stage that talks to TimeCamp cannot run without.
#[derive(Debug, Clone)]
pub struct ApiCredentials {
    pub api_key: Secret,
    pub root_group_id: u64,
}

const GROUP_ID: &str = "a positive whole number (a TimeCamp group id)";

impl TimecampApi {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let root_group_id = env.int::<u64>("TIMECAMP_ROOT_GROUP_ID", GROUP_ID)?;
        if root_group_id == Some(0) {
            return Err(ConfigError::Invalid {
                var: "TIMECAMP_ROOT_GROUP_ID",
                value: "0".into(),
                expected: GROUP_ID,
            });
        }
        let settings = Self {
            api_key: env.get("TIMECAMP_API_KEY").map(Secret::new),
            domain: env.string("TIMECAMP_DOMAIN", "app.timecamp.com"),
            root_group_id,
            api_url: env
                .url(
                    "TIMECAMP_API_URL",
                    "an http:// or https:// URL, e.g. https://app.timecamp.com/third_party/api",
                )?
                .map(|url| url.as_str().trim_end_matches('/').to_owned()),
            ssl_verify: env.bool("TIMECAMP_SSL_VERIFY", true)?,
            http_timeout_seconds: positive(env, "TIMECAMP_HTTP_TIMEOUT_SECONDS", 30)?,
            http_retry_budget_seconds: positive(env, "TIMECAMP_HTTP_RETRY_BUDGET_SECONDS", 120)?,
            http_wait_budget_seconds: positive(env, "TIMECAMP_HTTP_WAIT_BUDGET_SECONDS", 900)?,
            http_max_attempts: u32::try_from(positive(env, "TIMECAMP_HTTP_MAX_ATTEMPTS", 5)?)
                .map_err(|_| ConfigError::Invalid {
                    var: "TIMECAMP_HTTP_MAX_ATTEMPTS",
                    value: env
                        .get("TIMECAMP_HTTP_MAX_ATTEMPTS")
                        .unwrap_or_default()
                        .to_owned(),
                    expected: "a whole number from 1 to 4294967295",
                })?,
        };
        if settings.api_url.is_none() && domain_base_url(&settings.domain).is_none() {
            return Err(ConfigError::Invalid {
                var: "TIMECAMP_DOMAIN",
                value: settings.domain,
                expected: "TimeCamp's host name, e.g. app.timecamp.com (or an http:// or https:// URL)",
            });
        }
        Ok(settings)
    }

    /// The API base URL: `TIMECAMP_API_URL`, else `https://<TIMECAMP_DOMAIN>/third_party/api`
    /// (a domain given with `http://` or `https://` keeps its scheme).
    pub fn api_base_url(&self) -> String {
        if let Some(url) = &self.api_url {
            return url.clone();
        }
        domain_base_url(&self.domain)
            .unwrap_or_else(|| format!("https://{}/third_party/api", self.domain))
    }

    /// The API key alone, for stages that do not work under the root group.
    pub fn require_api_key(&self) -> Result<Secret, ConfigError> {
        self.api_key.clone().ok_or(ConfigError::Missing {
            var: "TIMECAMP_API_KEY",
            why: "this stage calls the TimeCamp API",
        })
    }

    /// The key and root group, or an error naming the missing one.
    pub fn require_api(&self) -> Result<ApiCredentials, ConfigError> {
        let api_key = self.api_key.clone().ok_or(ConfigError::Missing {
            var: "TIMECAMP_API_KEY",
            why: "this stage calls the TimeCamp API (find the key in TimeCamp under Settings > Your Profile > API)",
        })?;
        let root_group_id = self.root_group_id.ok_or(ConfigError::Missing {
            var: "TIMECAMP_ROOT_GROUP_ID",
            why: "this stage needs the id of the TimeCamp group under which users are synced",
        })?;
        Ok(ApiCredentials {
            api_key,
            root_group_id,
        })
    }
}

impl PrepareSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            use_supervisor_groups: env.bool("TIMECAMP_USE_SUPERVISOR_GROUPS", false)?,
            use_department_groups: env.bool("TIMECAMP_USE_DEPARTMENT_GROUPS", true)?,
            use_job_title_name_users: env.bool("TIMECAMP_USE_JOB_TITLE_NAME_USERS", false)?,
            use_job_title_name_groups: env.bool("TIMECAMP_USE_JOB_TITLE_NAME_GROUPS", false)?,
            show_external_id: env.bool("TIMECAMP_SHOW_EXTERNAL_ID", false)?,
            skip_departments: env.list("TIMECAMP_SKIP_DEPARTMENTS"),
            replace_email_domain: env.get("TIMECAMP_REPLACE_EMAIL_DOMAIN").map(str::to_owned),
            exclude_regex: env.get("TIMECAMP_EXCLUDE_REGEX").map(str::to_owned),
            change_groups_regex: env.get("TIMECAMP_CHANGE_GROUPS_REGEX").map(str::to_owned),
            prepare_transform_config: env
                .get("TIMECAMP_PREPARE_TRANSFORM_CONFIG")
                .map(str::to_owned),
            use_is_supervisor_role: env.bool("TIMECAMP_USE_IS_SUPERVISOR_ROLE", false)?,
        })
    }

    /// The group mode: supervisor groups on selects supervisor-only or hybrid;
    /// off means departments (even with `TIMECAMP_USE_DEPARTMENT_GROUPS=false`,
    /// as in the original).
    pub fn group_mode(&self) -> GroupMode {
        match (self.use_supervisor_groups, self.use_department_groups) {
            (true, true) => GroupMode::Hybrid,
            (true, false) => GroupMode::Supervisor,
            (false, _) => GroupMode::Department,
        }
    }
}

impl SyncSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            ignored_user_ids: env.int_list(
                "TIMECAMP_IGNORED_USER_IDS",
                "comma-separated TimeCamp user ids (whole numbers)",
            )?,
            disabled_users_group_id: disabled_users_group_id(env)?,
            disable_new_users: env.bool("TIMECAMP_DISABLE_NEW_USERS", false)?,
            disable_external_id_sync: env.bool("TIMECAMP_DISABLE_EXTERNAL_ID_SYNC", false)?,
            disable_additional_email_sync: env
                .bool("TIMECAMP_DISABLE_ADDITIONAL_EMAIL_SYNC", false)?,
            disable_manual_user_updates: env.bool("TIMECAMP_DISABLE_MANUAL_USER_UPDATES", false)?,
            disable_group_updates: env.bool("TIMECAMP_DISABLE_GROUP_UPDATES", false)?,
            disable_role_updates: env.bool("TIMECAMP_DISABLE_ROLE_UPDATES", false)?,
            disable_groups_creation: env.bool("TIMECAMP_DISABLE_GROUPS_CREATION", false)?,
            disable_user_deactivation: env.bool("TIMECAMP_DISABLE_USER_DEACTIVATION", false)?,
            update_email_on_external_id: env.bool("TIMECAMP_UPDATE_EMAIL_ON_EXTERNAL_ID", false)?,
            allow_admin_demotion: env.bool("TIMECAMP_ALLOW_ADMIN_DEMOTION", false)?,
            remove_empty_groups: env.bool("TIMECAMP_REMOVE_EMPTY_GROUPS", false)?,
            max_deactivations: match env.get("TIMECAMP_MAX_DEACTIVATIONS") {
                None => DeactivationLimit::DEFAULT,
                Some(v) => DeactivationLimit::parse(v).ok_or(ConfigError::Invalid {
                    var: "TIMECAMP_MAX_DEACTIVATIONS",
                    value: v.to_owned(),
                    expected: "a number of users (e.g. 25) or a percentage of the enabled users (e.g. 10%)",
                })?,
            },
            concurrency: match positive(env, "TIMECAMP_CONCURRENCY", 8)? {
                n @ 1..=64 => n as usize,
                n => {
                    return Err(ConfigError::Invalid {
                        var: "TIMECAMP_CONCURRENCY",
                        value: n.to_string(),
                        expected: "a whole number from 1 to 64",
                    });
                }
            },
            new_user_wait_seconds: env
                .int_or("TIMECAMP_NEW_USER_WAIT_SECONDS", "a whole number of seconds", 60)?,
        })
    }
}

/// `TIMECAMP_DISABLED_USERS_GROUP_ID`, `None` when 0 (off): the sync moves
/// disabled users there, and remove-empty-groups keeps it however empty.
pub fn disabled_users_group_id(env: &Env) -> Result<Option<u64>, ConfigError> {
    let id = env.int_or(
        "TIMECAMP_DISABLED_USERS_GROUP_ID",
        "a TimeCamp group id, or 0 to leave disabled users where they are",
        0,
    )?;
    Ok(Some(id).filter(|g| *g > 0))
}

/// `TIMECAMP_LOCK_WAIT_SECONDS`: how long a run of a stage that changes
/// TimeCamp waits for another one to finish, default 60.
pub fn lock_wait_seconds(env: &Env) -> Result<u64, ConfigError> {
    env.int_or(
        "TIMECAMP_LOCK_WAIT_SECONDS",
        "a whole number of seconds",
        60,
    )
}

/// What prepare checks without using it (the registry's "validated by
/// prepare"): the settings of the sync and of the TimeCamp connection, so
/// that a typo stops the pipeline before its first file is written rather
/// than at its last stage.
pub fn check_sync_settings(env: &Env) -> Result<(), ConfigError> {
    TimecampApi::from_env(env)?;
    SyncSettings::from_env(env)?;
    lock_wait_seconds(env)?;
    Ok(())
}

/// `TIMECAMP_TIME_OFF_INCLUDE_WEEKENDS`: sync-time-off writes the Saturdays
/// and Sundays of a leave too.
pub fn time_off_include_weekends(env: &Env) -> Result<bool, ConfigError> {
    env.bool("TIMECAMP_TIME_OFF_INCLUDE_WEEKENDS", false)
}

fn positive(env: &Env, var: &'static str, default: u64) -> Result<u64, ConfigError> {
    match env.int_or::<u64>(var, "a whole number of at least 1", default)? {
        0 => Err(ConfigError::Invalid {
            var,
            value: "0".into(),
            expected: "a whole number of at least 1",
        }),
        n => Ok(n),
    }
}

/// Where the stage files live.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageSettings {
    /// Files relative to the working directory (`var/users.json`, ...).
    Local,
    /// An S3-compatible bucket (`USE_S3_STORAGE=true`).
    S3(S3Settings),
}

/// The `S3_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Settings {
    /// `S3_ENDPOINT_URL`: MinIO, Ceph, ...; unset means AWS.
    pub endpoint_url: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub bucket: String,
    /// `S3_REGION`, default `us-east-1`.
    pub region: String,
    /// `S3_PATH_PREFIX` without surrounding `/`; empty means the bucket's root.
    pub prefix: String,
    /// `S3_FORCE_PATH_STYLE`: `http://host/bucket/key` instead of `http://bucket.host/key`.
    pub force_path_style: bool,
    /// `S3_LOCK_EXPIRY_SECONDS`: how long the lock object of a run that stopped
    /// renewing it (killed, cut off) keeps others waiting; default 120.
    pub lock_expiry: std::time::Duration,
}

impl StorageSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let use_s3 = env.bool("USE_S3_STORAGE", false)?;
        let force_path_style = env.bool("S3_FORCE_PATH_STYLE", false)?;
        if !use_s3 {
            return Ok(Self::Local);
        }
        const WHY: &str = "USE_S3_STORAGE=true needs the bucket's name and credentials";
        let endpoint_url = env
            .url(
                "S3_ENDPOINT_URL",
                "an http:// or https:// URL, e.g. http://minio:9000",
            )?
            .map(|url| url.as_str().trim_end_matches('/').to_owned());
        Ok(Self::S3(S3Settings {
            endpoint_url,
            access_key_id: env.required("S3_ACCESS_KEY_ID", WHY)?.to_owned(),
            secret_access_key: Secret::new(env.required("S3_SECRET_ACCESS_KEY", WHY)?),
            bucket: env.required("S3_BUCKET_NAME", WHY)?.to_owned(),
            region: env.string("S3_REGION", "us-east-1"),
            prefix: env
                .get("S3_PATH_PREFIX")
                .map(|p| p.trim_matches('/').to_owned())
                .unwrap_or_default(),
            force_path_style,
            lock_expiry: std::time::Duration::from_secs(lock_expiry(env)?),
        }))
    }
}

/// The lock object's expiry: renewed every third of it, so it must leave room
/// for two renewals to fail before it runs out.
fn lock_expiry(env: &Env) -> Result<u64, ConfigError> {
    const EXPECTED: &str = "a whole number of seconds from 15 to 3600";
    match env.int::<u64>("S3_LOCK_EXPIRY_SECONDS", EXPECTED)? {
        None => Ok(120),
        Some(n) if (15..=3600).contains(&n) => Ok(n),
        Some(n) => Err(ConfigError::Invalid {
            var: "S3_LOCK_EXPIRY_SECONDS",
            value: n.to_string(),
            expected: EXPECTED,
        }),
    }
}

/// Logging switches that come from the environment (`--debug` comes from the command line).
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `DISABLE_FILE_LOGGING=true` keeps logs on stderr only.
    pub disable_file_logging: bool,
}

impl LogSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            disable_file_logging: env.bool("DISABLE_FILE_LOGGING", false)?,
        })
    }
}

/// The API base URL for a `TIMECAMP_DOMAIN`: a host name (with a port, if
/// any) gets `https://`; an `http://` or `https://` URL keeps its scheme.
/// `None` for anything else.
fn domain_base_url(domain: &str) -> Option<String> {
    let domain = domain.trim_end_matches('/');
    if crate::env::http_url(domain).is_some() {
        return Some(format!("{domain}/third_party/api"));
    }
    let bare_host = !domain.is_empty()
        && !domain.contains(|c: char| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#'));
    let url = format!("https://{domain}/third_party/api");
    (bare_host && crate::env::http_url(&url).is_some()).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<TimecampApi, ConfigError> {
        TimecampApi::from_env(&env(pairs))
    }

    fn prepare(pairs: &[(&str, &str)]) -> Result<PrepareSettings, ConfigError> {
        PrepareSettings::from_env(&env(pairs))
    }

    fn sync(pairs: &[(&str, &str)]) -> Result<SyncSettings, ConfigError> {
        SyncSettings::from_env(&env(pairs))
    }

    /// Read with nothing set, every setting takes the code's default, which
    /// `Env` (in this debug build) holds to the registry's.
    #[test]
    fn every_default_is_the_one_the_registry_documents() {
        let empty = Env::from_pairs(std::iter::empty::<(&str, &str)>());
        TimecampApi::from_env(&empty).unwrap();
        PrepareSettings::from_env(&empty).unwrap();
        SyncSettings::from_env(&empty).unwrap();
        lock_wait_seconds(&empty).unwrap();
        time_off_include_weekends(&empty).unwrap();
        StorageSettings::from_env(&empty).unwrap();
        LogSettings::from_env(&empty).unwrap();
        let documented = crate::registry::lookup("TIMECAMP_MAX_DEACTIVATIONS")
            .unwrap()
            .default
            .trim_matches('`');
        assert_eq!(
            DeactivationLimit::parse(documented),
            Some(DeactivationLimit::DEFAULT)
        );
    }

    #[test]
    fn defaults_match_the_original() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.domain, "app.timecamp.com");
        assert!(s.api_key.is_none());
        let p = prepare(&[]).unwrap();
        assert!(p.use_department_groups);
        assert!(!p.use_supervisor_groups);
        assert_eq!(p.group_mode(), GroupMode::Department);
        let s = sync(&[]).unwrap();
        assert_eq!(s.disabled_users_group_id, None);
        assert!(s.ignored_user_ids.is_empty());
    }

    /// Each part stops on a bad value of its own settings only: the other
    /// stages' settings are theirs to check.
    #[test]
    fn each_part_stops_only_on_its_own_settings() {
        let bad = env(&[
            ("TIMECAMP_HTTP_TIMEOUT_SECONDS", "0"),
            ("TIMECAMP_USE_SUPERVISOR_GROUPS", "ture"),
            ("TIMECAMP_MAX_DEACTIVATIONS", "ten"),
        ]);
        let var = |r: Result<(), ConfigError>| match r {
            Err(ConfigError::Invalid { var, .. }) => var,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            var(TimecampApi::from_env(&bad).map(drop)),
            "TIMECAMP_HTTP_TIMEOUT_SECONDS"
        );
        assert_eq!(
            var(PrepareSettings::from_env(&bad).map(drop)),
            "TIMECAMP_USE_SUPERVISOR_GROUPS"
        );
        assert_eq!(
            var(SyncSettings::from_env(&bad).map(drop)),
            "TIMECAMP_MAX_DEACTIVATIONS"
        );
    }

    #[test]
    fn non_numeric_root_group_id_is_rejected_by_name() {
        let err = settings(&[("TIMECAMP_ROOT_GROUP_ID", "abc")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TIMECAMP_ROOT_GROUP_ID"), "{err}");
        assert!(err.contains("abc"), "{err}");
    }

    #[test]
    fn zero_root_group_id_is_rejected() {
        assert!(settings(&[("TIMECAMP_ROOT_GROUP_ID", "0")]).is_err());
    }

    #[test]
    fn group_modes_follow_the_two_switches() {
        let mode = |s: &str, d: &str| {
            prepare(&[
                ("TIMECAMP_USE_SUPERVISOR_GROUPS", s),
                ("TIMECAMP_USE_DEPARTMENT_GROUPS", d),
            ])
            .unwrap()
            .group_mode()
        };
        assert_eq!(mode("true", "true"), GroupMode::Hybrid);
        assert_eq!(mode("true", "false"), GroupMode::Supervisor);
        assert_eq!(mode("false", "false"), GroupMode::Department);
    }

    #[test]
    fn api_credentials_are_required_only_on_request() {
        let s = settings(&[("TIMECAMP_ROOT_GROUP_ID", "5")]).unwrap();
        let err = s.require_api().unwrap_err().to_string();
        assert!(err.contains("TIMECAMP_API_KEY"), "{err}");
        let s = settings(&[("TIMECAMP_API_KEY", "k"), ("TIMECAMP_ROOT_GROUP_ID", "5")]).unwrap();
        assert_eq!(s.require_api().unwrap().root_group_id, 5);
    }

    #[test]
    fn s3_storage_needs_bucket_and_credentials() {
        let err = StorageSettings::from_env(&Env::from_pairs([("USE_S3_STORAGE", "true")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("S3_ACCESS_KEY_ID"), "{err}");
        let s = StorageSettings::from_env(&Env::from_pairs([
            ("USE_S3_STORAGE", "yes"),
            ("S3_ACCESS_KEY_ID", "AKIA"),
            ("S3_SECRET_ACCESS_KEY", "very-secret"),
            ("S3_BUCKET_NAME", "hr"),
            ("S3_PATH_PREFIX", " /team-a/ "),
            ("S3_REGION", ""),
        ]))
        .unwrap();
        let StorageSettings::S3(s3) = s else {
            panic!("expected S3 settings")
        };
        assert_eq!(s3.prefix, "team-a");
        assert_eq!(s3.region, "us-east-1", "an empty region keeps the default");
        assert!(!format!("{s3:?}").contains("very-secret"));
        assert_eq!(
            StorageSettings::from_env(&Env::from_pairs([("USE_S3_STORAGE", "false")])).unwrap(),
            StorageSettings::Local
        );
    }

    #[test]
    fn api_url_comes_from_the_override_or_the_domain() {
        assert_eq!(
            settings(&[]).unwrap().api_base_url(),
            "https://app.timecamp.com/third_party/api"
        );
        assert_eq!(
            settings(&[("TIMECAMP_DOMAIN", "http://127.0.0.1:9000/")])
                .unwrap()
                .api_base_url(),
            "http://127.0.0.1:9000/third_party/api"
        );
        assert_eq!(
            settings(&[("TIMECAMP_API_URL", "http://127.0.0.1:8080/third_party/api/")])
                .unwrap()
                .api_base_url(),
            "http://127.0.0.1:8080/third_party/api"
        );
        for bad in [
            "app.timecamp.com",
            "https://",
            "ftp://app.timecamp.com",
            "http:// x",
        ] {
            let err = settings(&[("TIMECAMP_API_URL", bad)]).unwrap_err();
            assert!(err.to_string().contains("TIMECAMP_API_URL"), "{bad}");
        }
        for bad in ["ftp://app.timecamp.com", "app timecamp com"] {
            let err = settings(&[("TIMECAMP_DOMAIN", bad)]).unwrap_err();
            assert!(err.to_string().contains("TIMECAMP_DOMAIN"), "{bad}");
        }
    }

    #[test]
    fn http_settings_default_and_validate() {
        let s = settings(&[]).unwrap();
        assert!(s.ssl_verify);
        assert_eq!(s.http_timeout_seconds, 30);
        assert_eq!(s.http_max_attempts, 5);
        let err = settings(&[("TIMECAMP_HTTP_TIMEOUT_SECONDS", "0")]).unwrap_err();
        assert!(err.to_string().contains("TIMECAMP_HTTP_TIMEOUT_SECONDS"));
    }

    #[test]
    fn deactivation_limit_is_a_count_or_a_share() {
        let limit =
            |v: &str| sync(&[("TIMECAMP_MAX_DEACTIVATIONS", v)]).map(|s| s.max_deactivations);
        assert_eq!(limit("25").unwrap(), DeactivationLimit::Count(25));
        assert_eq!(limit(" 20% ").unwrap(), DeactivationLimit::Percent(20.0));
        assert_eq!(
            sync(&[]).unwrap().max_deactivations,
            DeactivationLimit::Percent(10.0)
        );
        for bad in ["ten", "0%", "150%", "-1"] {
            let err = limit(bad).unwrap_err().to_string();
            assert!(err.contains("TIMECAMP_MAX_DEACTIVATIONS"), "{err}");
        }
    }

    #[test]
    fn default_limit_allows_one_leaver_in_five_and_five_hundred_in_five_thousand() {
        let d = DeactivationLimit::DEFAULT;
        assert_eq!(d.allowed(5), 1);
        assert_eq!(d.allowed(5000), 500);
        assert_eq!(d.allowed(0), 1);
        assert_eq!(DeactivationLimit::Count(0).allowed(100), 0);
    }

    #[test]
    fn settings_debug_output_hides_the_api_key() {
        let s = settings(&[("TIMECAMP_API_KEY", "super-secret-key")]).unwrap();
        assert!(!format!("{s:?}").contains("super-secret-key"));
    }
}
