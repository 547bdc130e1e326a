// Renders the Shopify plugin's Liquid files (plugins/shopify) with liquidjs as a Shopify storefront would, for the
// Rust end-to-end tests: they serve the page from a loopback origin and load it in Chromium.
//
// Reads a job from stdin and prints the rendered HTML on stdout:
//   {
//     "file": "extensions/ai-assistant/blocks/app-embed.liquid"        // relative to plugins/shopify; or
//             | "extensions/ai-assistant/blocks/product-assistant.liquid" | "snippets/theme-liquid.liquid"
//             | "snippets/product-page.liquid",
//     "settings": {"server_url": "http://127.0.0.1:18081", "assistant_id": "asst_…", "position": "bottom-left",
//                  "theme": "dark", ...},   // a block's settings (its schema's defaults fill the rest); for the
//                                          // hand-installed snippets, each becomes the variable concierge_<key>
//     "product": {"title", "vendor", "type", "price" (cents), "price_min", "price_max", "available",
//                 "description" (HTML), "url" ("/products/…"), "handle"},
//     "shop": {"url": "https://shop.example", "name", "money_format": "${{amount}}", "currency"},
//     "page_title": "…", "canonical_url": "https://…", "template": "product" (or "product.alternate", "index"…),
//     // optional:
//     "blocks": [{"file": "extensions/ai-assistant/blocks/product-assistant.liquid", "settings": {}}],
//                                          // app blocks rendered inside the product section of the page
//     "app_metafields": {"concierge": {"server_url": "…"}},   // the app's metafields (app.metafields.ns.key)
//     "asset_base": "/assets/",            // what asset_url puts before an extension asset's name (Shopify: its CDN)
//     "wrap": true,                        // false: the rendered fragment alone, without the page around it
//     "csp": "script-src …"                // a <meta http-equiv="Content-Security-Policy"> for the page
//   }
//
// The page: <!doctype html>, a <head> with the title and the canonical link, and a <body> whose <main> shows the
// product (on a product template) with the files whose schema target is "section" (and snippets/product-page)
// inside it; "body" targets (the app embed, snippets/theme-liquid) come just before </body>, "head" ones in <head>.
//
// Shopify's own filters and tags, which liquidjs lacks, follow Shopify's documented behaviour: money (cents with
// the shop's money format, "${{amount}}" by default), money_with_currency, money_without_currency,
// money_without_trailing_zeros, asset_url, script_tag, stylesheet_tag, t (the extension's locales/en.default.json)
// and {% schema %} (renders nothing). escape, strip_html and truncatewords are replaced by ports of Ruby Liquid's.
// The block's schema is checked as Shopify checks it on deploy (target, setting ids and types, select defaults,
// translation keys): a problem exits with status 1 and a message on stderr.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Drop, Liquid, Tag } from "liquidjs";

const here = dirname(fileURLToPath(import.meta.url));
const PLUGIN = resolve(here, "../../plugins/shopify");

class JobError extends Error {}

function fail(message) {
  throw new JobError(message);
}

// ---- Ruby Liquid's string filters, ported ----

const str = (value) => (value === null || value === undefined ? "" : String(value));

/** CGI.escapeHTML: & < > " ' (Shopify's escape; nil stays nil, which prints as nothing). */
export function escapeHtml(value) {
  if (value === null || value === undefined) return value;
  return str(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** escape_once: as escape, leaving entities alone. */
function escapeOnce(value) {
  if (value === null || value === undefined) return value;
  return str(value).replace(/["><']|&(?!([a-zA-Z]+|(#\d+));)/g, (c) => escapeHtml(c));
}

/** STRIP_HTML_BLOCKS then STRIP_HTML_TAGS, as Ruby Liquid's strip_html (case-sensitive, across lines). */
function stripHtml(value) {
  return str(value)
    .replace(/<script[\s\S]*?<\/script>|<!--[\s\S]*?-->|<style[\s\S]*?<\/style>/g, "")
    .replace(/<[\s\S]*?>/g, "");
}

const ASCII_SPACE = /[ \t\n\v\f\r]+/;

/** Ruby's truncatewords: the input unchanged when it has no more words, else the words joined by one space. */
function truncateWords(value, words = 15, ellipsis = "...") {
  if (value === null || value === undefined) return value;
  const input = str(value);
  let limit = Math.trunc(Number(words));
  if (!Number.isFinite(limit) || limit <= 0) limit = 1;
  const list = input.replace(/^[ \t\n\v\f\r]+/, "").split(ASCII_SPACE).filter((w) => w.length > 0);
  if (list.length <= limit) return input;
  return list.slice(0, limit).join(" ") + str(ellipsis);
}

// ---- Shopify's money filters ----

/** Cents as Shopify formats them: the amount with `precision` decimals and these separators. */
function delimit(cents, precision, thousands = ",", decimal = ".") {
  const negative = cents < 0;
  const abs = Math.abs(cents);
  const units = precision === 0 ? Math.round(abs / 100) : Math.floor(abs / 100);
  const fraction = precision === 0 ? "" : decimal + String(abs % 100).padStart(2, "0");
  const whole = String(units).replace(/\B(?=(\d{3})+(?!\d))/g, thousands);
  return (negative ? "-" : "") + whole + fraction;
}

const AMOUNTS = {
  amount: (c) => delimit(c, 2),
  amount_no_decimals: (c) => delimit(c, 0),
  amount_with_comma_separator: (c) => delimit(c, 2, ".", ","),
  amount_no_decimals_with_comma_separator: (c) => delimit(c, 0, ".", ","),
  amount_with_apostrophe_separator: (c) => delimit(c, 2, "'", "."),
  amount_no_decimals_with_space_separator: (c) => delimit(c, 0, " "),
  amount_with_space_separator: (c) => delimit(c, 2, " ", ","),
  amount_with_period_and_space_separator: (c) => delimit(c, 2, " ", "."),
};
const PLACEHOLDER = /\{\{\s*(\w+)\s*\}\}/;

function cents(value) {
  if (value === null || value === undefined || value === "") return null;
  const n = typeof value === "number" ? value : Number(String(value).trim());
  return Number.isFinite(n) ? Math.round(n) : null;
}

function formatMoney(value, format) {
  const c = cents(value);
  if (c === null) return "";
  const match = PLACEHOLDER.exec(format);
  if (!match) return format;
  const amount = (AMOUNTS[match[1]] ?? AMOUNTS.amount)(c);
  return format.replace(PLACEHOLDER, amount);
}

// ---- Drops ----

/** The template object: template.name, .suffix, .directory; prints as "product" or "product.alternate". */
class TemplateDrop extends Drop {
  constructor(spec) {
    super();
    const [path, suffix] = String(spec).split(/\.(.*)/s);
    const at = path.lastIndexOf("/");
    this.directory = at >= 0 ? path.slice(0, at) : null;
    this.name = at >= 0 ? path.slice(at + 1) : path;
    this.suffix = suffix || null;
  }
  valueOf() {
    return this.suffix ? `${this.name}.${this.suffix}` : this.name;
  }
}

/** An app metafield: prints as its value; .value, .type. */
class MetafieldDrop extends Drop {
  constructor(value) {
    super();
    this.value = value;
    this.type = typeof value === "number" ? "number_integer" : typeof value === "boolean" ? "boolean" : "single_line_text_field";
  }
  valueOf() {
    return this.value;
  }
}

// ---- The job ----

function readJob() {
  const text = readFileSync(0, "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    return fail(`the job on stdin is not JSON: ${error.message}`);
  }
}

/** An absolute path inside plugins/shopify, for a path relative to it. */
function pluginPath(file) {
  if (typeof file !== "string" || !file.endsWith(".liquid")) fail(`file must name a .liquid file, not ${JSON.stringify(file)}`);
  const path = resolve(PLUGIN, file);
  if (!path.startsWith(PLUGIN + sep)) fail(`file ${file} is outside plugins/shopify`);
  if (!existsSync(path)) fail(`no such file: plugins/shopify/${file}`);
  return path;
}

/** The theme app extension a file is part of (its folder), or null for the hand-installed snippets. */
function extensionOf(path) {
  const rel = relative(join(PLUGIN, "extensions"), path);
  if (rel.startsWith("..")) return null;
  return join(PLUGIN, "extensions", rel.split(sep)[0]);
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    return fail(`${relative(PLUGIN, path)}: ${error.message}`);
  }
}

function lookup(tree, key) {
  return key.split(".").reduce((node, part) => (node && typeof node === "object" ? node[part] : undefined), tree);
}

const SCHEMA = /\{%-?\s*schema\s*-?%\}([\s\S]*?)\{%-?\s*endschema\s*-?%\}/;
const TARGETS = ["section", "head", "compliance_head", "body"];
const SETTING_TYPES = new Set([
  "checkbox", "number", "radio", "range", "select", "text", "textarea", "article", "blog", "collection",
  "collection_list", "color", "color_background", "color_scheme", "font_picker", "html", "image_picker",
  "inline_richtext", "link_list", "liquid", "metaobject", "page", "product", "product_list", "richtext", "url",
  "video", "video_url", "header", "paragraph",
]);

/** The block's schema, checked as Shopify checks it when the extension is deployed. */
function blockSchema(path, extension) {
  const source = readFileSync(path, "utf8");
  const match = SCHEMA.exec(source);
  const name = relative(PLUGIN, path);
  if (!match) fail(`${name}: an app block needs a {% schema %}`);
  let schema;
  try {
    schema = JSON.parse(match[1]);
  } catch (error) {
    fail(`${name}: the schema is not JSON: ${error.message}`);
  }
  const problems = [];
  const translations = readJson(join(extension, "locales", "en.default.schema.json"));
  const label = (where, value) => {
    if (typeof value !== "string" || !value) problems.push(`${where} is missing`);
    else if (value.startsWith("t:")) {
      const text = lookup(translations, value.slice(2));
      if (typeof text !== "string") problems.push(`${where}: no translation ${value.slice(2)} in locales/en.default.schema.json`);
      else if (where === "name" && text.length > 25) problems.push(`name: "${text}" is longer than 25 characters`);
    }
  };
  label("name", schema.name);
  if (!TARGETS.includes(schema.target)) problems.push(`target must be one of ${TARGETS.join(", ")}`);
  if (schema.enabled_on && schema.disabled_on) problems.push("enabled_on and disabled_on cannot both be set");
  for (const key of ["javascript", "stylesheet"]) {
    if (schema[key] && !existsSync(join(extension, "assets", schema[key]))) problems.push(`${key}: no assets/${schema[key]}`);
  }
  const ids = new Set();
  for (const [i, setting] of (schema.settings ?? []).entries()) {
    const where = `settings[${i}]${setting.id ? ` (${setting.id})` : ""}`;
    if (!SETTING_TYPES.has(setting.type)) problems.push(`${where}: unknown type ${setting.type}`);
    if (setting.type === "header" || setting.type === "paragraph") continue;
    if (!setting.id) problems.push(`${where}: no id`);
    else if (ids.has(setting.id)) problems.push(`${where}: the id is used twice`);
    ids.add(setting.id);
    label(`${where} label`, setting.label);
    if (setting.info !== undefined) label(`${where} info`, setting.info);
    if (setting.type === "select" || setting.type === "radio") {
      const values = (setting.options ?? []).map((o) => o.value);
      if (!values.length) problems.push(`${where}: no options`);
      (setting.options ?? []).forEach((o, j) => label(`${where} options[${j}]`, o.label));
      if (setting.default !== undefined && !values.includes(setting.default)) problems.push(`${where}: the default is not an option`);
    }
    if (setting.type === "checkbox" && setting.default !== undefined && typeof setting.default !== "boolean") {
      problems.push(`${where}: a checkbox's default is true or false`);
    }
    if (setting.type === "color" && setting.default !== undefined && !/^#[0-9a-fA-F]{6}$/.test(setting.default)) {
      problems.push(`${where}: a color's default is #rrggbb`);
    }
    if (setting.type === "text" && setting.default === "") problems.push(`${where}: a text default cannot be empty`);
  }
  if (problems.length) fail(`${name}: ${problems.join("; ")}`);
  return schema;
}

function productObject(spec) {
  if (!spec || typeof spec !== "object") return undefined;
  const price = spec.price ?? spec.price_min ?? 0;
  const min = spec.price_min ?? price;
  const max = spec.price_max ?? price;
  const handle = spec.handle ?? (spec.url ? String(spec.url).split("/").pop() : "product");
  return {
    id: spec.id ?? 1,
    handle,
    title: spec.title ?? "",
    vendor: spec.vendor ?? "",
    type: spec.type ?? "",
    description: spec.description ?? "",
    url: spec.url ?? `/products/${handle}`,
    price,
    price_min: min,
    price_max: max,
    price_varies: spec.price_varies ?? min !== max,
    available: spec.available,
    tags: spec.tags ?? [],
  };
}

/** block.settings: the schema's defaults under the job's values, as the theme editor saves them. */
function blockSettings(schema, given, product, file) {
  const settings = {};
  const known = new Map((schema.settings ?? []).filter((s) => s.id).map((s) => [s.id, s]));
  for (const key of Object.keys(given ?? {})) {
    if (!known.has(key)) fail(`${file} has no setting ${key} (it has ${[...known.keys()].join(", ")})`);
  }
  for (const [id, setting] of known) {
    let value = given && Object.hasOwn(given, id) ? given[id] : setting.default;
    // Shopify keeps no empty text: a blank setting is nil.
    if (value === "" && ["text", "textarea", "color", "url"].includes(setting.type)) value = null;
    if (setting.type === "product" && value === undefined && setting.autofill) value = product;
    if (setting.type === "checkbox") value = value === undefined ? false : Boolean(value);
    settings[id] = value ?? null;
  }
  return settings;
}

function makeEngine(root, extension, job, locales) {
  const assetBase = job.asset_base ?? "/assets/";
  const moneyFormat = job.shop?.money_format ?? "${{amount}}";
  const moneyWithCurrency = job.shop?.money_with_currency_format ?? `\${{amount}} ${job.shop?.currency ?? "USD"}`;
  const engine = new Liquid({
    root: [root],
    partials: [root],
    extname: ".liquid",
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    jsTruthy: false,
  });

  engine.registerFilter("escape", escapeHtml);
  engine.registerFilter("h", escapeHtml);
  engine.registerFilter("escape_once", escapeOnce);
  engine.registerFilter("strip_html", stripHtml);
  engine.registerFilter("truncatewords", truncateWords);
  engine.registerFilter("money", (v) => formatMoney(v, moneyFormat));
  engine.registerFilter("money_with_currency", (v) => formatMoney(v, moneyWithCurrency));
  engine.registerFilter("money_without_currency", (v) => formatMoney(v, "{{amount}}"));
  engine.registerFilter("money_without_trailing_zeros", (v) => formatMoney(v, moneyFormat).replace(/([.,])00(?!\d)/, ""));
  engine.registerFilter("asset_url", (name) => {
    const file = str(name);
    if (extension && !existsSync(join(extension, "assets", file))) {
      process.stderr.write(`shopify-render: asset_url: no assets/${file} in ${relative(PLUGIN, extension)}\n`);
    }
    return assetBase + file.split("/").map(encodeURIComponent).join("/");
  });
  engine.registerFilter("script_tag", (url) => `<script src="${str(url)}" type="text/javascript"></script>`);
  engine.registerFilter("stylesheet_tag", (url) => `<link href="${str(url)}" rel="stylesheet" type="text/css" media="all" />`);
  engine.registerFilter("t", (key, ...args) => {
    const text = lookup(locales, str(key));
    if (typeof text !== "string") return `translation missing: en.${str(key)}`;
    const vars = Object.fromEntries(args.filter(Array.isArray));
    return text.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name) => str(vars[name]));
  });

  // {% schema %} … {% endschema %}: read by the theme editor, rendered as nothing.
  engine.registerTag(
    "schema",
    class SchemaTag extends Tag {
      constructor(token, remainTokens, liquid) {
        super(token, remainTokens, liquid);
        while (remainTokens.length) {
          const next = remainTokens.shift();
          if (next.name === "endschema") return;
        }
        throw new Error(`tag ${token.getText()} not closed`);
      }
      *render() {}
    },
  );
  return engine;
}

/** Renders one file of the plugin with the job's objects; returns the HTML and where it goes on the page. */
async function renderFile(file, settingsGiven, job, objects) {
  const path = pluginPath(file);
  const extension = extensionOf(path);
  let placement;
  const globals = { ...objects };
  let locales = {};
  if (extension) {
    const schema = blockSchema(path, extension);
    placement = schema.target === "compliance_head" ? "head" : schema.target;
    locales = existsSync(join(extension, "locales", "en.default.json")) ? readJson(join(extension, "locales", "en.default.json")) : {};
    const id = relative(join(extension, "blocks"), path).replace(/\.liquid$/, "");
    globals.block = {
      id: `AbCd1234${id.replace(/[^a-z0-9]/gi, "")}`,
      type: `shopify://apps/concierge/blocks/${id}/00000000-0000-0000-0000-000000000000`,
      settings: blockSettings(schema, settingsGiven, objects.product, file),
      shopify_attributes: "",
    };
  } else {
    // A hand-installed snippet: the job's settings are the variables it reads (concierge_<key>).
    placement = /product/.test(file) ? "section" : "body";
    for (const [key, value] of Object.entries(settingsGiven ?? {})) globals[`concierge_${key}`] = value;
  }
  const root = extension ? join(extension, "snippets") : join(PLUGIN, "snippets");
  const engine = makeEngine(root, extension, job, locales);
  const template = engine.parse(readFileSync(path, "utf8"), path);
  const html = await engine.render(template, {}, { globals });
  return { html: html.trim(), placement };
}

function page(job, objects, parts) {
  const at = (where) => parts.filter((p) => p.placement === where).map((p) => p.html).join("\n");
  const product = objects.product;
  const isProduct = objects.template.name === "product" && product;
  const price = isProduct ? formatMoney(product.price, job.shop?.money_format ?? "${{amount}}") : "";
  const csp = job.csp ? `\n<meta http-equiv="Content-Security-Policy" content="${escapeHtml(job.csp)}">` : "";
  const canonical = objects.canonical_url ? `\n<link rel="canonical" href="${escapeHtml(objects.canonical_url)}">` : "";
  const main = isProduct
    ? `<section class="product" id="ProductInfo">
<h1 class="product__title">${escapeHtml(product.title)}</h1>
<p class="price">${price}</p>
<div class="product__description">${product.description}</div>
${at("section")}
</section>`
    : `<h1>${escapeHtml(objects.page_title)}</h1>\n${at("section")}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">${csp}
<title>${escapeHtml(objects.page_title)}</title>${canonical}
${at("head")}
</head>
<body class="template-${escapeHtml(objects.template.name)}">
<main id="MainContent">
${main}
</main>
${at("body")}
</body>
</html>
`;
}

async function main() {
  const job = readJob();
  const templateSpec = job.template ?? (job.product ? "product" : "index");
  const template = new TemplateDrop(templateSpec);
  const shopUrl = (job.shop?.url ?? "https://concierge-test.myshopify.com").replace(/\/+$/, "");
  const product = productObject(job.product);
  const metafields = {};
  for (const [namespace, entries] of Object.entries(job.app_metafields ?? {})) {
    metafields[namespace] = Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, new MetafieldDrop(v)]));
  }
  const url = new URL(job.canonical_url ?? shopUrl + (product?.url ?? "/"));
  const objects = {
    shop: {
      name: job.shop?.name ?? "Concierge test shop",
      url: shopUrl,
      domain: new URL(shopUrl).host,
      permanent_domain: job.shop?.permanent_domain ?? "concierge-test.myshopify.com",
      currency: job.shop?.currency ?? "USD",
      money_format: job.shop?.money_format ?? "${{amount}}",
    },
    product,
    page_title: job.page_title ?? product?.title ?? "Home",
    canonical_url: job.canonical_url ?? url.href,
    template,
    request: {
      page_type: template.name,
      design_mode: false,
      host: url.host,
      path: url.pathname,
      origin: url.origin,
      locale: { iso_code: "en", primary: true },
    },
    app: { metafields },
    settings: {},
  };
  if (product === undefined) delete objects.product;

  const parts = [await renderFile(job.file, job.settings, job, objects)];
  for (const block of job.blocks ?? []) parts.push(await renderFile(block.file, block.settings, job, objects));
  const out = job.wrap === false ? parts.map((p) => p.html).join("\n") + "\n" : page(job, objects, parts);
  process.stdout.write(out);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`shopify-render: ${error instanceof JobError ? error.message : error.stack || error}\n`);
  process.exit(1);
}
