//! fetch-csv: people from a CSV file, for HR systems that can only export one
//! (or drop it on a file share).
//!
//! The file has a header row; the columns default to the field names of
//! `var/users.json` (`external_id, name, email, department, job_title, status,
//! supervisor_id`), and `CSV_COLUMN_*` name others. It may be UTF-8 with or
//! without a byte-order mark, separated by `,` or `;` (the header tells which),
//! with quoted fields (a quoted field may hold the separator, `""` and line
//! breaks). Every row is checked and every problem is reported with its line;
//! one bad row stops the fetch, since the person on it would otherwise be
//! disabled by the next sync. The file is bounded: [`MAX_FILE_BYTES`],
//! [`MAX_ROWS`] rows, [`MAX_COLUMNS`] columns, [`MAX_FIELD_CHARS`] characters
//! a field. Before the CSV reader sees the text, one pass over it checks the
//! columns of each row and that every quote that opens a field is closed (the
//! reader would take an open quote to the end of the file, and the rows after
//! it as one value). A line ends with a line feed, a carriage return, or both.

use std::collections::HashMap;
use std::fmt;

use scim_core::storage::{Storage, StorageError};
use scim_core::{ConfigError, Env};
use scim_model::{EmailProblem, SourceUser, Status, email_problem};
use serde_json::{Map, Value};
use tracing::warn;

/// `CSV_FILE` when unset.
pub const DEFAULT_FILE: &str = "var/users.csv";
/// The largest file read: 64 MiB, some 300,000 people with long rows.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The most rows (people) a file may have.
pub const MAX_ROWS: usize = 200_000;
/// The longest field (and column name), in characters.
pub const MAX_FIELD_CHARS: usize = 4096;
/// The most `var/users.json` a file may make, as estimated before a row is
/// built. Every row carries all its columns, named, under `raw_data`, so a
/// file of many short rows under many column names grows: 200,000 rows of
/// 100 empty columns (24 MB) made an 800 MB `var/users.json` and took 3 GB to
/// build, and 4 GB in prepare. An export within the other limits with a few
/// dozen columns stays under it.
pub const MAX_OUTPUT_BYTES: u64 = 512 * 1024 * 1024;
/// What a record costs in `var/users.json` besides its columns: the fields
/// of `var/users.json` and the indentation.
const RECORD_BYTES: u64 = 256;
/// What a column costs in a record's `raw_data` besides its name and value.
const COLUMN_BYTES: u64 = 16;
/// The most columns a row may have: wider than any HR export, and a bound on
/// what one row costs before it is checked.
pub const MAX_COLUMNS: usize = 1000;
/// Column names listed when the header lacks one asked for.
const COLUMNS_SHOWN: usize = 30;
/// Row problems listed in the error; the rest are counted.
const PROBLEMS_SHOWN: usize = 25;

/// A field of `var/users.json` that a column fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ExternalId,
    Name,
    Email,
    Department,
    JobTitle,
    Status,
    SupervisorId,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::ExternalId,
        Field::Name,
        Field::Email,
        Field::Department,
        Field::JobTitle,
        Field::Status,
        Field::SupervisorId,
    ];

    /// Its name in `var/users.json`, and the column's default name.
    pub fn key(self) -> &'static str {
        match self {
            Field::ExternalId => "external_id",
            Field::Name => "name",
            Field::Email => "email",
            Field::Department => "department",
            Field::JobTitle => "job_title",
            Field::Status => "status",
            Field::SupervisorId => "supervisor_id",
        }
    }

    /// The setting naming its column.
    pub fn setting(self) -> &'static str {
        match self {
            Field::ExternalId => "CSV_COLUMN_EXTERNAL_ID",
            Field::Name => "CSV_COLUMN_NAME",
            Field::Email => "CSV_COLUMN_EMAIL",
            Field::Department => "CSV_COLUMN_DEPARTMENT",
            Field::JobTitle => "CSV_COLUMN_JOB_TITLE",
            Field::Status => "CSV_COLUMN_STATUS",
            Field::SupervisorId => "CSV_COLUMN_SUPERVISOR_ID",
        }
    }

    /// Whether every file needs the column (and every row a value in it).
    /// Without a status column everyone is active.
    pub fn required(self) -> bool {
        matches!(self, Field::ExternalId | Field::Name | Field::Email)
    }
}

/// The `CSV_*` settings.
#[derive(Debug, Clone)]
pub struct CsvSettings {
    /// `CSV_FILE`: a path, or with S3 storage a key under the prefix.
    pub file: String,
    /// The column of each field, in [`Field::ALL`]'s order, and whether the
    /// admin named it (a column named on purpose must exist).
    pub columns: Vec<(Field, String, bool)>,
    /// Status values, lower-cased.
    pub active_values: Vec<String>,
    pub inactive_values: Vec<String>,
}

impl CsvSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        misnamed_columns(env)?;
        let columns = Field::ALL
            .iter()
            .map(|&f| match env.get(f.setting()) {
                Some(name) => (f, name.to_owned(), true),
                None => (f, f.key().to_owned(), false),
            })
            .collect::<Vec<_>>();
        for (i, (f, name, _)) in columns.iter().enumerate() {
            if let Some((g, _, _)) = columns[i + 1..]
                .iter()
                .find(|(_, other, _)| other.eq_ignore_ascii_case(name))
            {
                return Err(ConfigError::Conflict(format!(
                    "{} and {} both name the column {name:?}; each field needs its own column",
                    f.setting(),
                    g.setting()
                )));
            }
        }
        let values = |var: &'static str, default: &str| -> Vec<String> {
            let list = env.list(var);
            if list.is_empty() {
                vec![default.to_owned()]
            } else {
                list.iter().map(|v| v.to_lowercase()).collect()
            }
        };
        let active_values = values("CSV_ACTIVE_VALUES", "active");
        let inactive_values = values("CSV_INACTIVE_VALUES", "inactive");
        if let Some(both) = active_values.iter().find(|v| inactive_values.contains(v)) {
            return Err(ConfigError::Conflict(format!(
                "the status {both:?} is in both CSV_ACTIVE_VALUES and CSV_INACTIVE_VALUES"
            )));
        }
        Ok(Self {
            file: env.string("CSV_FILE", DEFAULT_FILE),
            columns,
            active_values,
            inactive_values,
        })
    }
}

/// Refuses a variable that looks like a column setting but is none
/// (`CSV_COLUMN_EMIAL`, `CSV_COLUMN_MAIL`, `CSV_COLUM_EMAIL`): with it ignored,
/// the field would be read from its default column, which an export may well
/// have with other data in it (a private e-mail), so it stops the fetch
/// instead of being only warned about like other unknown variables.
fn misnamed_columns(env: &Env) -> Result<(), ConfigError> {
    use scim_core::registry::{UnknownSetting, lookup, unknown_settings};
    let mut names: Vec<&str> = env
        .set_names()
        .filter(|n| n.starts_with("CSV_") && lookup(n).is_none())
        .collect();
    names.sort_unstable();
    for name in names {
        let closest = match unknown_settings([name]).first() {
            Some(UnknownSetting::Misspelt { closest, .. }) => Some(*closest),
            _ => None,
        };
        let column_like = name.starts_with("CSV_COLUMN_")
            || closest.is_some_and(|c| c.starts_with("CSV_COLUMN_"));
        if !column_like {
            continue;
        }
        let settings = Field::ALL.map(Field::setting).join(", ");
        return Err(ConfigError::Conflict(match closest {
            Some(closest) if closest.starts_with("CSV_COLUMN_") => format!(
                "{name} is not a setting of fetch-csv; did you mean {closest}? (the columns are \
                 named by {settings})"
            ),
            _ => {
                format!("{name} is not a setting of fetch-csv; the columns are named by {settings}")
            }
        }));
    }
    Ok(())
}

/// Why the file was not read.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("{file} does not exist: export the people to it, or set CSV_FILE to the file")]
    NotFound { file: String },
    #[error(
        "{file} is larger than {MAX_FILE_BYTES} bytes, the most fetch-csv reads; export fewer \
         columns"
    )]
    TooLarge { file: String },
    #[error("{file} is {kind}, not a regular file: set CSV_FILE to the export")]
    NotRegular { file: String, kind: &'static str },
    // The cause follows in the error's chain, and names the file.
    #[error("cannot read CSV_FILE")]
    Storage {
        file: String,
        #[source]
        source: StorageError,
    },
    #[error("{file}, line {line}: not UTF-8 text; export the file as UTF-8 (with or without BOM)")]
    Encoding { file: String, line: u64 },
    #[error("{file} is empty: it needs a header row naming the columns, then one row a person")]
    Empty { file: String },
    #[error("{file}, line {line}: {message}")]
    Syntax {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{file}, line 1: the header names the column {column:?} twice")]
    DuplicateColumn { file: String, column: String },
    #[error(
        "{file}, line 1: the header has no column {column:?} for {field}{hint}; its columns are: \
         {found}"
    )]
    MissingColumn {
        file: String,
        column: String,
        field: &'static str,
        /// How to name another column, when the default was used.
        hint: String,
        found: String,
    },
    #[error(
        "{file}, line 1: a column name is longer than {MAX_FIELD_CHARS} characters; is the first \
         row a header?"
    )]
    LongHeader { file: String },
    #[error(
        "{file}, line {line}: a quote opens a field that no quote closes, so the rest of the \
         file would be one value; close it, or double a quote inside a quoted value (\"\")"
    )]
    UnclosedQuote { file: String, line: u64 },
    #[error(
        "{file}, line {line}: more than {MAX_COLUMNS} columns, the most fetch-csv reads; export \
         fewer columns"
    )]
    TooManyColumns { file: String, line: u64 },
    #[error(
        "{file} would make a var/users.json of about {mib} MiB, more than the {} MiB fetch-csv \
         writes: each of its {rows} rows keeps all {columns} columns under raw_data; export only \
         the columns needed (those CSV_COLUMN_* name, and any a transform rule reads)",
        MAX_OUTPUT_BYTES / (1024 * 1024)
    )]
    TooMuchOutput {
        file: String,
        mib: u64,
        rows: u64,
        columns: usize,
    },
    #[error("{file} has more than {MAX_ROWS} rows, the most fetch-csv reads")]
    TooManyRows { file: String },
    #[error("{file} has a header but no rows")]
    NoRows { file: String },
    #[error("{}", RowsMessage(file, problems))]
    Rows {
        file: String,
        problems: Vec<RowProblem>,
    },
}

struct RowsMessage<'a>(&'a str, &'a [RowProblem]);

impl fmt::Display for RowsMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RowsMessage(file, problems) = self;
        write!(
            f,
            "{file} has {} problem{} (every row must be right, or the people on the others \
             would be disabled):",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        )?;
        for p in problems.iter().take(PROBLEMS_SHOWN) {
            write!(f, "\n  {file}, {p}")?;
        }
        if problems.len() > PROBLEMS_SHOWN {
            write!(f, "\n  ... and {} more", problems.len() - PROBLEMS_SHOWN)?;
        }
        Ok(())
    }
}

/// A row that cannot be read as a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The line the row starts on (1 is the header).
    pub line: u64,
    pub kind: Problem,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error(
        "{found} fields, but the header has {expected} columns (a separator in an unquoted value?)"
    )]
    FieldCount { found: usize, expected: usize },
    #[error("no {column}")]
    Missing { column: String },
    #[error("the e-mail {value:?} {problem}")]
    BadEmail {
        value: String,
        problem: EmailProblem,
    },
    #[error(
        "the {column} {value:?} is neither active ({active}) nor inactive ({inactive}); \
         CSV_ACTIVE_VALUES and CSV_INACTIVE_VALUES name the values"
    )]
    UnknownStatus {
        column: String,
        value: String,
        active: String,
        inactive: String,
    },
    #[error(
        "the {column} {value:?} holds an invisible or control character (a byte-order mark \
         where two files were joined?); it would not equal the same id without it"
    )]
    UnseenInId { column: String, value: String },
    #[error("the {column} is {chars} characters long, more than {MAX_FIELD_CHARS}")]
    TooLong { column: String, chars: usize },
    #[error("the {column} {value:?} is also on line {first_line}: one person, two rows?")]
    DuplicateExternalId {
        column: String,
        value: String,
        first_line: u64,
    },
    #[error("the e-mail {value:?} is also on line {first_line}: two people cannot share a login")]
    DuplicateEmail { value: String, first_line: u64 },
}

/// Reads the file `s.file` from `storage` into people.
pub async fn fetch(s: &CsvSettings, storage: &dyn Storage) -> Result<Vec<SourceUser>, CsvError> {
    let name = if storage.backend() == "local" {
        s.file.as_str()
    } else {
        // An object key, relative to the prefix.
        s.file.trim_start_matches('/')
    };
    let file = storage.location(name);
    let bytes = match storage.read_at_most(name, MAX_FILE_BYTES).await {
        Ok(bytes) => bytes,
        Err(StorageError::NotFound { .. }) => return Err(CsvError::NotFound { file }),
        Err(StorageError::TooLarge { .. }) => return Err(CsvError::TooLarge { file }),
        Err(StorageError::NotRegular { kind, .. }) => {
            return Err(CsvError::NotRegular { file, kind });
        }
        Err(source) => return Err(CsvError::Storage { file, source }),
    };
    tracing::info!(
        "Read {file} ({} bytes, sha256 {})",
        bytes.len(),
        scim_core::storage::sha256_hex(&bytes)
    );
    parse(&file, &bytes, s)
}

/// The line breaks in `bytes`: a line feed, a carriage return, or both
/// (`\r\n` is one). `bytes` must not end between the two of a `\r\n`.
fn breaks(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count() as u64
}

/// The line (1-based) of byte `at`, which is not a line break.
fn line_of(bytes: &[u8], at: usize) -> u64 {
    breaks(&bytes[..at.min(bytes.len())]) + 1
}

/// Line numbers of byte offsets met in order, counted as the reader goes (the
/// reader's own count is off after an empty line, and knows only `\n`).
struct Lines<'a> {
    text: &'a [u8],
    at: usize,
    line: u64,
}

impl Lines<'_> {
    /// The line of the first character at or after `byte` that is not a line
    /// break: where a record starting at `byte` is.
    fn line_of(&mut self, byte: u64) -> u64 {
        let mut to = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while to < self.text.len() && matches!(self.text[to], b'\r' | b'\n') {
            to += 1;
        }
        if to > self.at {
            self.line += breaks(&self.text[self.at..to]);
            self.at = to;
        }
        self.line
    }
}

/// What one pass over the text found wrong with its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The record starting on this line has more than [`MAX_COLUMNS`] fields.
    TooManyColumns(u64),
    /// A quote opened a field on this line and nothing closed it.
    UnclosedQuote(u64),
}

/// Checks the records of `text` as the CSV reader will split them with
/// `delimiter` (a quote starts a quoted field only at the start of a field,
/// `""` inside it is a quote, `\r` and `\n` end a record, blank lines are
/// none), the first only when `first_only`. It allocates nothing, so a row of
/// millions of fields is refused before the reader would store them. Returns
/// the number of records, the header's included.
fn check_shape(text: &[u8], delimiter: u8, first_only: bool) -> Result<u64, Shape> {
    #[derive(Clone, Copy, PartialEq)]
    enum At {
        RecordStart,
        FieldStart,
        Field,
        Quoted,
        /// A quote inside a quoted field: its end, or the first of `""`.
        QuoteInQuoted,
    }
    let mut at = At::RecordStart;
    let (mut line, mut record_line, mut quote_line) = (1u64, 1u64, 1u64);
    let mut fields = 0usize;
    let mut records = 0u64;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        let is_break = b == b'\n' || b == b'\r';
        if at == At::RecordStart && !is_break {
            at = At::FieldStart;
            record_line = line;
            fields = 1;
            records += 1;
        }
        match (at, b) {
            (At::RecordStart, _) => {}
            (At::Quoted, b'"') => at = At::QuoteInQuoted,
            (At::Quoted, _) => {}
            (At::QuoteInQuoted, b'"') => at = At::Quoted,
            (At::FieldStart, b'"') => {
                at = At::Quoted;
                quote_line = line;
            }
            (_, _) if b == delimiter => {
                fields += 1;
                if fields > MAX_COLUMNS {
                    return Err(Shape::TooManyColumns(record_line));
                }
                at = At::FieldStart;
            }
            (_, _) if is_break => {
                if first_only {
                    return Ok(records);
                }
                at = At::RecordStart;
            }
            _ => at = At::Field,
        }
        if is_break && !(b == b'\r' && text.get(i + 1) == Some(&b'\n')) {
            line += 1;
        }
        i += 1;
    }
    if at == At::Quoted {
        return Err(Shape::UnclosedQuote(quote_line));
    }
    Ok(records)
}

/// Column names as the header row gives them with `delimiter`.
fn header_with(text: &str, delimiter: u8) -> Option<Vec<String>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = ::csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Some(record.iter().map(|c| c.trim().to_owned()).collect()),
        _ => None,
    }
}

/// The column index of each field (`None`: an optional column that is not there).
type Columns = Vec<(Field, String, Option<usize>)>;

/// A column the header lacks: its name, its field, whether a setting named it.
type Lacking = (String, Field, bool);

/// Finds the columns in `header`; names match without regard to case.
fn find_columns(header: &[String], s: &CsvSettings) -> Result<Columns, Lacking> {
    let mut out = Vec::new();
    for (field, name, named) in &s.columns {
        let at = header.iter().position(|h| h.eq_ignore_ascii_case(name));
        if at.is_none() && (field.required() || *named) {
            return Err((name.clone(), *field, *named));
        }
        out.push((*field, name.clone(), at));
    }
    Ok(out)
}

/// Parses the bytes of the file `file`.
pub fn parse(file: &str, bytes: &[u8], s: &CsvSettings) -> Result<Vec<SourceUser>, CsvError> {
    let file_name = || file.to_owned();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| CsvError::Encoding {
        file: file_name(),
        line: line_of(bytes, e.valid_up_to()),
    })?;
    // UTF-16 without a byte-order mark is valid UTF-8 with a NUL after every
    // letter; no export has NUL in its text.
    if let Some(at) = text.find('\0') {
        return Err(CsvError::Encoding {
            file: file_name(),
            line: line_of(bytes, at),
        });
    }
    if text.trim().is_empty() {
        return Err(CsvError::Empty { file: file_name() });
    }

    let shape_error = |shape| match shape {
        Shape::TooManyColumns(line) => CsvError::TooManyColumns {
            file: file_name(),
            line,
        },
        Shape::UnclosedQuote(line) => CsvError::UnclosedQuote {
            file: file_name(),
            line,
        },
    };

    // The separator is the one under which the header has the columns asked for.
    let mut best: Option<(u8, Vec<String>, Result<Columns, Lacking>)> = None;
    let mut header_shape = None;
    for delimiter in [b',', b';'] {
        if let Err(shape) = check_shape(text.as_bytes(), delimiter, true) {
            header_shape.get_or_insert(shape);
            continue;
        }
        let Some(header) = header_with(text, delimiter) else {
            continue;
        };
        let found = find_columns(&header, s);
        let better = match &best {
            None => true,
            Some((_, h, Err(_))) => found.is_ok() || header.len() > h.len(),
            Some((_, _, Ok(_))) => false,
        };
        if better {
            best = Some((delimiter, header, found));
        }
    }
    // A header too wide (or never ending) under one separator is the fault
    // to name, unless the other separator finds the columns.
    if let Some(shape) = header_shape
        && !matches!(best, Some((_, _, Ok(_))))
    {
        return Err(shape_error(shape));
    }
    let Some((delimiter, header, found)) = best else {
        return Err(CsvError::Empty { file: file_name() });
    };
    let records = check_shape(text.as_bytes(), delimiter, false).map_err(shape_error)?;
    if header.iter().any(|h| h.chars().count() > MAX_FIELD_CHARS) {
        return Err(CsvError::LongHeader { file: file_name() });
    }
    // Before any row is built: what the rows would make, each with every
    // column under raw_data (blank lines counted as none).
    let per_record: u64 = RECORD_BYTES
        + header
            .iter()
            .map(|h| h.len() as u64 + COLUMN_BYTES)
            .sum::<u64>();
    let output = records
        .saturating_sub(1)
        .saturating_mul(per_record)
        .saturating_add(text.len() as u64);
    if output > MAX_OUTPUT_BYTES {
        return Err(CsvError::TooMuchOutput {
            file: file_name(),
            mib: output / (1024 * 1024),
            rows: records.saturating_sub(1),
            columns: header.len(),
        });
    }
    let mut seen = std::collections::HashSet::new();
    for h in header.iter().filter(|h| !h.is_empty()) {
        if !seen.insert(h.to_ascii_lowercase()) {
            return Err(CsvError::DuplicateColumn {
                file: file_name(),
                column: h.clone(),
            });
        }
    }
    let columns = found.map_err(|(column, field, named)| CsvError::MissingColumn {
        file: file_name(),
        column,
        field: field.key(),
        hint: if named {
            format!(" (named by {})", field.setting())
        } else {
            format!(" (set {} to the column that holds it)", field.setting())
        },
        found: {
            let mut shown = header
                .iter()
                .take(COLUMNS_SHOWN)
                .map(|h| {
                    let cut: String = h.chars().take(80).collect();
                    format!("{cut:?}")
                })
                .collect::<Vec<_>>()
                .join(", ");
            if header.len() > COLUMNS_SHOWN {
                shown.push_str(&format!(" and {} more", header.len() - COLUMNS_SHOWN));
            }
            shown
        },
    })?;
    let column = |f: Field| -> Option<(usize, &str)> {
        columns
            .iter()
            .find(|(g, _, _)| *g == f)
            .and_then(|(_, name, at)| at.map(|i| (i, name.as_str())))
    };

    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut users = Vec::new();
    let mut problems = Vec::new();
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut emails: HashMap<String, u64> = HashMap::new();
    let mut record = ::csv::StringRecord::new();
    let mut rows = 0;
    let mut lines = Lines {
        text: text.as_bytes(),
        at: 0,
        line: 1,
    };
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = lines.line_of(e.position().map_or(0, |p| p.byte()));
                return Err(CsvError::Syntax {
                    file: file_name(),
                    line,
                    message: e.to_string(),
                });
            }
        }
        let line = lines.line_of(record.position().map_or(0, |p| p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        rows += 1;
        if rows > MAX_ROWS {
            return Err(CsvError::TooManyRows { file: file_name() });
        }
        let before = problems.len();
        let mut problem = |kind| problems.push(RowProblem { line, kind });
        if record.len() != header.len() {
            problem(Problem::FieldCount {
                found: record.len(),
                expected: header.len(),
            });
            continue;
        }
        for (value, name) in record.iter().zip(&header) {
            let chars = value.chars().count();
            if chars > MAX_FIELD_CHARS {
                problem(Problem::TooLong {
                    column: name.clone(),
                    chars,
                });
            }
        }
        let value = |f: Field| column(f).map(|(i, _)| record.get(i).unwrap_or_default().trim());
        for f in Field::ALL.into_iter().filter(|f| f.required()) {
            if value(f).is_none_or(str::is_empty) {
                problem(Problem::Missing {
                    column: column(f).map_or(f.key(), |(_, n)| n).to_owned(),
                });
            }
        }
        let email = value(Field::Email).unwrap_or_default().to_lowercase();
        if !email.is_empty()
            && let Some(p) = email_problem(&email)
        {
            problem(Problem::BadEmail {
                value: email.clone(),
                problem: p,
            });
        }
        let status = match value(Field::Status) {
            None => Some(Status::Active),
            Some(v) if s.active_values.contains(&v.to_lowercase()) => Some(Status::Active),
            Some(v) if s.inactive_values.contains(&v.to_lowercase()) => Some(Status::Inactive),
            Some(v) => {
                problem(Problem::UnknownStatus {
                    column: column(Field::Status)
                        .map_or("status", |(_, n)| n)
                        .to_owned(),
                    value: v.to_owned(),
                    active: s.active_values.join(", "),
                    inactive: s.inactive_values.join(", "),
                });
                None
            }
        };
        for f in [Field::ExternalId, Field::SupervisorId] {
            if let Some(v) = value(f)
                && v.chars()
                    .any(|c| c.is_control() || scim_model::is_invisible(c))
            {
                problem(Problem::UnseenInId {
                    column: column(f).map_or(f.key(), |(_, n)| n).to_owned(),
                    value: v.to_owned(),
                });
            }
        }
        let id = value(Field::ExternalId).unwrap_or_default().to_owned();
        if !id.is_empty()
            && let Some(first_line) = ids.get(&id)
        {
            problem(Problem::DuplicateExternalId {
                column: column(Field::ExternalId).map_or("", |(_, n)| n).to_owned(),
                value: id.clone(),
                first_line: *first_line,
            });
        }
        if !email.is_empty()
            && let Some(first_line) = emails.get(&email)
        {
            problem(Problem::DuplicateEmail {
                value: email.clone(),
                first_line: *first_line,
            });
        }
        ids.entry(id.clone()).or_insert(line);
        emails.entry(email.clone()).or_insert(line);
        if problems.len() > before {
            continue;
        }
        let raw: Map<String, Value> = header
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.clone(), Value::String(v.to_owned())))
            .collect();
        let text = |f: Field| value(f).unwrap_or_default().to_owned();
        users.push(
            SourceUser {
                external_id: Some(id),
                name: Some(text(Field::Name)),
                email: Some(email),
                department: Some(text(Field::Department)),
                job_title: Some(text(Field::JobTitle)),
                status,
                supervisor_id: Some(text(Field::SupervisorId)),
                ..SourceUser::default()
            }
            .with_raw_data(Value::Object(raw)),
        );
    }
    if !problems.is_empty() {
        return Err(CsvError::Rows {
            file: file_name(),
            problems,
        });
    }
    if users.is_empty() {
        return Err(CsvError::NoRows { file: file_name() });
    }
    for u in &users {
        let boss = u.supervisor_id.as_deref().unwrap_or_default();
        if !boss.is_empty() && !ids.contains_key(boss) {
            warn!(
                "{file}: the supervisor {boss:?} of {} is not in the file; they keep the id",
                u.email.as_deref().unwrap_or_default()
            );
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> CsvSettings {
        CsvSettings::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    fn read(text: &str) -> Result<Vec<SourceUser>, CsvError> {
        parse("var/users.csv", text.as_bytes(), &settings(&[]))
    }

    fn problems(text: &str, s: &CsvSettings) -> Vec<RowProblem> {
        match parse("var/users.csv", text.as_bytes(), s) {
            Err(CsvError::Rows { problems, .. }) => problems,
            other => panic!("expected row problems, got {other:?}"),
        }
    }

    #[test]
    fn a_file_with_the_users_json_names_reads_as_users_json() {
        let users = read(
            "external_id,name,email,department,job_title,status,supervisor_id\n\
             1,Ann Lee,Ann@Example.com,Eng/Backend,Developer,active,2\n\
             2,Bo Kim,bo@example.com,Eng,CTO,Inactive,\n",
        )
        .unwrap();
        assert_eq!(users.len(), 2);
        let ann = &users[0];
        assert_eq!(ann.external_id.as_deref(), Some("1"));
        assert_eq!(ann.email.as_deref(), Some("ann@example.com"));
        assert_eq!(ann.department.as_deref(), Some("Eng/Backend"));
        assert_eq!(ann.supervisor_id.as_deref(), Some("2"));
        assert_eq!(ann.status, Some(Status::Active));
        assert_eq!(users[1].status, Some(Status::Inactive));
        assert_eq!(ann.raw_data().unwrap()["job_title"], "Developer");
    }

    #[test]
    fn semicolons_a_byte_order_mark_quotes_and_crlf_are_read() {
        let text = "\u{feff}External_ID;Name;Email;Department\r\n\
                    7;\"Lee; Ann\";ann@example.com;\"Sales \"\"EMEA\"\"\"\r\n\
                    8;\"Kim,\nBo\";bo@example.com;Sales\r\n";
        let users = read(text).unwrap();
        assert_eq!(users[0].name.as_deref(), Some("Lee; Ann"));
        assert_eq!(users[0].department.as_deref(), Some("Sales \"EMEA\""));
        assert_eq!(users[1].name.as_deref(), Some("Kim,\nBo"));
        assert_eq!(users[1].status, Some(Status::Active), "no status column");
    }

    #[test]
    fn other_column_names_and_status_values_are_mapped() {
        let s = settings(&[
            ("CSV_COLUMN_EXTERNAL_ID", "Employee No"),
            ("CSV_COLUMN_NAME", "Full Name"),
            ("CSV_COLUMN_EMAIL", "Work E-mail"),
            ("CSV_COLUMN_STATUS", "Employment"),
            ("CSV_COLUMN_SUPERVISOR_ID", "Manager No"),
            ("CSV_ACTIVE_VALUES", "Employed, On leave"),
            ("CSV_INACTIVE_VALUES", "Terminated"),
        ]);
        let text = "Employee No,Full Name,Work E-mail,Employment,Manager No,Cost centre\n\
                    10,Ann Lee,ann@example.com,on leave,,CC1\n\
                    11,Bo Kim,bo@example.com,TERMINATED,10,CC2\n";
        let users = parse("f.csv", text.as_bytes(), &s).unwrap();
        assert_eq!(users[0].status, Some(Status::Active));
        assert_eq!(users[1].status, Some(Status::Inactive));
        assert_eq!(users[1].supervisor_id.as_deref(), Some("10"));
        assert_eq!(users[1].raw_data().unwrap()["Cost centre"], "CC2");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let text = "external_id,name,email,status\n\
                    1,Ann,ann@example.com,active\n\
                    2,Bo,bo at example.com,active\n\
                    \n\
                    3,Cy,cy@example.com,actve\n\
                    4,Di,di@example.com\n\
                    ,Ed,ed@example.com,active\n\
                    1,Fay,ANN@example.com,active\n\
                    5,\"Gus\nGrey\",gus@example.com,active\n\
                    6,Hal,,inactive\n";
        let found = problems(text, &settings(&[]));
        let lines: Vec<u64> = found.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 5, 6, 7, 8, 8, 11], "{found:#?}");
        assert!(matches!(found[0].kind, Problem::BadEmail { .. }));
        assert!(matches!(found[1].kind, Problem::UnknownStatus { .. }));
        assert!(matches!(
            found[2].kind,
            Problem::FieldCount {
                found: 3,
                expected: 4
            }
        ));
        assert!(matches!(found[3].kind, Problem::Missing { .. }));
        assert!(matches!(
            found[4].kind,
            Problem::DuplicateExternalId { first_line: 2, .. }
        ));
        assert!(matches!(
            found[5].kind,
            Problem::DuplicateEmail { first_line: 2, .. }
        ));
        assert_eq!(found[6].to_string(), "line 11: no email");
        let message = CsvError::Rows {
            file: "var/users.csv".into(),
            problems: found,
        }
        .to_string();
        assert!(
            message.contains("var/users.csv, line 5: the status \"actve\" is neither active"),
            "{message}"
        );
    }

    #[test]
    fn the_header_must_have_the_columns_asked_for() {
        let err = read("id,name,email\n1,Ann,ann@example.com\n").unwrap_err();
        assert!(matches!(err, CsvError::MissingColumn { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("set CSV_COLUMN_EXTERNAL_ID to the column that holds it"),
            "{message}"
        );
        assert!(message.contains("\"id\", \"name\", \"email\""), "{message}");
        // A column named on purpose must exist even when it is optional.
        let s = settings(&[("CSV_COLUMN_DEPARTMENT", "Team")]);
        let err = parse(
            "f.csv",
            b"external_id,name,email\n1,Ann,ann@example.com\n",
            &s,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("named by CSV_COLUMN_DEPARTMENT"),
            "{err}"
        );
        assert!(matches!(
            read("external_id,name,email,Email\n"),
            Err(CsvError::DuplicateColumn { .. })
        ));
        assert!(matches!(
            read("external_id,name,email\n"),
            Err(CsvError::NoRows { .. })
        ));
        assert!(matches!(read("\u{feff}  \n"), Err(CsvError::Empty { .. })));
    }

    #[test]
    fn text_that_is_not_utf8_names_its_line() {
        let err = parse(
            "f.csv",
            b"external_id,name,email\n1,Ann,ann@example.com\n2,J\xf6rg,j@example.com\n",
            &settings(&[]),
        )
        .unwrap_err();
        assert!(matches!(err, CsvError::Encoding { line: 3, .. }), "{err}");
        // UTF-16, with its byte-order mark or without.
        let utf16: Vec<u8> = "external_id,name,email\n1,Ann,a@example.com\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        for bytes in [[&[0xff, 0xfe][..], &utf16].concat(), utf16] {
            let err = parse("f.csv", &bytes, &settings(&[])).unwrap_err();
            assert!(matches!(err, CsvError::Encoding { line: 1, .. }), "{err}");
        }
    }

    #[test]
    fn limits_hold() {
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        let found = problems(
            &format!("external_id,name,email\n1,{long},a@example.com\n"),
            &settings(&[]),
        );
        assert!(matches!(found[0].kind, Problem::TooLong { .. }));
        assert!(matches!(
            read(&format!("{long},name,email\n")),
            Err(CsvError::LongHeader { .. })
        ));
        let mut many = String::from("external_id,name,email\n");
        for i in 0..=MAX_ROWS {
            many.push_str(&format!("{i},P,p{i}@example.com\n"));
        }
        assert!(matches!(read(&many), Err(CsvError::TooManyRows { .. })));
    }

    #[test]
    fn a_quote_never_closed_is_named_by_its_line_instead_of_swallowing_the_rows_after_it() {
        // Read to the end, the open quote would make Bo and Cy part of Ann's
        // department: two people missing, and disabled by the next sync.
        let text = "external_id,name,email,department\n\
                    1,Ann,ann@example.com,\"Sales\n\
                    2,Bo,bo@example.com,Eng\n\
                    3,Cy,cy@example.com,Eng\n";
        let err = read(text).unwrap_err();
        assert!(
            matches!(err, CsvError::UnclosedQuote { line: 2, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("var/users.csv, line 2: a quote opens a field that no quote closes"),
            "{err}"
        );
        // Closed on a later line, the quote is a field with a line break.
        let closed = "external_id,name,email,department\n\
                      1,Ann,ann@example.com,\"Sales\nEMEA\"\n\
                      2,Bo,bo@example.com,Eng\n";
        assert_eq!(read(closed).unwrap().len(), 2);
        // A quote inside an unquoted value is a character, as the reader takes it.
        let inner = "external_id,name,email\n1,Ann \"the boss\" Lee,ann@example.com\n2,Bo 5'11\",bo@example.com\n";
        assert_eq!(read(inner).unwrap()[1].name.as_deref(), Some("Bo 5'11\""));
    }

    #[test]
    fn lines_end_with_a_line_feed_a_carriage_return_or_both() {
        for end in ["\n", "\r\n", "\r"] {
            let text = [
                "external_id,name,email,status",
                "1,Ann,ann@example.com,active",
                "2,Bo,bo at example.com,active",
                "",
                "3,\"Cy\nNg\",cy@example.com,actve",
            ]
            .join(end)
                + end;
            let text = text.replace("Cy\nNg", &format!("Cy{end}Ng"));
            let lines: Vec<u64> = problems(&text, &settings(&[]))
                .iter()
                .map(|p| p.line)
                .collect();
            assert_eq!(lines, [3, 5], "lines ending in {end:?}");
        }
        let err = parse(
            "f.csv",
            b"external_id,name,email\r1,Ann,a@example.com\r2,J\xf6rg,j@example.com\r",
            &settings(&[]),
        )
        .unwrap_err();
        assert!(matches!(err, CsvError::Encoding { line: 3, .. }), "{err}");
    }

    #[test]
    fn a_row_of_more_columns_than_any_export_has_is_refused_before_it_is_read() {
        // A header of 200,000 distinct names took minutes (each compared with
        // every other); a 60 MiB line of commas took 5 GB.
        let wide = (0..200_000)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let err = read(&format!(
            "external_id,name,email,{wide}\n1,Ann,a@example.com\n"
        ))
        .unwrap_err();
        assert!(
            matches!(err, CsvError::TooManyColumns { line: 1, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("line 1: more than {MAX_COLUMNS} columns")),
            "{err}"
        );
        let commas = ",".repeat(MAX_COLUMNS);
        let err = read(&format!(
            "external_id,name,email\n1,Ann,a@example.com\n2,Bo,b@example.com{commas}\n"
        ))
        .unwrap_err();
        assert!(
            matches!(err, CsvError::TooManyColumns { line: 3, .. }),
            "{err}"
        );
        let most = (0..MAX_COLUMNS - 3)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let row = ",".repeat(MAX_COLUMNS - 3);
        assert!(
            read(&format!(
                "external_id,name,email,{most}\n1,Ann,a@example.com{row}\n"
            ))
            .is_ok()
        );
    }

    #[test]
    fn a_header_without_the_columns_names_a_bounded_few_of_its_own() {
        let many = (0..500)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let err = read(&format!("{many}\n")).unwrap_err().to_string();
        assert!(err.contains("\"c0\", \"c1\""), "{err}");
        assert!(err.contains("and 470 more"), "{err}");
        assert!(err.len() < 1000, "{} bytes", err.len());
    }

    #[test]
    fn an_id_with_a_character_nobody_sees_is_a_problem_of_its_row() {
        // Two exports joined: the second one's byte-order mark starts a row.
        let text = "external_id,name,email,supervisor_id\n\
                    1,Ann,ann@example.com,\n\
                    \u{feff}2,Bo,bo@example.com,1\n\
                    3,Cy,cy@example.com,1\u{200b}\n";
        let found = problems(text, &settings(&[]));
        let lines: Vec<u64> = found.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 4], "{found:#?}");
        assert!(
            matches!(&found[0].kind, Problem::UnseenInId { column, .. } if column == "external_id")
        );
        assert!(
            matches!(&found[1].kind, Problem::UnseenInId { column, .. } if column == "supervisor_id")
        );
    }

    #[test]
    fn a_column_setting_that_is_none_stops_at_start() {
        for (name, said) in [
            ("CSV_COLUMN_EMIAL", "did you mean CSV_COLUMN_EMAIL?"),
            ("CSV_COLUM_EMAIL", "did you mean CSV_COLUMN_EMAIL?"),
            (
                "CSV_COLUMN_MAIL_ADDRESS",
                "the columns are named by CSV_COLUMN_EXTERNAL_ID",
            ),
        ] {
            let err = CsvSettings::from_env(&Env::from_pairs([(name, "Work Email")]))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("{name} is not a setting of fetch-csv")),
                "{err}"
            );
            assert!(err.contains(said), "{err}");
        }
        // Set empty, it counts as unset, as every setting does.
        assert!(CsvSettings::from_env(&Env::from_pairs([("CSV_COLUMN_MAIL", "")])).is_ok());
        // Another fetcher's variable or a CSV_ typo far from a column is left to the
        // start of every stage (a near miss stops it, others are warned about), not here.
        assert!(CsvSettings::from_env(&Env::from_pairs([("CSV_FIEL", "x.csv")])).is_ok());
    }

    #[test]
    fn a_file_that_would_make_a_users_file_too_large_is_refused_while_it_is_read() {
        // 100 long column names, mostly empty, on short rows.
        let names: Vec<String> = (0..97)
            .map(|i| format!("custom_field_{i:03}_{}", "x".repeat(60)))
            .collect();
        let mut text = format!("external_id,name,email,{}\n", names.join(","));
        let empty = ",".repeat(97);
        for i in 0..MAX_ROWS {
            text.push_str(&format!("{i},P,p{i}@example.com{empty}\n"));
        }
        let err = read(&text).unwrap_err();
        assert!(
            matches!(err, CsvError::TooMuchOutput { columns: 100, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("export only the columns needed"),
            "{err}"
        );
        // Fewer such rows are fine.
        let lines: Vec<&str> = text.lines().take(10_001).collect();
        assert_eq!(read(&lines.join("\n")).unwrap().len(), 10_000);
    }

    #[test]
    fn settings_that_contradict_each_other_stop_at_start() {
        let env = Env::from_pairs([("CSV_COLUMN_NAME", "email")]);
        assert!(CsvSettings::from_env(&env).is_err());
        let env = Env::from_pairs([
            ("CSV_ACTIVE_VALUES", "active,leave"),
            ("CSV_INACTIVE_VALUES", "Leave"),
        ]);
        assert!(CsvSettings::from_env(&env).is_err());
    }
}
