"""Entity matching across spaces: propose, score and record links as annotations.

Each class of entity (assets, items, suppliers, customers, lots, work orders) has a *hub*: the
space that holds most of its entities (the MES for machines, the ERP for materials). Every record
of another space, and every reference no space resolves, is compared with the hub's entities. A
company's plants are matched apart: the spaces of each site (``hamburg/erp``, ``hamburg/mes``; see
:mod:`factorybrain.model._spaces`) have their own hubs, and a record is compared with its own
site's hub entities only, so that no link ever joins two sites:

1. blocking: the nearest texts (character n-grams) and every entity sharing the key number;
2. features (:mod:`._features`), scored by :class:`PairModel` with prior weights;
3. the sure matches of that first pass teach which words go with which kind of entity
   (:class:`TypeWords`), and the model is refit on them together with every reviewed annotation;
4. the second pass decides: a best candidate above ``threshold`` with a clear ``margin`` over the
   next is approved automatically, the rest are suggested; an identifier with two candidates above
   the threshold is flagged ``ambiguous`` and left for review, never merged. Records the hub keeps
   twice (a product and its material) are one candidate, and a line is no rival of its machines.
   A rejected pair is never suggested again; a reviewed annotation is never overwritten;
5. evidence beyond names: machines whose steps two silos recorded for the same orders
   (:mod:`._steps`), and tag groups that run when a machine runs (:mod:`._behaviour`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from factorybrain import compute
from factorybrain.context._behaviour import corroborate, running_agreement
from factorybrain.context._features import TypeWords, candidate_pairs, pair_features
from factorybrain.context._harvest import ANY_CLASS, harvest
from factorybrain.context._model import PairModel
from factorybrain.context._steps import corroborate_steps, step_agreement
from factorybrain.exceptions import ParameterError
from factorybrain.model import SITE_SEPARATOR, site_of
from factorybrain.store import Store

#: Space the annotations are written to.
ANNOTATION_SPACE = "context"
METHOD = "ngram-numbers-logreg/1"


def annotation_id(
    source_space: str, source_identifier: str, target_space: str, target_external_id: str
) -> str:
    """Stable id of the link from one source identifier to one entity."""
    text = "\x1f".join((source_space, source_identifier, target_space, target_external_id))
    return "ann-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class MatchRun:
    """What one matching run proposed.

    Attributes:
        annotations: One row per proposed link (the annotation fields plus ``ambiguous`` and the
            features behind the score).
        approved: Links approved automatically.
        suggested: Links left for review.
        ambiguous: Source identifiers with two or more strong candidates.
        learned: Whether the second pass learned its weights from labelled pairs.
        hubs: The space each class was matched to, by class (``asset``); a named site's by
            site and class (``hamburg/asset``).
        weights: The pair model's weight of each feature.
        behaviour: Tag-group links behaviour in time confirmed, flagged or added.
        steps: Machine links that steps recorded by two silos confirmed, flagged or added
            (:mod:`factorybrain.context._steps`).
    """

    annotations: pd.DataFrame
    approved: int = 0
    suggested: int = 0
    ambiguous: int = 0
    learned: bool = False
    hubs: dict[str, str] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    behaviour: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """Counts for a printout."""
        return {
            "approved": self.approved,
            "suggested": self.suggested,
            "ambiguous": self.ambiguous,
            "learned": self.learned,
            "hubs": self.hubs,
            "behaviour": self.behaviour,
            "steps": self.steps,
        }


def _hubs(records: pd.DataFrame) -> dict[tuple[str, str], str]:
    """The hub of each class at each site: ``(site, class) -> space``."""
    entities = records[records.kind == "entity"]
    hubs = {}
    for (site, cls), part in entities.groupby([entities.space.map(site_of), "cls"]):
        # Most entities; then the most identifiers (aliases bridge silos); then the most text.
        richness = (
            part.assign(length=part.text.str.len(), key_count=part["keys"].map(len))
            .groupby("space")
            .agg(n=("identifier", "size"), keys=("key_count", "sum"), length=("length", "sum"))
        )
        hubs[site, cls] = richness.sort_values(["n", "keys", "length"], ascending=False).index[0]
    return hubs


def hub_spaces(records: pd.DataFrame, hubs: dict[tuple[str, str], str]) -> pd.Series:
    """The hub of each record's class at the record's site (``None`` where there is none)."""
    return pd.Series(
        [
            hubs.get((site_of(space), cls))
            for space, cls in zip(records.space, records.cls, strict=True)
        ],
        index=records.index,
        dtype=object,
    )


def _hub_names(hubs: dict[tuple[str, str], str]) -> dict[str, str]:
    """The hubs by class, a named site's by ``<site>/<class>``."""
    return {
        (f"{site}{SITE_SEPARATOR}{cls}" if site else cls): hub
        for (site, cls), hub in sorted(hubs.items())
    }


def _type_label(row: dict[str, object]) -> str:
    return str(row.get("label") or "")


def _reviewed(store: Store) -> pd.DataFrame:
    frame = store.entities("annotation")
    return frame


def _block_class(
    job: tuple[pd.DataFrame, pd.DataFrame], model: PairModel
) -> tuple[pd.DataFrame, dict[str, object], pd.DataFrame]:
    """Block one class's pairs and score them by ``model``: ``(pairs, matrices, features)``.

    A task of the compute pool (:mod:`factorybrain.compute`), one per entity class.
    """
    sources, targets = job
    pairs, matrices = candidate_pairs(sources, targets)
    return pairs, matrices, _score_class((sources, targets, pairs, matrices), model, None)


def _score_class(
    job: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, object]],
    model: PairModel,
    type_words: TypeWords | None,
) -> pd.DataFrame:
    """Features and ``model``'s probability of one class's blocked pairs (a task of the pool)."""
    sources, targets, pairs, matrices = job
    features = pair_features(sources, targets, pairs, matrices, type_words)
    features["probability"] = model.predict_proba(features) if len(features) else []
    return features


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def hub_identities(targets: pd.DataFrame) -> np.ndarray:
    """Which targets the hub holds as one thing: the number of each target's group.

    A hub may keep one real thing as several records of one class: ERP keeps a finished product
    as a product and as a material under the same number, and a received batch as the plant's
    lot with the supplier's lot number as an alias and as the supplier's lot itself. Records with
    the same identifier, or whose identifier is another's alias, form one group, within a class;
    nothing else is joined (a machine and the line above it stay apart).
    """
    group = list(range(len(targets)))

    def root(position: int) -> int:
        while group[position] != position:
            group[position] = group[group[position]]
            position = group[position]
        return position

    owner: dict[tuple[str, str, str], int] = {}
    sites = targets.space.map(site_of)
    for position, (site, cls, keys) in enumerate(
        zip(sites, targets.cls, targets["keys"], strict=True)
    ):
        for key in keys:
            # Two sites' records with one number are two things (each site has its own).
            if (site, cls, key) in owner:
                group[root(position)] = root(owner[site, cls, key])
            else:
                owner[site, cls, key] = position
    return np.array([root(position) for position in range(len(targets))], dtype="int64")


def hub_lineage(targets: pd.DataFrame) -> set[tuple[int, int]]:
    """Pairs of target positions of which one is the other's ancestor (a line and its machine).

    A source that matches a line also resembles the line's machines, whose texts name their
    line: a candidate and its own ancestor are not two rival things, so they are no ambiguity;
    the margin between them still decides.
    """
    if "parent" not in targets:
        return set()
    position = {
        (space, identifier): index
        for index, (space, identifier) in enumerate(
            zip(targets.space, targets.identifier, strict=True)
        )
    }
    pairs = set()
    for index, (space, parent) in enumerate(zip(targets.space, targets.parent, strict=True)):
        seen = {index}
        while isinstance(parent, str) and (space, parent) in position:
            above = position[space, parent]
            if above in seen:
                break  # a cycle in the hierarchy: stop rather than loop
            seen.add(above)
            pairs.update({(index, above), (above, index)})
            parent = targets.parent.iloc[above]
    return pairs


def _decide(
    scored: pd.DataFrame,
    threshold: float,
    margin: float,
    same: np.ndarray | None = None,
    lineage: set[tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Rank candidates per source; mark the automatic approvals and the ambiguous sources.

    ``same`` gives each target's group of records that are one thing (:func:`hub_identities`):
    two strong candidates of one group are no ambiguity, the runner-up is the best candidate of
    another group, and every strong candidate of the winner's group is approved with it.
    ``lineage`` (:func:`hub_lineage`): a strong ancestor or descendant of the best candidate is
    no rival either; it only narrows the margin.
    """
    scored = scored.sort_values(["source", "probability"], ascending=[True, False])
    scored["rank"] = scored.groupby("source").cumcount()
    identity = same[scored.target.to_numpy()] if same is not None else scored.target.to_numpy()
    scored["identity"] = identity
    best = scored[scored["rank"] == 0].set_index("source")
    winner = scored.source.map(best.identity).to_numpy() == identity
    others = scored[~winner].groupby("source").probability.max()
    scored["runner_up"] = scored.source.map(others).fillna(0.0)
    odds = _logit(scored.probability.to_numpy()) - _logit(scored.runner_up.to_numpy())
    rival = scored.probability.to_numpy() >= threshold
    if lineage:
        best_target = scored.source.map(best.target).to_numpy()
        rival &= winner | np.array(
            [(b, t) not in lineage for b, t in zip(best_target, scored.target, strict=True)]
        )
    strong = scored[rival].groupby("source").identity.nunique()
    scored["ambiguous"] = scored.source.map(strong).fillna(0).to_numpy() >= 2
    scored["auto"] = (
        winner & (scored.probability >= threshold) & (odds >= margin) & ~scored.ambiguous
    )
    return scored


def match(
    store: Store,
    *,
    threshold: float = 0.7,
    margin: float = 2.0,
    min_confidence: float = 0.3,
    max_candidates: int = 3,
    write: bool = True,
    model: PairModel | None = None,
    behaviour: bool = True,
) -> MatchRun:
    """Propose links from every space's identifiers to the entities of each class's hub space.

    Args:
        store: The loaded store.
        threshold: Confidence at or above which a clear best candidate is approved automatically.
        margin: How far the best candidate must lead the next one, in log-odds, to be approved
            automatically (2.0: the runner-up is at least 7 times less likely).
        min_confidence: Candidates below this are not suggested at all.
        max_candidates: Candidates suggested per source identifier.
        write: Write the proposals as ``annotation`` entities (space ``context``).
        model: The pair model; a fresh :class:`PairModel` by default.
        behaviour: Use behaviour in time as evidence for tag groups: a device whose run signal
            follows a machine's MES running states belongs to that machine (see
            :mod:`factorybrain.context._behaviour`).

    Returns:
        A :class:`MatchRun` with the proposals and counts.

    Raises:
        ParameterError: If a threshold lies outside [0, 1].
    """
    for name, value in (("threshold", threshold), ("min_confidence", min_confidence)):
        if not 0.0 <= value <= 1.0:
            raise ParameterError(f"match: {name!r} must lie in [0, 1], got {value!r}")
    records, tags = harvest(store)
    hubs = _hubs(records)
    existing = _reviewed(store)
    rejected = set()
    labelled: list[tuple[str, str, str, str, int]] = []
    if not existing.empty:
        for row in existing.itertuples():
            key = (
                row.source_space,
                row.source_identifier,
                row.target_space,
                row.target_external_id,
            )
            if row.status == "rejected":
                rejected.add(key)
                labelled.append((*key, 0))
            elif row.status == "approved" and isinstance(row.reviewed_by, str):
                labelled.append((*key, 1))

    # One job per class: the hub entities of every site are its targets, and blocking pairs a
    # record with its own site's targets only (candidate_pairs).
    jobs = []
    hub = hub_spaces(records, hubs)
    is_hub = (records.kind == "entity") & (records.space == hub)
    for cls in sorted({cls for _, cls in hubs}):
        targets = records[(records.cls == cls) & is_hub]
        sources = records[(records.cls == cls) & hub.notna() & (records.space != hub)]
        if not sources.empty and not targets.empty:
            jobs.append((cls, sources.reset_index(drop=True), targets.reset_index(drop=True)))
    any_sources = records[records.cls == ANY_CLASS]
    if not any_sources.empty and hubs:
        targets = pd.concat(
            [records[(records.cls == cls) & is_hub] for cls in sorted({cls for _, cls in hubs})]
        )
        jobs.append((ANY_CLASS, any_sources.reset_index(drop=True), targets.reset_index(drop=True)))

    # Each class is blocked once and scored twice (by the prior, then with the type words
    # learned from the first pass), one task per class on the compute pool.
    work = compute.pool()
    prior = (model or PairModel()).fit(pd.DataFrame(), np.zeros(0))
    blocked = work.map(
        _block_class, [(s, t) for _, s, t in jobs], prior, label="matching: blocking"
    )
    first = {cls: features for (cls, _, _), (_, _, features) in zip(jobs, blocked, strict=True)}

    # Learn type words and weights from the first pass's sure matches and from the reviews.
    type_words = TypeWords()
    for cls, sources, targets in jobs:
        decided = _decide(first[cls], 0.9, 3.0, hub_identities(targets), hub_lineage(targets))
        sure = decided[decided.auto]
        type_words.learn(
            sources.text.iloc[sure.source].tolist(),
            [_type_label(r) for r in targets.iloc[sure.target].to_dict("records")],
        )
    # Reviewed pairs (approvals, rejections) train the model; without them the prior decides.
    human = {(a, b, c, d): y for a, b, c, d, y in labelled}
    second = work.map(
        _score_class,
        [
            (s, t, pairs, matrices)
            for (_, s, t), (pairs, matrices, _) in zip(jobs, blocked, strict=True)
        ],
        prior,
        type_words,
        label="matching: scoring",
    )
    second_features = {}
    training = []
    for (cls, sources, targets), features in zip(jobs, second, strict=True):
        second_features[cls] = features
        keys = _keys(features, sources, targets)
        positions = [i for i, key in enumerate(keys) if key in human]
        if positions:
            part = features.iloc[positions].copy()
            part["label"] = [human[keys[i]] for i in positions]
            training.append(part)
    train = pd.concat(training) if training else pd.DataFrame()
    fitted = (model or PairModel()).fit(
        train, train["label"].to_numpy() if len(train) else np.zeros(0)
    )

    proposals = []
    for cls, sources, targets in jobs:
        features = second_features[cls]
        features["probability"] = fitted.predict_proba(features) if len(features) else []
        keys = _keys(features, sources, targets)
        features["rejected"] = [key in rejected for key in keys]
        features.loc[features.rejected, "probability"] = 0.0
        decided = _decide(
            features, threshold, margin, hub_identities(targets), hub_lineage(targets)
        )
        decided = decided[
            (decided.probability >= min_confidence) & (decided["rank"] < max_candidates)
        ]
        source_rows = sources.iloc[decided.source].reset_index(drop=True)
        target_rows = targets.iloc[decided.target].reset_index(drop=True)
        decided = decided.reset_index(drop=True)
        proposals.append(
            pd.DataFrame(
                {
                    "class": cls,
                    "source_space": source_rows.space,
                    "source_identifier": source_rows.identifier,
                    "source_kind": source_rows.kind.where(
                        source_rows.kind != "reference", source_rows.field
                    ),
                    "target_type": target_rows.entity_type,
                    "target_space": target_rows.space,
                    "target_external_id": target_rows.identifier,
                    "confidence": decided.probability.round(4),
                    "status": np.where(decided.auto, "approved", "suggested"),
                    "ambiguous": decided.ambiguous,
                    "members": source_rows.members,
                    **{name: decided[name] for name in ("text_cosine", "key_number", "type_words")},
                }
            )
        )
    proposals_frame = pd.concat(proposals, ignore_index=True) if proposals else pd.DataFrame()
    proposals_frame, step_counts = _shared_steps(store, proposals_frame, jobs, hubs)
    behaviour_counts: dict[str, int] = {}
    if behaviour:
        evidence = running_agreement(store, tags)
        if evidence:
            proposals_frame, behaviour_counts = corroborate(proposals_frame, evidence, tags)
    proposals_frame = _expand_tags(proposals_frame)
    weights = fitted.weights()
    run = MatchRun(
        annotations=proposals_frame,
        approved=int((proposals_frame.get("status") == "approved").sum())
        if len(proposals_frame)
        else 0,
        suggested=int((proposals_frame.get("status") == "suggested").sum())
        if len(proposals_frame)
        else 0,
        ambiguous=int(proposals_frame[proposals_frame.ambiguous].source_identifier.nunique())
        if len(proposals_frame)
        else 0,
        learned=bool(fitted.learned_),
        hubs=_hub_names(hubs),
        weights=weights,
        behaviour=behaviour_counts,
        steps=step_counts,
    )
    if write and len(proposals_frame):
        write_annotations(store, proposals_frame, existing)
    del tags
    return run


def _shared_steps(
    store: Store,
    proposals: pd.DataFrame,
    jobs: list[tuple[str, pd.DataFrame, pd.DataFrame]],
    hubs: dict[tuple[str, str], str],
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Add the evidence of steps both a source silo and the hub recorded (:mod:`._steps`).

    Site by site: a site's machines, its approved order links and its hubs.
    """
    asset_job = [(s, t) for cls, s, t in jobs if cls == "asset"]
    if proposals.empty or not asset_job:
        return proposals, {}
    all_sources, all_targets = asset_job[0]
    counts: dict[str, int] = {}
    for site in sorted({site for site, cls in hubs if cls == "work_order"}):
        if (site, "asset") not in hubs:
            continue
        sources = all_sources[all_sources.space.map(site_of) == site]
        targets = all_targets[all_targets.space == hubs[site, "asset"]]
        orders = proposals[
            (proposals["class"] == "work_order")
            & (proposals.status == "approved")
            & (proposals.source_space.map(site_of) == site)
        ]
        order_links = dict(
            zip(
                zip(orders.source_space, orders.source_identifier, strict=True),
                orders.target_external_id,
                strict=True,
            )
        )
        evidence = step_agreement(
            store,
            order_links,
            hubs[site, "work_order"],
            hubs[site, "asset"],
            set(targets.identifier),
            set(zip(sources.space, sources.identifier, strict=True)),
        )
        kinds = {
            (space, identifier): str(field if kind == "reference" else kind)
            for space, identifier, kind, field in zip(
                sources.space, sources.identifier, sources.kind, sources.field, strict=True
            )
        }
        proposals, found = corroborate_steps(proposals, evidence, kinds)
        for name, count in found.items():
            counts[name] = counts.get(name, 0) + count
    return proposals, counts


def _keys(frame: pd.DataFrame, sources: pd.DataFrame, targets: pd.DataFrame) -> list[tuple]:
    s = sources.iloc[frame.source.to_numpy()]
    t = targets.iloc[frame.target.to_numpy()]
    return list(zip(s.space, s.identifier, t.space, t.identifier, strict=True))


def _expand_tags(proposals: pd.DataFrame) -> pd.DataFrame:
    """A tag group's link also links each of its tags (a time series to its asset)."""
    if proposals.empty or "members" not in proposals:
        return proposals
    groups = proposals[proposals.members.notna()]
    extra = []
    for row in groups.to_dict("records"):
        for tag in row["members"]:
            # Every column carries over (a named tuple would rename "class").
            extra.append({**row, "source_identifier": tag, "source_kind": "tag"})
    out = pd.concat([proposals, pd.DataFrame(extra)], ignore_index=True) if extra else proposals
    return out.drop(columns=["members"])


def write_annotations(
    store: Store,
    proposals: pd.DataFrame,
    existing: pd.DataFrame | None = None,
    *,
    method: str = METHOD,
) -> int:
    """Upsert proposals as annotations; reviewed annotations and rejections stay as they are."""
    frame = proposals.copy()
    frame["external_id"] = [
        annotation_id(a, b, c, d)
        for a, b, c, d in zip(
            frame.source_space,
            frame.source_identifier,
            frame.target_space,
            frame.target_external_id,
            strict=True,
        )
    ]
    frame = frame.drop_duplicates("external_id")
    if existing is not None and not existing.empty:
        reviewed = existing[existing.reviewed_by.notna() | (existing.status == "rejected")]
        frame = frame[~frame.external_id.isin(set(reviewed.external_id))]
    if frame.empty:
        return 0
    frame["space"] = ANNOTATION_SPACE
    frame["method"] = method
    if "behaviour" in frame:
        # Links behaviour in time confirmed or proposed say so in their method.
        frame.loc[frame.behaviour.notna(), "method"] = method + "+behaviour-in-time/1"
    if "steps" in frame:
        # Links the steps two silos recorded confirmed or proposed say so too.
        frame.loc[frame.steps.notna(), "method"] += "+shared-steps/1"
    frame["name"] = frame.source_identifier
    frame["tags"] = [["ambiguous"] if a else [] for a in frame.ambiguous]
    frame["source"] = "factorybrain.context"
    columns = [
        "space",
        "external_id",
        "name",
        "tags",
        "source",
        "source_space",
        "source_identifier",
        "source_kind",
        "target_type",
        "target_space",
        "target_external_id",
        "confidence",
        "status",
        "method",
    ]
    table = pa.Table.from_pandas(frame[columns].astype({"confidence": float}), preserve_index=False)
    ingest = "match-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    with store.transaction():
        counts = store.upsert_entities("annotation", table, ingest)
        store.link_series()
    return counts.inserted + counts.updated
