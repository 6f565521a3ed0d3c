// The dashboard's browser test (run by scripts/browser-test.sh, which installs chromium
// and playwright-core). Every step waits for what a user would see on the page.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const root = resolve(import.meta.dirname, "..");
const require = createRequire(join(root, ".browser-test", "package.json"));
const { chromium } = require("playwright-core");

const BIN = process.env.TETHER_BIN;
const ARTIFACTS = process.env.ARTIFACTS;
const SECRET = "MoobiusSecretToken7391"; // must never appear on the page
const STEP_TIMEOUT = 20_000;

const children = [];
const log = (...args) => console.error("browser-test:", ...args);

/** `tether serve ARGS`: resolves to {child, urls} once it printed `ready`. */
function serve(args) {
  return new Promise((ok, fail) => {
    const child = spawn(BIN, ["serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    const urls = {};
    const stderr = [];
    child.stderr.on("data", (d) => stderr.push(String(d)));
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      if (line === "ready") ok({ child, urls, stderr });
      const [name, url] = line.split(" ");
      if (url) urls[name] = url;
    });
    child.on("exit", (code) => fail(new Error(`tether serve exited ${code}: ${stderr.join("")}`)));
  });
}

/** A `tether connect` client that sends a line every 200 ms and keeps stdin open. */
function client(args) {
  const child = spawn(BIN, ["connect", ...args], { stdio: ["pipe", "ignore", "pipe"] });
  children.push(child);
  let n = 0;
  // A client that is being stopped closes its stdin before its exit event: a write in
  // that window fails with EPIPE, which is expected and must not crash the test.
  child.stdin.on("error", (e) => {
    if (e.code !== "EPIPE") log(`client stdin: ${e}`);
  });
  const timer = setInterval(() => {
    if (child.stdin.writable) child.stdin.write(args.includes("moobius") ? "" : `{"n": ${++n}}\n`);
  }, 200);
  child.on("exit", () => clearInterval(timer));
  child.stderr.on("data", (d) => process.env.VERBOSE && log(`client: ${d}`));
  return child;
}

const stop = (child, signal = "SIGINT") =>
  new Promise((ok) => {
    if (child.exitCode !== null) return ok();
    child.once("exit", ok);
    child.kill(signal);
  });

const section = (name) => `section[data-endpoint="${name}"]`;
const rows = (name) => `${section(name)} tbody tr[data-conn]`;

async function connIds(page, name) {
  return page.$$eval(rows(name), (trs) => trs.map((tr) => Number(tr.dataset.conn)));
}
async function accepted(page, name) {
  return Number(await page.textContent(`${section(name)} [data-field="accepted"]`));
}

/** Waits until a connection other than `old` is listed for `name`; returns its id. */
async function newRow(page, name, old) {
  await page.waitForFunction(
    ([sel, old]) => [...document.querySelectorAll(sel)].some((tr) => !old.includes(Number(tr.dataset.conn))),
    [rows(name), old],
    { timeout: STEP_TIMEOUT },
  );
  return (await connIds(page, name)).find((id) => !old.includes(id));
}

async function main() {
  const first = await serve(["--ephemeral"]);
  const control = first.urls.control;
  log(`hub up, dashboard ${control}/`);
  if (!first.stderr.join("").includes(`dashboard ${control}/`)) {
    // stderr may lag stdout a little
    await new Promise((r) => setTimeout(r, 200));
    if (!first.stderr.join("").includes(`dashboard ${control}/`)) throw new Error("serve did not print the dashboard URL");
  }

  const profile = mkdtempSync(join(tmpdir(), "tether-chromium-"));
  // A fresh profile (playwright passes it as --user-data-dir).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1500, height: 1000 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${control}/`);
    await page.waitForSelector('body[data-status="live"]', { timeout: STEP_TIMEOUT });
    await page.waitForSelector(section("echo"), { timeout: STEP_TIMEOUT });
    log("page live");

    // Two platforms' real clients.
    const echoUrl = first.urls.echo;
    const moobiusUrl = first.urls.moobius;
    client([echoUrl]);
    client(["--profile", "moobius", "--mode", "user", "--token", SECRET, moobiusUrl]);
    const [echo1] = [await newRow(page, "echo", [])];
    const [moobius1] = [await newRow(page, "moobius", [])];
    log(`rows: echo #${echo1}, moobius #${moobius1}`);

    // Messages flow; the moobius login shows up redacted, never with its token.
    await page.waitForFunction(
      (sel) => /#\d+/.test(document.querySelector(sel)?.textContent ?? "") &&
        document.querySelector(sel).textContent.includes('"n"'),
      `${section("echo")} tr[data-conn-messages] .msgs`,
      { timeout: STEP_TIMEOUT },
    );
    await page.waitForFunction(
      (sel) => (document.querySelector(sel)?.textContent ?? "").includes("access_token"),
      `${section("moobius")} tr[data-conn-messages] .msgs`,
      { timeout: STEP_TIMEOUT },
    );
    const text = await page.evaluate(() => document.documentElement.outerHTML);
    if (text.includes(SECRET)) throw new Error("the moobius token is shown on the page");
    if (!text.includes("«redacted»")) throw new Error("no redacted secret on the page");
    log("messages shown, token redacted");

    // Drop the echo connection from its row: the count of connects rises, the row returns.
    const before = await accepted(page, "echo");
    await page.click(`${rows("echo")}[data-conn="${echo1}"] button[data-fault="drop"]`);
    const echo2 = await newRow(page, "echo", [echo1]);
    await page.waitForFunction(
      ([sel, n]) => Number(document.querySelector(sel)?.textContent) > n,
      [`${section("echo")} [data-field="accepted"]`, before],
      { timeout: STEP_TIMEOUT },
    );
    log(`drop: echo #${echo1} → #${echo2}, connects ${before} → ${await accepted(page, "echo")}`);

    // An endpoint fault with its parameter, shown with its time left, then gone.
    await page.fill(`${section("moobius")} input[name="stall-secs"]`, "3");
    await page.click(`${section("moobius")} .controls button[data-fault="stall"]`);
    await page.waitForFunction(
      (sel) => /stalled, [\d.]+s left/.test(document.querySelector(sel)?.textContent ?? ""),
      `${section("moobius")} [data-field="faults"]`,
      { timeout: STEP_TIMEOUT },
    );
    await page.waitForSelector(`${rows("moobius")} td.state-stalled`, { timeout: STEP_TIMEOUT });
    await page.waitForFunction(
      (sel) => (document.querySelector(sel)?.textContent ?? "x") === "",
      `${section("moobius")} [data-field="faults"]`,
      { timeout: STEP_TIMEOUT },
    );
    log("stall shown with its time left, then over");

    // The control API's restart fault on both endpoints: rows go and come back.
    const echoBefore = await connIds(page, "echo");
    const moobiusBefore = await connIds(page, "moobius");
    await page.click(`${section("echo")} .controls button[data-fault="restart"]`);
    await page.click(`${section("moobius")} .controls button[data-fault="restart"]`);
    const echo3 = await newRow(page, "echo", echoBefore);
    const moobius2 = await newRow(page, "moobius", moobiusBefore);
    log(`restart fault: echo #${echo3}, moobius #${moobius2} back`);

    // The whole hub restarts (same ports): the page reconnects by itself, and the
    // clients' rows come back on the new hub.
    await stop(first.child);
    await page.waitForSelector('body[data-status="reconnecting"]', { timeout: STEP_TIMEOUT });
    log("hub stopped: page reconnecting");
    const addr = (url) => new URL(url.replace(/^ws/, "http")).host;
    const second = await serve([
      "--ephemeral", "--control", addr(control), "--echo", addr(echoUrl), "--moobius", addr(moobiusUrl),
    ]);
    await page.waitForSelector('body[data-status="live"]', { timeout: STEP_TIMEOUT });
    await page.waitForFunction(
      (sel) => Number(document.querySelector(sel)?.textContent) === 0 ||
        document.querySelectorAll("section.endpoint").length > 0,
      `${section("echo")} [data-field="accepted"]`,
      { timeout: STEP_TIMEOUT },
    );
    // The new hub numbers connections from 1 again; wait for both clients' rows.
    await page.waitForFunction(
      ([a, b]) => document.querySelectorAll(a).length > 0 && document.querySelectorAll(b).length > 0 &&
        Number(document.body.dataset.seq) >= 0,
      [rows("echo"), rows("moobius")],
      { timeout: STEP_TIMEOUT },
    );
    const secondUrls = await page.$$eval("section.endpoint [data-field=url]", (els) => els.map((e) => e.textContent));
    if (!secondUrls.includes(second.urls.datadivr)) throw new Error("the page shows the old hub's endpoints");
    log("hub restarted: page live again, both clients back");

    if (errors.length) throw new Error(`errors on the page: ${errors.join("; ")}`);
    // For the screenshot: the top of the page, the echo client's last messages open, and
    // a few seconds of chart.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.click(`${section("echo")} tr[data-conn-messages] summary`);
    await page.waitForTimeout(4000);
    const shot = join(ARTIFACTS, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: false });
    log(`screenshot: ${shot}`);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

try {
  await main();
  log("passed");
} catch (e) {
  log(`FAILED: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await Promise.all(children.map((c) => stop(c, "SIGKILL")));
}
