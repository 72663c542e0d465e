// factorybrain dashboard: a client of the REST API (/api/v1), no framework, no CDN.
// Pages are hash routes; every number on screen comes from an API call made here.
"use strict";

const API = "api/v1";
// Signed in through a session: an HttpOnly cookie the page never sees, and the CSRF token that
// every write sends. No token is kept in the page, in storage or in the address.
const state = { csrf: null, who: null, paths: new Set() };

// -- helpers -------------------------------------------------------------------------------
const $ = (selector) => document.querySelector(selector);
const esc = (value) =>
  String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const fmt = (value, digits = 2) =>
  typeof value === "number" ? value.toLocaleString(undefined, { maximumFractionDigits: digits }) : esc(value ?? "");
const when = (iso) => (iso ? esc(String(iso).replace("T", " ").slice(0, 16)) : "");
const main = () => $("#main");

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const method = options.method || "GET";
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${API}/${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.detail || response.statusText);
  return data;
}

// Trade a token for a session once; the token itself is forgotten right away.
async function startSession(token) {
  const session = await api("session", { method: "POST", body: { token } });
  state.csrf = session.csrf_token;
  state.who = session;
}

// A page reloaded within a session: ask who we are (and the session's CSRF token).
async function resumeSession() {
  try {
    const session = await api("session");
    state.csrf = session.csrf_token;
    state.who = session;
    return true;
  } catch (error) {
    if (error.status === 401) return false;
    throw error;
  }
}

async function signOut() {
  await api("session", { method: "DELETE" }).catch(() => {});
  state.csrf = null;
  state.who = null;
  main().innerHTML = "";
  $("#inbox-count").hidden = true;
  showWho();
  signIn("Signed out.");
}

function showWho() {
  const who = $("#who");
  if (!who) return;
  who.hidden = !state.who;
  $("#who-name").textContent = state.who ? `${state.who.name} (${state.who.role})` : "";
}

// Optional routes (planning, trace, ask) exist only when their layer is installed: ask the
// OpenAPI document instead of probing, so the browser never logs a failed request.
function hasRoute(prefix) {
  for (const path of state.paths) if (path.startsWith(`/${API}/${prefix}`)) return true;
  return false;
}

function table(columns, rows) {
  if (!rows.length) return '<p class="muted">Nothing here yet.</p>';
  const head = columns.map(([, label]) => `<th>${esc(label)}</th>`).join("");
  const body = rows
    .map((row) => `<tr>${columns.map(([key, , render]) => `<td>${render ? render(row) : fmt(row[key])}</td>`).join("")}</tr>`)
    .join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function assetLink(space, id, label) {
  return `<a href="#/asset/${encodeURIComponent(space)}/${encodeURIComponent(id)}">${esc(label || id)}</a>`;
}

// -- charts (inline SVG) ---------------------------------------------------------------------
function lineChart(points, { width = 900, height = 160, marks = [] } = {}) {
  if (!points.length) return '<p class="muted">No data in this window.</p>';
  const times = points.map((p) => Date.parse(p.ts || p.bucket));
  const lo = points.map((p) => p.min ?? p.value);
  const hi = points.map((p) => p.max ?? p.value);
  const mid = points.map((p) => p.mean ?? p.value);
  const t0 = Math.min(...times), t1 = Math.max(...times) || t0 + 1;
  const y0 = Math.min(...lo), y1 = Math.max(...hi);
  const pad = 28;
  const x = (t) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (width - 2 * pad);
  const y = (v) => height - 18 - ((v - y0) / Math.max(1e-9, y1 - y0)) * (height - 30);
  const band = times.map((t, i) => `${x(t)},${y(hi[i])}`).concat(times.map((t, i) => `${x(t)},${y(lo[i])}`).reverse());
  const line = times.map((t, i) => `${x(t)},${y(mid[i])}`).join(" ");
  const markers = marks
    .map((m) => {
      const t = Date.parse(m.at);
      if (!(t >= t0 && t <= t1)) return "";
      return `<line x1="${x(t)}" x2="${x(t)}" y1="8" y2="${height - 18}" stroke="#c0392b" stroke-dasharray="4 3"><title>${esc(m.label)}</title></line>`;
    })
    .join("");
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img">
    <polygon points="${band.join(" ")}" fill="#0b6bcb22" stroke="none"/>
    <polyline points="${line}" fill="none" stroke="#0b6bcb" stroke-width="1.3"/>
    ${markers}
    <text x="${pad}" y="${height - 4}" font-size="10" fill="#5b6b7c">${when(new Date(t0).toISOString())}</text>
    <text x="${width - pad}" y="${height - 4}" font-size="10" fill="#5b6b7c" text-anchor="end">${when(new Date(t1).toISOString())}</text>
    <text x="2" y="12" font-size="10" fill="#5b6b7c">${fmt(y1)}</text>
    <text x="2" y="${height - 20}" font-size="10" fill="#5b6b7c">${fmt(y0)}</text>
  </svg>`;
}

function gantt(rows) {
  const items = rows.filter((r) => r.planned_start && r.planned_end);
  if (!items.length) return '<p class="muted">No planned orders yet: run the planning agent (<code>factorybrain plan</code>).</p>';
  const lanes = [...new Set(items.map((r) => r.line || "unassigned"))].sort();
  const t0 = Math.min(...items.map((r) => Date.parse(r.planned_start)));
  const t1 = Math.max(...items.map((r) => Date.parse(r.planned_end)));
  const width = 1100, lane = 26, left = 90;
  const x = (t) => left + ((t - t0) / Math.max(1, t1 - t0)) * (width - left - 10);
  const bars = items
    .map((r) => {
      const row = lanes.indexOf(r.line || "unassigned");
      const late = !r.maintenance && r.due_at && Date.parse(r.planned_end) > Date.parse(r.due_at);
      const w = Math.max(2, x(Date.parse(r.planned_end)) - x(Date.parse(r.planned_start)));
      const fill = r.maintenance ? "#e67e22" : late ? "#c0392b" : "#0b6bcb";
      const what = r.maintenance ? `maintenance of ${esc(r.asset)}` : esc(r.product);
      return `<rect x="${x(Date.parse(r.planned_start))}" y="${row * lane + 4}" width="${w}" height="${lane - 8}" fill="${fill}" opacity=".8"><title>${esc(r.external_id)} ${what} ${when(r.planned_start)} – ${when(r.planned_end)}${late ? " (late)" : ""}</title></rect>`;
    })
    .join("");
  const labels = lanes.map((l, i) => `<text x="4" y="${i * lane + 18}" font-size="11">${esc(l)}</text>`).join("");
  return `<svg viewBox="0 0 ${width} ${lanes.length * lane + 8}" width="100%" role="img" class="chart">${labels}${bars}</svg>`;
}

// -- pages -----------------------------------------------------------------------------------
async function pageOverview() {
  const [status, lines, machines, findings] = await Promise.all([
    api("status"),
    api("assets?level=line&limit=500"),
    api("assets?level=equipment&limit=1000"),
    api("findings?status=open&limit=50"),
  ]);
  const counts = Object.entries(status.counts || {})
    .filter(([name]) => !["quarantine", "edge"].includes(name))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([name, n]) => `<div class="card"><div class="n">${fmt(n, 0)}</div><div class="l">${esc(name)}</div></div>`)
    .join("");
  const byId = (a, b) => String(a.external_id).localeCompare(String(b.external_id));
  const bySpace = {};
  for (const line of [...lines.items].sort(byId)) (bySpace[line.space] ||= []).push(line);
  const tree = Object.entries(bySpace)
    .map(([space, items]) => {
      const rows = items
        .map((line) => {
          const children = machines.items.filter((m) => m.parent === line.external_id && m.space === space).sort(byId);
          const list = children.map((m) => `<li>${assetLink(m.space, m.external_id, `${m.external_id} · ${m.name || ""}`)}</li>`).join("");
          return `<li>${esc(line.external_id)} <span class="muted">${esc(line.name || "")}</span><ul>${list}</ul></li>`;
        })
        .join("");
      return `<li><strong>${esc(space)}</strong><ul>${rows}</ul></li>`;
    })
    .join("");
  let oee = "";
  if (hasRoute("oee")) {
    try {
      const result = await api("oee?by=machine");
      const rowsOee = result.items || result.rows || [];
      oee = `<h2>OEE by machine</h2>${table(
        [["asset", "machine"], ["availability", "availability", (r) => fmt(r.availability, 3)], ["performance", "performance", (r) => fmt(r.performance, 3)], ["quality", "quality", (r) => fmt(r.quality, 3)], ["oee", "OEE", (r) => `<strong>${fmt(r.oee, 3)}</strong>`]],
        rowsOee,
      )}`;
    } catch (error) {
      oee = `<p class="error">OEE: ${esc(error.message)}</p>`;
    }
  }
  main().innerHTML = `<h1>Plant</h1>
    <div class="cards">${counts}<div class="card"><div class="n">${fmt(status.actions_waiting_for_approval, 0)}</div><div class="l">actions waiting for approval</div></div></div>
    ${oee}
    <h2>Open findings</h2>${findingsTable(findings.items)}
    <h2>Hierarchy</h2><div class="tree"><ul>${tree || '<li class="muted">No lines loaded.</li>'}</ul></div>`;
}

function findingsTable(items) {
  return table(
    [
      ["created_at", "when", (r) => when(r.created_at)],
      ["agent", "agent"],
      ["kind", "kind"],
      ["subject", "subject", (r) => (r.subject?.type === "asset" ? assetLink(r.subject.space || "mes", r.subject.external_id) : esc(r.subject?.external_id))],
      ["title", "what", (r) => esc(r.title || r.evidence?.text || "")],
      ["severity", "severity", (r) => `<span class="sev-${esc(r.severity)}">${esc(r.severity)}</span>`],
      ["confidence", "confidence", (r) => fmt(r.confidence, 2)],
    ],
    items,
  );
}

async function pageAsset(space, id) {
  const asset = await api(`assets/${encodeURIComponent(id)}?space=${encodeURIComponent(space)}`);
  const [series, orders, findings] = await Promise.all([
    api(`time-series?asset=${encodeURIComponent(id)}&limit=50`),
    api(`maintenance-orders?asset=${encodeURIComponent(id)}&limit=50`),
    api(`findings?subject=${encodeURIComponent(id)}&limit=50`),
  ]);
  const marks = findings.items.map((f) => ({ at: f.created_at, label: `${f.kind} (${f.severity})` }));
  const rul = findings.items.find((f) => f.kind === "maintenance.rul_low");
  const numbers = rul?.evidence?.numbers || {};
  const pick = (...keys) => keys.map((k) => numbers[k]).find((v) => v !== undefined);
  const rulText = rul
    ? `<div class="card"><div class="n">${fmt(pick("rul_hours", "rul"), 0)} h</div><div class="l">remaining useful life, 90 % interval ${fmt(pick("rul_lower_hours", "lower_hours", "lower"), 0)} – ${fmt(pick("rul_upper_hours", "upper_hours", "upper"), 0)} h</div></div>`
    : '<div class="card"><div class="n">–</div><div class="l">no remaining-life warning</div></div>';
  const charts = await Promise.all(
    series.items.slice(0, 8).map(async (s) => {
      const data = await api(`time-series/${encodeURIComponent(s.external_id)}/datapoints?every=1h&limit=5000&start=${encodeURIComponent(s.first_ts || "1970-01-01T00:00:00")}`).catch(() => ({ items: [] }));
      const points = data.buckets || data.points || [];
      return `<div class="chart"><div class="title">${esc(s.external_id)} ${s.unit ? `[${esc(s.unit)}]` : ""}</div>${lineChart(points, { marks })}</div>`;
    }),
  );
  main().innerHTML = `<h1>${esc(asset.name || asset.external_id)} <span class="muted">${esc(space)} / ${esc(asset.external_id)}</span></h1>
    <div class="cards"><div class="card"><div class="n">${esc(asset.asset_class || asset.level || "")}</div><div class="l">${esc(asset.manufacturer || "")} ${esc(asset.model_number || "")}</div></div>${rulText}</div>
    <h2>Sensors</h2>${charts.join("") || '<p class="muted">No time series are linked to this asset yet (link historian tags by approving matches: <code>factorybrain match</code>).</p>'}
    <h2>Findings</h2>${findingsTable(findings.items)}
    <h2>Maintenance history</h2>${table(
      [["external_id", "order"], ["order_type", "type"], ["status", "status"], ["actual_start", "start", (r) => when(r.actual_start || r.planned_start)], ["notes", "notes"]],
      orders.items,
    )}`;
}

async function pageInbox() {
  const [proposed, decided] = await Promise.all([api("actions?state=proposed&limit=50"), api("actions?limit=20")]);
  // What is approved is exactly what is shown: each card shows its recommendation and sends
  // back the content hash of what it showed.
  const shown = await Promise.all(
    proposed.items.map((a) => api(`recommendations/${encodeURIComponent(a.recommendation_id)}`)),
  );
  const hashes = Object.fromEntries(proposed.items.map((a, i) => [a.id, shown[i].content_hash]));
  const cards = proposed.items
    .map(
      (a, i) => `<div class="action" data-action="${esc(a.id)}">
        <strong>${esc(shown[i].title || a.action_type)}</strong> <span class="muted">${esc(a.id)}, proposed${a.proposed_by ? ` by ${esc(a.proposed_by)}` : ""} ${when(a.proposed_at)}, needs the ${esc(a.required_role || "approval")} role</span>
        <pre>${esc(JSON.stringify({ parameters: shown[i].parameters, expected_effect: shown[i].expected_effect }, null, 2))}</pre>
        <textarea placeholder="Comment (why you approve or reject)"></textarea>
        <button class="approve">Approve</button> <button class="reject">Reject</button>
        <span class="outcome"></span></div>`,
    )
    .join("");
  main().innerHTML = `<h1>Inbox</h1>${cards || '<p class="muted">No action waits for approval.</p>'}
    <h2>Recent decisions</h2>${table(
      [["id", "action"], ["action_type", "type"], ["state", "state"], ["decided_by", "by"], ["decided_at", "when", (r) => when(r.decided_at)], ["comment", "comment"]],
      decided.items.filter((a) => a.state !== "proposed"),
    )}`;
  for (const card of main().querySelectorAll(".action")) {
    const decide = async (verb) => {
      const outcome = card.querySelector(".outcome");
      try {
        const body = { comment: card.querySelector("textarea").value || null };
        if (verb === "approve") body.content_hash = hashes[card.dataset.action];
        const result = await api(`actions/${encodeURIComponent(card.dataset.action)}/${verb}`, {
          method: "POST",
          body,
        });
        outcome.textContent = ` ${result.state}`;
        card.querySelectorAll("button").forEach((b) => (b.disabled = true));
        refreshInboxCount();
      } catch (error) {
        outcome.innerHTML = ` <span class="error">${esc(error.message)}</span>`;
      }
    };
    card.querySelector(".approve").addEventListener("click", () => decide("approve"));
    card.querySelector(".reject").addEventListener("click", () => decide("reject"));
  }
}

async function pagePlan() {
  const [orders, maintenance, machines] = await Promise.all([
    api("work-orders?status=released&limit=1000"),
    api("maintenance-orders?status=planned&limit=1000"),
    api("assets?level=equipment&limit=1000"),
  ]);
  // A maintenance window sits in the lane of its machine's line (the machine's own when unknown).
  const lineOf = Object.fromEntries(machines.items.filter((m) => m.parent).map((m) => [m.external_id, m.parent]));
  const windows = maintenance.items.map((r) => ({ ...r, line: lineOf[r.asset] || r.asset, maintenance: true }));
  main().innerHTML = `<h1>Plan</h1><p class="muted">Open work orders by line; red bars finish after their due date, amber bars are planned maintenance.</p>${gantt([...orders.items, ...windows])}
    <h2>Planned maintenance</h2>${table(
      [["external_id", "order"], ["asset", "machine"], ["order_type", "type"], ["planned_start", "start", (r) => when(r.planned_start)], ["planned_end", "end", (r) => when(r.planned_end)], ["notes", "notes"]],
      maintenance.items,
    )}
    <h2>Open work orders</h2>${table(
      [["external_id", "order"], ["product", "product"], ["line", "line"], ["quantity", "qty", (r) => fmt(r.quantity, 0)], ["due_at", "due", (r) => when(r.due_at)], ["planned_start", "planned start", (r) => when(r.planned_start)], ["planned_end", "planned end", (r) => when(r.planned_end)]],
      orders.items,
    )}`;
}

async function pageInventory() {
  const [levels, plan] = await Promise.all([
    api("stock-levels?limit=1000"),
    hasRoute("forecasts") ? api("forecasts?limit=1000") : null,
  ]);
  const latest = {};
  for (const row of levels.items) {
    const key = `${row.material}@${row.location}`;
    if (!latest[key] || Date.parse(row.as_of) > Date.parse(latest[key].as_of)) latest[key] = row;
  }
  // Reorder when stock on hand plus on order is at or below the reorder point.
  const due = (r) => r.reorder_point !== null && r.on_hand + r.on_order <= r.reorder_point;
  const weeks = (r, n) => r.forecast.slice(0, n).reduce((sum, week) => sum + week.mean, 0);
  const policies = plan
    ? `<h2>Reorder levels and demand</h2><p class="muted">Planned ${when(plan.as_of)} for each product and material from its demand history; spare parts include the warned machines' chance to fail within the lead time.</p>${table(
        [["item", "item"], ["name", "name"], ["item_type", "type"], ["on_hand", "on hand", (r) => fmt(r.on_hand, 1)], ["on_order", "on order", (r) => fmt(r.on_order, 1)], ["reorder_point", "reorder point", (r) => fmt(r.reorder_point, 1)], ["order_up_to", "order up to", (r) => fmt(r.order_up_to, 1)], ["forecast", "demand, next 4 weeks", (r) => fmt(weeks(r, 4), 1)], ["model", "forecast model"], ["status", "status", (r) => (due(r) ? '<span class="due">reorder</span>' : "ok")]],
        [...plan.items].sort((a, b) => due(b) - due(a) || String(a.item).localeCompare(String(b.item))),
      )}`
    : "";
  main().innerHTML = `<h1>Inventory</h1>${policies}<h2>Stock on hand</h2><p class="muted">Latest stock count per material and location.</p>${table(
    [["material", "material"], ["location", "location"], ["quantity", "on hand", (r) => fmt(r.quantity, 1)], ["as_of", "counted", (r) => when(r.as_of)]],
    Object.values(latest).sort((a, b) => String(a.material).localeCompare(String(b.material))),
  )}`;
}

async function pageTrace(query) {
  const serial = query.get("serial") || "";
  let body = "";
  if (serial) {
    try {
      if (hasRoute("trace")) {
        const chain = await api(`trace/serial/${encodeURIComponent(serial)}`);
        body = `<pre>${esc(JSON.stringify(chain, null, 2))}</pre>`;
      } else {
        const unit = await api(`serials/${encodeURIComponent(serial)}`);
        const [results, claims] = await Promise.all([
          api(`quality-results?serial_unit=${encodeURIComponent(serial)}&limit=50`),
          api(`warranty-claims?serial_unit=${encodeURIComponent(serial)}&limit=50`),
        ]);
        body = `<h2>${esc(unit.external_id)}</h2><p>product ${esc(unit.product)}, work order ${esc(unit.work_order)}, made ${when(unit.produced_at)}, ${esc(unit.status)}</p>
          <h2>Quality results</h2>${table([["test_name", "test"], ["value", "value", (r) => fmt(r.value, 3)], ["unit", "unit"], ["status", "verdict"], ["measured_at", "when", (r) => when(r.measured_at)]], results.items)}
          <h2>Warranty claims</h2>${table([["external_id", "claim"], ["failure_date", "failed", (r) => when(r.failure_date)], ["text", "description"]], claims.items)}`;
      }
    } catch (error) {
      body = `<p class="error">${esc(error.message)}</p>`;
    }
  }
  main().innerHTML = `<h1>Traceability</h1>
    <form id="trace-form"><input name="serial" placeholder="Serial number" value="${esc(serial)}"> <button>Trace</button></form>${body}`;
  $("#trace-form").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/trace?serial=${encodeURIComponent(new FormData(event.target).get("serial"))}`;
  });
}

async function pageAudit() {
  const log = await api("audit?limit=100");
  main().innerHTML = `<h1>Audit log</h1>${table(
    [["occurred_at", "when", (r) => when(r.occurred_at)], ["actor", "who"], ["verb", "what"], ["object_type", "object"], ["object_id", "id"], ["details", "details", (r) => `<code>${esc(JSON.stringify(r.details ?? ""))}</code>`]],
    log.items,
  )}`;
}

async function ask(question) {
  if (!hasRoute("ask")) {
    main().insertAdjacentHTML("afterbegin", '<div class="answer">Asking in plain language arrives with the <code>ask</code> layer.</div>');
    return;
  }
  try {
    const answer = await api("ask", { method: "POST", body: { question } });
    main().insertAdjacentHTML("afterbegin", `<div class="answer"><strong>${esc(question)}</strong><p>${esc(answer.answer || answer.text || "")}</p></div>`);
  } catch (error) {
    main().insertAdjacentHTML("afterbegin", `<div class="answer error">${esc(error.message)}</div>`);
  }
}

// -- routing and sign-in ---------------------------------------------------------------------
const routes = [
  [/^#?\/?$/, () => pageOverview(), "overview"],
  [/^#\/asset\/([^/]+)\/(.+)$/, (m) => pageAsset(decodeURIComponent(m[1]), decodeURIComponent(m[2])), "overview"],
  [/^#\/inbox$/, () => pageInbox(), "inbox"],
  [/^#\/plan$/, () => pagePlan(), "plan"],
  [/^#\/inventory$/, () => pageInventory(), "inventory"],
  [/^#\/trace(\?.*)?$/, (m) => pageTrace(new URLSearchParams((m[1] || "").slice(1))), "trace"],
  [/^#\/audit$/, () => pageAudit(), "audit"],
  // field.js and process.js (loaded before this file) hold these pages
  [/^#\/field(\?.*)?$/, (m) => pageField(new URLSearchParams((m[1] || "").slice(1))), "field"],
  [/^#\/process(\?.*)?$/, (m) => pageProcess(new URLSearchParams((m[1] || "").slice(1))), "process"],
];

async function render() {
  const hash = location.hash || "#/";
  for (const [pattern, page, nav] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
    main().innerHTML = '<p class="muted">Loading…</p>';
    try {
      await page(match);
      document.body.dataset.loaded = hash;
    } catch (error) {
      if (error.status === 401) return signIn("Your token is missing or no longer valid.");
      main().innerHTML = `<p class="error">${esc(error.message)}</p>`;
      document.body.dataset.loaded = hash;
    }
    return;
  }
  main().innerHTML = '<p class="error">No such page.</p>';
}

async function refreshInboxCount() {
  try {
    const status = await api("status");
    const badge = $("#inbox-count");
    badge.textContent = status.actions_waiting_for_approval;
    badge.hidden = !status.actions_waiting_for_approval;
  } catch (error) {
    /* the page itself reports errors */
  }
}

function signIn(message) {
  $("#login-error").textContent = message || "";
  const dialog = $("#login");
  if (!dialog.open) dialog.showModal();
}

async function start() {
  localStorage.removeItem("factorybrain-token"); // kept there by earlier versions
  const params = new URLSearchParams(location.search);
  const linked = params.get("token");
  if (linked) history.replaceState(null, "", location.pathname + location.hash);
  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = $("#login-token");
    try {
      await startSession(field.value.trim());
    } catch (error) {
      $("#login-error").textContent = error.message;
      return;
    } finally {
      field.value = "";
    }
    $("#login").close();
    showWho();
    render();
    refreshInboxCount();
  });
  $("#sign-out").addEventListener("click", signOut);
  $("#ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask($("#ask-input").value);
  });
  const spec = await fetch("openapi.json").then((r) => r.json());
  state.paths = new Set(Object.keys(spec.paths || {}));
  window.addEventListener("hashchange", render);
  const signedIn = linked
    ? await startSession(linked).then(() => true, () => false)
    : await resumeSession();
  showWho();
  if (!signedIn) return signIn(linked ? "The link's token is no longer valid." : "");
  await render();
  refreshInboxCount();
}

start();
