//! Reading a file a setting names (a CSV export, a key file): only a regular
//! file, and only up to a limit.
//!
//! A path an admin gives can name anything: a FIFO nobody writes (opening it
//! would block the stage for ever), a device (`/dev/zero` never ends), a
//! directory. The file is opened without blocking, its descriptor's own type
//! is checked (not the path's, which could change in between), its size is
//! checked before a byte is read, and no more than the limit is read even
//! when it grows meanwhile.

use std::io::Read;
use std::path::Path;

/// Why a named file was not read. Each message goes after the file's name
/// (`var/users.csv is a FIFO, not a regular file`); the caller knows which
/// setting named it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("does not exist")]
    NotFound,
    /// A FIFO, a device, a directory, a socket.
    #[error("is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    /// `size` is its size when it was refused; for a file that grew while it
    /// was read, `limit + 1` (it holds at least that).
    #[error("is larger than {limit} bytes")]
    TooLarge { limit: u64, size: u64 },
    /// The cause is in the message, not in the chain, so that the message
    /// alone says what went wrong and `{:#}` does not say it twice.
    #[error("cannot be read: {0}")]
    Io(std::io::Error),
}

/// The whole of the regular file at `path`, if it holds at most `limit` bytes.
pub fn read_regular_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    use rustix::fs::{Mode, OFlags};
    // Non-blocking, so opening a FIFO nobody writes returns at once.
    let fd = match rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::NOENT => return Err(FileError::NotFound),
        Err(e) => return Err(FileError::Io(e.into())),
    };
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(FileError::Io)?;
    if !meta.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        let kind = if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "something else"
        };
        return Err(FileError::NotRegular { kind });
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge {
            limit,
            size: meta.len(),
        });
    }
    // Its size as the start (it may still change), so the buffer is not
    // doubled past it.
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(FileError::Io)?;
    if data.len() as u64 > limit {
        return Err(FileError::TooLarge {
            limit,
            size: data.len() as u64,
        });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_regular_file_within_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.csv");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_regular_at_most(&file, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_regular_at_most(&file, 9),
            Err(FileError::TooLarge { limit: 9, size: 10 })
        ));
        assert!(matches!(
            read_regular_at_most(&dir.path().join("none"), 9),
            Err(FileError::NotFound)
        ));
        assert!(matches!(
            read_regular_at_most(dir.path(), 9),
            Err(FileError::NotRegular {
                kind: "a directory"
            })
        ));
        assert!(matches!(
            read_regular_at_most(Path::new("/dev/zero"), 9),
            Err(FileError::NotRegular { kind: "a device" })
        ));
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Returns at once, though nobody writes to it.
        assert!(matches!(
            read_regular_at_most(&fifo, 9),
            Err(FileError::NotRegular { kind: "a FIFO" })
        ));
    }
}
