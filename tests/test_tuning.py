import numpy as np
import pytest

from s3kit.tuning import fit_label_adapter, head_info, load_head

SYSTEM = "Answer with one word."
PROMPTS = [f"Colour word: {w}. Is it warm or cold?" for w in
           ("red", "blue", "orange", "teal", "yellow", "navy", "crimson", "ice")]
LABELS = ["warm", "cold", "warm", "cold", "warm", "cold", "warm", "cold"]


@pytest.mark.llm
@pytest.mark.slow
def test_prefix_adapter_trains_saves_and_loads_by_name():
    from s3kit.llm import EmbeddedLLM, load_base_model

    options = (" warm", " cold")
    net, tok = load_base_model(dtype="float32")
    p0 = EmbeddedLLM.from_model(net, tok).score(PROMPTS[:4], options, system=SYSTEM)
    res = fit_label_adapter(base=(net, tok), prompts=PROMPTS, labels=LABELS, options=options,
                            classes=["warm", "cold"], system=SYSTEM,
                            method="prefix", num_virtual_tokens=4, steps=3, batch_size=4,
                            learning_rate=3e-2, val_prompts=PROMPTS[:4],
                            val_labels=LABELS[:4], eval_every=1, name="test-tiny-prefix",
                            task="toy", progress=False)
    hist = res.history
    assert list(hist["step"]) == [1, 2, 3] and hist["val_acc"].notna().sum() == 3
    # the kept weights are those of the lowest monitoring loss, and really are in the model
    assert res.best_step == int(hist.loc[hist["val_loss"].idxmin(), "step"])
    p_val = res.llm.score(PROMPTS[:4], options, system=SYSTEM)
    y_val = [["warm", "cold"].index(v) for v in LABELS[:4]]
    kept_loss = -np.mean(np.log(p_val[np.arange(4), y_val]))
    assert kept_loss == pytest.approx(hist["val_loss"].min(), abs=2e-3)
    assert len(res.bias) == 2 and res.bias[0] == 0.0 and head_info("test-tiny-prefix")["bias"]
    assert res.seconds > 0 and res.peak_rss_mb > 100
    assert (res.path / "adapter_config.json").exists()
    assert head_info("test-tiny-prefix")["classes"] == ["warm", "cold"]
    p_mem = res.llm.score(PROMPTS[:4], options, system=SYSTEM)
    assert np.abs(p_mem - p0).max() > 1e-3                    # tuning changed predictions
    llm, info = load_head("test-tiny-prefix", dtype="float32", cache=False)
    p_loaded = llm.score(PROMPTS[:4], info["options"], system=info["system"])
    assert np.allclose(p_loaded, p_mem, atol=1e-4)            # saved == in-memory
    with pytest.raises(ValueError):
        fit_label_adapter(PROMPTS, ["hot"] * 8, options, classes=["warm", "cold"], steps=1)


@pytest.mark.llm
@pytest.mark.slow
def test_micro_batches_and_checkpointing_keep_the_training_curve():
    """Accumulating a batch's gradient over smaller passes, with LoRA recomputing its
    activations in the backward pass, trains the same adapter (notebook 02's memory savers)."""
    from s3kit.errors import ConfigError
    from s3kit.llm import load_base_model

    options = (" warm", " cold")
    curves = []
    for micro, checkpointing in ((None, False), (2, True)):
        net, tok = load_base_model(dtype="float32")
        res = fit_label_adapter(base=(net, tok), prompts=PROMPTS, labels=LABELS,
                                options=options, classes=["warm", "cold"], system=SYSTEM,
                                method="lora", steps=3, batch_size=4, learning_rate=1e-2,
                                autocast=False, micro_batch_size=micro,
                                gradient_checkpointing=checkpointing, progress=False)
        assert res.params["micro_batch_size"] == (micro or 4)
        curves.append(res.history["loss"].to_numpy())
    assert np.allclose(curves[0], curves[1], atol=1e-4)
    assert curves[0][-1] != pytest.approx(curves[0][0])  # it did train
    with pytest.raises(ConfigError, match="lora"):
        fit_label_adapter(PROMPTS, LABELS, options, classes=["warm", "cold"], steps=1,
                          method="prefix", gradient_checkpointing=True, progress=False)


def test_epoch_batches_cover_every_example_once_and_bucket_by_length():
    from s3kit.tuning import _epoch_batches

    lengths = np.random.default_rng(0).integers(10, 400, size=100)
    batches = _epoch_batches(lengths, 8, 4, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(100))
    plain = _epoch_batches(lengths, 8, 0, np.random.default_rng(1))
    pad = [sum(lengths[b].max() - lengths[b]) for b in batches]
    pad_plain = [sum(lengths[b].max() - lengths[b]) for b in plain]
    assert sum(pad) < 0.6 * sum(pad_plain)                      # far less padding
    assert [len(b) for b in _epoch_batches(lengths[:3], 8, 4, np.random.default_rng(0))] == [8]
