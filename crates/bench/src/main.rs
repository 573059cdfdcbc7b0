//! `scim-bench`: measures stages on generated data, never inside the test suite.
//!
//! Each measurement runs in a fresh child process (this binary, in a hidden
//! mode), so the peak resident memory it reports belongs to the stage alone and
//! not to the data generator. Run it in release mode:
//!
//! ```text
//! cargo run --release -p scim-bench -- prepare
//! cargo run --release -p scim-bench -- fetch
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use scim_core::Env;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "scim-bench",
    about = "Benchmarks of timecamp-scim stages on generated data"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// prepare-timecamp on generated users with a six-level supervisor hierarchy
    Prepare {
        /// User counts to measure (the growth between them shows linearity)
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "25000,50000,100000,200000"
        )]
        users: Vec<usize>,
        /// Group modes to measure
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "department,supervisor,hybrid"
        )]
        mode: Vec<Mode>,
        /// Runs per measurement; the median is reported
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// sync-users against the fake TimeCamp with a fixed latency on every request:
    /// first run (all new), no-op rerun, and a run where 5% changed
    Sync {
        /// User counts to measure
        #[arg(long, value_delimiter = ',', default_value = "2000,10000")]
        users: Vec<usize>,
        /// Latency the fake adds to every request, in milliseconds
        #[arg(long, default_value_t = 50)]
        latency_ms: u64,
        /// Write concurrencies to measure (TIMECAMP_CONCURRENCY)
        #[arg(long, value_delimiter = ',', default_value = "8")]
        concurrency: Vec<usize>,
    },
    /// sync-users on an hourly run with much to do, against the fake TimeCamp
    /// with a fixed latency: 2,000 people of whom 1,700 are in TimeCamp
    /// already; 300 join, 150 others are renamed, 50 get their external id,
    /// 100 move to the next team and 75 change role (so 450 renames and 350
    /// external ids in all, the joiners' included)
    Churn {
        /// Latency the fake adds to every request, in milliseconds
        #[arg(long, default_value_t = 50)]
        latency_ms: u64,
        /// Write concurrency (TIMECAMP_CONCURRENCY)
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Runs; each is reported
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// scim-server as Entra ID's initial cycle meets it: USERS POSTs as fast as
    /// the client sends them, then the one debounced sync against the fake
    /// TimeCamp (with a fixed latency on every request)
    Scim {
        /// Users pushed
        #[arg(long, default_value_t = 5000)]
        users: usize,
        /// Requests the client keeps in flight (Entra ID sends several at once)
        #[arg(long, value_delimiter = ',', default_value = "1,8")]
        concurrency: Vec<usize>,
        /// Latency the fake TimeCamp adds to every request, in milliseconds
        #[arg(long, default_value_t = 50)]
        latency_ms: u64,
        /// SCIM_SYNC_DELAY_SECONDS of the server
        #[arg(long, default_value_t = 30)]
        delay_seconds: u64,
    },
    /// fetch-okta and fetch-hibob against fakes on loopback: a realistic
    /// listing, and hostile answers (a page of `{}` items; one item holding
    /// millions of values); peak memory of the fetch
    Fetch {
        /// People in the realistic listings
        #[arg(long, default_value_t = 20_000)]
        users: usize,
        /// Size of each hostile answer, in MB
        #[arg(long, default_value_t = 60)]
        hostile_mb: usize,
        /// What to measure
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "okta,okta-empties,okta-nested,hibob,hibob-empties,hibob-nested"
        )]
        scenario: Vec<Scenario>,
    },
    /// (internal) run prepare in DIR and print `<seconds> <peak kB>`
    #[command(hide = true)]
    MeasurePrepare { dir: PathBuf },
    /// (internal) run scim-server in DIR with this process's environment
    #[command(hide = true)]
    ServeScim { dir: PathBuf },
    /// (internal) run a fetcher in DIR and print `<seconds> <CPU seconds> <peak kB> <outcome>`
    #[command(hide = true)]
    MeasureFetch { dir: PathBuf, fetcher: Fetcher },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Fetcher {
    Okta,
    Hibob,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// The realistic listing, from the fake Okta (pages of 200)
    Okta,
    /// Every Okta page is `[{}, {}, ...]`
    OktaEmpties,
    /// Every Okta page is one user holding `[{}, {}, ...]`
    OktaNested,
    /// The realistic listing, from the fake HiBob (one answer)
    Hibob,
    /// HiBob's answer is `{"employees": [{}, {}, ...]}`
    HibobEmpties,
    /// HiBob's answer is one employee holding `[{}, {}, ...]`
    HibobNested,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Department,
    Supervisor,
    Hybrid,
}

impl Mode {
    fn env(self) -> [(&'static str, &'static str); 2] {
        let (sup, dept) = match self {
            Mode::Department => ("false", "true"),
            Mode::Supervisor => ("true", "false"),
            Mode::Hybrid => ("true", "true"),
        };
        [
            ("TIMECAMP_USE_SUPERVISOR_GROUPS", sup),
            ("TIMECAMP_USE_DEPARTMENT_GROUPS", dept),
        ]
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Prepare {
            users,
            mode,
            repeat,
        } => bench_prepare(&users, &mode, repeat.max(1)),
        Cmd::MeasurePrepare { dir } => measure_prepare(&dir),
        Cmd::Fetch {
            users,
            hostile_mb,
            scenario,
        } => bench_fetch(users, hostile_mb, &scenario),
        Cmd::MeasureFetch { dir, fetcher } => measure_fetch(&dir, fetcher),
        Cmd::Sync {
            users,
            latency_ms,
            concurrency,
        } => bench_sync(&users, Duration::from_millis(latency_ms), &concurrency),
        Cmd::Churn {
            latency_ms,
            concurrency,
            repeat,
        } => bench_churn(
            Duration::from_millis(latency_ms),
            concurrency,
            repeat.max(1),
        ),
        Cmd::Scim {
            users,
            concurrency,
            latency_ms,
            delay_seconds,
        } => bench_scim(
            users,
            &concurrency,
            Duration::from_millis(latency_ms),
            delay_seconds,
        ),
        Cmd::ServeScim { dir } => {
            std::env::set_current_dir(&dir)?;
            match timecamp_scim::run_stage(false, |env| {
                timecamp_scim::scim_server::run(
                    env,
                    timecamp_scim::scim_server::Args { debug: false },
                )
            }) {
                code if code == std::process::ExitCode::SUCCESS => Ok(()),
                _ => bail!("scim-server failed (see its log)"),
            }
        }
    }
}

/// The smallest fan-out that fits `n` people in a tree of `levels` levels.
fn fan_out(n: usize, levels: u32) -> usize {
    (2..)
        .find(|&f: &usize| (0..levels).map(|l| f.pow(l)).sum::<usize>() >= n)
        .unwrap_or(2)
}

/// `n` active users in a complete tree six levels deep: user `i` reports to
/// `(i - 1) / fan_out`, so the depth is exactly six for the counts measured.
/// Departments cycle over 40 two-level paths, job titles over 8.
fn generate(n: usize) -> Value {
    let f = fan_out(n, 6);
    let users: Vec<Value> = (0..n)
        .map(|i| {
            let supervisor = if i == 0 {
                String::new()
            } else {
                format!("E{}", (i - 1) / f)
            };
            json!({
                "external_id": format!("E{i}"),
                "name": format!("Person {i} Surname"),
                "email": format!("person.{i}@Example.com"),
                "department": format!("Division {} / Department {}", i % 5, i % 40),
                "job_title": format!("Title {}", i % 8),
                "status": if i % 50 == 7 { "inactive" } else { "active" },
                "supervisor_id": supervisor,
            })
        })
        .collect();
    json!({ "users": users })
}

fn bench_prepare(counts: &[usize], modes: &[Mode], repeat: usize) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the scim-bench executable")?;
    println!("| users | mode | wall time (s) | µs per user | peak RSS (MiB) | input (MiB) |");
    println!("|---:|---|---:|---:|---:|---:|");
    for &n in counts {
        let dir = tempfile::tempdir()?;
        let input = dir.path().join("var/users.json");
        std::fs::create_dir_all(dir.path().join("var"))?;
        std::fs::write(&input, serde_json::to_vec_pretty(&generate(n))?)?;
        let input_mib = std::fs::metadata(&input)?.len() as f64 / 1_048_576.0;
        for &mode in modes {
            let mut runs = Vec::with_capacity(repeat);
            for _ in 0..repeat {
                runs.push(measure_in_child(&exe, dir.path(), mode)?);
            }
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (secs, peak_kb) = runs[runs.len() / 2];
            println!(
                "| {n} | {mode:?} | {secs:.3} | {:.2} | {:.1} | {input_mib:.1} |",
                secs * 1e6 / n as f64,
                peak_kb / 1024.0
            );
        }
    }
    Ok(())
}

/// One run of prepare in a fresh process: (seconds, peak kB).
fn measure_in_child(exe: &Path, dir: &Path, mode: Mode) -> anyhow::Result<(f64, f64)> {
    let out = Command::new(exe)
        .arg("measure-prepare")
        .arg(dir)
        .env_clear()
        .envs(mode.env())
        .env("DISABLE_FILE_LOGGING", "true")
        .output()?;
    if !out.status.success() {
        bail!(
            "measurement failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout)?;
    let mut fields = text.split_whitespace();
    let secs = fields.next().context("no time")?.parse()?;
    let peak_kb = fields.next().context("no memory")?.parse()?;
    Ok((secs, peak_kb))
}

/// Runs the whole prepare stage (read, parse, transform, write) as the binary does.
fn measure_prepare(dir: &Path) -> anyhow::Result<()> {
    std::env::set_current_dir(dir)?;
    let env = Env::load()?;
    let args = timecamp_scim::prepare::Args {
        debug: false,
        output: scim_core::storage::TIMECAMP_USERS_FILE.into(),
        input: scim_core::storage::USERS_FILE.into(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    runtime.block_on(timecamp_scim::prepare::run(env, args))?;
    let secs = start.elapsed().as_secs_f64();
    println!("{secs} {}", peak_rss_kb()?);
    Ok(())
}

/// `VmHWM` of this process: the peak resident set size, in kB (Linux).
fn peak_rss_kb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")
}

/// Desired users for the sync benchmark: 20 departments of 2 levels, one
/// supervisor in ten, external ids, a real e-mail for one in four.
fn desired_users(n: usize, renamed: impl Fn(usize) -> bool) -> Vec<scim_model::TimecampUser> {
    (0..n)
        .map(|i| {
            let mut u: scim_model::TimecampUser = serde_json::from_value(json!({
                "timecamp_external_id": format!("E{i}"),
                "timecamp_user_name": if renamed(i) { format!("Renamed Person {i}") } else { format!("Person {i}") },
                "timecamp_email": format!("person.{i}@example.com"),
                "timecamp_groups_breadcrumb": format!("Division {}/Team {}", i % 5, i % 20),
                "timecamp_status": "active",
                "timecamp_role": if i % 10 == 0 { "supervisor" } else { "user" },
            }))
            .unwrap_or_else(|e| unreachable!("generated record is valid: {e}"));
            if i % 4 == 0 {
                u.timecamp_real_email = Some(format!("person.{i}@home.example.org"));
            }
            u
        })
        .collect()
}

/// One sync run in-process, as sync-users does it: (seconds, reads, writes, changes).
async fn sync_once(
    url: &str,
    desired: &[scim_model::TimecampUser],
    concurrency: usize,
) -> anyhow::Result<(f64, u64, u64, usize)> {
    let client = scim_timecamp::Client::new(scim_timecamp::ClientConfig {
        base_url: url.to_owned(),
        api_key: scim_core::Secret::new(scim_test_support::TOKEN),
        verify_tls: true,
        timeout: Duration::from_secs(30),
        retry: scim_timecamp::RetryPolicy::default(),
    })?;
    let opts = scim_sync::SyncOptions {
        root_group_id: 10,
        ..Default::default()
    };
    let start = Instant::now();
    let current = scim_sync::read_state(&client).await?;
    let plan = scim_sync::plan(&current, desired, &opts);
    let report = scim_sync::apply(
        &client,
        &plan,
        &scim_sync::ApplyOptions {
            new_user_wait: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            concurrency,
            stop: scim_sync::StopFlag::default(),
            progress: None,
            journal: None,
        },
    )
    .await;
    let secs = start.elapsed().as_secs_f64();
    if report.failures().count() > 0 || !report.pending.is_empty() {
        let first: Vec<String> = report
            .failures()
            .take(3)
            .map(|f| format!("{:?} {:?}", f.change, f.outcome))
            .collect();
        bail!(
            "the benchmark sync did not complete cleanly: {} failed ({}), {} pending",
            report.failures().count(),
            first.join("; "),
            report.pending.len()
        );
    }
    let c = client.request_counts();
    Ok((secs, c.reads, c.writes, plan.changes.len()))
}

fn bench_sync(counts: &[usize], latency: Duration, concurrencies: &[usize]) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "| users | concurrency | run | changes | reads | writes | wall time (s) | (writes / concurrency + reads) x latency (s) |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|");
    for &n in counts {
        for &c in concurrencies {
            let fake = scim_test_support::FakeTimecamp::start(10).latency(latency);
            let url = fake.url();
            // The usual hourly runs after the first import: nothing, a few
            // renames, and a wave of joiners (300) with a few renames.
            let runs = [
                ("first run (all new)", desired_users(n, |_| false)),
                ("no-op rerun", desired_users(n, |_| false)),
                ("5% changed", desired_users(n, |i| i % 20 == 3)),
                (
                    "300 joined, 5% changed",
                    desired_users(n + 300, |i| i % 20 == 7),
                ),
            ];
            for (name, desired) in &runs {
                let (secs, reads, writes, changes) =
                    runtime.block_on(sync_once(&url, desired, c))?;
                // Reads are partly concurrent too, so this is an upper bound of the ideal.
                let ideal = (writes as f64 / c as f64 + reads as f64) * latency.as_secs_f64();
                println!(
                    "| {n} | {c} | {name} | {changes} | {reads} | {writes} | {secs:.1} | {ideal:.1} |"
                );
            }
        }
    }
    Ok(())
}

/// People in the churn benchmark, in TimeCamp before the run, joining, and
/// with each kind of change among those already there.
const CHURN_PEOPLE: usize = 2_000;
const CHURN_JOINERS: usize = 300;
const CHURN_RENAMES: usize = 150;
const CHURN_EXTERNAL_IDS: usize = 50;
const CHURN_MOVES: usize = 100;
const CHURN_ROLES: usize = 75;

/// The first `k` people already in TimeCamp, drawn with a fixed seed: each
/// kind of change is drawn separately, so some people get several.
fn churn_pick(seed: u64, k: usize) -> std::collections::HashSet<usize> {
    let mut order: Vec<usize> = (0..CHURN_PEOPLE - CHURN_JOINERS).collect();
    fastrand::Rng::with_seed(seed).shuffle(&mut order);
    order.into_iter().take(k).collect()
}

/// The account before the run (the people already there, as an earlier sync
/// or an admin left them: names, teams, roles, external ids, no
/// `added_manually`) and the prepared users of the run.
fn churn_world(
    latency: Duration,
) -> (
    scim_test_support::FakeTimecamp,
    Vec<scim_model::TimecampUser>,
) {
    let existing = CHURN_PEOPLE - CHURN_JOINERS;
    let renamed = churn_pick(1, CHURN_RENAMES);
    let without_id = churn_pick(2, CHURN_EXTERNAL_IDS);
    let moved = churn_pick(3, CHURN_MOVES);
    let promoted = churn_pick(4, CHURN_ROLES);
    let team = |t: usize| 100 + t as u64;
    let mut fake = scim_test_support::FakeTimecamp::start(10).latency(latency);
    for d in 0..5u64 {
        fake = fake.group(20 + d, &format!("Division {d}"), 10);
    }
    for t in 0..20 {
        fake = fake.group(team(t), &format!("Team {t}"), 20 + (t % 5) as u64);
    }
    let mut desired = desired_users(CHURN_PEOPLE, |i| renamed.contains(&i) || i >= existing);
    for (i, record) in desired.iter_mut().enumerate().take(existing) {
        let id = 1 + i as u64;
        let supervisor = i % 10 == 0;
        fake = fake
            .user(
                id,
                &format!("person.{i}@example.com"),
                &format!("Person {i}"),
                team(i % 20),
            )
            .role(id, if supervisor { 2 } else { 3 });
        if !without_id.contains(&i) {
            fake = fake.setting(id, "external_id", &format!("E{i}"));
        }
        if i % 4 == 0 {
            fake = fake.setting(
                id,
                "additional_email",
                &format!("person.{i}@home.example.org"),
            );
        }
        if moved.contains(&i) {
            let to = (i + 1) % 20;
            record.timecamp_groups_breadcrumb =
                Some(format!("Division {}/Team {to}", to % 5).into());
        }
        if promoted.contains(&i) {
            record.timecamp_role = Some(if supervisor {
                scim_model::Role::User
            } else {
                scim_model::Role::Supervisor
            });
        }
    }
    (fake, desired)
}

fn bench_churn(latency: Duration, concurrency: usize, repeat: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("| run | changes | reads | writes | requests | wall time (s) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for run in 1..=repeat {
        let (fake, desired) = churn_world(latency);
        let (secs, reads, writes, changes) =
            runtime.block_on(sync_once(&fake.url(), &desired, concurrency))?;
        println!(
            "| {run} | {changes} | {reads} | {writes} | {} | {secs:.1} |",
            reads + writes
        );
        let (_, _, rerun_writes, _) =
            runtime.block_on(sync_once(&fake.url(), &desired, concurrency))?;
        if rerun_writes > 0 {
            bail!("the churn run did not converge: the rerun wrote {rerun_writes} times");
        }
    }
    Ok(())
}

const SCIM_TOKEN: &str = "scim-bench-token-0123456789";

/// What one scim-server benchmark run measured.
struct ScimRun {
    push_secs: f64,
    sync_secs: f64,
    syncs: u64,
    reads: usize,
    writes: usize,
    peak_rss_kib: u64,
}

fn bench_scim(
    users: usize,
    concurrencies: &[usize],
    latency: Duration,
    delay: u64,
) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the scim-bench executable")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "| users | client concurrency | pushes/s | pushing (s) | quiet period (s) | syncs | sync (s) | TimeCamp reads | TimeCamp writes | server peak RSS (MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &c in concurrencies {
        let r = runtime.block_on(scim_once(&exe, users, c.max(1), latency, delay))?;
        println!(
            "| {users} | {c} | {:.0} | {:.1} | {delay} | {} | {:.1} | {} | {} | {:.1} |",
            users as f64 / r.push_secs,
            r.push_secs,
            r.syncs,
            r.sync_secs,
            r.reads,
            r.writes,
            r.peak_rss_kib as f64 / 1024.0
        );
    }
    Ok(())
}

/// A realistic Okta user, as the Users API returns it with a full profile
/// (about 1.7 KiB of JSON): managers are the users a tenth of the way up.
fn okta_user(i: usize) -> Value {
    let id = |i: usize| format!("00u{i:017}");
    let (first, last) = (format!("First{i}"), format!("Last{i}"));
    let email = format!("first{i}.last{i}@example.com");
    json!({
        "id": id(i),
        "status": "ACTIVE",
        "created": "2021-03-04T10:00:00.000Z",
        "activated": "2021-03-04T10:05:00.000Z",
        "statusChanged": "2021-03-04T10:05:00.000Z",
        "lastLogin": "2026-11-30T08:12:44.000Z",
        "lastUpdated": "2026-10-01T12:00:00.000Z",
        "passwordChanged": "2026-06-01T09:30:00.000Z",
        "type": {"id": "oty1a2b3c4d5e6f7g8h9"},
        "profile": {
            "firstName": first,
            "lastName": last,
            "displayName": format!("{first} {last}"),
            "email": email,
            "login": email,
            "secondEmail": null,
            "mobilePhone": "+1 555 0100 1234",
            "primaryPhone": "+1 555 0100 5678",
            "title": "Senior Software Engineer",
            "department": format!("Department {}", i % 40),
            "division": "Research and Development",
            "costCenter": "CC-1203",
            "organization": "Example Corporation",
            "employeeNumber": format!("E{i:06}"),
            "managerId": if i == 0 { Value::Null } else { json!(id((i - 1) / 10)) },
            "manager": if i == 0 { Value::Null } else { json!(format!("First{} Last{}", (i - 1) / 10, (i - 1) / 10)) },
            "city": "San Francisco",
            "state": "CA",
            "countryCode": "US",
            "streetAddress": "100 Main Street, Suite 400",
            "zipCode": "94105",
            "userType": "Employee",
            "locale": "en_US",
            "timezone": "America/Los_Angeles",
            "preferredLanguage": "en",
            "nickName": null,
            "middleName": null,
            "honorificPrefix": null,
            "honorificSuffix": null,
            "profileUrl": null,
            "postalAddress": null
        },
        "credentials": {
            "password": {},
            "recovery_question": {"question": "What is the name of your first pet?"},
            "provider": {"type": "OKTA", "name": "OKTA"}
        },
        "_links": {"self": {"href": format!("https://example.okta.com/api/v1/users/{}", id(i))}}
    })
}

/// A realistic HiBob employee as the fake stores it (the search returns the
/// fields asked for, with their readable copies).
fn hibob_employee(i: usize) -> Value {
    let (first, last) = (format!("First{i}"), format!("Last{i}"));
    let manager = (i > 0).then(|| (i - 1) / 10);
    json!({
        "id": format!("{}", 3_000_000 + i),
        "email": format!("first{i}.last{i}@example.com"),
        "firstName": first,
        "surname": last,
        "displayName": format!("{first} {last}"),
        "fullName": format!("{first} {last}"),
        "work": {
            "department": format!("{}", 100_000 + i % 40),
            "title": "207431",
            "reportsTo": manager.map(|m| json!({
                "id": format!("{}", 3_000_000 + m),
                "displayName": format!("First{m} Last{m}"),
                "email": format!("first{m}.last{m}@example.com"),
            })),
            "isManager": i < 2_000,
            "startDate": "2020-01-06",
            "site": "London",
            "employeeIdInCompany": i,
        },
        "internal": {"status": "Active", "lifecycleStatus": "employed"},
        "humanReadable": {
            "work": {
                "department": format!("Department {}", i % 40),
                "title": "Senior Software Engineer",
                "reportsTo": manager.map(|m| format!("First{m} Last{m}")),
                "isManager": if i < 2_000 { "Yes" } else { "No" },
                "startDate": "06/01/2020",
                "site": "London",
                "employeeIdInCompany": format!("{i}"),
            },
            "internal": {"status": "Active", "lifecycleStatus": "Employed"},
        },
    })
}

/// `[{}, {}, ...]` of about `mb` MB, wrapped by `before` and `after`.
fn empties(before: &str, mb: usize, after: &str) -> Vec<u8> {
    let n = mb * 1_000_000 / 3;
    let mut body = Vec::with_capacity(n * 3 + before.len() + after.len() + 2);
    body.extend_from_slice(before.as_bytes());
    body.push(b'[');
    for i in 0..n {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{}");
    }
    body.push(b']');
    body.extend_from_slice(after.as_bytes());
    body
}

/// A server answering every request with `body` (HTTP/1.1, one request per
/// connection), on its own thread; returns its base URL.
fn serve_always(body: Vec<u8>) -> anyhow::Result<String> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let body = std::sync::Arc::new(body);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let body = body.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut reader = BufReader::new(stream.try_clone()?);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                reader.read_exact(&mut vec![0; length])?;
                let mut stream = stream;
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )?;
                stream.write_all(&body)
            });
        }
    });
    Ok(url)
}

fn bench_fetch(users: usize, hostile_mb: usize, scenarios: &[Scenario]) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the scim-bench executable")?;
    println!("| fetcher | answer | wall time (s) | CPU time (s) | peak RSS (MiB) | outcome |");
    println!("|---|---|---:|---:|---:|---|");
    for &scenario in scenarios {
        // Each fake lives until the end of the benchmark process.
        let (fetcher, url, what) = match scenario {
            Scenario::Okta => {
                let fake = (0..users).fold(scim_test_support::FakeOkta::start(), |f, i| {
                    f.user(okta_user(i))
                });
                let url = fake.url();
                std::mem::forget(fake);
                (Fetcher::Okta, url, format!("{users} users, pages of 200"))
            }
            Scenario::Hibob => {
                let fake = (0..users).fold(scim_test_support::FakeHibob::start(), |f, i| {
                    f.employee(hibob_employee(i))
                });
                let url = fake.url();
                std::mem::forget(fake);
                (
                    Fetcher::Hibob,
                    url,
                    format!("{users} employees, one answer"),
                )
            }
            Scenario::OktaEmpties => (
                Fetcher::Okta,
                serve_always(empties("", hostile_mb, ""))?,
                format!("{hostile_mb} MB page of `{{}}` items"),
            ),
            Scenario::OktaNested => (
                Fetcher::Okta,
                serve_always(empties(
                    r#"[{"id": "00u1", "status": "ACTIVE", "profile": {"email": "a@example.com"}, "junk": "#,
                    hostile_mb,
                    "}]",
                ))?,
                format!("{hostile_mb} MB page of one user holding `{{}}`s"),
            ),
            Scenario::HibobEmpties => (
                Fetcher::Hibob,
                serve_always(empties(r#"{"employees": "#, hostile_mb, "}"))?,
                format!("{hostile_mb} MB answer of `{{}}` employees"),
            ),
            Scenario::HibobNested => (
                Fetcher::Hibob,
                serve_always(empties(
                    r#"{"employees": [{"id": "1", "email": "a@example.com", "junk": "#,
                    hostile_mb,
                    "}]}",
                ))?,
                format!("{hostile_mb} MB answer of one employee holding `{{}}`s"),
            ),
        };
        let dir = tempfile::tempdir()?;
        let mut child = Command::new(&exe);
        child
            .arg("measure-fetch")
            .arg(dir.path())
            .arg(format!("{fetcher:?}").to_lowercase())
            .env_clear()
            .env("DISABLE_FILE_LOGGING", "true");
        match fetcher {
            Fetcher::Okta => child
                .env("OKTA_ORG_URL", &url)
                .env("OKTA_API_TOKEN", scim_test_support::OKTA_TOKEN),
            Fetcher::Hibob => child
                .env("HIBOB_API_URL", &url)
                .env(
                    "HIBOB_SERVICE_USER_ID",
                    scim_test_support::HIBOB_SERVICE_USER,
                )
                .env("HIBOB_SERVICE_USER_TOKEN", scim_test_support::HIBOB_TOKEN),
        };
        let out = child.output()?;
        if !out.status.success() {
            bail!(
                "measurement failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = String::from_utf8(out.stdout)?;
        let mut fields = text.trim().splitn(4, ' ');
        let secs: f64 = fields.next().context("no time")?.parse()?;
        let cpu: f64 = fields.next().context("no CPU time")?.parse()?;
        let peak_kb: f64 = fields.next().context("no memory")?.parse()?;
        let outcome = fields.next().unwrap_or_default();
        println!(
            "| {fetcher:?} | {what} | {secs:.2} | {cpu:.2} | {:.0} | {outcome} |",
            peak_kb / 1024.0
        );
    }
    Ok(())
}

/// Entra ID's create request for person `i`: 20 departments of two levels.
fn entra_user(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("E{i}"),
        "userName": format!("person.{i}@example.com"),
        "active": true,
        "displayName": format!("Person {i}"),
        "emails": [{"primary": true, "type": "work", "value": format!("person.{i}@example.com")}],
        "name": {"formatted": format!("Person {i}"), "familyName": format!("{i}"), "givenName": "Person"},
        "title": format!("Title {}", i % 8),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": format!("Division {}/Team {}", i % 5, i % 20)},
    })
}

async fn scim_once(
    exe: &Path,
    users: usize,
    concurrency: usize,
    latency: Duration,
    delay: u64,
) -> anyhow::Result<ScimRun> {
    let fake = scim_test_support::FakeTimecamp::start(10).latency(latency);
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("scim.log");
    let mut child = Command::new(exe)
        .arg("serve-scim")
        .arg(dir.path())
        .env_clear()
        .env("TIMECAMP_API_URL", fake.url())
        .env("TIMECAMP_API_KEY", scim_test_support::TOKEN)
        .env("TIMECAMP_ROOT_GROUP_ID", "10")
        .env("SCIM_BEARER_TOKEN", SCIM_TOKEN)
        .env("SCIM_PORT", "0")
        .env("SCIM_SYNC_DELAY_SECONDS", delay.to_string())
        .env("DISABLE_FILE_LOGGING", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?;
    let result = drive_scim(&mut child, &log, &fake, users, concurrency, delay).await;
    let _ = child.kill();
    let _ = child.wait();
    result.with_context(|| {
        format!(
            "the scim-server run failed; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    })
}

async fn drive_scim(
    child: &mut std::process::Child,
    log: &Path,
    fake: &scim_test_support::FakeTimecamp,
    users: usize,
    concurrency: usize,
    delay: u64,
) -> anyhow::Result<ScimRun> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let root = loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.split("SCIM base URL ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
        if child.try_wait()?.is_some() || Instant::now() > deadline {
            bail!("scim-server did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let health_url = root.replace("/scim/v2", "/health");
    let client = reqwest::Client::new();
    let turns = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..users {
        let (client, url, turns) = (client.clone(), format!("{root}/Users"), turns.clone());
        tasks.spawn(async move {
            let _turn = turns.acquire_owned().await?;
            let resp = client
                .post(url)
                .bearer_auth(SCIM_TOKEN)
                .header("content-type", "application/scim+json")
                .body(entra_user(i).to_string())
                .send()
                .await?;
            if resp.status().as_u16() != 201 {
                bail!("POST /Users answered {}", resp.status());
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let push_secs = start.elapsed().as_secs_f64();
    // The sync, then one more quiet period to see that it was the only one.
    let deadline = Instant::now() + Duration::from_secs(3600);
    let health = loop {
        let h: Value = client.get(&health_url).send().await?.json().await?;
        if h["unsynced_changes"] == false && h["syncs"]["last"] == "synced" {
            break h;
        }
        if Instant::now() > deadline {
            bail!("no sync finished: {h}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(delay + 2)).await;
    let after: Value = client.get(&health_url).send().await?.json().await?;
    let time = |v: &Value| {
        v.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .context("no sync time in /health")
    };
    let sync_secs = (time(&health["syncs"]["last_finished"])?
        - time(&health["syncs"]["last_started"])?)
    .num_milliseconds() as f64
        / 1000.0;
    if fake.user_count() != users {
        bail!("TimeCamp has {} users, not {users}", fake.user_count());
    }
    let requests = fake.requests();
    let writes = requests.iter().filter(|r| r.is_write()).count();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let peak_rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM")?;
    Ok(ScimRun {
        push_secs,
        sync_secs,
        syncs: after["syncs"]["runs"].as_u64().unwrap_or_default(),
        reads: requests.len() - writes,
        writes,
        peak_rss_kib,
    })
}

/// Runs a fetcher as its binary does (without the log), in `dir`.
fn measure_fetch(dir: &Path, fetcher: Fetcher) -> anyhow::Result<()> {
    std::env::set_current_dir(dir)?;
    let env = Env::load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let result = runtime.block_on(async {
        match fetcher {
            Fetcher::Okta => {
                timecamp_scim::fetch_okta::run(
                    env,
                    timecamp_scim::fetch_okta::Args { debug: false },
                )
                .await
            }
            Fetcher::Hibob => {
                timecamp_scim::fetch_hibob::run(
                    env,
                    timecamp_scim::fetch_hibob::Args { debug: false },
                )
                .await
            }
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let outcome = match result {
        Ok(()) => "wrote var/users.json".to_owned(),
        Err(e) => format!("{e:#}").replace('\n', " "),
    };
    println!("{secs} {} {} {outcome}", cpu_seconds()?, peak_rss_kb()?);
    Ok(())
}

/// The CPU time (user and system) of this process, in seconds (Linux): the
/// fetcher's own work, without the fake's, which runs in the parent.
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // After the command's name (in parentheses), fields 14 and 15 of the
    // line are the user and system time, in ticks of 1/100 s on Linux.
    let after_name = stat
        .rsplit_once(')')
        .context("no name in /proc/self/stat")?
        .1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .context("short /proc/self/stat")?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_hierarchy_is_six_levels_deep() {
        for n in [25_000, 100_000, 200_000] {
            let f = fan_out(n, 6);
            let depth = |mut i: usize| {
                let mut d = 1;
                while i > 0 {
                    i = (i - 1) / f;
                    d += 1;
                }
                d
            };
            assert_eq!(depth(n - 1), 6, "n={n} f={f}");
        }
    }
}
