"""Typed errors raised by s3kit.

Every error about bad input names *where* the problem is (file, line or record, field) so a
researcher can fix the file instead of reading a traceback.
"""

from __future__ import annotations

__all__ = ["S3kitError", "DataFormatError", "ConfigError", "CheckpointError", "BackendError",
           "HeadError", "StepInterrupted"]


class S3kitError(Exception):
    """Base class of every error s3kit raises on purpose."""


class DataFormatError(S3kitError, ValueError):
    """A data file does not match the format its loader expects.

    Args:
        path: the file (or folder) being read.
        record: line number (1-based) or record key where the problem is, if known.
        field: the field/column that is missing or malformed, if known.
        reason: what is wrong, in words.

    Examples:
        >>> err = DataFormatError("posts.json", record=3, field="time", reason="not a number")
        >>> str(err)
        "posts.json, record 3, field 'time': not a number"
    """

    def __init__(self, path, record=None, field=None, reason: str = "malformed input"):
        self.path = str(path)
        self.record = record
        self.field = field
        self.reason = reason
        where = [self.path]
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(", ".join(where) + f": {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.record, self.field, self.reason))


class ConfigError(S3kitError, ValueError):
    """A configuration or scenario file has an unknown key or an invalid value."""


class CheckpointError(S3kitError):
    """A simulation checkpoint is missing, truncated or corrupted."""


class BackendError(S3kitError, RuntimeError):
    """An LLM backend cannot be loaded or keeps failing after retries."""


class HeadError(S3kitError, ValueError):
    """Decision heads are missing, damaged, or were trained for another representation."""


class StepInterrupted(S3kitError):
    """Raised by a step's ``progress`` callback to abandon the step (a paused dashboard).

    :meth:`s3kit.simulation.Simulation.step` puts the replicate back as it was before the
    step, so running the step again gives the same result.
    """
