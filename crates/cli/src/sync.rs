//! `sync-users`: makes TimeCamp match `var/timecamp_users.json`.

use std::time::Duration;

use clap::{Parser, ValueEnum};
use scim_core::Env;
use scim_core::settings::{PrepareSettings, StorageSettings, SyncSettings, TimecampApi};
use scim_core::storage::{self, TIMECAMP_USERS_FILE};
use scim_sync::Summary;
use scim_sync::run;
use scim_timecamp::{Client, ClientConfig, RetryPolicy};
use serde_json::json;
use tracing::{info, warn};

use crate::Refused;

/// Make TimeCamp match var/timecamp_users.json (from prepare-timecamp).
///
/// Creates groups and users, renames, moves, sets roles, external ids and
/// additional e-mails, disables users who left and re-enables those who came back.
/// Refuses (exit 3) to disable more users than TIMECAMP_MAX_DEACTIVATIONS allows.
#[derive(Debug, Parser)]
#[command(
    name = "sync-users",
    version,
    override_usage = "sync-users [--dry-run] [--debug] [--input PATH] [--output text|json|html] [--allow-mass-deactivation] [--explain EMAIL]... | --whoami",
    after_help = scim_core::registry::short_help("sync-users"),
    after_long_help = scim_core::registry::long_help("sync-users")
)]
pub struct Args {
    /// Read TimeCamp and print the plan; send no write request at all
    #[arg(long, required_if_eq("output", "html"))]
    pub dry_run: bool,
    /// Log at DEBUG level (console and var/logs/sync.log), including every API request
    #[arg(long)]
    pub debug: bool,
    /// The prepared users to apply
    #[arg(long, value_name = "PATH", default_value = TIMECAMP_USERS_FILE)]
    pub input: String,
    /// What to print on stdout: the plan for people, the plan / applied result as
    /// JSON, or (with --dry-run) the plan as a self-contained HTML page
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Let this one run disable more users than TIMECAMP_MAX_DEACTIVATIONS allows
    #[arg(long)]
    pub allow_mass_deactivation: bool,
    /// Explain one person (may be given several times): source record, prepare's
    /// decisions, the TimeCamp account matched and how, the planned changes. Writes nothing
    #[arg(long, value_name = "EMAIL")]
    pub explain: Vec<String>,
    /// Print whose the API key is, the account's top group against
    /// TIMECAMP_ROOT_GROUP_ID, and whom the settings protect. Reads only; needs
    /// only TIMECAMP_API_KEY
    #[arg(long, conflicts_with_all = ["dry_run", "explain", "allow_mass_deactivation"])]
    pub whoami: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Html,
}

pub async fn run(env: Env, args: Args) -> anyhow::Result<()> {
    let timecamp = TimecampApi::from_env(&env)?;
    let settings = SyncSettings::from_env(&env)?;
    if args.whoami {
        let client = client(&timecamp, timecamp.require_api_key()?)?;
        return crate::whoami::run(&client, timecamp.root_group_id, &settings, args.output).await;
    }
    if !args.explain.is_empty() && args.output == Output::Html {
        return Err(scim_core::ConfigError::Conflict(
            "--explain prints text or JSON (--output text or --output json), not html".into(),
        )
        .into());
    }
    // --explain prepares the source again, for prepare's notes: with prepare's settings.
    let prepare = if args.explain.is_empty() {
        None
    } else {
        Some(PrepareSettings::from_env(&env)?)
    };
    let api = timecamp.require_api()?;
    let storage_settings = StorageSettings::from_env(&env)?;
    let options = scim_sync::sync_options(&settings, &api);
    // The var/ lock is held already: the binary takes it before the runtime starts.
    let stop = scim_sync::StopFlag::default();
    if !args.dry_run {
        stop_on_signal(stop.clone());
    }
    let storage = crate::open_storage(&storage_settings).await?;
    refuse_scim_servers_files(storage.as_ref()).await?;
    let desired = run::load_prepared(storage.as_ref(), &args.input, run::Source::WholeStaff)
        .await
        .map_err(policy)?;
    let client = client(&timecamp, api.api_key)?;
    info!(
        "TimeCamp: {} (root group {}){}",
        client.base_url(),
        options.root_group_id,
        if args.dry_run {
            ", dry run: nothing will be changed"
        } else {
            ""
        }
    );
    let planned = run::plan_run(&client, storage.as_ref(), desired, options)
        .await
        .map_err(policy)?;
    if let Some(prepare) = &prepare {
        return explain(
            storage.as_ref(),
            prepare,
            &args.explain,
            &planned,
            args.output,
        )
        .await;
    }
    let (check, refused) = run::guard(&planned, &settings, args.allow_mass_deactivation);

    if args.dry_run {
        let summary = Summary::of_plan(&planned.plan);
        if planned.plan.adds_seats() {
            scim_sync::apply::warn_billing();
        }
        match args.output {
            Output::Text => print!("{}", scim_sync::plan_text(&planned.plan)),
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(&planned.dry_run_json(&summary, &check, refused))?
            ),
            Output::Html => print!(
                "{}",
                scim_report::render(&scim_sync::plan_page(
                    &planned.plan,
                    &planned.desired,
                    &planned.current,
                    planned.options.root_group_id,
                    &page_title(chrono::Local::now()),
                    refused.then_some(&check),
                ))
            ),
        }
        info!("{}", summary.line(true));
        log_requests(&client);
        if refused {
            return Err(Refused(format!("a real run would stop here: {}", check.refusal())).into());
        }
        return Ok(());
    }
    if refused {
        if args.output == Output::Json {
            println!(
                "{}",
                serde_json::to_string_pretty(&planned.refused_json(&check))?
            );
        }
        return Err(Refused(check.refusal()).into());
    }

    let bar = crate::progress::Bar::on_terminal(planned.plan.changes.len(), "applying changes");
    let executed = run::execute(
        &planned,
        &client,
        storage.as_ref(),
        &settings,
        run::ExecuteOptions {
            stop: stop.clone(),
            progress: bar.as_ref().map(crate::progress::Bar::hook),
        },
    )
    .await;
    if let Some(bar) = bar {
        bar.finish();
    }
    let executed = executed.map_err(policy)?;
    report(&planned, &executed)?;
    if args.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&executed.json(&planned.plan))?
        );
    }
    info!("{}", executed.summary.line(false));
    log_requests(&client);
    finish(
        &planned,
        &executed,
        &stop,
        &client,
        storage.as_ref(),
        &settings,
    )
    .await
}

/// Sends the run's summary through the alert webhook, with the people held
/// back: who is who is not certain for them, so an admin must settle it
/// whatever NOTIFY_ON says. sync-users and scim-server's sync report alike.
pub(crate) fn report(planned: &run::Planned, executed: &run::Executed) -> anyhow::Result<()> {
    let mut counts = serde_json::to_value(&executed.summary)?;
    counts["line"] = json!(executed.summary.line(false));
    crate::notify::report(crate::notify::RunSummary {
        counts,
        changed: executed.changed(),
        attention: planned
            .plan
            .held_back
            .iter()
            .map(|h| format!("{}: {}", h.email, h.reason))
            .collect(),
    });
    Ok(())
}

/// After an apply: its verdict (a run stopped or refused part-way is no
/// success), then the empty groups when TIMECAMP_REMOVE_EMPTY_GROUPS asks.
pub(crate) async fn finish(
    planned: &run::Planned,
    executed: &run::Executed,
    stop: &scim_sync::StopFlag,
    client: &Client,
    storage: &dyn scim_core::storage::Storage,
    settings: &SyncSettings,
) -> anyhow::Result<()> {
    executed.verdict(stop).map_err(policy)?;
    if settings.remove_empty_groups {
        run::remove_empty_groups_after(planned, executed, client, storage)
            .await
            .map_err(policy)?;
    }
    Ok(())
}

/// scim-server syncs its own `var/` and leaves alone the TimeCamp users its
/// provider never pushed; sync-users takes `var/users.json` for the whole
/// staff and would disable them.
async fn refuse_scim_servers_files(
    storage: &dyn scim_core::storage::Storage,
) -> anyhow::Result<()> {
    use scim_core::storage::SCIM_POPULATION_FILE;
    if storage.exists(SCIM_POPULATION_FILE).await? {
        anyhow::bail!(
            "{} is here: these stage files are scim-server's, which syncs them itself. sync-users \
             would take the pushed users for the whole staff and disable every TimeCamp user the \
             identity provider never pushed, so it stops; nothing was read or changed. To let \
             scim-server apply a sync it refused, raise TIMECAMP_MAX_DEACTIVATIONS and restart it",
            storage.location(SCIM_POPULATION_FILE)
        );
    }
    Ok(())
}

/// The HTML plan's title: when it was made, to the second, as people read
/// a time (the journal's RFC 3339 stamps carry nanoseconds).
fn page_title(now: chrono::DateTime<chrono::Local>) -> String {
    format!(
        "TimeCamp sync plan, {}",
        now.format("%Y-%m-%d %H:%M:%S %:z")
    )
}

/// A refusal of the stage's guards is exit 3; anything else exit 1.
pub(crate) fn policy(e: run::RunError) -> anyhow::Error {
    match e {
        run::RunError::Refused(why) => Refused(why).into(),
        other => other.into(),
    }
}

/// Prints `--explain` for each e-mail, as text or as one JSON list. The
/// source file is read (when it is there) and prepared again in memory, for
/// the notes prepare had about them.
async fn explain(
    storage: &dyn scim_core::storage::Storage,
    settings: &PrepareSettings,
    emails: &[String],
    planned: &run::Planned,
    output: Output,
) -> anyhow::Result<()> {
    let sources: Option<scim_model::SourceUsersFile> = storage::read_json(
        storage,
        scim_core::storage::USERS_FILE,
        "an object {\"users\": [...]}",
    )
    .await
    .ok();
    let options = crate::prepare::options(settings)?;
    let notes = match &sources {
        Some(file) => scim_prepare::prepare(&file.users, &options)
            .map(|p| p.notes)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let explained: Vec<crate::explain::Explanation> = emails
        .iter()
        .map(|email| {
            crate::explain::explain(
                &email.trim().to_lowercase(),
                sources.as_ref().map(|f| f.users.as_slice()),
                &options,
                &notes,
                &planned.desired,
                &planned.current,
                &planned.plan,
            )
        })
        .collect();
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&explained)?),
        _ => {
            for e in &explained {
                print!("{}", e.text());
            }
        }
    }
    Ok(())
}

/// SIGTERM (a scheduler's or http-service's time limit, `docker stop`) and
/// Ctrl-C stop the run between requests instead of in the middle of one.
fn stop_on_signal(stop: scim_sync::StopFlag) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    warn!("cannot watch for SIGTERM: {e}");
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => warn!("SIGTERM: stopping after the requests in flight"),
            _ = tokio::signal::ctrl_c() => warn!("Interrupted: stopping after the requests in flight"),
        }
        stop.request();
    });
}

fn log_requests(client: &Client) {
    let c = client.request_counts();
    info!(
        "TimeCamp requests: {} reads, {} writes, {} retries",
        c.reads, c.writes, c.retries
    );
}

/// The TimeCamp client as the settings describe it.
pub fn client(settings: &TimecampApi, api_key: scim_core::Secret) -> anyhow::Result<Client> {
    Ok(Client::new(ClientConfig {
        base_url: settings.api_base_url(),
        api_key,
        verify_tls: settings.ssl_verify,
        timeout: Duration::from_secs(settings.http_timeout_seconds),
        retry: RetryPolicy {
            max_attempts: settings.http_max_attempts,
            unanswered_budget: Duration::from_secs(settings.http_retry_budget_seconds),
            wait_budget: Duration::from_secs(settings.http_wait_budget_seconds),
            ..RetryPolicy::default()
        },
    })?)
}
