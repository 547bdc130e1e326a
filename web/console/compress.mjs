// compress.mjs — after `vite build`: the gzip and brotli variant of each file of ../dist/console, which the
// server sends as the browser accepts, and the sizes of the first page (gzipped) for the benchmark's record.
// `node compress.mjs DIR` does the same to another build (a scratch `vite build --outDir DIR`).
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const dist = process.argv[2]
  ? resolve(process.argv[2])
  : new URL("../dist/console/", import.meta.url).pathname;

// Brotli's top quality takes seconds a megabyte: the files over 1 MB (GraphiQL's Monaco editor) get quality 9,
// some 10 % larger and about ten times faster; the console's own files keep the best.
const LARGE = 1024 * 1024;

async function files(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await files(path)));
    else if (!/\.(gz|br)$/.test(entry.name)) out.push(path);
  }
  return out;
}

for (const path of await files(dist)) {
  if (!/\.(js|css|html|svg|json)$/.test(path)) continue;
  const bytes = await readFile(path);
  if ((await stat(path)).size < 256) continue;
  const quality = bytes.length > LARGE ? 9 : constants.BROTLI_MAX_QUALITY;
  await writeFile(`${path}.gz`, gzipSync(bytes, { level: 9 }));
  await writeFile(
    `${path}.br`,
    brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: quality,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }),
  );
}

// What the console's first page loads: index.html names its scripts and styles (graphiql.html, the GraphQL
// explorer, is another page and not counted).
const html = await readFile(join(dist, "index.html"), "utf8");
const named = [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+)"/g)].map((m) => m[1]);
let js = 0;
let css = 0;
for (const name of named) {
  const size = gzipSync(await readFile(join(dist, name)), { level: 9 }).length;
  if (name.endsWith(".js")) js += size;
  if (name.endsWith(".css")) css += size;
}
console.log(`console first page: ${js} bytes of JavaScript and ${css} bytes of CSS, gzipped`);
