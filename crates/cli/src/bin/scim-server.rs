use std::process::ExitCode;

use clap::Parser;
use timecamp_scim::scim_server::{Args, run};

pub fn main() -> ExitCode {
    let args = Args::parse();
    timecamp_scim::run_stage(args.debug, |env| run(env, args))
}
