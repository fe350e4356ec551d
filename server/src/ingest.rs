//! Reading tabular files into profiles: CSV with a header, and JSON Lines.
//!
//! Each column's kind is inferred from the first [`INFER_ROWS`] rows: whole numbers make
//! an `integral` column, other numbers a `numeric` one, `true`/`false` a `boolean` one,
//! anything else `categorical` — or `text` where the user says so. After that the file
//! is streamed: later values of another type are counted as wrong-typed, not dropped.

use anyhow::{Context, Result, bail};
use sextant::{DatasetProfile, FeatureKind, ProfileView, Schema, Value, Window};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::Path;
use std::time::{Duration, Instant};

/// Rows read before the column kinds are fixed.
pub const INFER_ROWS: usize = 1000;

/// How to read and profile a file.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// CSV delimiter; guessed from the header line when `None`.
    pub delimiter: Option<u8>,
    /// Columns to treat as free text.
    pub text_columns: Vec<String>,
    /// Show a progress line on stderr (only when it is a terminal).
    pub progress: bool,
}

/// One field as read, before the column's kind is known.
fn parse_field(field: &str) -> Value<'_> {
    let f = field.trim();
    if f.is_empty() {
        return Value::Missing;
    }
    if let Ok(i) = f.parse::<i64>() {
        return Value::Int(i);
    }
    if let Ok(x) = f.parse::<f64>() {
        return Value::Float(x);
    }
    match f {
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => Value::Str(field),
    }
}

/// The value of `field` in a column of `kind`.
fn typed_field(field: &str, kind: FeatureKind) -> Value<'_> {
    match kind {
        FeatureKind::Categorical | FeatureKind::Text { .. } => {
            if field.trim().is_empty() {
                Value::Missing
            } else {
                Value::Str(field)
            }
        }
        _ => parse_field(field),
    }
}

/// Infers a column's kind from sample values.
fn infer_kind<'a>(values: impl Iterator<Item = Value<'a>>) -> FeatureKind {
    let (mut ints, mut floats, mut bools, mut others) = (0, 0, 0, 0);
    for v in values {
        match v {
            Value::Missing => {}
            Value::Int(_) => ints += 1,
            Value::Float(_) => floats += 1,
            Value::Bool(_) => bools += 1,
            _ => others += 1,
        }
    }
    if others > 0 || (bools > 0 && ints + floats > 0) {
        FeatureKind::Categorical
    } else if bools > 0 {
        FeatureKind::Boolean
    } else if floats > 0 {
        FeatureKind::Numeric
    } else if ints > 0 {
        FeatureKind::Integral
    } else {
        // Nothing but missing values in the sample: numbers are the likelier kind.
        FeatureKind::Numeric
    }
}

/// Progress on stderr, redrawn at most every 100 ms, only on a terminal.
struct Progress {
    enabled: bool,
    total: u64,
    last: Instant,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool, total: u64) -> Self {
        let now = Instant::now();
        Progress {
            enabled: enabled && std::io::stderr().is_terminal(),
            total,
            last: now,
            started: now,
        }
    }

    fn update(&mut self, bytes: u64, rows: u64) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last = Instant::now();
        let pct = if self.total > 0 {
            (bytes as f64 / self.total as f64 * 100.0).min(100.0)
        } else {
            0.0
        };
        let width = 30;
        let filled = (pct / 100.0 * width as f64) as usize;
        eprint!(
            "\r  [{}{}] {pct:5.1}%  {rows} rows  {:.1}s",
            "#".repeat(filled),
            "-".repeat(width - filled),
            self.started.elapsed().as_secs_f64()
        );
    }

    fn finish(&self, rows: u64) {
        if self.enabled {
            eprintln!(
                "\r  profiled {rows} rows in {:.2}s{}",
                self.started.elapsed().as_secs_f64(),
                " ".repeat(30)
            );
        }
    }
}

/// Counts bytes read through it, for progress, and refuses a stretch of more than
/// [`MAX_LINE`] bytes without a line break.
struct Counting<R> {
    inner: R,
    bytes: std::rc::Rc<std::cell::Cell<u64>>,
    /// Bytes read since the last line break.
    line: u64,
}

/// The longest stretch without a line break read: a CSV field may span lines, but a
/// gigabyte without one is no table (`/dev/zero`, a binary file), and would be held in
/// memory whole.
const MAX_LINE: u64 = 256 << 20;

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.set(self.bytes.get() + n as u64);
        self.line = match buf[..n].iter().rposition(|&b| b == b'\n') {
            Some(i) => (n - i - 1) as u64,
            None => self.line + n as u64,
        };
        if self.line > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "over {} MiB without a line break at byte {}: not CSV or JSON Lines",
                    MAX_LINE >> 20,
                    self.bytes.get()
                ),
            ));
        }
        Ok(n)
    }
}

/// Profiles a CSV or JSON Lines file (by extension `.jsonl`, `.ndjson` or `.json`, in
/// any case, else CSV).
///
/// # Errors
///
/// The file cannot be read, or is not valid CSV / JSON Lines; the message names the
/// file and the line.
pub fn profile_file(path: &Path, opts: &IngestOptions) -> Result<ProfileView> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bytes = std::rc::Rc::new(std::cell::Cell::new(0));
    let reader = Counting {
        inner: file,
        bytes: bytes.clone(),
        line: 0,
    };
    let mut progress = Progress::new(opts.progress, total);
    let is_jsonl = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["jsonl", "ndjson", "json"]
            .iter()
            .any(|j| e.eq_ignore_ascii_case(j))
    });
    let now = sextant::time::now_ms();
    let window = Window::new(now, now);
    let profile = if is_jsonl {
        profile_jsonl(BufReader::new(reader), window, opts, &mut |rows| {
            progress.update(bytes.get(), rows)
        })
    } else {
        profile_csv(BufReader::new(reader), window, opts, &mut |rows| {
            progress.update(bytes.get(), rows)
        })
    }
    .with_context(|| format!("in `{}`", path.display()))?;
    progress.finish(profile.rows());
    Ok(profile)
}

fn guess_delimiter(header: &str) -> u8 {
    [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|&d| header.bytes().filter(|&b| b == d).count())
        .unwrap_or(b',')
}

/// Profiles CSV with a header line from `reader`.
///
/// # Errors
///
/// Malformed CSV (with its line), an empty input, or a header with duplicate names.
pub fn profile_csv<R: BufRead>(
    mut reader: R,
    window: Window,
    opts: &IngestOptions,
    on_progress: &mut dyn FnMut(u64),
) -> Result<ProfileView> {
    let mut first = String::new();
    reader
        .read_line(&mut first)
        .context("cannot read the header line")?;
    if first.is_empty() {
        bail!("the file is empty: expected a header line naming the columns");
    }
    if first.trim().is_empty() {
        bail!("line 1 is blank: expected a header line naming the columns");
    }
    let delimiter = opts.delimiter.unwrap_or_else(|| guess_delimiter(&first));
    let chained = std::io::Cursor::new(first.into_bytes()).chain(reader);
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(chained);
    let headers: Vec<String> = csv
        .headers()
        .context("cannot read the header line")?
        .iter()
        .enumerate()
        .map(|(i, h)| match h.trim() {
            // pandas writes its index so: name it by its place, and say so.
            "" => {
                tracing::warn!(
                    "column {} has no name: profiled as `column_{}`",
                    i + 1,
                    i + 1
                );
                format!("column_{}", i + 1)
            }
            h => h.to_owned(),
        })
        .collect();
    let mut seen = HashSet::new();
    if let Some(dup) = headers.iter().find(|h| !seen.insert(h.as_str())) {
        bail!("the header names column `{dup}` twice");
    }
    for t in &opts.text_columns {
        if !headers.contains(t) {
            bail!(
                "--text {t}: no such column (columns: {})",
                headers.join(", ")
            );
        }
    }
    let line_of = |e: &csv::Error| e.position().map(|p| p.line()).unwrap_or(0);
    let mut sample: Vec<csv::StringRecord> = Vec::new();
    let mut records = csv.records();
    for rec in records.by_ref() {
        let rec = rec.map_err(|e| anyhow::anyhow!("line {}: {e}", line_of(&e)))?;
        sample.push(rec);
        if sample.len() >= INFER_ROWS {
            break;
        }
    }
    let schema: Schema = headers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let kind = if opts.text_columns.contains(name) {
                FeatureKind::Text { keep_raw: false }
            } else {
                infer_kind(sample.iter().map(|r| parse_field(r.get(i).unwrap_or(""))))
            };
            (name.clone(), kind)
        })
        .collect();
    let kinds: Vec<FeatureKind> = schema.features().map(|(_, k)| k).collect();
    let mut profile = DatasetProfile::new(&schema, window);
    let record_one = |profile: &mut DatasetProfile, rec: &csv::StringRecord| {
        let row: Vec<Value<'_>> = rec
            .iter()
            .zip(&kinds)
            .map(|(f, &k)| typed_field(f, k))
            .collect();
        profile.record_row(&row);
    };
    for rec in &sample {
        record_one(&mut profile, rec);
    }
    let mut n = sample.len() as u64;
    for rec in records {
        let rec = rec.map_err(|e| anyhow::anyhow!("line {}: {e}", line_of(&e)))?;
        record_one(&mut profile, &rec);
        n += 1;
        if n.is_multiple_of(4096) {
            on_progress(n);
        }
    }
    Ok(profile.view())
}

fn json_value(v: &serde_json::Value) -> Value<'_> {
    match v {
        serde_json::Value::Null => Value::Missing,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s),
        _ => Value::Other,
    }
}

/// Profiles JSON Lines (one object per line) from `reader`.
///
/// # Errors
///
/// A line that is not a JSON object (with its number), or an unreadable input.
pub fn profile_jsonl<R: BufRead>(
    reader: R,
    window: Window,
    opts: &IngestOptions,
    on_progress: &mut dyn FnMut(u64),
) -> Result<ProfileView> {
    let mut lines = reader.lines().enumerate();
    let mut sample: Vec<serde_json::Map<String, serde_json::Value>> = Vec::new();
    let parse = |(i, line): (usize, std::io::Result<String>)| -> Result<Option<_>> {
        let line = line.with_context(|| format!("line {}: cannot read", i + 1))?;
        if line.trim().is_empty() {
            return Ok(None);
        }
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
            // A whole array on the line, or the start of one spread over lines.
            _ if line.trim_start().starts_with('[') => bail!(
                "line {}: a JSON array: expected JSON Lines, one object a line",
                i + 1
            ),
            Ok(_) => bail!("line {}: expected a JSON object", i + 1),
            Err(e) => {
                // serde's own position is within the line: give the file's line, and
                // the column.
                let text = e.to_string();
                let what = text
                    .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
                    .unwrap_or(&text);
                bail!("line {}, column {}: {what}", i + 1, e.column())
            }
        }
    };
    for item in lines.by_ref() {
        if let Some(obj) = parse(item)? {
            sample.push(obj);
            if sample.len() >= INFER_ROWS {
                break;
            }
        }
    }
    if sample.is_empty() {
        bail!("the file is empty: expected JSON objects, one a line");
    }
    let mut names: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for obj in &sample {
        for k in obj.keys() {
            if seen.insert(k) {
                names.push(k.clone());
            }
        }
    }
    for t in &opts.text_columns {
        if !seen.contains(t.as_str()) {
            bail!(
                "--text {t}: no such key in the first {} objects (keys: {})",
                sample.len(),
                names.join(", ")
            );
        }
    }
    let schema: Schema = names
        .iter()
        .map(|name| {
            let kind = if opts.text_columns.contains(name) {
                FeatureKind::Text { keep_raw: false }
            } else {
                infer_kind(
                    sample
                        .iter()
                        .map(|o| o.get(name).map_or(Value::Missing, json_value)),
                )
            };
            (name.clone(), kind)
        })
        .collect();
    let mut profile = DatasetProfile::new(&schema, window);
    // Values each feature had; the rows without one are counted missing at the end
    // (a key absent from a row costs nothing there, however many keys there are).
    let mut present: Vec<u64> = vec![0; names.len()];
    let mut record = |profile: &mut DatasetProfile, obj: &serde_json::Map<_, _>| {
        for (name, v) in obj {
            let i = match profile.position(name) {
                Some(i) => i,
                // A key first seen after the sample: its kind inferred from its first
                // value (and missing, at the end, from every row without it).
                None => profile.add_feature(name, infer_kind(std::iter::once(json_value(v)))),
            };
            if present.len() <= i {
                present.resize(i + 1, 0);
            }
            present[i] += 1;
            profile.record_at(i, json_value(v));
        }
        profile.add_rows(1);
    };
    for obj in &sample {
        record(&mut profile, obj);
    }
    let mut n = sample.len() as u64;
    for item in lines {
        if let Some(obj) = parse(item)? {
            record(&mut profile, &obj);
            n += 1;
            if n.is_multiple_of(4096) {
                on_progress(n);
            }
        }
    }
    for (i, &had) in present.iter().enumerate() {
        profile.record_missing_at(i, n - had);
    }
    Ok(profile.view())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonl_with(text: &str, opts: &IngestOptions) -> Result<ProfileView> {
        profile_jsonl(text.as_bytes(), Window::new(0, 1), opts, &mut |_| {})
    }

    fn jsonl(text: &str) -> Result<ProfileView> {
        jsonl_with(text, &IngestOptions::default())
    }

    fn csv(text: &str) -> Result<ProfileView> {
        profile_csv(
            text.as_bytes(),
            Window::new(0, 1),
            &IngestOptions::default(),
            &mut |_| {},
        )
    }

    #[test]
    fn kinds_are_inferred_per_column() {
        let view = csv("a;b;c;d\n1;1.5;x;true\n2;;y;false\n").unwrap();
        let kinds: Vec<_> = view.features().map(|(n, f)| (n, f.kind())).collect();
        assert_eq!(
            kinds,
            [
                ("a", FeatureKind::Integral),
                ("b", FeatureKind::Numeric),
                ("c", FeatureKind::Categorical),
                ("d", FeatureKind::Boolean)
            ]
        );
        assert_eq!(view.feature("b").unwrap().counts().missing(), 1);
    }

    #[test]
    fn jsonl_counts_wrong_types_and_absent_keys() {
        let text =
            "{\"x\": 1.5, \"c\": \"red\"}\n{\"x\": \"oops\"}\n\n{\"x\": null, \"c\": \"white\"}\n";
        let view = jsonl(text).unwrap();
        assert_eq!(view.rows(), 3);
        let x = view.feature("x").unwrap();
        assert_eq!((x.count(), x.wrong_type(), x.counts().missing()), (1, 1, 1));
        assert_eq!(view.feature("c").unwrap().counts().missing(), 1);
    }

    #[test]
    fn malformed_input_names_the_line() {
        let err = jsonl("{\"x\": 1}\n{\"x\": \n").unwrap_err();
        assert!(format!("{err:#}").contains("line 2, column 6"), "{err:#}");
        for array in ["[{\"x\": 1}]\n", "[\n{\"x\": 1}\n]\n"] {
            let err = jsonl(array).unwrap_err();
            assert!(format!("{err:#}").contains("a JSON array"), "{err:#}");
        }
        let err = csv("a,b\n1,2\n3\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 3"), "{err:#}");
    }

    #[test]
    fn jsonl_keys_first_seen_late_are_missing_before_and_after() {
        // INFER_ROWS objects without `late`, one with it, two without.
        let mut text = "{\"x\": 1}\n".repeat(INFER_ROWS);
        text.push_str("{\"x\": 2, \"late\": 7}\n{\"x\": 3}\n{\"x\": 4}\n");
        let view = jsonl(&text).unwrap();
        assert_eq!(view.rows(), INFER_ROWS as u64 + 3);
        let late = view.feature("late").unwrap();
        assert_eq!(late.count(), 1);
        assert_eq!(late.counts().missing(), INFER_ROWS as u64 + 2);
    }

    #[test]
    fn jsonl_refuses_an_empty_file_and_an_unknown_text_key() {
        let run =
            |text: &str, opts: &IngestOptions| format!("{:#}", jsonl_with(text, opts).unwrap_err());
        assert!(run("\n\n", &IngestOptions::default()).contains("empty"));
        let opts = IngestOptions {
            text_columns: vec!["nosuch".into()],
            ..IngestOptions::default()
        };
        let err = run("{\"x\": \"a b\"}\n", &opts);
        assert!(
            err.contains("--text nosuch") && err.contains("keys: x"),
            "{err}"
        );
    }

    #[test]
    fn a_stretch_of_bytes_without_a_line_break_is_refused() {
        let counting = |inner: Box<dyn Read>| Counting {
            inner,
            bytes: std::rc::Rc::new(std::cell::Cell::new(0)),
            line: 0,
        };
        let err = std::io::copy(
            &mut counting(Box::new(std::io::repeat(0).take(MAX_LINE + 10))),
            &mut std::io::sink(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("without a line break"), "{err}");
        // As many bytes in lines of 1 KiB pass.
        struct Lines(u64);
        impl Read for Lines {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(1024).min(self.0 as usize);
                if n > 0 {
                    buf[..n].fill(b'x');
                    buf[n - 1] = b'\n';
                }
                self.0 -= n as u64;
                Ok(n)
            }
        }
        let lines = Box::new(Lines(MAX_LINE + 10 * 1024));
        let n = std::io::copy(&mut counting(lines), &mut std::io::sink()).unwrap();
        assert_eq!(n, MAX_LINE + 10 * 1024);
    }

    #[test]
    fn a_column_without_a_name_is_named_by_its_place_and_a_blank_first_line_said_so() {
        let view = csv(",a\n0,1.5\n1,2.5\n").unwrap();
        let names: Vec<_> = view.features().map(|(n, _)| n).collect();
        assert_eq!(names, ["column_1", "a"]);
        let err = format!("{:#}", csv("\na,b\n1,2\n").unwrap_err());
        assert!(err.contains("line 1 is blank"), "{err}");
        assert!(format!("{:#}", csv("").unwrap_err()).contains("empty"));
    }
}
