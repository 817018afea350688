#!/usr/bin/env node
// Swagger UI in a real browser (Debian's headless Chromium, driven by playwright-core).
//
// Reads the OpenAPI document from BASE_URL/api-docs/openapi.json, opens BASE_URL/swagger-ui/ and
// checks that: the UI renders without errors; every tag of the document has its section and every
// operation of that tag is listed in it (by operationId, or by method and path); the Authorize
// dialog offers the "bearer" HTTP scheme; and "Try it out" -> "Execute" on GET /api/v1/countries
// (list_countries) shows a live 200 response with a body. Screenshots go to ARTIFACT_DIR.
//
// Run by .ci/browser-check (which installs Chromium and this folder's node_modules); directly:
//   BASE_URL=http://127.0.0.1:18080 ARTIFACT_DIR=target/ci-artifacts node .ci/browser/check.js
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const BASE_URL = (process.env.BASE_URL || "http://127.0.0.1:18080").replace(/\/+$/, "");
const ARTIFACT_DIR = path.resolve(process.env.ARTIFACT_DIR || "target/ci-artifacts");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TOTAL_TIMEOUT_MS = Number(process.env.BROWSER_CHECK_TIMEOUT_MS || 100_000);
const STEP_TIMEOUT_MS = 20_000;
const TRY_TAG = "countries";
const TRY_OPERATION = "list_countries"; // GET /api/v1/countries
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

const failures = [];
const notes = [];
const started = Date.now();
const log = (kind, msg) => console.log(`${kind.padEnd(5)} ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${msg}`);
const fail = (msg) => { if (!timedOut) { failures.push(msg); log("FAIL", msg); } };
const ok = (msg) => log("ok", msg);
const note = (msg) => { notes.push(msg); log("note", msg); };
const info = (msg) => log("", msg);

// Swagger UI's element ids for operations and tags (its escapeDeepLinkPath: spaces become
// underscores, then CSS escaping); our names are plain, so this only matters for odd ones.
const deepLinkId = (s) => String(s).trim().replace(/\s/g, "_");

async function fetchSpec() {
  const url = `${BASE_URL}/api-docs/openapi.json`;
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new Error(`cannot fetch ${url}: ${e.cause ? e.cause.message || e.cause.code : e.message} (is the service running at ${BASE_URL}?)`);
  }
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return res.json();
}

// tag -> [{ method, path, operationId }], in document order.
function operationsByTag(spec) {
  const byTag = new Map((spec.tags || []).map((t) => [t.name, []]));
  for (const [p, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tags = op.tags && op.tags.length ? op.tags : ["default"];
      const label = `${method.toUpperCase()} ${p}` + (op.operationId ? ` (${op.operationId})` : "");
      if (!op.tags || op.tags.length === 0) fail(`${label} has no tag: Swagger UI lists it under "default"`);
      else if (op.tags.length > 1) note(`${label} has ${op.tags.length} tags (${op.tags.join(", ")}): it is listed once under each`);
      if (!op.operationId) note(`${label} has no operationId`);
      for (const tag of tags) {
        if (!byTag.has(tag)) {
          if (tag !== "default") note(`tag "${tag}" of ${label} is not declared in the document's top-level tags`);
          byTag.set(tag, []);
        }
        byTag.get(tag).push({ method, path: p, operationId: op.operationId });
      }
    }
  }
  return byTag;
}

async function checkTags(page, byTag) {
  for (const [tag, ops] of byTag) {
    if (ops.length === 0) { note(`tag "${tag}" is declared but has no operations`); continue; }
    const header = page.locator(`h3.opblock-tag[data-tag="${tag}"]`);
    if ((await header.count()) !== 1) { fail(`tag "${tag}": no section for it in the UI`); continue; }
    if (!(await header.isVisible())) { fail(`tag "${tag}": its section header is not visible`); continue; }
    const section = page.locator(".opblock-tag-section").filter({ has: header });
    // Tags render expanded (docExpansion "list"); open a collapsed one rather than fail on it.
    if ((await section.locator(".opblock").count()) === 0) {
      await header.click();
      await section.locator(".opblock").first().waitFor({ timeout: STEP_TIMEOUT_MS }).catch(() => {});
    }
    const rendered = await section.locator(".opblock").evaluateAll((els) => els.map((el) => ({
      id: el.id,
      method: el.querySelector(".opblock-summary-method")?.textContent || "",
      path: el.querySelector(".opblock-summary-path")?.getAttribute("data-path") || "",
      visible: el.offsetParent !== null,
    })));
    const missing = [];
    const matched = new Set();
    for (const op of ops) {
      const i = rendered.findIndex((r, k) => !matched.has(k) && (
        (op.operationId && r.id === `operations-${deepLinkId(tag)}-${deepLinkId(op.operationId)}`) ||
        (r.method.trim().toLowerCase() === op.method && r.path === op.path)));
      if (i < 0 || !rendered[i].visible) missing.push(`${op.method.toUpperCase()} ${op.path}${op.operationId ? ` (${op.operationId})` : ""}`);
      else matched.add(i);
    }
    const extra = rendered.filter((_, k) => !matched.has(k));
    if (missing.length) fail(`tag "${tag}": ${missing.length} of ${ops.length} operations not listed: ${missing.join("; ")}`);
    else ok(`tag "${tag}": all ${ops.length} operations listed (${ops.map((o) => o.operationId || `${o.method} ${o.path}`).join(", ")})`);
    if (extra.length) note(`tag "${tag}": the UI lists operations the document does not: ${extra.map((e) => `${e.method} ${e.path}`).join("; ")}`);
  }
  const shown = await page.locator("h3.opblock-tag").evaluateAll((els) => els.map((e) => e.getAttribute("data-tag")));
  const unexpected = shown.filter((t) => !byTag.has(t));
  if (unexpected.length) fail(`the UI shows tag sections the document does not declare: ${unexpected.join(", ")}`);
}

async function checkAuthorize(page, spec) {
  const schemes = (spec.components && spec.components.securitySchemes) || {};
  const bearer = Object.entries(schemes).filter(([, s]) => s.type === "http" && String(s.scheme).toLowerCase() === "bearer");
  if (bearer.length === 0) { fail(`the document declares no HTTP bearer security scheme (has: ${Object.keys(schemes).join(", ") || "none"})`); return; }
  const button = page.locator(".auth-wrapper button.authorize");
  if ((await button.count()) === 0) { fail("no Authorize button"); return; }
  await button.click({ timeout: STEP_TIMEOUT_MS });
  const modal = page.locator(".dialog-ux .modal-ux");
  await modal.waitFor({ timeout: STEP_TIMEOUT_MS });
  const text = (await modal.innerText()).replace(/\s+/g, " ");
  for (const [name] of bearer) {
    // Swagger UI renders an HTTP scheme as "<name> (http, Bearer)" with a Value field.
    if (new RegExp(`\\b${name}\\b\\s*\\(http, Bearer\\)`, "i").test(text)) ok(`Authorize offers "${name} (http, Bearer)"`);
    else fail(`the Authorize dialog does not show "${name} (http, Bearer)"; it shows: ${text.slice(0, 300)}`);
  }
  if ((await modal.locator("input[type=password], input[type=text]").count()) === 0) fail("the Authorize dialog has no field for the token");
  await page.screenshot({ path: path.join(ARTIFACT_DIR, "swagger-ui-authorize.png") });
  await modal.locator("button.close-modal").click({ timeout: STEP_TIMEOUT_MS });
  await modal.waitFor({ state: "detached", timeout: STEP_TIMEOUT_MS });
}

async function tryListCountries(page, byTag) {
  const op = (byTag.get(TRY_TAG) || []).find((o) => o.operationId === TRY_OPERATION);
  if (!op) { fail(`the document has no operation ${TRY_OPERATION} under tag "${TRY_TAG}"`); return; }
  const block = page.locator(`#operations-${TRY_TAG}-${TRY_OPERATION}`);
  await block.scrollIntoViewIfNeeded({ timeout: STEP_TIMEOUT_MS });
  if (!(await block.evaluate((el) => el.classList.contains("is-open")))) {
    await block.locator(".opblock-summary").first().click();
  }
  const tryOut = block.locator("button.try-out__btn");
  await tryOut.waitFor({ timeout: STEP_TIMEOUT_MS });
  await tryOut.click();
  const execute = block.locator("button.execute");
  await execute.waitFor({ timeout: STEP_TIMEOUT_MS });
  const responsePromise = page.waitForResponse(
    (r) => r.request().method() === "GET" && new URL(r.url()).pathname === op.path, { timeout: STEP_TIMEOUT_MS });
  await execute.click();
  const response = await responsePromise.catch((e) => { fail(`Execute sent no GET ${op.path}: ${e.message.split("\n")[0]}`); return null; });
  if (response) info(`the browser sent GET ${response.url()} -> ${response.status()}`);
  const status = block.locator(".live-responses-table tbody tr.response td.response-col_status").first();
  await status.waitFor({ timeout: STEP_TIMEOUT_MS });
  const code = (await status.innerText()).trim();
  const bodyCell = block.locator(".live-responses-table tbody tr.response .highlight-code pre").first();
  const body = (await bodyCell.innerText().catch(() => "")).replace(/\s+/g, " ").trim();
  if (code !== "200") {
    fail(`Try it out -> Execute on GET ${op.path} shows status "${code}", not 200; body: ${body.slice(0, 300) || "(none)"}`);
  } else {
    ok(`Try it out -> Execute on GET ${op.path} (${TRY_OPERATION}) shows a live 200 response`);
    if (/"items": \[/.test(body) && /"code": "[A-Z]{2}"/.test(body)) ok("the live response body shows the countries");
    else fail(`the live 200 response body does not look like a list of countries: ${body.slice(0, 300) || "(none)"}`);
  }
  const requestUrl = (await block.locator(".request-url pre").innerText().catch(() => "")).trim();
  if (requestUrl && !requestUrl.startsWith(`${BASE_URL}${op.path}`)) fail(`the request URL shown is ${requestUrl}, not under ${BASE_URL}${op.path}`);
  await block.scrollIntoViewIfNeeded();
  await block.screenshot({ path: path.join(ARTIFACT_DIR, "swagger-ui-list-countries.png") });
}

async function main() {
  fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
  console.log(`Swagger UI check of ${BASE_URL}/swagger-ui/ in ${CHROMIUM}; artefacts in ${ARTIFACT_DIR}`);
  const spec = await fetchSpec();
  const byTag = operationsByTag(spec);
  const nOps = [...byTag.values()].reduce((n, ops) => n + ops.length, 0);
  info(`the document: "${spec.info && spec.info.title}" ${spec.info && spec.info.version}, ${byTag.size} tags, ${nOps} operations`);

  profile = fs.mkdtempSync(path.join(os.tmpdir(), "browser-check-profile-"));
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      chromiumSandbox: false,
      timeout: 60_000, // a first start on a busy machine has taken 30 s
      viewport: { width: 1400, height: 1000 },
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    page = context.pages()[0] || (await context.newPage());
    const origin = new URL(BASE_URL).origin;
    page.on("pageerror", (e) => fail(`JavaScript error in the page: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error") note(`browser console error: ${m.text()}`); });
    page.on("requestfailed", (r) => {
      if (r.url().startsWith(origin)) fail(`request failed: ${r.method()} ${r.url()}: ${r.failure() && r.failure().errorText}`);
    });
    page.on("response", (r) => {
      if (r.url().startsWith(`${origin}/swagger-ui/`) && r.status() >= 400) fail(`${r.url()} answered ${r.status()}`);
    });

    try {
      const nav = await page.goto(`${BASE_URL}/swagger-ui/`, { waitUntil: "load", timeout: 30_000 });
      if (!nav || nav.status() !== 200) fail(`GET /swagger-ui/ answered ${nav ? nav.status() : "nothing"}`);
      await page.locator(".swagger-ui .information-container h2.title").waitFor({ timeout: 30_000 });
      await page.locator(".opblock-tag-section").first().waitFor();
      const title = (await page.locator(".information-container h2.title").innerText()).trim();
      if (spec.info && title.startsWith(spec.info.title)) ok(`Swagger UI rendered: "${title.replace(/\s+/g, " ")}"`);
      else fail(`Swagger UI's title is "${title}", not the document's "${spec.info && spec.info.title}"`);
      const errors = page.locator(".swagger-ui .errors-wrapper");
      if ((await errors.count()) > 0) fail(`Swagger UI shows errors: ${(await errors.innerText()).replace(/\s+/g, " ").slice(0, 500)}`);
      else ok("Swagger UI shows no errors about the document");

      await checkTags(page, byTag);
      await checkAuthorize(page, spec);
      await tryListCountries(page, byTag);
    } catch (e) {
      fail(`${e.message.split("\n")[0]}`);
    } finally {
      const shot = path.join(ARTIFACT_DIR, "swagger-ui.png");
      await page.screenshot({ path: shot, fullPage: true, timeout: 30_000 })
        .then(() => info(`screenshot: ${shot}`))
        .catch((e) => fail(`could not save the screenshot: ${e.message.split("\n")[0]}`));
    }
  } finally {
    await closeBrowser();
  }
}

// A new empty Chromium profile for each run, removed afterwards.
let profile;
let context;
let page;
let closing;
function closeBrowser() {
  closing = closing || (async () => {
    if (context) await Promise.race([context.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
    if (profile) {
      try {
        fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
      } catch (e) {
        console.log(`note  could not remove the browser profile ${profile}: ${e.message}`);
      }
    }
  })();
  return closing;
}

let timedOut = false;
const deadline = setTimeout(async () => {
  timedOut = true;
  console.log(`FAIL  the check took longer than ${TOTAL_TIMEOUT_MS / 1000} s; stopping the browser`);
  if (page) {
    const shot = path.join(ARTIFACT_DIR, "swagger-ui.png");
    await page.screenshot({ path: shot, timeout: 5_000 }).then(() => console.log(`      screenshot of the page as it was: ${shot}`), () => {});
  }
  await closeBrowser();
  process.exit(2);
}, TOTAL_TIMEOUT_MS);

main().then(() => {
  if (timedOut) return; // the deadline handler reports and exits
  clearTimeout(deadline);
  if (failures.length) {
    console.log(`\nSwagger UI browser check FAILED: ${failures.length} problem(s):`);
    for (const f of failures) console.log(`  - ${f}`);
    process.exit(1);
  }
  console.log(`\nSwagger UI browser check passed${notes.length ? ` (${notes.length} note(s) above)` : ""}.`);
  process.exit(0);
}, (e) => {
  if (timedOut) return;
  clearTimeout(deadline);
  console.log(`FAIL  ${e.message}`);
  process.exit(1);
});
