// test.mjs — the unit tests: bundles widget/test/*.test.ts with esbuild into a temporary folder and runs them with `node --test`.
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const testDir = join(here, "widget", "test");
const entries = (await readdir(testDir)).filter((n) => n.endsWith(".test.ts")).map((n) => join(testDir, n));
if (entries.length === 0) {
  console.error("no widget/test/*.test.ts files");
  process.exit(1);
}

const out = await mkdtemp(join(tmpdir(), "concierge-web-test-"));
let status = 1;
try {
  await build({
    entryPoints: entries,
    outdir: out,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "inline",
    logLevel: "warning",
  });
  const files = entries.map((e) => join(out, basename(e).replace(/\.ts$/, ".mjs")));
  const run = spawnSync(
    process.execPath,
    ["--enable-source-maps", "--test", "--test-reporter=spec", ...files],
    { stdio: "inherit" },
  );
  status = run.status ?? 1;
} finally {
  await rm(out, { recursive: true, force: true });
}
process.exit(status);
