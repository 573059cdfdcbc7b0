//! `sync-users`: makes TimeCamp match `var/timecamp_users.json`.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use scim_core::Env;
use scim_core::model::TimecampUser;
use scim_core::settings::{StorageSettings, TimecampSettings};
use scim_core::storage::{self, TIMECAMP_USERS_FILE};
use scim_sync::{ApplyOptions, Summary};
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
    override_usage = "sync-users [--dry-run] [--debug] [--input PATH] [--output text|json|html] [--allow-mass-deactivation] [--explain EMAIL]...",
    after_help = crate::stage_help!(
        "Needs TIMECAMP_API_KEY and TIMECAMP_ROOT_GROUP_ID; the TIMECAMP_DISABLE_* switches limit what it may change."
    )
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Html,
}

const SHAPE: &str = "a list of records with timecamp_email, timecamp_status, timecamp_user_name, \
                     timecamp_groups_breadcrumb and timecamp_role";

pub async fn run(env: Env, args: Args) -> anyhow::Result<()> {
    let settings = TimecampSettings::from_env(&env)?;
    let api = settings.require_api()?;
    let storage_settings = StorageSettings::from_env(&env)?;
    let options = scim_sync::sync_options(&settings, &api);

    // The var/ lock is held already: the binary takes it before the runtime starts.

    let stop = scim_sync::StopFlag::default();
    if !args.dry_run {
        stop_on_signal(stop.clone());
    }

    let storage = crate::open_storage(&storage_settings).await?;
    if !storage.exists(&args.input).await? {
        bail!(
            "{} does not exist: run prepare-timecamp first",
            storage.location(&args.input)
        );
    }
    let desired: Vec<TimecampUser> = storage::read_json(storage.as_ref(), &args.input, SHAPE)
        .await
        .context("sync stopped before any change")?;
    info!("Read {} prepared users from {}", desired.len(), args.input);
    let problems = scim_sync::validate_input(&desired);
    if !problems.is_empty() {
        for p in &problems {
            warn!("{}: {p}", args.input);
        }
        bail!(
            "{} has {} problem(s) (listed above); nothing was changed. Run prepare-timecamp again, \
             or fix the file",
            args.input,
            problems.len()
        );
    }
    if !desired
        .iter()
        .any(|d| d.timecamp_status == scim_core::model::Status::Active)
    {
        return Err(Refused(format!(
            "{} has no active user: refusing to sync, since that would disable everyone. Nothing was changed. \
             Check the fetch (var/users.json) and run prepare-timecamp again",
            args.input
        ))
        .into());
    }

    let client = client(&settings, api.api_key)?;
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

    let journal = match scim_sync::Journal::read(storage.as_ref()).await {
        Ok(j) => j,
        Err(e) => {
            warn!("{e}; going on as if no invitation were unfinished");
            scim_sync::Journal::default()
        }
    };
    let mut current = scim_sync::read_state(&client)
        .await
        .context("cannot read the current state of TimeCamp; nothing was changed")?;
    current.pending_invites = journal.emails();
    if !journal.is_empty() {
        info!(
            "{} user(s) invited by an earlier run are still to be finished ({})",
            current.pending_invites.len(),
            scim_sync::pending::PENDING_FILE
        );
    }
    info!(
        "TimeCamp has {} users and {} groups",
        current.users.len(),
        current.groups.len()
    );
    let plan = scim_sync::plan(&current, &desired, &options);
    if !args.explain.is_empty() {
        return explain(
            storage.as_ref(),
            &settings,
            &args.explain,
            &desired,
            &current,
            &plan,
        )
        .await;
    }
    for w in &plan.warnings {
        warn!("{w}");
    }
    for s in &plan.skipped {
        info!("{}: skipped: {}", s.email, s.reason);
    }
    let check =
        scim_sync::check_deactivations(&plan, &current, &options, settings.max_deactivations);
    let refused = check.exceeded() && !args.allow_mass_deactivation;
    if check.exceeded() && args.allow_mass_deactivation {
        warn!(
            "--allow-mass-deactivation: disabling {} of {} enabled users (TIMECAMP_MAX_DEACTIVATIONS={} would allow {})",
            check.planned, check.managed, check.limit, check.allowed
        );
    }

    if args.dry_run {
        let summary = Summary::of_plan(&plan);
        if plan.adds_seats() {
            scim_sync::apply::warn_billing();
        }
        match args.output {
            Output::Text => print!("{}", scim_sync::plan_text(&plan)),
            Output::Html => print!(
                "{}",
                scim_report::render(&scim_sync::plan_page(
                    &plan,
                    &desired,
                    &current,
                    options.root_group_id,
                    &format!("TimeCamp sync plan, {}", scim_sync::journal::now()),
                ))
            ),
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "dry_run": true,
                    "plan": plan,
                    "summary": summary,
                    "deactivation_check": check,
                    "refused": refused,
                }))?
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
                serde_json::to_string_pretty(&json!({
                    "dry_run": false,
                    "plan": plan,
                    "deactivation_check": check,
                    "refused": true,
                }))?
            );
        }
        return Err(Refused(check.refusal()).into());
    }

    info!("Plan: {} changes", plan.changes.len());
    // Whom this run invites is on record before the first invite, so an
    // interrupted run's invitees are still finished by the next one.
    let journal_now = journal.before_apply(&plan);
    if journal_now != journal {
        journal_now
            .write(storage.as_ref())
            .await
            .context("cannot record the users about to be invited; nothing was changed")?;
    }
    if stop.is_requested() {
        bail!("stopped on request before any change");
    }
    let run_id = scim_sync::journal::run_id();
    let bar = crate::progress::Bar::on_terminal(plan.changes.len(), "applying changes");
    let report = scim_sync::apply(
        &client,
        &plan,
        &ApplyOptions {
            stop: stop.clone(),
            new_user_wait: Duration::from_secs(settings.new_user_wait_seconds),
            poll_interval: Duration::from_secs(2)
                .min(Duration::from_secs(settings.new_user_wait_seconds.max(1))),
            concurrency: settings.concurrency,
            progress: bar.as_ref().map(crate::progress::Bar::hook),
        },
    )
    .await;
    if let Some(bar) = bar {
        bar.finish();
    }
    scim_sync::journal::record(&scim_sync::journal::sync_entries(
        &report,
        &run_id,
        &scim_sync::journal::now(),
    ));
    let journal_after = journal_now.after_apply(&current, &plan, &report);
    if journal_after != journal_now
        && let Err(e) = journal_after.write(storage.as_ref()).await
    {
        // Harmless: the next run crosses off whoever TimeCamp shows as finished.
        warn!("cannot update {}: {e}", scim_sync::pending::PENDING_FILE);
    }
    let summary = Summary::of_report(&plan, &report);
    let mut counts = serde_json::to_value(&summary)?;
    counts["line"] = json!(summary.line(false));
    crate::notify::report(crate::notify::RunSummary {
        counts,
        changed: summary.created
            + summary.updated
            + summary.disabled
            + summary.re_enabled
            + summary.groups_created
            > 0,
    });
    if args.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"dry_run": false, "result": report, "summary": summary})
            )?
        );
    }
    info!("{}", summary.line(false));
    log_requests(&client);
    if stop.is_requested() {
        bail!(
            "stopped on request before the plan was finished ({} change(s) not made); the next run does the rest",
            summary.skipped
        );
    }
    if summary.failed > 0 {
        bail!(
            "{} change(s) failed (see the warnings above); the rest was applied, and the next run retries what is missing",
            report.failures().count()
        );
    }
    if settings.remove_empty_groups {
        // Only after a sync with no failure, with the protections of
        // remove-empty-groups: the groups the prepared users need stay, also
        // those of invitees TimeCamp does not list yet.
        let needed: Vec<String> = desired
            .iter()
            .filter(|d| d.timecamp_status == scim_core::model::Status::Active)
            .filter_map(|d| d.timecamp_groups_breadcrumb.clone())
            .collect();
        let removal = scim_sync::empty_groups::remove_empty_groups(
            &client,
            options.root_group_id,
            options.disabled_users_group_id,
            &needed,
            false,
        )
        .await
        .context("TIMECAMP_REMOVE_EMPTY_GROUPS: cannot read TimeCamp's groups and users")?;
        scim_sync::journal::record(&removal.journal_entries(
            "sync-users",
            &run_id,
            &scim_sync::journal::now(),
        ));
        if removal.failed() > 0 {
            bail!(
                "TIMECAMP_REMOVE_EMPTY_GROUPS: {} empty group(s) could not be deleted; the next run tries again",
                removal.failed()
            );
        }
    }
    Ok(())
}

/// Prints `--explain` for each e-mail. The source file is read (when it is
/// there) and prepared again in memory, for the notes prepare had about them.
async fn explain(
    storage: &dyn scim_core::storage::Storage,
    settings: &TimecampSettings,
    emails: &[String],
    desired: &[TimecampUser],
    current: &scim_sync::CurrentState,
    plan: &scim_sync::Plan,
) -> anyhow::Result<()> {
    let sources: Option<scim_core::model::SourceUsersFile> = storage::read_json(
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
    for email in emails {
        print!(
            "{}",
            crate::explain::explain(
                &email.trim().to_lowercase(),
                sources.as_ref().map(|f| f.users.as_slice()),
                &options,
                &notes,
                desired,
                current,
                plan,
            )
        );
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
pub fn client(settings: &TimecampSettings, api_key: scim_core::Secret) -> anyhow::Result<Client> {
    Ok(Client::new(ClientConfig {
        base_url: settings.api_base_url(),
        api_key,
        verify_tls: settings.ssl_verify,
        timeout: Duration::from_secs(settings.http_timeout_seconds),
        retry: RetryPolicy {
            max_attempts: settings.http_max_attempts,
            unanswered_budget: Duration::from_secs(settings.http_retry_budget_seconds),
            ..RetryPolicy::default()
        },
    })?)
}
