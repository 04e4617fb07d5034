// Bundles each js/widgets/*.ts into llmxai_widgets/static/<name>.js (one ES module per widget,
// colour tables inlined): the wheel carries everything, nothing loads from a CDN.
import { build, context } from "esbuild";
import { readdirSync } from "node:fs";

const entryPoints = readdirSync("js/widgets")
  .filter((f) => f.endsWith(".ts"))
  .map((f) => `js/widgets/${f}`);
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
