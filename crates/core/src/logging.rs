//! Log set-up shared by every binary: stderr plus `var/logs/sync.log`.
//!
//! Lines look like the original's (`2025-01-31 10:00:00,123 - INFO - message`)
//! so existing log scrapers keep working. The file rotates at 10 MiB and keeps
//! five old files (`sync.log.1` … `sync.log.5`). Unlike the original, the file
//! is at DEBUG only with `--debug`: request bodies carry names and e-mails.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Where the log file goes, relative to the working directory.
pub const LOG_FILE: &str = "var/logs/sync.log";
/// Rotation threshold of the original: 10 MiB.
pub const MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;
/// Old files kept: `sync.log.1` (newest) … `sync.log.5` (oldest).
pub const LOG_BACKUPS: usize = 5;

/// The most a held file log keeps in memory before it is written after all.
pub const MAX_HELD_LOG_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct LogOptions {
    /// `--debug`: DEBUG on the console and in the file.
    pub debug: bool,
    /// `DISABLE_FILE_LOGGING=true` turns the file off.
    pub file: Option<PathBuf>,
    /// Keep the file's lines in memory, creating nothing, until
    /// [`write_held_file`] (or [`MAX_HELD_LOG_BYTES`] of them); [`drop_held_file`]
    /// discards them. For a run that may be in the wrong directory.
    pub hold_file: bool,
}

/// The log file, or its lines until it may be created.
#[derive(Debug)]
enum FileLog {
    Held { path: PathBuf, lines: Vec<u8> },
    Open(RotatingFile),
    Off,
}

impl FileLog {
    /// Creates the held file with its lines. A file that cannot be opened
    /// leaves the console only, as at start; the error is returned to be
    /// logged once the lock on this log is released.
    fn write_held(&mut self) -> Option<String> {
        let FileLog::Held { path, lines } = self else {
            return None;
        };
        let opened = RotatingFile::open(path, MAX_LOG_BYTES, LOG_BACKUPS)
            .and_then(|mut f| f.write_all(lines).map(|()| f));
        match opened {
            Ok(f) => {
                *self = FileLog::Open(f);
                None
            }
            Err(e) => {
                let msg = format!("cannot open the log file {}: {e}", path.display());
                *self = FileLog::Off;
                Some(msg)
            }
        }
    }
}

/// The file log's writer, shared by the subscriber and [`write_held_file`].
#[derive(Debug)]
struct SharedFile(Mutex<FileLog>);

impl Write for &SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Ok(mut log) = self.0.lock() else {
            return Ok(buf.len());
        };
        match &mut *log {
            FileLog::Held { lines, .. } => {
                lines.extend_from_slice(buf);
                // A run this talkative is doing real work where it is: the
                // lines go to the file rather than grow without bound.
                if lines.len() > MAX_HELD_LOG_BYTES
                    && let Some(msg) = log.write_held()
                {
                    eprintln!("{msg}; logging to the console only");
                }
                Ok(buf.len())
            }
            FileLog::Open(f) => f.write(buf),
            FileLog::Off => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.lock().as_deref_mut() {
            Ok(FileLog::Open(f)) => f.flush(),
            _ => Ok(()),
        }
    }
}

static FILE_LOG: OnceLock<Arc<SharedFile>> = OnceLock::new();

/// Creates the held log file (see [`LogOptions::hold_file`]) with the lines
/// logged so far; the next ones go straight to it.
pub fn write_held_file() {
    let failed = FILE_LOG
        .get()
        .and_then(|f| f.0.lock().ok().and_then(|mut log| log.write_held()));
    if let Some(msg) = failed {
        tracing::warn!("{msg}; logging to the console only");
    }
}

/// Forgets the held log lines: the file is never created.
pub fn drop_held_file() {
    if let Some(mut log) = FILE_LOG.get().and_then(|f| f.0.lock().ok())
        && matches!(*log, FileLog::Held { .. })
    {
        *log = FileLog::Off;
    }
}

/// Installs the global subscriber. A log file that cannot be opened (a
/// read-only volume) is reported on stderr and the run goes on without it:
/// losing the file log must not stop a sync.
pub fn init(options: &LogOptions) {
    let level = if options.debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    // Our crates log at DEBUG with --debug; HTTP internals stay at INFO and above.
    let ours = filter_fn(|meta| {
        meta.level() <= &Level::INFO
            || meta.target().starts_with("scim")
            || meta.target().starts_with("timecamp_scim")
    });
    let console = tracing_subscriber::fmt::layer()
        .event_format(PlainFormat)
        .with_writer(io::stderr)
        .with_filter(level)
        .with_filter(ours.clone());
    let mut file_error = None;
    let file = options.file.as_ref().and_then(|path| {
        let log = if options.hold_file {
            FileLog::Held {
                path: path.clone(),
                lines: Vec::new(),
            }
        } else {
            match RotatingFile::open(path, MAX_LOG_BYTES, LOG_BACKUPS) {
                Ok(f) => FileLog::Open(f),
                Err(e) => {
                    file_error = Some(format!("cannot open the log file {}: {e}", path.display()));
                    return None;
                }
            }
        };
        let shared = Arc::new(SharedFile(Mutex::new(log)));
        // A second init (tests running several mains) keeps the first file.
        let shared = FILE_LOG.get_or_init(|| shared).clone();
        Some(
            tracing_subscriber::fmt::layer()
                .event_format(PlainFormat)
                .with_ansi(false)
                .with_writer(shared)
                .with_filter(level)
                .with_filter(ours),
        )
    });
    // A second init (tests running several mains) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(console)
        .with(file)
        .try_init();
    if let Some(msg) = file_error {
        tracing::warn!("{msg}; logging to the console only");
    }
}

/// `<local time> - <LEVEL> - <message>`, the original's format.
struct PlainFormat;

impl<S, N> FormatEvent<S, N> for PlainFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f");
        let level = match *event.metadata().level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            Level::DEBUG | Level::TRACE => "DEBUG",
        };
        let mut message = String::new();
        let mut buffer = Writer::new(&mut message);
        ctx.field_format().format_fields(buffer.by_ref(), event)?;
        // Credentials inside a URL (a proxy, an S3 endpoint) never reach a log line.
        writeln!(
            writer,
            "{now} - {level} - {}",
            as_logged(&crate::secret::mask_url_credentials(&message))
        )
    }
}

/// A message as the log writes it: a line break is followed by an indent,
/// and other control characters (a carriage return, a terminal escape) are
/// written escaped (`\r`, `\u{1b}`). Messages carry text from outside (a
/// SCIM userName, a source's names, a server's error), and a line break in it
/// would start a line that looks like the program's own (`<time> - INFO -
/// Deleted user ...`); every line of the program's own starts with its time,
/// and a continued one never does. Messages that list problems one per line
/// (a CSV file's rows) stay readable.
fn as_logged(message: &str) -> std::borrow::Cow<'_, str> {
    if !message.chars().any(|c| c.is_control() && c != '\t') {
        return message.into();
    }
    let mut out = String::with_capacity(message.len() + 8);
    for c in message.chars() {
        match c {
            '\t' => out.push(c),
            '\n' => out.push_str(CONTINUED),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out.into()
}

/// What follows a line break inside one message.
const CONTINUED: &str = "\n    ";

/// A file that renames itself to `.1` (shifting older ones up to `.N`) when the
/// next line would take it past `max_bytes`.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    backups: usize,
    file: File,
    size: u64,
}

impl RotatingFile {
    pub fn open(path: &Path, max_bytes: u64, backups: usize) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            max_bytes,
            backups,
            file,
            size,
        })
    }

    fn backup(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        for n in (1..self.backups).rev() {
            let from = self.backup(n);
            if from.exists() {
                std::fs::rename(&from, self.backup(n + 1))?;
            }
        }
        if self.backups > 0 {
            std::fs::rename(&self.path, self.backup(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl RotatingFile {
    /// Makes what was written survive a crash of the machine, not only of the process.
    pub fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_in_a_message_never_starts_a_log_line_of_its_own() {
        assert_eq!(
            as_logged("Created user ann@x.com"),
            "Created user ann@x.com"
        );
        assert_eq!(
            as_logged("Created user evil\n2026-01-01 - INFO - Deleted\r\u{1b}[2K\tx"),
            "Created user evil\n    2026-01-01 - INFO - Deleted\\r\\u{1b}[2K\tx"
        );
        // A list of problems, one per line, keeps its lines.
        assert_eq!(
            as_logged("2 rows are wrong:\n  users.csv, line 3: no e-mail"),
            "2 rows are wrong:\n      users.csv, line 3: no e-mail"
        );
    }

    #[test]
    fn rotation_keeps_the_configured_number_of_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/sync.log");
        let mut f = RotatingFile::open(&path, 100, 5).unwrap();
        for i in 0..20 {
            f.write_all(format!("line {i:02} {}\n", "x".repeat(60)).as_bytes())
                .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("logs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "sync.log",
                "sync.log.1",
                "sync.log.2",
                "sync.log.3",
                "sync.log.4",
                "sync.log.5"
            ]
        );
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.starts_with("line 19"), "{newest}");
        let previous = std::fs::read_to_string(dir.path().join("logs/sync.log.1")).unwrap();
        assert!(previous.starts_with("line 18"), "{previous}");
    }

    #[test]
    fn reopening_continues_counting_from_the_existing_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.log");
        std::fs::write(&path, "x".repeat(90)).unwrap();
        let mut f = RotatingFile::open(&path, 100, 2).unwrap();
        f.write_all(b"0123456789AB").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0123456789AB");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sync.log.1"))
                .unwrap()
                .len(),
            90
        );
    }
}
