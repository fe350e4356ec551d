"""Train the wine-quality model and export it for the Rust server.

Run from the project root, in a virtualenv of its own (the pins are exact):

    pip install -r server/model/requirements.txt
    python server/model/train.py [--data PATH] [--out DIR]

The model is the reference one: StandardScaler + HistGradientBoostingRegressor
(max_iter=50) on the red-wine data, split with train_test_split(test_size=0.2,
random_state=1). The server does not run Python: this script exports the fitted
scaler and trees to JSON, and `server/src/model.rs` walks them with the same
floating-point operations as scikit-learn, so its predictions are bit-identical
(checked against `golden-predictions.json` by `server/tests/model.rs`).

Outputs, written into --out (default `server/model/`):

- wine-model.json          the model: feature schema, scaler, baseline, trees
- golden-predictions.json  the held-out rows with scikit-learn's predictions
- train-split.csv          the training rows (features + quality), for the baseline profile
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

FORMAT = "sextant-model/1"
MODEL_NAME = "wine-hgbr-1"
TARGET = "quality"

# Project root: the folder holding `server/` (this file is server/model/train.py).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = PROJECT_ROOT / ".." / "shared" / "data" / "winequality-red.csv"
DEFAULT_OUT = PROJECT_ROOT / "server" / "model"

# Model input order: (CSV header, name, unit, min, max, max_exclusive, description).
# Ranges are what the server accepts: every value finite and >= 0; pH below 14;
# alcohol at most 100 % vol. `max` None means no upper bound.
FEATURES = [
    ("fixed acidity", "fixed_acidity", "g(tartaric acid)/dm³", 0.0, None, False,
     "Fixed (non-volatile) acidity, mostly tartaric acid."),
    ("volatile acidity", "volatile_acidity", "g(acetic acid)/dm³", 0.0, None, False,
     "Volatile acidity, mostly acetic acid; high levels taste of vinegar."),
    ("citric acid", "citric_acid", "g/dm³", 0.0, None, False,
     "Citric acid."),
    ("residual sugar", "residual_sugar", "g/dm³", 0.0, None, False,
     "Sugar remaining after fermentation stops."),
    ("chlorides", "chlorides", "g(sodium chloride)/dm³", 0.0, None, False,
     "Salt content, as sodium chloride."),
    ("free sulfur dioxide", "free_sulfur_dioxide", "mg/dm³", 0.0, None, False,
     "Free form of SO2 (dissolved gas, bisulfite ion)."),
    ("total sulfur dioxide", "total_sulfur_dioxide", "mg/dm³", 0.0, None, False,
     "Free plus bound forms of SO2."),
    ("density", "density", "g/cm³", 0.0, None, False,
     "Density of the wine."),
    ("pH", "ph", "pH", 0.0, 14.0, True,
     "Acidity on the pH scale (below 14)."),
    ("sulphates", "sulphates", "g(potassium sulphate)/dm³", 0.0, None, False,
     "Sulphates, as potassium sulphate; an additive contributing to SO2 levels."),
    ("alcohol", "alcohol_pct_vol", "% vol", 0.0, 100.0, False,
     "Alcohol content, percent by volume."),
]
CSV_HEADER = [f[0] for f in FEATURES] + [TARGET]
NAMES = [f[1] for f in FEATURES]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="red-wine CSV (UCI, ';'-delimited); "
                             "default ../shared/data/winequality-red.csv from the project root")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder; default server/model/ in the project root")
    return parser.parse_args(argv)


def read_data(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep=";")
    if list(df.columns) != CSV_HEADER:
        raise SystemExit(f"unexpected header in {path}: {list(df.columns)}")
    df.columns = NAMES + [TARGET]
    # The Rust side parses the same text with a correctly rounded parser: make sure
    # pandas produced exactly the values Python's float() gives for every cell.
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))[1:]
    exact = np.array([[float(v) for v in row] for row in rows])
    assert exact.shape == df.shape, (exact.shape, df.shape)
    assert np.array_equal(exact, df.to_numpy(dtype=np.float64)), "pandas parse differs from float()"
    return df


def in_range(value: float, lo: float, hi: float | None, hi_exclusive: bool) -> bool:
    if not math.isfinite(value) or value < lo:
        return False
    if hi is None:
        return True
    return value < hi if hi_exclusive else value <= hi


def export_trees(model: HistGradientBoostingRegressor, n_features: int) -> list[dict]:
    assert model.n_trees_per_iteration_ == 1
    assert len(model._predictors) == model.n_iter_
    trees = []
    for iteration in model._predictors:
        assert len(iteration) == 1
        predictor = iteration[0]
        nodes = predictor.nodes
        assert not nodes["is_categorical"].any(), "categorical splits are not exported"
        out = []
        for i, node in enumerate(nodes):
            is_leaf = bool(node["is_leaf"])
            rec = {
                "value": float(node["value"]),
                "feature_idx": int(node["feature_idx"]),
                "num_threshold": float(node["num_threshold"]),
                "missing_go_to_left": bool(node["missing_go_to_left"]),
                "left": int(node["left"]),
                "right": int(node["right"]),
                "is_leaf": is_leaf,
            }
            if is_leaf:
                assert math.isfinite(rec["value"])
            else:
                # No missing values in training, so no split sends only NaNs right
                # (sklearn would store num_threshold = inf, which JSON cannot hold).
                assert math.isfinite(rec["num_threshold"]), (i, rec)
                assert 0 <= rec["feature_idx"] < n_features
                # sklearn numbers nodes depth-first: children come after parents.
                assert i < rec["left"] < len(nodes) and i < rec["right"] < len(nodes)
            out.append(rec)
        trees.append({"nodes": out})
    return trees


def walk(model_json: dict, row: list[float]) -> float:
    """Predict one row from the exported JSON, with sklearn's operation order."""
    mean, scale = model_json["scaler"]["mean"], model_json["scaler"]["scale"]
    x = [(v - m) / s for v, m, s in zip(row, mean, scale)]
    raw = 0.0 + model_json["baseline_prediction"]
    for tree in model_json["trees"]:
        nodes = tree["nodes"]
        node = nodes[0]
        while not node["is_leaf"]:
            v = x[node["feature_idx"]]
            if math.isnan(v):
                go_left = node["missing_go_to_left"]
            else:
                go_left = v <= node["num_threshold"]
            node = nodes[node["left"] if go_left else node["right"]]
        raw += node["value"]
    return raw


def to_json(obj, indent: int = 0) -> str:
    """JSON with small records on one line; floats via repr (round-trip exact)."""

    def is_scalar(v) -> bool:
        return v is None or isinstance(v, (bool, int, float, str))

    def compact(v) -> bool:
        if isinstance(v, dict):
            return all(is_scalar(x) or (isinstance(x, dict) and all(map(is_scalar, x.values())))
                       for x in v.values())
        if isinstance(v, list):
            return all(map(is_scalar, v))
        return True

    if compact(obj):
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [f"{inner}{to_json(v, indent + 1)}" for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    df = read_data(args.data)
    X = df[NAMES]
    y = df[TARGET]

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=1)
    scaler = StandardScaler().fit(X_train)
    model = HistGradientBoostingRegressor(max_iter=50).fit(scaler.transform(X_train), y_train)
    # Without early stopping (off below 10000 samples) the fit is deterministic.
    assert not model.do_early_stopping_ and model.n_iter_ == 50

    predictions = model.predict(scaler.transform(X_test))
    test_mse = float(mean_squared_error(y_test, predictions))
    print(f"train rows {len(X_train)}, test rows {len(X_test)}, "
          f"test MSE {test_mse:.4f} ({test_mse!r}; reference 0.3567)")

    for j, (_, name, _, lo, hi, hi_excl, _) in enumerate(FEATURES):
        bad = [v for v in df[name] if not in_range(float(v), lo, hi, hi_excl)]
        assert not bad, f"{name}: values outside the accepted range: {bad[:5]}"

    n = len(NAMES)
    mean = [float(v) for v in scaler.mean_]
    scale = [float(v) for v in scaler.scale_]
    assert len(mean) == len(scale) == n and all(math.isfinite(v) for v in mean + scale)
    baseline = model._baseline_prediction
    assert baseline.shape == (1, 1)
    body = {
        "target": TARGET,
        "features": [
            {"name": name, "unit": unit, "min": lo, "max": hi, "max_exclusive": hi_excl,
             "description": desc}
            for (_, name, unit, lo, hi, hi_excl, desc) in FEATURES
        ],
        "scaler": {"mean": mean, "scale": scale},
        "baseline_prediction": float(baseline[0, 0]),
        "trees": export_trees(model, n),
    }
    digest = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    ).hexdigest()
    model_json = {
        "format": FORMAT,
        "model_version": f"{MODEL_NAME}-{digest[:12]}",
        **body,
        "training": {
            "rows": int(len(X_train)),
            "test_rows": int(len(X_test)),
            "test_mse": test_mse,
            "sklearn_version": sklearn.__version__,
        },
    }

    # Self-check: the exported JSON, walked in plain Python floats, reproduces sklearn.
    reloaded = json.loads(to_json(model_json))
    rows = X_test.to_numpy(dtype=np.float64).tolist()
    mismatches = sum(walk(reloaded, r) != p for r, p in zip(rows, predictions.tolist()))
    assert mismatches == 0, f"{mismatches} exported predictions differ from sklearn"

    golden = [
        {"features": dict(zip(NAMES, r)), "quality": int(q), "prediction": float(p)}
        for r, q, p in zip(rows, y_test.tolist(), predictions.tolist())
    ]

    train = X_train.copy()
    train[TARGET] = y_train
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "wine-model.json").write_text(to_json(model_json) + "\n", encoding="utf-8")
    (args.out / "golden-predictions.json").write_text(to_json(golden) + "\n", encoding="utf-8")
    train.to_csv(args.out / "train-split.csv", index=False, lineterminator="\n")
    back = pd.read_csv(args.out / "train-split.csv")
    assert back.equals(train.reset_index(drop=True)), "train-split.csv does not round-trip"

    print(f"model_version {model_json['model_version']}; wrote wine-model.json, "
          f"golden-predictions.json, train-split.csv to {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
