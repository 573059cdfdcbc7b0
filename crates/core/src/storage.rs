//! Where the stage files live, behind one interface.
//!
//! Callers name files the way the original does (`var/users.json`,
//! `var/timecamp_users.json`, `vacation.json`) and never learn which backend
//! holds them, so another backend can be added without touching a stage.
//! [`LocalStorage`] writes atomically: a crash or a concurrent reader never sees
//! half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use scim_model::SourceUsersFile;

/// The source users, written by a fetcher and read by prepare.
pub const USERS_FILE: &str = "var/users.json";
/// The prepared desired state, written by prepare and read by sync and display-tree.
pub const TIMECAMP_USERS_FILE: &str = "var/timecamp_users.json";
/// The leaves, written by fetch-factorial and read by sync-time-off. Under `var/`
/// (the original wrote it next to `var/`, where Compose did not keep it).
pub const VACATION_FILE: &str = "var/vacation.json";
/// The users and groups an identity provider pushed to scim-server, with the
/// ids it gave them; scim-server writes `var/users.json` from it.
pub const SCIM_POPULATION_FILE: &str = "var/scim_population.json";
/// What changed in the pushed population since `var/scim_population.json`
/// was written (scim-server).
pub const SCIM_CHANGES_FILE: &str = "var/scim_population.changes.json";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{name} does not exist")]
    NotFound { name: String },
    /// An object store answered with an error (the message says which call and why).
    #[error("{name}: {message}")]
    Backend { name: String, message: String },
    /// The object's stored SHA-256 does not match its bytes: truncated or edited.
    #[error(
        "{name} failed its integrity check: the stored SHA-256 is {expected}, its content's is \
         {actual}; it was truncated or edited by hand. Run the stage that writes it again"
    )]
    Integrity {
        name: String,
        expected: String,
        actual: String,
    },
    /// The file is larger than the reader takes.
    #[error("{name} is larger than {limit} bytes, the most this stage reads")]
    TooLarge { name: String, limit: u64 },
    /// A FIFO, a device or a directory where a file was to be read.
    #[error("{name} is {kind}, not a regular file")]
    NotRegular { name: String, kind: &'static str },
    /// The cause is in the message, not in the chain, so that a log line of
    /// this error alone says what went wrong, and `{:#}` does not say it twice.
    #[error("{name}: {cause}")]
    Io { name: String, cause: std::io::Error },
}

/// A stage file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StageFileError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{name} is not valid JSON: {message} (line {line}, column {column})")]
    Syntax {
        name: String,
        message: String,
        line: usize,
        column: usize,
    },
    #[error(
        "{name} does not have the expected shape: {message} (line {line}, column {column}); expected {expected}"
    )]
    Shape {
        name: String,
        message: String,
        line: usize,
        column: usize,
        expected: &'static str,
    },
    #[error("{name} is not UTF-8 text")]
    Encoding { name: String },
    #[error("{name} is empty: the stage that writes it did not finish, or the file was truncated")]
    Empty { name: String },
    /// The cause is in the message, as for [`StorageError::Io`].
    #[error("cannot serialise {name}: {cause}")]
    Serialise {
        name: String,
        cause: serde_json::Error,
    },
    #[error("refusing to write {name}: {reason}; the previous file is left as it was")]
    Refused { name: String, reason: String },
}

/// A backend holding the stage files.
#[async_trait]
pub trait Storage: Send + Sync {
    /// One line for the log: which backend, and where.
    fn describe(&self) -> String;
    /// `local` or `s3`, for the log.
    fn backend(&self) -> &'static str {
        "local"
    }
    /// Where `name` is, for messages: the path, or `s3://bucket/key`.
    fn location(&self, name: &str) -> String {
        name.to_owned()
    }
    async fn read(&self, name: &str) -> Result<Vec<u8>, StorageError>;
    /// [`Storage::read`] of a file from outside (an HR export), refused with
    /// [`StorageError::TooLarge`] when it holds more than `limit` bytes. A
    /// backend should stop reading at the limit; this default reads it all.
    async fn read_at_most(&self, name: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        let data = self.read(name).await?;
        if data.len() as u64 > limit {
            return Err(StorageError::TooLarge {
                name: self.location(name),
                limit,
            });
        }
        Ok(data)
    }
    /// Replaces the whole file; readers see the old or the new content, never a mix.
    async fn write(&self, name: &str, data: Vec<u8>) -> Result<(), StorageError>;
    async fn exists(&self, name: &str) -> Result<bool, StorageError>;
    /// The file's path when `name` is a file on this machine, so a large stage
    /// file can be written as it is produced instead of whole in memory.
    fn local_path(&self, _name: &str) -> Option<PathBuf> {
        None
    }
}

/// Files under a base directory (the working directory, in the binaries).
#[derive(Debug, Clone)]
pub struct LocalStorage {
    base: PathBuf,
}

impl LocalStorage {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }
}

#[async_trait]
impl Storage for LocalStorage {
    fn describe(&self) -> String {
        let base = std::path::absolute(&self.base).unwrap_or_else(|_| self.base.clone());
        format!("local files under {}", base.display())
    }

    async fn read(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        match tokio::fs::read(self.path(name)).await {
            Ok(data) => Ok(data),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StorageError::NotFound {
                name: name.to_owned(),
            }),
            Err(cause) => Err(StorageError::Io {
                name: name.to_owned(),
                cause,
            }),
        }
    }

    /// Only a regular file (a FIFO would block, a device never end), and
    /// stops at the limit: a file that grows while it is read cannot make it
    /// read more.
    async fn read_at_most(&self, name: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        use crate::files::{FileError, read_regular_at_most};
        let path = self.path(name);
        let read = tokio::task::spawn_blocking(move || read_regular_at_most(&path, limit))
            .await
            .map_err(|join| FileError::Io(std::io::Error::other(join)));
        let name = name.to_owned();
        match read.and_then(|r| r) {
            Ok(data) => Ok(data),
            Err(FileError::NotFound) => Err(StorageError::NotFound { name }),
            Err(FileError::TooLarge { limit, .. }) => Err(StorageError::TooLarge { name, limit }),
            Err(FileError::NotRegular { kind }) => Err(StorageError::NotRegular { name, kind }),
            Err(FileError::Io(cause)) => Err(StorageError::Io { name, cause }),
        }
    }

    async fn write(&self, name: &str, data: Vec<u8>) -> Result<(), StorageError> {
        let path = self.path(name);
        let io_err = |cause| StorageError::Io {
            name: name.to_owned(),
            cause,
        };
        tokio::task::spawn_blocking(move || write_atomically(&path, &data))
            .await
            .map_err(|join| io_err(std::io::Error::other(join)))?
            .map_err(io_err)
    }

    fn local_path(&self, name: &str) -> Option<PathBuf> {
        Some(self.path(name))
    }

    async fn exists(&self, name: &str) -> Result<bool, StorageError> {
        tokio::fs::try_exists(self.path(name))
            .await
            .map_err(|cause| StorageError::Io {
                name: name.to_owned(),
                cause,
            })
    }
}

/// Temporary file in the target's directory, fsync, rename over the target,
/// fsync the directory. The rename is atomic on POSIX file systems; the
/// temporary file is removed if anything before it fails. The file gets the
/// mode any new file would (0666 less the umask), as the original's did: a
/// cron job and a service running as different users may share `var/`.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, |w| w.write_all(data)).map(|_| ())
}

/// Counts and hashes what passes through to the file.
struct Hashing<W> {
    inner: W,
    hasher: sha2::Sha256,
    len: usize,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// [`write_atomically`] with the content written by `produce`; returns its
/// size and SHA-256.
fn write_atomically_with(
    path: &Path,
    produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<(usize, String)> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{file_name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Given to open(2), so the process umask still applies.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(&dir)?;
    let (len, digest) = {
        // Buffered before the hash, so the hash sees large blocks, not every
        // small piece the serializer writes.
        let mut out = std::io::BufWriter::with_capacity(
            1 << 16,
            Hashing {
                inner: tmp.as_file_mut(),
                hasher: sha2::Sha256::default(),
                len: 0,
            },
        );
        produce(&mut out)?;
        let hashing = out.into_inner().map_err(|e| e.into_error())?;
        (hashing.len, hex(&sha2::Digest::finalize(hashing.hasher)))
    };
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The directory entry must reach the disk too, or a power cut may bring back the old name.
    std::fs::File::open(&dir)?.sync_all()?;
    Ok((len, digest))
}

/// Removes the temporary files that saves of `path` (see
/// [`write_atomically_with`]) left when the process was killed before the
/// rename; returns how many. Only for a file one process owns: another one
/// saving it at the same time would lose its temporary file.
pub fn remove_leftover_temporaries(path: &Path) -> std::io::Result<usize> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(file_name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(0);
    };
    let prefix = format!(".{file_name}.");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".tmp") && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Writes the JSON text the original writes: two-space indent, non-ASCII
/// literal, no trailing newline, keys in the order the value gives them.
fn write_json_text<T: Serialize + ?Sized>(
    out: impl Write,
    value: &T,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer_pretty(out, value)
}

/// [`write_json_text`] into memory.
pub fn to_json_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = Vec::with_capacity(128);
    write_json_text(&mut bytes, value)?;
    Ok(bytes)
}

/// Reads and parses a stage file; errors name the file and the position.
pub async fn read_json<T: DeserializeOwned>(
    storage: &dyn Storage,
    name: &str,
    expected: &'static str,
) -> Result<T, StageFileError> {
    let bytes = storage.read(name).await?;
    tracing::info!(
        "Artifact loaded: storage={} path={} bytes={} sha256={}",
        storage.backend(),
        storage.location(name),
        bytes.len(),
        sha256_hex(&bytes)
    );
    parse_json(name, &bytes, expected)
}

/// Parses stage-file bytes; `expected` describes the shape for the error message.
pub fn parse_json<T: DeserializeOwned>(
    name: &str,
    bytes: &[u8],
    expected: &'static str,
) -> Result<T, StageFileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| StageFileError::Encoding {
        name: name.to_owned(),
    })?;
    // Windows editors start UTF-8 files with a byte-order mark; it is not JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(StageFileError::Empty {
            name: name.to_owned(),
        });
    }
    serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the position is reported separately.
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        // "expected struct SourceUsersFile" names a Rust type; `expected` says it for people.
        let message = message
            .split_once(", expected struct ")
            .map_or(message, |(m, _)| m)
            .to_owned();
        if e.is_data() {
            StageFileError::Shape {
                name: name.to_owned(),
                message,
                line: e.line(),
                column: e.column(),
                expected,
            }
        } else {
            StageFileError::Syntax {
                name: name.to_owned(),
                message,
                line: e.line(),
                column: e.column(),
            }
        }
    })
}

/// Serialises and writes a stage file in one piece.
pub async fn write_json<T: Serialize + ?Sized>(
    storage: &dyn Storage,
    name: &str,
    value: &T,
) -> Result<(), StageFileError> {
    let (size, digest) = match storage.local_path(name) {
        // Streamed to the file: a large output is never held whole in memory.
        Some(path) => {
            let write = || {
                write_atomically_with(&path, |w| {
                    write_json_text(w, value).map_err(std::io::Error::other)
                })
            };
            let on_worker = tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
            if on_worker {
                tokio::task::block_in_place(write)
            } else {
                write()
            }
            .map_err(|cause| {
                StageFileError::from(StorageError::Io {
                    name: name.to_owned(),
                    cause,
                })
            })?
        }
        None => {
            let bytes = to_json_bytes(value).map_err(|cause| StageFileError::Serialise {
                name: name.to_owned(),
                cause,
            })?;
            let measured = (bytes.len(), sha256_hex(&bytes));
            storage.write(name, bytes).await?;
            measured
        }
    };
    tracing::info!(
        "Artifact saved: storage={} path={} bytes={size} sha256={digest}",
        storage.backend(),
        storage.location(name)
    );
    Ok(())
}

/// Lower-case hex SHA-256, as stored with S3 objects and logged for every stage file.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The one way fetchers save `var/users.json`: an empty list is refused, and
/// so is a list without one active person unless `allow_no_active` (a source
/// whose admin said so), so a fetch that found nobody (a wrong filter, a
/// permission problem, a status read wrongly) cannot make the next sync
/// disable everyone. The previous file stays.
pub async fn write_source_users(
    storage: &dyn Storage,
    file: &SourceUsersFile,
    allow_no_active: bool,
) -> Result<(), StageFileError> {
    let refuse = |reason: String| {
        Err(StageFileError::Refused {
            name: USERS_FILE.to_owned(),
            reason,
        })
    };
    if file.users.is_empty() {
        return refuse("the source returned no users".to_owned());
    }
    let active = file
        .users
        .iter()
        .any(|u| u.status == Some(scim_model::Status::Active));
    if !active && !allow_no_active {
        return refuse(format!(
            "the source returned no active person ({} inactive), and the sync would disable \
             everyone",
            file.users.len()
        ));
    }
    write_json(storage, USERS_FILE, file).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_model::SourceUser;

    #[tokio::test]
    async fn write_creates_directories_and_replaces_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        storage
            .write("var/a.json", b"first version, long".to_vec())
            .await
            .unwrap();
        storage
            .write("var/a.json", b"second".to_vec())
            .await
            .unwrap();
        assert_eq!(storage.read("var/a.json").await.unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("var"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            vec!["a.json"],
            "no temporary file is left behind"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_streamed_stage_file_is_the_same_text_as_a_whole_one() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        let value = serde_json::json!([{"b": "Zoë", "a": [1, 2]}, {"c": null}]);
        write_json(&storage, "var/out.json", &value).await.unwrap();
        let written = std::fs::read(dir.path().join("var/out.json")).unwrap();
        assert_eq!(written, to_json_bytes(&value).unwrap());
        assert_eq!(
            sha256_hex(&written).len(),
            64,
            "the logged digest is of these bytes"
        );
    }

    #[tokio::test]
    async fn a_single_threaded_runtime_writes_the_stage_file_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        let value = serde_json::json!({"users": []});
        write_json(&storage, "out.json", &value).await.unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("out.json")).unwrap(),
            to_json_bytes(&value).unwrap()
        );
    }

    #[tokio::test]
    async fn missing_file_is_reported_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        assert!(!storage.exists("var/users.json").await.unwrap());
        let err = storage.read("var/users.json").await.unwrap_err();
        assert!(matches!(err, StorageError::NotFound { .. }));
        assert!(err.to_string().contains("var/users.json"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn written_files_get_the_mode_the_umask_gives_new_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A file made the ordinary way shows what the umask allows.
        std::fs::File::create(dir.path().join("plain")).unwrap();
        let mode = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        let storage = LocalStorage::new(dir.path());
        storage.write("var/a.json", b"{}".to_vec()).await.unwrap();
        assert_eq!(mode("var/a.json"), mode("plain"));
    }

    #[tokio::test]
    async fn a_file_over_the_limit_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        storage
            .write("var/in.csv", b"0123456789".to_vec())
            .await
            .unwrap();
        assert_eq!(
            storage.read_at_most("var/in.csv", 10).await.unwrap(),
            b"0123456789"
        );
        let err = storage.read_at_most("var/in.csv", 9).await.unwrap_err();
        assert!(
            matches!(err, StorageError::TooLarge { limit: 9, .. }),
            "{err}"
        );
        assert!(matches!(
            storage.read_at_most("var/none.csv", 9).await,
            Err(StorageError::NotFound { .. })
        ));
    }

    #[test]
    fn byte_order_mark_is_accepted() {
        let v: serde_json::Value =
            parse_json("var/users.json", "\u{feff}{\"users\": []}".as_bytes(), "x").unwrap();
        assert_eq!(v["users"], serde_json::json!([]));
    }

    #[test]
    fn empty_file_is_named_as_empty() {
        let err = parse_json::<serde_json::Value>("var/users.json", b"  \n", "x").unwrap_err();
        assert!(matches!(err, StageFileError::Empty { .. }), "{err}");
        assert!(err.to_string().contains("var/users.json is empty"), "{err}");
    }

    #[test]
    fn json_is_written_like_the_original() {
        let value = serde_json::json!([{"name": "Zoë", "a": []}]);
        let text = String::from_utf8(to_json_bytes(&value).unwrap()).unwrap();
        assert_eq!(
            text,
            "[\n  {\n    \"name\": \"Zoë\",\n    \"a\": []\n  }\n]"
        );
    }

    #[test]
    fn syntax_errors_name_the_file_and_position() {
        let err = parse_json::<serde_json::Value>("var/users.json", b"{\n  \"users\": [,]\n}", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("var/users.json"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn shape_errors_say_what_was_expected() {
        let err =
            parse_json::<SourceUsersFile>("var/users.json", b"[]", "an object {\"users\": [...]}")
                .unwrap_err()
                .to_string();
        assert!(err.contains("expected an object"), "{err}");
        assert!(!err.contains("struct"), "no Rust type names: {err}");
    }

    #[tokio::test]
    async fn a_list_with_nobody_or_nobody_active_is_refused_and_old_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        let person = |status| SourceUser {
            email: Some("a@x.com".into()),
            status: Some(status),
            ..Default::default()
        };
        let file = |users| SourceUsersFile {
            users,
            ..Default::default()
        };
        let one = file(vec![person(scim_model::Status::Active)]);
        write_source_users(&storage, &one, false).await.unwrap();
        let before = storage.read(USERS_FILE).await.unwrap();
        let err = write_source_users(&storage, &SourceUsersFile::default(), true)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no users"), "{err}");
        assert_eq!(storage.read(USERS_FILE).await.unwrap(), before);
        let leavers = file(vec![person(scim_model::Status::Inactive)]);
        let err = write_source_users(&storage, &leavers, false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no active person"), "{err}");
        assert_eq!(storage.read(USERS_FILE).await.unwrap(), before);
        write_source_users(&storage, &leavers, true).await.unwrap();
        assert_ne!(storage.read(USERS_FILE).await.unwrap(), before);
    }
}
