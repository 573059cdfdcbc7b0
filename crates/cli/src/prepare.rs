//! `prepare-timecamp`: reads `var/users.json`, writes `var/timecamp_users.json`.

use anyhow::{Context, bail};
use clap::Parser;
use scim_core::ConfigError;
use scim_core::Env;
use scim_core::settings::{PrepareSettings, StorageSettings};
use scim_core::storage::{self, Storage, TIMECAMP_USERS_FILE, USERS_FILE};
use scim_model::SourceUsersFile;
use scim_prepare::{ExcludeFilter, NoteKind, PrepareOptions, Prepared, parse_group_rules};
use tracing::{debug, info, warn};

/// Turn var/users.json (from a fetcher) into var/timecamp_users.json.
///
/// Decides each user's group path, display name, role and e-mail. Calls no API.
#[derive(Debug, Parser)]
#[command(
    name = "prepare-timecamp",
    version,
    override_usage = "prepare-timecamp [--debug] [--input PATH] [--output PATH]",
    after_help = scim_core::registry::short_help("prepare-timecamp"),
    after_long_help = scim_core::registry::long_help("prepare-timecamp")
)]
pub struct Args {
    /// Log at DEBUG level (console and var/logs/sync.log)
    #[arg(long)]
    pub debug: bool,
    /// Where to write the prepared users
    #[arg(long, value_name = "PATH", default_value = TIMECAMP_USERS_FILE)]
    pub output: String,
    /// The source users written by a fetcher
    #[arg(long, value_name = "PATH", default_value = USERS_FILE)]
    pub input: String,
}

const USERS_SHAPE: &str =
    "an object {\"users\": [ {\"external_id\", \"name\", \"email\", ...}, ... ]}";

pub async fn run(env: Env, args: Args) -> anyhow::Result<()> {
    let settings = PrepareSettings::from_env(&env)?;
    scim_core::settings::check_sync_settings(&env)?;
    let storage_settings = StorageSettings::from_env(&env)?;
    let opts = options(&settings)?;
    let storage = crate::open_storage(&storage_settings).await?;
    prepare_stored(
        storage.as_ref(),
        &settings,
        &opts,
        &args.input,
        &args.output,
    )
    .await
}

/// The whole stage on files of `storage`: read the source users, prepare
/// them, write the prepared ones. scim-server runs it in-process.
pub async fn prepare_stored(
    storage: &dyn Storage,
    settings: &PrepareSettings,
    opts: &PrepareOptions,
    input: &str,
    output: &str,
) -> anyhow::Result<()> {
    log_settings(settings, opts);
    let source = read_source(storage, input, output).await?;

    let prepared = scim_prepare::prepare(&source.users, opts)
        .with_context(|| format!("prepare stopped, {output} is unchanged"))?;
    let source_records = source.users.len();
    // The source is the largest thing held; the output is written without it.
    drop(source);
    log_notes(&prepared);
    if prepared.users.is_empty() {
        bail!(
            "none of the {source_records} records in {input} could be prepared (see the warnings above); {output} was left as it was"
        );
    }
    storage::write_json(storage, output, &prepared.users)
        .await
        // The error names the file.
        .context("cannot write the prepared users")?;
    log_summary(&prepared, output);
    if let Some(first) = prepared.users.first() {
        debug!(
            "First prepared record:\n{}",
            serde_json::to_string_pretty(first).unwrap_or_default()
        );
    }
    Ok(())
}

async fn read_source(
    storage: &dyn Storage,
    input: &str,
    output: &str,
) -> anyhow::Result<SourceUsersFile> {
    if !storage.exists(input).await? {
        bail!(
            "{} does not exist: {}",
            storage.location(input),
            scim_core::stages::users_file_advice()
        );
    }
    let source: SourceUsersFile = storage::read_json(storage, input, USERS_SHAPE)
        .await
        .with_context(|| format!("prepare stopped, {output} is unchanged"))?;
    if source.users.is_empty() {
        bail!(
            "{input} contains no users: refusing to prepare an empty TimeCamp state \
             (the sync would disable everyone); {output} was left as it was"
        );
    }
    info!("Read {} source records from {input}", source.users.len());
    Ok(source)
}

/// The switches of prepare, from the settings: the edge between the
/// environment and the pure rules.
pub fn options(s: &PrepareSettings) -> Result<PrepareOptions, ConfigError> {
    let exclude = s
        .exclude_regex
        .as_deref()
        .map(ExcludeFilter::new)
        .transpose()
        .map_err(|e| ConfigError::Rule {
            var: "TIMECAMP_EXCLUDE_REGEX",
            message: e.to_string(),
        })?;
    let group_rules = s
        .change_groups_regex
        .as_deref()
        .map(parse_group_rules)
        .transpose()
        .map_err(|e| ConfigError::Rule {
            var: "TIMECAMP_CHANGE_GROUPS_REGEX",
            message: e.to_string(),
        })?
        .unwrap_or_default();
    let transform = s
        .prepare_transform_config
        .as_deref()
        .map(transform_config)
        .transpose()?
        .flatten();
    if let Some(config) = &transform {
        // Applied to the source records only; the original also ran it over the
        // prepared ones, where it added stray keys.
        for p in config.properties() {
            if p.starts_with("timecamp_") {
                tracing::warn!(
                    "TIMECAMP_PREPARE_TRANSFORM_CONFIG names {p:?}, a field of the prepared file: \
                     this version applies the config to the source records (var/users.json) only"
                );
            }
        }
    }
    Ok(PrepareOptions {
        mode: s.group_mode(),
        job_title_user_names: s.use_job_title_name_users,
        job_title_group_names: s.use_job_title_name_groups,
        show_external_id: s.show_external_id,
        skip_departments: scim_prepare::SkipPrefixes::new(&s.skip_departments),
        replace_email_domain: s.replace_email_domain.clone(),
        use_is_supervisor_role: s.use_is_supervisor_role,
        exclude,
        group_rules,
        transform,
    })
}

const TRANSFORM_VAR: &str = "TIMECAMP_PREPARE_TRANSFORM_CONFIG";

/// `TIMECAMP_PREPARE_TRANSFORM_CONFIG`: inline JSON, or the path of a file
/// holding it (relative to the working directory), parsed by the pure rules.
fn transform_config(
    setting: &str,
) -> Result<Option<scim_prepare::transform::TransformConfig>, ConfigError> {
    use scim_prepare::transform::{TransformConfig, is_inline};
    let rule = |message: String| ConfigError::Rule {
        var: TRANSFORM_VAR,
        message,
    };
    let (text, from) = if is_inline(setting) {
        (setting.to_owned(), String::new())
    } else {
        let path = setting.trim();
        (read_config_file(path).map_err(rule)?, format!("{path}: "))
    };
    TransformConfig::parse(&text).map_err(|e| rule(format!("{from}{e}")))
}

/// Reads a config file of at most [`MAX_CONFIG_BYTES`] through the one
/// reader of a file a setting names: a path that names a FIFO, a device
/// (`/dev/zero`) or a directory, or a larger file, is refused before a byte is
/// read, so a wrong path can neither block the stage nor make it read without
/// end.
///
/// [`MAX_CONFIG_BYTES`]: scim_prepare::transform::MAX_CONFIG_BYTES
fn read_config_file(path: &str) -> Result<String, String> {
    use scim_core::files::{FileError, read_regular_at_most};
    use scim_prepare::transform::MAX_CONFIG_BYTES;
    const GIVE: &str = "give a JSON file, or the JSON itself";
    let bytes =
        read_regular_at_most(std::path::Path::new(path), MAX_CONFIG_BYTES as u64).map_err(|e| {
            match e {
                FileError::NotRegular { kind } => format!("{path} is {kind}; {GIVE}"),
                FileError::TooLarge { limit, size } => {
                    format!(
                        "{path} is {size} bytes, more than the {limit} a transform config may have"
                    )
                }
                FileError::NotFound => {
                    format!("cannot read the file {path}: it does not exist ({GIVE})")
                }
                FileError::Io(_) => format!("{path} {e}; {GIVE}"),
            }
        })?;
    String::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8 text; {GIVE}"))
}

fn log_settings(s: &PrepareSettings, opts: &PrepareOptions) {
    info!("Group mode: {}", opts.mode);
    info!(
        "Settings: job-title user names={}, job-title group names={}, show external id={}, \
         use is_supervisor role={}, skip departments={:?}, replace e-mail domain={}",
        s.use_job_title_name_users,
        s.use_job_title_name_groups,
        s.show_external_id,
        s.use_is_supervisor_role,
        s.skip_departments,
        s.replace_email_domain.as_deref().unwrap_or("(off)")
    );
}

fn log_notes(prepared: &Prepared) {
    for note in &prepared.notes {
        let what = match note.kind {
            NoteKind::Dropped => "dropped",
            NoteKind::Changed => "changed",
            NoteKind::Warning => "warning",
        };
        if note.serious {
            warn!("{}: {what}: {}", note.record, note.reason);
        } else {
            info!("{}: {what}: {}", note.record, note.reason);
        }
    }
}

fn log_summary(prepared: &Prepared, output: &str) {
    let s = &prepared.stats;
    info!(
        "Wrote {} users to {output} ({} active, {} inactive) from {} source records",
        s.prepared, s.active, s.inactive, s.source_records
    );
    info!(
        "Roles: {} administrators, {} supervisors, {} users, {} guests; forced by the source: \
         {} supervisors, {} administrators; {} distinct groups",
        s.administrators,
        s.supervisors,
        s.users,
        s.guests,
        s.forced_supervisors,
        s.forced_admins,
        s.groups
    );
    info!(
        "Records dropped: {}, changed: {}, with warnings: {}",
        s.dropped, s.changed, s.warnings
    );
}
