// The Field page: what the service agent found in the warranty claims. Claims per cohort (which
// lots, machines and orders fail more often than the rest), each product's field reliability
// (a Weibull plot) and the recall scope of a cluster. Loaded before app.js, whose helpers (api,
// esc, fmt, when, table, main) it uses when a page renders; every number comes from /api/v1/field.
"use strict";

const FIELD_PAGE = 25;

// An ERP's all-digit material number shown as SAP shows it (its ALPHA conversion drops the
// zeros that pad it to 18 digits); other identifiers as they are.
const productId = (id) => (/^0+[0-9]+$/.test(String(id)) ? String(id).replace(/^0+(?=.)/, "") : String(id));

// 7.6× (6.5–8.8): a rate ratio and its interval.
function ratioText(row) {
  if (row.rate_ratio == null) return "";
  const interval = row.rate_ratio_low != null ? ` <span class="muted">(${fmt(row.rate_ratio_low, 1)}–${fmt(row.rate_ratio_high, 1)})</span>` : "";
  return `<strong>${fmt(row.rate_ratio, 1)}×</strong>${interval}`;
}

// A q-value as people read it: "< 0.001" rather than 5e-117.
function qText(q) {
  if (q == null) return "";
  return q < 0.001 ? "&lt;&nbsp;0.001" : fmt(q, 3);
}

function inspectionText(row) {
  const inspection = row.inspection;
  if (!inspection) return '<span class="muted">none proposed</span>';
  if (!inspection.state) return '<span class="muted" title="The agent recommended it; no action waits for approval yet">recommended</span>';
  if (inspection.state === "proposed") return '<a href="#/inbox">waiting for approval</a>';
  return esc(inspection.state);
}

function cohortsTable(items, chosen) {
  return scrolling(
    table(
    [
      ["label", "cohort", (r) => `<span class="muted">${esc(r.attribute_label)}</span><br>${esc(r.label)}`],
      ["failure_mode", "mostly", (r) => (r.failure_mode ? `${esc(r.failure_mode)} <span class="muted">${fmt(100 * (r.failure_mode_share || 0), 0)}&nbsp;%</span>` : '<span class="muted">mixed</span>')],
      ["claims", "claims / units", (r) => `${fmt(r.claims, 0)} <span class="muted">/ ${fmt(r.units, 0)}</span>`],
      ["rate", "claims per 1000 unit-years", (r) => `${fmt(r.rate_per_1000_unit_years, 0)} <span class="muted">vs ${fmt(r.baseline_rate_per_1000_unit_years, 0)} for the rest</span>`],
      ["rate_ratio", "times the rest's rate (interval)", ratioText],
      ["q_value", "q-value", (r) => qText(r.q_value)],
      ["scope", "serials to inspect (recall scope)", (r) => `<a href="#/field?cluster=${encodeURIComponent(r.id)}" class="${r.id === chosen ? "chosen" : ""}">${fmt(r.scope_serials, 0)} at ${fmt(r.scope_customers, 0)} customers</a>`],
      ["inspection", "inspection", inspectionText],
    ],
    items,
    ),
    "wide",
  );
}

// A wide table scrolls sideways on a phone instead of widening the page.
function scrolling(html, kind = "") {
  return `<div class="table-scroll ${kind}">${html}</div>`;
}

// Weibull probability paper: x = ln(age), y = ln(-ln(1 - F)). Failures at their median ranks,
// the fitted line, and the B10 life with its interval.
function weibullPlot(fit) {
  const plot = fit.plot || { points: [], line: [] };
  if (!plot.points.length) return `<p class="muted">No failures to plot${plot.note ? `: ${esc(plot.note)}` : ""}.</p>`;
  const width = 760, height = 380, left = 64, right = 16, top = 14, bottom = 44;
  const share = fit.b_life_share || 0.1;
  const ages = plot.points.map((p) => p.age_days);
  const tMin = Math.max(0.5, Math.min(...ages) / 1.5);
  const tMax = Math.max(...ages, fit.b10_high_days || fit.b10_days || 1) * 1.4;
  const probabilities = plot.points.map((p) => p.probability);
  const fMin = Math.min(...probabilities) / 2;
  const fMax = Math.min(0.9, Math.max(share * 2, ...probabilities) * 1.5);
  const wy = (f) => Math.log(-Math.log(1 - f));
  const x = (t) => left + ((Math.log(Math.max(t, tMin)) - Math.log(tMin)) / (Math.log(tMax) - Math.log(tMin))) * (width - left - right);
  const y = (f) => height - bottom - ((wy(Math.min(Math.max(f, fMin), fMax)) - wy(fMin)) / (wy(fMax) - wy(fMin))) * (height - top - bottom);
  const grid = [];
  for (const t of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]) {
    if (t < tMin || t > tMax) continue;
    grid.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${height - bottom}" class="grid"/><text x="${x(t)}" y="${height - bottom + 14}" text-anchor="middle" class="tick">${t}</text>`);
  }
  for (const f of [0.00001, 0.0001, 0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 0.9]) {
    if (f < fMin || f > fMax) continue;
    const label = f >= 0.01 ? `${fmt(100 * f, 0)} %` : `${fmt(100 * f, 3)} %`;
    grid.push(`<line x1="${left}" x2="${width - right}" y1="${y(f)}" y2="${y(f)}" class="grid"/><text x="${left - 6}" y="${y(f) + 4}" text-anchor="end" class="tick">${label}</text>`);
  }
  const line = plot.line.filter((p) => p.age_days >= tMin && p.age_days <= tMax && p.probability >= fMin && p.probability <= fMax).map((p) => `${x(p.age_days)},${y(p.probability)}`).join(" ");
  const dots = plot.points.map((p) => `<circle cx="${x(p.age_days)}" cy="${y(p.probability)}" r="2.6" class="failure"><title>failed after ${fmt(p.age_days, 0)} days; median rank ${fmt(100 * p.probability, 3)} %</title></circle>`).join("");
  let b10 = "";
  if (fit.b10_days && share >= fMin && share <= fMax) {
    const low = fit.b10_low_days || fit.b10_days;
    const high = Math.min(fit.b10_high_days || tMax, tMax);
    b10 = `<rect x="${x(low)}" y="${top}" width="${Math.max(1, x(high) - x(low))}" height="${height - top - bottom}" class="interval"><title>B${fmt(100 * share, 0)} interval ${fmt(low, 0)}–${fit.b10_high_days ? fmt(fit.b10_high_days, 0) : "unbounded"} days</title></rect>
      <line x1="${left}" x2="${x(fit.b10_days)}" y1="${y(share)}" y2="${y(share)}" class="b10"/>
      <line x1="${x(fit.b10_days)}" x2="${x(fit.b10_days)}" y1="${y(share)}" y2="${height - bottom}" class="b10"/>
      <text x="${x(fit.b10_days) - 6}" y="${y(share) - 6}" text-anchor="end" class="b10-label">B${fmt(100 * share, 0)} = ${fmt(fit.b10_days, 0)} days</text>`;
  }
  const oldest = fit.max_age_days ? `<line x1="${x(fit.max_age_days)}" x2="${x(fit.max_age_days)}" y1="${top}" y2="${height - bottom}" class="oldest"><title>oldest unit in the field: ${fmt(fit.max_age_days, 0)} days</title></line><text x="${x(fit.max_age_days) - 4}" y="${top + 12}" text-anchor="end" class="tick">oldest unit</text>` : "";
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" class="weibull" aria-label="Weibull plot of ${esc(fit.product)}">
    ${grid.join("")}${b10}${oldest}
    <polyline points="${line}" class="fit"/>${dots}
    <text x="${(left + width - right) / 2}" y="${height - 8}" text-anchor="middle" class="axis">days in service (log scale)</text>
    <text x="14" y="${(top + height - bottom) / 2}" text-anchor="middle" class="axis" transform="rotate(-90 14 ${(top + height - bottom) / 2})">share failed (Weibull scale)</text>
  </svg>`;
}

// Units still running (censored), by days in service: what the fit had to extrapolate beyond.
function censoredBars(fit) {
  const bins = (fit.plot && fit.plot.censored) || [];
  if (!bins.length) return "";
  const width = 760, height = 90, left = 64, right = 16, bottom = 22;
  const most = Math.max(...bins.map((b) => b.units), 1);
  const end = bins[bins.length - 1].to_days || 1;
  const x = (t) => left + (t / end) * (width - left - right);
  const bars = bins
    .map((b) => {
      const h = ((height - bottom - 6) * b.units) / most;
      return `<rect x="${x(b.from_days) + 1}" y="${height - bottom - h}" width="${Math.max(1, x(b.to_days) - x(b.from_days) - 2)}" height="${h}" class="censored"><title>${fmt(b.units, 0)} units running, ${fmt(b.from_days, 0)}–${fmt(b.to_days, 0)} days in service</title></rect>`;
    })
    .join("");
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" class="weibull" aria-label="units still running by days in service">
    ${bars}<text x="${left}" y="${height - 6}" class="tick">0</text><text x="${width - right}" y="${height - 6}" text-anchor="end" class="tick">${fmt(end, 0)} days in service</text>
    <text x="${left - 6}" y="12" text-anchor="end" class="tick">${fmt(most, 0)}</text>
  </svg>`;
}

function shapeMeaning(shape) {
  if (shape == null) return "";
  if (shape < 0.9) return "early failures (falling failure rate)";
  if (shape <= 1.1) return "random failures (constant rate)";
  return "wear-out (failure rate rises with age)";
}

function reliabilityCards(fit) {
  const share = `B${fmt(100 * (fit.b_life_share || 0.1), 0)}`;
  const level = fit.interval ? `${fmt(100 * fit.interval, 0)} % interval` : "interval";
  const high = fit.b10_high_days == null ? "unbounded" : fmt(fit.b10_high_days, 0);
  const card = (n, l) => `<div class="card"><div class="n">${n}</div><div class="l">${l}</div></div>`;
  return `<div class="cards">
    ${card(`${fmt(fit.b10_days, 0)} days`, `${share} life: ${fmt(100 * (fit.b_life_share || 0.1), 0)} % of units fail by then (${level} ${fmt(fit.b10_low_days, 0)}–${high})`)}
    ${card(fmt(fit.weibull_shape, 2), `Weibull shape: ${shapeMeaning(fit.weibull_shape)}`)}
    ${card(`${fmt(fit.failures, 0)} failures`, `among ${fmt(fit.units, 0)} units in the field; ${fmt(100 * (fit.censored_share || 0), 1)}&nbsp;% still running`)}
    ${card(fmt(fit.forecast_claims, 0), `claims expected in the next ${fmt(fit.forecast_days, 0)} days (${fmt(fit.forecast_claims_low, 0)}–${fmt(fit.forecast_claims_high, 0)})`)}
  </div>${fit.extrapolated ? `<p class="muted">The oldest unit has ${fmt(fit.max_age_days, 0)} days in service: the ${share} life lies beyond what the field has seen and is extrapolated from the fit.</p>` : ""}`;
}

function scopeSection(scope, query) {
  const cluster = scope.cluster;
  const offset = scope.offset;
  const link = (to) => {
    const params = new URLSearchParams(query);
    params.set("cluster", cluster.id);
    params.set("offset", String(to));
    return `#/field?${params.toString()}`;
  };
  const pager = `<p class="pager">${offset > 0 ? `<a href="${link(Math.max(0, offset - FIELD_PAGE))}">← previous</a>` : ""}
    <span class="muted">serials ${fmt(offset + 1, 0)}–${fmt(offset + scope.items.length, 0)} of ${fmt(scope.total, 0)}</span>
    ${scope.next_offset != null ? `<a href="${link(scope.next_offset)}">next →</a>` : ""}</p>`;
  const customers = table(
    [["customer", "customer"], ["serials", "serials to inspect", (r) => fmt(r.serials, 0)]],
    scope.customers,
  );
  // a process parameter's scope is ranked: the units furthest out of its window first
  const ranked = scope.items.some((r) => r.deviation_sd != null);
  const columns = [["serial", "serial", (r) => `<a href="#/trace?serial=${encodeURIComponent(r.serial)}">${esc(r.serial)}</a>`]];
  if (ranked) columns.push(["deviation_sd", "off its product's median", (r) => r.deviation_sd == null ? "" : `${r.deviation_sd > 0 ? "+" : ""}${fmt(r.deviation_sd, 1)} SD`]);
  columns.push(["customer_name", "customer", (r) => esc(r.customer_name || r.customer)], ["shipment", "shipment"], ["shipped_at", "shipped", (r) => when(r.shipped_at)]);
  const serials = table(columns, scope.items);
  const order = ranked ? " Listed furthest out of the parameter's usual range first: those are the likeliest to fail next." : "";
  return `<h2 id="scope">Recall scope: ${esc(cluster.attribute_label)} ${esc(cluster.label)}</h2>
    ${cluster.text ? `<p class="why">${esc(cluster.text)}</p>` : ""}
    <p class="muted">Serials built with this ${esc(cluster.attribute_label)} that are in the field and have not failed: ${fmt(scope.total, 0)} at ${fmt(scope.customers.length, 0)} customers.${order} ${esc(cluster.inspection ? cluster.inspection.title : "No inspection proposed yet.")}</p>
    <div class="split"><div>${customers}</div><div>${scrolling(serials)}${pager}</div></div>`;
}

async function pageField(query) {
  if (!hasRoute("field/")) {
    main().innerHTML = '<p class="muted">The Field page arrives with the service agent (its routes are not installed).</p>';
    return;
  }
  const [cohorts, reliability] = await Promise.all([api("field/cohorts?limit=200"), api("field/reliability")]);
  const fits = reliability.items;
  const product = query.get("product") || (fits[0] && fits[0].product) || "";
  const cluster = query.get("cluster") || (cohorts.items[0] && cohorts.items[0].id) || "";
  const offset = Number(query.get("offset") || 0);
  const [fit, scope] = await Promise.all([
    product ? api(`field/reliability/${encodeURIComponent(product)}`) : null,
    cluster ? api(`field/clusters/${encodeURIComponent(cluster)}/scope?limit=${FIELD_PAGE}&offset=${offset}`) : null,
  ]);
  const productLink = (f) => {
    const params = new URLSearchParams(query);
    params.set("product", f.product);
    return `<a href="#/field?${params.toString()}" class="${f.product === product ? "chosen" : ""}" title="${esc(f.name || f.product)}">${esc(productId(f.product))} <span class="muted">B10 ${fmt(f.b10_days, 0)} d</span></a>`;
  };
  const notFitted = reliability.not_fitted.length
    ? `<p class="muted">Not fitted: ${reliability.not_fitted.map((g) => `${esc(productId(g.product))} (${esc(g.why)})`).join("; ")}</p>`
    : "";
  const reliabilityPart = fit
    ? `<p class="tabs">${fits.map(productLink).join(" ")}</p>
       <h3>${esc(productId(fit.product))} <span class="muted">${esc(fit.name || "")}</span></h3>
       ${reliabilityCards(fit)}
       <div class="chart"><div class="title">Weibull plot: each dot is a failure at its median rank (units still running taken into account); the line is the fitted Weibull; the shaded band is the B10 interval.${fit.plot && fit.plot.note ? ` ${esc(fit.plot.note)}.` : ""}</div>${weibullPlot(fit)}</div>
       <div class="chart"><div class="title">Units still running (censored), by days in service: ${fmt(fit.plot ? fit.plot.censored_units : 0, 0)}</div>${censoredBars(fit)}</div>`
    : '<p class="muted">No product has a field-reliability fit yet: run the service agent (<code>factorybrain agents run</code>).</p>';
  main().innerHTML = `<h1>Field</h1>
    <p class="muted">What the service agent found in the warranty claims${cohorts.items[0] ? ` (as of ${when(cohorts.items[0].as_of)})` : ""}: which lots, machines and orders fail in the field more often than the rest, how long each product lasts, and which serials to inspect.</p>
    <h2>Claims per cohort</h2>
    <p class="muted">Lots, machines (over a few days), orders and process parameters run outside their usual range whose units are claimed more often than the rest, comparing units of the same age. "Times the rest's rate" is the rate ratio with its 95&nbsp;% interval; the q-value is the share of false alarms to expect among cohorts flagged this strongly (small is sure).</p>
    ${cohortsTable(cohorts.items, cluster)}
    <h2>Field reliability</h2>${reliabilityPart}${notFitted}
    ${scope ? scopeSection(scope, query) : ""}`;
  if (query.get("cluster")) document.getElementById("scope")?.scrollIntoView();
}
