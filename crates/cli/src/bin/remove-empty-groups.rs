use std::process::ExitCode;

use clap::Parser;
use timecamp_scim::remove_empty_groups::{Args, run};

pub fn main() -> ExitCode {
    let args = Args::parse();
    // Dry runs change nothing, so they neither take nor wait for the lock.
    let lock_as = (!args.dry_run).then_some("remove-empty-groups");
    timecamp_scim::run_stage_locked(args.debug, lock_as, |env| run(env, args))
}
