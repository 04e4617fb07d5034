// Bundles each js/widgets/*.ts into llmxai_widgets/static/<name>.js (one ES module per widget,
// colour tables inlined): the wheel carries everything, nothing loads from a CDN. The host of
// standalone HTML exports (js/standalone/host.ts, inlined by llmxai_widgets/export_html.py) is
// built alongside as llmxai_widgets/static/standalone.js.
import { build, context } from "esbuild";
import { readdirSync } from "node:fs";

const entryPoints = readdirSync("js/widgets")
  .filter((f) => f.endsWith(".ts"))
  .map((f) => ({ in: `js/widgets/${f}`, out: f.replace(/\.ts$/, "") }));
entryPoints.push({ in: "js/standalone/host.ts", out: "standalone" });
const options = {
  entryPoints,
  outdir: "llmxai_widgets/static",
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: false,
  loader: { ".json": "json" },
  logLevel: "info",
};
if (process.argv.includes("--watch")) {
  await (await context(options)).watch();
} else {
  await build(options);
}
