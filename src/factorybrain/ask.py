"""``ask``: plain-language questions answered from the factory model, with their evidence.

Two ways to answer, one set of tools:

* without a language model, a deterministic router recognises the documented question types
  (status of an asset, risks this week or month, trace a serial or lot, explain a finding, what
  if a machine goes down) and answers them from the store;
* with an OpenAI-compatible endpoint configured (``FACTORYBRAIN_LLM_URL``,
  ``FACTORYBRAIN_LLM_MODEL``, ``FACTORYBRAIN_LLM_KEY``: vLLM, Ollama, llama.cpp server, hosted
  models), a tool-calling agent
  chooses among the same tools. A model that is down, slow or answers nonsense (an unknown tool,
  malformed arguments) never breaks ``ask``: the router answers and says so.

Every answer cites the entities and numbers it used.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from factorybrain.context import backward, forward, resolve_serial
from factorybrain.exceptions import ParameterError
from factorybrain.insights import (
    field_cohorts,
    field_reliability,
    json_rows,
    process_proposals,
    same_mode,
)
from factorybrain.secrets import install_log_filter, redact
from factorybrain.store import Store


@dataclass
class Answer:
    """An answer and what it rests on."""

    question: str
    answer: str
    tool: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)
    via: str = "router"
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The answer as plain values (JSON)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "tool": self.tool,
            "citations": self.citations,
            "numbers": self.numbers,
            "via": self.via,
            "note": self.note,
        }


# -- tools: typed functions over the store; the router and the language model share them --------
_rows = json_rows


def find_asset(store: Store, text: str) -> dict[str, Any] | None:
    """Return the asset whose id, name or alias best matches ``text`` (None when nothing does)."""
    from rapidfuzz import fuzz, process

    assets = _rows(store.query("SELECT space, external_id, name, level FROM asset"))
    if not assets:
        return None
    choices = {i: f"{a['external_id']} {a['name'] or ''}" for i, a in enumerate(assets)}
    best = process.extractOne(text, choices, scorer=fuzz.token_set_ratio)
    if best is None or best[1] < 60:
        return None
    return assets[best[2]]


def asset_status(store: Store, asset: str) -> Answer:
    """Status of an asset: its open findings, its maintenance orders, and its last state."""
    found = find_asset(store, asset)
    if found is None:
        return Answer(asset, f"I found no asset matching {asset!r}.", "asset_status")
    key = found["external_id"]
    findings = _rows(
        store.query(
            "SELECT external_id, kind, severity, confidence, created_at FROM finding "
            "WHERE space = 'agents' AND subject = ? AND status = 'open' "
            "ORDER BY created_at DESC LIMIT 10",
            [key],
        )
    )
    orders = _rows(
        store.query(
            "SELECT external_id, order_type, status, planned_start, actual_start FROM "
            "maintenance_order WHERE asset = ? ORDER BY coalesce(actual_start, planned_start) DESC "
            "LIMIT 5",
            [key],
        )
    )
    state = _rows(
        store.query(
            "SELECT state, reason, start_time FROM event WHERE asset = ? AND event_type = 'state' "
            "ORDER BY start_time DESC LIMIT 1",
            [key],
        )
    )
    parts = [f"{found['name'] or key} ({found['space']}/{key})"]
    parts.append(
        f"last state {state[0]['state']} since {state[0]['start_time']}"
        if state
        else "no machine state recorded"
    )
    parts.append(
        f"{len(findings)} open finding(s): "
        + ", ".join(f"{f['kind']} ({f['severity']})" for f in findings)
        if findings
        else "no open findings"
    )
    if orders:
        last = orders[0]
        parts.append(
            f"last maintenance order {last['external_id']} ({last['order_type']}, {last['status']})"
        )
    citations = [{"type": "asset", "space": found["space"], "external_id": key}]
    citations += [{"type": "finding", "external_id": f["external_id"]} for f in findings]
    citations += [{"type": "maintenance_order", "external_id": o["external_id"]} for o in orders]
    return Answer(
        asset,
        "; ".join(parts) + ".",
        "asset_status",
        citations,
        {"open_findings": float(len(findings))},
    )


def risks(store: Store, horizon_days: float = 7.0) -> Answer:
    """Machines expected to fail within the horizon, and the deliveries at risk."""
    findings = _rows(
        store.query(
            "SELECT external_id, kind, subject, severity, confidence, evidence FROM finding "
            "WHERE space = 'agents' AND status = 'open' "
            "AND (kind LIKE 'maintenance.%' OR kind LIKE 'planning.%' "
            "OR kind LIKE 'logistics.%') ORDER BY created_at DESC LIMIT 200"
        )
    )
    at_risk, deliveries = [], []
    for finding in findings:
        numbers = (
            json.loads(finding["evidence"])
            if isinstance(finding["evidence"], str)
            else finding["evidence"] or {}
        ).get("numbers", {})
        hours = next(
            (numbers[k] for k in ("rul_lower_hours", "rul_hours", "rul_low_hours") if k in numbers),
            None,
        )
        if finding["kind"] == "maintenance.rul_low" and (
            hours is None or hours <= horizon_days * 24
        ):
            at_risk.append((finding, hours))
        elif finding["kind"] == "planning.due_date_risk":
            deliveries.append(finding)
    if not at_risk and not deliveries:
        text = (
            f"No machine is expected to fail within {horizon_days:g} days and no delivery "
            "is at risk, as far as the agents' open findings go."
        )
    else:
        machines = (
            ", ".join(
                f"{f['subject']} (remaining life {h:.0f} h)" if h is not None else f["subject"]
                for f, h in at_risk
            )
            or "none"
        )
        text = (
            f"Within {horizon_days:g} days: machines at risk: {machines}. "
            f"Deliveries at risk: {len(deliveries)} order(s)"
            + (": " + ", ".join(d["subject"] for d in deliveries[:10]) if deliveries else "")
            + "."
        )
    citations = [{"type": "finding", "external_id": f["external_id"]} for f, _ in at_risk]
    citations += [{"type": "finding", "external_id": d["external_id"]} for d in deliveries]
    return Answer(
        f"risks within {horizon_days:g} days",
        text,
        "risks",
        citations,
        {"machines_at_risk": float(len(at_risk)), "deliveries_at_risk": float(len(deliveries))},
    )


def trace(store: Store, identifier: str) -> Answer:
    """Trace a serial (its order, product, tests, claims) or a lot (its orders and serials).

    A serial is accepted as people type it (case, spaces, separators, zero padding aside); a lot
    as any silo writes it. A lot reaches its serials through every consumption recorded: into
    an order (and that order in every other silo: the ERP order's serials are the ones the MES
    recorded for it) or straight into a unit.
    """
    resolved = resolve_serial(store, identifier)
    serial = (
        _rows(
            store.query(
                "SELECT space, external_id, product, work_order, produced_at, status "
                "FROM serial_unit WHERE external_id = ? LIMIT 1",
                [resolved],
            )
        )
        if resolved is not None
        else []
    )
    if serial:
        unit = serial[0]
        tests = _rows(
            store.query(
                "SELECT test_name, value, status FROM quality_result WHERE serial_unit = ?",
                [unit["external_id"]],
            )
        )
        claims = _rows(
            store.query(
                "SELECT external_id, failure_date FROM warranty_claim WHERE serial_unit = ? "
                "OR external_id IN (SELECT w.external_id FROM warranty_claim w JOIN annotation a "
                "ON a.source_space = w.space AND a.source_identifier = w.serial_unit "
                "WHERE a.status = 'approved' AND a.target_type = 'serial_unit' "
                "AND a.target_external_id = ?)",
                [unit["external_id"], unit["external_id"]],
            )
        )
        origin = backward(store, unit["external_id"])
        lots = origin.tables.get("lots")
        lot_names = []
        if lots is not None and len(lots):
            for lot, batch in zip(lots.lot, lots.batch, strict=True):
                lot_names.append(str(lot if isinstance(lot, str) else batch))
        order = origin.tables["work_order"]
        work_order = unit["work_order"] or (order.work_order.iloc[0] if len(order) else None)
        failed = [t for t in tests if t["status"] == "fail"]
        as_given = "" if identifier == unit["external_id"] else f" (given as {identifier!r})"
        text = (
            f"Serial {unit['external_id']}{as_given}: {unit['product']}, work order "
            f"{work_order}, made {unit['produced_at']}, now {unit['status']}; "
            f"{len(tests)} test result(s), {len(failed)} failed; {len(claims)} warranty "
            f"claim(s); lots consumed by its order: "
            + (", ".join(dict.fromkeys(lot_names[:12])) or "none recorded")
            + "."
        )
        citations = [{"type": "serial_unit", "external_id": unit["external_id"]}]
        if work_order:
            citations.append({"type": "work_order", "external_id": str(work_order)})
        citations += [{"type": "warranty_claim", "external_id": c["external_id"]} for c in claims]
        citations += [
            {"type": "material_lot", "external_id": name} for name in dict.fromkeys(lot_names)
        ]
        return Answer(
            identifier,
            text,
            "trace",
            citations,
            {"tests": float(len(tests)), "claims": float(len(claims))},
        )
    try:
        found = forward(store, identifier.strip())
    except ParameterError:
        return Answer(identifier, f"I found no serial or lot {identifier!r}.", "trace")
    orders = found.tables["work_orders"]
    consumers = orders[orders["linked_from"].isna()] if "linked_from" in orders else orders
    serials = found.tables["serials"]
    if consumers.empty and serials.empty:
        return Answer(
            identifier,
            f"Lot {identifier} is known but no consumption of it is recorded: it went into no "
            "work order or unit yet.",
            "trace",
            [{"type": "material_lot", "external_id": str(lot)} for lot in found.tables["lots"].lot],
            {"work_orders": 0.0, "serials": 0.0},
        )
    linked = len(orders) - len(consumers)
    text = (
        f"Lot {identifier} was consumed by {len(consumers)} work order(s) "
        f"({', '.join(map(str, consumers.work_order.head(10)))})"
        + (f", the same orders as {linked} order(s) of another silo" if linked else "")
        + f", which made {len(serials)} serial(s)"
        + (
            f": {', '.join(map(str, serials.serial.head(5)))}"
            + (", ..." if len(serials) > 5 else "")
            if len(serials)
            else ""
        )
        + "."
    )
    citations = [{"type": "work_order", "external_id": str(o)} for o in orders.work_order.head(50)]
    return Answer(
        identifier,
        text,
        "trace",
        citations,
        {"work_orders": float(len(consumers)), "serials": float(len(serials))},
    )


def explain_finding(store: Store, finding_id: str) -> Answer:
    """What a finding says, on which evidence, and what was recommended about it."""
    rows = _rows(
        store.query(
            "SELECT external_id, agent, kind, subject, severity, confidence, evidence, created_at "
            "FROM finding WHERE space = 'agents' AND external_id = ?",
            [finding_id],
        )
    )
    if not rows:
        return Answer(finding_id, f"There is no finding {finding_id!r}.", "explain_finding")
    finding = rows[0]
    evidence = (
        json.loads(finding["evidence"])
        if isinstance(finding["evidence"], str)
        else finding["evidence"] or {}
    )
    numbers = {
        k: float(v)
        for k, v in (evidence.get("numbers") or {}).items()
        if isinstance(v, int | float)
    }
    text = (
        f"{finding['agent']} reported {finding['kind']} on {finding['subject']} "
        f"({finding['severity']}, confidence {float(finding['confidence'] or 0):.2f}) at "
        f"{finding['created_at']}: {evidence.get('text') or 'no text'}"
        + (" Numbers: " + ", ".join(f"{k} = {v:g}" for k, v in numbers.items()) if numbers else "")
        + "."
    )
    citations = [{"type": "finding", "external_id": finding_id}]
    citations += [
        {"type": ref.get("type"), "external_id": ref.get("external_id")}
        for ref in evidence.get("refs") or []
    ]
    return Answer(finding_id, text, "explain_finding", citations, numbers)


def what_if_down(store: Store, asset: str, hours: float = 8.0) -> Answer:
    """What a machine going down means: the open work orders planned on it or on its line."""
    found = find_asset(store, asset)
    if found is None:
        return Answer(asset, f"I found no asset matching {asset!r}.", "what_if_down")
    key, line = found["external_id"], None
    parent = _rows(
        store.query(
            "SELECT parent FROM asset WHERE space = ? AND external_id = ?", [found["space"], key]
        )
    )
    if parent:
        line = parent[0]["parent"]
    orders = _rows(
        store.query(
            "SELECT external_id, product, quantity, due_at FROM work_order WHERE status IN "
            "('released', 'planned', 'in_progress') AND line = ? ORDER BY due_at",
            [line or key],
        )
    )
    soon = orders[:10]
    text = (
        f"If {found['name'] or key} goes down for {hours:g} h, {len(orders)} open work "
        f"order(s) on {line or key} wait for it; the earliest due: "
        + (", ".join(f"{o['external_id']} ({o['due_at']})" for o in soon[:5]) or "none")
        + ". Ask the planning agent for a re-plan with its effect on due dates."
    )
    citations = [{"type": "asset", "space": found["space"], "external_id": key}]
    citations += [{"type": "work_order", "external_id": o["external_id"]} for o in soon]
    return Answer(
        asset, text, "what_if_down", citations, {"open_orders": float(len(orders)), "hours": hours}
    )


TOOLS: dict[str, Callable[..., Answer]] = {
    "asset_status": asset_status,
    "risks": risks,
    "trace": trace,
    "explain_finding": explain_finding,
    "what_if_down": what_if_down,
}

_TOOL_SCHEMAS = [
    {
        "name": "asset_status",
        "description": asset_status.__doc__,
        "parameters": {
            "type": "object",
            "properties": {"asset": {"type": "string"}},
            "required": ["asset"],
        },
    },
    {
        "name": "risks",
        "description": risks.__doc__,
        "parameters": {"type": "object", "properties": {"horizon_days": {"type": "number"}}},
    },
    {
        "name": "trace",
        "description": trace.__doc__,
        "parameters": {
            "type": "object",
            "properties": {"identifier": {"type": "string"}},
            "required": ["identifier"],
        },
    },
    {
        "name": "explain_finding",
        "description": explain_finding.__doc__,
        "parameters": {
            "type": "object",
            "properties": {"finding_id": {"type": "string"}},
            "required": ["finding_id"],
        },
    },
    {
        "name": "what_if_down",
        "description": what_if_down.__doc__,
        "parameters": {
            "type": "object",
            "properties": {"asset": {"type": "string"}, "hours": {"type": "number"}},
            "required": ["asset"],
        },
    },
]


# -- the deterministic router ----------------------------------------------------------------------
_HORIZONS = {"today": 1.0, "tomorrow": 2.0, "week": 7.0, "month": 30.0, "quarter": 91.0}


def route(store: Store, question: str) -> Answer:
    """Answer one of the documented question types without a language model."""
    text = question.strip()
    lower = text.lower()
    finding = re.search(r"\bfinding\s+([A-Za-z0-9_.:-]+)", text)
    if finding or lower.startswith("explain"):
        identifier = finding.group(1) if finding else text.split()[-1]
        return _asked(explain_finding(store, identifier), question)
    field_or_process = field_or_process_intent(store, text)
    if field_or_process is not None:
        return _asked(field_or_process, question)
    if "what if" in lower or "goes down" in lower or "breaks down" in lower:
        target = re.sub(r"(?i)what if|goes down|go down|breaks down|break down|\?", " ", text)
        hours = re.search(r"(\d+(?:\.\d+)?)\s*(h|hours?)\b", lower)
        target = re.sub(r"(?i)\bfor\s+\d+(?:\.\d+)?\s*(h|hours?)\b", " ", target)
        return _asked(
            what_if_down(store, " ".join(target.split()), float(hours.group(1)) if hours else 8.0),
            question,
        )
    if re.search(r"\b(trace|serial|lot|batch)\b", lower):
        token = re.findall(r"[A-Za-z0-9][A-Za-z0-9_./-]*\d[A-Za-z0-9_./-]*", text)
        if token:
            return _asked(trace(store, token[-1]), question)
    if re.search(r"\b(fail|failure|risk|risks|break|deliveries|due)\b", lower):
        horizon = next((days for word, days in _HORIZONS.items() if word in lower), 7.0)
        return _asked(risks(store, horizon), question)
    if re.search(r"\b(status|how is|state of|health)\b", lower):
        target = re.sub(r"(?i)status of|status|how is|state of|health of|health|the|\?", " ", text)
        return _asked(asset_status(store, " ".join(target.split())), question)
    return Answer(
        question,
        "I can answer: the status of an asset ('status of Press 3'), risks ('which machines "
        "will fail this month?'), traces ('trace serial PU0010000099' or a lot), a finding "
        "('explain finding F-...'), and 'what if Press 3 goes down for 8 hours?'.",
        "help",
    )


def _asked(answer: Answer, question: str) -> Answer:
    answer.question = question
    return answer


# -- the language-model agent ----------------------------------------------------------------------
@dataclass(frozen=True)
class LLMConfig:
    """An OpenAI-compatible chat endpoint."""

    url: str
    model: str
    key: str | None = None
    timeout: float = 20.0

    @classmethod
    def from_environment(cls) -> LLMConfig | None:
        """Read ``FACTORYBRAIN_LLM_URL``, ``_MODEL`` and ``_KEY``; None when no URL is set."""
        url = os.environ.get("FACTORYBRAIN_LLM_URL")
        if not url:
            return None
        return cls(
            url.rstrip("/"),
            os.environ.get("FACTORYBRAIN_LLM_MODEL", "default"),
            os.environ.get("FACTORYBRAIN_LLM_KEY"),
        )


def ask(
    store: Store,
    question: str,
    *,
    llm: LLMConfig | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Answer:
    """Answer a question from the factory model.

    Args:
        store: The factory store.
        question: The question in plain language.
        llm: An OpenAI-compatible endpoint; by default from the environment, and without one the
            deterministic router answers.
        transport: An httpx transport (tests use a scripted one).
    """
    config = llm or LLMConfig.from_environment()
    if config is None:
        return _redacted(route(store, question))
    try:
        return _redacted(_ask_model(store, question, config, transport), config.key)
    except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as error:
        answer = route(store, question)
        # Redacted before it is cut short: a secret cut in half would no longer be recognised.
        reason = redact(str(error), [config.key])[:160]
        answer.note = (
            f"The language model at {config.url} could not answer "
            f"({type(error).__name__}: {reason}); the built-in router answered instead."
        )
        return _redacted(answer, config.key)


def _redacted(answer: Answer, key: str | None = None) -> Answer:
    """The answer with the secrets in its text and note masked (:mod:`factorybrain.secrets`)."""
    answer.answer = redact(answer.answer, [key])
    answer.note = redact(answer.note, [key])
    return answer


def _credentials(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """The URL without its ``user:password@``, and that as basic authentication.

    httpx would take them from the URL the same way, but keep them in the URL it logs and puts
    in its errors.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    netloc = parts.netloc.rsplit("@", 1)[-1]
    auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=netloc)), auth


def _ask_model(
    store: Store, question: str, config: LLMConfig, transport: httpx.BaseTransport | None
) -> Answer:
    headers = {"Authorization": f"Bearer {config.key}"} if config.key else {}
    url, auth = _credentials(config.url)
    install_log_filter("httpx")  # httpx logs each request's URL, which may hold a key
    body = {
        "model": config.model,
        "messages": [
            {
                "role": "system",
                "content": "You answer questions about a factory by calling "
                "exactly one of the tools. Reply with a tool call.",
            },
            {"role": "user", "content": question},
        ],
        "tools": [{"type": "function", "function": schema} for schema in _TOOL_SCHEMAS],
        "tool_choice": "auto",
    }
    with httpx.Client(transport=transport, timeout=config.timeout) as client:
        response = client.post(
            f"{url}/chat/completions",
            json=body,
            headers=headers,
            auth=auth or httpx.USE_CLIENT_DEFAULT,
        )
        response.raise_for_status()
        message = response.json()["choices"][0]["message"]
    calls = message.get("tool_calls") or []
    if not calls:
        raise ValueError("the model answered without calling a tool")
    call = calls[0]["function"]
    name = call["name"]
    if name not in TOOLS:
        raise ValueError(f"the model called an unknown tool {name!r}")
    arguments = json.loads(call.get("arguments") or "{}")
    if not isinstance(arguments, dict):
        raise ValueError("the model's tool arguments are not an object")
    allowed = set(_schema(name)["parameters"]["properties"])
    unknown = set(arguments) - allowed
    missing = set(_schema(name)["parameters"].get("required", [])) - set(arguments)
    if unknown or missing:
        raise ValueError(
            f"the model called {name} with bad arguments (unknown {sorted(unknown)}, "
            f"missing {sorted(missing)})"
        )
    answer = TOOLS[name](store, **arguments)
    answer.question, answer.via = question, f"language model {config.model}"
    return answer


def _schema(name: str) -> dict[str, Any]:
    return next(schema for schema in _TOOL_SCHEMAS if schema["name"] == name)


# -- the router's intents over them ----------------------------------------------------------------
def cohort_causes(store: Store, failure_mode: str | None = None) -> Answer:
    """Which lots, machines or orders cause field claims (of one failure mode, e.g. leak)."""
    page = field_cohorts(store, failure_mode=failure_mode, limit=1000)
    found = page["items"]
    mode = f"{failure_mode} " if failure_mode else ""
    if not found:
        everything = field_cohorts(store, limit=1000)["items"]
        modes = sorted({i["failure_mode"] for i in everything if i["failure_mode"]})
        text = (
            f"No cohort stands out for {mode or 'any '}claims"
            + (f"; the clusters found are of {', '.join(modes)}" if modes else "")
            + (
                "."
                if everything
                else " (the service agent has reported no failure cluster: run it with "
                "'factorybrain agents run')."
            )
        )
        return Answer(failure_mode or "claims", text, "cohort_causes")
    # lots first when the question is about batches: they are what a quarantine acts on
    lots = [i for i in found if i["attribute"] in ("material_lot", "supplier_lot")]
    ranked = lots + [i for i in found if i not in lots]
    parts = [
        f"{i['attribute_label']} {i['label']}: {i['rate_ratio']:.1f} times the claim rate of "
        f"the rest ({i['rate_ratio_low']:.1f}-{i['rate_ratio_high']:.1f}), "
        f"{i['claims']:.0f} claims from {i['units']:.0f} units, q={i['q_value']:.1g}"
        + (f", {i['scope_serials']:.0f} serials still in the field" if i["scope_serials"] else "")
        for i in ranked[:5]
    ]
    text = (
        f"{mode.capitalize() or 'Field '}claims come above all from "
        + "; ".join(parts)
        + (f"; and {len(ranked) - 5} more cohort(s)" if len(ranked) > 5 else "")
        + "."
    )
    citations = [{"type": "finding", "external_id": i["id"]} for i in ranked]
    citations += [dict(i["subject"]) for i in ranked]
    top = ranked[0]
    return Answer(
        failure_mode or "claims",
        text,
        "cohort_causes",
        citations,
        {
            "cohorts": float(len(ranked)),
            "rate_ratio": top["rate_ratio"] or 0.0,
            "claims": top["claims"] or 0.0,
        },
    )


def b_life(store: Store, product: str) -> Answer:
    """The B10 life of a product in the field (Weibull, censored), with its interval."""
    from rapidfuzz import fuzz, process

    from factorybrain.agents import RecordNotFoundError

    every = field_reliability(store)
    choices = {
        f["product"]: f"{f['product']} {f['name'] or ''}"
        for f in [*every["items"], *every["not_fitted"]]
    }
    best = process.extractOne(product, choices, scorer=fuzz.token_set_ratio) if choices else None
    if best is None or best[1] < 60:
        fitted = ", ".join(sorted(f["product"] for f in every["items"])) or "none yet"
        return Answer(
            product,
            f"I found no product matching {product!r} with a field-reliability fit; fitted: "
            f"{fitted}.",
            "b_life",
        )
    try:
        fit = field_reliability(store, best[2])
    except RecordNotFoundError as error:
        return Answer(product, str(error), "b_life")
    label = f"{fit['product']}" + (f" ({fit['name']})" if fit.get("name") else "")
    if not fit["fitted"]:
        return Answer(
            product,
            f"{label} has no field-reliability fit yet: {fit['why']}",
            "b_life",
            [{"type": "product", "external_id": fit["product"]}],
        )
    high = "unbounded" if fit["b10_high_days"] is None else f"{fit['b10_high_days']:.0f}"
    share = f"B{fit['b_life_share'] * 100:g}"
    level = f"{fit['interval']:.0%} interval " if fit["interval"] else "interval "
    text = (
        f"{label}: {share} life {fit['b10_days']:.0f} days in service ({level}"
        f"{fit['b10_low_days']:.0f}-{high}), Weibull shape {fit['weibull_shape']:.2f}, from "
        f"{fit['failures']:.0f} failures among {fit['units']:.0f} units in the field "
        f"({fit['censored_share']:.0%} still running)"
        + (
            f"; the oldest unit has {fit['max_age_days']:.0f} days, so it is extrapolated"
            if fit["extrapolated"]
            else ""
        )
        + "."
    )
    numbers = {
        k: float(fit[k])
        for k in ("b10_days", "b10_low_days", "b10_high_days", "weibull_shape", "units")
        if fit[k] is not None
    }
    return Answer(
        product,
        text,
        "b_life",
        [
            {"type": "product", "space": fit["space"], "external_id": fit["product"]},
            {"type": "finding", "external_id": fit["finding"]},
        ],
        numbers,
    )


def setpoints(store: Store, target: str = "", objective: str | None = None) -> Answer:
    """Which setpoints raise the yield or efficiency of a line or product, by how much."""
    from rapidfuzz import fuzz, process

    from factorybrain.agents import RecordNotFoundError

    line = re.search(r"\bline\s*-?\s*(\w+)", target, re.I)
    scope = "the plant"
    try:
        page = process_proposals(store, limit=1000, line=f"line {line.group(1)}" if line else None)
    except RecordNotFoundError as error:
        return Answer(target, f"{error}.", "setpoints")
    items = page["items"]
    if line:
        scope = f"{page['line']} (makes {', '.join(page['products']) or 'nothing recorded'})"
    elif target.strip():
        choices = {
            index: " ".join([*item["product_ids"], item["product_name"] or ""])
            for index, item in enumerate(items)
        }
        best = process.extractOne(target, choices, scorer=fuzz.token_set_ratio)
        if best is None or best[1] < 60:
            offered = ", ".join(sorted({i["product"] for i in items})) or "none"
            return Answer(
                target,
                f"The design agent proposes no setpoint change for {target.strip()!r}; it "
                f"proposes changes for: {offered}.",
                "setpoints",
            )
        chosen = items[best[2]]["product"]
        items = [i for i in items if i["product"] == chosen]
        scope = chosen
    if not items:
        return Answer(
            target,
            f"The design agent proposes no setpoint change for {scope}: either it has not run "
            "('factorybrain agents run'), or the history cannot tell a better recipe (see its "
            "design.data_gap findings).",
            "setpoints",
        )
    parts = []
    for item in items[:6]:
        moves = ", ".join(
            f"{s['parameter']} {s['current']:g} -> {s['proposed']:g}"
            for s in item["setpoints"]
            if s["changed"]
        )
        verb = "raises" if item["direction"] != "minimize" else "lowers"
        what = "change the recipe" if item["decision"] == "change" else "confirmation runs first"
        parts.append(
            f"{item['product']}: {moves} {verb} {item['objective'] or 'the outcome'} by "
            f"{item['gain']:.3g} ({item['gain_low']:.3g} to {item['gain_high']:.3g}; {what})"
        )
    named = {i["objective"] for i in items if i["objective"]}
    note = ""
    if objective and named and not any(objective.lower() in o.lower() for o in named):
        note = (
            f" The runs record no {objective}; the agent optimised "
            f"{', '.join(sorted(named))}, the outcome they do record."
        )
    text = f"For {scope}: " + "; ".join(parts) + "." + note
    citations = [{"type": "finding", "external_id": i["id"]} for i in items]
    citations += [
        {"type": "recommendation", "external_id": i["recommendation"]["id"]}
        for i in items
        if i["recommendation"]
    ]
    return Answer(
        target or "setpoints",
        text,
        "setpoints",
        citations,
        {"proposals": float(len(items)), "best_gain": float(items[0]["gain"] or 0.0)},
    )


TOOLS.update({"cohort_causes": cohort_causes, "b_life": b_life, "setpoints": setpoints})
_TOOL_SCHEMAS.extend(
    [
        {
            "name": "cohort_causes",
            "description": cohort_causes.__doc__,
            "parameters": {"type": "object", "properties": {"failure_mode": {"type": "string"}}},
        },
        {
            "name": "b_life",
            "description": b_life.__doc__,
            "parameters": {
                "type": "object",
                "properties": {"product": {"type": "string"}},
                "required": ["product"],
            },
        },
        {
            "name": "setpoints",
            "description": setpoints.__doc__,
            "parameters": {
                "type": "object",
                "properties": {"target": {"type": "string"}, "objective": {"type": "string"}},
            },
        },
    ]
)

_B_LIFE = re.compile(r"\bb\s?-?(\d{1,2})\b|\bweibull\b|\breliab|\bfield life\b|\blifetime\b")
_CAUSE = re.compile(r"\b(cause|causes|caused|causing|behind|source|explains?|why)\b")
_CLAIMS = re.compile(
    r"\b(claims?|complaints?|returns?|field failures?|leak\w*|fail\w* in the field)"
)
_ASKED_MODE = re.compile(r"\b([a-z]+)\s+(?:claims?|complaints?|failures?|returns?)\b")
_NOT_A_MODE = {"the", "field", "warranty", "which", "what", "all", "these", "customer", "our"}
_SETPOINTS = re.compile(r"\b(setpoints?|set points?|settings?|parameters?|recipe)\b")
_RAISE = re.compile(r"\b(raise|increase|improve|boost|better|higher|optimi[sz]e|lower|reduce)\b")
_NOT_A_PRODUCT = re.compile(
    r"(?i)\b(what|what's|whats|is|are|the|a|an|of|for|product|b\s?-?\d+|life|lives|how|"
    r"reliable|reliability|in|field|weibull|lifetime|its|does|do|long|last|our)\b|\?"
)
_TARGET = re.compile(r"\b(?:of|on|for)\s+(.+?)\s*\??$")
_OUTCOME = r"(yield|efficiency|scrap|throughput|output)"


def field_or_process_intent(store: Store, question: str) -> Answer | None:
    """The router's field and process questions, or None when the question is another kind.

    "which batch causes leak claims?", "what is the B10 life of product AC25-40?", "which
    setpoints raise the yield of line 2?" and their paraphrases.
    """
    text = question.strip()
    lower = text.lower()
    if _SETPOINTS.search(lower) and (_RAISE.search(lower) or "which" in lower):
        objective = re.search(rf"\b{_OUTCOME}\b", lower)
        target = _TARGET.search(text)
        what = target.group(1) if target else ""
        what = re.sub(rf"(?i)^(the\s+)?{_OUTCOME}\s+(of|on|for)\s+", "", what)
        what = re.sub(r"(?i)^(the|product)\s+", "", what).strip()
        return setpoints(store, what, objective.group(1) if objective else None)
    if _B_LIFE.search(lower) and not _CAUSE.search(lower):
        named = " ".join(_NOT_A_PRODUCT.sub(" ", text).split())
        return b_life(store, named or text)
    if _CLAIMS.search(lower) and (_CAUSE.search(lower) or re.search(r"\b(which|what)\b", lower)):
        cohorts = field_cohorts(store, limit=1000)["items"]
        mode = next(
            (
                i["failure_mode"]
                for i in cohorts
                if i["failure_mode"] and same_mode(lower, i["failure_mode"])
            ),
            None,
        )
        asked = _ASKED_MODE.search(lower)
        if mode is None and asked and asked.group(1) not in _NOT_A_MODE:
            mode = asked.group(1)  # a mode no cluster has: the answer says so
        return cohort_causes(store, mode)
    return None


__all__ = [
    "TOOLS",
    "Answer",
    "LLMConfig",
    "ask",
    "b_life",
    "cohort_causes",
    "field_or_process_intent",
    "route",
    "setpoints",
]
