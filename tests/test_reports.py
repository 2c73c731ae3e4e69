"""Notebook 03/04 helpers: ROC / calibration numbers, confusion matrices, replay baselines and
scores (s3kit.evaluation.predictions / fidelity, s3kit.plotting, s3kit.reports)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from s3kit.evaluation.fidelity import replay_fidelity, spread_baselines  # noqa: E402
from s3kit.evaluation.metrics import classification_report  # noqa: E402
from s3kit.evaluation.predictions import calibration_frame, roc_frame  # noqa: E402
from s3kit.plotting import (  # noqa: E402
    confusion_heatmap,
    plot_calibration,
    plot_confusion,
    plot_replay_trend,
    plot_roc,
)
from s3kit.reports import run_label_tasks  # noqa: E402


def _preds(y, probs, labels, model="s3kit", task="t", dataset="d"):
    probs = np.asarray(probs, dtype=float)
    n, k = probs.shape
    return pd.DataFrame({"task": task, "dataset": dataset, "model": model,
                         "item": np.repeat(np.arange(n), k), "y_true": np.repeat(y, k),
                         "label": np.tile(labels, n), "prob": probs.reshape(-1)})


@pytest.fixture
def binary():
    rng = np.random.default_rng(0)
    y = np.array(["neg", "pos"] * 30)
    p = np.clip(0.5 + 0.3 * (y == "pos") - 0.15 + rng.normal(0, 0.2, len(y)), 0.01, 0.99)
    agents = _preds(y, np.column_stack([1 - p, p]), ["neg", "pos"])
    q = rng.uniform(0.01, 0.99, len(y))
    base = _preds(y, np.column_stack([1 - q, q]), ["neg", "pos"], model="tfidf_logreg")
    return pd.concat([agents, base], ignore_index=True), y, p, q


def test_roc_auc_matches_the_benchmark_auc(binary):
    preds, y, p, q = binary
    roc = roc_frame(preds, "t")
    assert list(roc["model"].unique()) == ["s3kit", "tfidf_logreg"]
    for model, prob in (("s3kit", p), ("tfidf_logreg", q)):
        expected = classification_report(list(y), prob, labels=["neg", "pos"])["auc"]
        assert roc.loc[roc["model"] == model, "auc"].iloc[0] == pytest.approx(expected)
        part = roc[roc["model"] == model]
        assert part["fpr"].iloc[0] == 0 and part["tpr"].iloc[-1] == 1
        assert part["fpr"].is_monotonic_increasing and part["tpr"].is_monotonic_increasing


def test_roc_multiclass_is_micro_one_vs_rest():
    labels = ["calm", "moderate", "intense"]
    y = np.array(["calm", "moderate", "intense", "calm"])
    probs = np.array([[.7, .2, .1], [.2, .5, .3], [.1, .3, .6], [.4, .4, .2]])
    roc = roc_frame(_preds(y, probs, labels))
    from sklearn.metrics import roc_auc_score

    truth = np.concatenate([(y == lab).astype(int) for lab in labels])
    assert roc["auc"].iloc[0] == pytest.approx(roc_auc_score(truth, probs.T.reshape(-1)))


def test_calibration_bins_and_ece_by_hand():
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.7 (right): bins 9, 9, 6, 7
    y = np.array(["a", "b", "a", "b"])
    probs = np.array([[.9, .1], [.9, .1], [.6, .4], [.3, .7]])
    cal = calibration_frame(_preds(y, probs, ["a", "b"]), n_bins=10)
    assert cal["bin"].tolist() == [6, 7, 9]
    assert cal["count"].tolist() == [1, 1, 2]
    assert cal["accuracy"].tolist() == [1.0, 1.0, 0.5]
    ece = (1 * 0.4 + 1 * 0.3 + 2 * 0.4) / 4
    assert cal["ece"].iloc[0] == pytest.approx(ece)


def test_confusion_matrix_cells_are_row_shares(binary):
    y = np.array(["neg", "neg", "neg", "pos"])
    probs = np.array([[.8, .2], [.3, .7], [.6, .4], [.1, .9]])
    ax = plot_confusion(_preds(y, probs, ["neg", "pos"]), "t")
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["0.67", "0.33", "0.00", "1.00"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    plt.close("all")
    ax = plot_confusion(binary[0], "t", "baseline", normalize=False)
    assert ax.get_title() == "t: tfidf_logreg"
    assert sum(int(t.get_text()) for t in ax.texts) == 60
    plt.close("all")


def test_plots_return_axes_with_one_line_per_model(binary):
    preds = binary[0]
    ax = plot_roc(preds, "t")
    assert [line.get_label().split(" (")[0] for line in ax.lines] == [
        "s3kit", "tfidf_logreg", "chance"]
    ax = plot_calibration(preds, "t", ax=plt.subplots()[1])
    assert len(ax.lines) == 3 and ax.get_xlim() == (0, 1)
    plt.close("all")
    with pytest.raises(ValueError, match="no predictions"):
        plot_confusion(preds, "missing")


def test_run_label_tasks_rejects_unknown_tasks():
    with pytest.raises(ValueError, match="unknown label task"):
        run_label_tasks(tasks="emotion,spread", backend="fake")


def test_spread_baselines_forecast_from_the_seed_window():
    from s3kit.sample import load_sample

    base = spread_baselines({"n_steps": 4, "backend": "fake", "step_hours": 1.0})
    assert set(base["source"]) == {"logistic", "hawkes", "independent_cascade"}
    posts = load_sample().posts
    ev = posts[posts["event_id"] == "e0"]
    first = ev.groupby("user_id")["time"].min()
    hours = (first - ev["time"].min()) / pd.Timedelta(hours=1)
    n_early = int((hours <= 1.0).sum())
    assert base.attrs["early_adopters"] == n_early
    for name, part in base.groupby("source"):
        assert part["step"].tolist() == [-1, 0, 1, 2, 3, 4]
        assert part["hours"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        assert part["adopters"].is_monotonic_increasing
        assert part["adopters"].max() <= 300  # the sample's population
        if name != "independent_cascade":  # exact on the observed window
            assert part["adopters"].iloc[1] == pytest.approx(n_early, rel=0.05)
    assert 0 < base.attrs["params"]["independent_cascade"]["p"] < 1


def _curves(sim_adopters, real_adopters, sim_share, real_share):
    n = len(sim_adopters)
    sim = pd.DataFrame({"source": "simulated", "step": range(n), "hours": np.arange(1, n + 1.0),
                        "adopters": sim_adopters, "calm": 1 - np.asarray(sim_share),
                        "moderate": np.asarray(sim_share), "intense": 0.0,
                        "positive_share": sim_share})
    real = pd.DataFrame({"source": "real", "step": range(-1, n), "hours": np.arange(0, n + 1.0),
                         "adopters": real_adopters, "calm": 1 - np.asarray(real_share),
                         "moderate": np.asarray(real_share), "intense": 0.0,
                         "positive_share": real_share})
    return pd.concat([sim, real], ignore_index=True)


def test_replay_fidelity_perfect_and_off_replays():
    share = [0.2, 0.5, 0.4]
    perfect = _curves([2, 4, 8], [1, 2, 4, 8], share, [0.1] + share)
    fid = replay_fidelity(perfect).set_index(["source", "metric"])["value"]
    assert fid["simulated", "spread_nrmse"] == 0
    assert fid["simulated", "final_size_error"] == 0
    assert fid["simulated", "emotion_pearson_r"] == pytest.approx(1.0)
    assert fid["simulated", "attitude_rmse"] == pytest.approx(0.0)
    double = _curves([4, 8, 16], [1, 2, 4, 8], share, [0.1] + share)
    base = pd.DataFrame({"source": "flat", "step": [-1, 0, 1, 2], "hours": [0.0, 1, 2, 3],
                         "adopters": [1.0, 2, 2, 2]})
    fid = replay_fidelity(double, base).set_index(["source", "metric"])["value"]
    assert fid["simulated", "final_size_error"] == pytest.approx(1.0)
    rmse = np.sqrt(np.mean(np.square([2, 4, 8]))) / 8
    assert fid["simulated", "spread_nrmse"] == pytest.approx(rmse)
    assert fid["flat", "final_size_error"] == pytest.approx(0.75)


def test_plot_replay_trend_draws_real_and_simulated():
    curves = _curves([2, 4, 8], [1, 2, 4, 8], [0.2, 0.5, 0.4], [0.1, 0.2, 0.5, 0.4])
    ax = plot_replay_trend(curves, "attitude")
    assert ax.get_ylim() == (0, 1)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["simulated", "real"]
    with pytest.raises(ValueError, match="measure"):
        plot_replay_trend(curves, "mood")
    plt.close("all")


def test_demographics_confusion_counts_match_sklearn_and_reports_drawing():
    from sklearn.metrics import confusion_matrix

    y_true = ["male", "male", "female", "female", "female", "unknown"]
    y_pred = ["male", "female", "female", "female", "male", "male"]
    classes = ["male", "female"]
    ax = confusion_heatmap(y_true, y_pred, classes, title="tuned")
    counts = [int(t.get_text()) for t in ax.texts]
    assert counts == confusion_matrix(y_true, y_pred, labels=classes).ravel().tolist()
    assert counts == [1, 1, 1, 2]  # the "unknown" item is not counted
    assert [t.get_text() for t in ax.get_xticklabels()] == classes
    assert [t.get_text() for t in ax.get_yticklabels()] == classes
    assert ax.get_title() == "tuned" and ax.get_xlabel() == "predicted"
    plt.close("all")
