"""Names people use for things, resolved to the one entity every silo's name stands for.

Each silo names a machine its own way: the MES ``PRS-03`` "Hydraulic press 3", the ERP
``10004381`` "Hydraulic press 03, line 3", the historian's tags ``L3_PRS03.*``, the engineering
``line3/press-3``. An approved identity link (an ``annotation`` with ``status = 'approved'``)
says two of them are one machine; a suggested one says nothing until someone approves it. The
index here is built from the store alone (entity ids, names, aliases, time-series tags and the
approved links), so it knows no plant's names in advance.

A question's words are matched against every name: as written (case, separators and zero
padding aside: ``prs3``, ``PRS 03``, ``l3-prs-03``), or word by word with typos tolerated
(``Prss 3``, ``Presse 3``) where the numbers must agree, so "Press 3" is never Press 1.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from factorybrain.ask._answer import Answer
from factorybrain.ask._language import (
    STOPWORDS,
    Question,
    fold,
    kinds_in_english,
    vocabulary_spans,
)
from factorybrain.store import Store

#: Entity types whose names are matched word by word, typos tolerated.
FUZZY_TYPES = ("asset", "material", "product", "supplier", "customer")
#: Entity types matched only as written (case, separators and zero padding aside).
EXACT_TYPES = ("material_lot", "supplier_lot", "work_order")
#: Lowest score of a name that counts as meant.
THRESHOLD = 0.72
#: Two entities this close in score are both meant: the answer asks which one.
AMBIGUOUS_WITHIN = 0.05
_TABLES = (*FUZZY_TYPES, *EXACT_TYPES, "annotation", "time_series")
_TOKEN = re.compile(r"[a-z]+|[0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_INDEXES: dict[tuple[Any, ...], NameIndex] = {}


@dataclass(frozen=True)
class Entity:
    """One thing of the factory model, as its hub silo records it."""

    type: str
    space: str
    external_id: str
    name: str | None = None
    level: str | None = None
    parent: str | None = None

    @property
    def label(self) -> str:
        """``Hydraulic press 3 (PRS-03)``, or the id alone."""
        return f"{self.name} ({self.external_id})" if self.name else self.external_id

    def ref(self) -> dict[str, Any]:
        """The entity as a citation."""
        return {"type": self.type, "space": self.space, "external_id": self.external_id}


@dataclass(frozen=True)
class Name:
    """One way to write an entity, ready to compare."""

    text: str
    entity: Entity
    words: tuple[str, ...]
    numbers: tuple[str, ...]
    compact: str


@dataclass
class Found:
    """What a question's words name.

    Attributes:
        entity: The entity meant, None when none or several fit.
        mention: The words of the question it was read from.
        score: How well they fit (1 for a name as written).
        candidates: Entities that fit equally well (an ambiguous name), best first.
        suggestions: The closest names when nothing fits.
    """

    entity: Entity | None
    mention: str = ""
    score: float = 0.0
    candidates: list[Entity] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)

    def explain(self, what: str = "machine or line") -> str:
        """Why nothing was resolved, for the answer."""
        if self.candidates:
            shown = ", ".join(e.label for e in self.candidates[:6])
            return f"{self.mention!r} fits several: {shown}. Which one do you mean?"
        closest = f" The closest names: {', '.join(self.suggestions)}." if self.suggestions else ""
        return f"I found no {what} named {self.mention!r}.{closest}"


def name_tokens(text: str) -> list[str]:
    """Words and numbers of a name, numbers without zero padding, kinds in English.

    ``L3_PRS03`` gives ``['l', '3', 'prs', '3']``; ``Presse 03`` gives ``['press', '3']``.
    """
    out = []
    for token in _TOKEN.findall(kinds_in_english(fold(text))):
        out.append(token.lstrip("0") or "0" if token.isdigit() else token)
    return out


def _name(text: str, entity: Entity) -> Name | None:
    tokens = name_tokens(text)
    if not tokens:
        return None
    words = tuple(t for t in tokens if not t.isdigit() and (len(t) > 1 or _CJK.match(t)))
    return Name(
        text,
        entity,
        tuple(w for w in words if w not in STOPWORDS),
        tuple(sorted(t for t in tokens if t.isdigit())),
        "".join(tokens),
    )


class NameIndex:
    """Every name of every entity, each pointing at the entity it stands for.

    Args:
        store: The factory store.
    """

    def __init__(self, store: Store) -> None:
        self.names: list[Name] = []
        self.by_compact: dict[str, list[Name]] = defaultdict(list)
        self.identifiers: dict[tuple[str, str, str], set[tuple[str, str]]] = defaultdict(set)
        self.suggested: dict[tuple[str, str], list[tuple[str, str, float]]] = defaultdict(list)
        self._entities: dict[tuple[str, str, str], Entity] = {}
        self._seen: set[tuple[str, Entity, bool]] = set()
        links = self._links(store)
        rows = {kind: _entity_rows(store, kind) for kind in (*FUZZY_TYPES, *EXACT_TYPES)}
        for kind, found in rows.items():
            for row in found:
                self._entities[(kind, row["space"], row["external_id"])] = Entity(
                    kind,
                    row["space"],
                    row["external_id"],
                    row.get("name"),
                    row.get("level"),
                    row.get("parent"),
                )
        for kind, found in rows.items():
            for row in found:
                hub = self._hub(kind, row["space"], row["external_id"], links)
                texts = [row["external_id"], row.get("name"), *(row.get("aliases") or [])]
                self._add(hub, (row["space"], row["external_id"]), texts)
        for (space, identifier), (kind, target_space, target) in links.items():
            hub = self._hub(kind, target_space, target, links)
            group = _tag_group(identifier)
            self._add(hub, (space, identifier), [group or identifier])
            if group:  # a tag names its machine by its group; the signal part is no name
                self._add(hub, (space, identifier), [identifier], fuzzy=False)
        asset_spaces: dict[str, list[str]] = defaultdict(list)
        for row in rows["asset"]:
            asset_spaces[row["external_id"]].append(row["space"])
        for row in _time_series(store):
            # a series names its asset by id, in its own space or (put there by an approved
            # link) in the asset's: the asset is the one that id leads to, if only one
            asset = str(row["asset"])
            spaces = asset_spaces.get(asset, [])
            if row["space"] in spaces:
                spaces = [row["space"]]
            owners = {self._hub("asset", space, asset, links) for space in spaces}
            if len(owners) != 1:
                continue
            hub = owners.pop()
            tags = [row["external_id"], row.get("name")]
            self._add(hub, (row["space"], row["external_id"]), tags, fuzzy=False)
            self._add(hub, (row["space"], row["external_id"]), map(_tag_group, tags))

    def _links(self, store: Store) -> dict[tuple[str, str], tuple[str, str, str]]:
        """``(source space, identifier) -> (type, target space, target id)`` of approved links.

        Suggested links are kept apart (:meth:`pending`): they are never followed.
        """
        found = store.query(
            "SELECT source_space, source_identifier, target_type, target_space, "
            "target_external_id, status, confidence FROM annotation "
            "WHERE status IN ('approved', 'suggested') AND source_identifier IS NOT NULL "
            "AND target_external_id IS NOT NULL ORDER BY confidence DESC NULLS LAST"
        )
        links: dict[tuple[str, str], tuple[str, str, str]] = {}
        for row in found.itertuples(index=False):
            source = (str(row.source_space), str(row.source_identifier))
            target = (str(row.target_type), str(row.target_space), str(row.target_external_id))
            if row.status == "approved":
                links.setdefault(source, target)
            else:
                confidence = float(row.confidence) if row.confidence == row.confidence else 0.0
                self.suggested[source].append((target[1], target[2], confidence))
        return links

    def _hub(
        self,
        kind: str,
        space: str,
        external_id: str,
        links: dict[tuple[str, str], tuple[str, str, str]],
    ) -> Entity:
        """The entity a silo's record stands for: where its approved links lead (a few hops)."""
        seen = {(space, external_id)}
        while (space, external_id) in links:
            kind, space, external_id = links[(space, external_id)]
            if (space, external_id) in seen:
                break
            seen.add((space, external_id))
        known = self._entities.get((kind, space, external_id))
        return known or Entity(kind, space, external_id)

    def _add(
        self,
        hub: Entity,
        source: tuple[str, str],
        texts: Iterable[str | None],
        *,
        fuzzy: bool = True,
    ) -> None:
        key = (hub.type, hub.space, hub.external_id)
        self.identifiers[key].update({source, (hub.space, hub.external_id)})
        for text in dict.fromkeys(t for t in texts if t):
            name = _name(str(text), hub)
            if name is None or (name.text, hub, fuzzy) in self._seen:
                continue
            self._seen.add((name.text, hub, fuzzy))
            self.by_compact[name.compact].append(name)
            if fuzzy and hub.type in FUZZY_TYPES:
                self.names.append(name)

    def ids_of(self, entity: Entity) -> set[tuple[str, str]]:
        """Every ``(space, external id)`` that names the entity in some silo, its own included."""
        return self.identifiers.get(
            (entity.type, entity.space, entity.external_id), {(entity.space, entity.external_id)}
        )

    def entity(self, kind: str, space: str, external_id: str) -> Entity | None:
        """The entity stored under these keys, None when the store has none."""
        return self._entities.get((kind, space, external_id))

    def children(self, entity: Entity) -> list[Entity]:
        """The assets whose parent is this asset (a line's machines), in id order."""
        return sorted(
            (
                e
                for (kind, space, _), e in self._entities.items()
                if kind == "asset" and space == entity.space and e.parent == entity.external_id
            ),
            key=lambda e: e.external_id,
        )

    def pending(self, entity: Entity) -> list[tuple[str, str, float]]:
        """Suggested links from any of the entity's identifiers, awaiting review."""
        return [s for source in self.ids_of(entity) for s in self.suggested.get(source, [])]

    def find(
        self, question: Question, types: tuple[str, ...] = ("asset",), skip: Iterable[int] = ()
    ) -> Found | None:
        """The entity of ``types`` the question names, or None when it names nothing like one.

        Args:
            question: The question.
            types: Entity types that may be meant.
            skip: Positions of words that are not names (a period's words).

        Returns:
            A :class:`Found` with the entity, or with the candidates of an ambiguous name or the
            closest names of an unknown one; None when no words of the question look like a name.
        """
        runs = _runs(question, set(skip))
        best: tuple[int, float, str, dict[Entity, float]] | None = None
        for run in runs:
            for first in range(len(run)):
                for last in range(first + 1, min(len(run), first + 8) + 1):
                    span = [token for word in run[first:last] for token in word]
                    if any(t.isdigit() for w in run for t in w) and not any(
                        t.isdigit() for t in span
                    ):
                        continue  # "press 9" is not "press": a number said must be matched
                    scores = self._score(span, types)
                    top = max(scores.values(), default=0.0)
                    if top < THRESHOLD:
                        continue
                    key = (last - first, top)
                    if best is None or key > best[:2]:
                        best = (last - first, top, " ".join(span), scores)
        if best is not None:
            _, top, text, scores = best
            close = sorted(
                (e for e, s in scores.items() if s >= top - AMBIGUOUS_WITHIN),
                key=lambda e: (-scores[e], e.external_id),
            )
            if len(close) == 1:
                return Found(close[0], text, top)
            return Found(None, text, top, candidates=close)
        attempt = self._attempt(runs, types)
        if attempt is None:
            return None
        return Found(None, attempt, 0.0, suggestions=self._closest(attempt, types))

    def _score(self, span: list[str], types: tuple[str, ...]) -> dict[Entity, float]:
        compact = "".join(span)
        found: dict[Entity, float] = {}
        if not (compact.isdigit() and len(compact) < 3):
            for name in self.by_compact.get(compact, []):
                if name.entity.type in types:
                    found[name.entity] = 1.0
        words = [
            w
            for w in span
            if not w.isdigit() and w not in STOPWORDS and (len(w) > 1 or _CJK.match(w))
        ]
        if not words:
            return found
        numbers = sorted(t for t in span if t.isdigit())
        for name in self.names:
            if name.entity.type not in types or not name.words:
                continue
            extra = _extra_numbers(numbers, name.numbers)
            if extra is None:
                continue
            fit = _fit(words, name) * 0.92**extra
            if not numbers and name.numbers:
                # "the press" fits every numbered press at most this well: one of them wins only
                # by its number elsewhere in the question, or by being the only press
                fit = min(fit, THRESHOLD)
            found[name.entity] = max(found.get(name.entity, 0.0), fit)
        return found

    def _attempt(self, runs: list[list[list[str]]], types: tuple[str, ...]) -> str | None:
        """The words that look like a name, if any.

        An identifier (letters and digits in one word) does, and so does a word that some name
        of ``types`` uses.
        """
        known = {w for n in self.names if n.entity.type in types for w in n.words}
        for run in runs:
            tokens = [t for word in run for t in word if t not in STOPWORDS]
            identifier = any(
                any(t.isdigit() for t in word) and not all(t.isdigit() for t in word)
                for word in run
            )
            if identifier or any(
                fuzz.ratio(t, w) >= 80 for t in tokens for w in known if len(t) > 2
            ):
                return " ".join(tokens)
        return None

    def _closest(self, text: str, types: tuple[str, ...]) -> list[str]:
        scored: dict[Entity, float] = {}
        for name in self.names:
            if name.entity.type in types:
                score = fuzz.WRatio(text, " ".join(name.words + name.numbers))
                scored[name.entity] = max(scored.get(name.entity, 0.0), score)
        ranked = sorted(scored.items(), key=lambda item: (-item[1], item[0].external_id))
        return [entity.label for entity, _ in ranked[:3]]


def _extra_numbers(asked: list[str], named: tuple[str, ...]) -> int | None:
    """How many numbers the name has beyond the ones asked; None when one asked is not in it."""
    left = list(named)
    for number in asked:
        if number not in left:
            return None
        left.remove(number)
    return len(left) if asked else 0


def _fit(words: list[str], name: Name) -> float:
    """How well the question's words cover the name's, and the name's the question's."""
    matched = [max(_word_fit(w, n) for n in name.words) for w in words]
    covered = sum(any(_word_fit(w, n) >= 0.8 for w in words) for n in name.words)
    return 0.6 * sum(matched) / len(matched) + 0.4 * covered / len(name.words)


def _word_fit(word: str, other: str) -> float:
    if word == other:
        return 1.0
    if min(len(word), len(other)) >= 3 and (_abbreviates(word, other) or _abbreviates(other, word)):
        return 0.9
    ratio = fuzz.ratio(word, other) / 100
    if ratio >= 0.8:
        return ratio
    if min(len(word), len(other)) >= 4 and OSA.distance(word, other, score_cutoff=1) <= 1:
        return 0.8  # one letter wrong, missing or swapped: "lnie", "presse"
    return 0.0


def _abbreviates(short: str, long: str) -> bool:
    """``prs`` abbreviates ``press``: same first letter, its letters in order, not too short."""
    if not len(short) < len(long) <= 2 * len(short) or short[0] != long[0]:
        return False
    letters = iter(long)
    return all(c in letters for c in short)


def _runs(question: Question, skip: set[int]) -> list[list[list[str]]]:
    """The question's words outside the vocabulary: runs of words, each word its name tokens.

    A word is what the question writes without a space: ``L1_PRS03`` and ``PRS-03`` stay one
    identifier, never split into ``L1`` and ``PRS03``. Stop words do not end a run ("the winder
    on line 2" is one name), they only count for nothing. Chinese is read with its machine
    kinds in English first (``3号线`` is ``line 3``).
    """
    taken = vocabulary_spans(question, stopwords=False) | skip
    runs: list[tuple[int, int]] = []
    for i in range(len(question.words)):
        if i in taken:
            continue
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    out = []
    for first, last in runs:
        text = question.folded[question.offsets[first][0] : question.offsets[last][1]]
        spaced = _CJK.sub(lambda m: f" {m.group(0)} ", kinds_in_english(text))
        words = [tokens for chunk in spaced.split() if (tokens := name_tokens(chunk))]
        if words:
            out.append(words)
    return out


def _tag_group(identifier: str | None) -> str | None:
    """``L3_PRS03`` of the historian tag ``L3_PRS03.VIB_RMS``: the machine's part of it."""
    if not identifier or "." not in identifier:
        return None
    head = identifier.split(".", 1)[0]
    return head if len(head) >= 3 else None


def _entity_rows(store: Store, kind: str) -> list[dict[str, Any]]:
    extra = ", level, parent" if kind == "asset" else ""
    try:
        frame = store.query(f'SELECT space, external_id, name, aliases{extra} FROM "{kind}"')
    except Exception:  # a store without this entity table: no names of that kind
        return []
    rows = []
    for row in frame.to_dict("records"):
        aliases = row.get("aliases")
        rows.append(
            {
                **{
                    k: (None if v is None or v != v else v)
                    for k, v in row.items()
                    if k != "aliases"
                },
                "space": str(row["space"]),
                "external_id": str(row["external_id"]),
                "aliases": [str(a) for a in aliases]
                if aliases is not None and len(aliases)
                else [],
            }
        )
    return rows


def _time_series(store: Store) -> list[dict[str, Any]]:
    try:
        frame = store.query(
            "SELECT space, external_id, name, asset FROM time_series WHERE asset IS NOT NULL"
        )
    except Exception:  # a store without time series: no tags to name machines by
        return []
    return [
        {k: (None if v is None or v != v else str(v)) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def hubs(index: NameIndex, kind: str = "asset", level: str | None = None) -> list[Entity]:
    """The entities of a type the index names (each once, as its hub), optionally of one level."""
    found = {n.entity for n in index.names if n.entity.type == kind}
    return sorted(
        (e for e in found if level is None or e.level == level), key=lambda e: e.external_id
    )


def unresolved(
    question: str, found: Found | None, tool: str, what: str = "machine or line"
) -> Answer:
    """The answer when the question's name fits nothing, or several things."""
    if found is None:
        return Answer(
            question, f"Which {what} do you mean? I found no name of one in {question!r}.", tool
        )
    return Answer(question, found.explain(what), tool)


def name_index(store: Store) -> NameIndex:
    """The store's name index, built again only after a write to the tables it reads."""
    generation = store.generation_of(_TABLES)
    if generation is None:
        return NameIndex(store)
    key = (getattr(store, "identity", id(store)), generation)
    if key not in _INDEXES:
        if len(_INDEXES) > 8:
            _INDEXES.clear()
        _INDEXES[key] = NameIndex(store)
    return _INDEXES[key]


__all__ = [
    "EXACT_TYPES",
    "FUZZY_TYPES",
    "Entity",
    "Found",
    "Name",
    "NameIndex",
    "hubs",
    "name_index",
    "name_tokens",
    "unresolved",
]
