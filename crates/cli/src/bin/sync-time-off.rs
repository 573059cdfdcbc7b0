use std::process::ExitCode;

use clap::Parser;
use timecamp_scim::sync_time_off::{Args, run};

pub fn main() -> ExitCode {
    let args = Args::parse();
    // It writes to TimeCamp like sync-users: one writer per var/ at a time.
    // Dry runs change nothing, so they neither take nor wait for the lock.
    let lock_as = (!args.dry_run).then_some("sync-time-off");
    timecamp_scim::run_stage_locked(args.debug, lock_as, |env| run(env, args))
}
