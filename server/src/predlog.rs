//! The prediction log: every prediction, and the ground truth joined to it later, in
//! SQLite (`predictions.sqlite` in the data directory, WAL mode).
//!
//! The request path only enqueues a record on a bounded channel; one writer thread
//! lets predictions gather for a few milliseconds (`LINGER`, 5 ms), then writes whatever is
//! queued in one transaction and commits, so under load each commit carries hundreds of
//! rows, while feedback and flushes are committed at once. A commit
//! is a `write` to the WAL file (`synchronous = NORMAL`): it survives `kill -9` of the
//! process at once, and SQLite's journaling keeps the file consistent whatever happens;
//! after a power cut the last commits before a checkpoint may be lost, never corrupted.
//! Feedback goes through the same channel, so it is ordered after the prediction it
//! joins, and its reply is sent only once the feedback is committed.
//!
//! Table `predictions`: `prediction_id` (primary key), `time_ms` (unix ms),
//! `model_version`, `prediction`, `actual`, `feedback_time_ms`, `origin` (`local`, or
//! `remote` for feedback to a prediction another replica made), then one `REAL` column per
//! feature, named as the feature ([`feature_column`]; NULL when payload logging is off), so
//! `SELECT alcohol_pct_vol, prediction, actual FROM predictions` needs no JSON. Table
//! `meta` holds the served model's feature names in order. A log written before the
//! features had columns (one JSON `features` column) is converted when it is opened.

use crate::ids::PredictionId;
use rusqlite::{Connection, OpenFlags, params};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The log's file name in the data directory.
pub const FILE_NAME: &str = "predictions.sqlite";
/// Records queued before the request path waits for the writer.
const QUEUE: usize = 16 * 1024;
/// Messages written in one transaction at most.
const MAX_BATCH: usize = 4096;
/// How often retention runs, at most.
const RETENTION_EVERY: Duration = Duration::from_secs(60);
/// How long the writer lets predictions gather after the first one of a batch: one
/// commit then writes each touched page once for many rows, instead of once per row
/// (feedback and flushes are written without waiting). Under saturating load, 5 ms gave
/// a lower p99 than 20 ms (shorter bursts of the writer on a shared core) at the same
/// throughput and CPU; 1 and 2 ms were no better (`benches/RESULTS.md`).
const LINGER: Duration = Duration::from_millis(5);

/// One prediction to log. Up to [`Features::INLINE`] features, it holds no heap memory:
/// a record is allocated by a request thread and dropped by the writer thread, and a
/// cross-thread `free` cost the writer a seventh of its time (`benches/RESULTS.md`).
#[derive(Debug)]
pub struct LoggedPrediction {
    /// Its id.
    pub id: PredictionId,
    /// When, unix ms.
    pub time_ms: i64,
    /// The prediction.
    pub prediction: f64,
    /// The features in model order (`None` when payload logging is off).
    pub features: Option<Features>,
}

/// The features of one logged prediction, inline up to [`Features::INLINE`] of them.
#[derive(Debug)]
pub struct Features {
    len: usize,
    inline: [f64; Features::INLINE],
    /// Empty (not allocated) unless there are more than `INLINE` features.
    spilled: Vec<f64>,
}

impl Features {
    /// Features held without allocation.
    pub const INLINE: usize = 16;

    /// A copy of `values`.
    pub fn new(values: &[f64]) -> Features {
        let mut inline = [0.0; Features::INLINE];
        let spilled = match inline.get_mut(..values.len()) {
            Some(head) => {
                head.copy_from_slice(values);
                Vec::new()
            }
            None => values.to_vec(),
        };
        Features {
            len: values.len(),
            inline,
            spilled,
        }
    }

    /// The values, in model order.
    pub fn as_slice(&self) -> &[f64] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

/// Ground truth for one prediction, already verified.
#[derive(Debug, Clone)]
pub struct Feedback {
    /// The prediction's id.
    pub id: String,
    /// When the prediction was made (from the id).
    pub time_ms: i64,
    /// The prediction (from the id).
    pub prediction: f64,
    /// The model version, if the id's fingerprint matches the served model.
    pub model_version: Option<String>,
    /// The ground truth.
    pub actual: f64,
    /// When it arrived, unix ms.
    pub feedback_ms: i64,
}

/// What became of one feedback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Joined to its prediction now.
    Joined,
    /// The prediction already had ground truth: the first one, `kept`, stays.
    Duplicate {
        /// The ground truth the log holds.
        kept: f64,
    },
}

// Unboxed on purpose: a boxed record is a cross-thread free in the writer.
#[allow(clippy::large_enum_variant)]
enum Msg {
    One(LoggedPrediction),
    Many(Vec<LoggedPrediction>),
    Feedback(Vec<Feedback>, oneshot::Sender<Result<Vec<Outcome>, String>>),
    Flush(oneshot::Sender<()>),
}

/// Errors of the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// SQLite failed.
    #[error("prediction log: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The writer thread has stopped.
    #[error("prediction log: the writer has stopped")]
    Stopped,
    /// The writer could not write.
    #[error("prediction log: {0}")]
    Write(String),
}

/// The prediction log of one server.
pub struct PredictionLog {
    tx: mpsc::Sender<Msg>,
    counts: Arc<Mutex<Counts>>,
    path: PathBuf,
}

/// The table without its feature columns, which [`PredictionLog::open`] adds.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS predictions (
    prediction_id TEXT PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    model_version TEXT,
    prediction REAL NOT NULL,
    actual REAL,
    feedback_time_ms INTEGER,
    origin TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX IF NOT EXISTS predictions_time_ms ON predictions(time_ms);
DROP INDEX IF EXISTS predictions_time;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

fn open_rw(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// Opens an existing log for reading and export (read-write, so a log left by `kill -9`
/// is recovered from its WAL first, and one written with a JSON `features` column is
/// converted, as the server would).
///
/// # Errors
///
/// No log there, not a SQLite database, or the conversion failed.
pub fn open_existing(data_dir: &Path) -> Result<Connection, LogError> {
    let path = data_dir.join(FILE_NAME);
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    if columns(&conn)?.iter().any(|c| c == "features") {
        let names = feature_names(&conn);
        add_feature_columns(&conn, &names)?;
    }
    Ok(conn)
}

/// Column names a feature's column never takes: the table's own columns, the one JSON
/// column of logs written before features had columns, and SQLite's names for the rowid.
const RESERVED: [&str; 11] = [
    "prediction_id",
    "time_ms",
    "model_version",
    "prediction",
    "actual",
    "feedback_time_ms",
    "origin",
    "features",
    "rowid",
    "oid",
    "_rowid_",
];

/// The column of the log holding a feature: its name, or `feature_` and its name for a
/// name the table uses itself (a feature called `prediction` is logged as
/// `feature_prediction`).
pub fn feature_column(name: &str) -> String {
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        format!("feature_{name}")
    } else {
        name.to_owned()
    }
}

/// `name` as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The columns of table `predictions`.
fn columns(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('predictions')")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Adds a `REAL` column for each of `names` the table lacks, and converts a log written
/// with one JSON `features` column ([`convert_json_features`]).
fn add_feature_columns(conn: &Connection, names: &[String]) -> Result<(), LogError> {
    let have = columns(conn)?;
    let tx = conn.unchecked_transaction()?;
    add_columns(&tx, &have, names.iter().map(|n| feature_column(n)))?;
    tx.commit()?;
    if have.iter().any(|c| c == "features") {
        convert_json_features(conn)?;
    }
    Ok(())
}

/// Adds a `REAL` column for each of `wanted` not in `have` (ASCII case aside).
fn add_columns(
    conn: &Connection,
    have: &[String],
    wanted: impl Iterator<Item = String>,
) -> rusqlite::Result<()> {
    let mut added: Vec<String> = Vec::new();
    for column in wanted {
        if !have
            .iter()
            .chain(&added)
            .any(|c| c.eq_ignore_ascii_case(&column))
        {
            conn.execute_batch(&format!(
                "ALTER TABLE predictions ADD COLUMN {} REAL",
                quoted(&column)
            ))?;
            added.push(column);
        }
    }
    Ok(())
}

/// Rows converted in one transaction.
const CONVERT_STEP: usize = 10_000;

/// Moves the values of a log written with one JSON `features` column into one column a
/// key, for every key the objects hold (models may have changed over the log's life).
/// Each step of [`CONVERT_STEP`] rows is its own transaction and clears the JSON it
/// converted, so a conversion cut short resumes where it stopped. A row whose JSON is
/// not an object of numbers (damaged, or edited by hand) keeps it as it is. The
/// `features` column is dropped at the end, unless such rows remain,
/// two keys share a column (names that differ only in ASCII case) or something the user
/// made uses it: then it stays, with a warning, and the log is used as it is.
fn convert_json_features(conn: &Connection) -> Result<(), LogError> {
    let keys: Vec<String> = conn
        .prepare(
            "SELECT DISTINCT j.key FROM predictions, json_each(predictions.features) AS j
             WHERE json_valid(predictions.features)
               AND json_type(predictions.features) = 'object'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut columns_of_keys: Vec<String> = keys.iter().map(|k| feature_column(k)).collect();
    let shared = {
        let mut lower: Vec<String> = columns_of_keys
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        lower.sort_unstable();
        lower.windows(2).any(|w| w[0] == w[1])
    };
    if shared {
        tracing::warn!(
            ?keys,
            "prediction log: features whose names differ only in case share a column; \
             the JSON `features` column is kept as it is and not converted"
        );
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    add_columns(&tx, &columns(&tx)?, columns_of_keys.iter().cloned())?;
    tx.commit()?;
    let assignments: Vec<String> = columns_of_keys
        .drain(..)
        .enumerate()
        .map(|(i, c)| format!("{} = ?{}", quoted(&c), i + 2))
        .chain(std::iter::once("features = NULL".to_owned()))
        .collect();
    let update = format!(
        "UPDATE predictions SET {} WHERE rowid = ?1",
        assignments.join(", ")
    );
    let (mut converted, mut kept, mut last) = (0u64, 0u64, i64::MIN);
    loop {
        let tx = conn.unchecked_transaction()?;
        let step: Vec<(i64, String)> = tx
            .prepare_cached(
                "SELECT rowid, features FROM predictions
                 WHERE features IS NOT NULL AND rowid > ?1 ORDER BY rowid LIMIT ?2",
            )?
            .query_map(params![last, CONVERT_STEP as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some(&(end, _)) = step.last() else {
            break;
        };
        let mut stmt = tx.prepare_cached(&update)?;
        for (rowid, json) in &step {
            // Only an object of numbers (or nulls) moves into the columns; anything
            // else keeps its JSON, untouched, so nothing in it is lost.
            let object = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json)
                .ok()
                .filter(|o| o.values().all(|v| v.is_number() || v.is_null()));
            let Some(object) = object else {
                kept += 1;
                continue;
            };
            stmt.raw_bind_parameter(1, rowid)?;
            for (i, key) in keys.iter().enumerate() {
                stmt.raw_bind_parameter(i + 2, object.get(key).and_then(|v| v.as_f64()))?;
            }
            stmt.raw_execute()?;
            converted += 1;
        }
        drop(stmt);
        tx.commit()?;
        last = end;
        tracing::info!(
            rows = converted,
            "prediction log: converting features to columns"
        );
    }
    if kept > 0 {
        tracing::warn!(
            rows = kept,
            "prediction log: features that are not an object of numbers stay as JSON \
             in the `features` column, which is kept"
        );
        return Ok(());
    }
    match conn.execute_batch("ALTER TABLE predictions DROP COLUMN features") {
        Ok(()) => tracing::info!(
            rows = converted,
            "prediction log: features moved into one column each"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            "prediction log: features moved into one column each; the emptied JSON \
             `features` column stays (something uses it)"
        ),
    }
    Ok(())
}

/// The feature names stored in a log's `meta` table, in model order.
pub fn feature_names(conn: &Connection) -> Vec<String> {
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'feature_names'",
        [],
        |r| r.get::<_, String>(0),
    )
    .ok()
    .and_then(|s| serde_json::from_str(&s).ok())
    .unwrap_or_default()
}

impl PredictionLog {
    /// Opens (creating if needed) the log in `data_dir` and starts its writer.
    ///
    /// # Errors
    ///
    /// The database cannot be opened or its schema created.
    pub fn open(
        data_dir: &Path,
        model_version: &str,
        feature_names: Vec<String>,
        retention_ms: i64,
        horizon_ms: i64,
    ) -> Result<Self, LogError> {
        std::fs::create_dir_all(data_dir).map_err(|e| LogError::Write(e.to_string()))?;
        let path = data_dir.join(FILE_NAME);
        let conn = open_rw(&path)?;
        conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES)?;
        // Once checkpointed, a WAL grown past this (a burst, the backstop) is cut back.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        conn.execute_batch(SCHEMA)?;
        let mut taken: Vec<String> = Vec::new();
        for name in &feature_names {
            let column = feature_column(name);
            if let Some(other) = taken.iter().find(|c| c.eq_ignore_ascii_case(&column)) {
                return Err(LogError::Write(format!(
                    "two features would share the column `{column}` (with `{other}`): \
                     feature names must differ other than in ASCII case, and from \
                     `feature_` and a column of the log"
                )));
            }
            taken.push(column);
        }
        add_feature_columns(&conn, &feature_names)?;
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('feature_names', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![serde_json::to_string(&feature_names).unwrap_or_default()],
        )?;
        let counts = Arc::new(Mutex::new(Counts::load(&conn, horizon_ms)?));
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = Writer {
            conn,
            rows: RowWriter::new(model_version, &feature_names),
            retention_ms,
            last_retention: None,
            counts: counts.clone(),
        };
        let checkpoints = Checkpointer::start(&path)?;
        std::thread::Builder::new()
            .name("prediction-log".into())
            .spawn(move || {
                // The writer's connection closes as `run` returns; the checkpointer's,
                // the last one, then checkpoints once more and removes the WAL.
                writer.run(rx);
                checkpoints.stop();
            })
            .map_err(|e| LogError::Write(e.to_string()))?;
        Ok(PredictionLog { tx, counts, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues predictions (waits only if the writer is 16,384 messages behind). A single
    /// prediction, the common request, is queued without a `Vec` around it. The records
    /// are taken before the returned future first waits, so `records` may borrow.
    pub fn record<I>(&self, records: I) -> impl Future<Output = ()> + Send + '_
    where
        I: IntoIterator<Item = LoggedPrediction>,
        I::IntoIter: ExactSizeIterator,
    {
        let mut records = records.into_iter();
        let msg = match (records.len(), records.next()) {
            (_, None) => None,
            (1, Some(one)) => Some(Msg::One(one)),
            (_, Some(first)) => Some(Msg::Many(std::iter::once(first).chain(records).collect())),
        };
        async move {
            if let Some(msg) = msg
                && self.tx.send(msg).await.is_err()
            {
                tracing::error!("prediction log writer has stopped: prediction not logged");
            }
        }
    }

    /// Joins ground truth, in order; answers once it is committed.
    ///
    /// # Errors
    ///
    /// The writer has stopped or could not write.
    pub async fn feedback(&self, items: Vec<Feedback>) -> Result<Vec<Outcome>, LogError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Feedback(items, reply))
            .await
            .map_err(|_| LogError::Stopped)?;
        rx.await
            .map_err(|_| LogError::Stopped)?
            .map_err(LogError::Write)
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// `(predictions, with ground truth)` in the log made since `since_ms` (to the
    /// second; at most the horizon given to [`PredictionLog::open`] back), from counts
    /// the writer keeps as it commits — no scan of the table.
    pub fn coverage(&self, since_ms: i64) -> (u64, u64) {
        lock(&self.counts).since(since_ms)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Rows and rows with ground truth per second of prediction time, over a span.
struct Counts {
    span_ms: i64,
    by_second: BTreeMap<i64, (u64, u64)>,
}

impl Counts {
    /// Counts of the rows already in the log over the last `span_ms`.
    fn load(conn: &Connection, span_ms: i64) -> rusqlite::Result<Counts> {
        let mut counts = Counts {
            span_ms,
            by_second: BTreeMap::new(),
        };
        let since = sextant::time::now_ms().saturating_sub(span_ms);
        let mut stmt = conn.prepare(
            "SELECT time_ms / 1000, count(*), count(actual) FROM predictions
             WHERE time_ms >= ?1 GROUP BY 1",
        )?;
        let mut rows = stmt.query(params![since])?;
        while let Some(r) = rows.next()? {
            let (s, n, k): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            counts.by_second.insert(s, (n as u64, k as u64));
        }
        Ok(counts)
    }

    fn apply(&mut self, deltas: &[(i64, u64, u64)]) {
        for &(t, dn, dk) in deltas {
            let e = self.by_second.entry(t.div_euclid(1000)).or_default();
            e.0 += dn;
            e.1 += dk;
        }
        let oldest = (sextant::time::now_ms() - self.span_ms).div_euclid(1000) - 1;
        self.by_second = self.by_second.split_off(&oldest);
    }

    fn since(&self, since_ms: i64) -> (u64, u64) {
        self.by_second
            .range(since_ms.div_euclid(1000)..)
            .fold((0, 0), |(n, k), (_, (dn, dk))| (n + dn, k + dk))
    }
}

/// Copies the WAL into the database in small steps, on a thread of its own.
///
/// SQLite's own checkpoint runs in the committing thread once the WAL holds 1,000 pages:
/// under load that was a burst of several milliseconds of one of the two cores every
/// half second, and requests queued behind it made the p99 (6.5 ms against 3.5 ms
/// without the log; 4,000 pages: 8.8 ms; 100 pages: 4.8 ms — `benches/RESULTS.md`).
/// Here a `PASSIVE` checkpoint, which never waits for or blocks the writer, runs every
/// [`CHECKPOINT_EVERY`], so each copies a few hundred kilobytes, and its `fsync`s do not
/// hold up the writer. Should it fall behind (a slow disk), the writer checkpoints
/// itself once the WAL reaches [`BACKSTOP_PAGES`].
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// How often a failing checkpoint is reported, at most.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// How often the checkpointer runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// WAL pages at which the writer checkpoints itself (40 MB).
const BACKSTOP_PAGES: i64 = 10_000;
/// Bytes a WAL is truncated to when it restarts after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, LogError> {
        let conn = open_rw(path)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("prediction-log-checkpoint".into())
            .spawn(move || {
                let mut warned = None;
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    // (busy, WAL frames, frames copied); busy while the writer's own
                    // backstop checkpoint runs, then the next round catches up.
                    let done = conn
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
                    if let Err(e) = done
                        && warned.is_none_or(|t: Instant| t.elapsed() >= WARN_EVERY)
                    {
                        // Not every round: a full disk would fail them all.
                        warned = Some(Instant::now());
                        tracing::warn!(error = %e, "prediction log: checkpoint failed");
                    }
                }
            })
            .map_err(|e| LogError::Write(e.to_string()))?;
        Ok(Checkpointer { stop, thread })
    }

    /// Stops the thread and waits for it.
    fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

struct Writer {
    conn: Connection,
    rows: RowWriter,
    retention_ms: i64,
    last_retention: Option<Instant>,
    counts: Arc<Mutex<Counts>>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        self.retention();
        while let Some(first) = rx.blocking_recv() {
            if matches!(first, Msg::One(_) | Msg::Many(_)) {
                std::thread::sleep(LINGER);
            }
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            self.write(batch);
            if self
                .last_retention
                .is_none_or(|t| t.elapsed() >= RETENTION_EVERY)
            {
                self.retention();
            }
        }
    }

    fn retention(&mut self) {
        self.last_retention = Some(Instant::now());
        let cutoff = sextant::time::now_ms().saturating_sub(self.retention_ms);
        match self.conn.execute(
            "DELETE FROM predictions WHERE time_ms < ?1",
            params![cutoff],
        ) {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "retention: removed old predictions"),
            Err(e) => tracing::warn!(error = %e, "prediction log retention failed"),
        }
    }

    fn write(&mut self, batch: Vec<Msg>) {
        let mut replies = Vec::new();
        let mut deltas = Vec::new();
        let result = self.write_tx(batch, &mut replies, &mut deltas);
        match &result {
            Ok(()) => lock(&self.counts).apply(&deltas),
            Err(e) => tracing::error!(error = %e, "prediction log: batch not written"),
        }
        for (reply, outcomes) in replies {
            let r = match &result {
                Ok(()) => Ok(outcomes),
                Err(e) => Err(e.to_string()),
            };
            let _ = reply.send(r);
        }
    }

    #[allow(clippy::type_complexity)]
    fn write_tx(
        &mut self,
        batch: Vec<Msg>,
        replies: &mut Vec<(oneshot::Sender<Result<Vec<Outcome>, String>>, Vec<Outcome>)>,
        deltas: &mut Vec<(i64, u64, u64)>,
    ) -> rusqlite::Result<()> {
        let mut flushes = Vec::new();
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut join = tx.prepare_cached(
                "INSERT INTO predictions
                 (prediction_id, time_ms, model_version, prediction, actual, feedback_time_ms, origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'remote')
                 ON CONFLICT(prediction_id) DO UPDATE
                 SET actual = excluded.actual, feedback_time_ms = excluded.feedback_time_ms
                 WHERE predictions.actual IS NULL
                 RETURNING origin",
            )?;
            let mut kept =
                tx.prepare_cached("SELECT actual FROM predictions WHERE prediction_id = ?1")?;
            for msg in batch {
                match msg {
                    Msg::One(p) => self.rows.push(&tx, p, deltas)?,
                    Msg::Many(ps) => {
                        for p in ps {
                            self.rows.push(&tx, p, deltas)?;
                        }
                    }
                    Msg::Feedback(items, reply) => {
                        // It may join a prediction still pending.
                        self.rows.flush(&tx, deltas)?;
                        let mut outcomes = Vec::with_capacity(items.len());
                        for f in &items {
                            let mut rows = join.query(params![
                                f.id,
                                f.time_ms,
                                f.model_version,
                                f.prediction,
                                f.actual,
                                f.feedback_ms
                            ])?;
                            // A row back: joined, as a new (remote) row or an update.
                            let outcome = match rows.next()? {
                                Some(r) => {
                                    let origin: String = r.get(0)?;
                                    let new_row = u64::from(origin == "remote");
                                    deltas.push((f.time_ms, new_row, 1));
                                    Outcome::Joined
                                }
                                // The row is there with ground truth (this transaction
                                // sees its own writes); a value that is no number (a
                                // log edited by hand) answers with the one sent rather
                                // than failing the batch.
                                None => Outcome::Duplicate {
                                    kept: match kept.query_row(params![f.id], |r| r.get(0)) {
                                        Ok(actual) => actual,
                                        Err(rusqlite::Error::InvalidColumnType(..)) => f.actual,
                                        Err(e) => return Err(e),
                                    },
                                },
                            };
                            drop(rows);
                            outcomes.push(outcome);
                        }
                        replies.push((reply, outcomes));
                    }
                    Msg::Flush(reply) => flushes.push(reply),
                }
            }
            self.rows.flush(&tx, deltas)?;
        }
        let committed = tx.commit();
        for f in flushes {
            let _ = f.send(());
        }
        committed
    }
}

/// Rows per multi-row `INSERT` at most: one statement for 32 rows costs the writer a
/// quarter less than 32 statements (`benches/RESULTS.md`).
const CHUNK: usize = 32;
/// Parameters of one statement at most (SQLite's limit is 32,766).
const MAX_PARAMETERS: usize = 32_000;
/// Parameters bound per prediction besides its features (the model version, the same
/// for every row, is bound once as `?1`).
const FIXED: usize = 3;

/// Writes predictions as rows, many per statement.
struct RowWriter {
    model_version: String,
    /// Features per row.
    features: usize,
    /// Rows per statement at most: `CHUNK`, or fewer for a model with very many features.
    chunk: usize,
    /// `INSERT` statements for 1, 2, 4, … `chunk` rows: index `i` holds `2^i` rows.
    inserts: Vec<String>,
    /// Predictions not yet inserted (fewer than `chunk`).
    pending: Vec<LoggedPrediction>,
}

impl RowWriter {
    fn new(model_version: &str, feature_names: &[String]) -> RowWriter {
        let per_row = FIXED + feature_names.len();
        let most = ((MAX_PARAMETERS - 1) / per_row).clamp(1, CHUNK);
        let chunk = 1 << most.ilog2();
        let columns: String = ["prediction_id", "time_ms", "model_version", "prediction"]
            .into_iter()
            .map(str::to_owned)
            .chain(feature_names.iter().map(|n| quoted(&feature_column(n))))
            .collect::<Vec<_>>()
            .join(", ");
        // Row `i` binds `?(2 + i * per_row)` onwards: id, time, prediction, features.
        let row = |i: usize| {
            let at = 2 + i * per_row;
            let features = (0..feature_names.len()).map(|j| format!(",?{}", at + FIXED + j));
            format!(
                "(?{},?{},?1,?{}{})",
                at,
                at + 1,
                at + 2,
                features.collect::<String>()
            )
        };
        let sizes = std::iter::successors(Some(1), |&k| (k < chunk).then_some(k * 2));
        let inserts = sizes
            .map(|k| {
                let values: Vec<String> = (0..k).map(row).collect();
                // `OR IGNORE` (an id logged already is kept) needs no statement journal,
                // unlike a statement that may abort half-way: that journal cost the
                // writer a tenth of its time.
                format!(
                    "INSERT OR IGNORE INTO predictions ({columns}) VALUES {}",
                    values.join(",")
                )
            })
            .collect();
        RowWriter {
            model_version: model_version.to_owned(),
            features: feature_names.len(),
            chunk,
            inserts,
            pending: Vec::with_capacity(chunk),
        }
    }

    /// Adds a prediction, inserting a chunk once `CHUNK` are pending.
    fn push(
        &mut self,
        tx: &Connection,
        p: LoggedPrediction,
        deltas: &mut Vec<(i64, u64, u64)>,
    ) -> rusqlite::Result<()> {
        self.pending.push(p);
        if self.pending.len() < self.chunk {
            return Ok(());
        }
        self.flush(tx, deltas)
    }

    /// Inserts the pending predictions.
    fn flush(
        &mut self,
        tx: &Connection,
        deltas: &mut Vec<(i64, u64, u64)>,
    ) -> rusqlite::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let result = self.insert(tx, &pending, deltas);
        self.pending = pending;
        self.pending.clear();
        result
    }

    /// Inserts `rows` (ignoring an id already logged) and adds a count for each row
    /// written to `deltas`.
    fn insert(
        &mut self,
        tx: &Connection,
        mut rows: &[LoggedPrediction],
        deltas: &mut Vec<(i64, u64, u64)>,
    ) -> rusqlite::Result<()> {
        while !rows.is_empty() {
            let log2 = rows.len().min(self.chunk).ilog2() as usize;
            let (now, later) = rows.split_at(1 << log2);
            let mut stmt = tx.prepare_cached(&self.inserts[log2])?;
            stmt.raw_bind_parameter(1, self.model_version.as_str())?;
            for (i, p) in now.iter().enumerate() {
                let at = 2 + i * (FIXED + self.features);
                stmt.raw_bind_parameter(at, p.id.as_str())?;
                stmt.raw_bind_parameter(at + 1, p.time_ms)?;
                stmt.raw_bind_parameter(at + 2, p.prediction)?;
                let values = p.features.as_ref().map(Features::as_slice);
                for j in 0..self.features {
                    // NULL without payload logging (and for a non-finite value).
                    let x = values.and_then(|v| v.get(j)).filter(|x| x.is_finite());
                    stmt.raw_bind_parameter(at + FIXED + j, x.copied())?;
                }
            }
            let written = stmt.raw_execute()?;
            if written == now.len() {
                deltas.extend(now.iter().map(|p| (p.time_ms, 1, 0)));
            } else {
                // Some ids were logged already. The rows this statement wrote took the
                // consecutive rowids up to the last one: count those.
                let last = tx.last_insert_rowid();
                let mut times = tx.prepare_cached(
                    "SELECT time_ms FROM predictions WHERE rowid > ?1 AND rowid <= ?2",
                )?;
                let mut found = times.query(params![last - written as i64, last])?;
                while let Some(r) = found.next()? {
                    deltas.push((r.get(0)?, 1, 0));
                }
            }
            rows = later;
        }
        Ok(())
    }
}

/// Output format of [`export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV with a header: the log's columns, times in RFC 3339, one column per feature.
    Csv,
    /// One JSON object per line, features as a nested object.
    JsonLines,
}

/// Which rows [`export`] writes.
#[derive(Debug, Clone, Copy)]
pub struct ExportFilter {
    /// Predictions made at or after this time, unix ms.
    pub since_ms: Option<i64>,
    /// Predictions made before this time, unix ms.
    pub until_ms: Option<i64>,
    /// Only predictions with ground truth.
    pub with_feedback: bool,
}

/// Writes the log's predictions (oldest first) to `out`; returns the rows written.
///
/// # Errors
///
/// The query or a write fails.
pub fn export(
    conn: &Connection,
    filter: ExportFilter,
    format: ExportFormat,
    out: impl std::io::Write,
) -> anyhow::Result<u64> {
    use sextant::time::format_rfc3339 as t;
    let names = feature_names(conn);
    let mut sql = String::from(
        "SELECT prediction_id, time_ms, model_version, prediction, actual, feedback_time_ms,
                origin",
    );
    for name in &names {
        sql.push_str(", ");
        sql.push_str(&quoted(&feature_column(name)));
    }
    sql.push_str(" FROM predictions WHERE time_ms >= ?1 AND time_ms < ?2");
    if filter.with_feedback {
        sql.push_str(" AND actual IS NOT NULL");
    }
    sql.push_str(" ORDER BY time_ms, prediction_id");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params![
        filter.since_ms.unwrap_or(i64::MIN),
        filter.until_ms.unwrap_or(i64::MAX)
    ])?;
    let (mut csv, mut json) = match format {
        ExportFormat::Csv => (Some(csv::Writer::from_writer(out)), None),
        ExportFormat::JsonLines => (None, Some(std::io::BufWriter::new(out))),
    };
    if let Some(w) = &mut csv {
        let mut header: Vec<&str> = vec![
            "prediction_id",
            "time",
            "model_version",
            "prediction",
            "actual",
            "feedback_time",
            "origin",
        ];
        header.extend(names.iter().map(String::as_str));
        w.write_record(&header)?;
    }
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let time_ms: i64 = r.get(1)?;
        let version: Option<String> = r.get(2)?;
        let prediction: f64 = r.get(3)?;
        let actual: Option<f64> = r.get(4)?;
        let feedback_ms: Option<i64> = r.get(5)?;
        let origin: String = r.get(6)?;
        let features = (0..names.len())
            .map(|i| r.get::<_, Option<f64>>(7 + i))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        match (&mut csv, &mut json) {
            (Some(w), _) => {
                let mut rec = vec![
                    id,
                    t(time_ms),
                    version.unwrap_or_default(),
                    prediction.to_string(),
                    actual.map(|a| a.to_string()).unwrap_or_default(),
                    feedback_ms.map(t).unwrap_or_default(),
                    origin,
                ];
                rec.extend(features.iter().map(|x| {
                    x.map(|x| serde_json::Value::from(x).to_string())
                        .unwrap_or_default()
                }));
                w.write_record(&rec)?;
            }
            (None, Some(out)) => {
                let line = serde_json::json!({
                    "prediction_id": id,
                    "time": t(time_ms),
                    "model_version": version,
                    "prediction": prediction,
                    "actual": actual,
                    "feedback_time": feedback_ms.map(t),
                    "origin": origin,
                    // Without payload logging: null, as before the features had columns.
                    "features": features.iter().any(Option::is_some).then(|| {
                        names
                            .iter()
                            .zip(&features)
                            .map(|(n, x)| (n.clone(), serde_json::Value::from(*x)))
                            .collect::<serde_json::Map<_, _>>()
                    }),
                });
                serde_json::to_writer(&mut *out, &line)?;
                out.write_all(b"\n")?;
            }
            (None, None) => unreachable!("one writer per format"),
        }
        n += 1;
    }
    if let Some(w) = &mut csv {
        w.flush()?;
    }
    if let Some(out) = &mut json {
        out.flush()?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch is written in multi-row chunks; an id already logged is ignored (and the
    /// rest of its chunk still written and counted once, by time); feedback in the same
    /// batch joins a prediction queued before it.
    #[tokio::test]
    async fn chunks_write_every_prediction_once() {
        let dir = temp_dir("chunks");
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let log = PredictionLog::open(&dir, "v1", names, i64::MAX / 4, 3_600_000).unwrap();
        let ids = crate::ids::IdSigner::new(b"k", "v1");
        let now = sextant::time::now_ms();
        // Even ids now, odd ones ten seconds ago.
        let time = |i: usize| now - (i % 2) as i64 * 10_000;
        let record = |i: usize, id| LoggedPrediction {
            id,
            time_ms: time(i),
            prediction: 5.0,
            features: Some(Features::new(&[1.0, 2.5])),
        };
        let issued: Vec<PredictionId> = (0..100).map(|i| ids.issue(time(i), 5.0)).collect();
        // 3 chunks of 32 and 4 more; the third chunk repeats an id of the first in place
        // of id 70 (which is never logged).
        let mut batch: Vec<LoggedPrediction> = issued
            .iter()
            .enumerate()
            .map(|(i, &id)| record(i, id))
            .collect();
        batch[70] = record(3, issued[3]);
        log.record(batch).await;
        log.record([record(99, issued[99])]).await;
        let info = ids.verify(issued[99].as_str()).unwrap();
        let joined = log
            .feedback(vec![Feedback {
                id: issued[99].to_string(),
                time_ms: info.time_ms,
                prediction: 5.0,
                model_version: Some("v1".into()),
                actual: 6.0,
                feedback_ms: now,
            }])
            .await
            .unwrap();
        assert_eq!(joined, vec![Outcome::Joined]);
        log.flush().await;
        let conn = open_existing(&dir).unwrap();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT count(*) FROM predictions"), 99);
        assert_eq!(
            count("SELECT count(DISTINCT prediction_id) FROM predictions"),
            99
        );
        assert_eq!(
            count("SELECT count(*) FROM predictions WHERE origin = 'local'"),
            99
        );
        assert_eq!(count("SELECT count(*) FROM predictions WHERE b = 2.5"), 99);
        assert_eq!(count("SELECT count(actual) FROM predictions"), 1);
        assert_eq!(log.coverage(now - 20_000), (99, 1));
        assert_eq!(log.coverage(now - 5_000), (49, 0));
        drop(log);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Features are kept inline up to `INLINE`, on the heap beyond, and read back whole.
    #[test]
    fn features_keep_every_value() {
        for n in [0, 1, 11, Features::INLINE, Features::INLINE + 1, 40] {
            let values: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
            let f = Features::new(&values);
            assert_eq!(f.as_slice(), values.as_slice());
            assert_eq!(
                f.spilled.capacity() > 0,
                n > Features::INLINE,
                "{n} features"
            );
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sextant-predlog-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn exported_lines(dir: &Path) -> Vec<serde_json::Value> {
        let conn = open_existing(dir).unwrap();
        let filter = ExportFilter {
            since_ms: None,
            until_ms: None,
            with_feedback: false,
        };
        let mut out = Vec::new();
        export(&conn, filter, ExportFormat::JsonLines, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Each feature has a column of its own, named as the feature (`feature_` first for
    /// a name the table uses itself), and reads back as the same number.
    #[tokio::test]
    async fn features_read_back_exactly_from_their_columns() {
        let dir = temp_dir("columns");
        let names = [
            "a",
            "b \"quoted\"",
            "c\\d",
            "é",
            "prediction",
            "Origin",
            "g",
        ];
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let log = PredictionLog::open(&dir, "v1", names.clone(), i64::MAX / 4, 60_000).unwrap();
        let ids = crate::ids::IdSigner::new(b"k", "v1");
        let values = [0.1 + 0.2, 1e-7, 1e21, 7.0, f64::MAX, 5e-324, f64::NAN];
        let now = sextant::time::now_ms();
        for features in [Some(Features::new(&values)), None] {
            log.record([LoggedPrediction {
                id: ids.issue(now, 5.0),
                time_ms: now,
                prediction: 5.0,
                features,
            }])
            .await;
        }
        log.flush().await;
        let conn = open_existing(&dir).unwrap();
        let column: Vec<String> = columns(&conn).unwrap()[7..].to_vec();
        let expected = [
            "a",
            "b \"quoted\"",
            "c\\d",
            "é",
            "feature_prediction",
            "feature_Origin",
            "g",
        ];
        assert_eq!(column, expected);
        let stored: Option<f64> = conn
            .query_row(
                "SELECT feature_prediction FROM predictions WHERE a IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, Some(f64::MAX));
        let lines = exported_lines(&dir);
        assert_eq!(lines.len(), 2);
        let logged = lines.iter().find(|l| !l["features"].is_null()).unwrap();
        for (name, x) in names.iter().zip(values) {
            let back = logged["features"][name].as_f64();
            assert_eq!(back, x.is_finite().then_some(x), "{name} in {logged}");
        }
        drop(log);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The WAL is copied into the database while the log runs, long before the writer's
    /// own checkpoint would (`BACKSTOP_PAGES`).
    #[tokio::test]
    async fn the_checkpointer_copies_the_wal_into_the_database() {
        let dir = temp_dir("checkpoint");
        let names: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
        let log = PredictionLog::open(&dir, "v1", names, i64::MAX / 4, 60_000).unwrap();
        let ids = crate::ids::IdSigner::new(b"k", "v1");
        let now = sextant::time::now_ms();
        let batch: Vec<_> = (0..3000)
            .map(|i| LoggedPrediction {
                id: ids.issue(now, 5.0),
                time_ms: now,
                prediction: 5.0,
                features: Some(Features::new(&[i as f64 * 0.25; 11])),
            })
            .collect();
        log.record(batch).await;
        log.flush().await;
        let size = || std::fs::metadata(dir.join(FILE_NAME)).map_or(0, |m| m.len());
        let start = Instant::now();
        // 3,000 rows are ~230 pages, far below the backstop's 10,000.
        while size() < 500_000 && start.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
        assert!(size() >= 500_000, "database file still {} bytes", size());
        drop(log);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A log in `dir` as written before the features had columns, `meta` naming
    /// `features`, with the rows of `values` (an SQL `VALUES` list).
    fn old_log(dir: &Path, features: &str, values: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let conn = Connection::open(dir.join(FILE_NAME)).unwrap();
        conn.execute_batch(
            "CREATE TABLE predictions (
                prediction_id TEXT PRIMARY KEY, time_ms INTEGER NOT NULL,
                model_version TEXT, prediction REAL NOT NULL, features TEXT,
                actual REAL, feedback_time_ms INTEGER,
                origin TEXT NOT NULL DEFAULT 'local');
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .unwrap();
        conn.execute("INSERT INTO meta VALUES ('feature_names', ?1)", [features])
            .unwrap();
        conn.execute_batch(&format!("INSERT INTO predictions VALUES {values}"))
            .unwrap();
    }

    /// A log whose JSON keys would share a column (`pH`, `ph`) keeps its JSON column,
    /// values untouched, and still opens; `export-predictions` converts a log as the
    /// server does.
    #[test]
    fn json_keys_sharing_a_column_are_left_as_they_are() {
        let dir = temp_dir("shared-keys");
        old_log(
            &dir,
            r#"["pH","ph"]"#,
            r#"('p1', 1000, 'v0', 5.5, '{"pH":3.5,"ph":3.6}', NULL, NULL, 'local');"#,
        );
        let conn = open_existing(&dir).unwrap();
        let json: String = conn
            .query_row("SELECT features FROM predictions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(json, r#"{"pH":3.5,"ph":3.6}"#);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Two features that would share a column are refused with the column named.
    #[test]
    fn features_sharing_a_column_are_refused() {
        let dir = temp_dir("clash");
        let names = vec!["pH".to_string(), "ph".to_string()];
        let err = PredictionLog::open(&dir, "v1", names, 1, 1).err().unwrap();
        assert!(err.to_string().contains("`ph`"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A log written with one JSON `features` column is converted when opened: each
    /// value moves into its feature's column, nothing else changes.
    #[test]
    fn a_log_with_json_features_is_converted() {
        let dir = temp_dir("convert");
        old_log(
            &dir,
            r#"["ph","old"]"#,
            r#"('p1', 1000, 'v0', 5.5, '{"ph":3.51,"old":2}', 6, 2000, 'local'),
                    ('p2', 1001, 'v0', 5.0, NULL, NULL, NULL, 'local'),
                    ('p3', 1002, 'v0', 4.0, '{"ph":3.2,"old":null}', NULL, NULL, 'local'),
                    -- A feature of an older model, in no `meta`: kept too.
                    ('p5', 1004, 'v0', 4.0, '{"ph":3.3,"gone":7}', NULL, NULL, 'local');
                -- More rows than one step of the conversion.
                WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 12000)
                INSERT INTO predictions
                SELECT 'q' || i, 2000 + i, 'v0', 5.0, '{"ph":3.0,"old":1}', NULL, NULL, 'local'
                FROM c;"#,
        );
        let names = vec!["ph".to_string(), "new".to_string()];
        let log = PredictionLog::open(&dir, "v1", names, i64::MAX / 4, 60_000).unwrap();
        drop(log);
        let conn = open_existing(&dir).unwrap();
        let column = columns(&conn).unwrap();
        assert!(!column.contains(&"features".to_string()), "{column:?}");
        let many = conn
            .query_row(
                "SELECT count(*) FROM predictions WHERE ph = 3.0 AND old = 1 AND new IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
        assert_eq!(many, 12_000);
        type Row = (String, Option<f64>, Option<f64>, Option<f64>, Option<f64>);
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT prediction_id, ph, old, new, actual FROM predictions
                 WHERE prediction_id LIKE 'p%' ORDER BY 1",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                ("p1".into(), Some(3.51), Some(2.0), None, Some(6.0)),
                ("p2".into(), None, None, None, None),
                ("p3".into(), Some(3.2), None, None, None),
                ("p5".into(), Some(3.3), None, None, None),
            ]
        );
        let gone: Option<f64> = conn
            .query_row(
                "SELECT gone FROM predictions WHERE prediction_id = 'p5'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(gone, Some(7.0));
        // The export follows the served model's features.
        let lines = exported_lines(&dir);
        assert_eq!(
            lines[0]["features"],
            serde_json::json!({"ph": 3.51, "new": null})
        );
        assert!(lines[1]["features"].is_null());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Features that are not an object of numbers (damaged JSON, strings, an array) keep
    /// their JSON, and the JSON column stays: nothing is lost; the rest is converted.
    #[test]
    fn json_features_that_are_not_numbers_are_kept_as_they_are() {
        let dir = temp_dir("keep-json");
        old_log(
            &dir,
            r#"["ph","alcohol"]"#,
            r#"('p1', 1000, 'v0', 5.5, '{"ph":3.51,"alcohol":9.4}', NULL, NULL, 'local'),
               ('p2', 1001, 'v0', 5.0, '{"ph":3.5,', NULL, NULL, 'local'),
               ('p3', 1002, 'v0', 4.0, '{"ph":"3.5","alcohol":"high"}', NULL, NULL, 'local'),
               ('p4', 1003, 'v0', 4.0, '[1,2]', NULL, NULL, 'local');"#,
        );
        for _ in 0..2 {
            // Opened twice: the second pass finds the same rows to keep, and stops.
            let conn = open_existing(&dir).unwrap();
            assert!(columns(&conn).unwrap().contains(&"features".to_string()));
            let rows: Vec<(String, Option<String>, Option<f64>)> = conn
                .prepare("SELECT prediction_id, features, ph FROM predictions ORDER BY 1")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(
                rows,
                vec![
                    ("p1".into(), None, Some(3.51)),
                    ("p2".into(), Some(r#"{"ph":3.5,"#.into()), None),
                    (
                        "p3".into(),
                        Some(r#"{"ph":"3.5","alcohol":"high"}"#.into()),
                        None
                    ),
                    ("p4".into(), Some("[1,2]".into()), None),
                ]
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
