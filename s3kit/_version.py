"""The package version (core layer: any module may import it without importing ``s3kit``)."""

__version__ = "0.1.0"
