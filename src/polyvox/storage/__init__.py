"""Object storage for generated and reference audio: local paths, gs:// and s3:// (fsspec)."""

from polyvox.storage.objects import ObjectStore, StoredObject, redact

__all__ = ["ObjectStore", "StoredObject", "redact"]
