//! `fetch-csv`: people from a CSV file (an HR system's export) into `var/users.json`.

use clap::Parser;
use scim_core::Env;
use scim_sources::csv_file::{CsvSettings, fetch};

/// Read the people of a CSV file (an HR system's export) into var/users.json.
///
/// The file has a header row; its columns are named as the fields of users.json
/// (external_id, name, email, department, job_title, status, supervisor_id) unless
/// the CSV_COLUMN_* settings name others. UTF-8 with or without BOM, `,` or `;`,
/// quoted fields. Every row is checked; any problem (each named with its line) stops
/// the fetch and the previous file stays. With S3 storage the file is read from the
/// bucket.
#[derive(Debug, Parser)]
#[command(
    name = "fetch-csv",
    version,
    override_usage = "fetch-csv [--debug]",
    after_help = scim_core::registry::short_help("fetch-csv"),
    after_long_help = scim_core::registry::long_help("fetch-csv")
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher_with(&env, "fetch-csv", CsvSettings::from_env, |_| false, fetch).await
}
