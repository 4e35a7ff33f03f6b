"""A stand-in engine of the ``picture`` task: a few lines that paint a prompt's colour."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator

from pydantic import BaseModel

from polyvox.engines.base import EngineClass
from polyvox.engines.spec import ModelSpec
from polyvox.types import EngineInfo
from tests.standins.picture_task import Picture, PictureRequest, Progress


class PictureOptions(BaseModel):
    sizes: list[str] = ["16x16", "32x32"]


class PictureEngine(EngineClass):
    kind = "picture"
    Options = PictureOptions
    blocking = True

    def __init__(self, spec: ModelSpec) -> None:
        sizes = spec.options.model_dump()["sizes"]
        capabilities = {"sizes": sizes, "max_n": 4}
        self.info = EngineInfo(
            spec.id,
            "picture",
            "picture",
            "paints a prompt's colour",
            capabilities=capabilities,
            max_concurrency=1,
        )
        self.loads = 0

    def load(self) -> None:
        self.loads += 1

    def unload(self) -> None:
        pass

    def run(self, request: BaseModel) -> Iterator[object]:
        assert isinstance(request, PictureRequest)
        width, height = (int(side) for side in request.size.split("x"))
        for step in range(1, 4):
            yield Progress(step, 3)
        for index in range(request.n):
            seed = hashlib.sha256(f"{request.prompt}/{index}".encode()).digest()
            yield Picture(index, png(width, height, seed[:3]))


def png(width: int, height: int, rgb: bytes) -> bytes:
    """A ``width`` x ``height`` PNG of one colour."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + rgb * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
