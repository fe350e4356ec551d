// Validates the prometheus-operator objects of the rendered kustomize tree (ServiceMonitor,
// PrometheusRule) with @kubernetes-models/prometheus-operator, whose schemas are generated
// from the operator's Go types. kubernetes-validate covers the built-in kinds; any other kind
// is an error here, so nothing goes unvalidated.
// Input: a JSON array of objects on stdin (tests/ops converts `kubectl kustomize` output).
import { readFileSync } from "node:fs";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = { "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule, "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor };
const builtin = new Set(["v1/Namespace", "v1/ConfigMap", "v1/Service", "v1/Secret", "apps/v1/Deployment"]);
const objects = JSON.parse(readFileSync(0, "utf8"));
let checked = 0;
let failed = 0;
for (const obj of objects) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const name = `${obj.kind}/${obj.metadata?.namespace}/${obj.metadata?.name}`;
  const Model = models[key];
  if (!Model) {
    if (!builtin.has(key)) {
      console.error(`${name}: no validator for ${key}`);
      failed++;
    }
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`valid: ${name}`);
    checked++;
  } catch (e) {
    console.error(`invalid: ${name}: ${e.message}`);
    failed++;
  }
}
if (failed || checked === 0) {
  console.error(`${failed} invalid, ${checked} valid prometheus-operator objects`);
  process.exit(1);
}
