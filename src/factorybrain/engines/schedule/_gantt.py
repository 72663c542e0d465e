"""A Gantt chart of a schedule as one self-contained SVG string (no plotting library needed)."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from factorybrain.engines.schedule._problem import Problem, Schedule


def _nice_step(span: float, target_ticks: int = 10) -> float:
    raw = span / max(1, target_ticks)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _colour(index: int) -> str:
    hue = (index * 137.508) % 360
    return f"hsl({hue:.0f},65%,{55 if index % 2 else 45}%)"


def gantt_svg(
    schedule: Schedule,
    problem: Problem | None = None,
    *,
    width: int = 1000,
    row_height: int = 24,
    title: str | None = None,
    time_unit: str = "",
) -> str:
    """Draw ``schedule`` as an SVG Gantt chart: one row per machine, one colour per job.

    Args:
        schedule: The plan to draw.
        problem: The problem it solves; when given, every machine gets a row and its
            unavailability windows are drawn hatched with their reason as tooltip.
        width: Width of the drawing in pixels.
        row_height: Height of one machine row in pixels.
        title: Heading above the chart (default: makespan and status).
        time_unit: Unit shown on the time axis (``"min"``, ``"h"``).

    Returns:
        The SVG document as a string (UTF-8 text, viewable in a browser, embeddable in HTML).
    """
    machines: list[str] = []
    windows: dict[str, list[tuple[int, int, str]]] = {}
    if problem is not None:
        for spec in problem.machines:
            machines.append(spec.id)
            windows[spec.id] = [(w.start, w.end, w.reason) for w in spec.unavailable]
    for op in schedule.operations:
        if op.machine not in windows:
            machines.append(op.machine)
            windows[op.machine] = []
    jobs = list(dict.fromkeys(op.job for op in sorted(schedule.operations, key=lambda o: o.start)))
    job_index = {job: i for i, job in enumerate(jobs)}
    end = max([schedule.makespan, 1])
    label_width = min(200, 12 + 7 * max((len(m) for m in machines), default=4))
    top, bottom = 34, 30
    plot_width = max(100, width - label_width - 20)
    height = top + bottom + row_height * max(1, len(machines))
    scale = plot_width / end

    def x(t: float) -> float:
        return label_width + min(max(t, 0), end) * scale

    heading = title or (
        f"{schedule.status} schedule, makespan {schedule.makespan}"
        f"{' ' + time_unit if time_unit else ''}, {len(schedule.operations)} operations"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        "<defs>"
        '<pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#eeeeee"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#888888" stroke-width="2"/>'
        "</pattern></defs>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{label_width}" y="18" font-size="13" font-weight="bold">'
        f"{escape(heading)}</text>",
    ]
    step = _nice_step(end)
    tick = 0.0
    axis_y = top + row_height * len(machines)
    while tick <= end:
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" y2="{axis_y}" '
            'stroke="#dddddd"/>'
            f'<text x="{x(tick):.1f}" y="{axis_y + 14}" text-anchor="middle">{tick:g}</text>'
        )
        tick += step
    if time_unit:
        parts.append(
            f'<text x="{label_width + plot_width}" y="{axis_y + 27}" text-anchor="end">'
            f"time ({escape(time_unit)})</text>"
        )
    row_of = {machine: i for i, machine in enumerate(machines)}
    for machine, row in row_of.items():
        y = top + row * row_height
        parts.append(
            f'<text x="{label_width - 6}" y="{y + row_height * 0.65:.1f}" text-anchor="end">'
            f"{escape(machine)}</text>"
            f'<line x1="{label_width}" y1="{y + row_height}" x2="{label_width + plot_width}" '
            f'y2="{y + row_height}" stroke="#f0f0f0"/>'
        )
        for w_start, w_end, reason in windows[machine]:
            if w_start >= end:
                continue
            parts.append(
                f'<rect x="{x(w_start):.1f}" y="{y + 2}" width="{x(w_end) - x(w_start):.1f}" '
                f'height="{row_height - 4}" fill="url(#hatch)" stroke="#888888">'
                f"<title>{escape(f'{machine}: {reason} [{w_start}, {w_end})')}</title></rect>"
            )
    for op in schedule.operations:
        y = top + row_of[op.machine] * row_height
        bar = x(op.end) - x(op.start)
        tooltip = f"job {op.job}, operation {op.operation} on {op.machine}: {op.start}-{op.end}"
        parts.append(
            f'<rect x="{x(op.start):.1f}" y="{y + 3}" width="{max(bar, 0.5):.1f}" '
            f'height="{row_height - 6}" fill={quoteattr(_colour(job_index[op.job]))} '
            f'stroke="white" stroke-width="0.5"><title>{escape(tooltip)}</title></rect>'
        )
        if bar > 7 * len(op.job) + 4:
            parts.append(
                f'<text x="{x(op.start) + bar / 2:.1f}" y="{y + row_height * 0.65:.1f}" '
                f'text-anchor="middle" fill="white">{escape(op.job)}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts)
