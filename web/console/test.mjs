// test.mjs — the console's unit tests: bundles test/*.test.ts with Rolldown (Vite's bundler) into a temporary
// folder and runs them with `node --test`. The pages themselves are tested in Chromium (tests/api/console_browser.rs).
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const here = dirname(fileURLToPath(import.meta.url));
const testDir = join(here, "test");
const entries = (await readdir(testDir)).filter((n) => n.endsWith(".test.ts")).map((n) => join(testDir, n));
if (entries.length === 0) {
  console.error("no test/*.test.ts files");
  process.exit(1);
}

const out = await mkdtemp(join(tmpdir(), "concierge-console-test-"));
let status = 1;
try {
  await build({
    input: Object.fromEntries(entries.map((e) => [basename(e, ".ts"), e])),
    platform: "node",
    logLevel: "warn",
    output: { dir: out, format: "esm", entryFileNames: "[name].mjs", sourcemap: "inline" },
  });
  const files = entries.map((e) => join(out, `${basename(e, ".ts")}.mjs`));
  const run = spawnSync(
    process.execPath,
    ["--enable-source-maps", "--test", "--test-reporter=spec", ...files],
    {
      stdio: "inherit",
    },
  );
  status = run.status ?? 1;
} finally {
  await rm(out, { recursive: true, force: true });
}
process.exit(status);
