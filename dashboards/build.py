#!/usr/bin/env python3
"""Writes the Grafana dashboards (`service.json`, `model.json`, `resources.json`).

The JSON files are what Grafana loads and what is in source control; this script is how
they are written, so that the three dashboards share one set of template variables, one
selector and one panel layout instead of copies. `python3 dashboards/build.py` rewrites
them; `python3 dashboards/build.py --check` exits 1 if a committed file differs from what
this script writes (the ops tests run it).

Dashboards are in Grafana's current JSON schema (schemaVersion 42): the data source is an
object `{"type": "prometheus", "uid": "${datasource}"}`, no `null`s.
"""

from __future__ import annotations

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
SCHEMA_VERSION = 42
DS = {"type": "prometheus", "uid": "${datasource}"}
# Every query is narrowed by these template variables (multi-valued, hence `=~`).
SEL = 'namespace=~"$namespace", job=~"$job", instance=~"$instance"'
RI = "$__rate_interval"


def variables(with_feature: bool) -> list[dict]:
    def query_var(name: str, label: str, query: str, description: str, multi: bool = True) -> dict:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "description": description,
            "datasource": DS,
            "query": query,
            "refresh": 2,
            "includeAll": multi,
            "allValue": ".*",
            "multi": multi,
            "sort": 1,
            "current": {"text": "All", "value": "$__all"} if multi else {"text": "", "value": ""},
        }

    vs = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "description": "The Prometheus that scrapes sextant.",
            "query": "prometheus",
            "current": {"text": "Prometheus", "value": "prometheus"},
        },
        query_var("namespace", "Namespace", "label_values(sextant_build_info, namespace)",
                  "Kubernetes namespace of the model servers (the `namespace` target label)."),
        query_var("job", "Job", 'label_values(sextant_build_info{namespace=~"$namespace"}, job)',
                  "Prometheus job: one per model service."),
        query_var("instance", "Instance", f'label_values(sextant_build_info{{namespace=~"$namespace", job=~"$job"}}, instance)',
                  "One replica (pod) of the model server."),
    ]
    if with_feature:
        vs.append(query_var("feature", "Feature",
                            'label_values(sextant_feature_values{namespace=~"$namespace", job=~"$job"}, feature)',
                            "Model input features; panels in the Features row repeat for each one selected."))
    return vs


class Board:
    """Lays panels out on Grafana's 24-column grid, left to right, top to bottom."""

    def __init__(self) -> None:
        self.panels: list[dict] = []
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def _place(self, w: int, h: int) -> dict:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title: str) -> None:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self.panels.append({"type": "row", "id": self.next_id, "title": title, "collapsed": False,
                            "panels": [], "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}})
        self.next_id += 1
        self.y += 1

    def panel(self, kind: str, title: str, description: str, targets: list[tuple[str, str]], *,
              unit: str = "short", w: int = 12, h: int = 8, options: dict | None = None,
              custom: dict | None = None, extra: dict | None = None, min_: float | None = None,
              max_: float | None = None, thresholds: list[tuple[float, str]] | None = None,
              target_extra: dict | None = None) -> None:
        defaults: dict = {"unit": unit}
        if min_ is not None:
            defaults["min"] = min_
        if max_ is not None:
            defaults["max"] = max_
        if custom:
            defaults["custom"] = custom
        if thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"color": "green", "value": None}]  # None: the base step (−∞)
                + [{"color": c, "value": v} for v, c in thresholds],
            }
        p = {
            "type": kind,
            "id": self.next_id,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or {},
            "targets": [
                {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend,
                 "range": True, "instant": False, **(target_extra or {})}
                for i, (expr, legend) in enumerate(targets)
            ],
        }
        if extra:
            p.update(extra)
        self.next_id += 1
        self.panels.append(p)


def links(uid: str) -> list[dict]:
    return [
        {"type": "dashboards", "title": "sextant dashboards", "tags": ["sextant"], "asDropdown": False,
         "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
         "tooltip": "The other sextant dashboards, with the same variables and time range"},
    ]


def dashboard(uid: str, title: str, description: str, board: Board, with_feature: bool = False) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["sextant"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "timezone": "browser",
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": links(uid),
        "annotations": {"list": [
            {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
             "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
             "type": "dashboard"},
        ]},
        "templating": {"list": variables(with_feature)},
        "panels": board.panels,
    }


TS = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": False}
LEGEND = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
          "tooltip": {"mode": "multi", "sort": "desc"}}
STAT = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "value", "graphMode": "area", "justifyMode": "auto", "orientation": "auto",
        "textMode": "auto"}


def service() -> dict:
    b = Board()
    b.row("Traffic")
    b.panel("stat", "Throughput", "Requests per second over every route but /metrics (Prometheus's own scrapes).",
            [(f'sum(rate(http_requests_total{{{SEL}, handler!="/metrics"}}[{RI}]))', "req/s")],
            unit="reqps", w=6, h=4, options=STAT)
    b.panel("stat", "Error rate (5xx)", "Share of requests answered with a server error (5xx). The alert "
            "SextantHighErrorRate fires above 5 % for 5 minutes.",
            [(f'(sum(rate(http_requests_total{{{SEL}, status="5xx"}}[{RI}])) or vector(0)) / '
              f'sum(rate(http_requests_total{{{SEL}}}[{RI}]))', "5xx share")],
            unit="percentunit", w=6, h=4, options=STAT, thresholds=[(0.01, "orange"), (0.05, "red")])
    b.panel("stat", "Client errors (4xx)", "Share of requests rejected as the client's fault (4xx): invalid "
            "rows (422), malformed JSON (400), unknown routes (404). A rise usually means a client sends "
            "broken data: see the model dashboard's data-quality row.",
            [(f'(sum(rate(http_requests_total{{{SEL}, status="4xx"}}[{RI}])) or vector(0)) / '
              f'sum(rate(http_requests_total{{{SEL}}}[{RI}]))', "4xx share")],
            unit="percentunit", w=6, h=4, options=STAT, thresholds=[(0.05, "orange"), (0.2, "red")])
    b.panel("stat", "Replicas up", "Targets of the selected jobs that answered their last scrape.",
            [(f"sum(up{{{SEL}}})", "up")], w=6, h=4, options=STAT)
    b.panel("timeseries", "Requests by route and status", "Request rate by route template and status "
            "class. Unknown paths count under `unmatched`, never under the path sent.",
            [(f"sum by (handler, status) (rate(http_requests_total{{{SEL}}}[{RI}]))", "{{handler}} {{status}}")],
            unit="reqps", custom=TS, options=LEGEND)
    b.panel("timeseries", "Errors by route", "4xx and 5xx responses per second by route.",
            [(f'sum by (handler, status) (rate(http_requests_total{{{SEL}, status=~"4xx|5xx"}}[{RI}]))',
              "{{handler}} {{status}}")], unit="reqps", custom=TS, options=LEGEND)
    b.row("Latency")
    b.panel("timeseries", "Latency quantiles", "p50, p90 and p99 of the time from request to response, "
            "by route, from the `http_request_duration_seconds` histogram (interpolated within buckets). "
            "The latency objective (alert SextantLatencyObjective): p99 of /predict under 25 ms.",
            [(f"histogram_quantile({q}, sum by (le, handler) (rate(http_request_duration_seconds_bucket{{{SEL}}}[{RI}])))",
              f"p{int(q * 100)} {{{{handler}}}}") for q in (0.5, 0.9, 0.99)],
            unit="s", custom=TS, options=LEGEND)
    b.panel("timeseries", "Mean latency", "Mean time per request by route: sum of durations over count.",
            [(f"sum by (handler) (rate(http_request_duration_seconds_sum{{{SEL}}}[{RI}])) / "
              f"sum by (handler) (rate(http_request_duration_seconds_count{{{SEL}}}[{RI}]))", "{{handler}}")],
            unit="s", custom=TS, options=LEGEND)
    b.row("Sizes and concurrency")
    b.panel("timeseries", "Request body size", "p50 and p95 of request body sizes by route (Content-Length).",
            [(f"histogram_quantile({q}, sum by (le, handler) (rate(http_request_size_bytes_bucket{{{SEL}}}[{RI}])))",
              f"p{int(q * 100)} {{{{handler}}}}") for q in (0.5, 0.95)],
            unit="bytes", w=8, custom=TS, options=LEGEND)
    b.panel("timeseries", "Response body size", "p50 and p95 of response body sizes by route.",
            [(f"histogram_quantile({q}, sum by (le, handler) (rate(http_response_size_bytes_bucket{{{SEL}}}[{RI}])))",
              f"p{int(q * 100)} {{{{handler}}}}") for q in (0.5, 0.95)],
            unit="bytes", w=8, custom=TS, options=LEGEND)
    b.panel("timeseries", "Requests in flight", "Requests being served at scrape time, per replica. A "
            "steady climb means the server cannot keep up.",
            [(f"sum by (instance) (http_requests_in_flight{{{SEL}}})", "{{instance}}")],
            w=8, custom=TS, options=LEGEND)
    return dashboard("sextant-service", "sextant / service",
                     "The model server as an HTTP service: throughput, errors, latency, sizes, concurrency.", b)


def model() -> dict:
    b = Board()
    f = 'feature=~"$feature"'
    b.row("Predictions")
    b.panel("stat", "Predictions per second", "Rows predicted per second (a batch counts each row).",
            [(f"sum(rate(sextant_prediction_count{{{SEL}}}[{RI}]))", "rows/s")], unit="short", w=6, h=4, options=STAT)
    b.panel("stat", "Dataset drift", "1 when the share of drifting features reaches the dataset threshold, "
            "on any selected replica.", [(f'max(sextant_dataset_drift{{{SEL}, measure="drift"}})', "drift")],
            w=6, h=4, options=STAT, thresholds=[(1, "red")])
    b.panel("stat", "Drifted features", "Share of the model's features that drift from the training baseline.",
            [(f'max(sextant_dataset_drift{{{SEL}, measure="drifted_share"}})', "share")],
            unit="percentunit", w=6, h=4, options=STAT, thresholds=[(0.2, "orange"), (0.5, "red")])
    b.panel("stat", "Rows in the drift horizon", "Rows profiled over the drift horizon, summed over replicas: "
            "drift verdicts on few rows are weak.",
            [(f'sum(sextant_profile_rows{{{SEL}, scope="horizon"}})', "rows")], w=6, h=4, options=STAT)
    b.panel("heatmap", "Prediction distribution", "Predicted quality over time: predictions per 0.5-wide "
            "bucket of the `sextant_prediction` histogram. A shift of mass is what the "
            "SextantPredictionShift alert watches.",
            [(f"sum by (le) (increase(sextant_prediction_bucket{{{SEL}}}[{RI}]))", "{{le}}")],
            options={"calculate": False, "yAxis": {"unit": "short"}, "cellGap": 1,
                     "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                     "tooltip": {"mode": "single", "yHistogram": True}},
            target_extra={"format": "heatmap"})
    b.panel("timeseries", "Prediction quantiles and mean", "p10, p50 and p90 of predicted quality "
            "(interpolated within 0.5-wide buckets) and the exact mean.",
            [(f"histogram_quantile({q}, sum by (le) (rate(sextant_prediction_bucket{{{SEL}}}[{RI}])))", f"p{int(q * 100)}")
             for q in (0.1, 0.5, 0.9)]
            + [(f"sum(rate(sextant_prediction_sum{{{SEL}}}[{RI}])) / sum(rate(sextant_prediction_count{{{SEL}}}[{RI}]))",
                "mean")], custom=TS, options=LEGEND)
    b.row("Features ($feature)")
    b.panel("timeseries", "$feature: quantile band over the drift horizon", "Quantiles 0.05, 0.25, 0.5, "
            "0.75 and 0.95 of the feature over the drift horizon (open window included), averaged over "
            "replicas, and its mean, against the same quantiles of the training baseline (flat lines). "
            "The drift scores beside it measure how far the two bands are apart.",
            [(f"avg by (feature, q) (sextant_feature_quantile{{{SEL}, {f}}})", "q{{q}}"),
             (f"avg by (feature, q) (sextant_baseline_feature_quantile{{{SEL}, {f}}})", "baseline q{{q}}"),
             (f"avg by (feature) (sextant_feature_mean{{{SEL}, {f}}})", "mean")],
            custom=TS, options=LEGEND, extra={"repeat": "feature", "repeatDirection": "h", "maxPerRow": 2})
    b.panel("timeseries", "$feature: drift scores", "Drift measures against the training baseline, by "
            "method: KS (small samples), normalised Wasserstein-1 (drift at 0.1 σ), PSI, Jensen–Shannon, "
            "Hellinger.",
            [(f"max by (feature, method) (sextant_feature_drift_score{{{SEL}, {f}}})", "{{method}}")],
            custom=TS, options=LEGEND, extra={"repeat": "feature", "repeatDirection": "h", "maxPerRow": 2})
    b.row("Drift")
    b.panel("state-timeline", "Drift verdicts", "1 (red) while a feature drifts from the training baseline "
            "on any selected replica. The alert SextantFeatureDrift fires after 15 minutes of drift.",
            [(f"max by (feature) (sextant_feature_drift{{{SEL}}})", "{{feature}}")],
            w=16, options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                           "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False}},
            thresholds=[(1, "red")], min_=0, max_=1)
    b.panel("bargauge", "Drift detections in range", "Times each feature entered drift within the "
            "dashboard's time range, summed over replicas.",
            [(f"sum by (feature) (increase(sextant_drift_detections_total{{{SEL}}}[$__range]))", "{{feature}}")],
            w=8, options={"orientation": "horizontal", "displayMode": "basic",
                          "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}})
    b.row("Data quality")
    b.panel("timeseries", "Rejected fields by feature", "Fields rejected by validation per second, by "
            "feature and reason (missing, wrong_type, out_of_range): a client corrupting one field shows "
            "up on that feature.",
            [(f"sum by (feature, reason) (rate(sextant_rejected_fields_total{{{SEL}}}[{RI}]))", "{{feature}} {{reason}}")],
            unit="short", custom=TS, options=LEGEND)
    b.panel("timeseries", "Rejection share by feature", "Rejected fields of each feature per /predict "
            "request. The alert SextantDataQualitySpike fires above 5 % for 5 minutes.",
            [(f"sum by (feature) (rate(sextant_rejected_fields_total{{{SEL}}}[{RI}])) / scalar("
              f'sum(rate(http_requests_total{{{SEL}, handler="/predict"}}[{RI}])))', "{{feature}}")],
            unit="percentunit", custom=TS, options=LEGEND)
    b.panel("timeseries", "Missing and wrong-typed values over the horizon", "Counts over the drift "
            "horizon, summed over replicas, from the live profile.",
            [(f"sum by (feature) (sextant_feature_wrong_type{{{SEL}}})", "{{feature}} wrong type"),
             (f"sum by (feature) (sextant_feature_missing{{{SEL}}})", "{{feature}} missing")],
            custom=TS, options=LEGEND)
    b.panel("timeseries", "$feature: valid values and distinct estimate", "Values of the right type and "
            "the estimated number of distinct values over the horizon (HyperLogLog).",
            [(f"sum by (feature) (sextant_feature_values{{{SEL}, {f}}})", "{{feature}} values"),
             (f"max by (feature) (sextant_feature_distinct{{{SEL}, {f}}})", "{{feature}} distinct")],
            custom=TS, options=LEGEND)
    b.row("Evaluation (ground truth from POST /feedback)")
    b.panel("timeseries", "MAE and RMSE", "Mean absolute error and root mean squared error of the "
            "predictions joined to ground truth over the drift horizon, per replica (each evaluates the "
            "feedback it joined). The model's test MSE was 0.3567 (RMSE 0.597).",
            [(f"max by (instance) (sextant_evaluation_mae{{{SEL}}})", "MAE {{instance}}"),
             (f"max by (instance) (sextant_evaluation_rmse{{{SEL}}})", "RMSE {{instance}}")],
            custom=TS, options=LEGEND)
    b.panel("timeseries", "Mean residual", "Mean of actual − predicted: a bias away from 0 means the model "
            "systematically over- or under-predicts.",
            [(f"max by (instance) (sextant_evaluation_mean_residual{{{SEL}}})", "{{instance}}")],
            custom=TS, options=LEGEND)
    b.panel("timeseries", "Feedback coverage", "Share of predictions that received ground truth.",
            [(f"avg by (instance) (sextant_feedback_coverage_ratio{{{SEL}}})", "{{instance}}")],
            unit="percentunit", min_=0, max_=1, w=8, custom=TS, options=LEGEND)
    b.panel("timeseries", "Feedback by outcome", "POST /feedback items per second: joined, duplicate "
            "(already had feedback), unknown (no such prediction), invalid.",
            [(f"sum by (outcome) (rate(sextant_feedback_total{{{SEL}}}[{RI}]))", "{{outcome}}")],
            w=8, custom=TS, options=LEGEND)
    b.panel("timeseries", "Absolute error and label delay", "p50 and p90 of the absolute error, and of "
            "the delay between a prediction and its ground truth.",
            [(f"histogram_quantile({q}, sum by (le) (rate(sextant_absolute_error_bucket{{{SEL}}}[{RI}])))",
              f"|error| p{int(q * 100)}") for q in (0.5, 0.9)]
            + [(f"histogram_quantile({q}, sum by (le) (rate(sextant_label_delay_seconds_bucket{{{SEL}}}[{RI}])))",
                f"label delay p{int(q * 100)} (s)") for q in (0.5, 0.9)],
            w=8, custom=TS, options=LEGEND)
    return dashboard("sextant-model", "sextant / model",
                     "The wine model: predictions, per-feature distributions and drift against the training "
                     "baseline, data quality, and evaluation against ground truth.", b, with_feature=True)


def resources() -> dict:
    b = Board()
    # cAdvisor series (kubelet) carry namespace/pod/container, not job/instance.
    pod = 'namespace=~"$namespace", pod=~"sextant-[a-z0-9]+-[a-z0-9]+"'
    b.row("CPU and memory")
    b.panel("timeseries", "CPU", "CPU seconds per second: the process collector's per replica, and "
            "cAdvisor's per pod where Kubernetes provides it (with the container's limit).",
            [(f"sum by (instance) (rate(process_cpu_seconds_total{{{SEL}}}[{RI}]))", "process {{instance}}"),
             (f'sum by (pod) (rate(container_cpu_usage_seconds_total{{{pod}, container="sextant"}}[{RI}]))', "cAdvisor {{pod}}"),
             (f'sum by (pod) (kube_pod_container_resource_limits{{{pod}, container="sextant", resource="cpu"}})', "limit {{pod}}")],
            unit="short", custom=TS, options=LEGEND)
    b.panel("timeseries", "Memory", "Resident and virtual memory of the process, and the container's "
            "working set (cAdvisor).",
            [(f"sum by (instance) (process_resident_memory_bytes{{{SEL}}})", "resident {{instance}}"),
             (f"sum by (instance) (process_virtual_memory_bytes{{{SEL}}})", "virtual {{instance}}"),
             (f'sum by (pod) (container_memory_working_set_bytes{{{pod}, container="sextant"}})', "working set {{pod}}")],
            unit="bytes", custom=TS, options=LEGEND)
    b.row("Network and disk")
    b.panel("timeseries", "Network I/O", "HTTP body bytes the server received and sent (its own "
            "histograms' sums), and the pod's network bytes from cAdvisor.",
            [(f"sum by (instance) (rate(http_request_size_bytes_sum{{{SEL}}}[{RI}]))", "HTTP in {{instance}}"),
             (f"sum by (instance) (rate(http_response_size_bytes_sum{{{SEL}}}[{RI}]))", "HTTP out {{instance}}"),
             (f"sum by (pod) (rate(container_network_receive_bytes_total{{{pod}}}[{RI}]))", "rx {{pod}}"),
             (f"sum by (pod) (rate(container_network_transmit_bytes_total{{{pod}}}[{RI}]))", "tx {{pod}}")],
            unit="Bps", custom=TS, options=LEGEND)
    b.panel("timeseries", "Disk I/O", "Bytes read and written by the container (cAdvisor): the data "
            "directory's window files and the prediction log.",
            [(f'sum by (pod) (rate(container_fs_reads_bytes_total{{{pod}, container="sextant"}}[{RI}]))', "read {{pod}}"),
             (f'sum by (pod) (rate(container_fs_writes_bytes_total{{{pod}, container="sextant"}}[{RI}]))', "write {{pod}}")],
            unit="Bps", custom=TS, options=LEGEND)
    b.row("Process")
    b.panel("timeseries", "Open file descriptors", "Open file descriptors against the limit, per replica.",
            [(f"sum by (instance) (process_open_fds{{{SEL}}})", "open {{instance}}"),
             (f"sum by (instance) (process_max_fds{{{SEL}}})", "max {{instance}}")],
            w=8, custom=TS, options=LEGEND)
    b.panel("timeseries", "Threads", "OS threads of the process, per replica.",
            [(f"sum by (instance) (process_threads{{{SEL}}})", "{{instance}}")], w=8, custom=TS, options=LEGEND)
    b.panel("table", "Uptime and build", "Seconds since each replica started, with its server and model "
            "versions.",
            [(f"time() - process_start_time_seconds{{{SEL}}}", "{{instance}}"),
             (f"sextant_build_info{{{SEL}}}", "{{version}} {{model}}")],
            w=8, options={"showHeader": True, "cellHeight": "sm"},
            target_extra={"format": "table", "instant": True, "range": False},
            extra={"transformations": [{"id": "merge", "options": {}}]})
    return dashboard("sextant-resources", "sextant / resources",
                     "CPU, memory, network and disk of the model server: the process collector's series, "
                     "and cAdvisor's where Kubernetes provides them.", b)


DASHBOARDS = {"service.json": service, "model.json": model, "resources.json": resources}


def render(build) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, build in DASHBOARDS.items():
        path = HERE / name
        text = render(build)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run `python3 dashboards/build.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
