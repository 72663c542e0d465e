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
  constructor(status, detail, retryAfter = null) {
    super(detail);
    this.status = status;
    this.retryAfter = retryAfter; // seconds, from Retry-After (503: database gone, server busy)
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
  if (!response.ok) {
    const retry = Number.parseInt(response.headers.get("Retry-After") || "", 10);
    throw new ApiError(response.status, data.detail || response.statusText, Number.isFinite(retry) ? retry : null);
  }
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
    .map((row) => `<tr>${columns.map(([key, label, render]) => `<td data-label="${esc(label)}">${render ? render(row) : fmt(row[key])}</td>`).join("")}</tr>`)
    .join("");
  // A table scrolls sideways inside its own box on a narrow screen, never the page.
  return `<div class="table-scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

function assetLink(space, id, label) {
  return `<a href="#/asset/${encodeURIComponent(space)}/${encodeURIComponent(id)}">${esc(label || id)}</a>`;
}

// -- pages -----------------------------------------------------------------------------------
// The overview, machine, plan, inventory and trace pages are in pages.js (charts in charts.js).

// -- inbox: what a person approves, in plain words ----------------------------------------------
// A card is drawn from GET actions/{id}/review: the recommendation (what is approved, exactly as
// shown: its content hash goes back with the approval), the findings behind it, and the records
// it names as they are now (a work order's dates before the move, names and units).

// An API timestamp (UTC, with or without its offset) as milliseconds.
const inboxInstant = (iso) => {
  if (!iso) return NaN;
  const text = String(iso);
  return Date.parse(/(Z|[+-]\d\d:?\d\d)$/i.test(text) ? text : `${text}Z`);
};
const inboxHours = (hours) => {
  const sign = hours < 0 ? "−" : "+";
  const size = Math.abs(hours);
  return size >= 48 ? `${sign}${fmt(size / 24, 1)} d` : `${sign}${fmt(size, 1)} h`;
};
const inboxDuration = (start, end) => {
  const hours = (inboxInstant(end) - inboxInstant(start)) / 3_600_000;
  return Number.isFinite(hours) ? `${fmt(hours, 1)} h` : "";
};
const inboxPlural = (n, word) => `${fmt(n, 0)} ${word}${n === 1 ? "" : "s"}`;
const inboxIsTime = (key, value) =>
  typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value) && !/_id$/.test(key);

// What each kind of action does, in plain words (the policy's role is on the card).
const INBOX_KINDS = {
  composite: "Several steps, approved and executed together",
  "maintenance_order.create": "Create a maintenance order",
  "maintenance_order.cancel": "Cancel a maintenance order",
  "work_order.reschedule": "Move work orders",
  "purchase_order.create": "Place a purchase order",
  "purchase_order.cancel": "Cancel a purchase order",
  "material_lot.quarantine": "Quarantine material lots",
  "supplier.corrective_action": "Ask a supplier for corrective action",
  "recipe.change_request": "Request a recipe change",
  "recipe.revise": "Record a new recipe revision",
  "experiment.plan": "Plan confirmation runs",
  "serial_unit.inspect": "Plan field inspections of serial units",
  notify: "Notify people",
};
const inboxKind = (type) => INBOX_KINDS[type] || String(type || "").replace(/[._]/g, " ");

// "total_tardiness_hours" -> "Total tardiness (h)"; probabilities read as percent.
function inboxLabel(key) {
  const words = String(key).replace(/_hours$/, "").replace(/[_:]/g, " ").trim();
  const unit = /_hours$/.test(key) ? " (h)" : "";
  return esc(words.charAt(0).toUpperCase() + words.slice(1) + unit);
}

function inboxValue(key, value) {
  if (value === null || value === undefined || value === "") return '<span class="muted">–</span>';
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (/probability|risk|service|share/.test(key) && value >= 0 && value <= 1) return `${fmt(value * 100, 1)} %`;
    return fmt(value, 2);
  }
  if (inboxIsTime(key, value)) return `${when(value)} UTC`;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object")) return value.map((v) => esc(v)).join(", ");
    return value.map((v, i) => `<div class="inbox-nested">${inboxKeyValues(v, `${key} ${i + 1}`)}</div>`).join("");
  }
  if (typeof value === "object") return `<div class="inbox-nested">${inboxKeyValues(value)}</div>`;
  return esc(value);
}

// A readable key/value list of any object; pairs named x_before / x_after read "before → after".
function inboxKeyValues(object, fallback = "") {
  if (object === null || typeof object !== "object") return inboxValue(fallback, object);
  const entries = Object.entries(object);
  if (!entries.length) return '<span class="muted">nothing stated</span>';
  const rows = [];
  const done = new Set();
  for (const [key, value] of entries) {
    if (done.has(key)) continue;
    const stem = key.replace(/_before$/, "");
    const after = `${stem}_after`;
    if (stem !== key && after in object) {
      done.add(after);
      rows.push(`<dt>${inboxLabel(stem)}</dt><dd>${inboxValue(stem, value)} → <strong>${inboxValue(stem, object[after])}</strong></dd>`);
      continue;
    }
    rows.push(`<dt>${inboxLabel(key)}</dt><dd>${inboxValue(key, value)}</dd>`);
  }
  return `<dl class="inbox-facts">${rows.join("")}</dl>`;
}

// Where a machine named by id lives: the space of a finding about it, else of its record.
function inboxMachine(review, id) {
  if (!id) return '<span class="muted">no machine named</span>';
  const records = review.assets.filter((a) => a.external_id === id);
  const subject = review.findings.map((f) => f.subject).find((s) => s.type === "asset" && s.external_id === id && s.space);
  const record = records.find((a) => subject && a.space === subject.space) || records[0];
  if (!record) return `${esc(id)} <span class="muted">(not in the factory model)</span>`;
  const name = record.name && record.name !== id ? ` <span class="muted">${esc(record.name)}</span>` : "";
  const line = record.parent ? ` <span class="muted">on ${esc(record.parent)}</span>` : "";
  return `${assetLink(record.space, id)}${name}${line}`;
}

function inboxFacts(pairs) {
  const rows = pairs.filter(([, value]) => value !== undefined && value !== null && value !== "");
  return `<dl class="inbox-facts">${rows.map(([label, value]) => `<dt>${esc(label)}</dt><dd>${value}</dd>`).join("")}</dl>`;
}

function inboxWindow(start, end) {
  if (!start && !end) return '<span class="muted">no dates given</span>';
  const sameDay = String(start).slice(0, 10) === String(end).slice(0, 10);
  const endText = sameDay ? esc(String(when(end)).slice(11)) : when(end);
  return `<strong>${when(start)} → ${endText} UTC</strong> <span class="muted">(${inboxDuration(start, end)})</span>`;
}

// Each cell names its column: on a phone a row reads as a small card of label and value.
function inboxTable(headers, rows) {
  const head = headers.map((h) => `<th>${esc(h)}</th>`).join("");
  const body = rows
    .map((cells) => `<tr>${cells.map((c, i) => `<td data-label="${esc(headers[i])}"><span class="inbox-cell">${c}</span></td>`).join("")}</tr>`)
    .join("");
  return `<div class="inbox-scroll"><table class="inbox-table"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

function inboxMaintenance(p, review) {
  return inboxFacts([
    ["Machine", inboxMachine(review, p.asset)],
    ["Window", inboxWindow(p.planned_start, p.planned_end)],
    ["Order", `${esc(p.external_id)} <span class="muted">${esc(p.order_type || "predictive")}${p.priority != null ? `, priority ${esc(p.priority)}` : ""}</span>`],
    ["Failure mode", p.failure_mode ? esc(p.failure_mode) : null],
    ["Notes", p.notes ? esc(p.notes) : null],
  ]);
}

function inboxReschedule(p, review) {
  const orders = p.orders || [];
  const rows = orders.map((o) => {
    const was = review.work_orders.find((w) => w.external_id === o.external_id && (!o.space || w.space === o.space)) || {};
    const oldStart = o.expect?.planned_start ?? was.planned_start;
    const oldEnd = o.expect?.planned_end ?? was.planned_end;
    const shift = (inboxInstant(o.planned_start) - inboxInstant(oldStart)) / 3_600_000;
    const late = was.due_at && inboxInstant(o.planned_end) > inboxInstant(was.due_at);
    const what = [was.product, was.quantity != null ? `× ${fmt(was.quantity, 0)}` : ""].filter(Boolean).join(" ");
    return [
      `<strong>${esc(o.external_id)}</strong>${what ? ` <span class="muted">${esc(what)}</span>` : ""}`,
      esc(was.line || ""),
      `${when(oldStart)}<br>${when(oldEnd)}`,
      `<strong>${when(o.planned_start)}</strong><br><strong>${when(o.planned_end)}</strong>`,
      Number.isFinite(shift) ? inboxHours(shift) : "",
      was.due_at ? `${when(was.due_at)}${late ? ' <span class="inbox-late">late</span>' : ""}` : '<span class="muted">–</span>',
    ];
  });
  const room = p.maintenance_order ? `<p class="muted">To make room for maintenance order ${esc(p.maintenance_order)}.</p>` : "";
  const undo = p.compensates ? `<p class="muted">Moves them back: undoes ${esc(p.compensates)}.</p>` : "";
  return `${room}${undo}${inboxTable(["order", "line", "planned now (start, end)", "new (start, end)", "shift", "due"], rows)}`;
}

function inboxPurchase(p, review) {
  const material = review.materials.find((m) => m.external_id === p.material && m.space === p.space) || review.materials.find((m) => m.external_id === p.material) || {};
  const unit = material.unit_of_measure ? ` ${esc(material.unit_of_measure)}` : "";
  const name = material.name ? `${esc(material.name)} <span class="muted">${esc(p.material)}</span>` : esc(p.material);
  return inboxTable(
    ["purchase order", "material", "quantity", "needed by", "supplier"],
    [[esc(p.external_id), name, `<strong>${fmt(p.quantity, 2)}${unit}</strong>`, p.due_at ? `${when(p.due_at)} UTC` : '<span class="muted">–</span>', p.supplier ? esc(p.supplier) : '<span class="muted">not chosen</span>']],
  );
}

function inboxCancel(p, what) {
  return inboxFacts([
    [what, `<strong>${esc(p.external_id)}</strong> <span class="muted">${esc(p.space || "")}</span>`],
    ["Expected status now", p.expect?.status ? esc(p.expect.status) : null],
  ]);
}

function inboxQuarantine(p) {
  const rows = (p.lots || []).map((lot) => [esc(lot.external_id ?? lot), esc(lot.space || ""), esc(lot.expect?.status || "")]);
  return `${p.reason ? `<p>${esc(p.reason)}</p>` : ""}${inboxTable(["lot", "space", "status now"], rows)}`;
}

function inboxInspect(p) {
  const serials = p.serials || [];
  const rows = serials.map((s) => [
    `<a href="#/trace?serial=${encodeURIComponent(s.serial)}">${esc(s.serial)}</a>`,
    esc(s.customer_name || s.customer || ""),
    esc(s.shipment || ""),
    s.shipped_at ? when(s.shipped_at) : "",
  ]);
  return `${inboxFacts([["Why", esc(p.reason)], ["Customers", (p.customers || []).map(esc).join(", ")]])}${inboxTable(["serial", "customer", "shipment", "shipped"], rows)}`;
}

function inboxRecipe(p) {
  const before = p.expect?.setpoints || {};
  const rows = Object.entries(p.setpoints || {}).map(([name, value]) => [esc(name), name in before ? fmt(before[name], 4) : '<span class="muted">–</span>', `<strong>${fmt(value, 4)}</strong>`]);
  return `${inboxFacts([
    ["Product", esc(p.product)],
    ["Recipe", p.recipe ? `${esc(p.recipe)}${p.expect?.version ? ` <span class="muted">version ${esc(p.expect.version)} now</span>` : ""}` : null],
    ["New revision", `<strong>${esc(p.revision || p.external_id)}</strong>`],
    ["Effective from", p.effective_from ? `${when(p.effective_from)} UTC` : null],
    ["Why", p.change_reason ? esc(p.change_reason) : null],
  ])}${inboxTable(["setpoint", "now", "new"], rows)}`;
}

function inboxExperiment(p) {
  const rows = (p.runs || []).map((run) => [
    esc(run.role),
    Object.entries(run.setpoints || {}).map(([k, v]) => `${esc(k)} ${fmt(v, 4)}`).join(", "),
    run.expected != null ? `${fmt(run.expected, 3)}${run.expected_std != null ? ` ± ${fmt(run.expected_std, 3)}` : ""}` : "",
  ]);
  return `${inboxFacts([["Product", esc(p.product)], ["Objective", esc(p.objective)], ["Recipe", p.recipe ? esc(p.recipe) : null]])}${inboxTable(["run", "setpoints", "expected"], rows)}`;
}

// How each kind of step is drawn; an unknown kind is a readable key/value list.
const INBOX_STEPS = {
  "maintenance_order.create": inboxMaintenance,
  "work_order.reschedule": inboxReschedule,
  "purchase_order.create": inboxPurchase,
  "maintenance_order.cancel": (p) => inboxCancel(p, "Maintenance order"),
  "purchase_order.cancel": (p) => inboxCancel(p, "Purchase order"),
  "material_lot.quarantine": inboxQuarantine,
  "serial_unit.inspect": inboxInspect,
  "recipe.revise": inboxRecipe,
  "experiment.plan": inboxExperiment,
  notify: (p) => inboxFacts([["To", (p.to || []).map(esc).join(", ")], ["Message", esc(p.message)]]),
};

function inboxStep(type, parameters, review) {
  const draw = INBOX_STEPS[type];
  return draw ? draw(parameters || {}, review) : inboxKeyValues(parameters || {});
}

function inboxProposer(who) {
  const text = String(who || "");
  if (text.startsWith("user:") || text.startsWith("os:")) return esc(text.split(":").slice(1).join(":"));
  if (text === "orchestrator") return "the orchestrator";
  return text ? `the ${esc(text)} agent` : "unknown";
}

// What a finding is about, linked to its page; a machine without a space takes its record's.
function inboxSubjectLink(subject, review) {
  const id = subject?.external_id;
  if (!id) return "";
  if (subject.type === "asset") {
    const record = review.assets.find((a) => a.external_id === id && (!subject.space || a.space === subject.space));
    const space = subject.space || record?.space;
    const name = record?.name && record.name !== id ? ` <span class="muted">${esc(record.name)}</span>` : "";
    return space ? `${assetLink(space, id)}${name}` : esc(id);
  }
  if (subject.type === "serial_unit") return `<a href="#/trace?serial=${encodeURIComponent(id)}">${esc(id)}</a>`;
  if (["material", "material_lot", "purchase_order"].includes(subject.type)) return `<a href="#/inventory">${esc(id)}</a>`;
  if (subject.type === "work_order") return `<a href="#/plan">${esc(id)}</a>`;
  return `${esc(id)} <span class="muted">${esc(subject.type)}</span>`;
}

function inboxFindings(review) {
  const findings = [...review.findings].sort((a, b) => inboxInstant(b.created_at) - inboxInstant(a.created_at));
  const rows = findings.map((f) => [
    `${when(f.created_at)}`,
    `<span class="sev-${esc(f.severity)}">${esc(f.severity)}</span>`,
    `<span class="inbox-status inbox-status-${esc(f.status)}">${esc(f.status)}</span>`,
    inboxSubjectLink(f.subject, review),
    `<details class="inbox-finding" id="finding-${esc(f.id)}"><summary>${esc(f.title || f.kind)}</summary><p>${esc(f.evidence?.text || "")}</p><p class="muted">${esc(f.kind)} · ${esc(f.id)} · by ${inboxProposer(f.agent)} · confidence ${fmt(f.confidence * 100, 0)} %</p></details>`,
  ]);
  const missing = review.missing_findings.length
    ? `<p class="muted">No longer in the store: ${review.missing_findings.map(esc).join(", ")}.</p>`
    : "";
  if (!rows.length) return `<p class="muted">It names no finding.</p>${missing}`;
  return `${inboxTable(["data time (UTC)", "severity", "status", "about", "finding"], rows)}${missing}`;
}

// One line for the whole proposal: "Maintain Press 3 2026-03-05 06:00 → 14:00 UTC; move 2 orders; ...".
function inboxHeadline(recommendation, review) {
  const steps = recommendation.action_type === "composite" ? recommendation.parameters.steps || [] : [recommendation];
  const parts = steps.map((step) => {
    const p = step.parameters || {};
    if (step.action_type === "maintenance_order.create") {
      const machine = review.assets.find((a) => a.external_id === p.asset);
      const sameDay = String(p.planned_start).slice(0, 10) === String(p.planned_end).slice(0, 10);
      const end = sameDay ? String(when(p.planned_end)).slice(11) : when(p.planned_end);
      return `${p.order_type === "inspection" ? "inspect" : "maintain"} ${esc(machine?.name || p.asset)} ${when(p.planned_start)} → ${end} UTC`;
    }
    if (step.action_type === "work_order.reschedule") return `move ${inboxPlural((p.orders || []).length, "work order")}`;
    if (step.action_type === "purchase_order.create") {
      const material = review.materials.find((m) => m.external_id === p.material);
      return `order ${fmt(p.quantity, 2)}${material?.unit_of_measure ? ` ${esc(material.unit_of_measure)}` : " ×"} ${esc(material?.name || p.material)}`;
    }
    return esc(inboxKind(step.action_type).toLowerCase());
  });
  const text = parts.join("; ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// A composite's effect repeats its steps' effects under "agent:type" keys; the rest is its own.
function inboxOwnEffect(recommendation) {
  const effect = recommendation.expected_effect || {};
  if (recommendation.action_type !== "composite") return effect;
  const steps = recommendation.parameters.steps || [];
  const stepKeys = new Set(steps.flatMap((s) => [s.action_type, `${s.agent}:${s.action_type}`]));
  return Object.fromEntries(Object.entries(effect).filter(([key]) => !stepKeys.has(key) && key !== "steps"));
}

function inboxCard(action, review) {
  const recommendation = review.recommendation;
  const composite = recommendation.action_type === "composite";
  const steps = composite
    ? recommendation.parameters.steps || []
    : [{ action_type: recommendation.action_type, parameters: recommendation.parameters, expected_effect: {} }];
  const shownEffects = new Set();
  const sections = steps
    .map((step, i) => {
      const effect = step.expected_effect || {};
      const key = JSON.stringify(effect);
      const effectHtml = Object.keys(effect).length && !shownEffects.has(key) ? `<div class="inbox-effect"><h4>Expected effect</h4>${inboxKeyValues(effect)}</div>` : "";
      shownEffects.add(key);
      const number = composite ? `${i + 1}. ` : "";
      const by = composite && step.agent ? ` <span class="muted">proposed by ${inboxProposer(step.agent)}</span>` : "";
      return `<section class="inbox-step"><h3>${number}${esc(inboxKind(step.action_type))}${by}</h3>${inboxStep(step.action_type, step.parameters, review)}${effectHtml}</section>`;
    })
    .join("");
  const own = inboxOwnEffect(recommendation);
  const effect = Object.keys(own).length ? `<section class="inbox-effect"><h3>Expected effect</h3>${inboxKeyValues(own)}</section>` : "";
  const you = review.you;
  const playbook = composite && recommendation.parameters.playbook ? ` through the playbook <strong>${esc(recommendation.parameters.playbook)}</strong>` : "";
  const may = you.may_approve
    ? '<span class="inbox-may">You may approve it.</span>'
    : `<span class="inbox-may-not">You may not approve it: ${esc(you.why_not)}.</span>`;
  return `<article class="action inbox-card" data-action="${esc(action.id)}" data-state="${esc(action.state)}">
    <h2 class="inbox-title">${composite ? inboxHeadline(recommendation, review) : esc(recommendation.title || inboxKind(recommendation.action_type))}</h2>
    <p class="inbox-meta">${composite ? `${esc(inboxKind("composite"))} (${esc(recommendation.title)})` : esc(inboxKind(recommendation.action_type))}. Proposed by <strong>${inboxProposer(action.proposed_by || recommendation.agent)}</strong>${playbook} on ${when(action.proposed_at)} UTC; needs the <strong>${esc(action.required_role || "admin")}</strong> role or higher to approve. ${may}</p>
    ${sections}${effect}
    <section class="inbox-why"><h3>Why: the findings behind it</h3>${inboxFindings(review)}</section>
    <div class="inbox-decide">
      <label class="inbox-comment">Comment <span class="muted">(kept in the audit log)</span><textarea placeholder="Why you approve or reject"></textarea></label>
      <div class="inbox-buttons">
        <button type="button" class="approve"${you.may_approve ? "" : " disabled"}>Approve and execute</button>
        <button type="button" class="reject"${you.may_reject ? "" : " disabled"}>Reject</button>
        <span class="inbox-progress muted" role="status"></span>
        <span class="outcome" role="status"></span>
      </div>
      <p class="muted inbox-hash">Approving approves exactly what is shown here (content ${esc(recommendation.content_hash.slice(0, 12))}…); if it changed since, the approval is refused.</p>
    </div>
  </article>`;
}

// What an executed action changed, in words: "maintenance order MO-1 created; 3 orders moved".
function inboxChanges(result) {
  const parts = [];
  const label = { work_order: "order", maintenance_order: "maintenance order", purchase_order: "purchase order", material_lot: "lot", service_visit: "inspection visit", document: "document" };
  for (const step of result?.steps || []) {
    const changed = step.changed || {};
    for (const [entity, changes] of Object.entries(changed)) {
      if (!Array.isArray(changes) || !changes.length || typeof changes[0] !== "object") continue;
      const name = label[entity] || entity.replace(/_/g, " ");
      const created = changes.filter((c) => c.created);
      const statuses = [...new Set(changes.map((c) => c.after?.status).filter((s) => s && !created.length))];
      if (created.length) parts.push(`${name} ${created.map((c) => esc(c.external_id)).join(", ")} created`);
      else if (entity === "work_order") parts.push(`${inboxPlural(changes.length, name)} moved`);
      else if (statuses.length === 1) parts.push(`${inboxPlural(changes.length, name)} ${esc(statuses[0])}`);
      else parts.push(`${inboxPlural(changes.length, name)} changed`);
    }
    if (changed.notified) parts.push(`notified ${changed.notified.map(esc).join(", ")}`);
    if (changed.requested) parts.push(`${esc(inboxKind(changed.requested).toLowerCase())}: request recorded`);
  }
  return parts.join("; ");
}

function inboxOutcome(action) {
  if (action.state === "executed") {
    const changes = inboxChanges(action.result);
    return { ok: true, text: `Approved and executed${changes ? `: ${changes}` : ""}.` };
  }
  if (action.state === "failed") {
    return { ok: false, text: `Approved, but it failed while executing and changed nothing: ${esc(action.result?.error || "no reason recorded")}` };
  }
  if (action.state === "rejected") return { ok: true, text: `Rejected${action.comment ? `: “${esc(action.comment)}”` : ""}.` };
  return { ok: true, text: `${esc(action.state)}.` };
}

function inboxError(error, verb) {
  if (error.status === 409)
    return `Not ${verb}d: it changed or was decided since this page showed it. ${esc(error.message)} <button type="button" class="inbox-reload">Reload the inbox</button> to see it as it is now.`;
  if (error.status === 403) return `Not ${verb}d, you may not: ${esc(error.message)}`;
  if (error.status === 401) return "Not done: your session ended; sign in again.";
  return `Not ${verb}d: ${esc(error.message)}`;
}

function inboxDecisions(items) {
  const rows = items.filter((a) => a.state !== "proposed").slice(0, 20);
  if (!rows.length) return '<p class="muted">No decision yet.</p>';
  return inboxTable(
    ["when (UTC)", "action", "decision", "by", "comment", "what changed"],
    rows.map((r) => [
      when(r.decided_at),
      `${esc(r.id)}<br><span class="muted">${esc(inboxKind(r.action_type))}</span>`,
      `<span class="inbox-status inbox-status-${esc(r.state)}">${esc(r.state)}</span>`,
      inboxProposer(r.decided_by),
      esc(r.comment || ""),
      r.state === "executed" ? inboxChanges(r.result) : r.state === "failed" ? esc(r.result?.error || "") : "",
    ]),
  );
}

async function pageInbox() {
  const [proposed, decided] = await Promise.all([api("actions?state=proposed&limit=50"), api("actions?limit=100")]);
  const reviews = await Promise.all(proposed.items.map((a) => api(`actions/${encodeURIComponent(a.id)}/review`)));
  const rank = { critical: 4, high: 3, medium: 2, low: 1 };
  const worst = (r) => Math.max(0, ...r.findings.map((f) => rank[f.severity] || 0));
  reviews.sort((a, b) => worst(b) - worst(a) || inboxInstant(b.action.proposed_at) - inboxInstant(a.action.proposed_at));
  // What is approved is exactly what is shown: each card sends back the content hash it drew.
  const hashes = Object.fromEntries(reviews.map((r) => [r.action.id, r.recommendation.content_hash]));
  const heading = () => {
    const cards = [...main().querySelectorAll(".inbox-card")];
    const yours = cards.filter((c) => !c.querySelector("button.approve").disabled).length;
    const more = proposed.total > proposed.items.length ? ` (the newest ${proposed.items.length} of ${proposed.total} shown)` : "";
    return cards.length ? `${inboxPlural(cards.length, "action")} waiting${more}; you may approve ${fmt(yours, 0)}.` : "Nothing left to decide.";
  };
  main().innerHTML = `<h1>Inbox</h1>
    <p class="muted inbox-intro">What the agents (or people) propose waits here for someone with the role it needs. Approving executes it at once; nobody approves their own proposal; every decision is in the audit log.</p>
    <p class="inbox-count" role="status"></p>
    <div class="inbox-cards">${reviews.map((r) => inboxCard(r.action, r)).join("") || '<p class="muted inbox-empty">No action waits for approval.</p>'}</div>
    <h2>Recent decisions</h2><div class="inbox-decisions inbox-scroll">${inboxDecisions(decided.items)}</div>`;
  main().querySelector(".inbox-count").textContent = heading();
  for (const card of main().querySelectorAll(".inbox-card")) {
    const buttons = [...card.querySelectorAll("button")];
    const decide = async (verb) => {
      const outcome = card.querySelector(".outcome");
      const progress = card.querySelector(".inbox-progress");
      const comment = card.querySelector("textarea").value.trim();
      const enabled = buttons.map((b) => b.disabled);
      buttons.forEach((b) => (b.disabled = true));
      outcome.textContent = "";
      progress.textContent = verb === "approve" ? "Approving and executing…" : "Rejecting…";
      try {
        const body = { comment: comment || null };
        if (verb === "approve") body.content_hash = hashes[card.dataset.action];
        const action = await api(`actions/${encodeURIComponent(card.dataset.action)}/${verb}`, { method: "POST", body });
        const told = inboxOutcome(action);
        // The card leaves the list: it shrinks to a one-line notice (its outcome element kept, with
        // the action's new state in data-state), and the decision joins the history below.
        const title = card.querySelector(".inbox-title").textContent;
        const about = document.createElement("span");
        about.className = "muted";
        about.innerHTML = ` ${esc(title)} (${esc(action.id)}) · <a href="#/audit">audit log</a>`;
        outcome.dataset.state = action.state;
        outcome.innerHTML = told.text;
        card.className = `action inbox-decided${told.ok ? "" : " inbox-failed"}`;
        card.dataset.state = action.state;
        card.replaceChildren(outcome, about);
        card.scrollIntoView({ block: "center" });
        main().querySelector(".inbox-count").textContent = heading();
        refreshInboxCount();
        const history = await api("actions?limit=100").catch(() => null);
        if (history) main().querySelector(".inbox-decisions").innerHTML = inboxDecisions(history.items);
      } catch (error) {
        buttons.forEach((b, i) => (b.disabled = enabled[i]));
        progress.textContent = "";
        outcome.innerHTML = `<span class="error">${inboxError(error, verb)}</span>`;
        outcome.querySelector(".inbox-reload")?.addEventListener("click", () => render());
      }
    };
    card.querySelector(".approve").addEventListener("click", () => decide("approve"));
    card.querySelector(".reject").addEventListener("click", () => decide("reject"));
  }
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
  [/^#?\/?(\?.*)?$/, (m) => pageOverview(new URLSearchParams((m[1] || "").slice(1))), "overview"],
  [/^#\/asset\/([^/]+)\/([^?]+)(\?.*)?$/, (m) => pageAsset(decodeURIComponent(m[1]), decodeURIComponent(m[2]), new URLSearchParams((m[3] || "").slice(1))), "overview"],
  [/^#\/inbox$/, () => pageInbox(), "inbox"],
  [/^#\/plan$/, () => pagePlan(), "plan"],
  [/^#\/inventory$/, () => pageInventory(), "inventory"],
  [/^#\/trace(\?.*)?$/, (m) => pageTrace(new URLSearchParams((m[1] || "").slice(1))), "trace"],
  [/^#\/audit$/, () => pageAudit(), "audit"],
  // field.js, process.js and quality.js (loaded before this file) hold these pages
  [/^#\/field(\?.*)?$/, (m) => pageField(new URLSearchParams((m[1] || "").slice(1))), "field"],
  [/^#\/process(\?.*)?$/, (m) => pageProcess(new URLSearchParams((m[1] || "").slice(1))), "process"],
  [/^#\/quality(\?.*)?$/, (m) => pageQuality(new URLSearchParams((m[1] || "").slice(1))), "quality"],
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
      if (error.status === 503) return retryLater(hash, error);
      main().innerHTML = `<p class="error">${esc(error.message)}</p>`;
      document.body.dataset.loaded = hash;
    }
    return;
  }
  main().innerHTML = '<p class="error">No such page.</p>';
}

// A page the server could not answer for now (its database restarting, too many requests at
// once) is asked for again after the seconds it names, as long as nobody moved on meanwhile.
function retryLater(hash, error) {
  const seconds = Math.min(Math.max(error.retryAfter ?? 5, 1), 60);
  // what went wrong, without the API's advice to clients (retrying is this page's job)
  const reason = String(error.message).split(/; (?:nothing|retry)/)[0];
  main().innerHTML = `<p class="error" role="status">Not available right now: ${esc(reason)}.</p>
    <p class="muted">Trying again in ${seconds} s.</p>`;
  document.body.dataset.loaded = hash;
  setTimeout(() => {
    if ((location.hash || "#/") === hash) render();
  }, seconds * 1000);
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
  // On a phone the navigation folds behind a menu button; choosing a page folds it again.
  const menu = $("#menu-button");
  menu?.addEventListener("click", () => {
    const open = document.body.classList.toggle("menu-open");
    menu.setAttribute("aria-expanded", String(open));
  });
  window.addEventListener("hashchange", () => {
    document.body.classList.remove("menu-open");
    menu?.setAttribute("aria-expanded", "false");
  });
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
