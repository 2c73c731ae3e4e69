"""PEFT tuning of the embedded model as a label head (demographics and decision heads).

S3 tuned its LLM on observed data with P-Tuning v2 (prefix tuning). :func:`fit_label_adapter`
does the same on CPU for any discrete decision that s3kit asks through ``llm.score``: the
training objective is exactly the quantity ``score`` reads at inference, the (softmax over
options of the) log-probability of each answer word as the assistant's reply after the chat
template, so a tuned adapter is used by loading it by name, nothing else changes::

    result = fit_label_adapter(prompts, labels, options=(" male", " female"),
                               system=SYSTEM, name="gender-prefix")
    llm = load_llm("embedded", adapter="gender-prefix")   # later, anywhere
    llm.score(prompts, (" male", " female"), system=SYSTEM)

Methods (``method=``):

* ``"prefix"`` (default): prefix tuning = P-Tuning v2 (trainable key/value prefixes in every
  layer, ``num_virtual_tokens`` of them).
* ``"prompt"``: prompt tuning (trainable input embeddings only).
* ``"lora"``: LoRA on the attention projections (``r=8``).

The forward pass mirrors the embedded backend (virtual tokens, then the system prefix, then
the left-padded prompt, explicit position ids, logits of the last positions only), so what is
trained is what is scored. The objective is cross-entropy over the options only (a
classification head made of answer words); options may span several tokens (their summed
log-probability is used, as in ``score``).

The adapter folder (``s3kit.llm.adapter_path(name)``) also holds ``s3kit_head.json`` (task,
options, labels, system prompt, language), so :func:`load_head` restores a usable head.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .agent import decision_prompt, message, reader_context
from .errors import BackendError, ConfigError
from .llm import DEFAULT_MODEL, adapter_path, load_base_model, load_llm
from .llm.embedded import EmbeddedLLM
from .llm.models import cpu_has_fast_bf16, release_heap
from .prompts import SYSTEM, resolve_language
from .prompts import options as answer_options
from .vocabulary import LABELS

__all__ = ["TuningResult", "fit_label_adapter", "return_freed_memory", "load_head", "head_info",
           "DEFAULT_LR", "fit_bias", "apply_bias", "peak_rss_mb", "decision_prompts",
           "fit_decision_head"]

#: Learning rates that worked on the 135M model (AdamW, batch 16).
DEFAULT_LR = {"prefix": 5e-3, "prompt": 3e-2, "lora": 1e-3}
HEAD_FILE = "s3kit_head.json"
#: LoRA's default target modules (attention query and value projections, as the LoRA paper);
#: ``"all-linear"`` adapts every linear layer of the blocks (peft's shorthand).
LORA_TARGETS = ("q_proj", "v_proj")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux ``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass
class TuningResult:
    """What :func:`fit_label_adapter` produced.

    Attributes:
        name: adapter name (``None`` if not saved).
        path: adapter folder (``None`` if not saved).
        method: ``"prefix"``, ``"prompt"`` or ``"lora"``.
        history: tidy frame ``step, loss, val_acc, val_loss, seconds, rss_mb`` (the tuning curve;
            ``val_*`` only at evaluation steps, on the monitoring split carved from training
            data).
        seconds: training wall time.
        peak_rss_mb: peak resident memory of the process (MiB) after training.
        n_train: training examples.
        params: the hyper-parameters used.
        llm: an ``EmbeddedLLM`` wrapping the tuned in-memory model (ready for ``score``).
        best_step: the step whose adapter weights were kept (lowest monitoring loss with
            ``keep_best``; else the last step).
        bias: per-class log-bias fitted on the monitoring split (``calibrate``), to be applied
            with :func:`apply_bias` to the scores; ``None`` without a monitoring split.
    """

    name: str | None
    path: Path | None
    method: str
    history: pd.DataFrame
    seconds: float
    peak_rss_mb: float
    n_train: int
    params: dict = field(default_factory=dict)
    llm: object = None
    best_step: int | None = None
    bias: list[float] | None = None

    def summary(self) -> dict:
        """Plain dict for a metrics JSON (no model object)."""
        last = self.history.dropna(subset=["val_acc"]) if "val_acc" in self.history else None
        return {"name": self.name, "path": str(self.path) if self.path else None,
                "method": self.method, "seconds": round(self.seconds, 2),
                "peak_rss_mb": round(self.peak_rss_mb, 1), "n_train": self.n_train,
                "steps": int(self.history["step"].max()) if len(self.history) else 0,
                "final_val_acc": (float(last["val_acc"].iloc[-1])
                                  if last is not None and len(last) else None),
                "bias": self.bias,
                **{f"param_{k}": v for k, v in self.params.items()}}


def _peft_config(method: str, num_virtual_tokens: int, lora_r: int,
                 lora_targets: str | Sequence[str] = LORA_TARGETS):
    from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, TaskType

    if method == "prefix":
        return PrefixTuningConfig(task_type=TaskType.CAUSAL_LM,
                                  num_virtual_tokens=num_virtual_tokens)
    if method == "prompt":
        return PromptTuningConfig(task_type=TaskType.CAUSAL_LM,
                                  num_virtual_tokens=num_virtual_tokens)
    if method == "lora":
        return LoraConfig(task_type=TaskType.CAUSAL_LM, r=lora_r, lora_alpha=2 * lora_r,
                          lora_dropout=0.0, target_modules=(
                              lora_targets if isinstance(lora_targets, str)
                              else list(lora_targets)))
    raise ConfigError(f"unknown tuning method {method!r}: use 'prefix', 'prompt' or 'lora'")


#: Token multiple the training batches are left-padded to (see ``_Scorer._last_logits``).
_WIDTH_STEP = 32


class _Scorer:
    """Differentiable option log-probabilities, laid out as the embedded backend does."""

    def __init__(self, peft_model, tokenizer, system: str | None, options: Sequence[str]):
        import torch

        self.torch = torch
        self.peft = peft_model
        self.net = peft_model.get_base_model()
        self.tok = tokenizer
        # The wrapper renders the chat template exactly as ``score`` will.
        wrapper = EmbeddedLLM.from_model(peft_model, tokenizer, cache=False)
        prefix_text, self.suffix = wrapper.prompt_template(system)
        self.prefix_ids = self._encode(prefix_text)
        self.opt_ids = [self._encode(o) for o in options]
        if any(not ids for ids in self.opt_ids):
            raise ValueError("every option must encode to at least one token")
        self.single = all(len(ids) == 1 for ids in self.opt_ids)
        cfg = peft_model.active_peft_config
        self.n_virtual = int(cfg.num_virtual_tokens) if cfg.is_prompt_learning else 0
        self.kind = ("prefix" if "PREFIX" in str(cfg.peft_type) else "prompt") \
            if cfg.is_prompt_learning else "none"
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
            tokenizer.eos_token_id

    def _encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def bodies(self, prompts: Sequence[str]) -> list[list[int]]:
        return [self.prefix_ids + self._encode(p + self.suffix) for p in prompts]

    def _last_logits(self, seqs: list[list[int]], keep: int):
        torch = self.torch
        b, width = len(seqs), max(len(s) for s in seqs)
        # left-pad to a multiple of _WIDTH_STEP: bf16 autocast on CPU keeps kernels (with
        # their weight copies) per input shape, ~12 MB each; one shape per batch length made
        # a 60-step run grow by 1.2 GB, a few widths bound it (the mask hides the padding)
        width = -(-width // _WIDTH_STEP) * _WIDTH_STEP
        ids = torch.full((b, width), self.pad, dtype=torch.long)
        body_mask = torch.zeros((b, width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, width - len(s):] = torch.tensor(s, dtype=torch.long)
            body_mask[i, width - len(s):] = 1
        nv = self.n_virtual
        positions = (nv + body_mask.cumsum(-1) - 1).clamp(min=nv)
        mask = torch.cat([torch.ones(b, nv, dtype=torch.long), body_mask], dim=1)
        if self.kind == "prefix":
            out = self.net(input_ids=ids, attention_mask=mask, position_ids=positions,
                           past_key_values=self.peft.get_prompt(batch_size=b),
                           use_cache=True, logits_to_keep=keep)
        elif self.kind == "prompt":
            virtual = self.peft.get_prompt(batch_size=b).to(self.net.dtype)
            embeds = torch.cat([virtual, self.net.get_input_embeddings()(ids)], dim=1)
            pos = torch.cat([torch.arange(nv).unsqueeze(0).expand(b, -1), positions], dim=1)
            out = self.net(inputs_embeds=embeds, attention_mask=mask, position_ids=pos,
                           use_cache=False, logits_to_keep=keep)
        else:  # LoRA layers live inside the base model
            out = self.net(input_ids=ids, attention_mask=mask, position_ids=positions,
                           use_cache=False, logits_to_keep=keep)
        return out.logits.float()

    def option_logprobs(self, bodies: list[list[int]]):
        """(batch, k) summed log-probability of each option after each body."""
        torch = self.torch
        if self.single:
            logits = self._last_logits(bodies, keep=1)[:, -1]
            logp = torch.log_softmax(logits, dim=-1)
            return logp[:, [ids[0] for ids in self.opt_ids]]
        k = len(self.opt_ids)
        seqs = [b + o for b in bodies for o in self.opt_ids]
        keep = max(len(o) for o in self.opt_ids) + 1
        logp = torch.log_softmax(self._last_logits(seqs, keep=keep), dim=-1)
        rows = []
        for r, _ in enumerate(seqs):
            o = self.opt_ids[r % k]
            idx = torch.arange(keep - len(o) - 1, keep - 1)
            rows.append(logp[r, idx, torch.tensor(o)].sum())
        return torch.stack(rows).view(len(bodies), k)


def fit_label_adapter(prompts: Sequence[str], labels: Sequence, options: Sequence[str], *,
                      classes: Sequence[str] | None = None, system: str | None = None,
                      method: str = "prefix", num_virtual_tokens: int = 16, lora_r: int = 8,
                      lora_targets: str | Sequence[str] = LORA_TARGETS, steps: int = 200,
                      batch_size: int = 16, learning_rate: float | None = None,
                      val_prompts: Sequence[str] | None = None, val_labels=None,
                      eval_every: int = 20, name: str | None = None, task: str = "custom",
                      language: str = "en", model: str | None = None, dtype: str = "float32",
                      base=None, seed: int = 0, threads: int | None = None,
                      autocast: bool | None = None, bucket: int = 8,
                      keep_best: bool = True, calibrate: bool = True,
                      gradient_checkpointing: bool = False, micro_batch_size: int | None = None,
                      progress: bool = True) -> TuningResult:
    """Tune a PEFT adapter so that ``llm.score(prompts, options)`` predicts ``labels``.

    Args:
        prompts: training prompts (user messages, built with :mod:`s3kit.prompts`).
        labels: one label per prompt: a class name (see ``classes``) or an option index.
        options: answer words, aligned with ``classes``.
        classes: label names aligned with ``options`` (default: the options themselves).
        system: the system prompt used at inference (must match).
        method: ``"prefix"`` (P-Tuning v2, default), ``"prompt"`` or ``"lora"``.
        num_virtual_tokens: virtual tokens for prefix/prompt tuning.
        lora_r: LoRA rank.
        lora_targets: LoRA target modules (default query/value; ``"all-linear"``: all).
        steps: optimisation steps (each one batch).
        batch_size: examples per step.
        learning_rate: AdamW learning rate (default per method, ``DEFAULT_LR``).
        val_prompts: monitoring prompts (part of the *training* data, for the tuning curve).
        val_labels: their labels.
        eval_every: steps between monitoring evaluations (0 = only at the end).
        name: save the adapter as ``adapter_path(name)`` (``None``: keep in memory only).
        task: task name written into the head metadata.
        language: prompt language written into the head metadata.
        model: embedded model name (default: the registry default).
        dtype: training dtype (``"float32"`` recommended on CPU).
        base: ``(hf_model, tokenizer)`` to reuse an already loaded base model (it is wrapped
            in place: pass a fresh one per adapter).
        seed: seeds batch order and adapter initialisation.
        threads: torch CPU threads during training (``None``: leave as is).
        autocast: bf16 mixed precision for the forward/backward pass (weights stay fp32);
            ``None``: on when the CPU has native bf16 (measured ~2x faster per step here).
        bucket: length bucketing: each epoch is shuffled, cut into chunks of ``bucket``
            batches whose examples are sorted by token length, and the batches are shuffled
            again, so a batch pads to similar lengths (less wasted compute; 0 or 1 = plain
            shuffling).
        keep_best: with a monitoring split, keep the adapter weights of the evaluation with
            the lowest monitoring loss (early stopping without stopping), not the last ones.
        calibrate: with a monitoring split, fit a per-class log-bias on it (:func:`fit_bias`,
            on the kept weights); saved in the head metadata (``bias``) and applied by
            :class:`s3kit.demographics.DemographicClassifier` (:func:`apply_bias`).
        gradient_checkpointing: recompute each layer's activations in the backward pass
            instead of keeping them (LoRA only: peft refuses it for prefix/prompt tuning).
            Same gradients; the activations of a batch of 4 gender prompts drop from ~1.3 GiB
            to ~0.7 GiB for ~30% more time per step.
        micro_batch_size: examples per forward/backward pass (``None``: ``batch_size``). A
            step then accumulates the gradient of its batch over passes of this size: the
            same gradient (up to rounding) with the activations of the smaller pass.
        progress: show a tqdm progress bar.

    Returns:
        A :class:`TuningResult` (its ``llm`` scores with the tuned model).

    Raises:
        ValueError: labels outside ``classes`` or mismatched lengths.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from peft import get_peft_model
    from tqdm.auto import tqdm

    options = list(options)
    classes = list(classes) if classes is not None else list(options)
    if len(classes) != len(options):
        raise ValueError("classes and options must have the same length")
    y = _label_indices(labels, classes)
    prompts = list(prompts)
    if len(prompts) != len(y):
        raise ValueError(f"{len(prompts)} prompts but {len(y)} labels")
    lr = learning_rate if learning_rate is not None else DEFAULT_LR[method]
    if gradient_checkpointing and method != "lora":
        raise ConfigError("gradient_checkpointing works with method='lora' only (peft refuses "
                          f"it for {method} tuning)")
    if autocast is None:
        autocast = cpu_has_fast_bf16()
    model = model or DEFAULT_MODEL
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net, tokenizer = base if base is not None else load_base_model(model, dtype=dtype)
    if gradient_checkpointing:
        net.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    peft_model = get_peft_model(net, _peft_config(method, num_virtual_tokens, lora_r, lora_targets))
    scorer = _Scorer(peft_model, tokenizer, system, options)
    train_bodies = scorer.bodies(prompts)
    val_bodies = scorer.bodies(list(val_prompts)) if val_prompts is not None else None
    y_val = _label_indices(val_labels, classes) if val_prompts is not None else None
    lengths = np.array([len(b) for b in train_bodies])
    params = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.05, 1 - s / max(1, steps)))
    y_t = torch.tensor(y, dtype=torch.long)
    micro = max(1, int(micro_batch_size or batch_size))
    rows = []
    batches: list[np.ndarray] = []
    t0 = time.perf_counter()

    def evaluate() -> tuple[float, float, np.ndarray]:
        peft_model.eval()
        by_len = np.argsort([len(b) for b in val_bodies], kind="stable")
        with torch.no_grad():
            lps = [scorer.option_logprobs([val_bodies[j] for j in by_len[i:i + 16]])
                   for i in range(0, len(val_bodies), 16)]
        peft_model.train()
        lp = torch.empty((len(val_bodies), len(options)))
        lp[torch.as_tensor(by_len)] = torch.cat(lps).float()
        loss = torch.nn.functional.cross_entropy(lp, torch.tensor(y_val)).item()
        return float((lp.argmax(-1).numpy() == y_val).mean()), float(loss), lp.exp().numpy()

    best = {"loss": np.inf, "step": steps, "weights": None, "probs": None}
    last_probs = None

    peft_model.train()
    bar = tqdm(range(1, steps + 1), desc=f"tuning {method}", disable=not progress)
    try:
        for step in bar:
            if not batches:
                batches = _epoch_batches(lengths, batch_size, bucket, rng)
            idx = batches.pop()
            opt.zero_grad()
            loss_value = 0.0
            for start in range(0, len(idx), micro):  # gradient of the batch, pass by pass
                part = idx[start:start + micro]
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(autocast)):
                    lp = scorer.option_logprobs([train_bodies[i] for i in part])
                loss = torch.nn.functional.cross_entropy(lp.float(), y_t[part]) * (
                    len(part) / len(idx))
                loss.backward()
                loss_value += float(loss.item())
                del lp, loss
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            release_heap()  # steps of other lengths cannot reuse the freed pages: the RSS of a
            # 60-step LoRA run grew by 1.2 GB without this (notebook 02's defaults)
            row = {"step": step, "loss": loss_value, "val_acc": np.nan,
                   "val_loss": np.nan, "seconds": time.perf_counter() - t0,
                   "rss_mb": _current_rss_mb()}
            if val_bodies is not None and (
                    (eval_every and step % eval_every == 0) or step == steps):
                row["val_acc"], row["val_loss"], last_probs = evaluate()
                if row["val_loss"] < best["loss"]:
                    best.update(loss=row["val_loss"], step=step, probs=last_probs)
                    if keep_best and step < steps:
                        best["weights"] = {n: p.detach().clone() for n, p in
                                           peft_model.named_parameters() if p.requires_grad}
                    else:
                        best["weights"] = None
                bar.set_postfix(loss=f"{row['loss']:.3f}", val_acc=f"{row['val_acc']:.3f}")
            else:
                bar.set_postfix(loss=f"{row['loss']:.3f}")
            rows.append(row)
    finally:
        bar.close()
        if threads:
            torch.set_num_threads(old_threads)
    seconds = time.perf_counter() - t0
    del opt, sched
    return_freed_memory()  # the scoring that follows should not stack on the training's heap
    peft_model.eval()
    if keep_best and best["weights"] is not None:
        with torch.no_grad():
            for n, p in peft_model.named_parameters():
                if n in best["weights"]:
                    p.copy_(best["weights"][n])
    best_step = best["step"] if keep_best else steps
    probs = best["probs"] if keep_best else last_probs
    bias = None
    if calibrate and probs is not None and len(set(y_val.tolist())) == len(classes):
        bias = [float(b) for b in fit_bias(probs, [classes[i] for i in y_val], classes)]
    path = None
    hp = {"steps": steps, "batch_size": batch_size, "learning_rate": lr,
          "num_virtual_tokens": num_virtual_tokens if method != "lora" else None,
          "lora_r": lora_r if method == "lora" else None,
          "lora_targets": (lora_targets if isinstance(lora_targets, str) else
                           ",".join(lora_targets)) if method == "lora" else None,
          "seed": seed, "dtype": dtype,
          "autocast_bf16": bool(autocast), "bucket": bucket, "best_step": best_step,
          "gradient_checkpointing": bool(gradient_checkpointing),
          "micro_batch_size": micro,
          "n_monitor": 0 if val_bodies is None else len(val_bodies)}
    if name is not None:
        path = adapter_path(name)
        path.mkdir(parents=True, exist_ok=True)
        peft_model.save_pretrained(str(path))
        head = {"task": task, "classes": classes, "options": options, "system": system,
                "language": language, "method": method, "model": model,
                "n_train": len(y), "seconds": round(seconds, 2), "bias": bias, **hp}
        (path / HEAD_FILE).write_text(json.dumps(head, indent=2, ensure_ascii=False),
                                      encoding="utf-8")
    llm = EmbeddedLLM.from_model(peft_model, tokenizer, name=model, cache=False)
    return TuningResult(name=name, path=path, method=method, history=pd.DataFrame(rows),
                        seconds=seconds, peak_rss_mb=peak_rss_mb(), n_train=len(y),
                        params=hp, llm=llm, best_step=best_step, bias=bias)


def return_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc; a no-op elsewhere).

    glibc keeps the pages of freed tensors for reuse, and batches of different lengths leave
    them too fragmented to reuse: without this, a process that tuned keeps the size of its
    largest steps, and what runs next adds on top of it.
    """
    gc.collect()
    release_heap()


def fit_bias(probs: np.ndarray, y: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Per-label log-bias that maximises the likelihood of ``y`` (label-prior calibration).

    The answers of a small (or freshly tuned) model carry a prior for one word (e.g. ``calm``).
    Adding a bias ``b`` to the log-probabilities, ``p' = softmax(log p + b)``, fitted on
    scored *training* items, removes that prior without touching the ranking within a label
    (contextual calibration, Zhao et al. 2021). The fit is convex (L-BFGS on the mean negative
    log-likelihood, a tiny ridge keeps it finite on separable data); the first label's bias is 0.

    Examples:
        >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.95, 0.05]])
        >>> b = fit_bias(p, ["a", "b", "b", "a"], ["a", "b"])
        >>> apply_bias(p, b).argmax(1).tolist()
        [0, 1, 1, 0]
    """
    from scipy.optimize import minimize

    labels = list(labels)
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    idx = np.array([labels.index(v) for v in y])
    k = len(labels)

    def nll(b):
        z = logp + np.concatenate([[0.0], b])
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(-(z[np.arange(len(idx)), idx] - lse).mean() + 1e-3 * (b @ b))

    res = minimize(nll, np.zeros(k - 1), method="L-BFGS-B")
    return np.concatenate([[0.0], res.x])


def apply_bias(probs: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``softmax(log probs + bias)`` row-wise."""
    z = np.log(np.clip(probs, 1e-12, 1.0)) + bias
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _current_rss_mb() -> float:
    """Current (not peak) resident memory in MiB, from ``/proc/self/statm`` (nan elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def _epoch_batches(lengths: np.ndarray, batch_size: int, bucket: int,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of batches (popped from the end), length-bucketed when ``bucket > 1``."""
    perm = rng.permutation(len(lengths))
    if len(perm) < batch_size:  # tiny data: repeat it to fill one batch
        perm = np.resize(perm, batch_size)
    if bucket > 1:
        chunk = batch_size * bucket
        perm = np.concatenate([c[np.argsort(lengths[c], kind="stable")]
                               for c in np.array_split(perm, range(chunk, len(perm), chunk))])
    out = [perm[i:i + batch_size] for i in range(0, len(perm), batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def _label_indices(labels, classes: list[str]) -> np.ndarray:
    out = []
    for v in labels:
        if isinstance(v, int | np.integer) and not isinstance(v, bool):
            if not 0 <= int(v) < len(classes):
                raise ValueError(f"label index {v} outside 0..{len(classes) - 1}")
            out.append(int(v))
        elif v in classes:
            out.append(classes.index(v))
        else:
            raise ValueError(f"label {v!r} is not one of {classes}")
    return np.array(out, dtype=np.int64)


def head_info(name: str) -> dict:
    """The metadata saved with adapter ``name`` (task, classes, options, system, ...)."""
    path = adapter_path(name) / HEAD_FILE
    if not path.exists():
        raise BackendError(f"adapter {name!r} has no {HEAD_FILE} (not saved by s3kit.tuning)")
    return json.loads(path.read_text(encoding="utf-8"))


def load_head(name: str, **llm_kwargs):
    """Load a tuned head by name: ``(llm with the adapter, metadata dict)``.

    Args:
        name: adapter name given to :func:`fit_label_adapter`.
        **llm_kwargs: passed to ``s3kit.llm.load_llm`` (e.g. ``dtype``, ``cache``).

    Returns:
        ``(llm, info)``; score with ``llm.score(prompts, info["options"],
        system=info["system"])``.
    """
    info = head_info(name)
    llm_kwargs.setdefault("model", info.get("model") or "smollm2-135m-instruct")
    return load_llm("embedded", adapter=name, **llm_kwargs), info


def decision_prompts(task: str, texts: Sequence[str], topic: str | None = None,
                     profiles: Sequence[dict] | None = None, language: str = "auto"
                     ) -> tuple[list[str], str]:
    """Agent-decision prompts (``emotion``/``attitude``/``action``) for labelled posts.

    Each text is shown as a post the agent just read (from someone it follows), with the
    agent calm and without attitude (:func:`s3kit.agent.reader_context`), and the prompt is
    the one :func:`s3kit.agent.decision_prompt` sends at run time.

    Returns:
        ``(prompts, language)``.
    """
    lang = resolve_language(language, topic or "", list(texts)[:50])
    profiles = profiles or [{}] * len(texts)
    out = [decision_prompt(task, reader_context([message(t, "followee")], profile=prof,
                                                topic=topic, language=lang))
           for t, prof in zip(texts, profiles, strict=True)]
    return out, lang


def fit_decision_head(task: str, texts: Sequence[str], labels: Sequence[str], *,
                      topic: str | None = None, profiles: Sequence[dict] | None = None,
                      language: str = "auto", **kwargs) -> TuningResult:
    """Tune a decision head (emotion / attitude / action) on labelled posts.

    Labels must already be task labels (``calm/moderate/intense``, ``negative/positive``,
    ``repost/post/nothing``); mapping a dataset's own labels onto them is the caller's choice.

    Args:
        task: ``"emotion"``, ``"attitude"`` or ``"action"``.
        texts: the posts read.
        labels: the task label per post.
        topic: the topic shown in the prompt.
        profiles: optional profile per post author/reader.
        language: prompt language.
        **kwargs: passed to :func:`fit_label_adapter` (``name``, ``steps``, ``method`` ...).

    Returns:
        The :class:`TuningResult`; load later with ``load_head(name)``.
    """
    prompts, lang = decision_prompts(task, texts, topic, profiles, language)
    return fit_label_adapter(prompts, list(labels), answer_options(task, lang),
                             classes=LABELS[task], system=SYSTEM[lang], task=task,
                             language=lang, **kwargs)
