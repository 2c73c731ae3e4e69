"""Where the ``s3kit`` Voila template lives: Voila's lab template minus its CDN requests.

``widgets/voila.json`` and the repository's ``voila.json`` (Voila reads ``voila.json`` from the
folder it starts in) select it. ``pip install .`` puts it on the Jupyter path
(``<prefix>/share/jupyter/voila/templates/s3kit``); in a checkout that is not installed, add
:data:`SHARE` to ``JUPYTER_PATH``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SHARE", "TEMPLATE"]

#: The Jupyter data folder that holds ``voila/templates/s3kit``.
SHARE = Path(__file__).resolve().parent / "share"
#: The template's name (``voila --template=s3kit``).
TEMPLATE = "s3kit"
