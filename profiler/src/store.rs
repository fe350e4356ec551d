//! A directory of closed windows: one profile file per window.
//!
//! A server closes a window every minute or so and writes its profile here; a query for
//! a time range reads back every window overlapping it. The design choices:
//!
//! - **One file per window**, named `window-{start_ms}-{end_ms}.sxp` with both bounds in
//!   unix milliseconds, zero-padded to 13 digits so that `ls` lists them in time order
//!   until the year 2286 (after that names only grow longer; [`Store::list`] sorts by the
//!   parsed numbers, not by name). The name is the index: listing the directory is
//!   enough to find a range, without opening a file. Only names in exactly this canonical
//!   form count as windows, so one window cannot appear under two names; every other file
//!   in the directory is ignored.
//! - **Writes are atomic**: the bytes go to a temporary file in the same directory (its
//!   name starts with `.window-` and ends with `.tmp`), which is flushed to disk
//!   (`sync_all`) and then renamed over the final name, and the directory itself is
//!   flushed so the rename survives a power cut. A reader sees either the old file or the
//!   new one, never half of one; writing a window again replaces it.
//! - **Files are verified when read**: every file is a [`crate::format`] envelope, whose
//!   checksum [`Store::read_range`] checks. A damaged or unreadable file is reported next
//!   to the good ones and skipped — one bad minute must not hide a day of profiles.
//! - **Retention by age**: [`Store::remove_older_than`] deletes windows that ended before
//!   a cutoff, and temporary files left behind by a crash.
//!
//! The store is bytes in and bytes out: it checks the envelope, not what the payload
//! holds. Any number of [`Store`] values (threads, processes) may share a directory;
//! concurrent writes of the same window leave one of them whole.

use crate::format::{self, FormatError};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

pub use crate::profile::Window;

/// The extension of window files.
const EXTENSION: &str = "sxp";
/// The prefix of window files.
const PREFIX: &str = "window-";
/// The prefix of temporary files (a hidden file on Unix).
const TMP_PREFIX: &str = ".window-";
/// The suffix of temporary files.
const TMP_SUFFIX: &str = ".tmp";
/// Digits the bounds are zero-padded to in file names.
const PAD: usize = 13;

/// How old a temporary file must be before [`Store::remove_older_than`] deletes it.
///
/// A write takes milliseconds; a temporary file this old was left by a crash. The grace
/// period keeps retention from deleting the temporary file of a write in progress in
/// another thread or process.
pub const STALE_TMP_AGE: Duration = Duration::from_secs(10 * 60);

/// Distinguishes the temporary files of concurrent writes within one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A directory holding one profile file per closed window.
///
/// ```
/// use sextant::format::{self, PayloadKind};
/// use sextant::store::{Store, Window};
/// # let dir = std::env::temp_dir().join(format!("sextant-doc-store-{}", std::process::id()));
/// let store = Store::open(&dir)?;
/// let bytes = format::encode(PayloadKind::DatasetProfile, b"a profile");
/// store.write(Window::new(0, 60_000), &bytes)?;
/// store.write(Window::new(60_000, 120_000), &bytes)?;
///
/// let read = store.read_range(30_000, 90_000)?;
/// assert_eq!(read.windows.len(), 2);
/// assert!(read.damaged.is_empty());
/// assert_eq!(read.windows[0].1, bytes);
///
/// assert_eq!(store.remove_older_than(60_000)?, 1);
/// assert_eq!(store.list()?.len(), 1);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), sextant::store::StoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// A window file in the store, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWindow {
    /// The window the file holds.
    pub window: Window,
    /// The file.
    pub path: PathBuf,
    /// The size of the file in bytes.
    pub bytes: u64,
}

/// A window file that could not be read or failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    /// The window its name says it holds.
    pub window: Window,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it: the I/O error or the [`FormatError`], as text.
    pub error: String,
}

/// What [`Store::read_range`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeRead {
    /// The good windows overlapping the range, sorted by start, each with the whole file
    /// (envelope included, checksum verified).
    pub windows: Vec<(StoredWindow, Vec<u8>)>,
    /// The windows overlapping the range whose file could not be read or is damaged,
    /// sorted by start.
    pub damaged: Vec<Damaged>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file system operation failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What the store was doing, e.g. "create the store directory".
        action: &'static str,
        /// The file or directory it was doing it to.
        path: PathBuf,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },

    /// A window the store cannot hold: it must start at or after the unix epoch and end
    /// after it starts.
    #[error(
        "invalid window [{}, {}) ms: {reason}",
        window.start_ms,
        window.end_ms
    )]
    InvalidWindow {
        /// The window.
        window: Window,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The bytes given to [`Store::write`] are not a valid profile envelope.
    #[error("refusing to store window [{}, {}) ms: {source}", window.start_ms, window.end_ms)]
    InvalidContents {
        /// The window they were for.
        window: Window,
        /// Why [`format::decode`] refused them.
        #[source]
        source: FormatError,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Checks that the store can hold `window`.
fn validate(window: Window) -> Result<(), StoreError> {
    let reason = if window.start_ms < 0 {
        "it starts before the unix epoch"
    } else if window.end_ms <= window.start_ms {
        "it does not end after it starts"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidWindow { window, reason })
}

/// The file name of a window: `window-{start}-{end}.sxp`, zero-padded.
fn file_name(window: Window) -> String {
    format!(
        "{PREFIX}{:0PAD$}-{:0PAD$}.{EXTENSION}",
        window.start_ms, window.end_ms
    )
}

/// The window a file name stands for, if it is the canonical name of a valid window.
fn parse_file_name(name: &str) -> Option<Window> {
    let bounds = name.strip_prefix(PREFIX)?.strip_suffix(EXTENSION)?;
    let bounds = bounds.strip_suffix('.')?;
    let (start, end) = bounds.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(start) || !digits(end) {
        return None;
    }
    let window = Window::new(start.parse().ok()?, end.parse().ok()?);
    (validate(window).is_ok() && file_name(window) == name).then_some(window)
}

fn is_tmp_name(name: &str) -> bool {
    name.starts_with(TMP_PREFIX) && name.ends_with(TMP_SUFFIX)
}

/// Flushes a directory's entries (creations, renames, removals) to disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("flush the store directory", dir))
}

/// Directories cannot be opened as files on this platform; renames are as durable as
/// the platform makes them.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}

impl Store {
    /// Opens the store in `dir`, creating the directory (and its parents) if missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if the directory cannot be created, or exists but is not a
    /// directory.
    ///
    /// ```
    /// use sextant::store::Store;
    /// # let dir = std::env::temp_dir().join(format!("sextant-doc-open-{}", std::process::id()));
    /// let store = Store::open(dir.join("profiles"))?;
    /// assert!(store.dir().is_dir());
    /// assert!(store.list()?.is_empty());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sextant::store::StoreError>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(io_error("create the store directory", dir))?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path the file of `window` has (whether or not it exists).
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidWindow`] if `window` starts before the unix epoch or does not
    /// end after it starts.
    ///
    /// ```
    /// use sextant::store::{Store, Window};
    /// # let dir = std::env::temp_dir().join(format!("sextant-doc-path-{}", std::process::id()));
    /// let store = Store::open(&dir)?;
    /// let path = store.path_of(Window::new(1_700_000_000_000, 1_700_000_060_000))?;
    /// assert!(path.ends_with("window-1700000000000-1700000060000.sxp"));
    /// assert!(store.path_of(Window::new(10, 10)).is_err());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sextant::store::StoreError>(())
    /// ```
    pub fn path_of(&self, window: Window) -> Result<PathBuf, StoreError> {
        validate(window)?;
        Ok(self.dir.join(file_name(window)))
    }

    /// Stores the profile file of `window`, atomically replacing any file it had.
    ///
    /// `bytes` must be a [`crate::format`] envelope (such as `ProfileView::to_bytes`
    /// gives); it is verified before anything is written, so the store only ever holds
    /// files that were whole when written. Returns the path of the file.
    ///
    /// The bytes go to a temporary file in the store directory, which is flushed to disk
    /// and renamed over the final name; then the directory is flushed. Once this returns,
    /// the file survives a crash or power cut.
    ///
    /// # Errors
    ///
    /// - [`StoreError::InvalidWindow`] if `window` starts before the unix epoch or does
    ///   not end after it starts;
    /// - [`StoreError::InvalidContents`] if `bytes` is not a valid envelope;
    /// - [`StoreError::Io`] if writing, flushing or renaming fails (the temporary file is
    ///   removed, and the previous file of the window, if any, is left as it was).
    ///
    /// ```
    /// use sextant::format::{self, PayloadKind};
    /// use sextant::store::{Store, Window};
    /// # let dir = std::env::temp_dir().join(format!("sextant-doc-write-{}", std::process::id()));
    /// let store = Store::open(&dir)?;
    /// let bytes = format::encode(PayloadKind::DatasetProfile, b"profile");
    /// let path = store.write(Window::new(0, 60_000), &bytes)?;
    /// assert_eq!(std::fs::read(&path).unwrap(), bytes);
    /// assert!(store.write(Window::new(0, 60_000), b"not a profile").is_err());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sextant::store::StoreError>(())
    /// ```
    pub fn write(&self, window: Window, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        let path = self.path_of(window)?;
        format::decode(bytes).map_err(|source| StoreError::InvalidContents { window, source })?;

        let tmp = self.dir.join(format!(
            "{TMP_PREFIX}{:0PAD$}-{:0PAD$}.{}-{}{TMP_SUFFIX}",
            window.start_ms,
            window.end_ms,
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed),
        ));
        let written = write_synced(&tmp, bytes)
            .and_then(|()| fs::rename(&tmp, &path).map_err(io_error("rename", &tmp)));
        if let Err(e) = written {
            // Best effort: the error that matters is the one above.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        sync_dir(&self.dir)?;
        Ok(path)
    }

    /// Every window file in the store, sorted by start (then end).
    ///
    /// Files whose name is not the canonical name of a window (see the module
    /// documentation) are ignored, and so are temporary files.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if the directory, or the size of a window file, cannot be read.
    ///
    /// ```
    /// use sextant::format::{self, PayloadKind};
    /// use sextant::store::{Store, Window};
    /// # let dir = std::env::temp_dir().join(format!("sextant-doc-list-{}", std::process::id()));
    /// let store = Store::open(&dir)?;
    /// let bytes = format::encode(PayloadKind::DatasetProfile, b"profile");
    /// store.write(Window::new(60_000, 120_000), &bytes)?;
    /// store.write(Window::new(0, 60_000), &bytes)?;
    /// let listed = store.list()?;
    /// assert_eq!(listed[0].window, Window::new(0, 60_000));
    /// assert_eq!(listed[1].bytes, bytes.len() as u64);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sextant::store::StoreError>(())
    /// ```
    pub fn list(&self) -> Result<Vec<StoredWindow>, StoreError> {
        let mut windows = Vec::new();
        self.for_each_entry(|name, path| {
            let Some(window) = parse_file_name(name) else {
                return Ok(());
            };
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => windows.push(StoredWindow {
                    window,
                    path,
                    bytes: meta.len(),
                }),
                Ok(_) => {}
                // Removed since the directory was read (retention in another thread).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("read the size of", &path)(e)),
            }
            Ok(())
        })?;
        windows.sort_by_key(|w| (w.window.start_ms, w.window.end_ms));
        Ok(windows)
    }

    /// Reads every stored window overlapping `[start_ms, end_ms)` and verifies it.
    ///
    /// Each file is read whole and its envelope checked with [`format::decode`]
    /// (magic, version, length, checksum). Good files are returned whole, envelope
    /// included; a file that cannot be read or fails the check goes to
    /// [`RangeRead::damaged`] and is skipped — it never fails the whole read. An empty
    /// range (`end_ms <= start_ms`) overlaps nothing. Any bounds are accepted, e.g.
    /// `(i64::MIN, i64::MAX)` for everything.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] only if the directory cannot be listed (see [`Store::list`]).
    ///
    /// ```
    /// use sextant::format::{self, PayloadKind};
    /// use sextant::store::{Store, Window};
    /// # let dir = std::env::temp_dir().join(format!("sextant-doc-range-{}", std::process::id()));
    /// let store = Store::open(&dir)?;
    /// let bytes = format::encode(PayloadKind::DatasetProfile, b"profile");
    /// store.write(Window::new(0, 60_000), &bytes)?;
    /// let damaged = store.write(Window::new(60_000, 120_000), &bytes)?;
    /// std::fs::write(&damaged, &bytes[..bytes.len() - 1]).unwrap();
    ///
    /// let read = store.read_range(0, 120_000)?;
    /// assert_eq!(read.windows.len(), 1);
    /// assert_eq!(read.damaged[0].path, damaged);
    /// assert!(read.damaged[0].error.contains("truncated"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sextant::store::StoreError>(())
    /// ```
    pub fn read_range(&self, start_ms: i64, end_ms: i64) -> Result<RangeRead, StoreError> {
        let mut read = RangeRead::default();
        if end_ms <= start_ms {
            return Ok(read);
        }
        let range = Window::new(start_ms, end_ms);
        for mut stored in self.list()? {
            if !stored.window.overlaps(range) {
                continue;
            }
            let bytes = match fs::read(&stored.path) {
                Ok(bytes) => bytes,
                // Removed since it was listed (retention in another thread).
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    read.damaged.push(Damaged {
                        window: stored.window,
                        path: stored.path,
                        error: format!("cannot read the file: {e}"),
                    });
                    continue;
                }
            };
            match format::decode(&bytes) {
                Ok(_) => {
                    stored.bytes = bytes.len() as u64;
                    read.windows.push((stored, bytes));
                }
                Err(e) => read.damaged.push(Damaged {
                    window: stored.window,
                    path: stored.path,
                    error: e.to_string(),
                }),
            }
        }
        Ok(read)
    }

    /// Deletes every window that ended at or before `cutoff_ms` (unix milliseconds), and
    /// the temporary files of writes that crashed, and returns how many windows it deleted.
    ///
    /// A temporary file counts as left by a crash once it is [`STALE_TMP_AGE`] old (by
    /// its modification time), so a write in progress in another thread or process is
    /// left alone. Temporary files are not counted in the result.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if the directory cannot be listed or a file cannot be deleted
    /// (files already gone are not an error). Deletion stops at the first failure.
    ///
    /// ```
    /// use sextant::format::{self, PayloadKind};
    /// use sextant::store::{Store, Window};
    /// # let dir = std::env::temp_dir().join(format!("sextant-doc-retention-{}", std::process::id()));
    /// let store = Store::open(&dir)?;
    /// let bytes = format::encode(PayloadKind::DatasetProfile, b"profile");
    /// for minute in 0..5 {
    ///     store.write(Window::new(minute * 60_000, (minute + 1) * 60_000), &bytes)?;
    /// }
    /// assert_eq!(store.remove_older_than(180_000)?, 3);
    /// assert_eq!(store.list()?[0].window, Window::new(180_000, 240_000));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sextant::store::StoreError>(())
    /// ```
    pub fn remove_older_than(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let now = SystemTime::now();
        let mut doomed = Vec::new();
        let mut stale_tmp = Vec::new();
        self.for_each_entry(|name, path| {
            if let Some(window) = parse_file_name(name) {
                // Only what `list` lists: not a directory that happens to have the name.
                if window.end_ms <= cutoff_ms && fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                    doomed.push(path);
                }
            } else if is_tmp_name(name) {
                let stale = match fs::symlink_metadata(&path) {
                    // A modification time in the future (clock changes) is not stale.
                    Ok(m) if m.is_file() => m
                        .modified()
                        .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age >= STALE_TMP_AGE)),
                    _ => false,
                };
                if stale {
                    stale_tmp.push(path);
                }
            }
            Ok(())
        })?;
        let mut removed = 0;
        for path in &doomed {
            if remove_if_present(path)? {
                removed += 1;
            }
        }
        for path in &stale_tmp {
            remove_if_present(path)?;
        }
        if !doomed.is_empty() || !stale_tmp.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Calls `f` with the name (if it is UTF-8) and path of each directory entry.
    fn for_each_entry(
        &self,
        mut f: impl FnMut(&str, PathBuf) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let entries =
            fs::read_dir(&self.dir).map_err(io_error("list the store directory", &self.dir))?;
        for entry in entries {
            let entry = entry.map_err(io_error("list the store directory", &self.dir))?;
            let name = entry.file_name();
            // Window and temporary file names are ASCII; anything else is not ours.
            if let Some(name) = name.to_str() {
                f(name, entry.path())?;
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to a new file at `path` and flushes it to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_error("create", path))?;
    file.write_all(bytes).map_err(io_error("write", path))?;
    file.sync_all().map_err(io_error("flush", path))
}

/// Deletes a file; `Ok(false)` if it was already gone.
fn remove_if_present(path: &Path) -> Result<bool, StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("delete", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_sort() {
        let windows = [
            Window::new(0, 1),
            Window::new(59_999, 60_000),
            Window::new(1_700_000_000_000, 1_700_000_060_000),
            Window::new(9_999_999_999_999, 10_000_000_000_000),
            Window::new(i64::MAX - 1, i64::MAX),
        ];
        for w in windows {
            assert_eq!(parse_file_name(&file_name(w)), Some(w), "{}", file_name(w));
        }
        assert_eq!(
            file_name(Window::new(0, 60_000)),
            "window-0000000000000-0000000060000.sxp"
        );
        // Up to 13 digits, names sort like windows.
        let mut names: Vec<_> = windows[..4].iter().map(|&w| file_name(w)).collect();
        let sorted = names.clone();
        names.reverse();
        names.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn only_canonical_names_parse() {
        for name in [
            "window-0-60000.sxp",
            "window-0000000000000-0000000060000.sxp.tmp",
            ".window-0000000000000-0000000060000.sxp.1-0.tmp",
            "window-0000000000000-0000000060000.txt",
            "window-0000000060000-0000000000000.sxp",
            "window-0000000000000-0000000000000.sxp",
            "window--000000000001-0000000060000.sxp",
            "window-+000000000001-0000000060000.sxp",
            "window-0000000000000-00000000600000000000000000000000000.sxp",
            "window-0000000000000.sxp",
            "window-.sxp",
            "README.md",
        ] {
            assert_eq!(parse_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn invalid_windows() {
        assert!(validate(Window::new(-1, 10)).is_err());
        assert!(validate(Window::new(10, 10)).is_err());
        assert!(validate(Window::new(10, 9)).is_err());
        assert!(validate(Window::new(0, 1)).is_ok());
    }
}
