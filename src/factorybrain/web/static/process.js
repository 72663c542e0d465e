// The Process page: the recipe changes the design agent proposes per product, with the setpoints,
// the predicted gain and its interval, and the confirmation runs to make first when the gain is
// uncertain. Loaded before app.js, whose helpers (api, esc, fmt, when, table, main) it uses when
// the page renders; every number comes from /api/v1/process.
"use strict";

function signed(value, digits = 3) {
  if (value == null) return "";
  return `${value > 0 ? "+" : ""}${fmt(value, digits)}`;
}

// The gain and its interval on one axis through zero: a gain whose interval stays clear of zero
// is sure; one that crosses it is not.
function gainBar(item) {
  const low = item.gain_low, high = item.gain_high, gain = item.gain;
  if (low == null || high == null || gain == null) return "";
  const width = 300, height = 34, pad = 34;
  const lo = Math.min(0, low) - 0.1 * Math.abs(high - low || 1), hi = Math.max(0, high) + 0.1 * Math.abs(high - low || 1);
  const x = (v) => pad + ((v - lo) / (hi - lo)) * (width - 2 * pad);
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" class="gainbar" aria-label="gain ${signed(gain)} (interval ${signed(low)} to ${signed(high)})">
    <line x1="${x(0)}" x2="${x(0)}" y1="2" y2="${height - 12}" class="zero"/>
    <line x1="${x(low)}" x2="${x(high)}" y1="12" y2="12" class="interval"/>
    <circle cx="${x(gain)}" cy="12" r="4" class="gain"/>
    <text x="${x(0)}" y="${height - 1}" text-anchor="middle" class="tick">0</text>
    <text x="${x(low)}" y="${height - 1}" text-anchor="end" class="tick">${signed(low, 2)}</text>
    <text x="${x(high)}" y="${height - 1}" text-anchor="start" class="tick">${signed(high, 2)}</text>
  </svg>`;
}

function setpointTable(item) {
  return table(
    [
      ["parameter", "setpoint"],
      ["current", "now", (r) => fmt(r.current, 3)],
      ["proposed", "proposed", (r) => (r.changed ? `<strong>${fmt(r.proposed, 3)}</strong>` : `<span class="muted">${fmt(r.proposed, 3)} (keep)</span>`)],
      ["change", "change", (r) => (r.changed ? signed(r.proposed - r.current, 3) : "")],
      ["supported", "range the history covers", (r) => `<span class="muted">${fmt(r.supported_low, 2)} – ${fmt(r.supported_high, 2)}</span>`],
    ],
    item.setpoints,
  );
}

function runsTable(item) {
  if (!item.confirmation_runs.length) return "";
  const names = [...new Set(item.confirmation_runs.flatMap((run) => Object.keys(run.setpoints)))].sort();
  return `<h4>Confirmation runs to make first</h4>${table(
    [["role", "run"], ...names.map((name) => [name, name, (r) => fmt(r.setpoints[name], 3)]), ["expected", `expected ${item.objective || ""}`, (r) => `${fmt(r.expected, 3)} <span class="muted">± ${fmt(r.expected_std, 3)}</span>`]],
    item.confirmation_runs,
  )}`;
}

function actionText(item) {
  const recommendation = item.recommendation;
  if (!recommendation) return '<span class="muted">No action proposed.</span>';
  const state = recommendation.state === "proposed" ? '<a href="#/inbox">waiting for approval in the inbox</a>' : esc(recommendation.state || "not yet in the inbox");
  return `${esc(recommendation.title)}: ${state}.`;
}

function proposalCard(item) {
  const better = item.direction === "minimize" ? "lower" : "higher";
  const decision = item.decision === "change"
    ? '<span class="decision change">change the recipe</span>'
    : '<span class="decision confirm">confirmation runs first</span>';
  const level = item.interval ? `${fmt(100 * item.interval, 0)} % interval` : "interval";
  return `<div class="proposal">
    <h3>${esc(item.product)} <span class="muted">${esc(item.product_name || "")}${item.recipe ? ` · recipe ${esc(item.recipe)}` : ""}</span> ${decision}</h3>
    <div class="gain">
      <div><div class="n">${signed(item.gain, 2)} <span class="unit">${esc(item.objective || "")}</span></div><div class="l">${esc(item.objective || "outcome")} (${better} is better): ${fmt(item.expected_current, 2)} now, ${fmt(item.expected_proposed, 2)} expected with the proposed setpoints; ${level} of the gain ${signed(item.gain_low, 2)} to ${signed(item.gain_high, 2)}; probability of a gain ${fmt(100 * (item.probability_of_gain || 0), 0)}&nbsp;%; learned from ${fmt(item.runs, 0)} runs.</div></div>
      ${gainBar(item)}
    </div>
    <div class="table-scroll">${setpointTable(item)}${runsTable(item)}</div>
    <p>${actionText(item)}</p>
  </div>`;
}

async function pageProcess(query) {
  if (!hasRoute("process/")) {
    main().innerHTML = '<p class="muted">The Process page arrives with the design agent (its routes are not installed).</p>';
    return;
  }
  const line = query.get("line") || "";
  const [proposals, lines] = await Promise.all([
    api(`process/proposals?limit=200${line ? `&line=${encodeURIComponent(line)}` : ""}`),
    api("assets?level=line&limit=500"),
  ]);
  const named = lines.items.map((l) => [l.external_id, l.name || l.external_id]).sort((a, b) => a[1].localeCompare(b[1]));
  const tabs = [["", "all lines"], ...named]
    .map(([id, label]) => `<a href="#/process${id ? `?line=${encodeURIComponent(id)}` : ""}" class="${id === line ? "chosen" : ""}">${esc(label)}</a>`)
    .join(" ");
  const scope = proposals.line ? `<p class="muted">${esc(proposals.line)} makes ${esc((proposals.products || []).join(", ") || "nothing recorded")}.</p>` : "";
  const cards = proposals.items.map(proposalCard).join("");
  main().innerHTML = `<h1>Process</h1>
    <p class="muted">Setpoints the design agent learned from each product's runs that would improve its outcome, by how much and how sure that is. A sure gain is a recipe revision to approve; an uncertain one asks for a few confirmation runs first.</p>
    <p class="tabs">${tabs}</p>${scope}
    ${cards || '<p class="muted">No setpoint change proposed here: either the design agent has not run (<code>factorybrain agents run</code>) or the history shows no better recipe.</p>'}`;
}
