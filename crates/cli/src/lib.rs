//! The stages of timecamp-scim as commands. Each binary in `src/bin` is a thin
//! `main` that parses its flags and hands over to a module here.
//!
//! Start-up is the same for every stage ([`run_stage`]): read the environment
//! and `.env`, set up logging, run, and turn the outcome into an exit code:
//! 0 success, 1 the run failed, 2 the configuration or command line is wrong.
//! A panic anywhere (a bug) still ends as a failed run: logged, alerted
//! through `NOTIFY_WEBHOOK_URL`, exit 1 ([`install_panic_hook`]).

// The end of every stage's `-h` and `--help` (what it needs, the settings it
// reads with their defaults) is rendered from the settings registry:
// `scim_core::registry::short_help` and `long_help`.

pub mod display_tree;
pub mod explain;
pub mod fetch_azuread;
pub mod fetch_bamboohr;
pub mod fetch_csv;
pub mod fetch_factorial;
pub mod fetch_google;
pub mod fetch_hibob;
pub mod fetch_ldap;
pub mod fetch_netsuite;
pub mod fetch_okta;
pub mod fetch_personio;
pub mod http_service;
pub mod notify;
pub mod prepare;
pub mod progress;
pub mod remove_empty_groups;
pub mod scim_server;
pub mod serve;
pub mod sync;
pub mod sync_time_off;
pub mod whoami;

use scim_core::settings::StorageSettings;
use scim_core::storage::{LocalStorage, Storage};
use std::future::Future;
use std::process::ExitCode;

use scim_core::logging::{self, LOG_FILE, LogOptions};
use scim_core::settings::LogSettings;
use scim_core::{ConfigError, Env};

/// Exit status for a configuration error, the same as clap's for a usage error.
pub const EXIT_CONFIG: u8 = 2;
/// Exit status for a run that failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for a run a safety guard refused, before any change.
pub const EXIT_REFUSED: u8 = 3;

/// A safety guard stopped the run before it changed anything.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Where the panic hook sends its alert, once the settings are read.
static PANIC_ALERT: std::sync::OnceLock<notify::NotifySettings> = std::sync::OnceLock::new();

/// The last line of defence, installed once by the start-up of every stage:
/// a panic in any thread (a bug; on the runtime's worker threads tokio would
/// otherwise turn it into an error some caller may drop) is printed as
/// usual, logged, alerted through the webhook like any failed run, and ends
/// the process with exit 1 at once, since the run's state is unknown. Without
/// it a panic exited 101 and sent no alert.
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            print(info);
            let place = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let what = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic");
            let error = format!("internal error (a bug, please report it): {what}{place}");
            tracing::error!("{error}; the run stopped");
            alert_after_panic(&error);
            std::process::exit(i32::from(EXIT_FAILURE));
        }));
    });
}

/// Sends the failure alert from a thread of its own, with a runtime of its
/// own: the panicking thread may be one of the stage's runtime workers,
/// where another runtime cannot start. A panic while alerting sends nothing more.
fn alert_after_panic(error: &str) {
    static ALERTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let Some(settings) = PANIC_ALERT.get() else {
        return;
    };
    if ALERTING.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let (stage, error) = (program_name(), error.to_owned());
    let sent = std::thread::Builder::new()
        .name("panic-alert".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(notify::send(
                settings,
                &stage,
                notify::Outcome::Failure,
                EXIT_FAILURE,
                Some(&error),
            ));
        });
    // The send has its own timeout; the process exits when it is done.
    if let Ok(handle) = sent {
        let _ = handle.join();
    }
}

/// Loads the environment, sets up logging and runs `body` on a Tokio runtime.
pub fn run_stage<F, Fut>(debug: bool, body: F) -> ExitCode
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    run_stage_locked(debug, None, body)
}

/// [`run_stage`] for the stages that change TimeCamp: with `lock_as` set, the
/// lock of the stage files' storage is taken (waiting up to
/// `TIMECAMP_LOCK_WAIT_SECONDS`) before `body` starts and released when it
/// ends. If the lock is lost meanwhile (S3: it could not be renewed, or was
/// taken over), `body` is stopped where it is, as a kill would stop it, and
/// the run fails; the next run finishes the work.
pub fn run_stage_locked<F, Fut>(debug: bool, lock_as: Option<&'static str>, body: F) -> ExitCode
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    install_panic_hook();
    // One TLS crypto provider for every client of the process (reqwest, the
    // S3 SDK, ldap3), chosen here and not by a library. An error only means
    // that one was installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::load();
    let origins = env.as_ref().ok().cloned();
    let unconfigured = env.as_ref().is_ok_and(is_unconfigured);
    // The file log is opened only when the environment says so and parses.
    let file = match env.as_ref().map(LogSettings::from_env) {
        Ok(Ok(s)) if !s.disable_file_logging => Some(LOG_FILE.into()),
        _ => None,
    };
    logging::init(&LogOptions {
        debug,
        file,
        hold_file: unconfigured,
    });

    let result = env.map_err(anyhow::Error::from).and_then(|env| {
        LogSettings::from_env(&env)?;
        log_start(&env);
        let notify = notify::NotifySettings::from_env(&env)?;
        if let Some(settings) = &notify {
            let _ = PANIC_ALERT.set(settings.clone());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
        let result = runtime.block_on(async {
            let Some(program) = lock_as else {
                return body(env).await;
            };
            let settings = scim_core::settings::TimecampApi::from_env(&env)?;
            // Every stage that takes the lock writes with the key: without
            // one, it stops before the lock is made.
            settings.require_api_key()?;
            let wait = scim_core::settings::lock_wait_seconds(&env)?;
            let lock = open_lock(&StorageSettings::from_env(&env)?).await?;
            let mut held = lock
                .acquire(program, std::time::Duration::from_secs(wait))
                .await?;
            let result = tokio::select! {
                result = body(env) => result,
                lost = held.lost() => Err(lost.into()),
            };
            held.release().await;
            result
        });
        if let Some(settings) = &notify {
            let (outcome, code) = classify(&result);
            let error = result.as_ref().err().map(|e| format!("{e:#}"));
            runtime.block_on(notify::send(
                settings,
                &program_name(),
                outcome,
                code,
                error.as_deref(),
            ));
        }
        result
    });
    if unconfigured {
        // Where no .env was found and no setting given, the log file is made
        // only for a run that worked: a cron job that forgot to `cd` leaves
        // nothing in the directory it ran in.
        if result.is_ok() {
            logging::write_held_file();
        } else {
            logging::drop_held_file();
        }
    }
    let failed = result.is_err();
    let code = exit_code(result, origins.as_ref());
    if failed && unconfigured {
        let here = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "the working directory".into());
        tracing::error!(
            "No .env was found in {here} or any directory above it, and no setting is set in \
             the environment: settings come from one of them. Run the stages from the directory \
             that holds .env and var/ (in cron: cd /opt/timecamp-scim && sync-users); nothing \
             was written here"
        );
    }
    code
}

/// A run that found no `.env` and was given none of the settings: most
/// likely one started in the wrong directory (cron without `cd`), so it
/// creates nothing there unless it works (see [`run_stage_locked`]).
fn is_unconfigured(env: &Env) -> bool {
    env.dotenv_path().is_none() && env.settings_for_log().is_empty()
}

/// The lock of the stages that change TimeCamp, kept where the stage files
/// are: a `flock` under `var/`, or an object in the bucket, which runs in
/// different pods or hosts share.
pub async fn open_lock(
    settings: &StorageSettings,
) -> anyhow::Result<Box<dyn scim_core::lock::Lock>> {
    Ok(match settings {
        StorageSettings::Local => Box::new(scim_core::lock::LocalLock::new(
            scim_core::lock::TIMECAMP_LOCK_FILE,
        )),
        StorageSettings::S3(s3) => Box::new(
            scim_s3::S3Storage::connect(s3)
                .await?
                .timecamp_lock(s3.lock_expiry),
        ),
    })
}

/// The first lines of every run: what runs, which settings it got (secrets
/// masked), and every variable that looks like a setting but is none, so
/// nothing an admin sets is ignored without a word.
fn log_start(env: &Env) {
    tracing::info!("{} {}", program_name(), env!("CARGO_PKG_VERSION"));
    if let Some(path) = env.dotenv_path() {
        tracing::info!("Read settings from {}", path.display());
    }
    let set = env.settings_for_log();
    if !set.is_empty() {
        tracing::info!("Settings: {}", set.join(", "));
    }
    for unknown in scim_core::registry::unknown_settings(env.names()) {
        tracing::warn!("{unknown}");
    }
    for repeat in env.dotenv_repeats() {
        tracing::warn!("{repeat}");
    }
}

/// The binary's name, as the admin called it.
fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

/// How a run ended, and its exit status.
fn classify(result: &anyhow::Result<()>) -> (notify::Outcome, u8) {
    match result {
        Ok(()) => (notify::Outcome::Success, 0),
        Err(err) if err.chain().any(|c| c.is::<ConfigError>()) => {
            (notify::Outcome::Failure, EXIT_CONFIG)
        }
        Err(err) if err.chain().any(|c| c.is::<Refused>()) => {
            (notify::Outcome::Refused, EXIT_REFUSED)
        }
        Err(_) => (notify::Outcome::Failure, EXIT_FAILURE),
    }
}

fn exit_code(result: anyhow::Result<()>, env: Option<&Env>) -> ExitCode {
    let (_, code) = classify(&result);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A wrong value read from .env: say where, so the admin edits the right line.
            let origin = err
                .chain()
                .filter_map(|c| c.downcast_ref::<ConfigError>())
                .find_map(ConfigError::invalid_var)
                .and_then(|var| env?.origin(var));
            match origin {
                Some(origin) => tracing::error!("{err:#} (set in {origin})"),
                None => tracing::error!("{err:#}"),
            }
            ExitCode::from(code)
        }
    }
}

/// The stage-file storage the settings select; S3 is checked (bucket and
/// keys) before the stage does any work.
pub async fn open_storage(settings: &StorageSettings) -> anyhow::Result<Box<dyn Storage>> {
    let storage: Box<dyn Storage> = match settings {
        StorageSettings::Local => Box::new(LocalStorage::new(".")),
        StorageSettings::S3(s3) => Box::new(scim_s3::S3Storage::connect(s3).await?),
    };
    tracing::info!("Stage files: {}", storage.describe());
    Ok(storage)
}

/// The whole of a fetcher that writes only `var/users.json`: its settings
/// (checked before anything is read), the fetch, then [`save_users`]. A
/// failed fetch leaves the previous file and says so.
pub async fn run_fetcher<S, E>(
    env: &Env,
    stage: &str,
    settings: impl FnOnce(&Env) -> Result<S, ConfigError>,
    fetch: impl AsyncFnOnce(&S) -> Result<Vec<scim_model::SourceUser>, E>,
) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    run_fetcher_with(env, stage, settings, |_| false, async |s, _| fetch(s).await).await
}

/// [`run_fetcher`] for a fetcher that reads from the storage itself (a file
/// in the bucket) or whose settings may allow a result without an active
/// person (`allow_no_active`).
pub async fn run_fetcher_with<S, E>(
    env: &Env,
    stage: &str,
    settings: impl FnOnce(&Env) -> Result<S, ConfigError>,
    allow_no_active: impl FnOnce(&S) -> bool,
    fetch: impl AsyncFnOnce(&S, &dyn Storage) -> Result<Vec<scim_model::SourceUser>, E>,
) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    use anyhow::Context;
    let settings = settings(env)?;
    let storage = open_storage(&StorageSettings::from_env(env)?).await?;
    let users = fetch(&settings, storage.as_ref()).await.with_context(|| {
        format!(
            "{stage} stopped; {} was left as it was",
            scim_core::storage::USERS_FILE
        )
    })?;
    let allow = allow_no_active(&settings);
    save_users(storage.as_ref(), stage, users, allow).await
}

/// Saves what a fetcher read, through the shared write path: an empty list,
/// or one without an active person (unless `allow_no_active`), is refused and
/// the previous `var/users.json` stays.
pub async fn save_users(
    storage: &dyn Storage,
    stage: &str,
    users: Vec<scim_model::SourceUser>,
    allow_no_active: bool,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use scim_core::storage::USERS_FILE;
    let total = users.len();
    let inactive = users
        .iter()
        .filter(|u| u.status != Some(scim_model::Status::Active))
        .count();
    scim_core::storage::write_source_users(
        storage,
        &scim_model::SourceUsersFile {
            users,
            ..Default::default()
        },
        allow_no_active,
    )
    .await
    .with_context(|| format!("{stage} found nothing to write; {USERS_FILE} was left as it was"))?;
    tracing::info!("Wrote {total} users to {USERS_FILE} ({inactive} inactive)");
    Ok(())
}
