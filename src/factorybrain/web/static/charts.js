// Charts of the dashboard: time charts drawn by uPlot (vendored in static/vendor/, no CDN) and the
// plan's Gantt chart in SVG. Loaded before app.js, whose helpers (esc, fmt, when) they use when a
// page draws. Every time the API gives is UTC; the charts show UTC too, as the tables do.
"use strict";

const HOUR_MS = 3600e3;
const DAY_MS = 24 * HOUR_MS;

// The API's timestamps are UTC, written with or without a zone: milliseconds since the epoch.
function utcMs(iso) {
  if (!iso) return NaN;
  const text = String(iso);
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
}

// uPlot charts on the page, resized with their box (a phone turned, a window narrowed).
const drawnCharts = new Set();
const chartResizer =
  typeof ResizeObserver === "function"
    ? new ResizeObserver((entries) => {
        for (const entry of entries) {
          const chart = entry.target.uplot;
          if (!chart || !document.body.contains(entry.target)) continue;
          const width = Math.floor(entry.contentRect.width);
          if (width > 0 && Math.abs(width - chart.width) > 1) chart.setSize({ width, height: chart.height });
        }
      })
    : null;

// Charts of a page left behind are destroyed when the next page draws.
function forgetCharts() {
  for (const chart of drawnCharts) {
    if (!document.body.contains(chart.root)) {
      chartResizer?.unobserve(chart.root.parentElement || chart.root);
      chart.destroy();
      drawnCharts.delete(chart);
    }
  }
}

// Marks on the time axis: a dashed line at an instant (a finding), a shaded span (a maintenance
// order from its start to its end). Drawn on the chart's canvas after the series.
function marksPlugin(marks) {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          const [lo, hi] = [u.scales.x.min, u.scales.x.max];
          ctx.save();
          for (const mark of marks) {
            const from = mark.start / 1e3;
            const to = (mark.end ?? mark.start) / 1e3;
            if (to < lo || from > hi) continue;
            const x0 = u.valToPos(Math.max(from, lo), "x", true);
            const x1 = u.valToPos(Math.min(to, hi), "x", true);
            if (mark.end != null && x1 - x0 >= 2) {
              ctx.fillStyle = mark.fill || "rgba(214,137,16,.22)";
              ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
            } else {
              ctx.strokeStyle = mark.color || (mark.end != null ? "#d68910" : "#c0392b");
              ctx.lineWidth = Math.max(1, devicePixelRatio);
              ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
              ctx.beginPath();
              ctx.moveTo(Math.round(x0) + 0.5, bbox.top);
              ctx.lineTo(Math.round(x0) + 0.5, bbox.top + bbox.height);
              ctx.stroke();
            }
          }
          ctx.restore();
        },
      ],
    },
  };
}

// Axis labels in UTC: "5 Feb" when the ticks are days apart, else "14:00" with the date at midnight.
function timeAxisLabels(splits) {
  const step = splits.length > 1 ? splits[1] - splits[0] : 86400;
  return splits.map((seconds) => {
    const d = new Date(seconds * 1e3);
    const day = `${d.getUTCDate()} ${["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getUTCMonth()]}`;
    const hour = `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
    if (step >= 86400) return day;
    return d.getUTCHours() === 0 && d.getUTCMinutes() === 0 ? day : hour;
  });
}

// The value under the cursor, written into the chart's title (`.readout`) instead of a legend.
function readoutPlugin(box, lines, unit) {
  return {
    hooks: {
      setCursor: [
        (u) => {
          const out = box.closest(".chart")?.querySelector(".readout");
          if (!out) return;
          const i = u.cursor.idx;
          if (i == null) {
            out.textContent = "";
            return;
          }
          let col = 1;
          const parts = [];
          for (const line of lines) {
            const band = line.band ? [u.data[col + 1][i], u.data[col][i]] : null;
            col += line.band ? 2 : 0;
            const v = u.data[col][i];
            col += 1;
            if (v == null) continue;
            parts.push(`${lines.length > 1 ? `${line.label} ` : ""}${fmt(v, 3)}${unit ? ` ${unit}` : ""}${band && band[0] != null ? ` (${fmt(band[0], 3)} – ${fmt(band[1], 3)})` : ""}`);
          }
          out.textContent = `${new Date(u.data[0][i] * 1e3).toISOString().slice(0, 16).replace("T", " ")} UTC: ${parts.join(", ")}`;
        },
      ],
    },
  };
}

// A time chart in `box`: `x` in milliseconds (UTC), `lines` [{label, values, color, band: [lo, hi]}].
// Drag across the chart to zoom in; double-click to zoom out again.
function timeChart(box, { x, lines, marks = [], height = 200, unit = "", yLabel = "", sync = null, xRange = null }) {
  forgetCharts();
  const width = Math.max(260, Math.floor(box.clientWidth || box.parentElement?.clientWidth || 600));
  const data = [x.map((t) => t / 1e3)];
  const series = [{ label: "time (UTC)", value: (u, v) => (v == null ? "" : when(new Date(v * 1e3).toISOString())) }];
  const bands = [];
  for (const line of lines) {
    if (line.band) {
      const hi = data.push(line.band[1]) - 1;
      series.push({ label: `${line.label} max`, stroke: "transparent", points: { show: false }, value: (u, v) => fmt(v, 3) });
      const lo = data.push(line.band[0]) - 1;
      series.push({ label: `${line.label} min`, stroke: "transparent", points: { show: false }, value: (u, v) => fmt(v, 3) });
      bands.push({ series: [hi, lo], fill: line.bandFill || "rgba(11,107,203,.14)" });
    }
    data.push(line.values);
    series.push({
      label: line.label,
      stroke: line.color || "#0b6bcb",
      width: 1.4,
      points: { show: Boolean(line.points) || x.length < 3, size: 6 },
      paths: line.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
      spanGaps: false,
      value: (u, v) => (v == null ? "–" : `${fmt(v, 3)}${unit ? ` ${unit}` : ""}`),
    });
  }
  const options = {
    width,
    height,
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1e3), "Etc/UTC"),
    cursor: { drag: { x: true, y: false }, points: { show: false }, ...(sync ? { sync: { key: sync } } : {}) },
    legend: { show: false },
    // one point, or a span given: the axis shows that span (a single point gets a day each side)
    scales: { x: { time: true, ...(xRange || x.length < 2 || x[0] === x[x.length - 1] ? { range: () => (xRange || [x[0] - DAY_MS / 2, x[x.length - 1] + DAY_MS / 2]).map((t) => t / 1e3) } : {}) } },
    axes: [
      { stroke: "#5b6b7c", grid: { stroke: "#e6ebf0" }, ticks: { stroke: "#d9e0e7" }, values: (u, splits) => timeAxisLabels(splits) },
      { stroke: "#5b6b7c", grid: { stroke: "#e6ebf0" }, ticks: { stroke: "#d9e0e7" }, label: yLabel || unit || "", size: 56, labelSize: 18 },
    ],
    series,
    bands,
    plugins: [marksPlugin(marks), readoutPlugin(box, lines, unit)],
  };
  box.innerHTML = "";
  const chart = new uPlot(options, data, box);
  box.uplot = chart;
  drawnCharts.add(chart);
  chartResizer?.observe(box);
  return chart;
}

// Tick marks for a time axis from t0 to t1 (ms, UTC): hours for a short span, days for a longer
// one, weeks beyond; each with its label.
function timeTicks(t0, t1, most = 12) {
  const steps = [1, 2, 3, 6, 12, 24, 48, 7 * 24, 14 * 24, 28 * 24].map((h) => h * HOUR_MS);
  const step = steps.find((s) => (t1 - t0) / s <= most) || steps[steps.length - 1];
  const first = Math.ceil(t0 / step) * step;
  const ticks = [];
  for (let t = first; t <= t1; t += step) {
    const date = new Date(t);
    const day = `${["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][date.getUTCDay()]} ${date.getUTCDate()} ${["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][date.getUTCMonth()]}`;
    const hour = `${String(date.getUTCHours()).padStart(2, "0")}:00`;
    const midnight = date.getUTCHours() === 0;
    ticks.push({ t, label: step >= DAY_MS ? day : midnight ? day : hour, major: midnight });
  }
  return ticks;
}

// The plan as a Gantt chart: one lane per machine, a date axis, shift bands, maintenance windows,
// late orders in red. `bars` [{lane, start, end, kind: "order"|"late"|"maintenance", label, title,
// href}] and `shifts` [{lane, start, end, name, label}] with times in ms; the axis is clipped to
// [t0, t1], the plan's horizon, so bars stay readable whatever lies outside it.
function ganttChart({ lanes, bars, t0, t1, shifts = [], now = null, width = 1100 }) {
  const left = 118, right = 12, top = 30, lane = 30;
  const height = top + lanes.length * lane + 8;
  const x = (t) => left + ((Math.min(Math.max(t, t0), t1) - t0) / Math.max(1, t1 - t0)) * (width - left - right);
  const rowOf = Object.fromEntries(lanes.map((l, i) => [l.id, i]));
  // A shift shades its machine's row; time outside every shift stays white.
  const shiftBands = shifts
    .filter((s) => s.lane in rowOf && s.end > t0 && s.start < t1)
    .map((s) => `<rect class="shift shift-${esc(String(s.name || "").toLowerCase())}" x="${x(s.start)}" y="${top + rowOf[s.lane] * lane + 1}" width="${Math.max(0, x(s.end) - x(s.start))}" height="${lane - 2}"><title>${esc(s.label)}</title></rect>`)
    .join("");
  const ticks = timeTicks(t0, t1, Math.max(4, Math.floor((width - left) / 90)))
    .map(
      (tick) => `<line class="${tick.major ? "tick major" : "tick"}" x1="${x(tick.t)}" x2="${x(tick.t)}" y1="${top - 4}" y2="${height - 6}"/>` +
        `<text class="tick-label" x="${x(tick.t) + 3}" y="${top - 10}">${esc(tick.label)}</text>`,
    )
    .join("");
  const laneLines = lanes
    .map((l, i) => `<line class="lane" x1="0" x2="${width}" y1="${top + (i + 1) * lane}" y2="${top + (i + 1) * lane}"/>` +
      `<text class="lane-label" x="4" y="${top + i * lane + 19}">${l.href ? `<a href="${esc(l.href)}">${esc(l.label)}</a>` : esc(l.label)}<title>${esc(l.title || l.label)}</title></text>`)
    .join("");
  const drawn = bars
    .filter((b) => b.lane in rowOf && b.end > t0 && b.start < t1)
    .map((b) => {
      const row = rowOf[b.lane];
      const x0 = x(b.start), x1 = x(b.end);
      const w = Math.max(3, x1 - x0);
      const inner = b.label && w > 8 + 6 * String(b.label).length ? `<text class="bar-label" x="${x0 + 4}" y="${top + row * lane + 19}">${esc(b.label)}</text>` : "";
      const rect = `<rect class="bar ${esc(b.kind)}" x="${x0}" y="${top + row * lane + 5}" width="${w}" height="${lane - 10}" rx="2"><title>${esc(b.title)}</title></rect>${inner}`;
      return b.href ? `<a href="${esc(b.href)}">${rect}</a>` : rect;
    })
    .join("");
  const nowLine = now != null && now >= t0 && now <= t1 ? `<line class="now" x1="${x(now)}" x2="${x(now)}" y1="${top - 4}" y2="${height - 6}"><title>data until ${when(new Date(now).toISOString())} UTC</title></line>` : "";
  return `<svg class="gantt" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="plan by machine">${shiftBands}${ticks}${laneLines}${drawn}${nowLine}</svg>`;
}
