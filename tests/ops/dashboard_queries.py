"""Every PromQL query of the Grafana dashboards, with template variables substituted.

Used by the static checks (tests/ops: each query must parse with promtool) and by the
end-to-end test (tests/e2e/test_prometheus.py: each query must return data from a real
Prometheus scraping the real server).
"""

from __future__ import annotations

import json
import pathlib
import re
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"

# Series that only exist where Kubernetes runs the server: cAdvisor (the kubelet's
# container_*) and kube-state-metrics (kube_*). There is no kubelet here, so the
# end-to-end test can parse these queries but cannot expect data from them.
KUBERNETES_ONLY = re.compile(r"\b(container_[a-z_]+|kube_[a-z_]+)\b")
# Series the Feedback issue adds (POST /feedback): present only once feedback has landed.
FEEDBACK = re.compile(r"\bsextant_(feedback_total|feedback_coverage_ratio|absolute_error|evaluation_[a-z_]+|label_delay_seconds)")


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"

    @property
    def kubernetes_only(self) -> bool:
        return bool(KUBERNETES_ONLY.search(self.expr))

    @property
    def feedback(self) -> bool:
        return bool(FEEDBACK.search(self.expr))

    def substituted(self, values: dict[str, str]) -> str:
        """The expression with `$var`, `${var}` and Grafana's `$__*` variables replaced."""
        expr = self.expr
        for var in sorted(values, key=len, reverse=True):
            expr = expr.replace("${" + var + "}", values[var]).replace("$" + var, values[var])
        left = re.findall(r"\$\{?\w+", expr)
        if left:
            raise ValueError(f"{self.name}: unsubstituted variables {left}")
        return expr


def queries() -> list[Query]:
    out = []
    files = sorted(DASHBOARDS.glob("*.json"))
    assert files, "no dashboards"
    for path in files:
        d = json.loads(path.read_text())
        for panel in d["panels"]:
            for t in panel.get("targets", []):
                out.append(Query(path.stem, panel["title"], t["refId"], t["expr"]))
        for var in d["templating"]["list"]:
            if var["type"] == "query":
                # label_values(SELECTOR, label): the selector must return series.
                m = re.fullmatch(r"label_values\((.*), *(\w+)\)", var["query"])
                assert m, f"{path.name}: variable {var['name']}: unexpected query {var['query']}"
                out.append(Query(path.stem, f"variable {var['name']}", "query", m.group(1)))
    return out
