"""polyvox's version, importable without importing the server."""

__version__ = "0.1.0"
