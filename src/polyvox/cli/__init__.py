"""The ``polyvox`` command line: serve, speak, models, voices."""

from polyvox.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
