//! `scim-bench`: measures stages on generated data, never inside the test suite.
//!
//! Each measurement runs in a fresh child process (this binary, in a hidden
//! mode), so the peak resident memory it reports belongs to the stage alone and
//! not to the data generator. Run it in release mode:
//!
//! ```text
//! cargo run --release -p scim-bench -- prepare
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
    /// (internal) run prepare in DIR and print `<seconds> <peak kB>`
    #[command(hide = true)]
    MeasurePrepare { dir: PathBuf },
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
fn desired_users(n: usize, renamed: impl Fn(usize) -> bool) -> Vec<scim_core::model::TimecampUser> {
    (0..n)
        .map(|i| {
            let mut u: scim_core::model::TimecampUser = serde_json::from_value(json!({
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
    desired: &[scim_core::model::TimecampUser],
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
    Vec<scim_core::model::TimecampUser>,
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
                scim_core::model::Role::User
            } else {
                scim_core::model::Role::Supervisor
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
