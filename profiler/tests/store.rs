//! The window store: atomic writes, listing, verified range reads that survive damaged
//! files, and retention.

use sextant::format::{self, PayloadKind};
use sextant::store::{STALE_TMP_AGE, Store, StoreError, Window};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

/// A fresh directory under cargo's per-target temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "store-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const MINUTE: i64 = 60_000;

fn minute(i: i64) -> Window {
    Window::new(i * MINUTE, (i + 1) * MINUTE)
}

/// A valid profile file whose payload names its window, so files are told apart.
fn file_for(window: Window) -> Vec<u8> {
    let payload = format!("profile of [{}, {})", window.start_ms, window.end_ms);
    format::encode(PayloadKind::DatasetProfile, payload.as_bytes())
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn windows_of(read: &sextant::store::RangeRead) -> Vec<Window> {
    read.windows.iter().map(|(s, _)| s.window).collect()
}

#[test]
fn open_creates_missing_directories() {
    let tmp = TempDir::new("open");
    let dir = tmp.path().join("a/b/profiles");
    let store = Store::open(&dir).unwrap();
    assert!(dir.is_dir());
    assert_eq!(store.dir(), dir);
    assert!(store.list().unwrap().is_empty());
    // Opening again is fine.
    Store::open(&dir).unwrap();
}

#[test]
fn open_on_a_file_names_the_path() {
    let tmp = TempDir::new("open-file");
    fs::create_dir_all(tmp.path()).unwrap();
    let file = tmp.path().join("not-a-dir");
    fs::write(&file, b"x").unwrap();
    let err = Store::open(&file).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn write_list_read_round_trip() {
    let tmp = TempDir::new("round-trip");
    let store = Store::open(tmp.path()).unwrap();
    // Written out of order.
    for i in [2, 0, 1] {
        let path = store.write(minute(i), &file_for(minute(i))).unwrap();
        assert_eq!(path, store.path_of(minute(i)).unwrap());
        assert_eq!(fs::read(&path).unwrap(), file_for(minute(i)));
    }

    let listed = store.list().unwrap();
    assert_eq!(
        listed.iter().map(|s| s.window).collect::<Vec<_>>(),
        [minute(0), minute(1), minute(2)]
    );
    for s in &listed {
        assert_eq!(s.bytes, file_for(s.window).len() as u64);
        assert_eq!(s.path.parent(), Some(tmp.path()));
    }

    let read = store.read_range(0, 3 * MINUTE).unwrap();
    assert!(read.damaged.is_empty());
    assert_eq!(windows_of(&read), [minute(0), minute(1), minute(2)]);
    for (stored, bytes) in &read.windows {
        assert_eq!(*bytes, file_for(stored.window));
        assert_eq!(stored.bytes, bytes.len() as u64);
    }
    // Only temporary files could be left over; none are.
    assert_eq!(names_in(tmp.path()).len(), 3);
}

#[test]
fn read_range_takes_exactly_the_overlapping_windows() {
    let tmp = TempDir::new("range");
    let store = Store::open(tmp.path()).unwrap();
    for i in 0..5 {
        store.write(minute(i), &file_for(minute(i))).unwrap();
    }
    let range = |s, e| windows_of(&store.read_range(s, e).unwrap());
    // [start, end): a window ending at the start or starting at the end is out.
    assert_eq!(range(MINUTE, 3 * MINUTE), [minute(1), minute(2)]);
    assert_eq!(
        range(MINUTE - 1, 3 * MINUTE + 1),
        [minute(0), minute(1), minute(2), minute(3)]
    );
    assert_eq!(range(90_000, 90_001), [minute(1)]);
    assert_eq!(range(i64::MIN, i64::MAX).len(), 5);
    assert!(range(5 * MINUTE, 6 * MINUTE).is_empty());
    assert!(range(2 * MINUTE, 2 * MINUTE).is_empty(), "an empty range");
    assert!(range(3 * MINUTE, MINUTE).is_empty(), "a reversed range");
}

#[test]
fn writing_a_window_again_replaces_it() {
    let tmp = TempDir::new("overwrite");
    let store = Store::open(tmp.path()).unwrap();
    let first = format::encode(PayloadKind::DatasetProfile, b"first");
    let second = format::encode(PayloadKind::DatasetProfile, b"second, longer");
    let p1 = store.write(minute(0), &first).unwrap();
    let p2 = store.write(minute(0), &second).unwrap();
    assert_eq!(p1, p2);
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].bytes, second.len() as u64);
    let read = store.read_range(0, MINUTE).unwrap();
    assert_eq!(read.windows.len(), 1);
    assert_eq!(read.windows[0].1, second);
    assert_eq!(names_in(tmp.path()).len(), 1, "no temporary file left");
}

#[test]
fn concurrent_writes_of_one_window_leave_one_whole_file() {
    let tmp = TempDir::new("concurrent");
    let store = Store::open(tmp.path()).unwrap();
    let files: Vec<Vec<u8>> = (0..8)
        .map(|i| format::encode(PayloadKind::DatasetProfile, &vec![i; 1000 + usize::from(i)]))
        .collect();
    std::thread::scope(|s| {
        for file in &files {
            let store = store.clone();
            s.spawn(move || {
                for _ in 0..10 {
                    store.write(minute(0), file).unwrap();
                }
            });
        }
    });
    let read = store.read_range(0, MINUTE).unwrap();
    assert!(read.damaged.is_empty());
    assert_eq!(read.windows.len(), 1);
    assert!(files.contains(&read.windows[0].1));
    assert_eq!(names_in(tmp.path()).len(), 1, "no temporary file left");
}

#[test]
fn damaged_files_are_reported_and_skipped() {
    let tmp = TempDir::new("damaged");
    let store = Store::open(tmp.path()).unwrap();
    let mut paths = Vec::new();
    for i in 0..5 {
        paths.push(store.write(minute(i), &file_for(minute(i))).unwrap());
    }
    // Minute 1: one flipped bit in the payload.
    let mut bytes = fs::read(&paths[1]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    fs::write(&paths[1], &bytes).unwrap();
    // Minute 2: cut short.
    let bytes = fs::read(&paths[2]).unwrap();
    fs::write(&paths[2], &bytes[..bytes.len() / 2]).unwrap();
    // Minute 3: emptied.
    fs::write(&paths[3], b"").unwrap();

    let read = store.read_range(0, 5 * MINUTE).unwrap();
    assert_eq!(windows_of(&read), [minute(0), minute(4)]);
    for (stored, bytes) in &read.windows {
        assert_eq!(*bytes, file_for(stored.window));
    }
    let damaged: Vec<_> = read
        .damaged
        .iter()
        .map(|d| (d.window, d.path.clone()))
        .collect();
    assert_eq!(
        damaged,
        [
            (minute(1), paths[1].clone()),
            (minute(2), paths[2].clone()),
            (minute(3), paths[3].clone()),
        ]
    );
    assert!(
        read.damaged[0].error.contains("checksum"),
        "{}",
        read.damaged[0].error
    );
    assert!(
        read.damaged[1].error.contains("truncated"),
        "{}",
        read.damaged[1].error
    );
    assert!(
        read.damaged[2].error.contains("empty"),
        "{}",
        read.damaged[2].error
    );

    // A range that misses the damaged files reports nothing.
    let read = store.read_range(4 * MINUTE, 5 * MINUTE).unwrap();
    assert!(read.damaged.is_empty());
    assert_eq!(windows_of(&read), [minute(4)]);
    // Listing does not read files: damaged ones are listed.
    assert_eq!(store.list().unwrap().len(), 5);
}

#[test]
fn unrelated_files_are_ignored() {
    let tmp = TempDir::new("unrelated");
    let store = Store::open(tmp.path()).unwrap();
    store.write(minute(0), &file_for(minute(0))).unwrap();
    let canonical = store.path_of(minute(1)).unwrap();
    for name in [
        "README.md",
        "window-60000-120000.sxp", // not zero-padded: not a canonical name
        "window-0000000060000-0000000120000.sxp.bak",
        "window-0000000120000-0000000060000.sxp", // ends before it starts
        ".window-0000000060000-0000000120000.sxp.99-0.tmp",
        "prediction-log.jsonl",
    ] {
        fs::write(tmp.path().join(name), file_for(minute(1))).unwrap();
    }
    // A directory with a window's name is not a window file.
    fs::create_dir(&canonical).unwrap();

    let listed = store.list().unwrap();
    assert_eq!(
        listed.iter().map(|s| s.window).collect::<Vec<_>>(),
        [minute(0)]
    );
    let read = store.read_range(i64::MIN, i64::MAX).unwrap();
    assert_eq!(windows_of(&read), [minute(0)]);
    assert!(read.damaged.is_empty());
    // Retention leaves them alone too.
    assert_eq!(store.remove_older_than(i64::MAX).unwrap(), 1);
    assert_eq!(names_in(tmp.path()).len(), 7);
}

#[test]
fn leftover_temp_file_is_ignored_and_cleaned_by_retention() {
    let tmp = TempDir::new("tmp-files");
    let store = Store::open(tmp.path()).unwrap();
    store.write(minute(5), &file_for(minute(5))).unwrap();
    // As a crash mid-write leaves them: a partial file, under a temporary name.
    let stale = tmp
        .path()
        .join(".window-0000000060000-0000000120000.sxp.4242-0.tmp");
    let fresh = tmp
        .path()
        .join(".window-0000000120000-0000000180000.sxp.4242-1.tmp");
    let partial = &file_for(minute(1))[..10];
    fs::write(&stale, partial).unwrap();
    fs::write(&fresh, partial).unwrap();
    let long_ago = SystemTime::now() - STALE_TMP_AGE - STALE_TMP_AGE;
    fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();

    assert_eq!(
        store
            .list()
            .unwrap()
            .iter()
            .map(|s| s.window)
            .collect::<Vec<_>>(),
        [minute(5)]
    );
    let read = store.read_range(i64::MIN, i64::MAX).unwrap();
    assert_eq!(windows_of(&read), [minute(5)]);
    assert!(read.damaged.is_empty());

    // Retention removes no window here, but the stale temporary file goes; the fresh one
    // may belong to a write in progress and stays.
    assert_eq!(store.remove_older_than(0).unwrap(), 0);
    assert!(!stale.exists());
    assert!(fresh.exists());
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn retention_removes_exactly_the_old_windows() {
    let tmp = TempDir::new("retention");
    let store = Store::open(tmp.path()).unwrap();
    for i in 0..10 {
        store.write(minute(i), &file_for(minute(i))).unwrap();
    }
    // A window ending exactly at the cutoff goes; one ending after it stays.
    assert_eq!(store.remove_older_than(3 * MINUTE).unwrap(), 3);
    let left: Vec<_> = store.list().unwrap().iter().map(|s| s.window).collect();
    assert_eq!(left, (3..10).map(minute).collect::<Vec<_>>());
    // A cutoff inside a window keeps it.
    assert_eq!(store.remove_older_than(4 * MINUTE - 1).unwrap(), 0);
    assert_eq!(store.remove_older_than(4 * MINUTE + 1).unwrap(), 1);
    assert_eq!(store.remove_older_than(i64::MIN).unwrap(), 0);
    assert_eq!(store.list().unwrap().len(), 6);
    assert_eq!(store.remove_older_than(i64::MAX).unwrap(), 6);
    assert!(store.list().unwrap().is_empty());
    assert!(names_in(tmp.path()).is_empty());
}

#[test]
fn invalid_windows_are_rejected() {
    let tmp = TempDir::new("invalid");
    let store = Store::open(tmp.path()).unwrap();
    for window in [
        Window::new(-MINUTE, 0),
        Window::new(MINUTE, MINUTE),
        Window::new(2 * MINUTE, MINUTE),
    ] {
        let err = store.write(window, &file_for(window)).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidWindow { window: w, .. } if w == window),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("invalid window ["), "{err}");
        assert!(store.path_of(window).is_err());
    }
    assert!(names_in(tmp.path()).is_empty());
}

#[test]
fn invalid_contents_are_rejected_and_the_old_file_kept() {
    let tmp = TempDir::new("contents");
    let store = Store::open(tmp.path()).unwrap();
    store.write(minute(0), &file_for(minute(0))).unwrap();
    let good = file_for(minute(0));
    for bad in [
        &b""[..],
        b"{\"not\": \"a profile\"}",
        &good[..good.len() - 1],
    ] {
        let err = store.write(minute(0), bad).unwrap_err();
        assert!(matches!(err, StoreError::InvalidContents { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("refusing to store window"),
            "{err}"
        );
    }
    let read = store.read_range(0, MINUTE).unwrap();
    assert_eq!(read.windows[0].1, good);
    assert_eq!(names_in(tmp.path()).len(), 1);
}
