"""The monitoring loop, end to end: the real server, scraped every second by a real
Prometheus (Debian's) that loads the real alert rules, driven by Locust with drifted
traffic. Everything is then checked through Prometheus's HTTP API:

- every dashboard query returns data (template variables substituted);
- Prometheus's request counts agree with Locust's;
- the corrupted field shows up on its feature;
- the feature-drift alert is pending or firing.

The rules file is loaded unchanged: `SextantFeatureDrift` has `for: 15m`, and Prometheus
puts an alert in the `pending` state at the first evaluation where its expression holds,
so "pending or firing" needs no shortened `for:`.

Prometheus scrapes every second (`SEXTANT_E2E_SCRAPE_INTERVAL` overrides it), as the
drift comparison behind `/metrics` sorts each sketch once per scrape.

Nothing sleeps a fixed time: every wait polls with a deadline.
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest

from conftest import ROOT, Server, free_port

sys.path.insert(0, str(ROOT / "tests" / "ops"))
from dashboard_queries import Query, queries  # noqa: E402

LOCUST_USERS = 6
LOCUST_SECONDS = 20
CORRUPT_FIELD = "ph"
SCRAPE_INTERVAL = os.environ.get("SEXTANT_E2E_SCRAPE_INTERVAL", "1s")


def wait_for(what: str, check, timeout: float = 20.0, every: float = 0.1):
    """Polls `check()` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, ValueError, KeyError) as e:  # not up yet, or not yet the data
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Prometheus:
    """Debian's Prometheus on a free loopback port, scraping `target` every second."""

    def __init__(self, workdir: pathlib.Path, target: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(json.dumps({  # JSON is YAML
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "1s", "scrape_timeout": SCRAPE_INTERVAL},
            "rule_files": [str(ROOT / "prometheus" / "alerts.yml")],
            "scrape_configs": [{
                "job_name": "sextant",
                "static_configs": [{"targets": [target], "labels": {"namespace": "sextant"}}],
            }],
        }))
        check = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True)
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_for("Prometheus to be ready", lambda: self.proc.poll() is None and self._get("/-/ready", raw=True))

    def _get(self, path: str, raw: bool = False, **params: str):
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read()
        return body if raw else json.loads(body)

    def query(self, expr: str) -> list[dict]:
        body = self._get("/api/v1/query", query=expr)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def poll(self, expr: str, timeout: float = 15.0) -> list[dict]:
        """The first non-empty result of `expr` within `timeout` seconds, else [].

        A scrape of the debug build can time out on this shared machine; Prometheus then
        marks the target's series stale until the next good scrape, and a query in between
        sees nothing. Polling rides over that; an empty answer after `timeout` is real.
        """
        try:
            return wait_for(f"data from {expr}", lambda: self.query(expr), timeout=timeout, every=0.25)
        except AssertionError:
            return []

    def alerts(self) -> list[dict]:
        return self._get("/api/v1/alerts")["data"]["alerts"]

    def rules(self) -> list[dict]:
        return [r for g in self._get("/api/v1/rules")["data"]["groups"] for r in g["rules"]]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def request_counts(text: str) -> dict[tuple[str, str], float]:
    """`http_requests_total` by (handler, status) from exposition text, /metrics excluded."""
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line.startswith("http_requests_total{"):
            labels, value = line[len("http_requests_total{"):].rsplit("} ", 1)
            kv = dict(part.split("=", 1) for part in labels.split(","))
            handler, status = kv["handler"].strip('"'), kv["status"].strip('"')
            if handler != "/metrics":
                out[(handler, status)] = out.get((handler, status), 0) + float(value)
    return out


def locust_stats(path: pathlib.Path) -> dict[str, tuple[int, int]]:
    """(requests, failures) by Locust request name, from the final stats (`--json-file`).

    Not from `--csv`: its files are rewritten every second and can miss the last requests.
    """
    stats = json.loads(path.read_text())
    return {e["name"]: (e["num_requests"], e["num_failures"]) for e in stats}


@dataclass
class Scenario:
    server: Server
    prometheus: Prometheus
    locust: dict[str, tuple[int, int]]
    server_counts: dict[tuple[str, str], float]

    def values(self) -> dict[str, str]:
        # What Grafana substitutes for the template variables (the feature is the one the
        # load corrupts); $__rate_interval is wide enough to cover the end of the load.
        return {"namespace": "sextant", "job": "sextant", "instance": f"127.0.0.1:{self.server.port}",
                "feature": CORRUPT_FIELD, "datasource": "prometheus", "__rate_interval": "30s", "__range": "5m"}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    work = tmp_path_factory.mktemp("ops-e2e")
    server = Server(work / "data")
    prometheus = None
    try:
        prometheus = Prometheus(work, f"127.0.0.1:{server.port}")
        # The first scraped sample lands ~5.5 s after Prometheus starts.
        wait_for("the first scrape", lambda: prometheus.query('up{job="sextant"} == 1'))
        final = work / "locust"  # --json-file appends ".json"
        env = dict(os.environ, SEXTANT_LOAD_DRIFT="1", SEXTANT_LOAD_CORRUPT_FIELD=CORRUPT_FIELD)
        locust = subprocess.run(
            [str(pathlib.Path(sys.executable).parent / "locust"), "-f", str(ROOT / "load" / "locustfile.py"),
             "--headless", "-u", str(LOCUST_USERS), "-r", str(LOCUST_USERS), "-t", f"{LOCUST_SECONDS}s",
             # Let each user finish the task it is in when time is up, so that Locust has
             # recorded every request the server answered (the counts can then agree exactly).
             "--stop-timeout", "5", "--host", server.url, "--json-file", str(final), "--only-summary",
             "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            env=env, capture_output=True, timeout=LOCUST_SECONDS + 60,
        )
        assert locust.returncode == 0, locust.stdout.decode() + locust.stderr.decode()
        stats = locust_stats(work / "locust.json")
        # Nothing but Prometheus's scrapes reaches the server from now on: what it counts
        # now is final, and Prometheus must catch up with it exactly.
        status, body = server.get("/metrics")
        assert status == 200
        counts = request_counts(body.decode())

        seen = {}

        def prometheus_caught_up():
            seen.update({(r["metric"]["handler"], r["metric"]["status"]): float(r["value"][1]) for r in prometheus.query(
                'sum by (handler, status) (http_requests_total{job="sextant", handler!="/metrics"})')})
            return seen == counts
        try:
            wait_for("Prometheus to scrape the final counts", prometheus_caught_up)
        except AssertionError as e:
            raise AssertionError(f"{e}: Prometheus has {seen}, the server {counts}") from None
        # Feedback joins a prediction made after the counts were taken.
        status, predicted = server.predict({"fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0.0,
                                            "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11.0,
                                            "total_sulfur_dioxide": 34.0, "density": 0.9978, "ph": 3.51,
                                            "sulphates": 0.56, "alcohol_pct_vol": 9.4})
        assert status == 200
        fb_status, _ = server.request("POST", "/feedback",
                                      json.dumps({"prediction_id": predicted["prediction_id"], "actual": 5}).encode())
        assert fb_status == 200, fb_status
        yield Scenario(server, prometheus, stats, counts)
    finally:
        if prometheus is not None:
            prometheus.stop()
        server.stop()


def test_locust_sent_real_traffic(scenario):
    s = scenario.locust
    assert s["/predict"][0] > 100, s
    assert s["/predict (corrupted)"][0] > 10, s
    assert s["/healthcheck"][0] > 5, s
    assert s["/feedback"][0] > 10, s
    # Predictions and health checks all succeed; corrupted rows get their 422 naming the field.
    for name in ("/predict", "/predict (corrupted)", "/healthcheck"):
        assert s[name][1] == 0, f"{name}: {s[name][1]} failures"
    assert s["/feedback"][1] == 0


def test_prometheus_counts_agree_with_locust(scenario):
    # Prometheus holds exactly what the server counted (the fixture waited for a scrape after
    # the load ended, so scrape timing leaves no slack). Against Locust, the only requests
    # the server saw and Locust did not send are the test's own GET /ready at start-up;
    # --stop-timeout lets every user finish its request, so the rest agree exactly.
    c, s = scenario.server_counts, scenario.locust
    assert c[("/predict", "2xx")] == s["/predict"][0]
    assert c[("/predict", "4xx")] == s["/predict (corrupted)"][0]
    assert c.get(("/predict", "5xx"), 0) == 0
    assert c[("/healthcheck", "2xx")] == s["/healthcheck"][0]
    feedback = sum(v for (h, _), v in c.items() if h == "/feedback")
    assert feedback == s["/feedback"][0]
    assert ("unmatched", "4xx") not in c
    sent = sum(n for n, _ in s.values())
    assert sum(v for (h, _), v in c.items() if h != "/ready") == sent


def test_corrupted_field_shows_up_on_its_feature(scenario):
    p = scenario.prometheus
    corrupted = scenario.locust["/predict (corrupted)"][0]
    # Each corrupted request rejects exactly one field, on its feature, as the wrong type.
    rejected = p.poll('sum by (feature, reason) (sextant_rejected_fields_total{job="sextant"})')
    assert {(r["metric"]["feature"], r["metric"]["reason"]): float(r["value"][1]) for r in rejected} == {
        (CORRUPT_FIELD, "wrong_type"): corrupted}
    # And the live profile counts it on that feature's wrong-type series, and on no other.
    wrong = p.poll('sextant_feature_wrong_type{job="sextant"} > 0')
    assert {r["metric"]["feature"]: float(r["value"][1]) for r in wrong} == {CORRUPT_FIELD: corrupted}


def test_drift_alert_is_pending_or_firing(scenario):
    p = scenario.prometheus

    def drift_alerts():
        return [a for a in p.alerts() if a["labels"]["alertname"] == "SextantFeatureDrift"
                and a["state"] in ("pending", "firing")]
    alerts = wait_for("SextantFeatureDrift to be pending or firing", drift_alerts)
    drifting = {a["labels"]["feature"] for a in alerts}
    # White wine against the red-wine baseline: its sugar and sulfur dioxide are far off.
    assert {"residual_sugar", "total_sulfur_dioxide"} <= drifting, drifting
    # Every rule evaluates cleanly against the real series.
    rules = p.rules()
    assert len(rules) == 7 and all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]


@pytest.mark.parametrize("query", queries(), ids=lambda q: q.name)
def test_dashboard_query_returns_data(scenario, query: Query):
    expr = query.substituted(scenario.values())
    if query.kubernetes_only:
        # cAdvisor (the kubelet's container_*) and kube-state-metrics (kube_*) series exist
        # only in a cluster. Here the real Prometheus must still run the query without an
        # error, and its emptiness must have that one cause: no such series at all.
        assert scenario.prometheus.query(expr) == [], expr
        assert scenario.prometheus.query('count({__name__=~"container_.+|kube_.+"})') == []
        return
    assert scenario.prometheus.poll(expr), f"no data: {expr}"


def test_data_quality_alert_names_the_corrupted_feature(scenario):
    # 2 corrupted rows in every 12 predictions (the locustfile's task weights): ~17 % of
    # /predict requests reject `ph`, above the rule's 5 %; no other feature is rejected.
    p = scenario.prometheus

    def spikes():
        return [a for a in p.alerts() if a["labels"]["alertname"] == "SextantDataQualitySpike"
                and a["state"] in ("pending", "firing")]
    assert {a["labels"]["feature"] for a in wait_for("SextantDataQualitySpike", spikes)} == {CORRUPT_FIELD}
    # The server is up and had traffic: those alerts stay quiet.
    quiet = {"SextantTargetDown", "SextantNoTraffic", "SextantHighErrorRate"}
    assert not [a for a in p.alerts() if a["labels"]["alertname"] in quiet]
