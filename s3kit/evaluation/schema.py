"""JSON schema of ``s3kit bench`` results (docs/evaluation.md) and :func:`validate_results`.

The contract's core is fixed: ``s3kit_version``, ``backend``, ``seed`` and ``tasks``, each task
with ``dataset``, ``n``, ``metrics`` and ``baselines`` (name -> metrics). Metric values are
numbers or ``null`` (undefined, e.g. an AUC with one class). Extra keys are allowed (notes,
per-dataset breakdowns, curves), so the schema constrains what other tools rely on and no
more. Task names must be among the contract's task names.

Examples:
    >>> ok = {"s3kit_version": "0.1.0", "backend": "fake", "seed": 0,
    ...       "tasks": {"emotion": {"dataset": "tweeteval", "n": 3,
    ...                             "metrics": {"acc": 0.5, "auc": None},
    ...                             "baselines": {"tfidf_logreg": {"acc": 0.6}}}}}
    >>> validate_results(ok)
    >>> validate_results({**ok, "tasks": {"emotoin": ok["tasks"]["emotion"]}})
    Traceback (most recent call last):
    ...
    ValueError: results.json does not follow the schema: at tasks: unexpected key 'emotoin'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_SCHEMA", "TASK_NAMES", "validate_results"]

TASK_NAMES = ("repost", "emotion", "attitude", "attitude_change", "gender", "content",
              "spread", "emotion_trend", "attitude_trend")

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_METRICS = {
    "type": "object",
    "additionalProperties": {"type": ["number", "null", "string", "array", "object",
                                      "boolean"]},
    "properties": {k: _NUMBER_OR_NULL for k in (
        "acc", "auc", "f1", "macro_f1", "perplexity", "cosine", "nrmse", "final_size_error",
        "pearson_r", "rmse")},
}
_TASK = {
    "type": "object",
    "required": ["dataset", "n", "metrics", "baselines"],
    "properties": {
        "dataset": {"type": "string"},
        "n": {"type": "integer", "minimum": 0},
        "metrics": _METRICS,
        "baselines": {"type": "object", "additionalProperties": _METRICS},
    },
}

#: JSON Schema (draft 2020-12) of ``results.json``.
RESULTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "s3kit bench results",
    "type": "object",
    "required": ["s3kit_version", "backend", "seed", "tasks"],
    "properties": {
        "s3kit_version": {"type": "string"},
        "backend": {"type": "string"},
        "seed": {"type": ["integer", "null"]},
        "tasks": {
            "type": "object",
            "properties": {name: _TASK for name in TASK_NAMES},
            "additionalProperties": False,
        },
        "skipped": {
            "type": "object",
            "properties": {name: {"type": "string"} for name in TASK_NAMES},
            "additionalProperties": False,
        },
    },
}

_TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}


def _is(value, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def _check(value, schema: dict, where: str) -> str | None:
    """The first violation (as text) of the schema subset used here, else ``None``."""
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_is(value, t) for t in types):
            return f"at {where}: expected {'/'.join(types)}, got {type(value).__name__}"
    if "minimum" in schema and _is(value, "number") and value < schema["minimum"]:
        return f"at {where}: {value} < {schema['minimum']}"
    if isinstance(value, float) and value != value:
        return f"at {where}: NaN is not valid JSON (write null)"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                return f"at {where}: missing key {key!r}"
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, sub in value.items():
            if key in props:
                err = _check(sub, props[key], f"{where}.{key}")
            elif extra is False:
                return f"at {where}: unexpected key {key!r}"
            elif isinstance(extra, dict):
                err = _check(sub, extra, f"{where}.{key}")
            else:
                err = None
            if err:
                return err
    return None


def validate_results(results: dict | str | os.PathLike) -> None:
    """Check a results dict (or a ``results.json`` path) against :data:`RESULTS_SCHEMA`.

    Uses ``jsonschema`` when installed (full draft 2020-12 validation) and always runs the
    built-in check of the same schema (no dependency), which also rejects ``NaN``.

    Args:
        results: the dict returned by ``run_bench`` or the path of the JSON file.

    Raises:
        ValueError: naming the first place that does not follow the schema.
    """
    if not isinstance(results, dict):
        results = json.loads(Path(results).read_text(encoding="utf-8"))
    err = _check(results, RESULTS_SCHEMA, "")
    if err:
        raise ValueError(f"results.json does not follow the schema: {err.replace('at .', 'at ')}")
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema comes with the notebooks extra
        return
    try:
        jsonschema.validate(results, RESULTS_SCHEMA)
    except jsonschema.ValidationError as exc:
        path = ".".join(str(p) for p in exc.absolute_path) or "top level"
        raise ValueError(f"results.json does not follow the schema: at {path}: "
                         f"{exc.message}") from None
