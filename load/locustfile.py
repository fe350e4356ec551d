"""Production-like traffic for sextant's wine model server.

Tasks (as the reference's, plus feedback and drift):

- ``GET /healthcheck``;
- ``POST /predict`` with a random wine row; for a share of the predictions
  (``SEXTANT_LOAD_FEEDBACK_SHARE``, default 0.3) the row's true quality is then sent to
  ``POST /feedback`` with the returned ``prediction_id``;
- ``POST /predict`` with one field corrupted (``SEXTANT_LOAD_CORRUPT_FIELD``, default ``ph``,
  set to a string): the server must answer 422 naming that field, and records it on that
  feature's data-quality series.

``SEXTANT_LOAD_DRIFT=1`` sends white-wine rows instead of red ones: the model was trained on
red wine, so every drift panel and the drift alert should light up.

Rows come from ``winequality-red.csv`` / ``winequality-white.csv`` (the UCI files, ``;``
separated) in ``SEXTANT_LOAD_DATA``; by default ``../shared/data`` beside the project root,
as in development. In Kubernetes the files come from a ConfigMap (see kubernetes/README.md).

    locust -f load/locustfile.py --headless -u 8 -r 8 -t 20s --host http://127.0.0.1:3000
"""

from __future__ import annotations

import csv
import os
import pathlib
import random

from locust import HttpUser, between, task

FEATURES = {
    "fixed acidity": "fixed_acidity",
    "volatile acidity": "volatile_acidity",
    "citric acid": "citric_acid",
    "residual sugar": "residual_sugar",
    "chlorides": "chlorides",
    "free sulfur dioxide": "free_sulfur_dioxide",
    "total sulfur dioxide": "total_sulfur_dioxide",
    "density": "density",
    "pH": "ph",
    "sulphates": "sulphates",
    "alcohol": "alcohol_pct_vol",
}

DATA = pathlib.Path(
    os.environ.get("SEXTANT_LOAD_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
)
DRIFT = os.environ.get("SEXTANT_LOAD_DRIFT", "0").lower() in ("1", "true", "yes")
FEEDBACK_SHARE = float(os.environ.get("SEXTANT_LOAD_FEEDBACK_SHARE", "0.3"))
CORRUPT_FIELD = os.environ.get("SEXTANT_LOAD_CORRUPT_FIELD", "ph")
if CORRUPT_FIELD not in FEATURES.values():
    raise SystemExit(f"SEXTANT_LOAD_CORRUPT_FIELD={CORRUPT_FIELD!r} is not one of {sorted(FEATURES.values())}")


def load_rows(colour: str) -> list[tuple[dict[str, float], float]]:
    """(request body, true quality) for each row of winequality-{colour}.csv."""
    path = DATA / f"winequality-{colour}.csv"
    with path.open(newline="") as f:
        reader = csv.DictReader(f, delimiter=";")
        return [({FEATURES[k]: float(r[k]) for k in FEATURES}, float(r["quality"])) for r in reader]


ROWS = load_rows("white" if DRIFT else "red")


class WineClient(HttpUser):
    """One client of the model: mostly predictions, some feedback, some broken rows."""

    wait_time = between(0.05, 0.2)

    @task(1)
    def healthcheck(self) -> None:
        self.client.get("/healthcheck", name="/healthcheck")

    @task(10)
    def predict(self) -> None:
        row, quality = random.choice(ROWS)
        with self.client.post("/predict", json=row, name="/predict", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
                return
            prediction_id = resp.json().get("prediction_id")
            if not prediction_id:
                resp.failure("no prediction_id in the response")
                return
            resp.success()
        if random.random() < FEEDBACK_SHARE:
            self.client.post("/feedback", json={"prediction_id": prediction_id, "actual": quality}, name="/feedback")

    @task(2)
    def predict_corrupted(self) -> None:
        row, _ = random.choice(ROWS)
        bad = dict(row, **{CORRUPT_FIELD: "not a number"})
        with self.client.post("/predict", json=bad, name="/predict (corrupted)", catch_response=True) as resp:
            # The expected answer: 422, a problem+json body naming the corrupted field.
            if resp.status_code == 422 and CORRUPT_FIELD in resp.text:
                resp.success()
            else:
                resp.failure(f"expected 422 naming {CORRUPT_FIELD}, got {resp.status_code}")
