//! Dataset profiles: a live, mutable profile per window and immutable, mergeable views.
//!
//! A [`DatasetProfile`] is what a writer records into: a schema (feature → kind), one
//! [`FeatureProfile`] per feature, a row count, the window `[start, end)` it covers and
//! free tags (model version, dataset). [`DatasetProfile::view`] takes a snapshot as a
//! [`ProfileView`]: immutable, cheap to clone (shared), mergeable, and serializable in
//! the versioned file format of [`crate::format`].
//!
//! Merging views is associative and commutative, with [`ProfileView::empty`] as its
//! identity: features are matched by name (a feature on one side only is taken as it
//! is), counters add, sketches merge, the window becomes the smallest one covering
//! both, and tags are united (on a conflicting value the smaller string wins, which
//! keeps the laws).

use crate::feature::{FeatureKind, FeatureProfile, KindMismatch, Value};
use crate::format::{self, FormatError, PayloadKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A time window `[start_ms, end_ms)` in unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    /// Inclusive start.
    pub start_ms: i64,
    /// Exclusive end.
    pub end_ms: i64,
}

impl Window {
    /// The window `[start_ms, end_ms)`.
    pub const fn new(start_ms: i64, end_ms: i64) -> Self {
        Window { start_ms, end_ms }
    }

    /// The smallest window covering both.
    pub fn hull(self, other: Window) -> Window {
        Window {
            start_ms: self.start_ms.min(other.start_ms),
            end_ms: self.end_ms.max(other.end_ms),
        }
    }

    /// Whether the two windows share any instant.
    pub fn overlaps(self, other: Window) -> bool {
        self.start_ms < other.end_ms && other.start_ms < self.end_ms
    }
}

/// The features of a dataset and their kinds, in column order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    features: Vec<(String, FeatureKind)>,
}

/// A schema of the features in order, as [`Schema::push`] of each would make it (a
/// name seen again replaces its kind), in one pass however many there are.
///
/// ```
/// use sextant::{FeatureKind, Schema};
/// let s: Schema = [("a", FeatureKind::Numeric), ("b", FeatureKind::Categorical), ("a", FeatureKind::Integral)]
///     .into_iter()
///     .map(|(n, k)| (n.to_string(), k))
///     .collect();
/// let kinds: Vec<_> = s.features().collect();
/// assert_eq!(kinds, [("a", FeatureKind::Integral), ("b", FeatureKind::Categorical)]);
/// ```
impl FromIterator<(String, FeatureKind)> for Schema {
    fn from_iter<I: IntoIterator<Item = (String, FeatureKind)>>(items: I) -> Self {
        let mut at: HashMap<String, usize> = HashMap::new();
        let mut features: Vec<(String, FeatureKind)> = Vec::new();
        for (name, kind) in items {
            match at.get(&name) {
                Some(&i) => features[i].1 = kind,
                None => {
                    at.insert(name.clone(), features.len());
                    features.push((name, kind));
                }
            }
        }
        Schema { features }
    }
}

impl Schema {
    /// An empty schema.
    pub fn new() -> Self {
        Schema::default()
    }

    /// Adds a feature (replacing the kind of one already named so).
    pub fn with(mut self, name: impl Into<String>, kind: FeatureKind) -> Self {
        self.push(name, kind);
        self
    }

    /// Adds a feature (replacing the kind of one already named so). Each call reads the
    /// features so far: build a schema of many features by collecting them instead.
    pub fn push(&mut self, name: impl Into<String>, kind: FeatureKind) {
        let name = name.into();
        match self.features.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = kind,
            None => self.features.push((name, kind)),
        }
    }

    /// The features in order.
    pub fn features(&self) -> impl Iterator<Item = (&str, FeatureKind)> {
        self.features.iter().map(|(n, k)| (n.as_str(), *k))
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether there are no features.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

/// The data of a profile: what views share and what the file format stores.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ProfileData {
    window: Option<Window>,
    rows: u64,
    tags: BTreeMap<String, String>,
    features: Vec<(String, FeatureProfile)>,
}

impl ProfileData {
    fn merge(&mut self, other: &ProfileData) -> Result<(), MergeError> {
        // Check every kind first so a failed merge leaves `self` unchanged.
        for (name, f) in &other.features {
            if let Some((_, mine)) = self.features.iter().find(|(n, _)| n == name) {
                MergeError::merged_kind(name, mine.kind(), f.kind())?;
            }
        }
        for (name, f) in &other.features {
            match self.features.iter_mut().find(|(n, _)| n == name) {
                Some((_, mine)) => mine.merge(f).map_err(|source| MergeError {
                    feature: name.clone(),
                    source,
                })?,
                None => self.features.push((name.clone(), f.clone())),
            }
        }
        self.merge_header(other);
        Ok(())
    }

    /// Merges `other`'s rows, window and tags (not its features).
    fn merge_header(&mut self, other: &ProfileData) {
        self.rows += other.rows;
        self.window = match (self.window, other.window) {
            (Some(a), Some(b)) => Some(a.hull(b)),
            (a, b) => a.or(b),
        };
        for (k, v) in &other.tags {
            self.tags
                .entry(k.clone())
                .and_modify(|mine| {
                    if v < mine {
                        mine.clone_from(v);
                    }
                })
                .or_insert_with(|| v.clone());
        }
    }
}

/// One feature of many profiles to merge: its name, the kind merged so far, and its
/// profile in each view that has it, in view order.
type Occurrences<'a> = (&'a str, FeatureKind, Vec<&'a FeatureProfile>);

/// Feature merges (a feature of one view) below which [`ProfileView::merge_all`] stays
/// on the calling thread: a thread costs about as much as a few hundred small merges.
const PARALLEL_MERGES: usize = 512;

/// Merges one feature's occurrences in order, as merging the views one by one would.
fn merge_occurrences(
    name: &str,
    occurrences: &[&FeatureProfile],
) -> Result<FeatureProfile, MergeError> {
    let mut merged = occurrences[0].clone();
    for (i, f) in occurrences.iter().enumerate().skip(1) {
        // Each view's profile is in memory of its own, cold: its fields are asked for
        // two merges ahead, what its sketches' merge reads one merge ahead (once the
        // fields say where that is), so that merges seldom wait for memory.
        if let Some(ahead) = occurrences.get(i + 2) {
            crate::prefetch::one(*ahead);
        }
        let next = occurrences.get(i + 1).copied();
        merged.merge_before(f, next).map_err(|source| MergeError {
            feature: name.to_owned(),
            source,
        })?;
    }
    Ok(merged)
}

/// Two profiles hold one feature under different kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot merge feature `{feature}`: {source}")]
pub struct MergeError {
    /// The feature's name.
    pub feature: String,
    /// The kinds on each side.
    pub source: KindMismatch,
}

impl MergeError {
    /// The kind `left` and `right` of `feature` merge to, or the error saying they
    /// cannot.
    fn merged_kind(
        feature: &str,
        left: FeatureKind,
        right: FeatureKind,
    ) -> Result<FeatureKind, MergeError> {
        left.merged_with(right).ok_or_else(|| MergeError {
            feature: feature.to_owned(),
            source: KindMismatch { left, right },
        })
    }
}

/// Rows of floats a live profile holds back and records together: the sketches' bulk
/// path costs a fraction of value-by-value updates (`benches/RESULTS.md`).
const PENDING_ROWS: usize = 32;

/// Records the values of rows of floats held back (row-major, one value per feature,
/// at most [`PENDING_ROWS`] rows, already counted as rows), column by column.
fn record_held(data: &mut ProfileData, pending: &[f64]) {
    if pending.is_empty() {
        return;
    }
    let width = data.features.len();
    let mut column = [0.0; PENDING_ROWS];
    for (i, (_, f)) in data.features.iter_mut().enumerate() {
        let mut rows = 0;
        for (c, &x) in column.iter_mut().zip(pending.iter().skip(i).step_by(width)) {
            *c = x;
            rows += 1;
        }
        f.record_f64_slice(&column[..rows]);
    }
}

/// A live, mutable profile of one window, fed row by row or column by column.
///
/// Whole rows of floats ([`DatasetProfile::record_f64_row`], or [`DatasetProfile::record_row`]
/// of floats only) are held back, up to 32, and recorded together through the bulk
/// path; every other call records them first, and a view includes them.
#[derive(Debug, Clone)]
pub struct DatasetProfile {
    data: ProfileData,
    index: HashMap<String, usize>,
    /// The values of the rows held back, row-major (the rows are counted already).
    pending: Vec<f64>,
}

impl DatasetProfile {
    /// An empty profile of the features in `schema`, covering `window`.
    ///
    /// ```
    /// use sextant::{DatasetProfile, FeatureKind, Schema, Value, Window};
    /// let schema = Schema::new()
    ///     .with("alcohol", FeatureKind::Numeric)
    ///     .with("color", FeatureKind::Categorical);
    /// let mut p = DatasetProfile::new(&schema, Window::new(0, 60_000));
    /// p.record_row(&[Value::Float(9.4), Value::Str("red")]);
    /// p.record_row(&[Value::Float(10.1), Value::Missing]);
    /// let view = p.view();
    /// assert_eq!(view.rows(), 2);
    /// assert_eq!(view.feature("color").unwrap().counts().missing(), 1);
    /// ```
    pub fn new(schema: &Schema, window: Window) -> Self {
        let mut p = DatasetProfile {
            data: ProfileData {
                window: Some(window),
                ..ProfileData::default()
            },
            index: HashMap::new(),
            pending: Vec::new(),
        };
        for (name, kind) in schema.features() {
            p.add_feature(name, kind);
        }
        p
    }

    /// Adds a feature (no-op if one of that name exists) and returns its position.
    pub fn add_feature(&mut self, name: &str, kind: FeatureKind) -> usize {
        self.record_pending();
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.data.features.len();
        self.data
            .features
            .push((name.to_owned(), FeatureProfile::new(kind)));
        self.index.insert(name.to_owned(), i);
        i
    }

    /// Empties the profile of its rows and values, keeping its window, features, tags
    /// and the buffers its sketches grew (see [`FeatureProfile::reset`]): a recorder
    /// reuses a closed window's live profiles this way (with
    /// [`DatasetProfile::set_window`]), so that recording allocates only while the
    /// first windows warm up.
    ///
    /// ```
    /// use sextant::{DatasetProfile, FeatureKind, Schema, Window};
    /// let schema = Schema::new().with("x", FeatureKind::Numeric);
    /// let mut p = DatasetProfile::new(&schema, Window::new(0, 60_000));
    /// p.record_f64_row([1.5]);
    /// p.reset();
    /// p.set_window(Window::new(60_000, 120_000));
    /// let view = p.view();
    /// assert_eq!((view.rows(), view.window()), (0, Some(Window::new(60_000, 120_000))));
    /// ```
    pub fn reset(&mut self) {
        self.data.rows = 0;
        self.data.features.iter_mut().for_each(|(_, f)| f.reset());
        self.pending.clear();
    }

    /// Sets the window this profile covers.
    pub fn set_window(&mut self, window: Window) {
        self.data.window = Some(window);
    }

    /// Sets a tag (model version, dataset name, ...).
    pub fn set_tag(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.data.tags.insert(key.into(), value.into());
    }

    /// The window this profile covers.
    pub fn window(&self) -> Option<Window> {
        self.data.window
    }

    /// Records one row, its values in schema order; extra values are ignored, absent
    /// ones count as missing.
    pub fn record_row(&mut self, values: &[Value<'_>]) {
        let width = self.data.features.len();
        let start = self.pending.len();
        for v in values.iter().take(width) {
            match *v {
                Value::Float(x) => self.pending.push(x),
                _ => break,
            }
        }
        if self.pending.len() - start == width {
            self.row_held();
        } else {
            self.pending.truncate(start);
            self.record_values(values.iter().copied());
        }
    }

    /// Records one row value by value, after the rows held back; absent values count
    /// as missing.
    fn record_values<'v>(&mut self, mut values: impl Iterator<Item = Value<'v>>) {
        self.record_pending();
        for (_, f) in &mut self.data.features {
            f.record(values.next().unwrap_or(Value::Missing));
        }
        self.data.rows += 1;
    }

    /// Records one row of floats, in schema order (the request path of a model
    /// server): as [`DatasetProfile::record_row`] with [`Value::Float`]s, without
    /// building them.
    ///
    /// ```
    /// use sextant::{DatasetProfile, FeatureKind, Schema, Window};
    /// let schema = Schema::new()
    ///     .with("alcohol", FeatureKind::Numeric)
    ///     .with("quality", FeatureKind::Numeric);
    /// let mut p = DatasetProfile::new(&schema, Window::new(0, 60_000));
    /// p.record_f64_row([9.4, 5.1]);
    /// p.record_f64_row([10.1, 6.0]);
    /// let view = p.view();
    /// assert_eq!(view.rows(), 2);
    /// assert_eq!(view.feature("quality").unwrap().counts().finite(), 2);
    /// ```
    pub fn record_f64_row(&mut self, values: impl IntoIterator<Item = f64>) {
        let width = self.data.features.len();
        let start = self.pending.len();
        self.pending.extend(values.into_iter().take(width));
        if self.pending.len() - start == width {
            self.row_held();
        } else {
            // Too few values: the rest count as missing, as in `record_row`.
            let short = self.pending.split_off(start);
            self.record_values(short.into_iter().map(Value::Float));
        }
    }

    /// Counts the row just appended to `pending`; records the held rows once there are
    /// [`PENDING_ROWS`].
    fn row_held(&mut self) {
        self.data.rows += 1;
        if self.pending.len() >= PENDING_ROWS * self.data.features.len() {
            self.record_pending();
        }
    }

    /// Records the values of the rows held back.
    fn record_pending(&mut self) {
        record_held(&mut self.data, &self.pending);
        self.pending.clear();
    }

    /// Records one value of the feature at position `index` (see
    /// [`DatasetProfile::position`]) without counting a row.
    pub fn record_at(&mut self, index: usize, value: Value<'_>) {
        self.record_pending();
        if let Some((_, f)) = self.data.features.get_mut(index) {
            f.record(value);
        }
    }

    /// Counts `n` missing values of the feature at position `index`, as `n` calls of
    /// [`DatasetProfile::record_at`] with [`Value::Missing`] would.
    pub fn record_missing_at(&mut self, index: usize, n: u64) {
        self.record_pending();
        if let Some((_, f)) = self.data.features.get_mut(index) {
            f.record_missing_n(n);
        }
    }

    /// Counts `n` rows (for callers feeding values with [`DatasetProfile::record_at`]).
    pub fn add_rows(&mut self, n: u64) {
        self.data.rows += n;
    }

    /// Position of a feature by name.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Records whole numeric columns, in schema order: the bulk path. Rows counted are
    /// the longest column's length.
    pub fn record_f64_columns(&mut self, columns: &[&[f64]]) {
        self.record_pending();
        for ((_, f), col) in self.data.features.iter_mut().zip(columns) {
            f.record_f64_slice(col);
        }
        self.data.rows += columns.iter().map(|c| c.len()).max().unwrap_or(0) as u64;
    }

    /// A mutable feature profile by name.
    pub fn feature_mut(&mut self, name: &str) -> Option<&mut FeatureProfile> {
        self.record_pending();
        let i = *self.index.get(name)?;
        self.data.features.get_mut(i).map(|(_, f)| f)
    }

    /// An immutable snapshot of this profile.
    pub fn view(&self) -> ProfileView {
        let mut data = self.data.clone();
        record_held(&mut data, &self.pending);
        ProfileView {
            data: Arc::new(data),
        }
    }

    /// Merges a view into this live profile.
    ///
    /// # Errors
    ///
    /// [`MergeError`] if a feature has different kinds on each side (nothing changes).
    pub fn merge_view(&mut self, view: &ProfileView) -> Result<(), MergeError> {
        self.record_pending();
        self.data.merge(&view.data)?;
        for (i, (name, _)) in self.data.features.iter().enumerate() {
            self.index.entry(name.clone()).or_insert(i);
        }
        Ok(())
    }
}

/// An immutable, cheaply cloneable, mergeable snapshot of a profile.
#[derive(Debug, Clone, Default)]
pub struct ProfileView {
    data: Arc<ProfileData>,
}

impl ProfileView {
    /// The empty profile: the identity of [`ProfileView::merge`].
    pub fn empty() -> Self {
        ProfileView::default()
    }

    /// The window covered, if any data was recorded in one.
    pub fn window(&self) -> Option<Window> {
        self.data.window
    }

    /// Rows recorded.
    pub fn rows(&self) -> u64 {
        self.data.rows
    }

    /// The tags.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.data.tags
    }

    /// The features in order, with their profiles.
    pub fn features(&self) -> impl Iterator<Item = (&str, &FeatureProfile)> {
        self.data.features.iter().map(|(n, f)| (n.as_str(), f))
    }

    /// One feature's profile by name.
    pub fn feature(&self, name: &str) -> Option<&FeatureProfile> {
        self.data
            .features
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f)
    }

    /// The schema of this profile.
    pub fn schema(&self) -> Schema {
        Schema {
            features: self
                .data
                .features
                .iter()
                .map(|(n, f)| (n.clone(), f.kind()))
                .collect(),
        }
    }

    /// This view merged with `other` (neither changes).
    ///
    /// # Errors
    ///
    /// [`MergeError`] if a feature has different kinds on each side.
    ///
    /// ```
    /// use sextant::{DatasetProfile, FeatureKind, ProfileView, Schema, Window};
    /// let schema = Schema::new().with("x", FeatureKind::Numeric);
    /// let mut a = DatasetProfile::new(&schema, Window::new(0, 10));
    /// a.record_f64_columns(&[&[1.0, 2.0]]);
    /// let mut b = DatasetProfile::new(&schema, Window::new(10, 20));
    /// b.record_f64_columns(&[&[3.0]]);
    /// let ab = a.view().merge(&b.view())?;
    /// assert_eq!(ab.rows(), 3);
    /// assert_eq!(ab.window(), Some(Window::new(0, 20)));
    /// assert_eq!(ab.merge(&ProfileView::empty())?.rows(), 3);
    /// # Ok::<(), sextant::MergeError>(())
    /// ```
    pub fn merge(&self, other: &ProfileView) -> Result<ProfileView, MergeError> {
        let mut data = (*self.data).clone();
        data.merge(&other.data)?;
        Ok(ProfileView {
            data: Arc::new(data),
        })
    }

    /// Merges many views (an empty iterator gives the empty view): the same profile as
    /// merging them one by one with [`ProfileView::merge`], made feature by feature and,
    /// for many views, on as many threads as there are cores.
    ///
    /// # Errors
    ///
    /// [`MergeError`] on the first feature whose kinds differ.
    pub fn merge_all<'a>(
        views: impl IntoIterator<Item = &'a ProfileView>,
    ) -> Result<ProfileView, MergeError> {
        let mut data = ProfileData::default();
        // Each feature's occurrences, in order of first appearance, kinds checked as
        // merging the views one by one checks them (the same first error).
        let mut features: Vec<Occurrences<'a>> = Vec::new();
        let mut index: HashMap<&'a str, usize> = HashMap::new();
        for v in views {
            let v = &*v.data;
            for (at, (name, f)) in v.features.iter().enumerate() {
                // Views of one schema list their features in the same order: a name
                // found at the same place needs no hashing.
                let i = match features.get(at) {
                    Some((known, _, _)) if *known == name => at,
                    _ => *index.entry(name).or_insert_with(|| {
                        features.push((name, f.kind(), Vec::new()));
                        features.len() - 1
                    }),
                };
                let (_, kind, occurrences) = &mut features[i];
                *kind = MergeError::merged_kind(name, *kind, f.kind())?;
                occurrences.push(f);
            }
            data.merge_header(v);
        }
        // Feature by feature (each one's sketches stay in cache across the views), the
        // features handed out one at a time to as many threads as there are cores when
        // there are many merges (a thread slowed by a busy core takes fewer): features
        // are independent and each is merged in view order, so the result is the same.
        let merges: usize = features.iter().map(|(_, _, o)| o.len()).sum();
        let threads = if merges < PARALLEL_MERGES {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(features.len())
        };
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, _, o)) = features.get(i) else {
                    return done;
                };
                done.push((i, merge_occurrences(name, o)));
            }
        };
        let mut merged: Vec<(usize, Result<FeatureProfile, MergeError>)> =
            std::thread::scope(|scope| {
                let others: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
                let mut merged = work();
                for h in others {
                    merged.extend(
                        h.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    );
                }
                merged
            });
        merged.sort_unstable_by_key(|(i, _)| *i);
        let merged = merged.into_iter().map(|(_, f)| f);
        for ((name, _, _), f) in features.iter().zip(merged) {
            data.features.push(((*name).to_owned(), f?));
        }
        Ok(ProfileView {
            data: Arc::new(data),
        })
    }

    /// The profile in sextant's file format (magic, version, checksum, payload).
    ///
    /// # Errors
    ///
    /// [`FormatError`] if the payload cannot be encoded (it always can in practice).
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        let payload = format::to_payload(&*self.data)?;
        Ok(format::encode(PayloadKind::DatasetProfile, &payload))
    }

    /// Reads a profile written by [`ProfileView::to_bytes`] (by this or an older
    /// version).
    ///
    /// # Errors
    ///
    /// [`FormatError`] saying what is wrong: not a profile, truncated, damaged
    /// (checksum), written by a newer version, or an inconsistent payload.
    ///
    /// ```
    /// use sextant::{DatasetProfile, FeatureKind, ProfileView, Schema, Window};
    /// let schema = Schema::new().with("x", FeatureKind::Numeric);
    /// let mut p = DatasetProfile::new(&schema, Window::new(0, 10));
    /// p.record_f64_columns(&[&[1.0, 2.0, 3.0]]);
    /// let bytes = p.view().to_bytes()?;
    /// let back = ProfileView::from_bytes(&bytes)?;
    /// assert_eq!(back.rows(), 3);
    /// assert!(ProfileView::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    /// # Ok::<(), sextant::format::FormatError>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<ProfileView, FormatError> {
        let (kind, payload) = format::decode(bytes)?;
        if kind != PayloadKind::DatasetProfile {
            return Err(FormatError::Payload(format!(
                "expected a dataset profile, found payload kind {kind:?}"
            )));
        }
        let data: ProfileData = format::from_payload(payload)?;
        if let Some((name, _)) = data.features.iter().find(|(_, f)| !f.is_consistent()) {
            return Err(FormatError::Payload(format!(
                "feature `{name}`: metrics do not match its kind"
            )));
        }
        if let Some(w) = data.window
            && w.end_ms < w.start_ms
        {
            return Err(FormatError::Payload("window ends before it starts".into()));
        }
        Ok(ProfileView {
            data: Arc::new(data),
        })
    }
}
