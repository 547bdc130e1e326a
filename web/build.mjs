// build.mjs — builds dist/: the hashed widget app bundle, then embed.js (which names it), the WordPress plugin's zip,
// then manifest.json.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build } from "esbuild";
import { zipSync } from "fflate";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const LOADER_GZIP_LIMIT = 10240;

const common = {
  bundle: true,
  format: "iife",
  minify: true,
  target: "es2019",
  platform: "browser",
  charset: "utf8",
  legalComments: "none",
  write: false,
  logLevel: "warning",
};

async function bundle(entry, define = {}) {
  const result = await build({ ...common, entryPoints: [join(here, entry)], define, outfile: "out.js" });
  const file = result.outputFiles.find((f) => f.path.endsWith(".js"));
  if (!file) throw new Error(`esbuild produced no JavaScript for ${entry}`);
  return Buffer.from(file.contents);
}

const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length;
const kib = (n) => `${(n / 1024).toFixed(2)} KiB`;

await mkdir(dist, { recursive: true });

// 1. The app bundle, named by the first 12 hex characters of its content's SHA-256.
const app = await bundle("widget/src/app.ts");
const hash = createHash("sha256").update(app).digest("hex").slice(0, 12);
const widgetFile = `widget-${hash}.js`;

// 2. The loader, which loads that file by name.
const loader = await bundle("widget/src/loader.ts", { __WIDGET_FILE__: JSON.stringify(widgetFile) });
const loaderGzipBytes = gzipSize(loader);
const widgetGzipBytes = gzipSize(app);

console.log(
  `embed.js       ${kib(loader.length)} raw, ${kib(loaderGzipBytes)} gzipped (${loaderGzipBytes} bytes)`,
);
console.log(
  `${widgetFile}  ${kib(app.length)} raw, ${kib(widgetGzipBytes)} gzipped (${widgetGzipBytes} bytes)`,
);
if (loaderGzipBytes > LOADER_GZIP_LIMIT) {
  console.error(`embed.js is ${loaderGzipBytes} bytes gzipped, over the ${LOADER_GZIP_LIMIT}-byte budget`);
  process.exit(1);
}

// 3. Only the current bundle stays; then the files, each with its gzip and brotli variants for the server to
// send as the browser accepts, and the manifest.
for (const name of await readdir(dist)) {
  if (/^widget-.*\.js(\.gz|\.br)?$/.test(name) && !name.startsWith(widgetFile)) await rm(join(dist, name));
}
const brotli = (bytes) =>
  brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
for (const [name, bytes] of [
  [widgetFile, app],
  ["embed.js", loader],
]) {
  await writeFile(join(dist, name), bytes);
  await writeFile(join(dist, `${name}.gz`), gzipSync(bytes, { level: 9 }));
  await writeFile(join(dist, `${name}.br`), brotli(bytes));
}
// 4. The WordPress plugin, as WordPress installs it: one folder, ai-assistant/, in a zip. Entries in path order
// with a fixed time, so that the same sources give the same bytes.
const pluginRoot = join(here, "..", "plugins", "wordpress", "ai-assistant");
async function tree(dir, prefix) {
  const entries = {};
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    if ((await stat(path)).isDirectory()) Object.assign(entries, await tree(path, `${prefix}${name}/`));
    else
      entries[`${prefix}${name}`] = [
        new Uint8Array(await readFile(path)),
        { mtime: new Date("2026-01-01T00:00:00Z") },
      ];
  }
  return entries;
}
const pluginZip = zipSync(await tree(pluginRoot, "ai-assistant/"), { level: 9 });
await writeFile(join(dist, "ai-assistant-wordpress.zip"), pluginZip);
console.log(`ai-assistant-wordpress.zip  ${kib(pluginZip.length)}`);

const manifest = {
  loader: "embed.js",
  widget: widgetFile,
  wordpressPlugin: "ai-assistant-wordpress.zip",
  loaderGzipBytes,
  widgetGzipBytes,
};
await writeFile(join(dist, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`dist/manifest.json: ${JSON.stringify(manifest)}`);
