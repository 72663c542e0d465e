"""``ask``: plain-language questions answered from the factory model, with their evidence.

Two ways to answer, one set of tools (``_tools``):

* without a language model, a deterministic router (``_router``) reads questions in English,
  German and Chinese: the domain's words per language (``_language``), periods counted from the
  latest data (``_periods``), and names of machines, materials, lots and serials as any silo
  writes them, resolved through the approved identity links with typos tolerated
  (``_names``). It answers OEE and its losses, machine status and failures, late orders, parts
  to order, the suppliers and lots behind claims, traces, findings and what-ifs
  (``_production``, ``_machines``, ``_field``, ``_records``), and says "out of scope" with what it
  can answer when a question is about something else;
* with an OpenAI-compatible endpoint configured (``FACTORYBRAIN_LLM_URL``,
  ``FACTORYBRAIN_LLM_MODEL``, ``FACTORYBRAIN_LLM_KEY``: vLLM, Ollama, llama.cpp server, hosted
  models), a tool-calling agent chooses among the same tools (``_model``). A model that is down,
  slow or answers nonsense never breaks ``ask``: the router answers and says so.

Every answer cites the entities, findings and numbers it used.
"""

from __future__ import annotations

from factorybrain.ask._answer import Answer
from factorybrain.ask._field import b_life, claim_suppliers, cohort_causes, setpoints
from factorybrain.ask._machines import asset_status, risks, what_if_down
from factorybrain.ask._model import LLMConfig, ask
from factorybrain.ask._production import late_orders, oee_losses, oee_report, parts_to_order
from factorybrain.ask._records import explain_finding, trace
from factorybrain.ask._router import field_or_process_intent, route
from factorybrain.ask._tools import TOOLS

__all__ = [
    "TOOLS",
    "Answer",
    "LLMConfig",
    "ask",
    "asset_status",
    "b_life",
    "claim_suppliers",
    "cohort_causes",
    "explain_finding",
    "field_or_process_intent",
    "late_orders",
    "oee_losses",
    "oee_report",
    "parts_to_order",
    "risks",
    "route",
    "setpoints",
    "trace",
    "what_if_down",
]
