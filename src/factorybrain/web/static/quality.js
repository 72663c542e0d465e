// The Quality page: every characteristic's control chart as the quality agent draws it, its
// capability (Cpk and Ppk with their intervals), the points that break a rule, and what the agent
// found explains defects. Loaded before app.js, whose helpers (api, esc, fmt, when, table, main,
// hasRoute, assetLink) it uses when a page renders, and after charts.js (timeChart, utcMs); every
// number comes from /api/v1/quality.
"use strict";

// Points drawn unless the engineer asks for all of them: enough for months of a daily sample.
const QUALITY_POINTS = 1000;
const QUALITY_COLORS = { value: "#0b6bcb", center: "#1e8449", control: "#c0392b", spec: "#d68910", violation: "#c0392b" };
const QUALITY_SOURCES = { quality_result: "test result", operation_parameter: "process parameter" };

// A link to this page with some of its query changed (null removes a key).
function qualityLink(query, changes) {
  const params = new URLSearchParams(query);
  for (const [key, value] of Object.entries(changes)) {
    if (value == null || value === "") params.delete(key);
    else params.set(key, value);
  }
  const text = params.toString();
  return `#/quality${text ? `?${text}` : ""}`;
}

// Cpk 1.33 is the usual bar for a capable process, 1.0 the edge of making scrap.
function capabilityClass(value) {
  if (value == null) return "";
  if (value < 1) return "quality-bad";
  if (value < 1.33) return "quality-marginal";
  return "quality-capable";
}

// 1.21 (1.05–1.38): an index and its interval.
function indexText(value, low, high) {
  if (value == null) return '<span class="muted">no spec limits</span>';
  const interval = low != null && high != null ? ` <span class="muted">(${fmt(low, 2)}–${fmt(high, 2)})</span>` : "";
  return `<strong class="${capabilityClass(value)}">${fmt(value, 2)}</strong>${interval}`;
}

function chartLabel(c) {
  return `${c.characteristic}${c.product ? ` of ${c.product}` : ""}${c.machine ? ` on ${c.machine}` : ""}`;
}

const ruleLabel = (test) => (test.startsWith("nelson_") ? `rule ${test.slice(7)}` : test === "moving_range" ? "moving range" : test.toUpperCase());

function stateText(c) {
  return c.drifting
    ? '<span class="sev-high">out of control</span>'
    : '<span class="quality-capable">in control</span>';
}

function findingText(c) {
  const f = c.finding;
  if (!f) return '<span class="muted">none</span>';
  return `<span class="sev-${esc(f.severity)}">${esc(f.severity)}</span> <span class="muted">${esc(f.status)}</span><br><span class="muted">data to ${when(f.as_of)}</span>`;
}

function chartsTable(items, query, chosen) {
  return table(
    [
      ["characteristic", "characteristic", (c) => `<a href="${qualityLink(query, { chart: c.id, last: null })}" class="${c.id === chosen ? "chosen" : ""}">${esc(c.characteristic)}</a><br><span class="muted">${esc(QUALITY_SOURCES[c.source] || c.source)}${c.unit ? ` [${esc(c.unit)}]` : ""}</span>`],
      ["where", "product / machine", (c) => `${esc(c.product || "any product")}<br><span class="muted">${esc(c.machine || "any machine")}</span>`],
      ["n", "points", (c) => fmt(c.n, 0)],
      ["cpk", "Cpk (95 % interval)", (c) => (c.capability ? indexText(c.capability.cpk, c.capability.cpk_low, c.capability.cpk_high) : '<span class="muted">no spec limits</span>')],
      ["ppk", "Ppk (95 % interval)", (c) => (c.capability ? indexText(c.capability.ppk, c.capability.ppk_low, c.capability.ppk_high) : "")],
      ["violations", "points breaking a rule", (c) => `${fmt(c.violations, 0)}${c.violations ? ` <span class="muted">${Object.keys(c.signals).filter((t) => t.startsWith("nelson_")).map(ruleLabel).join(", ")}</span>` : ""}`],
      ["drifting", "state", stateText],
      ["finding", "latest finding", findingText],
    ],
    items,
  );
}

function figuresCards(c) {
  const card = (n, l, cls = "") => `<div class="card"><div class="n ${cls}">${n}</div><div class="l">${l}</div></div>`;
  const unit = c.unit ? ` ${esc(c.unit)}` : "";
  const spec = c.lower_spec != null || c.upper_spec != null
    ? `${c.lower_spec != null ? fmt(c.lower_spec, 3) : "–"} … ${c.upper_spec != null ? fmt(c.upper_spec, 3) : "–"}${unit}`
    : '<span class="muted">none</span>';
  const cap = c.capability;
  return `<div class="cards quality-cards">
    ${card(`${fmt(c.center, 3)}${unit}`, `center line: the mean of the first ${fmt(c.baseline_points, 0)} points (the baseline)`)}
    ${card(`${fmt(c.lower_control, 3)} … ${fmt(c.upper_control, 3)}`, `control limits (center ± 3 sigma, sigma ${fmt(c.sigma, 3)} from the moving range)`)}
    ${card(spec, "specification limits")}
    ${card(cap ? indexText(cap.cpk, cap.cpk_low, cap.cpk_high) : '<span class="muted">–</span>', cap ? `Cpk (${fmt(100 * cap.confidence, 0)} % interval); Ppk ${fmt(cap.ppk, 2)} (${fmt(cap.ppk_low, 2)}–${fmt(cap.ppk_high, 2)}); ${fmt(cap.out_of_spec, 0)} of ${fmt(cap.n, 0)} values out of spec` : "Cpk needs specification limits")}
    ${card(fmt(c.violations, 0), `points breaking a Nelson rule; ${fmt(c.observed_signals, 0)} rule signals where ${fmt(c.expected_signals, 1)} are expected by chance`, c.drifting ? "sev-high" : "")}
  </div>`;
}

function chartLegend(c, detail) {
  const key = (cls, label) => `<span><span class="key quality-key ${cls}"></span> ${label}</span>`;
  const lines = [
    key("quality-value", `${esc(c.characteristic)}${c.unit ? ` [${esc(c.unit)}]` : ""}`),
    key("quality-center", "center line"),
    key("quality-control", "control limits (UCL, LCL)"),
  ];
  if (c.lower_spec != null || c.upper_spec != null) lines.push(key("quality-spec", "specification limits (USL, LSL)"));
  lines.push(key("quality-baseline", "baseline that set the limits"));
  lines.push(key("quality-dot", "point breaking a Nelson rule"));
  const rules = detail.rules
    .map((r) => `<li><strong>${esc(ruleLabel(r.test))}</strong>: ${esc(r.name)} <span class="muted">(${fmt(r.points, 0)} point${r.points === 1 ? "" : "s"})</span></li>`)
    .join("");
  return `<div class="legend quality-legend">${lines.join("")}</div>
    ${rules ? `<ul class="quality-rules">${rules}</ul>` : '<p class="muted">No rule signalled: the process is in statistical control.</p>'}`;
}

// The control chart: values, center line, control and spec limits as lines, the baseline shaded,
// violating points as red dots; the readout names the point and the rules it breaks.
function drawControlChart(box, detail) {
  const points = detail.points.filter((p) => p.at);
  if (!points.length) {
    box.innerHTML = '<p class="muted">No point of this chart has a time.</p>';
    return null;
  }
  const x = points.map((p) => utcMs(p.at));
  const flat = (value) => points.map(() => value);
  const lines = [
    { label: "value", values: points.map((p) => p.value), color: QUALITY_COLORS.value, points: points.length <= 200 },
    { label: "center", values: flat(detail.center), color: QUALITY_COLORS.center },
    { label: "UCL", values: flat(detail.upper_control), color: QUALITY_COLORS.control },
    { label: "LCL", values: flat(detail.lower_control), color: QUALITY_COLORS.control },
  ];
  if (detail.upper_spec != null) lines.push({ label: "USL", values: flat(detail.upper_spec), color: QUALITY_COLORS.spec });
  if (detail.lower_spec != null) lines.push({ label: "LSL", values: flat(detail.lower_spec), color: QUALITY_COLORS.spec });
  const baseline = points.filter((p) => p.baseline);
  const marks = baseline.length
    ? [{ start: utcMs(baseline[0].at), end: utcMs(baseline[baseline.length - 1].at), fill: "rgba(30,132,73,.08)" }]
    : [];
  const chart = timeChart(box, { x, lines, marks, height: 300, unit: detail.unit || "", yLabel: detail.unit || "value" });
  const violating = points.map((p) => p.tests.some((t) => t.startsWith("nelson_")));
  chart.hooks.draw = [
    ...(chart.hooks.draw || []),
    (u) => {
      const { ctx } = u;
      const radius = 3.5 * devicePixelRatio;
      ctx.save();
      ctx.fillStyle = QUALITY_COLORS.violation;
      for (let i = 0; i < points.length; i++) {
        if (!violating[i]) continue;
        const px = u.valToPos(x[i] / 1e3, "x", true);
        const py = u.valToPos(points[i].value, "y", true);
        if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) continue;
        ctx.beginPath();
        ctx.arc(px, py, radius, 0, 2 * Math.PI);
        ctx.fill();
      }
      ctx.restore();
    },
  ];
  // after the chart's own readout: the point's id, value and the rules it breaks
  chart.hooks.setCursor = [
    ...(chart.hooks.setCursor || []),
    (u) => {
      const out = box.closest(".chart")?.querySelector(".readout");
      const i = u.cursor.idx;
      if (!out || i == null) return;
      const p = points[i];
      const rules = p.tests.length ? ` · ${p.tests.map(ruleLabel).join(", ")}` : "";
      out.textContent = `${when(p.at)} UTC · ${p.point}: ${fmt(p.value, 3)}${detail.unit ? ` ${detail.unit}` : ""}${rules}`;
    },
  ];
  // no redraw here: the chart draws itself once, after this (a redraw now loses its x scale)
  box.closest(".chart").dataset.points = String(points.length);
  box.closest(".chart").dataset.violations = String(violating.filter(Boolean).length);
  return chart;
}

function subjectLink(cause) {
  const s = cause.subject;
  const id = s.external_id || "";
  if (s.type === "material_lot") return `<a href="#/trace?lot=${encodeURIComponent(id)}">lot ${esc(id)}</a>`;
  if (s.type === "asset" && s.space) return assetLink(s.space, id, id);
  if (s.type === "parameter") return `<a href="${qualityLink("", { characteristic: id })}">${esc(id)}</a> <span class="muted">process parameter</span>`;
  return `${esc(id)} <span class="muted">${esc(s.type)}</span>`;
}

function rootCausesTable(causes) {
  return table(
    [
      ["subject", "suspect", (c) => `${subjectLink(c)}<br><span class="muted">${esc(c.title)}</span>`],
      ["rate", "defect rate vs the rest", (c) => (c.defect_rate != null ? `${fmt(100 * c.defect_rate, 1)}&nbsp;% <span class="muted">of ${fmt(c.units, 0)} units vs ${fmt(100 * (c.baseline_defect_rate || 0), 1)}&nbsp;%</span>` : "")],
      ["rate_ratio", "times the rest's rate (interval)", (c) => (c.rate_ratio != null ? `<strong>${fmt(c.rate_ratio, 1)}×</strong> <span class="muted">(${fmt(c.rate_ratio_low, 1)}–${fmt(c.rate_ratio_high, 1)})</span>` : "")],
      ["excess_defects", "excess defects", (c) => fmt(c.excess_defects, 0)],
      ["severity", "finding", (c) => `<span class="sev-${esc(c.severity)}">${esc(c.severity)}</span> <span class="muted">${esc(c.status)}</span><br><span class="muted">data to ${when(c.as_of)}</span>`],
      ["traced_from", "from the field", (c) => (c.traced_from.length ? c.traced_from.map((f) => `<a href="#/field?cluster=${encodeURIComponent(f)}">claim cluster</a>`).join(", ") : '<span class="muted">production defects</span>')],
    ],
    causes,
  );
}

async function pageQuality(query) {
  if (!hasRoute("quality/")) {
    main().innerHTML = '<p class="muted">The Quality page arrives with the quality agent (its routes are not installed).</p>';
    return;
  }
  const only = query.get("only") || "";
  const characteristic = query.get("characteristic") || "";
  const filters = `${only === "drifting" ? "&drifting=true" : ""}${characteristic ? `&characteristic=${encodeURIComponent(characteristic)}` : ""}`;
  const [charts, causes] = await Promise.all([api(`quality/charts?limit=500${filters}`), api("quality/root-causes?limit=100")]);
  const chosen = query.get("chart") || (charts.items[0] && charts.items[0].id) || "";
  const last = query.get("last") === "all" ? "" : `?last=${QUALITY_POINTS}`;
  const detail = chosen ? await api(`quality/charts/${encodeURIComponent(chosen)}${last}`) : null;
  const drifting = charts.items.filter((c) => c.drifting).length;
  const tabs = [
    [{ only: null, characteristic: null }, "all characteristics", !only && !characteristic],
    [{ only: "drifting", characteristic: null }, "out of control only", only === "drifting" && !characteristic],
  ];
  if (characteristic) tabs.push([{}, esc(characteristic), true]);
  const tabLinks = tabs.map(([changes, label, on]) => `<a href="${qualityLink(query, { ...changes, chart: null, last: null })}" class="${on ? "chosen" : ""}">${label}</a>`).join(" ");
  const notCharted = charts.not_charted.length
    ? `<details class="quality-not-charted"><summary>Not charted (${fmt(charts.not_charted.length, 0)})</summary>${table(
        [["characteristic", "characteristic"], ["where", "product / machine", (n) => `${esc(n.product || "any product")} <span class="muted">${esc(n.machine || "any machine")}</span>`], ["n", "points", (n) => fmt(n.n, 0)], ["why", "why"]],
        charts.not_charted,
      )}</details>`
    : "";
  let chartPart = '<p class="muted">No characteristic to chart: the quality agent reads quality results and process parameters (run <code>factorybrain agents run</code> once they are loaded).</p>';
  if (detail) {
    const shown = detail.points.length < detail.points_total
      ? `<p class="muted">The latest ${fmt(detail.points.length, 0)} of ${fmt(detail.points_total, 0)} points. <a href="${qualityLink(query, { chart: detail.id, last: "all" })}">Show all</a></p>`
      : "";
    const finding = detail.finding
      ? `<p class="note quality-finding"><span class="sev-${esc(detail.finding.severity)}">${esc(detail.finding.title)}</span> <span class="muted">(${esc(detail.finding.status)}, data to ${when(detail.finding.as_of)})</span>: ${esc(detail.finding.text)}</p>`
      : "";
    chartPart = `<h2 id="quality-chart">Control chart: ${esc(chartLabel(detail))} ${stateText(detail)}</h2>
      ${figuresCards(detail)}
      ${finding}
      <div class="chart quality-chart"><div class="title"><strong>individuals chart (I-MR)</strong> <span class="muted">drag to zoom, double-click to zoom out</span><span class="readout"></span></div><div class="plot" id="quality-plot"></div></div>
      ${chartLegend(detail, detail)}${shown}`;
  }
  main().innerHTML = `<h1>Quality</h1>
    <p class="muted">Every measured characteristic (test results and process parameters, per product and machine) on a control chart, as the quality agent judges it${charts.as_of ? ` (data to ${when(charts.as_of)})` : ""}: limits from a baseline, the Nelson rules, EWMA and CUSUM, and capability against the specification. Cpk below 1.33 is <span class="quality-marginal">marginal</span>, below 1 <span class="quality-bad">not capable</span>.</p>
    <p class="tabs">${tabLinks}</p>
    <p class="muted">${fmt(charts.total, 0)} characteristic${charts.total === 1 ? "" : "s"} charted, ${fmt(drifting, 0)} out of statistical control; out of control first, then the lowest Cpk.</p>
    <div class="quality-table">${chartsTable(charts.items, query, chosen)}</div>
    ${notCharted}
    ${chartPart}
    <h2>Root causes of defects</h2>
    <p class="muted">What the quality agent's model of each unit's genealogy (lots, machines and their health, parameters, time of day) says explains defective or claimed units: the suspect's defect rate against the rest's, and the rate ratio with its 95&nbsp;% interval.</p>
    ${rootCausesTable(causes.items)}`;
  if (detail) drawControlChart(document.getElementById("quality-plot"), detail);
  if (query.get("chart")) document.getElementById("quality-chart")?.scrollIntoView();
}
