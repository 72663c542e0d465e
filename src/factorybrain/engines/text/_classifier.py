"""Failure modes read from free text: character n-grams and a linear model, trained offline.

Claims and work orders are short, noisy and multilingual ("Pumpe undicht", "spaying slurry",
"轴承异响"); word models trip on typos and on languages written without spaces. Character n-grams
within word boundaries (TF-IDF, sublinear term frequency) see "leak", "leaking" and "leakage" as
neighbours, survive typos, and cut Chinese into characters and pairs of characters without a
tokenizer. A linear support vector machine on them trains in well under a second on a few
thousand texts, on one core, and needs no model download: it is trained from the plant's own
labelled texts (claims with a coded failure mode), or from the multilingual seed set shipped in
this package (:data:`~factorybrain.engines.text.SEED_PHRASES`) when the plant has none. What a
few hundred labels cannot teach (that "burnt" is overheating, "u/s" unserviceable) comes from
prior knowledge: maintenance shorthand is written out before the n-grams are cut, and the
descriptions and words of each failure mode (ISO 14224) can be learned beside the labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from factorybrain.engines._base import Engine, Interval
from factorybrain.engines.text._iso14224 import MAINTENANCE_ABBREVIATIONS
from factorybrain.engines.text._seed import SEED_PHRASES
from factorybrain.exceptions import EngineError

#: Label given to a text the model is not confident about (see ``min_confidence``).
UNKNOWN = "unknown"
_REPEATS = re.compile(r"(.)\1{2,}")
_SHORTHAND = re.compile(
    r"(?<![\w/&'])("
    + "|".join(re.escape(a) for a in sorted(MAINTENANCE_ABBREVIATIONS, key=len, reverse=True))
    + r")(?![\w/&'])"
)


def normalise(text: str) -> str:
    """Lower case, runs of three or more equal characters cut to two, shorthand written out.

    "sooo" becomes "soo"; maintenance shorthand of
    :data:`~factorybrain.engines.text.MAINTENANCE_ABBREVIATIONS` standing as a word of its own
    is replaced by what it stands for ("pump u/s" -> "pump unserviceable").
    """
    lowered = _REPEATS.sub(r"\1\1", str(text).lower())
    return _SHORTHAND.sub(lambda match: MAINTENANCE_ABBREVIATIONS[match.group(1)], lowered)


class FailureModeClassifier(Engine):
    """Failure mode of a free text: character n-gram TF-IDF and a linear SVM.

    Args:
        C: Inverse regularisation strength of the SVM.
        ngram_min: Shortest character n-gram.
        ngram_max: Longest character n-gram.
        min_confidence: Texts whose confidence is below it are labelled ``"unknown"``
            (0 labels every text).
        temperature: Sharpness of the confidence: a softmax of the SVM scores times this.

    Attributes:
        classes_: The failure modes learned.
        vectorizer_: The fitted TF-IDF vectorizer.
        model_: The fitted linear SVM.
        n_texts_: Labelled texts trained on.
        n_prior_texts_: Texts of prior knowledge trained on (see ``fit``).

    Example:
        >>> model = FailureModeClassifier().fit_seed()
        >>> model.predict(["Pumpe undicht an der Welle"])[0]
        'leak'
    """

    _parameter_constraints = {
        "C": [Interval(float, 0.0, None, "neither")],
        "ngram_min": [Interval(int, 1, None)],
        "ngram_max": [Interval(int, 1, None)],
        "min_confidence": [Interval(float, 0.0, 1.0)],
        "temperature": [Interval(float, 0.0, None, "neither")],
    }

    def __init__(
        self,
        *,
        C: float = 0.5,  # noqa: N803 - the name every linear model uses
        ngram_min: int = 2,
        ngram_max: int = 5,
        min_confidence: float = 0.0,
        temperature: float = 3.0,
    ) -> None:
        self.C = C
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max
        self.min_confidence = min_confidence
        self.temperature = temperature

    def fit(
        self,
        texts: Iterable[str],
        labels: Iterable[str],
        *,
        prior: Iterable[tuple[str, str]] = (),
    ) -> FailureModeClassifier:
        """Learn failure modes from labelled texts.

        Args:
            texts: The texts.
            labels: The failure mode of each text.
            prior: ``(text, mode)`` pairs of prior knowledge (descriptions and the words used for
                each mode, such as :func:`~factorybrain.engines.text.prior_texts` gives), learned
                beside the labelled texts. Pairs of modes absent from ``labels`` are ignored,
                so the prior never adds a mode the plant does not code.

        Raises:
            EngineError: Texts and labels of different lengths, empty texts only, or fewer than
                two failure modes.
        """
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        self._validate_parameters()
        if self.ngram_max < self.ngram_min:
            raise EngineError(
                f"ngram_max ({self.ngram_max}) must be >= ngram_min ({self.ngram_min})"
            )
        documents = [str(t) if t is not None else "" for t in texts]
        targets = [str(label) for label in labels]
        if len(documents) != len(targets):
            raise EngineError(
                f"texts and labels must have the same length; got {len(documents)} texts and "
                f"{len(targets)} labels"
            )
        keep = [i for i, text in enumerate(documents) if text.strip()]
        documents = [documents[i] for i in keep]
        targets = [targets[i] for i in keep]
        modes = sorted(set(targets))
        n_labelled = len(documents)
        for text, mode in prior:
            if str(mode) in modes and str(text).strip():
                documents.append(str(text))
                targets.append(str(mode))
        if len(modes) < 2:
            raise EngineError(
                f"a classifier needs texts of at least two failure modes; got {modes} from "
                f"{n_labelled} non-empty text(s)"
            )
        vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(self.ngram_min, self.ngram_max),
            sublinear_tf=True,
            preprocessor=normalise,
        )
        features = vectorizer.fit_transform(documents)
        model = LinearSVC(C=self.C).fit(features, targets)
        self.vectorizer_ = vectorizer
        self.model_ = model
        self.classes_ = np.asarray(model.classes_)
        self.n_texts_ = n_labelled
        self.n_prior_texts_ = len(documents) - n_labelled
        return self

    def fit_seed(self) -> FailureModeClassifier:
        """Learn from the multilingual seed set shipped in this package."""
        return self.fit([p for p, _ in SEED_PHRASES], [m for _, m in SEED_PHRASES])

    def predict_with_confidence(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Failure mode and confidence in ``[0, 1]`` of each text.

        The confidence is a softmax of the SVM's scores (times ``temperature``): a relative
        figure for ranking and thresholds, not a calibrated probability. An empty text gets
        ``"unknown"`` with confidence 0.
        """
        self._check_fitted()
        documents = [str(t) if t is not None else "" for t in texts]
        if not documents:
            return np.asarray([], dtype=object), np.asarray([], dtype=float)
        scores = np.asarray(self.model_.decision_function(self.vectorizer_.transform(documents)))
        if scores.ndim == 1:  # two classes: one score for the second
            scores = np.column_stack([-scores, scores])
        scaled = self.temperature * scores
        scaled -= scaled.max(axis=1, keepdims=True)
        weights = np.exp(scaled)
        confidence = weights.max(axis=1) / weights.sum(axis=1)
        labels = self.classes_[np.argmax(scores, axis=1)].astype(object)
        empty = np.array([not d.strip() for d in documents])
        unsure = empty | (confidence < self.min_confidence)
        labels[unsure] = UNKNOWN
        confidence[empty] = 0.0
        return labels, confidence

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Failure mode of each text (``"unknown"`` below ``min_confidence``)."""
        return self.predict_with_confidence(texts)[0]

    def score(self, texts: Sequence[str], labels: Sequence[Any]) -> float:
        """Accuracy on labelled texts."""
        predicted = self.predict(texts)
        truth = np.asarray([str(label) for label in labels], dtype=object)
        if truth.size == 0:
            raise EngineError("no labelled texts to score on")
        return float(np.mean(predicted == truth))


__all__ = ["UNKNOWN", "FailureModeClassifier", "normalise"]
