//! `Profile` (an immutable, mergeable profile) and `profile_columns` (the bulk path).

use crate::array::borrow;
use crate::errors::{Error, Result};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sextant::image::{ImageStats, PixelFormat};
use sextant::summary::ProfileSummary;
use sextant::{
    DatasetProfile, Distribution, FeatureKind, FeatureProfile, ProfileView, Schema, Value, Window,
};

/// A profile: per-feature sketches of a dataset, immutable and mergeable.
#[pyclass(module = "sextant._native", name = "Profile", frozen)]
#[derive(Clone)]
pub struct Profile {
    pub(crate) view: ProfileView,
}

impl Profile {
    fn feature(&self, name: &str) -> Result<&FeatureProfile> {
        self.view.feature(name).ok_or_else(|| {
            let known: Vec<&str> = self.view.features().map(|(n, _)| n).collect();
            Error::Feature(format!(
                "no feature `{name}` in this profile (its features: {})",
                known.join(", ")
            ))
        })
    }

    fn distribution(&self, name: &str) -> Result<&Distribution> {
        let f = self.feature(name)?;
        match f.metrics() {
            sextant::feature::Metrics::Numeric(m) => Ok(&m.distribution),
            _ => Err(Error::Feature(format!(
                "feature `{name}` is {}, which has no quantiles (only numeric, integral and boolean features do)",
                f.kind()
            ))),
        }
    }
}

#[pymethods]
impl Profile {
    /// The empty profile (the identity of `merge`).
    #[new]
    fn new() -> Self {
        Profile {
            view: ProfileView::empty(),
        }
    }

    /// Reads a profile from sextant's file format.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Profile> {
        let view = py
            .detach(|| ProfileView::from_bytes(data))
            .map_err(Error::from)?;
        Ok(Profile { view })
    }

    /// The profile in sextant's file format.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.view.to_bytes()).map_err(Error::from)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// This profile merged with `other` (neither changes).
    fn merge(&self, py: Python<'_>, other: PyRef<'_, Profile>) -> PyResult<Profile> {
        let other = other.view.clone();
        let view = py.detach(|| self.view.merge(&other)).map_err(Error::from)?;
        Ok(Profile { view })
    }

    /// Merges many profiles (none gives the empty profile).
    #[staticmethod]
    fn merge_all(py: Python<'_>, profiles: Vec<PyRef<'_, Profile>>) -> PyResult<Profile> {
        let views: Vec<ProfileView> = profiles.iter().map(|p| p.view.clone()).collect();
        let view = py
            .detach(|| ProfileView::merge_all(&views))
            .map_err(Error::from)?;
        Ok(Profile { view })
    }

    /// Rows recorded.
    #[getter]
    fn rows(&self) -> u64 {
        self.view.rows()
    }

    /// Feature names, in profile order.
    #[getter]
    fn features(&self) -> Vec<String> {
        self.view.features().map(|(n, _)| n.to_owned()).collect()
    }

    /// The window covered, as (start, end) milliseconds since the epoch, or None.
    #[getter]
    fn window(&self) -> Option<(i64, i64)> {
        self.view.window().map(|w| (w.start_ms, w.end_ms))
    }

    /// Free tags.
    #[getter]
    fn tags(&self) -> std::collections::BTreeMap<String, String> {
        self.view.tags().clone()
    }

    /// A feature's kind (`numeric`, `integral`, `boolean`, `categorical`, `text`, ...).
    fn kind(&self, feature: &str) -> PyResult<&'static str> {
        Ok(self.feature(feature)?.kind().name())
    }

    /// The profile's summary as JSON (the shape of `sextant show --json`).
    fn summary_json(&self) -> PyResult<String> {
        serde_json::to_string(&ProfileSummary::of(&self.view))
            .map_err(|e| Error::Input(format!("summary not representable as JSON: {e}")).into())
    }

    /// Estimated values at ranks `qs` (each in [0, 1]); None where the feature has no
    /// finite value.
    fn quantiles(&self, feature: &str, qs: Vec<f64>) -> PyResult<Vec<Option<f64>>> {
        if let Some(q) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(Error::Input(format!("quantile ranks must be in [0, 1], got {q}")).into());
        }
        let d = self.distribution(feature)?;
        Ok(qs.iter().map(|&q| d.quantile(q)).collect())
    }

    /// Estimated share of finite values ≤ each point (None if there are none).
    fn cdf(&self, feature: &str, points: Vec<f64>) -> PyResult<Option<Vec<f64>>> {
        check_sorted(&points)?;
        Ok(self.distribution(feature)?.quantiles().cdf(&points))
    }

    /// The quantile sketch's rank error ε: a quantile's true rank is within ±ε of q.
    fn rank_error(&self, feature: &str) -> PyResult<f64> {
        Ok(self.distribution(feature)?.quantiles().rank_error())
    }

    /// Finite values in the feature's distribution.
    fn finite_count(&self, feature: &str) -> PyResult<u64> {
        Ok(self.distribution(feature)?.count())
    }

    /// Pickling: rebuild from the file format.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let ctor = slf.get_type().getattr("from_bytes")?;
        Ok((ctor, (slf.get().to_bytes(py)?,)))
    }

    fn __repr__(&self) -> String {
        format!(
            "<sextant Profile: {} rows, {} features>",
            self.view.rows(),
            self.view.features().count()
        )
    }
}

fn check_sorted(points: &[f64]) -> Result<()> {
    if points.iter().any(|x| x.is_nan()) || points.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::Input(
            "points must be sorted in increasing order, without NaN".into(),
        ));
    }
    Ok(())
}

/// One column as the Python side prepares it.
enum Column<'a> {
    /// float64 values; NaN counts as missing (pandas' marker).
    Float(&'a [f64]),
    /// int64 values with an optional missing mask.
    Int(&'a [i64], Option<&'a [u8]>),
    /// bool values with an optional missing mask.
    Bool(&'a [u8], Option<&'a [u8]>),
    /// Codes into `categories`; negative codes are missing.
    Codes(&'a [i64], Vec<String>),
    /// Raw images (width, height, pixel format, pixels); None is missing.
    Images(Vec<RawImage>),
}

impl Column<'_> {
    fn len(&self) -> usize {
        match self {
            Column::Float(v) => v.len(),
            Column::Int(v, _) => v.len(),
            Column::Bool(v, _) => v.len(),
            Column::Codes(v, _) => v.len(),
            Column::Images(v) => v.len(),
        }
    }
}

fn kind_of(kind: &str, name: &str) -> Result<FeatureKind> {
    Ok(match kind {
        "numeric" => FeatureKind::Numeric,
        "integral" => FeatureKind::Integral,
        "boolean" => FeatureKind::Boolean,
        "categorical" => FeatureKind::Categorical,
        "text" => FeatureKind::Text { keep_raw: false },
        "image" => FeatureKind::Image,
        other => {
            return Err(Error::Input(format!(
                "column `{name}`: unknown kind `{other}` (numeric, integral, boolean, categorical, text or image)"
            )));
        }
    })
}

fn pixel_format(name: &str) -> Result<PixelFormat> {
    match name {
        "gray" => Ok(PixelFormat::Gray),
        "rgb" => Ok(PixelFormat::Rgb),
        "rgba" => Ok(PixelFormat::Rgba),
        other => Err(Error::Input(format!(
            "unknown pixel format `{other}` (gray, rgb or rgba)"
        ))),
    }
}

type ImageSpec = Option<(u32, u32, String, Vec<u8>)>;
type RawImage = Option<(u32, u32, PixelFormat, Vec<u8>)>;
/// A column as passed from Python: name, kind, values, extra.
type ColumnSpec<'py> = (String, String, Bound<'py, PyAny>, Option<Bound<'py, PyAny>>);

fn column<'a>(
    name: &str,
    kind: FeatureKind,
    values: &'a Bound<'_, PyAny>,
    extra: &'a Option<Bound<'_, PyAny>>,
) -> Result<Column<'a>> {
    let what = format!("column `{name}`");
    let mask = || -> Result<Option<&'a [u8]>> {
        extra
            .as_ref()
            .map(|m| borrow::<u8>(m, &format!("{what} (missing mask)")))
            .transpose()
    };
    let checked = |len: usize, mask: Option<&'a [u8]>| -> Result<Option<&'a [u8]>> {
        match mask {
            Some(m) if m.len() != len => Err(Error::Input(format!(
                "{what}: the missing mask has {} entries for {len} values",
                m.len()
            ))),
            m => Ok(m),
        }
    };
    Ok(match kind {
        FeatureKind::Numeric => Column::Float(borrow(values, &what)?),
        FeatureKind::Integral => {
            let v: &[i64] = borrow(values, &what)?;
            Column::Int(v, checked(v.len(), mask()?)?)
        }
        FeatureKind::Boolean => {
            let v: &[u8] = borrow(values, &what)?;
            Column::Bool(v, checked(v.len(), mask()?)?)
        }
        FeatureKind::Categorical | FeatureKind::Text { .. } => {
            let categories: Vec<String> = match extra {
                Some(c) => c.extract().map_err(|_| {
                    Error::Input(format!("{what}: categories must be a list of str"))
                })?,
                None => {
                    return Err(Error::Input(format!("{what}: codes need their categories")));
                }
            };
            Column::Codes(borrow(values, &what)?, categories)
        }
        FeatureKind::Image => {
            let specs: Vec<ImageSpec> = values.extract().map_err(|_| {
                Error::Input(format!(
                    "{what}: images must be (width, height, format, pixel bytes) or None"
                ))
            })?;
            let images = specs
                .into_iter()
                .map(|s| {
                    s.map(|(w, h, f, px)| Ok((w, h, pixel_format(&f)?, px)))
                        .transpose()
                })
                .collect::<Result<_>>()?;
            Column::Images(images)
        }
        FeatureKind::Magnitude => {
            return Err(Error::Input(format!(
                "{what}: magnitude columns are not profiled from Python"
            )));
        }
    })
}

/// Records a float column: finite runs through the bulk path, NaN as missing.
fn record_floats(f: &mut FeatureProfile, xs: &[f64]) {
    let mut rest = xs;
    while !rest.is_empty() {
        let run = rest.iter().position(|x| x.is_nan()).unwrap_or(rest.len());
        f.record_f64_slice(&rest[..run]);
        rest = &rest[run..];
        let nans = rest.iter().take_while(|x| x.is_nan()).count();
        for _ in 0..nans {
            f.record(Value::Missing);
        }
        rest = &rest[nans..];
    }
}

fn missing_at(mask: Option<&[u8]>, i: usize) -> bool {
    mask.is_some_and(|m| m[i] != 0)
}

fn record(name: &str, f: &mut FeatureProfile, col: &Column<'_>) -> Result<()> {
    match col {
        Column::Float(xs) => record_floats(f, xs),
        Column::Int(xs, mask) => {
            for (i, &x) in xs.iter().enumerate() {
                f.record(if missing_at(*mask, i) {
                    Value::Missing
                } else {
                    Value::Int(x)
                });
            }
        }
        Column::Bool(xs, mask) => {
            for (i, &x) in xs.iter().enumerate() {
                f.record(if missing_at(*mask, i) {
                    Value::Missing
                } else {
                    Value::Bool(x != 0)
                });
            }
        }
        Column::Codes(codes, categories) => {
            if let Some(&c) = codes.iter().find(|&&c| c >= categories.len() as i64) {
                return Err(Error::Input(format!(
                    "column `{name}`: code {c} but only {} categories",
                    categories.len()
                )));
            }
            for &c in codes.iter() {
                f.record(if c < 0 {
                    Value::Missing
                } else {
                    Value::Str(&categories[c as usize])
                });
            }
        }
        Column::Images(images) => {
            for (i, img) in images.iter().enumerate() {
                match img {
                    None => f.record(Value::Missing),
                    Some((w, h, fmt, px)) => {
                        let stats = ImageStats::from_pixels(*w, *h, *fmt, px).map_err(|e| {
                            Error::Input(format!("column `{name}`, image {i}: {e}"))
                        })?;
                        f.record_image(&stats);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Profiles prepared columns: `(name, kind, values, extra)` with `extra` a missing
/// mask (integral, boolean), the categories (categorical, text) or None.
#[pyfunction]
#[pyo3(signature = (columns, rows, window_start_ms, window_end_ms))]
pub fn profile_columns(
    py: Python<'_>,
    columns: Vec<ColumnSpec<'_>>,
    rows: usize,
    window_start_ms: i64,
    window_end_ms: i64,
) -> PyResult<Profile> {
    if window_end_ms < window_start_ms {
        return Err(Error::Input("the window ends before it starts".into()).into());
    }
    let mut schema = Schema::new();
    let mut cols = Vec::with_capacity(columns.len());
    for (name, kind, values, extra) in &columns {
        let kind = kind_of(kind, name)?;
        if schema.features().any(|(n, _)| n == name) {
            return Err(Error::Input(format!(
                "column `{name}` appears twice: give every column a distinct name"
            ))
            .into());
        }
        let col = column(name, kind, values, extra)?;
        if col.len() != rows {
            return Err(Error::Input(format!(
                "column `{name}` has {} values, expected {rows} (every column must have one value per row)",
                col.len()
            ))
            .into());
        }
        schema.push(name.as_str(), kind);
        cols.push(col);
    }
    let window = Window::new(window_start_ms, window_end_ms);
    let view = py.detach(|| profile_in_parallel(&schema, &cols, rows, window))?;
    Ok(Profile { view })
}

/// Below this many values in all, one thread does the work.
const PARALLEL_MIN_VALUES: usize = 200_000;

/// Profiles every column, one column per task, on up to as many threads as the
/// machine has cores. Each column gets its own one-feature profile; the views are then
/// joined in schema order (joining disjoint features copies them, it merges nothing),
/// so the result is identical to recording the columns one after another.
fn profile_in_parallel(
    schema: &Schema,
    cols: &[Column<'_>],
    rows: usize,
    window: Window,
) -> Result<ProfileView> {
    let features: Vec<(&str, FeatureKind)> = schema.features().collect();
    let one = |i: usize| -> Result<ProfileView> {
        let (name, kind) = features[i];
        let mut p = DatasetProfile::new(&Schema::new().with(name, kind), window);
        let f = p
            .feature_mut(name)
            .ok_or_else(|| Error::Input(format!("column `{name}` vanished")))?;
        record(name, f, &cols[i])?;
        if i == 0 {
            p.add_rows(rows as u64);
        }
        Ok(p.view())
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(cols.len());
    let views: Vec<Result<ProfileView>> =
        if threads <= 1 || rows.saturating_mul(cols.len()) < PARALLEL_MIN_VALUES {
            (0..cols.len()).map(one).collect()
        } else {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let done = std::sync::Mutex::new(Vec::with_capacity(cols.len()));
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if i >= cols.len() {
                                break;
                            }
                            let v = one(i);
                            done.lock().unwrap_or_else(|e| e.into_inner()).push((i, v));
                        }
                    });
                }
            });
            let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
            done.sort_by_key(|(i, _)| *i);
            done.into_iter().map(|(_, v)| v).collect()
        };
    if views.is_empty() {
        let mut p = DatasetProfile::new(schema, window);
        p.add_rows(rows as u64);
        return Ok(p.view());
    }
    let views = views.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(ProfileView::merge_all(&views)?)
}
