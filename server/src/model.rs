//! The wine-quality model, served without Python.
//!
//! `server/model/train.py` fits scikit-learn's `StandardScaler` +
//! `HistGradientBoostingRegressor` and exports the fitted scaler, the baseline
//! prediction and every tree's nodes to `server/model/wine-model.json` (format
//! [`FORMAT`]). [`Model`] loads that file, validates it, and predicts with exactly the
//! floating-point operations scikit-learn performs, in the same order, so its
//! predictions are bit-identical to `model.predict(scaler.transform(X))`:
//!
//! 1. scale each feature as `StandardScaler.transform` does on dense input:
//!    `x -= mean; x /= scale` (a subtraction, then a division — not a multiplication
//!    by `1 / scale`, which differs in the last bit on some rows);
//! 2. start from `0.0 + baseline_prediction` (sklearn fills zeros, then adds the
//!    baseline) and add each tree's leaf value in tree order (summing the leaves first
//!    and adding the baseline last changes most predictions in the last bits);
//! 3. walk each tree from node 0: a NaN goes left iff `missing_go_to_left`, any other
//!    value goes left iff `x <= num_threshold`.
//!
//! `server/tests/model.rs` checks all 320 held-out rows against scikit-learn's
//! predictions bit for bit.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::Deserialize;

/// The model file format this module reads (the file's `"format"` field).
pub const FORMAT: &str = "sextant-model/1";

/// The most features a model may have; [`Model::predict`] scales them into a stack
/// buffer of this size, so it never allocates.
pub const MAX_FEATURES: usize = 64;

/// The wine model exported by `server/model/train.py`, compiled into the binary.
const EMBEDDED_JSON: &str = include_str!("../model/wine-model.json");

/// Why a model file could not be loaded, or a prediction could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The file is not valid JSON or does not have the model's shape.
    #[error("model file is not valid model JSON: {0}")]
    Json(String),
    /// The file declares a format this version does not read.
    #[error("unsupported model format {found:?} (this version reads {FORMAT:?})")]
    Format {
        /// The file's `"format"` field.
        found: String,
    },
    /// The file parses but its contents are inconsistent (indices out of range,
    /// lengths that disagree, non-finite numbers, ...).
    #[error("invalid model: {0}")]
    Invalid(String),
    /// A prediction was asked for with the wrong number of features.
    #[error("the model takes {expected} features, got {got}")]
    FeatureCount {
        /// The model's number of features.
        expected: usize,
        /// The number of features given.
        got: usize,
    },
}

impl From<serde_json::Error> for ModelError {
    fn from(err: serde_json::Error) -> Self {
        Self::Json(err.to_string())
    }
}

/// The values the server accepts for one feature: `min <= x`, and `x <= max` (or
/// `x < max` when `max_exclusive`), always finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureRange {
    /// Smallest accepted value (inclusive).
    pub min: f64,
    /// Largest accepted value, if any.
    pub max: Option<f64>,
    /// Whether `max` itself is excluded.
    pub max_exclusive: bool,
}

impl FeatureRange {
    /// Whether `value` is finite and within the range.
    #[must_use]
    pub fn contains(&self, value: f64) -> bool {
        if !value.is_finite() || value < self.min {
            return false;
        }
        match self.max {
            None => true,
            Some(max) if self.max_exclusive => value < max,
            Some(max) => value <= max,
        }
    }
}

/// One model input, in model input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    name: String,
    unit: String,
    description: String,
    range: FeatureRange,
}

impl Feature {
    /// The feature's snake-case name, e.g. `"alcohol_pct_vol"`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its unit, e.g. `"g(acetic acid)/dm³"`.
    #[must_use]
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// A one-line description.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The values the server accepts.
    #[must_use]
    pub fn range(&self) -> FeatureRange {
        self.range
    }
}

/// How the model was trained, as recorded by `train.py`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TrainingInfo {
    /// Rows in the training split.
    pub rows: u64,
    /// Rows in the held-out test split.
    pub test_rows: u64,
    /// Mean squared error on the test split.
    pub test_mse: f64,
    /// The scikit-learn version that fitted the model.
    pub sklearn_version: String,
}

/// A tree node, flattened: children are indices into [`Model::nodes`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    /// Leaf value (used only when `is_leaf`).
    value: f64,
    /// Split threshold on the scaled feature: `x <= threshold` goes left.
    threshold: f64,
    feature: u32,
    left: u32,
    right: u32,
    missing_go_to_left: bool,
    is_leaf: bool,
}

/// Trees walked side by side by [`Model::try_predict`].
const LANES: usize = 8;

impl Node {
    /// The child `x` goes to from this split node.
    #[inline]
    fn next(&self, x: &[f64]) -> u32 {
        let v = x[self.feature as usize];
        let go_left = if v.is_nan() {
            self.missing_go_to_left
        } else {
            v <= self.threshold
        };
        if go_left { self.left } else { self.right }
    }
}

/// The gradient-boosted tree model: a standard scaler followed by a sum of trees.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    version: String,
    target: String,
    features: Vec<Feature>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// `0.0 + baseline_prediction`, as sklearn starts from.
    baseline: f64,
    /// Every tree's nodes, one after another; child indices are absolute.
    nodes: Vec<Node>,
    /// Index in `nodes` of each tree's root, in tree order.
    roots: Vec<u32>,
    training: TrainingInfo,
}

#[derive(Deserialize)]
struct RawModel {
    format: String,
    model_version: String,
    target: String,
    features: Vec<RawFeature>,
    scaler: RawScaler,
    baseline_prediction: f64,
    trees: Vec<RawTree>,
    training: TrainingInfo,
}

#[derive(Deserialize)]
struct RawFeature {
    name: String,
    unit: String,
    min: f64,
    max: Option<f64>,
    #[serde(default)]
    max_exclusive: bool,
    description: String,
}

#[derive(Deserialize)]
struct RawScaler {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

#[derive(Deserialize)]
struct RawTree {
    nodes: Vec<RawNode>,
}

#[derive(Deserialize)]
struct RawNode {
    value: f64,
    feature_idx: u64,
    num_threshold: f64,
    missing_go_to_left: bool,
    left: u64,
    right: u64,
    is_leaf: bool,
}

fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::Invalid(msg.into())
}

/// Validates the feature schema: 1 to [`MAX_FEATURES`] uniquely named features with
/// finite, ordered ranges.
fn features(raw: Vec<RawFeature>) -> Result<Vec<Feature>, ModelError> {
    if raw.is_empty() || raw.len() > MAX_FEATURES {
        return Err(invalid(format!(
            "{} features (a model has 1 to {MAX_FEATURES})",
            raw.len()
        )));
    }
    let mut seen = HashSet::with_capacity(raw.len());
    let mut features = Vec::with_capacity(raw.len());
    for f in raw {
        if f.name.is_empty() || !seen.insert(f.name.clone()) {
            return Err(invalid(format!(
                "feature name {:?} is empty or repeated",
                f.name
            )));
        }
        let range = FeatureRange {
            min: f.min,
            max: f.max,
            max_exclusive: f.max_exclusive,
        };
        let ordered = match range.max {
            None => true,
            Some(max) if range.max_exclusive => range.min < max,
            Some(max) => range.min <= max,
        };
        if !range.min.is_finite() || !range.max.is_none_or(f64::is_finite) || !ordered {
            return Err(invalid(format!(
                "feature {:?}: bad range {range:?}",
                f.name
            )));
        }
        features.push(Feature {
            name: f.name,
            unit: f.unit,
            description: f.description,
            range,
        });
    }
    Ok(features)
}

/// Validates the trees and flattens them into one node array (absolute child
/// indices) plus each tree's root index.
fn trees(raw: Vec<RawTree>, n_features: usize) -> Result<(Vec<Node>, Vec<u32>), ModelError> {
    let total: usize = raw.iter().map(|t| t.nodes.len()).sum();
    if u32::try_from(total).is_err() {
        return Err(invalid(format!("{total} nodes is too many")));
    }
    let mut nodes = Vec::with_capacity(total);
    let mut roots = Vec::with_capacity(raw.len());
    for (t, tree) in raw.into_iter().enumerate() {
        let len = tree.nodes.len();
        if len == 0 {
            return Err(invalid(format!("tree {t} has no nodes")));
        }
        let offset = nodes.len();
        roots.push(index(offset)?);
        for (i, node) in tree.nodes.into_iter().enumerate() {
            let at = |what: String| invalid(format!("tree {t} node {i}: {what}"));
            if node.is_leaf {
                if !node.value.is_finite() {
                    return Err(at("leaf value is not finite".into()));
                }
                nodes.push(Node {
                    value: node.value,
                    threshold: 0.0,
                    feature: 0,
                    left: 0,
                    right: 0,
                    missing_go_to_left: false,
                    is_leaf: true,
                });
                continue;
            }
            let feature = usize::try_from(node.feature_idx)
                .ok()
                .filter(|&f| f < n_features)
                .ok_or_else(|| {
                    at(format!(
                        "feature_idx {} out of range ({n_features} features)",
                        node.feature_idx
                    ))
                })?;
            if !node.num_threshold.is_finite() {
                return Err(at("num_threshold is not finite".into()));
            }
            // Children must come after their parent, so every walk ends at a leaf.
            let child = |c: u64| {
                usize::try_from(c)
                    .ok()
                    .filter(|&c| c > i && c < len)
                    .ok_or_else(|| {
                        at(format!(
                            "child {c} out of range (must be in {}..{len})",
                            i + 1
                        ))
                    })
            };
            let (left, right) = (child(node.left)?, child(node.right)?);
            nodes.push(Node {
                value: node.value,
                threshold: node.num_threshold,
                feature: index(feature)?,
                left: index(offset + left)?,
                right: index(offset + right)?,
                missing_go_to_left: node.missing_go_to_left,
                is_leaf: false,
            });
        }
    }
    Ok((nodes, roots))
}

/// A node or feature index as stored in [`Node`].
fn index(i: usize) -> Result<u32, ModelError> {
    u32::try_from(i).map_err(|_| invalid(format!("index {i} does not fit in 32 bits")))
}

impl Model {
    /// Parses and validates a model file (format [`FORMAT`]).
    ///
    /// # Errors
    ///
    /// [`ModelError::Json`] if `json` is not JSON of the model's shape,
    /// [`ModelError::Format`] if it declares another format, and
    /// [`ModelError::Invalid`] if its contents are inconsistent: no features or more
    /// than [`MAX_FEATURES`], duplicate names, bad ranges, scaler lengths that differ
    /// from the number of features, a non-finite number or a non-positive scale, an
    /// empty tree, a split on a feature that does not exist, or a child index that is
    /// out of range or does not come after its parent (which rules out cycles).
    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        let raw: RawModel = serde_json::from_str(json)?;
        if raw.format != FORMAT {
            return Err(ModelError::Format { found: raw.format });
        }
        if raw.model_version.is_empty() {
            return Err(invalid("empty model_version"));
        }
        let features = features(raw.features)?;
        let n = features.len();

        let RawScaler { mean, scale } = raw.scaler;
        if mean.len() != n || scale.len() != n {
            return Err(invalid(format!(
                "scaler has {} means and {} scales for {n} features",
                mean.len(),
                scale.len()
            )));
        }
        if !mean.iter().all(|m| m.is_finite()) {
            return Err(invalid("scaler mean is not finite"));
        }
        if !scale.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err(invalid("scaler scale is not finite and positive"));
        }
        if !raw.baseline_prediction.is_finite() {
            return Err(invalid("baseline_prediction is not finite"));
        }
        let (nodes, roots) = trees(raw.trees, n)?;

        Ok(Self {
            version: raw.model_version,
            target: raw.target,
            features,
            mean,
            scale,
            baseline: 0.0 + raw.baseline_prediction,
            nodes,
            roots,
            training: raw.training,
        })
    }

    /// The wine model compiled into the binary (`server/model/wine-model.json`),
    /// parsed on first use.
    ///
    /// # Errors
    ///
    /// The [`Model::from_json`] error if the embedded file is invalid (the test suite
    /// checks that it is not).
    pub fn embedded() -> Result<&'static Self, ModelError> {
        static EMBEDDED: LazyLock<Result<Model, ModelError>> =
            LazyLock::new(|| Model::from_json(EMBEDDED_JSON));
        EMBEDDED.as_ref().map_err(Clone::clone)
    }

    /// The model version, e.g. `"wine-hgbr-1-1958da6df86b"`: a name plus a hash of
    /// the exported scaler and trees. Bounded, so fit for a Prometheus label.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The name of the predicted quantity (`"quality"`).
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The model's inputs, in the order [`Model::predict`] takes them.
    #[must_use]
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The number of inputs.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// The input names, in model input order.
    pub fn feature_names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.features.iter().map(Feature::name)
    }

    /// The position of the input called `name`, if there is one.
    #[must_use]
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }

    /// The number of trees.
    #[must_use]
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// How the model was trained.
    #[must_use]
    pub fn training(&self) -> &TrainingInfo {
        &self.training
    }

    /// Predicts one row, bit-identical to scikit-learn. Does not allocate.
    ///
    /// `features` are raw (unscaled) values in [`Model::features`] order. No range
    /// check is made here (see [`FeatureRange::contains`]); a NaN follows each split's
    /// missing-value branch, as in scikit-learn.
    ///
    /// # Panics
    ///
    /// If `features.len()` is not [`Model::n_features`]; [`Model::try_predict`]
    /// returns an error instead.
    #[must_use]
    pub fn predict(&self, features: &[f64]) -> f64 {
        match self.try_predict(features) {
            Ok(prediction) => prediction,
            Err(err) => panic!("{err}"),
        }
    }

    /// [`Model::predict`], returning an error on a wrong number of features.
    ///
    /// # Errors
    ///
    /// [`ModelError::FeatureCount`] if `features.len()` is not [`Model::n_features`].
    pub fn try_predict(&self, features: &[f64]) -> Result<f64, ModelError> {
        let n = self.features.len();
        if features.len() != n {
            return Err(ModelError::FeatureCount {
                expected: n,
                got: features.len(),
            });
        }
        // StandardScaler.transform: `X -= mean_; X /= scale_`.
        let mut scaled = [0.0_f64; MAX_FEATURES];
        for (((out, &x), &mean), &scale) in scaled
            .iter_mut()
            .zip(features)
            .zip(&self.mean)
            .zip(&self.scale)
        {
            *out = (x - mean) / scale;
        }
        let scaled = &scaled[..n];

        // _raw_predict: baseline, then `raw += tree(x)` for each tree in order. Trees are
        // walked [`LANES`] at a time, so the loads of one tree's next node overlap with
        // the others' instead of waiting in turn; the sum keeps the trees' order, so the
        // result is the same to the bit.
        let mut raw = self.baseline;
        let mut groups = self.roots.chunks_exact(LANES);
        for group in &mut groups {
            let mut at: [u32; LANES] = std::array::from_fn(|j| group[j]);
            loop {
                let mut walking = false;
                for a in &mut at {
                    let node = &self.nodes[*a as usize];
                    if !node.is_leaf {
                        *a = node.next(scaled);
                        walking = true;
                    }
                }
                if !walking {
                    break;
                }
            }
            for a in at {
                raw += self.nodes[a as usize].value;
            }
        }
        for &root in groups.remainder() {
            raw += self.leaf_value(root, scaled);
        }
        Ok(raw)
    }

    /// Walks one tree (validated at load: indices in range, children after parents).
    fn leaf_value(&self, root: u32, x: &[f64]) -> f64 {
        let mut node = &self.nodes[root as usize];
        while !node.is_leaf {
            node = &self.nodes[node.next(x) as usize];
        }
        node.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_model_loads() {
        let model = Model::embedded().expect("embedded model is valid");
        assert_eq!(model.n_features(), 11);
        assert_eq!(model.n_trees(), 50);
        assert_eq!(model.target(), "quality");
        assert!(model.version().starts_with("wine-hgbr-1-"));
    }

    #[test]
    fn ranges() {
        let model = Model::embedded().unwrap();
        let ph = model.features()[model.feature_index("ph").unwrap()].range();
        assert!(ph.contains(0.0) && ph.contains(13.99));
        assert!(!ph.contains(14.0) && !ph.contains(-0.1) && !ph.contains(f64::NAN));
        let alcohol = model.features()[model.feature_index("alcohol_pct_vol").unwrap()].range();
        assert!(alcohol.contains(100.0) && !alcohol.contains(100.5));
        let density = model.features()[model.feature_index("density").unwrap()].range();
        assert!(density.contains(1e6) && !density.contains(f64::INFINITY));
    }
}
