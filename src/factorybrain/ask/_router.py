"""The router: a question in English, German or Chinese to one tool, without a language model.

The question is read once (:class:`~factorybrain.ask._language.Question`): the concepts it uses
(OEE, downtime, spare part, supplier, claim, late...), the period it names, counted from the
latest data (:mod:`factorybrain.ask._periods`), and the machine or line it names, resolved
through the approved identity links (:mod:`factorybrain.ask._names`). Rules in a fixed order turn
those into one tool call. A question about something the platform has no data on (the weather,
a poem, a match) is answered "out of scope" with what can be asked instead, never with an answer
about another subject.
"""

from __future__ import annotations

import re

from factorybrain.ask._answer import Answer
from factorybrain.ask._field import b_life, claim_suppliers, cohort_causes, setpoints
from factorybrain.ask._language import (
    GROUPINGS,
    REQUEST_WORDS,
    STOPWORDS,
    Question,
    kinds_in_english,
    vocabulary_spans,
)
from factorybrain.ask._machines import risks, status_of, what_if_of
from factorybrain.ask._names import Entity, Found, NameIndex, name_index, unresolved
from factorybrain.ask._periods import Period, data_end, find_period, mend, period_words
from factorybrain.ask._production import late_orders, losses_of, oee_of, parts_to_order
from factorybrain.ask._records import explain_finding, trace
from factorybrain.insights import field_cohorts, same_mode
from factorybrain.store import Store

#: What the router answers, per language: said when asked for help and when out of scope.
CAPABILITIES = {
    "en": "I answer questions about this plant's data: OEE and its losses by line, machine or "
    "period ('OEE last week by line', 'why is line 2 slow?'); the status of a machine ('status "
    "of Press 3'); which machines will fail ('which machines will fail this week?'); late "
    "orders and why; spare parts to order; which suppliers or lots cause claims; traces of a "
    "serial or lot ('trace serial PU0010000099'); a finding ('explain finding fnd-...'); and "
    "'what if Press 3 goes down for 8 hours?'.",
    "de": "Ich beantworte Fragen zu den Daten dieses Werks: OEE und Verluste je Linie, "
    "Maschine oder Zeitraum ('OEE letzte Woche pro Linie', 'Warum ist Linie 2 langsam?'); den "
    "Status einer Maschine ('Status von Presse 3'); welche Maschinen ausfallen werden; "
    "verspätete Aufträge und warum; Ersatzteile, die zu bestellen sind; welche Lieferanten oder "
    "Chargen Reklamationen verursachen; die Rückverfolgung einer Seriennummer oder Charge.",
    "zh": "我回答有关本工厂数据的问题：按产线、设备或时间段的OEE及其损失（'上周各产线的OEE'，"
    "'为什么2号线慢'）；设备状态（'PRS-03的状态'）；哪些设备将发生故障；哪些订单延误及原因；"
    "需要订购的备件；哪些供应商或批次导致索赔；序列号或批次的追溯。",
}
_OUT_OF_SCOPE = {
    "en": "Out of scope: I cannot answer that from this plant's data. ",
    "de": "Außerhalb meines Bereichs (out of scope): das kann ich aus den Daten des Werks nicht "
    "beantworten. ",
    "zh": "超出范围（out of scope）：无法根据本工厂的数据回答这个问题。",
}
_FINDING_ID = re.compile(r"\b(fnd-[0-9a-f]{6,})\b", re.IGNORECASE)
_FINDING = re.compile(r"\bfinding\s+([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_HOURS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:h|hours?|stunden?|std|小时)(?![a-z])")
_NEXT_DAYS = re.compile(
    r"(?:next|within|coming|naechsten|innerhalb|未来|接下来)\D{0,12}?(\d+)\s*"
    r"(days?|tagen?|tage|天|weeks?|wochen?|周)"
)
_HORIZONS = (
    (re.compile(r"\btoday\b|\bheute\b|今天"), 1.0),
    (re.compile(r"\btomorrow\b|\bmorgen\b|明天"), 2.0),
    (re.compile(r"\bweek\b|\bwoche\b|周|星期"), 7.0),
    (re.compile(r"\bmonth\b|\bmonat\b|月"), 30.0),
    (re.compile(r"\bquarter\b|\bquartal\b|季度"), 91.0),
)
_OBJECTIVES = {
    "yield": ("yield", "ausbeute", "良率", "产量"),
    "efficiency": ("efficiency", "effizienz", "wirkungsgrad", "效率"),
    "scrap": ("scrap", "ausschuss", "报废"),
    "throughput": ("throughput", "durchsatz", "产能"),
    "output": ("output", "ausbringung", "产出"),
}
_DAY_WORDS = {"day": 1, "tag": 1, "天": 1, "week": 7, "woche": 7, "周": 7}
# English forms of the field questions the router has answered since before it read German.
_NOT_A_PRODUCT = re.compile(
    r"(?i)\b(what|what's|whats|is|are|the|a|an|of|for|product|b\s?-?\d+|life|lives|how|"
    r"reliable|reliability|in|field|weibull|lifetime|its|does|do|long|last|our)\b|\?"
)
_TARGET = re.compile(r"\b(?:of|on|for)\s+(.+?)\s*\??$")
_OUTCOME = r"(yield|efficiency|scrap|throughput|output)"
_ASKED_MODE = re.compile(r"\b([a-z]+)\s+(?:claims?|complaints?|failures?|returns?)\b")
_NOT_A_MODE = {"the", "field", "warranty", "which", "what", "all", "these", "customer", "our"}


class _Reading:
    """What the router knows about one question; the period and the asset are read on demand."""

    def __init__(self, store: Store, question: Question) -> None:
        self.store = store
        self.question = question
        self._index: NameIndex | None = None
        self._period: tuple[Period | None, set[int]] | None = None
        self._asset: tuple[Found | None] | None = None

    @property
    def index(self) -> NameIndex:
        if self._index is None:
            self._index = name_index(self.store)
        return self._index

    def _read_period(self) -> tuple[Period | None, set[int]]:
        """The period and the positions of its words (they name no machine)."""
        if self._period is None:
            mended = mend(self.question.folded)
            found = find_period(mended, data_end(self.store))
            self._period = (found, period_words(mended, found))
        return self._period

    @property
    def period(self) -> Period | None:
        """The period the question names, or None."""
        return self._read_period()[0]

    def window(self) -> Period:
        """The period asked for, the whole history when none is named."""
        return self.period or Period(None, None, "the whole history")

    @property
    def asset(self) -> Found | None:
        """The machine or line the question names (None when it names none)."""
        if self._asset is None:
            skip = self._read_period()[1]
            self._asset = (self.index.find(self.question, ("asset",), skip),)
        return self._asset[0]

    def entity(self) -> Entity | None:
        """The asset when one was resolved; an ambiguous or unknown name counts as none."""
        found = self.asset
        return found.entity if found is not None else None


def route(store: Store, question: str) -> Answer:
    """Answer a question in English, German or Chinese with the built-in router (no model)."""
    asked = Question.read(question.strip())
    answer = _route(_Reading(store, asked))
    answer.question = question
    return answer


def _route(reading: _Reading) -> Answer:
    q, store = reading.question, reading.store
    named = _FINDING_ID.search(q.text) or _FINDING.search(q.text)
    if named or q.folded.startswith("explain "):
        return explain_finding(store, named.group(1) if named else q.text.split()[-1])
    if q.has("out_of_scope"):
        return out_of_scope(q)
    if q.has("help") and not _domain(q):
        return Answer(q.text, CAPABILITIES[q.language], "help")
    field_or_process = _field_or_process(reading)
    if field_or_process is not None:
        return field_or_process
    entity = reading.entity()
    if q.has("what_if") and entity is not None:
        hours = _HOURS.search(q.folded)
        return what_if_of(store, entity, float(hours.group(1)) if hours else 8.0, q.text)
    if q.has("late"):
        return late_orders(store, _code(entity))
    if q.has("spare"):
        return parts_to_order(store, True, _code(entity))
    if q.has("material") or q.has("buy"):
        return parts_to_order(store, False)
    production = _production(reading)
    if production is not None:
        return production
    if q.any_of("trace", "serial", "lot"):
        identifier = _identifier(q)
        if identifier:
            return trace(store, identifier)
    if q.has("fail"):
        if entity is not None:
            return status_of(store, reading.index, entity, q.text)
        return risks(store, _horizon(q))
    found = reading.asset
    if q.has("status"):
        if found is None or found.entity is None:
            return unresolved(q.text, found, "asset_status")
        return status_of(store, reading.index, found.entity, q.text)
    if found is not None and found.entity is not None and _only_a_name(q, found):
        return status_of(store, reading.index, found.entity, q.text)
    return out_of_scope(q)


def out_of_scope(question: Question) -> Answer:
    """The answer to a question the platform has no data for: out of scope, and what to ask."""
    return Answer(
        question.text,
        _OUT_OF_SCOPE[question.language] + CAPABILITIES[question.language],
        "out_of_scope",
    )


def _code(entity: Entity | None) -> str:
    """The entity's id as the tools take it, empty for none."""
    return entity.external_id if entity is not None else ""


def _identifier(q: Question) -> str | None:
    """The serial or lot a question names, as typed: ``PU 001 0000522``, ``B3100526``.

    The last run of words outside the vocabulary that has a digit; spaces inside it are kept
    (a serial typed in groups), the store's serial resolution sets them aside.
    """
    taken = vocabulary_spans(q, before_numbers=True)
    runs: list[list[int]] = []
    for position in range(len(q.words)):
        if position in taken:
            runs.append([])
        elif runs and runs[-1] and runs[-1][-1] == position - 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    text = q.text if len(q.text) == len(q.folded) else q.folded
    for run in reversed(runs):
        if run and any(ch.isdigit() for p in run for ch in q.words[p]):
            chunks = text[q.offsets[run[0]][0] : q.offsets[run[-1]][1]].split()
            while chunks and not any(c.isdigit() for c in chunks[-1]):
                chunks.pop()  # "lot 3101039 go": the word after it is no part of it
            while chunks and not any(c.isdigit() for c in chunks[0]) and len(chunks[0]) > 4:
                chunks.pop(0)  # a serial's letters ("PU 001 ...") are short, words are not
            return " ".join(chunks) or None
    return None


def _domain(q: Question) -> bool:
    return q.any_of("oee", "slow", "spare", "supplier", "claim", "late", "status", "fail", "trace")


def _only_a_name(q: Question, found: Found) -> bool:
    """Whether the question asks for nothing but the thing it names.

    "Press 3?", "tell me about PRS-03", "is line 3 running?": at most one word besides the name
    and the words of asking.
    """
    named = set(found.mention.split())
    rest = [
        w
        for w in q.words
        if w not in named and w not in STOPWORDS and w not in REQUEST_WORDS and not w.isdigit()
    ]
    return len(rest) <= 1


def _production(reading: _Reading) -> Answer | None:
    """OEE questions: the figures per line, machine or shift, or why one is slow."""
    q, store = reading.question, reading.store
    why_asset = q.has("why") and not q.has("fail") and reading.entity() is not None
    if not (q.has("oee") or q.has("slow") or why_asset):
        return None
    found = reading.asset
    if found is not None and found.entity is None and any(c.isdigit() for c in found.mention):
        return unresolved(q.text, found, "oee_losses" if q.any_of("slow", "why") else "oee")
    entity = found.entity if found is not None else None  # "which line...": every line
    by = next((group for group in ("shift", "machine", "line") if q.has(group, GROUPINGS)), None)
    if q.any_of("slow", "why") and (entity is not None or by is None):
        return losses_of(store, reading.index, entity, reading.window())
    if by is None:
        by = "machine" if entity is not None and entity.level != "line" else "line"
    return oee_of(store, reading.index, entity, reading.window(), by)


def _horizon(q: Question) -> float:
    """Days ahead a question about failures looks: "next 3 days", "this month", a week."""
    ahead = _NEXT_DAYS.search(q.folded)
    if ahead:
        unit = next((d for w, d in _DAY_WORDS.items() if ahead.group(2).startswith(w)), 1)
        return float(ahead.group(1)) * unit
    return next((days for pattern, days in _HORIZONS if pattern.search(q.folded)), 7.0)


def _field_or_process(reading: _Reading) -> Answer | None:
    """Setpoints, B10 lives, the suppliers and cohorts behind claims; None for other questions."""
    q, store = reading.question, reading.store
    lower = q.folded
    if q.has("setpoint") and q.any_of("raise", "which"):
        return _setpoints(reading)
    if q.has("reliability") and not q.any_of("cause", "why", "fail", "claim"):
        named = " ".join(_NOT_A_PRODUCT.sub(" ", q.text).split())
        return b_life(store, named or q.text)
    claims, defects = q.has("claim"), q.has("defect")
    if q.has("supplier") and q.has("lot") and _identifier(q):
        return trace(store, str(_identifier(q)))  # "which supplier made lot 3100526?"
    if q.has("supplier") and not q.any_of("spare", "buy", "late"):
        return claim_suppliers(store, "defects" if defects and not claims else "claims")
    if claims and q.any_of("cause", "why", "lot", "which"):
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


def _setpoints(reading: _Reading) -> Answer:
    q = reading.question
    objective = next(
        (name for name, words in _OBJECTIVES.items() if any(w in q.folded for w in words)), None
    )
    line = re.search(r"\bline\s*-?\s*\w+", kinds_in_english(q.folded))  # "Linie 2", "2号线"
    if line:
        return setpoints(reading.store, line.group(0), objective)
    target = _TARGET.search(q.text)
    what = target.group(1) if target else ""
    what = re.sub(rf"(?i)^(the\s+)?{_OUTCOME}\s+(of|on|for)\s+", "", what)
    what = re.sub(r"(?i)^(the|product)\s+", "", what).strip()
    return setpoints(reading.store, what, objective)


def field_or_process_intent(store: Store, question: str) -> Answer | None:
    """The router's field and process questions, or None when the question is another kind.

    "which batch causes leak claims?", "what is the B10 life of product AC25-40?", "which
    setpoints raise the yield of line 2?", "which supplier causes claims?" and their
    paraphrases, in English, German or Chinese.
    """
    return _field_or_process(_Reading(store, Question.read(question.strip())))


__all__ = ["CAPABILITIES", "field_or_process_intent", "out_of_scope", "route"]
