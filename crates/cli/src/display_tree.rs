//! `display-tree`: a preview of the group tree `timecamp_users.json` asks for.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use scim_core::Env;
use scim_core::settings::StorageSettings;
use scim_core::storage::{self, TIMECAMP_USERS_FILE};
use scim_model::TimecampUser;
use scim_tools::tree;

/// Preview the group tree that var/timecamp_users.json asks for.
///
/// Prints statistics, the tree, users per group and a CSV of all users, or writes
/// one HTML page. Reads the file only and calls no API.
#[derive(Debug, Parser)]
#[command(
    name = "display-tree",
    version,
    override_usage = "display-tree [--file PATH] [--detailed] [--format text|csv|html] [--debug]",
    after_help = scim_core::registry::short_help("display-tree"),
    after_long_help = scim_core::registry::long_help("display-tree")
)]
pub struct Args {
    /// The prepared users to show
    #[arg(long, value_name = "PATH", default_value = TIMECAMP_USERS_FILE)]
    pub file: String,
    /// Also list the users of every group
    #[arg(long)]
    pub detailed: bool,
    /// text: report and CSV; csv: the CSV only; html: one self-contained page (redirect it to a file)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Log at DEBUG level
    #[arg(long)]
    pub debug: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Csv,
    Html,
}

pub async fn run(env: Env, args: Args) -> anyhow::Result<()> {
    let storage = crate::open_storage(&StorageSettings::from_env(&env)?).await?;
    let users: Vec<TimecampUser> = storage::read_json(
        storage.as_ref(),
        &args.file,
        "a list of prepared users (run prepare-timecamp)",
    )
    .await
    // The error names the file.
    .context("display-tree stopped")?;
    tree::check_depths(&users).with_context(|| format!("cannot show {}", args.file))?;
    if args.detailed && args.format != Format::Text {
        tracing::warn!(
            "--detailed has no effect with --format {}: it lists every user already",
            if args.format == Format::Csv {
                "csv"
            } else {
                "html"
            }
        );
    }
    let out = match args.format {
        Format::Text => {
            let rule = "=".repeat(80);
            format!(
                "{}\n{rule}\nCSV OUTPUT (ALL USERS)\n{rule}\n{}\n",
                tree::text(&users, args.detailed),
                tree::csv(&users)
            )
        }
        Format::Csv => tree::csv(&users),
        Format::Html => tree::html(&users, &format!("TimeCamp group structure ({})", args.file)),
    };
    print!("{out}");
    Ok(())
}
