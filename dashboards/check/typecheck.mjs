// Type-checks every dashboard JSON in ../ (or the directory given) against @grafana/schema's `Dashboard` with
// `tsc --noEmit --strict`: each JSON is wrapped as `export const d = (<json>) satisfies
// Loosen<Dashboard>;` in gen/ (git-ignored). `satisfies` checks the literal itself, so
// unknown keys, wrong types and strings where numbers belong are errors. `Loosen<T>` only
// turns string enums into their literal values ("absolute" for ThresholdsMode.Absolute):
// JSON cannot name an enum member.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dashboards = process.argv[2] ?? join(here, ".."); // another directory: for the tests
const gen = join(here, "gen");
rmSync(gen, { recursive: true, force: true });
mkdirSync(gen);
const prelude = `import type { Dashboard } from "@grafana/schema";
type Loosen<T> = T extends string ? \`\${T}\` : T extends (infer U)[] ? Loosen<U>[] : T extends object ? { [K in keyof T]: Loosen<T[K]> } : T;
`;
const files = readdirSync(dashboards).filter((f) => f.endsWith(".json"));
if (files.length === 0) throw new Error("no dashboards found");
for (const f of files) {
  const json = readFileSync(join(dashboards, f), "utf8");
  JSON.parse(json); // a syntax error names the file
  writeFileSync(join(gen, f.replace(/\.json$/, ".ts")), `${prelude}export const d = (${json}) satisfies Loosen<Dashboard>;\n`);
}
try {
  execFileSync(process.execPath, [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", here, "--noEmit", "--strict"], { stdio: "inherit" });
} catch {
  console.error("dashboards do not type-check against @grafana/schema (errors above)");
  process.exit(1);
}
console.log(`type-checked ${files.length} dashboards against @grafana/schema: ${files.join(", ")}`);
