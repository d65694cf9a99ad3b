#!/usr/bin/env node
// Check the built book in a real browser: serve it on 127.0.0.1 and drive headless Chromium
// (Debian's /usr/bin/chromium, through playwright-core; no browser download) over every page.
//
//   node scripts/check_site.mjs [SITE_DIR]        (default _build/html)
//
// On every page:
//   - math is typeset: each Sphinx math element holds MathJax output, no MathJax error, and no
//     raw TeX ($...$, \(...\), \[...\], $$, \frac, ...) is visible outside code;
//   - every image has loaded (naturalWidth > 0), after the widgets below have rendered;
//   - pages with ipywidgets: every saved widget view renders (.jupyter-widgets / .widget-*);
//   - every kernel-free explorer (.lindiff-frame-slider from lindiff/book/explore.py): moving its
//     input.ld-range swaps img.ld-frame to another loaded frame and updates its label;
//   - every internal link, image, script and stylesheet points at a file that exists (and, for
//     links with #fragment, at an id in that page); no local request fails;
//   - no request leaves 127.0.0.1: every other request is logged and blocked;
//   - no uncaught JavaScript error;
//   - accessibility: axe-core (npm, injected into every page after the checks above; of the source
//     pages _modules/*, which share one template and hold only highlighted code, into the index
//     and the first module only, to keep the check short) finds no
//     critical or serious violation, except those listed with their reason in
//     scripts/axe-allowlist.json (rule + CSS selector of the element, caused by the theme); an
//     allowlist entry that no page needs any more is reported, so that the list stays exact.
// Chapters are also photographed in the theme's dark mode (<page>--dark.png: figures must stay
// legible there).
// Screenshots go to _build/screenshots/ (next to SITE_DIR). Exit status 1 if any check fails.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import { createRequire } from "node:module";
import path from "node:path";
import { browserPath, launchChromium } from "./chromium.mjs";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const allowFile = path.join(path.dirname(new URL(import.meta.url).pathname), "axe-allowlist.json");
const axeAllow = JSON.parse(fs.readFileSync(allowFile, "utf8")).allow.map((a) => ({
  ...a, targetRe: new RegExp(a.target), pagesRe: new RegExp(a.pages || ".*"), used: 0,
}));
let axeSeconds = 0;

const started = Date.now();
const siteDir = path.resolve(process.argv[2] || "_build/html");
const shotDir = path.join(path.dirname(siteDir), "screenshots");
const widgetTimeoutMs = 30_000;

if (!fs.existsSync(path.join(siteDir, "index.html"))) {
  console.error(`check_site: ${siteDir}/index.html not found; build the book first (bash scripts/build-book.sh)`);
  process.exit(2);
}
if (!fs.existsSync(browserPath)) {
  console.error(`check_site: no browser at ${browserPath}; apt-get install -y chromium chromium-driver`);
  process.exit(2);
}

// ---------------------------------------------------------------- static server on 127.0.0.1
const MIME = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".css": "text/css", ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
  ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".ico": "image/x-icon",
  ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".eot": "application/vnd.ms-fontobject",
  ".otf": "font/otf", ".txt": "text/plain; charset=utf-8", ".ipynb": "application/json",
  ".md": "text/markdown; charset=utf-8", ".inv": "application/octet-stream", ".map": "application/json",
};

/** The file a site URL path names, or null if there is none. */
function fileFor(urlPath) {
  let rel;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const file = path.join(siteDir, path.normalize(rel));
  if (!file.startsWith(siteDir)) return null;
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    const index = path.join(file, "index.html");
    return fs.existsSync(index) ? index : null;
  }
  return fs.existsSync(file) ? file : null;
}

const server = http.createServer((req, res) => {
  const file = fileFor(new URL(req.url, "http://127.0.0.1").pathname);
  if (!file) {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
    return;
  }
  res.writeHead(200, { "content-type": MIME[path.extname(file).toLowerCase()] || "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const isLocal = (url) => url.startsWith(origin + "/") || url === origin;

// ---------------------------------------------------------------- pages
function htmlPages(dir, rel = "") {
  const pages = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const sub = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (!["_static", "_sources", "_images"].includes(entry.name)) pages.push(...htmlPages(path.join(dir, entry.name), sub));
    } else if (entry.name.endsWith(".html")) {
      pages.push(sub);
    }
  }
  return pages;
}
const pages = htmlPages(siteDir);
const firstModule = pages.find((p) => p.startsWith("_modules/") && p !== "_modules/index.html");
const audited = (rel) => !rel.startsWith("_modules/") || rel === "_modules/index.html" || rel === firstModule;

// ids of each page, for #fragment links
const idCache = new Map();
function pageIds(file) {
  if (!idCache.has(file)) {
    const text = fs.readFileSync(file, "utf8");
    idCache.set(file, new Set([...text.matchAll(/\s(?:id|name)=["']([^"']+)["']/g)].map((m) => m[1])));
  }
  return idCache.get(file);
}

/** Figures (image outputs) the page's committed notebook shows, or null for a page with no notebook. */
function notebookFigures(rel) {
  const source = path.join(siteDir, "_sources", rel.replace(/\.html$/, ".ipynb"));
  if (!fs.existsSync(source)) return null;
  const nb = JSON.parse(fs.readFileSync(source, "utf8"));
  let n = 0;
  for (const cell of nb.cells) {
    const tags = cell.metadata?.tags || [];
    if (cell.cell_type !== "code" || tags.some((t) => ["remove-output", "remove-cell", "remove_cell", "remove_output"].includes(t))) continue;
    for (const out of cell.outputs || []) {
      if (out.metadata?.scrapbook) continue; // myst-nb glue: shown where the text pastes it
      if (Object.keys(out.data || {}).some((k) => k.startsWith("image/"))) n++;
    }
  }
  return n;
}

// ---------------------------------------------------------------- browser
fs.rmSync(shotDir, { recursive: true, force: true });
fs.mkdirSync(shotDir, { recursive: true });
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lindiff-chromium-"));
const context = await launchChromium(userDataDir, { width: 1280, height: 900 });

const externalRequests = []; // [page, url]
let currentPage = "";
await context.route("**/*", (route) => {
  const url = route.request().url();
  if (isLocal(url)) return route.continue();
  externalRequests.push([currentPage, url]);
  return route.abort("blockedbyclient");
});

const results = [];
const linkTargets = new Map(); // "file#frag" -> first page that links it

for (const rel of pages) {
  const pageStart = Date.now();
  currentPage = rel;
  const problems = [];
  const facts = {};
  const page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`JavaScript error: ${err.message.split("\n")[0]}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/net::ERR_BLOCKED_BY_CLIENT/.test(msg.text())) {
      problems.push(`console error: ${msg.text().split("\n")[0].slice(0, 200)}`);
    }
  });
  page.on("response", (resp) => {
    if (isLocal(resp.url()) && resp.status() >= 400) problems.push(`HTTP ${resp.status()} for ${resp.url().slice(origin.length)}`);
  });
  page.on("requestfailed", (req) => {
    if (isLocal(req.url())) problems.push(`request failed: ${req.url().slice(origin.length)} (${req.failure()?.errorText})`);
  });

  const slug = rel.replace(/\.html$/, "").replaceAll("/", "__");
  page.setDefaultTimeout(30_000);
  const redirect = fs.readFileSync(path.join(siteDir, rel), "utf8").match(/<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"/i);
  if (redirect) {
    // a redirect stub (index.html -> the root page): its target must exist
    const target = new URL(redirect[1], `${origin}/${rel}`);
    if (!fileFor(target.pathname)) problems.push(`redirect to a missing page: ${target.pathname}`);
    facts.redirect = target.pathname;
  } else try {
    await page.goto(`${origin}/${rel}`, { waitUntil: "load" });

    // ---- math
    const hasMathJax = await page.evaluate(() => !!document.querySelector('script[src*="mathjax/tex-chtml.js"]'));
    if (hasMathJax) {
      await page.waitForFunction(() => window.MathJax && MathJax.startup && MathJax.startup.promise, null, { timeout: 20_000 });
      await page.evaluate(() => MathJax.startup.promise);
    }
    const math = await page.evaluate(() => {
      const elements = [...document.querySelectorAll("span.math, div.math")];
      const untypeset = elements.filter((el) => !el.querySelector("mjx-container")).map((el) => el.textContent.trim().slice(0, 60));
      const errors = [...document.querySelectorAll("mjx-merror")].map((el) => el.getAttribute("data-mjx-error") || el.textContent.slice(0, 60));
      // visible text outside code and MathJax output
      const raw = [];
      const rawTex = /\\\(|\\\)|\\\[|\\\]|\$\$|\$[^\s$][^$\n]{0,200}?\$|\\(?:frac|mathcal|mathrm|mathbb|lambda|Sigma|sigma|alpha|beta|epsilon|mu|nu|sum|prod|left|right|begin|end|bar|hat|tilde|sqrt)\b/;
      const skip = "pre, code, script, style, textarea, mjx-container, .highlight, .lindiff-frame-slider script";
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || parent.closest(skip) || !parent.checkVisibility()) continue;
        const m = node.textContent.match(rawTex);
        if (m) raw.push(node.textContent.trim().slice(0, 80));
      }
      return { count: elements.length, typeset: document.querySelectorAll("mjx-container").length, untypeset, errors, raw };
    });
    facts.math = math.count;
    if (math.count && !hasMathJax) problems.push(`${math.count} math elements but no local MathJax script`);
    for (const t of math.untypeset) problems.push(`math not typeset: ${t}`);
    for (const e of math.errors) problems.push(`MathJax error: ${e}`);
    for (const t of math.raw) problems.push(`raw TeX visible: ${t}`);

    // ---- the closing chapter's table of claims: formulas typeset, no formula left as plain text
    const claims = await page.evaluate(() => {
      const table = document.querySelector("table.lindiff-claims");
      if (!table) return null;
      const textOutsideMath = (cell) => {
        const copy = cell.cloneNode(true);
        copy.querySelectorAll("mjx-container").forEach((m) => m.remove());
        return copy.textContent;
      };
      const cells = [...table.querySelectorAll("tbody td")];
      return {
        rows: table.querySelectorAll("tbody tr").length,
        typeset: table.querySelectorAll("tbody mjx-container").length,
        raw: cells.map(textOutsideMath).filter((t) => /[_^]/.test(t)).map((t) => t.trim().slice(0, 80)),
      };
    });
    if (rel.includes("what_we_reproduced") && !claims) problems.push("the table of claims is missing");
    if (claims) {
      facts.claims = { rows: claims.rows, typeset: claims.typeset };
      if (claims.typeset < claims.rows) problems.push(`table of claims: ${claims.typeset} typeset formulas in ${claims.rows} rows`);
      for (const t of claims.raw) problems.push(`table of claims: formula text outside math: ${t}`);
    }

    // ---- ipywidgets
    const views = await page.evaluate(() => document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length);
    facts.widgets = views;
    if (views) {
      try {
        await page.waitForFunction(
          (n) => [...document.querySelectorAll(".widget-subarea")].filter((el) => el.querySelector(".jupyter-widgets, [class*='widget-']")).length >= n,
          views, { timeout: widgetTimeoutMs });
      } catch {
        const rendered = await page.evaluate(() => document.querySelectorAll(".widget-subarea .jupyter-widgets").length);
        problems.push(`widgets not rendered: ${rendered} of ${views} views after ${widgetTimeoutMs / 1000} s`);
      }
      const boxes = await page.$$(".widget-subarea");
      for (let i = 0; i < boxes.length; i++) {
        await boxes[i].scrollIntoViewIfNeeded();
        await boxes[i].screenshot({ path: path.join(shotDir, `${slug}--widget-${i + 1}.png`) });
      }
    }

    // ---- kernel-free frame sliders
    const sliders = await page.$$(".lindiff-frame-slider");
    facts.sliders = sliders.length;
    for (let i = 0; i < sliders.length; i++) {
      const root = sliders[i];
      const range = await root.$("input.ld-range");
      const img = await root.$("img.ld-frame");
      const label = await root.$(".ld-value");
      if (!range || !img || !label) {
        problems.push(`frame slider ${i + 1}: missing input.ld-range, img.ld-frame or .ld-value`);
        continue;
      }
      const before = await root.evaluate((el) => ({
        src: el.querySelector("img.ld-frame").src, label: el.querySelector(".ld-value").textContent,
        value: Number(el.querySelector("input.ld-range").value), max: Number(el.querySelector("input.ld-range").max),
      }));
      if (before.max < 1) {
        problems.push(`frame slider ${i + 1}: only one frame`);
        continue;
      }
      const target = before.value === before.max ? 0 : before.max;
      await root.scrollIntoViewIfNeeded();
      await range.fill(String(target));
      await page.waitForFunction((el) => el.querySelector("img.ld-frame").complete, root, { timeout: 5_000 });
      const after = await root.evaluate((el) => ({
        src: el.querySelector("img.ld-frame").src, label: el.querySelector(".ld-value").textContent,
        width: el.querySelector("img.ld-frame").naturalWidth,
      }));
      if (after.src === before.src) problems.push(`frame slider ${i + 1}: moving the slider to ${target} did not change the frame`);
      if (after.label === before.label) problems.push(`frame slider ${i + 1}: moving the slider did not change its label`);
      if (!(after.width > 0)) problems.push(`frame slider ${i + 1}: frame ${target} did not load`);
      await root.screenshot({ path: path.join(shotDir, `${slug}--slider-${i + 1}.png`) });
    }

    // ---- images (including those the widgets and sliders just drew)
    const images = await page.evaluate(async () => {
      const imgs = [...document.images];
      for (const img of imgs) img.loading = "eager";
      await Promise.all(imgs.map((img) => (img.complete ? null : new Promise((r) => { img.onload = img.onerror = r; setTimeout(r, 10_000); }))));
      return imgs.map((img) => ({ src: img.currentSrc || img.src, ok: img.naturalWidth > 0 }));
    });
    facts.images = images.length;
    for (const im of images) if (!im.ok) problems.push(`image did not load: ${im.src.startsWith("data:") ? im.src.slice(0, 40) + "..." : im.src}`);
    // every figure the committed notebook shows must be on the page, too (the book re-executes
    // the notebook: a figure that its kernel failed to draw would otherwise just be absent)
    const expected = notebookFigures(rel);
    if (expected !== null) {
      const shown = await page.evaluate(() => [...document.querySelectorAll(".cell_output img")]
        .filter((img) => !img.closest(".widget-subarea, .lindiff-frame-slider")).length);
      facts.figures = `${shown}/${expected}`;
      if (shown < expected) problems.push(`${expected} figures in the notebook's outputs, ${shown} on the page`);
    }

    // ---- links and resources
    const refs = await page.evaluate(() => [
      ...[...document.querySelectorAll("a[href]")].map((a) => ["link", a.href]),
      ...[...document.querySelectorAll("img[src], script[src], iframe[src], source[src]")].map((e) => ["resource", e.src]),
      // rel=canonical names the published address (html.baseurl); a browser never loads it
      ...[...document.querySelectorAll("link[href]:not([rel=canonical])")].map((l) => ["resource", l.href]),
    ]);
    let external = 0;
    for (const [kind, href] of refs) {
      if (!/^https?:/.test(href)) continue; // data:, mailto:, javascript:
      if (!isLocal(href)) {
        if (kind === "resource") problems.push(`resource from another host: ${href}`);
        external++;
        continue;
      }
      const url = new URL(href);
      const file = fileFor(url.pathname);
      if (!file) {
        problems.push(`broken ${kind}: ${url.pathname}`);
        continue;
      }
      const frag = decodeURIComponent(url.hash.slice(1));
      if (frag && file.endsWith(".html")) {
        const key = `${path.relative(siteDir, file)}#${frag}`;
        if (!linkTargets.has(key)) linkTargets.set(key, rel);
        if (!pageIds(file).has(frag)) problems.push(`broken link: ${url.pathname}#${frag} (no such id)`);
      }
    }
    facts.links = refs.length;
    facts.externalLinks = external;

    // ---- accessibility (axe-core): critical and serious findings, but for the allowlisted ones
    const axeStart = Date.now();
    if (audited(rel)) await page.addScriptTag({ path: axePath });
    const violations = !audited(rel) ? [] : await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({
        id: v.id, help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.flat().join(" "), impact: n.impact || v.impact })),
      }));
    });
    axeSeconds += (Date.now() - axeStart) / 1000;
    facts.axeSeconds = (Date.now() - axeStart) / 1000;
    let allowed = 0;
    for (const v of violations) {
      for (const n of v.nodes) {
        if (!["critical", "serious"].includes(n.impact)) continue;
        const entry = axeAllow.find((a) => a.rule === v.id && a.targetRe.test(n.target) && a.pagesRe.test(rel));
        if (entry) {
          entry.used++;
          allowed++;
        } else {
          problems.push(`accessibility (axe ${v.id}, ${n.impact}): ${n.target}: ${v.help}`);
        }
      }
    }
    facts.axe = allowed;

    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shotDir, `${slug}.png`) });
    // ---- dark mode: the first figure of a chapter, as a reader of the dark theme sees it
    const firstFigure = await page.$("figure img");
    if (expected) {
      await page.evaluate(() => { document.documentElement.dataset.theme = "dark"; document.documentElement.dataset.mode = "dark"; });
      if (firstFigure) {
        await firstFigure.scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(shotDir, `${slug}--dark.png`) });
      }
    }
  } catch (err) {
    problems.push(`check aborted: ${err.message.split("\n")[0]}`);
  }
  await page.close();
  for (const [p, url] of externalRequests.filter(([p]) => p === rel)) problems.push(`blocked request to another host: ${url}`);
  results.push({ page: rel, problems: [...new Set(problems)], facts, seconds: (Date.now() - pageStart) / 1000 });
}

await context.close();
server.close();
fs.rmSync(userDataDir, { recursive: true, force: true });

// ---------------------------------------------------------------- report
let failed = 0;
for (const r of results) {
  const f = r.facts;
  const what = f.redirect ? `redirect to ${f.redirect}` : `math ${f.math ?? "-"}, images ${f.images ?? "-"}, figures ${f.figures ?? "-"}, widgets ${f.widgets ?? "-"}, sliders ${f.sliders ?? "-"}, links ${f.links ?? "-"}, axe allowlisted ${f.axe ?? "-"} in ${f.axeSeconds?.toFixed(1) ?? "-"} s`;
  console.log(`${r.problems.length ? "FAIL" : "ok  "} ${r.page}  (${what}; ${r.seconds.toFixed(1)} s)`);
  for (const p of r.problems) console.log(`       - ${p}`);
  if (r.problems.length) failed++;
}
for (const a of axeAllow) {
  if (!a.used) console.log(`note: scripts/axe-allowlist.json: ${a.rule} ${a.target} matched nothing (remove it?)`);
}
const total = (Date.now() - started) / 1000;
console.log(`check_site: ${results.length} pages, ${externalRequests.length} requests to other hosts blocked, screenshots in ${path.relative(process.cwd(), shotDir) || shotDir}, ${total.toFixed(1)} s (accessibility audit ${axeSeconds.toFixed(1)} s)`);
console.log(`site: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
