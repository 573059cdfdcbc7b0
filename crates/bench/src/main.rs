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
use std::time::Instant;

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
