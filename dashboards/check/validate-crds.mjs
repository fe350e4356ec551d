// Validates the prometheus-operator objects of the rendered kustomize tree (ServiceMonitor,
// PrometheusRule) with @kubernetes-models/prometheus-operator, whose schemas and types are
// generated from the operator's Go types, twice: `.validate()` (JSON schema: types, required
// fields, formats) and, because those schemas let unknown keys through, a strict TypeScript
// check (`satisfies IServiceMonitor`: an unknown or misspelt key is an error, as with
// kubernetes-validate --strict). kubernetes-validate covers the built-in kinds; any other
// kind is an error here, so nothing goes unvalidated.
// Input: a JSON array of objects on stdin (tests/ops converts `kubectl kustomize` output).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
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
// The strict check: every object as a typed literal.
const here = dirname(fileURLToPath(import.meta.url));
const gen = join(here, "gen-crds");
rmSync(gen, { recursive: true, force: true });
mkdirSync(gen);
const types = { PrometheusRule: "IPrometheusRule", ServiceMonitor: "IServiceMonitor" };
let ts = "";
for (const kind of Object.keys(types)) {
  ts += `import type { ${types[kind]} } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}";\n`;
}
objects.forEach((obj, i) => {
  if (types[obj.kind] && obj.apiVersion === "monitoring.coreos.com/v1") {
    ts += `// ${obj.kind}/${obj.metadata?.namespace}/${obj.metadata?.name}\nexport const o${i} = (${JSON.stringify(obj, null, 1)}) satisfies ${types[obj.kind]};\n`;
  }
});
writeFileSync(join(gen, "objects.ts"), ts);
try {
  execFileSync(process.execPath, [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", join(here, "tsconfig.crds.json")], { stdio: ["ignore", 2, 2] });
} catch {
  console.error("the prometheus-operator objects do not type-check (errors above)");
  failed++;
}
if (failed || checked === 0) {
  console.error(`${failed} invalid, ${checked} valid prometheus-operator objects`);
  process.exit(1);
}
