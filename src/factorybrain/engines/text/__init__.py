"""Text: failure modes read from free text (claims, work orders) by an offline model.

::

    from factorybrain.engines.text import FailureModeClassifier

    model = FailureModeClassifier().fit(coded_claims.text, coded_claims.failure_mode)
    model = FailureModeClassifier().fit_seed()          # no coded claims: the shipped seed set
    modes, confidence = model.predict_with_confidence(["Pumpe undicht", "轴承异响"])

No model is downloaded at run time: models are trained from the plant's labelled texts or from the
multilingual seed set in :data:`SEED_PHRASES` (English, German, Chinese). Prior knowledge that
holds for any plant, the failure modes of ISO 14224 with the words technicians use for them
(:data:`ISO14224_FAILURE_MODES`), is learned beside a plant's labels when they name those modes::

    model = FailureModeClassifier().fit(texts, modes, prior=prior_texts(set(modes)))
"""

from __future__ import annotations

from factorybrain.engines.text._classifier import UNKNOWN, FailureModeClassifier, normalise
from factorybrain.engines.text._iso14224 import (
    ISO14224_FAILURE_MODES,
    MAINTENANCE_ABBREVIATIONS,
    prior_texts,
)
from factorybrain.engines.text._seed import (
    COMPONENT_HINTS,
    PROCESS_HINTS,
    SEED_MODES,
    SEED_PHRASES,
    component_affinity,
    process_affinity,
)

__all__ = [
    "COMPONENT_HINTS",
    "PROCESS_HINTS",
    "ISO14224_FAILURE_MODES",
    "MAINTENANCE_ABBREVIATIONS",
    "SEED_MODES",
    "SEED_PHRASES",
    "UNKNOWN",
    "FailureModeClassifier",
    "component_affinity",
    "process_affinity",
    "normalise",
    "prior_texts",
]
