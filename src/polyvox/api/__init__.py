"""The HTTP API: an app factory, schemas, dependencies, one error handler and the routes."""

from polyvox.api.app import create_app

__all__ = ["create_app"]
