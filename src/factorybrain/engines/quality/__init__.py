"""Quality models: defect classification on rare failures, with per-feature attributions.

::

    from factorybrain.engines.quality import DefectClassifier

    model = DefectClassifier(max_features=40).fit(train_features, train_failed)
    model.predict(test_features)             # 0/1, at a threshold chosen inside fit
    model.predict(test_features, objective="ber")  # the other operating point of the same model
    model.contributions(test_features)       # TreeSHAP per feature, log-odds

    # finer histogram bins where a failure starts at a sharp limit, if the training rows agree
    DefectClassifier(candidates=[{"max_bin": 255}, {"max_bin": 4095}]).fit(x, failed)

Every choice (screening, candidate setting, threshold) happens inside ``fit``: cross-validating
the model is leakage-free.
"""

from __future__ import annotations

from factorybrain.engines.quality._classifier import OBJECTIVES, DefectClassifier, best_threshold

__all__ = ["OBJECTIVES", "DefectClassifier", "best_threshold"]
