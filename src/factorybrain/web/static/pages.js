// Pages of the dashboard: the plant overview, a machine, the plan, inventory and traceability.
// Loaded after charts.js and before app.js, whose helpers (api, esc, fmt, when, table, assetLink,
// hasRoute, main) they use when a page renders; every number comes from /api/v1.
"use strict";

// -- small helpers -----------------------------------------------------------------------------
const percent = (value, digits = 1) => (value == null ? "–" : `${fmt(100 * value, digits)} %`);
const hoursText = (hours) => (hours == null ? "–" : hours >= 48 ? `${fmt(hours / 24, 1)} d` : `${fmt(hours, 0)} h`);
const plural = (n, word, many = `${word}s`) => `${fmt(n, 0)} ${n === 1 ? word : many}`;
const dayText = (iso) => {
  const t = utcMs(iso);
  if (!Number.isFinite(t)) return "";
  const d = new Date(t);
  return `${d.getUTCDate()} ${["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getUTCMonth()]} ${d.getUTCFullYear()}`;
};

// A change against the previous period: "▲ 4.6 pts" in green when it is good, red when bad.
function trend(now, before, { unit = "", scale = 1, digits = 1, goodWhenUp = true } = {}) {
  if (now == null || before == null) return '<span class="muted">no previous period</span>';
  const delta = (now - before) * scale;
  if (Math.abs(delta) < 10 ** -digits / 2) return '<span class="muted">= previous period</span>';
  const good = delta > 0 === goodWhenUp;
  return `<span class="${good ? "trend-good" : "trend-bad"}">${delta > 0 ? "▲" : "▼"} ${fmt(Math.abs(delta), digits)}${unit}</span> <span class="muted">vs previous</span>`;
}

function kpiCard(value, label, detail = "", href = "") {
  const body = `<div class="n">${value}</div><div class="l">${label}</div>${detail ? `<div class="d">${detail}</div>` : ""}`;
  return href ? `<a class="card kpi link" href="${esc(href)}">${body}</a>` : `<div class="card kpi">${body}</div>`;
}

// Value-chain stages: the agent behind a finding kind, where a person acts on it.
const STAGES = [
  { agent: "maintenance", label: "Maintenance", href: "#/?stage=maintenance", page: "machines at risk below" },
  { agent: "quality", label: "Quality", href: "#/process", page: "Process page" },
  { agent: "planning", label: "Planning", href: "#/plan", page: "Plan page" },
  { agent: "logistics", label: "Logistics", href: "#/inventory", page: "Inventory page" },
  { agent: "service", label: "Service", href: "#/field", page: "Field page" },
  { agent: "design", label: "Design", href: "#/process", page: "Process page" },
];
// Findings that say data is missing, not that something is at risk.
const isDataNote = (kind) => /data_gap|stock_unknown/.test(kind || "");

function lateDetail(late) {
  if (!late.length) return '<span class="muted">none in the plan</span>';
  const overdue = late.filter((o) => o.overdue).length;
  const hours = late.reduce((sum, o) => sum + (o.late_hours || 0), 0);
  return `${overdue ? `<span class="trend-bad">${fmt(overdue, 0)} already past due</span>; ` : ""}<span class="muted">the plan finishes ${overdue ? "the rest" : plural(late.length, "order")} ${fmt(hours, 0)} h late in all</span>`;
}

// -- overview ------------------------------------------------------------------------------------
async function pageOverview(query = new URLSearchParams()) {
  const days = Math.min(366, Math.max(1, Number(query.get("days")) || 7));
  const [status, lines, machines, warnings, kpis] = await Promise.all([
    api("status"),
    api("assets?level=line&limit=500"),
    api("assets?level=equipment&limit=1000"),
    api("findings?agent=maintenance&status=open&limit=500"),
    hasRoute("kpis") ? api(`kpis?days=${days}`) : null,
  ]);
  const now = kpis?.current, before = kpis?.previous;
  const period = now ? `${dayText(now.start)} – ${dayText(new Date(utcMs(now.end) - 1).toISOString())}` : "";
  const late = kpis?.late_orders || [];
  const cards = kpis
    ? [
        kpiCard(percent(now?.oee), `OEE, last ${plural(days, "day")}`, `${trend(now?.oee, before?.oee, { unit: " pts", scale: 100 })}<br><span class="muted">A ${percent(now?.availability, 0)} · P ${percent(now?.performance, 0)} · Q ${percent(now?.quality, 0)}</span>`),
        kpiCard(now?.good_units == null ? "–" : fmt(now.good_units, 0), "good units made", trend(now?.good_units, before?.good_units, { digits: 0 })),
        kpiCard(now?.down_hours == null ? "–" : `${fmt(now.down_hours, 0)} h`, "machine downtime in shift", trend(now?.down_hours, before?.down_hours, { unit: " h", digits: 0, goodWhenUp: false })),
        kpiCard(fmt(late.length, 0), "late orders", lateDetail(late), "#/plan"),
        kpiCard(fmt(status.actions_waiting_for_approval, 0), "actions waiting for approval", "", "#/inbox"),
      ].join("")
    : [kpiCard(fmt(status.actions_waiting_for_approval, 0), "actions waiting for approval", "", "#/inbox")].join("");

  // Open findings by the stage of the value chain they concern.
  const byAgent = {};
  for (const row of status.open_findings || []) {
    const agent = String(row.kind || "").split(".")[0];
    const entry = (byAgent[agent] ||= { risks: 0, serious: 0, notes: 0, kinds: {} });
    if (isDataNote(row.kind)) entry.notes += row.n;
    else {
      entry.risks += row.n;
      if (["high", "critical"].includes(row.severity)) entry.serious += row.n;
      const kind = String(row.kind).split(".").slice(1).join(".").replace(/_/g, " ");
      entry.kinds[kind] = (entry.kinds[kind] || 0) + row.n;
    }
  }
  const stages = STAGES.filter((s) => byAgent[s.agent] || s.agent !== "design")
    .map((stage) => {
      const entry = byAgent[stage.agent] || { risks: 0, serious: 0, notes: 0, kinds: {} };
      const kinds = Object.entries(entry.kinds).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${fmt(n, 0)} ${esc(k)}`).join(", ");
      const detail = `${entry.serious ? `<span class="trend-bad">${fmt(entry.serious, 0)} high or critical</span><br>` : ""}${kinds ? `<span class="muted">${kinds}</span>` : '<span class="muted">nothing open</span>'}${entry.notes ? `<br><span class="muted">+ ${plural(entry.notes, "data gap")}</span>` : ""}`;
      return kpiCard(fmt(entry.risks, 0), `${esc(stage.label)} <span class="muted">→ ${esc(stage.page)}</span>`, detail, stage.href);
    })
    .join("");

  // Machines at risk: each machine once, its most urgent open warning first.
  const names = Object.fromEntries(machines.items.map((m) => [m.external_id, m]));
  const atRisk = {};
  for (const f of warnings.items) {
    if (f.subject?.type !== "asset") continue;
    const id = f.subject.external_id;
    const entry = (atRisk[id] ||= { id, space: f.subject.space || names[id]?.space || "mes", findings: [] });
    entry.findings.push(f);
  }
  const rank = { critical: 0, high: 1, medium: 2, low: 3 };
  const riskRows = Object.values(atRisk)
    .map((entry) => {
      const rul = entry.findings.find((f) => f.kind === "maintenance.rul_low");
      const worst = entry.findings.reduce((a, b) => ((rank[a.severity] ?? 9) <= (rank[b.severity] ?? 9) ? a : b));
      return { ...entry, rul, worst, latest: entry.findings.map((f) => f.created_at).sort().at(-1) };
    })
    .sort((a, b) => (rank[a.worst.severity] ?? 9) - (rank[b.worst.severity] ?? 9) || (a.rul?.evidence?.numbers?.rul_hours ?? 1e9) - (b.rul?.evidence?.numbers?.rul_hours ?? 1e9));
  const riskTable = table(
    [
      ["id", "machine", (r) => assetLink(r.space, r.id, `${r.id} · ${names[r.id]?.name || ""}`)],
      ["worst", "most urgent", (r) => `<span class="sev-${esc(r.worst.severity)}">${esc(r.worst.severity)}</span> ${esc(r.worst.title || r.worst.kind)}`],
      ["rul", "remaining life (90 % interval)", (r) => (r.rul ? `${hoursText(r.rul.evidence.numbers.rul_hours)} <span class="muted">(${hoursText(r.rul.evidence.numbers.rul_lower_hours)} – ${hoursText(r.rul.evidence.numbers.rul_upper_hours)})</span>` : '<span class="muted">–</span>')],
      ["n", "open warnings", (r) => fmt(r.findings.length, 0)],
      ["latest", "latest (data time)", (r) => when(r.latest)],
    ],
    riskRows,
  );

  const lineRows = (kpis?.lines || []).map((l) => ({ ...l }));
  const linesTable = lineRows.length
    ? `<h2>OEE by line <span class="muted">${esc(period)} UTC</span></h2>${table(
        [
          ["line", "line"],
          ["oee", "OEE", (r) => `<strong>${percent(r.oee)}</strong>`],
          ["availability", "availability", (r) => percent(r.availability)],
          ["performance", "performance", (r) => percent(r.performance)],
          ["quality", "quality", (r) => percent(r.quality)],
          ["good_units", "good units", (r) => fmt(r.good_units, 0)],
          ["down_hours", "downtime", (r) => `${fmt(r.down_hours, 0)} h`],
        ],
        lineRows,
      )}`
    : "";

  const byId = (a, b) => String(a.external_id).localeCompare(String(b.external_id));
  const bySpace = {};
  for (const line of [...lines.items].sort(byId)) (bySpace[line.space] ||= []).push(line);
  const tree = Object.entries(bySpace)
    .map(([space, items]) => {
      const rows = items
        .map((line) => {
          const children = machines.items.filter((m) => m.parent === line.external_id && m.space === space).sort(byId);
          const list = children.map((m) => `<li>${assetLink(m.space, m.external_id, `${m.external_id} · ${m.name || ""}`)}${atRisk[m.external_id] ? ' <span class="sev-high">at risk</span>' : ""}</li>`).join("");
          return `<li>${esc(line.external_id)} <span class="muted">${esc(line.name || "")}</span><ul>${list}</ul></li>`;
        })
        .join("");
      return `<li><strong>${esc(space)}</strong><ul>${rows}</ul></li>`;
    })
    .join("");
  const picker = kpis
    ? `<div class="range" role="group" aria-label="period">${[1, 7, 30].map((d) => `<a href="#/?days=${d}" class="${d === days ? "chosen" : ""}">${d === 1 ? "24 h" : `${d} days`}</a>`).join("")}</div>`
    : "";
  main().innerHTML = `<h1>Plant <span class="muted">${kpis?.data_until ? `data until ${when(kpis.data_until)} UTC` : ""}</span></h1>
    ${picker}${period ? `<p class="muted">Period ${esc(period)} (UTC), compared with the ${plural(days, "day")} before.${kpis?.note ? ` ${esc(kpis.note)}` : ""}</p>` : ""}
    <div class="cards kpis">${cards}</div>
    <h2>Open risks by stage</h2><div class="cards stages">${stages}</div>
    <h2 id="machines-at-risk">Machines at risk</h2>${riskTable}
    ${linesTable}
    <h2>Hierarchy</h2><div class="tree"><ul>${tree || '<li class="muted">No lines loaded.</li>'}</ul></div>`;
  if (query.get("stage") === "maintenance") document.getElementById("machines-at-risk")?.scrollIntoView();
}

// -- machine -------------------------------------------------------------------------------------
// Time ranges of the sensor charts: span and bucket width (about 700 buckets each).
const RANGES = [
  { key: "24h", label: "24 h", ms: DAY_MS, every: "2m" },
  { key: "7d", label: "7 days", ms: 7 * DAY_MS, every: "15m" },
  { key: "30d", label: "30 days", ms: 30 * DAY_MS, every: "1h" },
  { key: "all", label: "all", ms: null, every: "6h" },
];
const MAINTENANCE_KINDS = { "maintenance.anomaly": "anomaly", "maintenance.rul_low": "remaining life low", "maintenance.sensor_trend": "sensor trend" };

async function pageAsset(space, id, query = new URLSearchParams()) {
  const range = RANGES.find((r) => r.key === query.get("range")) || RANGES[2];
  const asset = await api(`assets/${encodeURIComponent(id)}?space=${encodeURIComponent(space)}`);
  const [series, findings, links] = await Promise.all([
    api(`time-series?asset=${encodeURIComponent(id)}&limit=1000`),
    api(`findings?subject=${encodeURIComponent(id)}&limit=500`),
    hasRoute("links") ? api(`links?type=asset&space=${encodeURIComponent(space)}&external_id=${encodeURIComponent(id)}`) : [],
  ]);
  // The machine's maintenance orders under every name it has: its own id and the ids other
  // silos (an ERP) give it by approved links.
  const names = [id, ...links.filter((l) => l.kind === "entity").map((l) => l.external_id)];
  const orderPages = await Promise.all([...new Set(names)].map((name) => api(`maintenance-orders?asset=${encodeURIComponent(name)}&limit=1000`)));
  const orders = orderPages
    .flatMap((p) => p.items)
    .sort((a, b) => utcMs(b.actual_start || b.planned_start) - utcMs(a.actual_start || a.planned_start) || 0);

  // Where the sensor data ends: the charts' window ends there, not at the clock's now.
  const probe = series.items.length ? await api(`time-series/${encodeURIComponent(series.items[0].external_id)}/datapoints?every=1d&limit=1`) : null;
  const end = probe ? utcMs(probe.end) : Date.now();
  const start = range.ms ? end - range.ms : utcMs("1990-01-01T00:00:00");
  const window = `start=${encodeURIComponent(new Date(start).toISOString().slice(0, 19))}&end=${encodeURIComponent(new Date(end).toISOString().slice(0, 19))}`;
  const data = await Promise.all(
    series.items.map((s) => api(`time-series/${encodeURIComponent(s.external_id)}/datapoints?every=${range.every}&limit=20000&${window}`)),
  );

  const health = findings.items.filter((f) => f.agent === "maintenance" || f.kind?.startsWith("maintenance."));
  const marks = [
    ...health
      .filter((f) => f.kind !== "maintenance.sensor_trend")
      .map((f) => ({ start: utcMs(f.created_at), color: f.kind === "maintenance.rul_low" ? "#8e1b10" : "#c0392b", label: `${MAINTENANCE_KINDS[f.kind] || f.kind} ${when(f.created_at)}` })),
    ...orders
      .filter((o) => o.actual_start || o.planned_start)
      .map((o) => {
        const from = utcMs(o.actual_start || o.planned_start);
        const to = utcMs(o.actual_end || o.planned_end);
        return { start: from, end: Number.isFinite(to) && to > from ? to : from + HOUR_MS, fill: o.status === "planned" ? "rgba(214,137,16,.35)" : "rgba(30,132,73,.22)", label: o.external_id };
      }),
  ];
  const inWindow = marks.filter((m) => (m.end ?? m.start) >= start && m.start <= end);
  const open = findings.items.filter((f) => f.status === "open");
  const rulHistory = health.filter((f) => f.kind === "maintenance.rul_low" && f.evidence?.numbers?.rul_hours != null).sort((a, b) => utcMs(a.created_at) - utcMs(b.created_at));
  const rul = rulHistory.filter((f) => f.status === "open").at(-1);
  const numbers = rul?.evidence?.numbers || {};
  const lastOrder = orders.find((o) => o.actual_start || o.actual_end);
  const line = asset.parent ? esc(asset.parent) : "";
  const aka = links.filter((l) => l.kind === "entity" || l.kind === "tag_group").map((l) => `<span class="chip" title="${esc(l.kind)} link, ${esc(l.method || "")}">${esc(l.space)} ${esc(l.external_id)}</span>`).join(" ");

  const rangeLinks = RANGES.map((r) => `<a href="#/asset/${encodeURIComponent(space)}/${encodeURIComponent(id)}?range=${r.key}" class="${r.key === range.key ? "chosen" : ""}">${esc(r.label)}</a>`).join("");
  const chartBoxes = series.items
    .map((s, i) => `<div class="chart sensor"><div class="title"><strong>${esc(s.name || s.external_id)}</strong>${s.unit ? ` <span class="muted">[${esc(s.unit)}]</span>` : ""}${s.name && s.name !== s.external_id ? ` <span class="muted">${esc(s.external_id)}</span>` : ""}<span class="readout"></span></div><div class="plot" id="sensor-${i}"></div></div>`)
    .join("");
  main().innerHTML = `<h1>${esc(asset.name || asset.external_id)} <span class="muted">${esc(space)} / ${esc(asset.external_id)}${line ? ` · line ${line}` : ""}</span></h1>
    ${aka ? `<p class="aka">Also known as ${aka}</p>` : ""}
    <div class="cards">
      <div class="card"><div class="n text">${esc(asset.asset_class || asset.level || "machine")}</div><div class="l">${esc(asset.manufacturer || "")} ${esc(asset.model_number || "")}</div></div>
      ${rul ? `<div class="card"><div class="n sev-${esc(rul.severity)}">${hoursText(numbers.rul_hours)}</div><div class="l">remaining useful life, 90 % interval ${hoursText(numbers.rul_lower_hours)} – ${hoursText(numbers.rul_upper_hours)} (as of ${when(rul.created_at)} UTC)</div></div>` : '<div class="card"><div class="n">–</div><div class="l">no remaining-life warning open</div></div>'}
      <div class="card"><div class="n">${fmt(open.length, 0)}</div><div class="l">open findings</div></div>
      <div class="card"><div class="n">${lastOrder ? dayText(lastOrder.actual_end || lastOrder.actual_start) : "–"}</div><div class="l">last maintenance${lastOrder ? ` (${esc(lastOrder.order_type || "")})` : ""}</div></div>
    </div>
    <h2>Sensors <span class="muted">${esc(plural(series.items.length, "series", "series"))}</span></h2>
    <div class="range" role="group" aria-label="time range">${rangeLinks}<span class="muted hint">Drag across a chart to zoom in, double-click to zoom out.</span></div>
    <p class="legend"><span><span class="key anomaly"></span> anomaly</span> <span><span class="key rul"></span> remaining life low</span> <span><span class="key done"></span> maintenance done</span> <span><span class="key planned"></span> maintenance planned</span> <span class="muted">${plural(inWindow.length, "mark")} in this window, ${plural(marks.length - inWindow.length, "mark")} outside it</span></p>
    <div class="sensor-grid">${chartBoxes || `<p class="muted">No time series are linked to this machine yet: approve its historian tags' matches (<code>factorybrain match</code>, then review) to see its sensors here.</p>`}</div>
    ${rulHistory.length === 1 ? `<h2>Remaining useful life over time</h2><p>One estimate so far: ${hoursText(rulHistory[0].evidence.numbers.rul_hours)} <span class="muted">(90 % interval ${hoursText(rulHistory[0].evidence.numbers.rul_lower_hours)} – ${hoursText(rulHistory[0].evidence.numbers.rul_upper_hours)})</span> on ${when(rulHistory[0].created_at)} UTC.</p>` : ""}
    ${rulHistory.length > 1 ? `<h2>Remaining useful life over time</h2><p class="muted">Each point is the maintenance agent's estimate when it warned, with its 90 % interval (shaded red); maintenance orders are shaded green (done) or amber (planned).</p><div class="chart"><div class="title"><strong>remaining useful life</strong> <span class="muted">[h]</span><span class="readout"></span></div><div class="plot" id="rul-chart"></div></div>` : ""}
    <h2>Health history</h2>${table(
      [
        ["created_at", "when (data time)", (r) => when(r.created_at)],
        ["kind", "what", (r) => esc(MAINTENANCE_KINDS[r.kind] || r.kind)],
        ["severity", "severity", (r) => `<span class="sev-${esc(r.severity)}">${esc(r.severity)}</span>`],
        ["status", "status"],
        ["rul", "remaining life (interval)", (r) => (r.evidence?.numbers?.rul_hours != null ? `${hoursText(r.evidence.numbers.rul_hours)} <span class="muted">(${hoursText(r.evidence.numbers.rul_lower_hours)} – ${hoursText(r.evidence.numbers.rul_upper_hours)})</span>` : "")],
        ["title", "finding", (r) => esc(r.title || r.evidence?.text || "")],
      ],
      [...findings.items].sort((a, b) => utcMs(b.created_at) - utcMs(a.created_at)),
    )}
    <h2>Maintenance history</h2>${table(
      [
        ["external_id", "order", (r) => `${esc(r.external_id)} <span class="muted">${esc(r.space)}</span>`],
        ["order_type", "type"],
        ["status", "status"],
        ["failure_mode", "failure mode"],
        ["start", "start", (r) => when(r.actual_start || r.planned_start)],
        ["end", "end", (r) => when(r.actual_end || r.planned_end)],
        ["notes", "notes", (r) => `<span class="note">${esc(r.notes || "")}</span>`],
      ],
      orders,
    )}`;

  series.items.forEach((s, i) => {
    const box = document.getElementById(`sensor-${i}`);
    const buckets = (data[i].buckets || []).filter((b) => b.mean != null);
    if (!buckets.length) {
      box.innerHTML = '<p class="muted">No data in this window.</p>';
      return;
    }
    const chart = timeChart(box, {
      x: buckets.map((b) => utcMs(b.bucket)),
      lines: [{ label: "mean", values: buckets.map((b) => b.mean), band: [buckets.map((b) => b.min), buckets.map((b) => b.max)], step: s.is_step }],
      marks,
      unit: s.unit || "",
      height: 170,
      sync: "sensors",
    });
    box.closest(".chart").dataset.points = String(chart.data[0].length);
  });
  if (rulHistory.length > 1) {
    const xs = rulHistory.map((f) => utcMs(f.created_at));
    const n = (f, key) => f.evidence.numbers[key] ?? null;
    timeChart(document.getElementById("rul-chart"), {
      x: xs,
      lines: [{ label: "remaining life", values: rulHistory.map((f) => n(f, "rul_hours")), band: [rulHistory.map((f) => n(f, "rul_lower_hours")), rulHistory.map((f) => n(f, "rul_upper_hours"))], color: "#8e1b10", bandFill: "rgba(192,57,43,.14)", points: true }],
      marks: marks.filter((m) => m.end != null),
      // from the first estimate to the last, a day either side
      xRange: [Math.min(...xs) - DAY_MS, Math.max(...xs) + DAY_MS],
      unit: "h",
      yLabel: "hours left",
      height: 190,
    });
  }
}

// -- plan ----------------------------------------------------------------------------------------
async function pagePlan() {
  if (!hasRoute("plan")) return pagePlanFromOrders();
  const [plan, machines, shifts] = await Promise.all([
    api("plan"),
    api("assets?level=equipment&limit=1000"),
    hasRoute("shifts") ? api("shifts") : [],
  ]);
  const orderOf = Object.fromEntries(plan.orders.map((o) => [o.external_id, o]));
  const machineOf = Object.fromEntries(machines.items.map((m) => [m.external_id, m]));
  const lateOrders = plan.orders.filter((o) => (o.late_hours || 0) > 0);
  const ops = plan.operations.filter((o) => o.start && o.end);
  // The axis spans the plan's operations: a window far outside them is listed, not drawn.
  let t0 = Math.min(...ops.map((o) => utcMs(o.start)));
  let t1 = Math.max(...ops.map((o) => utcMs(o.end)));
  if (!ops.length) {
    const windows = plan.maintenance.flatMap((m) => [utcMs(m.planned_start), utcMs(m.planned_end)]).filter(Number.isFinite);
    if (windows.length) [t0, t1] = [Math.min(...windows), Math.max(...windows)];
  }
  const laneIds = [...new Set([...ops.map((o) => o.machine), ...plan.maintenance.map((m) => m.asset)])];
  const lineOf = (idOf) => machineOf[idOf]?.parent || "";
  laneIds.sort((a, b) => lineOf(a).localeCompare(lineOf(b)) || String(a).localeCompare(String(b)));
  const lanes = laneIds.map((lane) => ({ id: lane, label: `${lane}`, title: `${machineOf[lane]?.name || lane}${lineOf(lane) ? `, ${lineOf(lane)}` : ""}`, href: machineOf[lane] ? `#/asset/${encodeURIComponent(machineOf[lane].space)}/${encodeURIComponent(lane)}` : "" }));
  const bars = [
    ...ops.map((o) => {
      const order = orderOf[o.work_order] || {};
      const late = (order.late_hours || 0) > 0;
      return {
        lane: o.machine,
        start: utcMs(o.start),
        end: utcMs(o.end),
        kind: late ? "late" : "order",
        label: o.work_order,
        title: `${o.work_order} ${order.product || ""} (op ${o.sequence}) ${when(o.start)} – ${when(o.end)} UTC${order.due_at ? `, due ${when(order.due_at)}` : ""}${late ? `, ${fmt(order.late_hours, 1)} h late` : ""}`,
      };
    }),
    ...plan.maintenance.map((m) => ({ lane: m.asset, start: utcMs(m.planned_start), end: utcMs(m.planned_end), kind: "maintenance", label: "maint.", title: `${m.external_id}: ${m.order_type || "maintenance"} of ${m.asset} ${when(m.planned_start)} – ${when(m.planned_end)} UTC` })),
  ];
  const shiftBands = [];
  for (const lane of laneIds) {
    const line = lineOf(lane);
    for (const s of shifts.filter((x) => x.line === line)) shiftBands.push({ lane, start: utcMs(s.start), end: utcMs(s.end), label: `${s.name} shift ${when(s.start)} – ${when(s.end)}${s.projected ? " (projected)" : ""}`, name: s.name });
  }
  const outside = plan.maintenance.filter((m) => utcMs(m.planned_end) < t0 || utcMs(m.planned_start) > t1);
  // As wide as the page's content box (a phone scrolls the chart inside its box instead).
  const padding = parseFloat(getComputedStyle(main()).paddingLeft) || 0;
  const width = Math.max(960, Math.floor(main().getBoundingClientRect().width - 2 * padding - 4));
  const chart = lanes.length && Number.isFinite(t0) ? ganttChart({ lanes, bars, t0, t1, shifts: shiftBands, width }) : '<p class="muted">No plan is stored yet: run the planning agent (<code>factorybrain plan</code>).</p>';
  const horizon = Number.isFinite(t0) ? `${when(new Date(t0).toISOString())} – ${when(new Date(t1).toISOString())} UTC` : "";
  main().innerHTML = `<h1>Plan <span class="muted">${esc(horizon)}</span></h1>
    <div class="cards">
      ${kpiCard(fmt(plan.orders.length, 0), "orders in the plan", `${fmt(plan.orders.filter((o) => o.status === "in_progress").length, 0)} in progress, ${fmt(plan.orders.filter((o) => o.status !== "in_progress").length, 0)} released`)}
      ${kpiCard(`<span class="${lateOrders.length ? "trend-bad" : ""}">${fmt(lateOrders.length, 0)}</span>`, "late orders", lateOrders.length ? `${fmt(lateOrders.reduce((s, o) => s + o.late_hours, 0), 0)} h late in all` : "every order on time")}
      ${kpiCard(fmt(plan.maintenance.length, 0), "maintenance windows", outside.length ? `${fmt(outside.length, 0)} outside the plan's horizon` : "")}
    </div>
    <p class="legend"><span><span class="key order"></span> operation on time</span> <span><span class="key late"></span> operation of a late order</span> <span><span class="key maintenance"></span> maintenance window</span> ${shiftBands.length ? '<span><span class="key shift"></span> shift (off-shift time is white)</span>' : '<span class="muted">no shifts recorded</span>'}</p>
    <div class="gantt-box">${chart}</div>
    <h2>Late orders</h2>${table(
      [
        ["external_id", "order"],
        ["product", "product"],
        ["line", "line"],
        ["status", "status"],
        ["due_at", "due", (r) => when(r.due_at)],
        ["planned_end", "planned end", (r) => when(r.planned_end)],
        ["late_hours", "late by", (r) => `<span class="due">${hoursText(r.late_hours)}</span>`],
      ],
      [...lateOrders].sort((a, b) => b.late_hours - a.late_hours),
    )}
    <h2>Planned maintenance</h2>${table(
      [
        ["external_id", "order"],
        ["asset", "machine", (r) => (machineOf[r.asset] ? assetLink(machineOf[r.asset].space, r.asset) : esc(r.asset))],
        ["order_type", "type"],
        ["planned_start", "start", (r) => `${when(r.planned_start)}${outside.includes(r) ? `<br><span class="due">${utcMs(r.planned_end) < t0 ? "before" : "after"} the plan's horizon</span>` : ""}`],
        ["planned_end", "end", (r) => when(r.planned_end)],
        ["notes", "notes", (r) => `<span class="note">${esc(r.notes || "")}</span>`],
      ],
      plan.maintenance,
    )}
    <details><summary>All ${plural(plan.orders.length, "order")} in the plan</summary>${table(
      [
        ["external_id", "order"],
        ["product", "product"],
        ["line", "line"],
        ["status", "status"],
        ["quantity", "qty", (r) => fmt(r.quantity, 0)],
        ["due_at", "due", (r) => when(r.due_at)],
        ["planned_start", "planned start", (r) => when(r.planned_start)],
        ["planned_end", "planned end", (r) => ((r.late_hours || 0) > 0 ? `<span class="due">${when(r.planned_end)}</span>` : when(r.planned_end))],
      ],
      plan.orders,
    )}</details>`;
}

// Without the planning layer: the open orders' own planned dates, by line.
async function pagePlanFromOrders() {
  const [released, running] = await Promise.all([api("work-orders?status=released&limit=1000"), api("work-orders?status=in_progress&limit=1000")]);
  const orders = [...running.items, ...released.items].filter((o) => o.planned_start && o.planned_end);
  const lanes = [...new Set(orders.map((o) => o.line || "unassigned"))].sort().map((id) => ({ id, label: id }));
  const t0 = Math.min(...orders.map((o) => utcMs(o.planned_start)));
  const t1 = Math.max(...orders.map((o) => utcMs(o.planned_end)));
  const bars = orders.map((o) => {
    const late = o.due_at && utcMs(o.planned_end) > utcMs(o.due_at);
    return { lane: o.line || "unassigned", start: utcMs(o.planned_start), end: utcMs(o.planned_end), kind: late ? "late" : "order", label: o.external_id, title: `${o.external_id} ${o.product || ""} due ${when(o.due_at)}` };
  });
  main().innerHTML = `<h1>Plan</h1><p class="muted">The open orders' own planned dates by line (the planning agent is not installed).</p>
    <div class="gantt-box">${orders.length ? ganttChart({ lanes, bars, t0, t1, width: 1100 }) : '<p class="muted">No open order has planned dates.</p>'}</div>
    <h2>Open work orders</h2>${table([["external_id", "order"], ["product", "product"], ["line", "line"], ["status", "status"], ["due_at", "due", (r) => when(r.due_at)], ["planned_end", "planned end", (r) => when(r.planned_end)]], orders)}`;
}

// -- inventory -----------------------------------------------------------------------------------
// SAP and ERP units as people read them.
const UNITS = { ST: "pcs", PC: "pcs", EA: "pcs", PCE: "pcs", KG: "kg", G: "g", M: "m", L: "l", M2: "m²", M3: "m³", TO: "t" };
const unitText = (code) => (code ? UNITS[String(code).toUpperCase()] || String(code).toLowerCase() : "");

async function pageInventory() {
  const [levels, plan, materials, products] = await Promise.all([
    api("stock-levels?limit=1000"),
    hasRoute("forecasts") ? api("forecasts?limit=1000") : null,
    api("materials?limit=1000"),
    api("products?limit=1000"),
  ]);
  const unitOf = {};
  for (const row of [...materials.items, ...products.items]) unitOf[row.external_id] = row.unit_of_measure;
  const latest = {};
  for (const row of levels.items) {
    const key = `${row.material}@${row.location}`;
    if (!latest[key] || utcMs(row.as_of) > utcMs(latest[key].as_of)) latest[key] = row;
  }
  const counts = Object.values(latest).sort((a, b) => String(a.material).localeCompare(String(b.material)) || String(a.location).localeCompare(String(b.location)));
  const countedAt = {};
  for (const row of counts) countedAt[row.material] = Math.max(countedAt[row.material] || 0, utcMs(row.as_of));
  if (!plan) {
    main().innerHTML = `<h1>Inventory</h1><h2>Stock counts</h2>${table([["material", "material"], ["location", "location"], ["quantity", "counted", (r) => `${fmt(r.quantity, 1)} ${esc(unitText(unitOf[r.material]))}`], ["as_of", "when", (r) => when(r.as_of)]], counts)}`;
    return;
  }
  const weeks = (r, n) => (r.forecast || []).slice(0, n).reduce((sum, week) => sum + (week.mean || 0), 0);
  const unit = (r) => esc(unitText(unitOf[r.item]));
  const position = (r) => (r.on_hand ?? 0) + (r.on_order ?? 0);
  const due = (r) => r.reorder_point != null && r.on_hand != null && position(r) <= r.reorder_point;
  const dailyDemand = (r) => weeks(r, 4) / 28;
  const cover = (r) => (dailyDemand(r) > 0 && r.on_hand != null ? r.on_hand / dailyDemand(r) : null);
  // Why: the position against the reorder point, and what the reorder point is made of.
  const why = (r) => {
    if (r.on_hand == null) return '<span class="muted">stock unknown: no count recorded</span>';
    const safety = r.reorder_point != null ? r.reorder_point - (r.lead_time_demand || 0) - (r.health_demand || 0) : null;
    const parts = [`demand over the ${fmt(r.lead_time_days, 0)}-day lead time ${fmt(r.lead_time_demand, 0)}`];
    if (r.health_demand) parts.push(`spares for warned machines ${fmt(r.health_demand, 1)}`);
    if (safety != null && safety > 0.5) parts.push(`safety stock ${fmt(safety, 0)}`);
    const compare = due(r) ? "≤" : ">";
    return `on hand + on order ${fmt(position(r), 0)} ${compare} reorder point ${fmt(r.reorder_point, 0)} <span class="muted">(${parts.join(" + ")})</span>`;
  };
  const orderQty = (r) => Math.max(0, (r.order_up_to ?? r.reorder_point ?? 0) - position(r));
  const bought = plan.items.filter((r) => r.item_type !== "product");
  const made = plan.items.filter((r) => r.item_type === "product");
  const toOrder = bought.filter(due).sort((a, b) => (cover(a) ?? 1e9) - (cover(b) ?? 1e9));
  const itemCell = (r) => `${esc(r.name || r.item)}<br><span class="muted">${esc(r.item)} · ${esc(String(r.item_type || "").replace(/_/g, " "))}</span>`;
  const onHandCell = (r) => (r.on_hand == null ? '<span class="muted">unknown</span>' : `${fmt(r.on_hand, 0)} ${unit(r)}${countedAt[r.item] ? `<br><span class="muted">counted ${when(new Date(countedAt[r.item]).toISOString())}</span>` : ""}`);
  main().innerHTML = `<h1>Inventory <span class="muted">planned ${when(plan.as_of)} UTC</span></h1>
    <p class="muted">On hand is one figure per item: its latest stock count (all locations added up) plus the receipts and issues booked since that count, as the logistics agent plans with it. The reorder point covers the demand forecast over the supplier's lead time plus a safety stock for the target fill rate.</p>
    <div class="cards">
      ${kpiCard(`<span class="${toOrder.length ? "trend-bad" : ""}">${fmt(toOrder.length, 0)}</span>`, "purchased items to order now", `of ${plural(bought.length, "purchased item")}`)}
      ${kpiCard(fmt(made.filter(due).length, 0), "products below their reorder point", "made in the plant: the plan's work orders refill them")}
    </div>
    <h2>Order now</h2>${table(
      [
        ["item", "item", itemCell],
        ["order", "order", (r) => `<strong>${fmt(orderQty(r), 0)} ${unit(r)}</strong><br><span class="muted">up to ${fmt(r.order_up_to, 0)}</span>`],
        ["why", "why", why],
        ["cover", "on hand lasts", (r) => (cover(r) == null ? "–" : `${fmt(cover(r), 0)} days`)],
      ],
      toOrder,
    )}
    <h2>Purchased materials and spare parts</h2>${table(
      [
        ["item", "item", itemCell],
        ["on_hand", "on hand", onHandCell],
        ["on_order", "on order", (r) => `${fmt(r.on_order, 0)} ${unit(r)}`],
        ["forecast", "demand, next 4 weeks", (r) => `${fmt(weeks(r, 4), 0)} ${unit(r)}`],
        ["lead_time_days", "lead time", (r) => `${fmt(r.lead_time_days, 0)} d`],
        ["reorder_point", "reorder point", (r) => `${fmt(r.reorder_point, 0)} ${unit(r)}`],
        ["status", "status", (r) => (due(r) ? `<span class="due">order ${fmt(orderQty(r), 0)} ${unit(r)}</span>` : r.on_hand == null ? '<span class="muted">count it</span>' : `ok<br><span class="muted">lasts ${cover(r) == null ? "–" : `${fmt(cover(r), 0)} days`}</span>`)],
      ],
      [...bought].sort((a, b) => due(b) - due(a) || String(a.name || a.item).localeCompare(String(b.name || b.item))),
    )}
    <h2>Finished products</h2>${table(
      [
        ["item", "product", itemCell],
        ["on_hand", "on hand", onHandCell],
        ["forecast", "demand, next 4 weeks", (r) => `${fmt(weeks(r, 4), 0)} ${unit(r)}`],
        ["cover", "on hand lasts", (r) => (cover(r) == null ? "–" : `${fmt(cover(r), 1)} days`)],
        ["model", "forecast model", (r) => `${esc(r.model || "")}${r.fallback ? `<br><span class="muted">${esc(r.fallback)}</span>` : ""}`],
      ],
      made,
    )}
    <details><summary>Stock counts by location (what on hand starts from)</summary>${table(
      [["material", "material"], ["location", "location"], ["quantity", "counted", (r) => `${fmt(r.quantity, 1)} ${esc(unitText(unitOf[r.material]))}`], ["as_of", "when", (r) => when(r.as_of)]],
      counts,
    )}</details>`;
}

// -- traceability --------------------------------------------------------------------------------
const TRACE_KINDS = [
  ["claim", "warranty claim"],
  ["serial", "serial number"],
  ["lot", "material lot"],
];

const traceLink = (kind, id, label) => `<a href="#/trace?${kind}=${encodeURIComponent(id)}">${esc(label || id)}</a>`;

// A machine's states while it worked on an operation, as "running 5.5 h, down 23 min".
function statesText(minutes) {
  if (!minutes) return "";
  return Object.entries(minutes)
    .sort((a, b) => b[1] - a[1])
    .map(([state, m]) => `<span class="state-${esc(state)}">${esc(state)} ${m >= 90 ? `${fmt(m / 60, 1)} h` : `${fmt(m, 0)} min`}</span>`)
    .join(", ");
}

// Back from a claim or a serial: claim -> serial -> order -> (operations on machines, lots ->
// suppliers).
function backwardTree(found, machineSpace) {
  const t = found.tables || {};
  const claim = (t.claim || [])[0];
  const order = (t.work_order || [])[0];
  const serial = found.subject?.serial;
  const ops = (t.operations || []).map((o) => `<li><span class="node op">operation ${esc(o.sequence)}</span> ${esc(o.operation_type || "")} on ${assetLink(o.space || machineSpace, o.equipment)} <span class="muted">${when(o.start_time)} – ${when(o.end_time)}</span><br><span class="states">${statesText(o.state_minutes)}</span></li>`).join("");
  const lots = (t.lots || []).map((l) => `<li><span class="node lot">lot</span> ${traceLink("lot", l.lot, l.lot)} <span class="muted">material ${esc(l.material)}, ${fmt(l.quantity, 1)} used ${when(l.consumed_at)}</span><ul><li><span class="node supplier">supplier</span> ${esc(l.supplier_name || l.supplier || "unknown")} <span class="muted">${esc(l.supplier || "")}${l.supplier_lot ? `, its lot ${esc(l.supplier_lot)}` : ""}</span></li></ul></li>`).join("");
  const orderNode = order
    ? `<li><span class="node order">work order</span> ${esc(order.work_order)} <span class="muted">made ${when(order.produced_at)}</span><ul>${ops ? `<li>Machines<ul>${ops}</ul></li>` : ""}${lots ? `<li>Material lots<ul>${lots}</ul></li>` : '<li class="muted">no lot recorded as consumed</li>'}</ul></li>`
    : '<li class="muted">no work order found for this serial</li>';
  const serialNode = `<li><span class="node serial">serial</span> ${serial ? traceLink("serial", serial, serial) : '<span class="muted">unknown</span>'}${found.subject?.serial_as_typed && found.subject.serial_as_typed !== serial ? ` <span class="muted">(written ${esc(found.subject.serial_as_typed)} on the claim)</span>` : ""}<ul>${orderNode}</ul></li>`;
  const root = claim
    ? `<li><span class="node claim">claim</span> <strong>${esc(claim.claim)}</strong> <span class="muted">${esc(claim.product || "")}, ${esc(claim.customer || "")}, failed ${when(claim.failure_date)}</span><br>“${esc(claim.text || "")}”<ul>${serialNode}</ul></li>`
    : serialNode;
  return `<div class="tree genealogy"><ul>${root}</ul></div>`;
}

// Forward from a lot: the orders that used it, their serials, shipments and claims.
function forwardTree(found) {
  const t = found.tables || {};
  const lot = (t.lots || [])[0];
  const serials = t.serials || [];
  const byOrder = {};
  for (const s of serials) (byOrder[s.work_order] ||= []).push(s);
  const claimed = serials.filter((s) => s.claim);
  const orders = (t.work_orders || [])
    .map((o) => {
      const made = byOrder[o.work_order] || [];
      const claims = made.filter((s) => s.claim);
      return `<li><span class="node order">work order</span> ${esc(o.work_order)} <span class="muted">${fmt(o.quantity, 1)} used ${when(o.consumed_at)} · ${plural(made.length, "serial")}${claims.length ? "" : ", no claim"}</span>${claims.length ? `<ul>${claims.map((s) => `<li><span class="node serial">serial</span> ${traceLink("serial", s.serial)} → <span class="node claim">claim</span> ${traceLink("claim", s.claim)} <span class="muted">${esc(s.customer_name || s.customer || "")}</span></li>`).join("")}</ul>` : ""}</li>`;
    })
    .join("");
  const head = lot
    ? `<span class="node lot">lot</span> <strong>${esc(lot.lot)}</strong> <span class="muted">${esc(lot.material_name || lot.material || "")} from ${esc(lot.supplier_name || lot.supplier || "unknown supplier")}${lot.supplier_lot ? ` (its lot ${esc(lot.supplier_lot)})` : ""}, received ${when(lot.received_at)}</span>`
    : `<span class="node lot">lot</span> ${esc(found.subject?.lot || "")}`;
  return `<p>${plural(serials.length, "serial")} built with it in ${plural((t.work_orders || []).length, "work order")}; ${plural(claimed.length, "claim")}.</p><div class="tree genealogy"><ul><li>${head}<ul>${orders || '<li class="muted">no work order used it</li>'}</ul></li></ul></div>`;
}

async function pageTrace(query) {
  const kind = TRACE_KINDS.map(([k]) => k).find((k) => query.get(k)) || "claim";
  const id = query.get(kind) || "";
  const genealogy = hasRoute("genealogy");
  let body = "";
  if (id) {
    try {
      if (genealogy) {
        const path = { claim: "claim", serial: "backward", lot: "forward" }[kind];
        const found = await api(`genealogy/${path}/${encodeURIComponent(id)}`);
        const unresolved = (found.unresolved || []).length ? `<p class="muted">Not resolved: ${(found.unresolved || []).map((u) => esc(typeof u === "string" ? u : JSON.stringify(u))).join("; ")}</p>` : "";
        body = (kind === "lot" ? forwardTree(found) : backwardTree(found, "mes")) + unresolved;
      } else if (kind === "serial" && hasRoute("trace")) {
        const chain = await api(`trace/serial/${encodeURIComponent(id)}`);
        body = `<pre>${esc(JSON.stringify(chain, null, 2))}</pre>`;
      } else {
        body = '<p class="muted">Tracing needs the genealogy routes of the context layer.</p>';
      }
    } catch (error) {
      if (error.status !== 404) throw error;
      body = `<p class="muted">No ${esc(TRACE_KINDS.find(([k]) => k === kind)[1])} ${esc(id)} is known: ${esc(error.message)}</p>`;
    }
  } else {
    const claims = await api("warranty-claims?limit=50");
    body = `<h2>Warranty claims</h2><p class="muted">Pick a claim to trace it back to its serial, order, machines, lots and suppliers.</p>${table(
      [
        ["external_id", "claim", (r) => traceLink("claim", r.external_id)],
        ["serial_unit", "serial"],
        ["product", "product"],
        ["failure_date", "failed", (r) => when(r.failure_date)],
        ["text", "description"],
      ],
      claims.items,
    )}`;
  }
  const options = TRACE_KINDS.map(([k, label]) => `<option value="${k}"${k === kind ? " selected" : ""}>${esc(label)}</option>`).join("");
  main().innerHTML = `<h1>Traceability</h1>
    <form id="trace-form" class="trace-form"><select name="kind" aria-label="what to trace">${options}</select><input name="id" placeholder="Claim, serial or lot as any system writes it" value="${esc(id)}"><button>Trace</button></form>${body}`;
  $("#trace-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    location.hash = `#/trace?${form.get("kind")}=${encodeURIComponent(String(form.get("id")).trim())}`;
  });
}
