"""``ask`` on the demo pump plant: does the built-in router answer the questions people ask?

Asks every question of a question set (default ``tests/data/ask_questions.yaml``: English,
German and Chinese, typos and messy names, questions out of scope) with the router alone (no
language model) on the demo plant, loaded, linked and run through every agent: the store given
(``--store`` with ``--plant``, the folder holding ``truth.json``), or a plant simulated, loaded
and linked now (``--seed`` 7, ``--days`` 180, ``--machines`` 12), on which the agents then run
as the demo runs them (minutes).

An answer is right when it comes from the expected tool, cites every expected entity (canonical
ids, after the approved identity links), is about the expected subject (its first citation),
cites none of the wrong ones, contains the expected words, and gives every expected figure within
its tolerance; OEE figures are computed here by the functions behind ``factorybrain oee``
(``plant_oee``) over the period the question means. An answer about another subject is wrong.

Prints each question's verdict on stderr and one JSON object on its last line: ``questions``,
``correct``, ``accuracy``, ``out_of_scope_questions``, ``out_of_scope_correct``,
``by_language`` (questions, correct and accuracy per language), ``typos`` (the same for the
questions with typos or messy names), ``wrong`` (the ids of the wrong ones), ``median_ms`` and
``max_ms`` (time per answer) and ``seconds``.

Example:
    python benchmarks/ask_demo.py --store /tmp/ask.duckdb --plant /tmp/demo/plant
    python benchmarks/ask_demo.py
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import warnings
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from _demo_plant import add_plant_arguments, demo_plant  # noqa: E402 (this folder)
from factorybrain.ask import Answer, route
from factorybrain.store import Store, open_store

QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "ask_questions.yaml"
_PLACEHOLDER = re.compile(r"\{finding:([a-z_.]+)\}")
_NOT_SUBJECTS = ("finding", "recommendation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_plant_arguments(parser)
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="the question set")
    args = parser.parse_args()
    questions = yaml.safe_load(args.questions.read_text(encoding="utf-8"))
    started = time.perf_counter()
    with demo_plant(parser, args, prefix="fb-ask-", link=True) as (store_path, truth):
        expected_plant = questions.get("plant", {})
        plant = truth.get("plant", {})
        if any(plant.get(k) != v for k, v in expected_plant.items()):
            print(
                f"warning: the question set expects the plant {expected_plant}, this one is "
                f"{ {k: plant.get(k) for k in expected_plant} }: expect wrong answers",
                file=sys.stderr,
            )
        if args.store is None:
            run_agents(store_path, truth)
        with open_store(store_path, read_only=True) as store:
            result = ask_all(store, questions["questions"])
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


def run_agents(store_path: Path, truth: dict[str, Any]) -> None:
    """Run every agent's demo stage on a plant loaded and linked now, as the demo does."""
    from factorybrain.demo import parts

    with open_store(store_path) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the stages' notes about short histories
        for part in parts():
            if part.name == "contextualize" or part.stage is None:
                continue  # linked already
            started = time.perf_counter()
            part.stage(store, truth)
            print(f"{part.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def ask_all(store: Store, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Ask every question and judge each answer."""
    references = References(store)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong, times = [], []
    out_of_scope = [0, 0]
    for item in questions:
        text = _PLACEHOLDER.sub(lambda m: references.newest_finding(m.group(1)), item["question"])
        began = time.perf_counter()
        answer = route(store, text)
        times.append((time.perf_counter() - began) * 1000)
        problems = judge(item, answer, references)
        right = not problems
        for key in (item["language"], *(["typos"] if item.get("typo") else [])):
            tally[key][0] += 1
            tally[key][1] += right
        if item["intent"] == "out_of_scope":
            out_of_scope[0] += 1
            out_of_scope[1] += right
        if not right:
            wrong.append(item["id"])
        verdict = "ok   " if right else "WRONG"
        print(f"{verdict} {item['id']}: {text!r} -> {answer.tool}", file=sys.stderr)
        for problem in problems:
            print(f"        {problem}", file=sys.stderr)
        if problems:
            print(f"        answer: {answer.answer[:300]}", file=sys.stderr)
    total = len(questions)
    correct = total - len(wrong)
    typos = tally.pop("typos", [0, 0])
    return {
        "questions": total,
        "correct": correct,
        "accuracy": round(correct / total, 4) if total else None,
        "out_of_scope_questions": out_of_scope[0],
        "out_of_scope_correct": out_of_scope[1],
        "by_language": {
            language: {"questions": n, "correct": c, "accuracy": round(c / n, 4)}
            for language, (n, c) in sorted(tally.items())
        },
        "typos": {"questions": typos[0], "correct": typos[1]},
        "wrong": wrong,
        "median_ms": round(statistics.median(times), 1) if times else None,
        "max_ms": round(max(times), 1) if times else None,
    }


def judge(item: dict[str, Any], answer: Answer, references: References) -> list[str]:
    """What is wrong with an answer; empty when it is right."""
    problems = []
    if answer.tool != item["intent"]:
        problems.append(f"tool {answer.tool}, expected {item['intent']}")
    cited = [str(c.get("external_id")) for c in answer.citations]
    subjects = [
        str(c.get("external_id")) for c in answer.citations if c.get("type") not in _NOT_SUBJECTS
    ]
    expected = [str(e) for e in item.get("entities", [])]
    if item.get("entities_from"):
        expected += references.entities(item["entities_from"])
    missing = [e for e in expected if e not in cited]
    if missing:
        problems.append(f"does not cite {missing}")
    if "subject" in item and (not subjects or subjects[0] != str(item["subject"])):
        problems.append(f"about {subjects[:1]}, expected {item['subject']}")
    named = [str(e) for e in item.get("not_entities", []) if str(e) in cited]
    if named:
        problems.append(f"cites the wrong {named}")
    text = answer.answer.lower()
    absent = [w for w in item.get("says", []) if str(w).lower() not in text]
    if absent:
        problems.append(f"does not say {absent}")
    for figure in item.get("figures", []):
        key = figure["number"]
        if key not in answer.numbers:
            problems.append(f"no figure {key!r}")
            continue
        reference = references.figure(figure)
        tolerance = float(figure.get("tolerance", 0.0005))
        if reference is None or abs(answer.numbers[key] - reference) > tolerance:
            problems.append(f"{key} = {answer.numbers[key]:.6g}, reference {reference}")
    return problems


class References:
    """The expected figures and ids that come from the data, computed as the platform does."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._oee: dict[tuple[Any, ...], Any] = {}

    def figure(self, figure: dict[str, Any]) -> float | None:
        """The reference value of one expected figure."""
        if "value" in figure:
            return float(figure["value"])
        from factorybrain.agents.planning import plant_oee

        spec = figure["oee"]
        start, end = _instant(spec.get("start")), _instant(spec.get("end"))
        assets = tuple(spec.get("assets") or ())
        key = (spec["by"], assets, start, end)
        if key not in self._oee:
            self._oee[key] = plant_oee(
                self.store, by=spec["by"], assets=list(assets) or None, start=start, end=end
            ).set_index(spec["by"])
        table = self._oee[key]
        ratio = spec.get("ratio") or figure["number"].split(":", 1)[0]
        group = str(spec["group"])
        return float(table.loc[group, ratio]) if group in table.index else None

    def entities(self, name: str) -> list[str]:
        """Ids the data says an answer must cite (``late_orders``)."""
        if name != "late_orders":
            raise ValueError(f"unknown entities_from {name!r}")
        from factorybrain.agents.planning import PLAN_SPACE

        late = self.store.query(
            "SELECT DISTINCT external_id FROM work_order WHERE planned_end > due_at AND "
            "external_id IN (SELECT work_order FROM operation WHERE space = ? "
            "AND status = 'planned')",
            [PLAN_SPACE],
        )
        return sorted(str(i) for i in late["external_id"])

    def newest_finding(self, kind: str) -> str:
        """The id of the newest open finding of a kind."""
        found = self.store.query(
            "SELECT external_id FROM finding WHERE kind = ? AND status IN ('open', "
            "'acknowledged') ORDER BY created_at DESC, external_id LIMIT 1",
            [kind],
        )
        return str(found["external_id"].iloc[0]) if len(found) else "fnd-none"


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(str(value))


if __name__ == "__main__":
    main()
