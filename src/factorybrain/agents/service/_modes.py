"""Failure modes of claims, read from their free text by an offline model.

The model is trained from the plant's own claims whose failure mode is coded
(``warranty_claim.failure_mode``) when there are enough of them (at least ``min_coded`` texts of
at least two modes); otherwise from the multilingual seed set shipped with
:mod:`factorybrain.engines.text`. Coded claims keep their code. A text the model is not confident
about is ``unknown``; when most texts are, the reading is reported as a gap, never passed off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from factorybrain.engines.text import UNKNOWN, FailureModeClassifier
from factorybrain.exceptions import EngineError


@dataclass
class ModeReading:
    """Each claim's failure mode and where it came from.

    Attributes:
        modes: ``claim_space``, ``claim``, ``mode``, ``confidence``, ``source`` (``coded``,
            ``plant_model`` or ``seed_model``).
        model_source: ``plant_model`` (trained on the plant's coded claims), ``seed_model`` or
            ``none`` (no text to read).
        trained_on: Texts the model was trained on.
        notes: What limited the reading, one sentence each.
    """

    modes: pd.DataFrame
    model_source: str
    trained_on: int
    notes: list[str] = field(default_factory=list)


def read_failure_modes(
    claims: pd.DataFrame, *, min_coded: int = 30, min_confidence: float = 0.25
) -> ModeReading:
    """Read every claim's failure mode (see the module).

    Args:
        claims: ``claim_space``, ``claim``, ``failure_mode`` (coded or None) and ``text``.
        min_coded: Coded claims needed to train on the plant's own codes.
        min_confidence: Below it a reading is ``unknown``.
    """
    notes: list[str] = []
    coded = claims["failure_mode"].notna() & claims["text"].notna()
    coded &= claims["failure_mode"].astype(str).str.strip() != ""
    codes = claims.loc[coded, "failure_mode"].astype(str)
    model: FailureModeClassifier | None = None
    source = "none"
    trained_on = 0
    if int(coded.sum()) >= min_coded and codes.nunique() >= 2:
        try:
            model = FailureModeClassifier(min_confidence=min_confidence).fit(
                claims.loc[coded, "text"].astype(str), codes
            )
            source, trained_on = "plant_model", int(coded.sum())
        except EngineError as error:
            notes.append(f"the plant's coded claims could not train a model ({error})")
    if model is None:
        model = FailureModeClassifier(min_confidence=min_confidence).fit_seed()
        source, trained_on = "seed_model", model.n_texts_
        if int(coded.sum()):
            notes.append(
                f"only {int(coded.sum())} claims carry a coded failure mode ({codes.nunique()} "
                f"modes); at least {min_coded} of two modes are needed to learn the plant's "
                "codes, so the shipped seed set reads the texts"
            )
    texts = claims["text"].fillna("").astype(str).tolist()
    labels, confidence = model.predict_with_confidence(texts) if texts else ([], [])
    frame = pd.DataFrame(
        {
            "claim_space": claims["claim_space"].to_numpy(),
            "claim": claims["claim"].to_numpy(),
            "mode": np.asarray(labels, dtype=object),
            "confidence": np.asarray(confidence, dtype=float),
            "source": source,
        }
    )
    frame.loc[coded.to_numpy(), "mode"] = codes.to_numpy()
    frame.loc[coded.to_numpy(), "confidence"] = 1.0
    frame.loc[coded.to_numpy(), "source"] = "coded"
    unknown = frame["mode"] == UNKNOWN
    if len(frame) and unknown.mean() > 0.5:
        notes.append(
            f"{int(unknown.sum())} of {len(frame)} claim texts could not be read with "
            f"confidence (the {source.replace('_', ' ')} knows the modes "
            f"{', '.join(map(str, model.classes_))}): code the failure mode of some claims so "
            "a model can learn the plant's language"
        )
    if not texts:
        source = "none"
    return ModeReading(frame, source, trained_on, notes)


__all__ = ["ModeReading", "read_failure_modes"]
