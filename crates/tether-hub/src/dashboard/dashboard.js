// The tether hub dashboard: renders /snapshot and the /events feed (server-sent events:
// `snapshot`, then `delta`s), and sends faults to /fault and /resume. No framework, no
// build step. Everything shown is escaped (message excerpts come from clients).

const token = new URLSearchParams(location.search).get("token");
const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
const HISTORY = 120; // chart points kept per endpoint (one a second)

const state = { snapshot: null, seq: -1, history: new Map(), open: new Set(), rows: new Map() };

const $ = (sel, root = document) => root.querySelector(sel);
const esc = (value) =>
  String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function count(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return String(n);
}
function bytes(n) {
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + " GiB";
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
  return n + " B";
}
function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
}

function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("show"), 2500);
}

function setStatus(status, text) {
  document.body.dataset.status = status;
  $("#status").textContent = text;
}

// ---- faults ---------------------------------------------------------------------------

function params(section) {
  const value = (name) => $(`[name="${name}"]`, section)?.value ?? "";
  const num = (name) => (value(name) === "" ? null : Number(value(name)));
  return {
    drop: () => ({ code: num("code") }),
    stall: () => ({ secs: num("stall-secs") }),
    delay: () => ({ ms: num("delay-ms") ?? 0 }),
    garbage: () => ({ garbage: value("garbage") || "invalid-json" }),
    refuse: () => ({ secs: num("refuse-secs") ?? 2 }),
    restart: () => ({}),
  };
}

async function post(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers["X-Tether-Token"] = token;
  try {
    const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  } catch (e) {
    toast(`${path}: ${e.message}`);
    throw e;
  }
}

async function act(button) {
  const section = button.closest("section.endpoint");
  const endpoint = section.dataset.endpoint;
  const kind = button.dataset.fault;
  const conn = button.dataset.conn ? Number(button.dataset.conn) : undefined;
  const target = conn === undefined ? endpoint : `${endpoint} #${conn}`;
  try {
    if (kind === "resume") {
      await post("resume", { endpoint, conn });
    } else {
      await post("fault", { endpoint, conn, kind, ...params(section)[kind]() });
    }
    toast(`${kind}: ${target}`);
  } catch {
    /* shown by post */
  }
}

// Rows are redrawn every second while traffic flows, so a mouse press acts at once (a
// click could end on a redrawn row and be lost); the keyboard (Enter, Space) clicks.
document.addEventListener("pointerdown", (event) => {
  const button = event.target.closest("button[data-fault]");
  if (button && event.button === 0) act(button);
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-fault]");
  if (button && event.detail === 0) act(button);
});

document.addEventListener("toggle", (event) => {
  const details = event.target;
  if (!(details instanceof HTMLDetailsElement) || !details.dataset.key) return;
  if (details.open) state.open.add(details.dataset.key);
  else state.open.delete(details.dataset.key);
  state.rows.clear(); // the next redraw keeps the new open/closed state
}, true);

// ---- rendering ------------------------------------------------------------------------

const FAULT_CONTROLS = `
  <div class="controls">
    <button data-fault="drop" class="danger">drop all</button>
    <label>code <input name="code" type="number" min="1000" max="4999" placeholder="reset"></label>
    <button data-fault="stall">stall</button>
    <label>secs <input name="stall-secs" type="number" min="0" step="0.5" placeholder="∞"></label>
    <button data-fault="delay">delay</button>
    <label>ms <input name="delay-ms" type="number" min="0" value="200"></label>
    <button data-fault="garbage">garbage</button>
    <select name="garbage">
      <option value="invalid-json">invalid JSON</option>
      <option value="invalid-utf8">invalid UTF-8</option>
      <option value="oversize">oversize</option>
    </select>
    <button data-fault="refuse" class="danger">refuse</button>
    <label>secs <input name="refuse-secs" type="number" min="0" step="0.5" value="2"></label>
    <button data-fault="restart" class="danger">restart</button>
    <button data-fault="resume">resume</button>
  </div>`;

function buildSection(endpoint) {
  const section = document.createElement("section");
  section.className = "endpoint";
  section.dataset.endpoint = endpoint.name;
  section.innerHTML = `
    <div class="head">
      <h2>${esc(endpoint.name)}</h2>
      <span class="tag">${esc(endpoint.platform)}</span>
      <span class="tag">${esc(endpoint.transport)}</span>
      <span class="tag" data-field="listening"></span>
      <span class="url" data-field="url"></span>
    </div>
    <div class="numbers" data-field="numbers"></div>
    <div class="chart"><canvas width="480" height="54"></canvas>
      <span class="legend" data-field="legend"></span></div>
    <div class="faults" data-field="faults"></div>
    ${FAULT_CONTROLS}
    <table>
      <thead><tr><th>#</th><th>peer</th><th>since</th><th>in</th><th>out</th><th>state</th>
        <th class="row-actions"></th></tr></thead>
      <tbody data-field="connections"></tbody>
    </table>`;
  return section;
}

function faultText(f) {
  const parts = [];
  if (f.stalled) parts.push(f.stall_left_s == null ? "stalled until resumed" : `stalled, ${f.stall_left_s}s left`);
  if (f.delay_ms > 0) parts.push(`delay ${f.delay_ms} ms`);
  if (f.refusing_left_s != null) parts.push(`refusing, ${f.refusing_left_s}s left`);
  return parts.join(" · ");
}

function connRows(endpoint, now) {
  if (endpoint.connections.length === 0) {
    return `<tr><td colspan="7" class="none">no connections</td></tr>`;
  }
  const more = endpoint.connections_total - endpoint.connections.length;
  const rows = endpoint.connections.map((c) => {
    const key = `${endpoint.name}/${c.id}`;
    const state = c.state === "stalled" ? (c.stall_left_s == null ? "stalled" : `stalled ${c.stall_left_s}s`)
      : c.state === "delayed" ? `delayed ${c.delay_ms} ms` : "open";
    const msgs = c.last.length === 0 ? `<div class="none">no messages yet</div>`
      : c.last.map((m) => `<div class="${m.dir}">${m.dir === "in" ? "→" : "←"} #${m.n} ${esc(m.text)}${
        m.truncated ? ` <span class="none">… (${bytes(m.len)})</span>` : ""}</div>`).join("");
    return `
      <tr data-conn="${c.id}">
        <td>${c.id}</td><td>${esc(c.peer)}</td><td>${age(now - c.since_ms)}</td>
        <td data-field="in">${count(c.received)} · ${bytes(c.received_bytes)}</td>
        <td data-field="out">${count(c.sent)} · ${bytes(c.sent_bytes)}</td>
        <td class="state-${c.state}" data-field="state">${esc(state)}</td>
        <td class="row-actions">
          <button data-fault="drop" data-conn="${c.id}" class="danger">drop</button>
          <button data-fault="stall" data-conn="${c.id}">stall</button>
          <button data-fault="delay" data-conn="${c.id}">delay</button>
          <button data-fault="garbage" data-conn="${c.id}">garbage</button>
          <button data-fault="resume" data-conn="${c.id}">resume</button>
        </td>
      </tr>
      <tr class="messages" data-conn-messages="${c.id}"><td></td><td colspan="6">
        <details data-key="${esc(key)}"${state_open(key)}><summary>last messages</summary>
          <div class="msgs">${msgs}</div></details></td></tr>`;
  });
  if (more > 0) rows.push(`<tr><td colspan="7" class="none">… and ${more} older connections</td></tr>`);
  return rows.join("");
}
const state_open = (key) => (state.open.has(key) ? " open" : "");

function drawChart(canvas, points) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const max = Math.max(1, ...points.map((p) => Math.max(p.in, p.out)));
  const x = (i) => width - (points.length - 1 - i) * (width / (HISTORY - 1));
  const y = (v) => height - 3 - (v / max) * (height - 8);
  for (const [key, color] of [["in", "#2f6fdb"], ["out", "#1f9d63"]]) {
    ctx.beginPath();
    points.forEach((p, i) => (i === 0 ? ctx.moveTo(x(i), y(p[key])) : ctx.lineTo(x(i), y(p[key]))));
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
  ctx.fillStyle = "#6b7480";
  ctx.font = "10px system-ui";
  ctx.fillText(`${count(max)}/s`, 4, 11);
}

function renderEndpoint(endpoint, now) {
  const main = $("#endpoints");
  let section = main.querySelector(`section[data-endpoint="${CSS.escape(endpoint.name)}"]`);
  if (!section) {
    section = buildSection(endpoint);
    main.append(section);
  }
  const s = endpoint.stats;
  const listening = $('[data-field="listening"]', section);
  listening.textContent = endpoint.listening ? "listening" : "refusing";
  listening.className = `tag ${endpoint.listening ? "listening" : "refusing"}`;
  $('[data-field="url"]', section).textContent = endpoint.url;
  section.classList.toggle("idle", s.active === 0);
  $('[data-field="numbers"]', section).innerHTML = `
    <span>live <b data-field="active">${s.active}</b></span>
    <span>connects <b data-field="accepted">${s.accepted}</b></span>
    <span>in <b>${count(s.received)}</b> msgs · ${bytes(s.received_bytes)}</span>
    <span>out <b>${count(s.sent)}</b> msgs · ${bytes(s.sent_bytes)}</span>
    <span>refusals <b>${s.refusals}</b></span>`;
  $('[data-field="legend"]', section).innerHTML =
    `<span class="i">in ${count(endpoint.rate_in)}/s</span><br><span class="o">out ${count(endpoint.rate_out)}/s</span>`;
  $('[data-field="faults"]', section).textContent = faultText(endpoint.faults);
  const rowsHtml = connRows(endpoint, now);
  const tbody = $('[data-field="connections"]', section);
  if (state.rows.get(endpoint.name) !== rowsHtml) {
    state.rows.set(endpoint.name, rowsHtml);
    tbody.innerHTML = rowsHtml;
  }
  drawChart($("canvas", section), state.history.get(endpoint.name) ?? []);
}

function record(endpoints) {
  for (const e of endpoints) {
    const points = state.history.get(e.name) ?? [];
    points.push({ in: e.rate_in, out: e.rate_out });
    if (points.length > HISTORY) points.shift();
    state.history.set(e.name, points);
  }
}

function renderTotals(snapshot) {
  const live = snapshot.endpoints.reduce((n, e) => n + e.stats.active, 0);
  const rate = snapshot.endpoints.reduce((n, e) => n + e.rate_in, 0);
  $("#totals").textContent =
    `${snapshot.endpoints.length} endpoints · ${live} live connections · ${count(rate)} msgs/s in` +
    (snapshot.read_only ? " · read-only" : "");
  document.body.classList.toggle("read-only", snapshot.read_only);
  document.body.dataset.seq = String(snapshot.seq);
}

function applySnapshot(snapshot) {
  const names = new Set(snapshot.endpoints.map((e) => e.name));
  for (const section of document.querySelectorAll("section.endpoint")) {
    if (!names.has(section.dataset.endpoint)) section.remove();
  }
  state.snapshot = snapshot;
  state.seq = snapshot.seq;
  record(snapshot.endpoints);
  snapshot.endpoints.forEach((e) => renderEndpoint(e, snapshot.time_ms));
  renderTotals(snapshot);
}

function applyDelta(delta) {
  const snapshot = state.snapshot;
  const changed = new Map(delta.endpoints.map((e) => [e.name, e]));
  snapshot.endpoints = snapshot.endpoints.map((e) => changed.get(e.name) ?? e);
  snapshot.seq = state.seq = delta.seq;
  snapshot.time_ms = delta.time_ms;
  record(snapshot.endpoints);
  snapshot.endpoints.forEach((e) => {
    if (changed.has(e.name)) renderEndpoint(e, delta.time_ms);
    else drawChart($(`section[data-endpoint="${CSS.escape(e.name)}"] canvas`), state.history.get(e.name));
  });
  renderTotals(snapshot);
}

// ---- the feed -------------------------------------------------------------------------

async function resync() {
  try {
    const response = await fetch(withToken("snapshot"));
    if (response.ok) applySnapshot(await response.json());
  } catch {
    /* the feed's own reconnect follows */
  }
}

let source = null;
let retry = 500;

function connect() {
  source = new EventSource(withToken("events"));
  source.addEventListener("open", () => {
    retry = 500;
    setStatus("live", "live");
  });
  source.addEventListener("snapshot", (event) => {
    const snapshot = JSON.parse(event.data);
    applySnapshot(snapshot);
    if (snapshot.resync) toast("resynced");
  });
  source.addEventListener("delta", (event) => {
    const delta = JSON.parse(event.data);
    if (delta.seq <= state.seq) return; // already in the snapshot this stream began with
    if (!state.snapshot || delta.prev !== state.seq) {
      resync(); // a gap: take the whole state again
      return;
    }
    applyDelta(delta);
  });
  source.addEventListener("error", () => {
    // The hub went away (restart, shutdown): reconnect by ourselves, with backoff.
    source.close();
    setStatus("reconnecting", "reconnecting…");
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 5000);
  });
}

connect();
