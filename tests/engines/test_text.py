"""Failure modes read from free text offline: the seed set, a plant's own codes, unknowns."""

from __future__ import annotations

import pytest

from factorybrain.engines.text import (
    ISO14224_FAILURE_MODES,
    SEED_MODES,
    SEED_PHRASES,
    UNKNOWN,
    FailureModeClassifier,
    component_affinity,
    normalise,
    prior_texts,
)
from factorybrain.exceptions import EngineError, NotFittedError


@pytest.fixture(scope="module")
def seed_model() -> FailureModeClassifier:
    return FailureModeClassifier().fit_seed()


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("Water is dripping out of the pump near the seal", "leak"),
        ("Die Pumpe ist an der Dichtung undicht", "leak"),
        ("泵漏水严重", "leak"),
        ("very loud grinding bearing noise", "noise"),
        ("Lager macht laute Geräusche", "noise"),
        ("运行时轴承有异响", "noise"),
        ("the breaker trips every time", "electrical"),
        ("Pumpe vibriert stark, Rohre wackeln", "vibration"),
    ],
)
def test_seed_model_reads_phrases_it_never_saw(
    seed_model: FailureModeClassifier, text: str, mode: str
) -> None:
    assert text not in {phrase for phrase, _ in SEED_PHRASES}
    assert seed_model.predict([text])[0] == mode


def test_seed_covers_three_languages_for_every_mode() -> None:
    for mode in SEED_MODES:
        phrases = [p for p, m in SEED_PHRASES if m == mode]
        assert any(any("\u4e00" <= ch <= "\u9fff" for ch in p) for p in phrases), mode
        assert len(phrases) >= 6, mode


def test_a_plant_model_learns_the_plants_own_codes() -> None:
    texts = ["seal weeping", "seal weeping again", "gasket weeping", "rotor rubs", "rotor rubbing",
             "rubbing rotor noise"] * 3  # fmt: skip
    codes = ["SEAL-01", "SEAL-01", "SEAL-01", "RUB-02", "RUB-02", "RUB-02"] * 3
    model = FailureModeClassifier().fit(texts, codes)
    assert list(model.classes_) == ["RUB-02", "SEAL-01"]
    assert model.predict(["the seal is weeping"])[0] == "SEAL-01"
    assert model.score(["rotor rubbing hard"], ["RUB-02"]) == 1.0


def test_unsure_and_empty_texts_are_unknown(seed_model: FailureModeClassifier) -> None:
    strict = FailureModeClassifier(min_confidence=0.99).fit_seed()
    labels, confidence = strict.predict_with_confidence(["xq zz", "", "leak"])
    assert labels[0] == UNKNOWN and labels[1] == UNKNOWN
    assert confidence[1] == 0.0
    assert 0.0 <= confidence.min() and confidence.max() <= 1.0


def test_classifier_refuses_what_it_cannot_learn() -> None:
    with pytest.raises(EngineError, match="two failure modes"):
        FailureModeClassifier().fit(["leak", "leaks"], ["leak", "leak"])
    with pytest.raises(EngineError, match="same length"):
        FailureModeClassifier().fit(["leak"], ["leak", "noise"])
    with pytest.raises(NotFittedError):
        FailureModeClassifier().predict(["leak"])


def test_component_affinity_links_failure_modes_to_component_names() -> None:
    assert component_affinity("leak", "MECHANICAL SEAL 16 MM SIC/CARBON")
    assert component_affinity("noise", "Rillenkugellager 6204")
    assert not component_affinity("leak", "IMPELLER PA66-GF30")


def test_maintenance_shorthand_is_written_out_as_whole_words_only() -> None:
    assert normalise("Pump U/S, lkg at brg") == "pump unserviceable, leaking at bearing"
    assert normalise("wont start") == "will not start"
    # inside a longer word shorthand stays as it is
    assert normalise("vibrations tempered") == "vibrations tempered"
    assert normalise("Pumpe undicht") == "pumpe undicht"


def test_prior_texts_cover_the_iso_modes_a_plant_codes_and_nothing_else() -> None:
    pairs = prior_texts(["Leaking", "Plugged/choked", "PLANT-CODE-7"])
    modes = {mode for _, mode in pairs}
    assert modes == {"Leaking", "Plugged/choked"}  # spelt as the plant spells them
    assert ("weeping", "Leaking") in pairs
    assert all(text.strip() for text, _ in pairs)
    assert set(ISO14224_FAILURE_MODES) >= {"Leaking", "Overheating", "Structural deficiency"}


def test_prior_knowledge_reads_words_the_labels_never_showed() -> None:
    texts = ["seal leaking", "leak at flange", "water leaking", "motor hot", "bearing hot",
             "running hot"] * 2  # fmt: skip
    modes = ["Leaking", "Leaking", "Leaking", "Overheating", "Overheating", "Overheating"] * 2
    plain = FailureModeClassifier().fit(texts, modes)
    informed = FailureModeClassifier().fit(texts, modes, prior=prior_texts(set(modes)))
    unseen = ["smoke from motor", "scorched windings", "seepage at gland", "puddle under pump"]
    truth = ["Overheating", "Overheating", "Leaking", "Leaking"]
    assert informed.score(unseen, truth) == 1.0
    assert informed.score(unseen, truth) > plain.score(unseen, truth)
    # the prior adds texts, never modes, and the labelled texts are still counted apart
    assert list(informed.classes_) == ["Leaking", "Overheating"]
    assert informed.n_texts_ == len(texts) and informed.n_prior_texts_ > 0
