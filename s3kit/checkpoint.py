"""The checkpoint file: a simulation's state written atomically, checksummed and versioned.

A checkpoint is a header (magic ``S3KCKPT2``, the SHA-256 of what follows, the lengths), a JSON
metadata block (``schema``: :data:`CHECKPOINT_SCHEMA`, ``s3kit``: the version that wrote it)
and the pickled state. It is written to a temporary file in the same folder, flushed,
``fsync``-ed and moved into place with ``os.replace``, so a crash leaves the previous
checkpoint or the new one. Reading verifies the checksum and the schema before anything is
unpickled; a truncated, corrupted or other-schema file raises
:class:`~s3kit.errors.CheckpointError`. :meth:`s3kit.simulation.Simulation.save` and
:meth:`~s3kit.simulation.Simulation.resume` decide what the state holds.

Examples:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "state.s3k"
    >>> _ = write_checkpoint(path, {"format": CHECKPOINT_SCHEMA, "step": 3})
    >>> read_checkpoint(path)["step"], checkpoint_info(path)["schema"]
    (3, 2)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import struct
import tempfile
from pathlib import Path

from ._version import __version__
from .errors import CheckpointError

__all__ = ["CHECKPOINT_SCHEMA", "write_checkpoint", "read_checkpoint", "checkpoint_info"]

#: The layout of the pickled state. Bump it whenever that layout (``save``'s dict or the
#: classes it holds) changes: a checkpoint of another schema is refused with a clear error,
#: before anything is unpickled.
CHECKPOINT_SCHEMA = 2
# File: magic, sha256(meta + payload), len(payload), len(meta); then meta (JSON: schema,
# s3kit version), then the pickled state. Schema 1 (s3kit 0.1.0 before versioned checkpoints)
# was magic b"S3KCKPT1" + "<8s32sQ" + pickle, without metadata.
_MAGIC = b"S3KCKPT2"
_MAGIC_PREFIX = b"S3KCKPT"
_HEADER = struct.Struct("<8s32sQI")
_FORMAT = CHECKPOINT_SCHEMA


def write_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Pickle ``state`` to ``path`` atomically, with a SHA-256 checksum header.

    The bytes go to a temporary file in the same folder, are flushed and ``fsync``-ed, then
    ``os.replace`` swaps the file in (and the folder is ``fsync``-ed), so a crash at any moment
    leaves either the previous checkpoint or the new one, never a mix.

    Args:
        path: checkpoint file.
        state: any picklable mapping.

    Returns:
        The path written.

    Raises:
        CheckpointError: the state cannot be pickled (e.g. a lambda recommender).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"cannot checkpoint the simulation state: {exc} (custom "
                              "recommenders must be picklable: a module-level class or "
                              "function, not a lambda)") from exc
    meta = json.dumps({"schema": CHECKPOINT_SCHEMA, "s3kit": __version__}).encode()
    header = _HEADER.pack(_MAGIC, hashlib.sha256(meta + payload).digest(), len(payload),
                          len(meta))
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.write(meta)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - platforms without directory fsync
        pass
    return path


def _other_schema(path: Path, schema, writer: str) -> CheckpointError:
    return CheckpointError(
        f"{path}: checkpoint schema {schema} (written by {writer}); this s3kit {__version__} "
        f"reads schema {CHECKPOINT_SCHEMA} only: start afresh (delete the file, or "
        f"run_replay(..., resume=False))")


def _read_verified(path: Path) -> tuple[dict, bytes]:
    """The metadata and pickled payload of a checkpoint, checked (nothing unpickled)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc}") from exc
    magic = data[:len(_MAGIC)]
    if magic == b"S3KCKPT1":
        raise _other_schema(path, 1, "s3kit 0.1.0 or earlier")
    if len(data) < _HEADER.size:
        if magic.startswith(_MAGIC_PREFIX) or not data:
            raise CheckpointError(f"{path}: truncated checkpoint ({len(data)} bytes, header "
                                  f"needs {_HEADER.size})")
        raise CheckpointError(f"{path}: not an s3kit checkpoint (bad magic {magic!r})")
    magic, digest, size, meta_size = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        if magic.startswith(_MAGIC_PREFIX):
            raise _other_schema(path, magic[len(_MAGIC_PREFIX):].decode("ascii", "replace"),
                                "another s3kit")
        raise CheckpointError(f"{path}: not an s3kit checkpoint (bad magic {magic!r})")
    body = data[_HEADER.size:]
    if len(body) != meta_size + size:
        raise CheckpointError(f"{path}: truncated checkpoint ({len(body)} of "
                              f"{meta_size + size} bytes after the header)")
    if hashlib.sha256(body).digest() != digest:
        raise CheckpointError(f"{path}: corrupted checkpoint (checksum mismatch)")
    try:
        meta = json.loads(body[:meta_size])
        schema = meta["schema"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint metadata: {exc}") from exc
    if schema != CHECKPOINT_SCHEMA:
        raise _other_schema(path, schema, f"s3kit {meta.get('s3kit', '?')}")
    return meta, body[meta_size:]


def checkpoint_info(path: str | os.PathLike) -> dict:
    """The metadata of a checkpoint: ``{"schema": ..., "s3kit": <version that wrote it>}``.

    Raises:
        CheckpointError: as :func:`read_checkpoint` (another schema included).
    """
    return _read_verified(Path(path))[0]


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`write_checkpoint`, verifying its checksum.

    The schema version is checked before anything is unpickled.

    Raises:
        CheckpointError: the file is missing, truncated, corrupted, not a checkpoint, or of
            another schema (written by another s3kit version).
    """
    path = Path(path)
    _, payload = _read_verified(path)
    try:
        state = pickle.load(io.BytesIO(payload))
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad checkpoint
        raise CheckpointError(f"{path}: cannot unpickle checkpoint: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise CheckpointError(f"{path}: unsupported checkpoint format "
                              f"{state.get('format') if isinstance(state, dict) else '?'}")
    return state
