"""``python -m s3kit``: the ``s3kit`` command line."""

import sys

from .cli import main

sys.exit(main())
