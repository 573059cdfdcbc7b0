use std::process::ExitCode;

use clap::Parser;
use timecamp_scim::sync::{Args, run};

pub fn main() -> ExitCode {
    let args = Args::parse();
    // Dry runs, --explain and --whoami change nothing, so they neither take nor wait for the lock.
    let lock_as =
        (!args.dry_run && args.explain.is_empty() && !args.whoami).then_some("sync-users");
    timecamp_scim::run_stage_locked(args.debug, lock_as, |env| run(env, args))
}
