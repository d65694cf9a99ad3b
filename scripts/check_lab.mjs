#!/usr/bin/env node
// Check the explorers the way a local reader meets them: in JupyterLab, with Lab's default settings
// (widget messages over kernel subshells), driven by headless Chromium (Debian's /usr/bin/chromium,
// through playwright-core).
//
//   node scripts/check_lab.mjs [NOTEBOOK ...]     (default: chapters 2, 5 and 6 in book/, and
//                                                  tests/lab/explorer_keys.ipynb: dropdowns)
//
// Starts JupyterLab from .venv on 127.0.0.1 with a random token, in a temporary folder that holds
// copies of the notebooks (the chapters in book/ are never written) and its own Jupyter settings,
// runtime and workspace folders. Progress bars are left on, as a reader has them. For each notebook:
// open it, run all cells (Run > Run All Cells) and require no error output; then, for every explorer
// (.lindiff-explorer, from lindiff/book/explore.py), change every control: each slider by a drag, an
// arrow key and a value typed into its readout box (if it takes one), then TYPED_IN_A_ROW values
// typed in a row round the sliders without waiting; each dropdown by a selection and an arrow key;
// each toggle button by a click. After each change it waits for the kernel to be idle and the
// explorer to have drawn, and requires that the explorer holds exactly one figure, that the figure
// changed, and that no traceback or "model not found" appeared anywhere in the notebook at any
// moment (a MutationObserver records every one). No MyST role may show as raw markup in a rendered
// markdown cell (jupyterlab-myst renders them). Every pre-rendered frame slider must answer an
// arrow key. Uncaught JavaScript errors fail the check (but for one JupyterLab bug of its own), and
// requests to other hosts are blocked and reported. Every kernel, the server and the browser are
// stopped at the end, also on failure or interrupt. Screenshots go to _build/screenshots-lab/.
// Exit status 1 if any check fails, 2 if it cannot start.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { browserPath, launchChromium } from "./chromium.mjs";

const started = Date.now();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const jupyter = path.join(root, ".venv", "bin", "jupyter");
const notebooks = (process.argv.length > 2 ? process.argv.slice(2) : [...["02_linear_model", "05_real_images", "06_early_stopping"]
  .map((n) => path.join(root, "book", `${n}.ipynb`)), path.join(root, "tests", "lab", "explorer_keys.ipynb")]).map((p) => path.resolve(p));
const TYPED_IN_A_ROW = 20;
const runAllTimeoutMs = 300_000;
const drawTimeoutMs = 60_000;
const shotDir = path.join(root, "_build", "screenshots-lab");

for (const [what, file, fix] of [["JupyterLab", jupyter, "bash scripts/setup.sh"], ["browser", browserPath, "apt-get install -y chromium"],
  ...notebooks.map((nb) => ["notebook", nb, "pass paths to existing notebooks"])]) {
  if (!fs.existsSync(file)) {
    console.error(`check_lab: no ${what} at ${file}; ${fix}`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------- JupyterLab on 127.0.0.1
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lindiff-lab-"));
const dirs = Object.fromEntries(["notebooks", "config", "data", "runtime", "settings", "workspaces", "ipython", "chromium"]
  .map((d) => [d, path.join(tmp, d)]));
for (const d of Object.values(dirs)) fs.mkdirSync(d);
for (const nb of notebooks) fs.copyFileSync(nb, path.join(dirs.notebooks, path.basename(nb)));

const port = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, "127.0.0.1", () => {
    const { port: p } = probe.address();
    probe.close(() => resolve(p));
  });
});
const token = crypto.randomBytes(24).toString("hex");
const origin = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  JUPYTER_CONFIG_DIR: dirs.config, JUPYTER_DATA_DIR: dirs.data, JUPYTER_RUNTIME_DIR: dirs.runtime,
  JUPYTERLAB_SETTINGS_DIR: dirs.settings, JUPYTERLAB_WORKSPACES_DIR: dirs.workspaces, IPYTHONDIR: dirs.ipython,
  LINDIFF_DATA_DIR: process.env.LINDIFF_DATA_DIR || path.resolve(root, "..", "shared", "data"),
  // the project's Lab settings (jupyter/labconfig: widget state saved with the notebook), as setup.sh installs them
  JUPYTER_CONFIG_PATH: [path.join(root, "jupyter"), process.env.JUPYTER_CONFIG_PATH].filter(Boolean).join(path.delimiter),
};
delete env.LINDIFF_PROGRESS; // progress bars on, as a reader has them
const args = ["lab", "--no-browser", "--ServerApp.ip=127.0.0.1", `--ServerApp.port=${port}`, "--ServerApp.port_retries=0",
  `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${dirs.notebooks}`,
  "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"];
if (process.getuid?.() === 0) args.push("--allow-root");
const serverLog = path.join(tmp, "server.log");
const logFd = fs.openSync(serverLog, "a");
const server = spawn(jupyter, args, { env, stdio: ["ignore", logFd, logFd] });
let serverExited = false;
server.on("exit", () => { serverExited = true; });

let context = null;
let stopping = null;
/** Stop what this script started: the kernels, the server, the browser; remove the temporary folder. */
async function stopAll() {
  stopping ??= (async () => {
    if (context) await context.close().catch(() => {});
    if (!serverExited) {
      for (const k of (await api("GET", "/api/kernels").catch(() => [])) || []) await api("DELETE", `/api/kernels/${k.id}`).catch(() => {});
      await api("POST", "/api/shutdown").catch(() => {});
      for (let i = 0; i < 100 && !serverExited; i++) await sleep(100);
      if (!serverExited) server.kill("SIGKILL");
    }
    fs.closeSync(logFd);
    fs.rmSync(tmp, { recursive: true, force: true });
  })();
  return stopping;
}
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, async () => { await stopAll(); process.exit(130); });

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
async function api(method, route) {
  const res = await fetch(`${origin}${route}`, { method, headers: { Authorization: `token ${token}` } });
  if (!res.ok) throw new Error(`${method} ${route}: HTTP ${res.status}`);
  return res.status === 204 ? null : res.json();
}

const results = [];
try {
  for (let i = 0; ; i++) {
    if (serverExited) throw new Error(`JupyterLab exited at start:\n${fs.readFileSync(serverLog, "utf8").slice(-3000)}`);
    if (await api("GET", "/api/status").then(() => true, () => false)) break;
    if (i > 600) throw new Error("JupyterLab did not answer within 60 s");
    await sleep(100);
  }

  // ---------------------------------------------------------------- browser
  fs.rmSync(shotDir, { recursive: true, force: true });
  fs.mkdirSync(shotDir, { recursive: true });
  context = await launchChromium(dirs.chromium, { width: 1280, height: 1000 });
  // a figure's identity: the SHA-256 of its image bytes (data: or blob: URL alike)
  await context.addInitScript(() => {
    window.__ldImageHash = async (img) => {
      const digest = await crypto.subtle.digest("SHA-256", await (await fetch(img.src)).arrayBuffer());
      return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    };
  });
  const blocked = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin + "/") || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
  for (const nb of notebooks) results.push(await checkNotebook(path.basename(nb)));
  for (const url of blocked) results.at(-1).problems.push(`blocked request to another host: ${url}`);
} catch (err) {
  results.push({ notebook: "(setup)", problems: [`check aborted: ${err.stack || err}`], facts: {}, seconds: 0 });
} finally {
  await stopAll();
}

// ---------------------------------------------------------------- report
let failed = 0;
for (const r of results) {
  const f = r.facts;
  console.log(`${r.problems.length ? "FAIL" : "ok  "} ${r.notebook}  (run all ${f.runAll ?? "-"} s, explorers ${f.explorers ?? "-"}, `
    + `changes ${f.changes ?? "-"}, typed ${f.typed ?? "-"}, redraw ${f.redraw ?? "-"}, frame sliders ${f.sliders ?? "-"}, `
    + `errors seen ${f.errorsSeen ?? "-"}, markdown cells ${f.markdown ?? "-"}, reopened: ${f.reopened ?? "-"}; ${r.seconds.toFixed(1)} s)`);
  for (const s of f.starts || []) console.log(`       starts at ${s}`);
  for (const s of f.notes || []) console.log(`       note: ${s}`);
  for (const p of r.problems) console.log(`       - ${p}`);
  if (r.problems.length) failed++;
}
console.log(`check_lab: screenshots in ${path.relative(process.cwd(), shotDir) || shotDir}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`lab: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

// ---------------------------------------------------------------- one notebook
async function checkNotebook(name) {
  const nbStart = Date.now();
  const problems = [];
  const facts = {};
  const slug = name.replace(/\.ipynb$/, "");
  let page = await openPage(slug, name, problems);
  try {
    await page.locator(".jp-NotebookPanel .jp-Cell").first().waitFor({ timeout: 90_000 });
    // Lab may ask which kernel to start; a reader accepts the one the notebook names
    for (let t0 = Date.now(); ;) {
      const sessions = await api("GET", "/api/sessions");
      if (sessions.some((s) => s.path === name && s.kernel?.execution_state === "idle")) break;
      const accept = page.locator(".jp-Dialog .jp-mod-accept");
      if (await accept.isVisible()) await accept.click();
      if (Date.now() - t0 > 90_000) throw new Error("no idle kernel 90 s after opening the notebook");
      await sleep(200);
    }
    await kernelIdle(page, 90_000);
    // record every traceback or widget error that ever appears, even if a later redraw removes it
    await page.evaluate(() => {
      window.__ldErrors = [];
      const bad = /Traceback \(most recent call last\)|Error displaying widget|model not found|\w+Error: /;
      const check = (node) => {
        const text = node.nodeType === Node.TEXT_NODE ? node.textContent : node.innerText || "";
        if (bad.test(text)) window.__ldErrors.push(text.trim().slice(0, 300));
      };
      new MutationObserver((records) => {
        for (const r of records) {
          for (const n of r.addedNodes) if (n.nodeType === Node.TEXT_NODE || n.nodeType === Node.ELEMENT_NODE) check(n);
          if (r.type === "characterData") check(r.target);
        }
      }).observe(document.querySelector(".jp-NotebookPanel"), { childList: true, subtree: true, characterData: true });
    });

    // ---- run all
    const runStart = Date.now();
    await page.locator(".lm-MenuBar-itemLabel", { hasText: /^Run$/ }).click();
    await page.locator(".lm-Menu-itemLabel", { hasText: /^Run All Cells$/ }).click();
    // the stored outputs carry execution counts already: wait for the queued cells' [*], then for none
    // (a cell with its input folded, jupyter.source_hidden, shows an empty prompt)
    const prompts = () => [...document.querySelectorAll(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt")].map((p) => p.textContent).filter((t) => t.trim() !== "");
    await page.waitForFunction(`(${prompts})().some((p) => p.includes("*"))`, null, { timeout: 30_000, polling: 50 });
    // ... or for an error output that stopped the run (the cells after it stay unnumbered)
    await page.waitForFunction(`(${prompts})().every((p) => /\\[\\d+\\]/.test(p)) || (!(${prompts})().some((p) => p.includes("*"))
      && document.querySelector(".jp-NotebookPanel .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"))`,
    null, { timeout: runAllTimeoutMs, polling: 500 });
    await kernelIdle(page, 60_000);
    facts.runAll = ((Date.now() - runStart) / 1000).toFixed(1);
    const cellErrors = await page.evaluate(() => [...document.querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")]
      .map((el) => el.innerText).filter((t) => /Error|Traceback/.test(t)).map((t) => t.trim().split("\n").slice(-1)[0]));
    for (const e of cellErrors) problems.push(`error output after Run All: ${e.slice(0, 200)}`);

    // ---- MyST: after Run All, jupyterlab-myst has rendered every markdown cell, and no role is left as
    // raw markup ({cite:p}`...`; glued values and citations show as their keys: it reads no glue or .bib)
    const raw = await page.evaluate(() => [...document.querySelectorAll(".jp-MarkdownCell .myst, .jp-MarkdownCell .jp-RenderedMarkdown")]
      .map((e) => e.textContent).join("\n").match(/\{[a-z]+(:[a-z]+)?\}`[^`]*`/g) || []);
    facts.markdown = await page.locator(".jp-MarkdownCell .myst").count();
    facts.notes = [];
    for (const r of [...new Set(raw)].slice(0, 5)) problems.push(`raw MyST role in rendered markdown: ${r}`);
    // what jupyterlab-myst shows of a construct it does not know: a Python role's title and target
    // ("weights <lindiff.LinearDiffusion.weights>", "~lindiff.x"), a glued value's name and format
    // ("sqrt_beta_1:.4f"), an empty dropdown (a literalinclude in it); a link to a chapter without .ipynb
    const myst = await page.evaluate(() => {
      const cells = [...document.querySelectorAll(".jp-MarkdownCell .myst")];
      const text = cells.map((e) => e.textContent).join("\n");
      return {
        roles: text.match(/\S+ <lindiff\.[\w.]+>|~lindiff\.[\w.]+/g) || [],
        glue: [...document.querySelectorAll(".jp-MarkdownCell .myst span:not([class])")].map((e) => e.textContent)
          .filter((t) => /^[A-Za-z_]\w*:[,.]?\d*[a-z%]$/.test(t)),
        emptyDropdowns: [...document.querySelectorAll(".jp-MarkdownCell details")].filter((d) => !d.querySelector(".details-body, .myst-dropdown-body")?.textContent.trim())
          .map((d) => d.querySelector("summary")?.textContent.trim()),
        // an {eq} whose label Lab cannot find (another chapter's) shows as a bare label with a warning sign
        unresolved: [...document.querySelectorAll(".jp-MarkdownCell .myst [title='Cross Reference Not Found']")].map((e) => e.textContent.trim()),
        citations: document.querySelectorAll(".jp-MarkdownCell .myst [title='Citation Not Found']").length,
        links: [...document.querySelectorAll(".jp-MarkdownCell .myst a[href]")].map((a) => a.getAttribute("href"))
          .filter((h) => /\/files\/\d\d_[a-z_]+(\?|#|$)/.test(h)),
      };
    });
    for (const r of [...new Set(myst.roles)].slice(0, 5)) problems.push(`Python role shown raw in Lab: ${r}`);
    // glued values: Lab cannot know them (myst_nb.glue writes them for the site only); counted, not failed
    if (myst.glue.length) facts.notes.push(`${myst.glue.length} glued values shown as their names in Lab, e.g. ${[...new Set(myst.glue)].slice(0, 3).join(", ")}`);
    // Figures are numbered by the site build from myst-nb's cell metadata, which jupyterlab-myst
    // does not read: a {numref} to a figure shows the figure's name in Lab (a note, like glue).
    // Any other unresolved cross-reference is a failure.
    const figures = [...new Set(myst.unresolved)].filter((u) => /^fig-/.test(u));
    if (figures.length) facts.notes.push(`${figures.length} figure references shown as their names in Lab, e.g. ${figures.slice(0, 3).join(", ")}`);
    for (const u of [...new Set(myst.unresolved)].filter((u) => !/^fig-/.test(u)).slice(0, 5)) problems.push(`cross-reference Lab cannot resolve: ${u}`);
    // citations: jupyterlab-myst reads no references.bib; the key shows (with a warning sign); counted, not failed
    if (myst.citations) facts.notes.push(`${myst.citations} citations shown as their keys in Lab`);
    for (const d of myst.emptyDropdowns.slice(0, 5)) problems.push(`empty dropdown in Lab: ${d}`);
    for (const l of myst.links.slice(0, 5)) problems.push(`link to a chapter without .ipynb (404 in Lab): ${l}`);
    const cells = JSON.parse(fs.readFileSync(path.join(dirs.notebooks, name), "utf8")).cells;
    const nMarkdown = cells.filter((c) => c.cell_type === "markdown").length;
    if (facts.markdown !== nMarkdown) problems.push(`${facts.markdown} of ${nMarkdown} markdown cells rendered by jupyterlab-myst (.myst)`);

    // ---- explorers
    const expected = cells.filter((c) => c.cell_type === "code" && /(^|[^.\w])interactive\(/m.test([].concat(c.source).join(""))).length;
    const explorers = page.locator(".jp-NotebookPanel .lindiff-explorer");
    facts.explorers = await explorers.count();
    if (facts.explorers !== expected) problems.push(`${facts.explorers} explorers shown, ${expected} cells call interactive(`);
    facts.changes = 0;
    facts.typed = 0;
    facts.starts = [];
    const redraws = [];
    for (let i = 0; i < facts.explorers; i++) {
      const ex = explorers.nth(i);
      await ex.scrollIntoViewIfNeeded();
      const label = `explorer ${i + 1}`;
      let last = await figureState(page, ex, label, problems);
      const sliders = ex.locator(".widget-slider");
      const dropdowns = ex.locator(".widget-dropdown select");
      const toggles = ex.locator(".widget-toggle-buttons");
      const typable = [];
      facts.starts.push(await ex.evaluate((el) => [...el.querySelectorAll(".widget-slider, .widget-dropdown, .widget-toggle-buttons")]
        .map((w) => `${w.querySelector(".widget-label")?.textContent} = ${w.querySelector(".widget-readout")?.textContent
          ?? w.querySelector("select")?.value ?? w.querySelector("button.mod-active")?.textContent}`).join(", ")));
      /** After a change: wait, then the explorer must hold one figure that differs from the last one. */
      const after = async (what) => {
        const t0 = Date.now();
        await answered(ex, last);
        await drawn(page, ex);
        redraws.push((Date.now() - t0) / 1000);
        const now = await figureState(page, ex, `${label}, ${what}`, problems);
        if (now && last && now === last) problems.push(`${label}, ${what}: the figure did not change`);
        last = now ?? last;
        facts.changes++;
      };
      for (let s = 0; s < await sliders.count(); s++) {
        const slider = sliders.nth(s);
        const name_ = await slider.locator(".widget-label").textContent();
        const handle = slider.locator(".noUi-handle");
        await slider.evaluate((el) => el.scrollIntoView({ block: "center" })); // clear of Lab's toolbars
        const box = await handle.boundingBox();
        const track = await slider.locator(".noUi-target").boundingBox();
        // drag: towards the far half of the track, in small steps like a hand
        const x0 = box.x + box.width / 2;
        const y0 = box.y + box.height / 2;
        const x1 = x0 < track.x + track.width / 2 ? x0 + track.width / 3 : x0 - track.width / 3;
        await page.mouse.move(x0, y0);
        await page.mouse.down();
        await page.mouse.move(x1, y0, { steps: 12 });
        await page.mouse.up();
        await after(`drag of ${name_}`);
        // arrow key: back towards the middle, one step
        await handle.focus();
        const lab0 = await labState(page);
        await page.keyboard.press(x1 > x0 ? "ArrowLeft" : "ArrowRight");
        await after(`arrow key on ${name_}`);
        await keysKept(page, lab0, `arrow key on ${name_}`, problems);
        // typing into the readout box, far from the current value (a selection slider's readout
        // is editable but ignores what is typed: ipywidgets 8)
        const at = await handle.evaluate((h) => (h.ariaValueNow - h.ariaValueMin) / (h.ariaValueMax - h.ariaValueMin));
        if (await typeInto(page, slider, at < 0.5 ? 0.8 : 0.2)) {
          typable.push(slider);
          facts.typed++;
          await after(`value typed into ${name_}`);
        } else {
          facts.notes.push(`the readout of ${name_} takes no typed value`);
        }
      }
      for (let s = 0; s < await dropdowns.count(); s++) {
        const select = dropdowns.nth(s);
        const options = await select.evaluate((el) => [...el.options].map((o) => o.value));
        const current = await select.inputValue();
        await select.selectOption(options.find((o) => o !== current));
        await after(`selection in dropdown ${s + 1}`);
        await select.focus();
        const key = (await select.evaluate((el) => el.selectedIndex)) > 0 ? "ArrowUp" : "ArrowDown";
        const lab0 = await labState(page);
        await page.keyboard.press(key);
        await after(`arrow key in dropdown ${s + 1}`);
        await keysKept(page, lab0, `${key} in dropdown ${s + 1}`, problems);
      }
      for (let s = 0; s < await toggles.count(); s++) {
        const buttons = toggles.nth(s).locator("button:not(.mod-active)");
        for (let b = await buttons.count(); b > 0; b--) {
          const button = buttons.first();
          const text = await button.textContent();
          await button.click();
          await after(`click on ${text}`);
        }
      }
      // many typed changes in a row, round the sliders that take typed values, without waiting in between
      if (typable.length) {
        for (let k = 0; k < TYPED_IN_A_ROW; k++) {
          await typeInto(page, typable[k % typable.length], ((k * 0.618034) % 0.9) + 0.05);
          facts.typed++;
        }
        await after(`${TYPED_IN_A_ROW} values typed in a row`);
      }
      await ex.screenshot({ path: path.join(shotDir, `${slug}--explorer-${i + 1}.png`) });
    }
    if (redraws.length) facts.redraw = `${Math.min(...redraws).toFixed(1)}-${Math.max(...redraws).toFixed(1)} s`;

    // ---- pre-rendered frame sliders answer the keyboard too
    const frames = page.locator(".jp-NotebookPanel .lindiff-frame-slider:visible");
    facts.sliders = await frames.count();
    for (let i = 0; i < facts.sliders; i++) {
      const range = frames.nth(i).locator("input.ld-range");
      await range.scrollIntoViewIfNeeded();
      const src = () => frames.nth(i).locator("img.ld-frame").getAttribute("src");
      const before = await src();
      await range.focus();
      await page.keyboard.press((await range.inputValue()) === "0" ? "ArrowRight" : "ArrowLeft");
      if ((await src()) === before) problems.push(`frame slider ${i + 1}: an arrow key did not change the frame`);
    }

    const seen = await page.evaluate(() => window.__ldErrors);
    facts.errorsSeen = seen.length;
    for (const e of [...new Set(seen)].slice(0, 5)) problems.push(`error shown: ${e.replace(/\s+/g, " ").slice(0, 240)}`);

    // ---- reopened: save as a reader's Ctrl+S does, stop the kernel, close the tab, open the notebook
    // again; each explorer must show as a widget (its state saved with the notebook) or as its
    // one-line note, never as "model not found"
    const reopenStart = Date.now();
    await page.locator(".jp-NotebookPanel .jp-Cell").first().click({ position: { x: 2, y: 2 } });
    await page.keyboard.press("Escape");
    await page.keyboard.press("Control+s");
    await page.waitForFunction(() => !document.querySelector(".jp-NotebookPanel.jp-mod-dirty, .lm-TabBar-tab.jp-mod-dirty"), null, { timeout: 30_000 });
    const saved = JSON.parse(fs.readFileSync(path.join(dirs.notebooks, name), "utf8"));
    facts.stateSaved = Boolean(saved.metadata?.widgets?.["application/vnd.jupyter.widget-state+json"]);
    for (const k of (await api("GET", "/api/kernels").catch(() => [])) || []) await api("DELETE", `/api/kernels/${k.id}`).catch(() => {});
    await page.close();
    page = await openPage(`${slug}-reopened`, name, problems);
    await page.locator(".jp-NotebookPanel .jp-Cell").first().waitFor({ timeout: 90_000 });
    await page.waitForFunction((n) => document.querySelectorAll(".jp-NotebookPanel .lindiff-explorer").length
      + [...document.querySelectorAll(".jp-NotebookPanel .jp-OutputArea-output")].filter((o) => /\[explorer of /.test(o.textContent)).length >= n
      || /model not found|Error displaying widget/.test(document.querySelector(".jp-NotebookPanel")?.innerText || ""),
    expected, { timeout: 30_000, polling: 200 }).catch(() => {});
    await sleep(1000);
    const reopened = await page.evaluate(() => ({
      widgets: document.querySelectorAll(".jp-NotebookPanel .lindiff-explorer").length,
      notes: [...document.querySelectorAll(".jp-NotebookPanel .jp-OutputArea-output")].filter((o) => /\[explorer of /.test(o.textContent)).length,
      errors: (document.querySelector(".jp-NotebookPanel")?.innerText.match(/Error displaying widget[^\n]*|model not found/g) || []),
    }));
    facts.reopened = `${reopened.widgets} explorers, ${reopened.notes} notes, state ${facts.stateSaved ? "saved" : "not saved"}, ${((Date.now() - reopenStart) / 1000).toFixed(1)} s`;
    for (const e of [...new Set(reopened.errors)]) problems.push(`reopened after a save: ${e}`);
    if (reopened.widgets + reopened.notes < expected) problems.push(`reopened after a save: ${reopened.widgets + reopened.notes} of ${expected} explorers shown as a widget or a note`);
    await page.screenshot({ path: path.join(shotDir, `${slug}--reopened.png`) });
  } catch (err) {
    problems.push(`check aborted: ${err.message.split("\n")[0]}`);
    await page.screenshot({ path: path.join(shotDir, `${slug}--aborted.png`) }).catch(() => {});
  }
  await page.close();
  for (const k of (await api("GET", "/api/kernels").catch(() => [])) || []) await api("DELETE", `/api/kernels/${k.id}`).catch(() => {});
  return { notebook: name, problems: [...new Set(problems)], facts, seconds: (Date.now() - nbStart) / 1000 };
}

/** A new tab on the notebook, in a workspace of its own (so that Lab reopens no earlier notebook); page errors become problems. */
async function openPage(workspace, name, problems) {
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (err) => {
    // not ours, and no failure: jupyterlab-myst renders a markdown cell asynchronously (it calls
    // inputArea.renderInput only once its MyST widget has rendered), and Lab's cell toolbar, checking
    // whether the active cell overlaps it (_markdownOverlapsToolbar), reads inputArea.renderedInput.node
    // meanwhile: "Cannot read properties of undefined (reading 'node')" when a markdown cell becomes
    // the active one while it renders (Notebook 7 has the same toolbar)
    if (/_markdownOverlapsToolbar/.test(err.stack)) return;
    // not ours either: @jupyter-widgets/jupyterlab-manager's `widgets` getter reads the notebook's
    // model after Lab has disposed it, when the reopen step closes a notebook (or stops its kernel)
    // while the saved widget state is still being restored (seen once, in chapter 5, in our CI-like runs)
    if (/reading 'widgets'/.test(err.message) && /jupyterlab-manager/.test(err.stack || "")) return;
    problems.push(`JavaScript error: ${err.message.split("\n")[0]} (${(err.stack || "").split("\n").slice(1, 3).join(" ").trim().slice(0, 200)})`);
  });
  await page.goto(`${origin}/lab/workspaces/${encodeURIComponent(workspace)}/tree/${encodeURIComponent(name)}?token=${token}`, { waitUntil: "load" });
  return page;
}

/** Which cell is Lab's active one, and how many heading sections are collapsed. */
async function labState(page) {
  return page.evaluate(() => {
    const cells = [...document.querySelectorAll(".jp-NotebookPanel .jp-Cell")];
    return { active: cells.findIndex((c) => c.classList.contains("jp-mod-active")),
      collapsed: document.querySelectorAll(".jp-NotebookPanel .jp-collapseHeadingButton[data-heading-collapsed='true']").length };
  });
}

/** A key meant for a control must not reach Lab's notebook shortcuts (move the active cell, fold a heading). */
async function keysKept(page, before, what, problems) {
  const now = await labState(page);
  if (now.active !== before.active) problems.push(`${what}: Lab moved its active cell (${before.active} -> ${now.active})`);
  if (now.collapsed !== before.collapsed) problems.push(`${what}: Lab folded or unfolded a heading section`);
}

/** Wait until the notebook's kernel reports idle. */
async function kernelIdle(page, timeout) {
  await page.waitForFunction(() => document.querySelector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") === "idle",
    null, { timeout, polling: 100 });
}

/** Wait (at most 20 s) until the kernel has taken up a change: a redraw is due or the figure differs from `last`. */
async function answered(ex, last) {
  await ex.evaluate((el, last) => new Promise((resolve) => {
    const t0 = Date.now();
    const poll = async () => {
      const img = el.querySelector("img:not([src=\"data:,\"])");
      let hash = null;
      if (img) hash = await window.__ldImageHash(img);
      if (el.classList.contains("lindiff-drawing") || hash !== last || Date.now() - t0 > 20_000) resolve();
      else setTimeout(poll, 100);
    };
    poll();
  }), last);
}

/** Wait until the kernel is idle and the explorer has drawn (no redraw due), twice in a row 0.3 s apart. */
async function drawn(page, ex) {
  for (let stable = 0; stable < 2;) {
    await kernelIdle(page, drawTimeoutMs);
    await ex.evaluate((el) => new Promise((resolve, reject) => {
      const t0 = Date.now();
      const poll = () => (!el.classList.contains("lindiff-drawing") ? resolve()
        : Date.now() - t0 > 60_000 ? reject(new Error("the explorer kept redrawing for 60 s")) : setTimeout(poll, 50));
      poll();
    }));
    await sleep(300);
    const busy = await ex.evaluate((el) => el.classList.contains("lindiff-drawing"));
    const idle = await page.evaluate(() => document.querySelector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") === "idle");
    stable = !busy && idle ? stable + 1 : 0;
  }
}

/** The explorer's figure as a hash of its bytes; records a problem unless it holds exactly one figure and no error. */
async function figureState(page, ex, what, problems) {
  const state = await ex.evaluate(async (el) => {
    const imgs = [...el.querySelectorAll("img")].filter((i) => i.getAttribute("src") !== "data:,"); // not the hidden image of explore.py
    const text = el.innerText;
    if (imgs.length !== 1) return { n: imgs.length, text };
    return { n: 1, text, hash: await window.__ldImageHash(imgs[0]) };
  });
  if (state.n !== 1) problems.push(`${what}: ${state.n} figures in the explorer, expected 1`);
  if (/Traceback|Error/.test(state.text)) problems.push(`${what}: error in the explorer: ${state.text.replace(/\s+/g, " ").slice(0, 200)}`);
  return state.hash ?? null;
}

/**
 * Type a value at fraction `frac` of the slider's range into its readout box and press Enter.
 * Returns whether the slider took it (its handle moved).
 */
async function typeInto(page, slider, frac) {
  const handle = slider.locator(".noUi-handle");
  if (!await slider.locator(".widget-readout:visible").count()) {
    // a selection slider from lindiff.book.explore: its readout is the text box beside it
    const box = slider.locator("xpath=..").locator(".lindiff-readout input");
    if (!await box.count()) return false;
    const [lo, hi, now] = await Promise.all(["aria-valuemin", "aria-valuemax", "aria-valuenow"].map((a) => handle.getAttribute(a).then(Number)));
    const target = Math.round(lo + frac * (hi - lo));
    if (target === now) return false;
    const before = await box.inputValue();
    await box.click();
    await page.keyboard.press("Control+A");
    // a number that is no option's label, so that the box must snap it to the nearest option and show that
    const typed = Number(before) === 0 ? "0.0007" : String(Number(before) * (target > now ? 3.3 : 0.31));
    await page.keyboard.type(typed);
    await page.keyboard.press("Enter");
    for (let t0 = Date.now(); Date.now() - t0 < 10_000; await sleep(100)) {
      const shown = await box.inputValue();
      if (shown !== typed && shown !== before) return true; // snapped, and shows the option used
    }
    return false;
  }
  const [lo, hi, now] = await Promise.all(["aria-valuemin", "aria-valuemax", "aria-valuenow"].map((a) => handle.getAttribute(a).then(Number)));
  const readout = slider.locator(".widget-readout");
  const readoutText = (await readout.textContent()).trim();
  const shown = Number(readoutText);
  // a log slider's handle moves in exponents while its readout shows the value
  const log = Math.abs(shown - 10 ** now) < Math.abs(shown - now) && Math.abs(shown - now) > 1e-9;
  const x = lo + frac * (hi - lo);
  const text = log ? (10 ** x).toPrecision(3) : readoutText.includes(".") ? x.toFixed(2) : String(Math.round(x));
  await readout.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
  if (Number(await handle.getAttribute("aria-valuenow")) !== now) return true;
  await readout.evaluate((el, t) => { el.textContent = t; }, readoutText); // put back what it showed
  return false;
}
