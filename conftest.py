"""Repository-wide pytest setup: the skip policy (see :mod:`s3kit.testing.pytest_policy`)."""

pytest_plugins = ["s3kit.testing.pytest_policy"]
