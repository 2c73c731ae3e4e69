"""Metrics of the benchmark on hand-computed cases (and against scikit-learn)."""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from s3kit.evaluation import (
    MetricUndefinedWarning,
    accuracy,
    align_curves,
    as_curve,
    auc,
    classification_report,
    embedding_cosine,
    f1,
    final_size_error,
    macro_f1,
    pearson_r,
    perplexity,
    spread_nrmse,
    trend_rmse,
)


def test_accuracy_hand_computed():
    assert accuracy([1, 0, 1, 1, 0], [1, 1, 1, 0, 0]) == pytest.approx(3 / 5)
    assert accuracy(["x"], ["x"]) == 1.0


def test_accuracy_empty_is_nan_with_warning():
    with pytest.warns(MetricUndefinedWarning):
        assert math.isnan(accuracy([], []))


def test_f1_binary_and_macro_hand_computed():
    y_true = [1, 1, 1, 0, 0, 0]
    y_pred = [1, 0, 0, 1, 0, 0]
    # class 1: TP=1, FP=1, FN=2 -> 2/(2+1+2) = 0.4 ; class 0: TP=2, FP=2, FN=1 -> 4/7
    assert f1(y_true, y_pred) == pytest.approx(0.4)
    assert f1(y_true, y_pred, pos_label=0) == pytest.approx(4 / 7)
    assert macro_f1(y_true, y_pred) == pytest.approx((0.4 + 4 / 7) / 2)


def test_f1_matches_sklearn_on_random_labels():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    p = rng.integers(0, 3, 200)
    assert macro_f1(y, p) == pytest.approx(f1_score(y, p, average="macro"))


def test_macro_f1_counts_never_predicted_class_as_zero():
    # class "c" present but never predicted: F1_c = 0
    assert macro_f1(["a", "b", "c"], ["a", "b", "a"]) == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_auc_binary_hand_computed_with_tie():
    # positives .8 and .4, negatives .4 and .1: pairs (.8>.4) (.8>.1) (.4=.4 -> 1/2) (.4>.1)
    assert auc([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.1]) == pytest.approx(3.5 / 4)


def test_auc_string_labels_positive_is_second_label():
    y = ["neg", "pos", "pos", "neg"]
    s = [0.2, 0.9, 0.3, 0.4]
    assert auc(y, s, labels=["neg", "pos"]) == pytest.approx(0.75)
    assert auc(y, s, labels=["pos", "neg"]) == pytest.approx(0.25)


def test_auc_single_class_is_nan_with_reason():
    with pytest.warns(MetricUndefinedWarning, match="only one class"):
        assert math.isnan(auc([0, 0, 0], [0.1, 0.5, 0.7]))


def test_macro_ovr_auc_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    prob = rng.dirichlet([1, 1, 1], 300)
    prob[np.arange(300), y] += 0.3  # informative
    prob /= prob.sum(axis=1, keepdims=True)
    ours = auc(y, prob, labels=[0, 1, 2])
    ref = roc_auc_score(y, prob, multi_class="ovr", average="macro")
    assert ours == pytest.approx(ref)
    assert ours > 0.6


def test_macro_auc_skips_absent_class_with_warning():
    y = [0, 0, 1, 1]
    prob = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    with pytest.warns(MetricUndefinedWarning, match="skipped"):
        value = auc(y, prob, labels=[0, 1, 2])
    assert value == pytest.approx(1.0)


def test_classification_report_binary():
    r = classification_report([0, 0, 1, 1], [0.1, 0.6, 0.35, 0.8], labels=[0, 1])
    # predictions 0 1 0 1 -> acc .5; class 1: TP1 FP1 FN1 -> F1 .5; AUC: .8 beats both,
    # .35 beats .1 only -> 3/4
    assert r == {"n": 4, "acc": 0.5, "macro_f1": 0.5, "f1": 0.5, "auc": 0.75}
    json.dumps(r)  # JSON-friendly


def test_classification_report_multiclass_and_note():
    labels = ["anger", "joy", "sadness"]
    y = ["joy", "joy", "anger"]
    prob = [[0.1, 0.8, 0.1], [0.5, 0.3, 0.2], [0.7, 0.2, 0.1]]
    r = classification_report(y, prob, labels=labels)
    assert r["acc"] == pytest.approx(2 / 3)
    # anger: TP1 FP1 -> 2/3 ; joy: TP1 FN1 -> 2/3 ; sadness: 0
    assert r["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert r["f1"] == r["macro_f1"]
    assert "sadness" in r["auc_note"]


def test_one_classification_bundle_for_tuning_demographics_and_benchmark():
    import s3kit.classification
    import s3kit.demographics
    import s3kit.evaluation.demographics

    bundle = s3kit.classification.classification_report
    assert classification_report is bundle
    assert s3kit.demographics.classification_report is bundle
    assert s3kit.evaluation.demographics.classification_report is bundle
    r = bundle(["a", "b"], np.array([[0.9, 0.1], [0.3, 0.7]]), ["a", "b"])
    assert r == {"n": 2, "acc": 1.0, "macro_f1": 1.0, "f1": 1.0, "auc": 1.0}


def test_classification_report_rejects_unknown_labels():
    with pytest.raises(ValueError, match="not in labels"):
        classification_report(["x"], [[1.0, 0.0]], labels=["a", "b"])


def test_perplexity_token_weighted():
    # text 1: 1 token with p=1/2 ; text 2: 3 tokens with p=1/8 each
    lp = [math.log(0.5), 3 * math.log(1 / 8)]
    expected = math.exp(-(math.log(0.5) + 3 * math.log(1 / 8)) / 4)  # = 2 ** 2.5
    assert perplexity(lp, [1, 3]) == pytest.approx(expected)
    assert perplexity(lp, [1, 3]) == pytest.approx(2**2.5)
    with pytest.warns(MetricUndefinedWarning):
        assert math.isnan(perplexity([0.0], [0]))


def test_embedding_cosine_rowwise():
    a = np.array([[1.0, 0.0], [3.0, 4.0], [0.0, 0.0], [1.0, 1.0]])
    b = np.array([[0.0, 5.0], [6.0, 8.0], [1.0, 0.0], [-1.0, -1.0]])
    out = embedding_cosine(a, b)
    assert out[0] == pytest.approx(0.0)
    assert out[1] == pytest.approx(1.0)
    assert math.isnan(out[2])
    assert out[3] == pytest.approx(-1.0)


def test_align_curves_forward_fills_and_zero_before_start():
    real = pd.DataFrame({"step": [1, 3], "cumulative": [2, 5]})
    sim = pd.Series([1.0, 4.0], index=[0, 2])
    df = align_curves(real, sim)
    assert df["step"].tolist() == [0, 1, 2, 3]
    assert df["real"].tolist() == [0, 2, 2, 5]
    assert df["sim"].tolist() == [1, 1, 4, 4]


def test_spread_nrmse_hand_computed():
    real = [1, 4, 10]
    sim = [1, 2, 6]
    # errors 0, -2, -4: RMSE sqrt(20/3), divided by the real final size 10
    assert spread_nrmse(real, sim) == pytest.approx(math.sqrt(20 / 3) / 10)
    assert spread_nrmse(real, real) == 0.0


def test_spread_nrmse_explicit_grid_extends_curves():
    # grid beyond both curves: both keep their final size
    v = spread_nrmse({0: 1, 1: 3}, {0: 1, 2: 2}, grid=[0, 1, 2, 3])
    # real 1 3 3 3 ; sim 1 1 2 2 -> errors 0 2 1 1
    assert v == pytest.approx(math.sqrt(6 / 4) / 3)


def test_final_size_error():
    assert final_size_error([2, 8], [2, 12]) == pytest.approx(0.5)
    assert final_size_error([2, 8], [2, 4], signed=True) == pytest.approx(-0.5)
    with pytest.warns(MetricUndefinedWarning):
        assert math.isnan(final_size_error([0, 0], [1, 2]))


def test_curves_from_spread_curve_frames():
    # the layout of s3kit.cascades.spread_curve: step + adopters (+ event_id)
    real = pd.DataFrame({"event_id": "e", "step": [0, 1, 2], "adopters": [1, 3, 4]})
    sim = pd.DataFrame({"step": [0, 1, 2], "cumulative": [1.0, 2.0, 4.0]})
    assert spread_nrmse(real, sim) == pytest.approx(math.sqrt(1 / 3) / 4)
    two = pd.concat([real, real.assign(event_id="f")])
    with pytest.raises(ValueError, match="several events"):
        as_curve(two)


def test_decreasing_curve_is_rejected():
    with pytest.raises(ValueError, match="cumulative"):
        as_curve([3, 1, 2])


def test_pearson_hand_computed_and_nan_safe():
    assert pearson_r([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert pearson_r([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # x = 1 2 3 4, y = 1 3 2 4: cov sum 4, var sums 5 and 5 -> 0.8
    assert pearson_r([1, 2, np.nan, 3, 4], [1, 3, 9, 2, 4]) == pytest.approx(0.8)
    assert pearson_r([1, 2, 3], [2, 4, 7]) == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1])


def test_pearson_constant_series_is_nan_not_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy divide warnings leak
        with pytest.warns(MetricUndefinedWarning, match="constant"):
            assert math.isnan(pearson_r([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]))
    with pytest.warns(MetricUndefinedWarning):
        assert math.isnan(pearson_r([1.0], [2.0]))


def test_trend_metrics_align_series_on_index():
    x = pd.Series([0.1, 0.2, 0.3], index=[0, 1, 2])
    y = pd.Series([0.2, 0.4], index=[1, 2])
    assert pearson_r(x, y) == pytest.approx(1.0)
    # step 1: 0.2 vs 0.2, step 2: 0.3 vs 0.4 (step 0 has no partner)
    assert trend_rmse(x, y) == pytest.approx(math.sqrt((0.0**2 + 0.1**2) / 2))
