#!/usr/bin/env node
// Print the whole book to one PDF: the single-page build (jupyter-book build --builder singlehtml,
// made by scripts/build-pdf.sh) opened in headless Chromium on 127.0.0.1, MathJax left to typeset
// every equation, then Chromium's print to PDF (A4, page numbers). Nothing is downloaded and no
// request leaves the machine (any other request is blocked and fails the run).
//
//   node scripts/print_pdf.mjs SINGLEHTML_DIR OUT.pdf
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { launchChromium } from "./chromium.mjs";

const [dirArg, outArg] = process.argv.slice(2);
if (!dirArg || !outArg) {
  console.error("usage: node scripts/print_pdf.mjs SINGLEHTML_DIR OUT.pdf");
  process.exit(2);
}
const siteDir = path.resolve(dirArg);
// Jupyter Book writes the single page as book/intro.html (the root document) but with links relative
// to the build's root (_static/, _images/): serve it as /book.html.
const pageFile = path.join(siteDir, "book", "intro.html");
if (!fs.existsSync(pageFile)) {
  console.error(`print_pdf: ${pageFile} not found; build with --builder singlehtml first`);
  process.exit(2);
}
const MIME = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
  ".png": "image/png", ".jpg": "image/jpeg", ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf",
  ".json": "application/json",
};
const server = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url, "http://127.0.0.1").pathname);
  const file = rel === "/book.html" ? pageFile : path.join(siteDir, path.normalize(rel));
  if (!file.startsWith(siteDir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { "content-type": MIME[path.extname(file).toLowerCase()] || "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const blocked = [];
const failed = [];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "lindiff-pdf-"));
const context = await launchChromium(profile, { width: 1100, height: 1400 });
let status = 0;
try {
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin + "/") || url.startsWith("data:")) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("requestfailed", (r) => {
    // The single page asks for the search index, which only the multi-page site has.
    if (r.url().startsWith(origin) && !r.url().endsWith("/searchindex.js")) failed.push(r.url());
  });
  await page.goto(`${origin}/book.html`, { waitUntil: "load", timeout: 120_000 });
  // MathJax 3: wait until the start-up typesetting of the whole (long) page is done.
  const math = await page.evaluate(async () => {
    if (window.MathJax?.startup?.promise) await window.MathJax.startup.promise;
    return {
      typeset: document.querySelectorAll("mjx-container").length,
      errors: document.querySelectorAll("mjx-merror").length,
    };
  });
  await page.emulateMedia({ media: "print" });
  // Paper has no scroll bar: wrap long code lines and table cells instead of cutting them off.
  await page.addStyleTag({
    content: `pre, code, .highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
      td, th { overflow-wrap: anywhere; } table { max-width: 100% !important; }
      .cell_output img { max-width: 100% !important; height: auto !important; }`,
  });
  // MathJax 3 does not break lines: shrink each displayed equation wider than the printed column
  // (A4 less the margins, about 690 CSS pixels) until it fits.
  await page.setViewportSize({ width: 690, height: 1000 });
  const shrunk = await page.evaluate(() => {
    let n = 0;
    for (const el of document.querySelectorAll('mjx-container[display="true"]')) {
      const room = el.parentElement.clientWidth;
      const need = el.firstElementChild ? el.firstElementChild.getBoundingClientRect().width : el.scrollWidth;
      if (room > 0 && need > room) {
        el.style.fontSize = `${Math.floor((100 * room) / need) - 1}%`;
        el.style.overflow = "visible";
        n++;
      }
    }
    return n;
  });
  await page.pdf({
    path: outArg,
    format: "A4",
    printBackground: true,
    margin: { top: "16mm", bottom: "16mm", left: "14mm", right: "14mm" },
    displayHeaderFooter: true,
    headerTemplate: "<span></span>",
    footerTemplate:
      '<div style="font-size:8px;width:100%;text-align:center;color:#555">' +
      'lindiff — <span class="pageNumber"></span> / <span class="totalPages"></span></div>',
  });
  const size = fs.statSync(outArg).size;
  console.log(`print_pdf: ${math.typeset} equations typeset (${shrunk} wide ones shrunk to fit), ${math.errors} MathJax errors; ` +
              `${(size / 1e6).toFixed(1)} MB written to ${outArg}`);
  if (math.typeset === 0 || math.errors > 0) status = 1;
  if (blocked.length) {
    console.error(`print_pdf: blocked ${blocked.length} request(s) leaving the machine, e.g. ${blocked[0]}`);
    status = 1;
  }
  if (failed.length) {
    console.error(`print_pdf: ${failed.length} local request(s) failed, e.g. ${failed[0]}`);
    status = 1;
  }
} finally {
  await context.close();
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(status);
