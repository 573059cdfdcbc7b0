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
    after_help = crate::stage_help!(
        "Needs the file: CSV_FILE (default var/users.csv); optional: CSV_COLUMN_EXTERNAL_ID, CSV_COLUMN_NAME, CSV_COLUMN_EMAIL, CSV_COLUMN_DEPARTMENT, CSV_COLUMN_JOB_TITLE, CSV_COLUMN_STATUS, CSV_COLUMN_SUPERVISOR_ID, CSV_ACTIVE_VALUES, CSV_INACTIVE_VALUES. Limits: 64 MiB, 200,000 rows, 4,096 characters a field."
    )
)]
pub struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

pub async fn run(env: Env, _args: Args) -> anyhow::Result<()> {
    crate::run_fetcher_with(&env, "fetch-csv", CsvSettings::from_env, |_| false, fetch).await
}
