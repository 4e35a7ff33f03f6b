"""The web UI: ``/`` is its page and ``/ui/`` its files, all inside the package (no CDN).

Every URL in the page is relative, so it works behind a reverse proxy's path prefix too
(``https://host/speech/`` -> ``/``; mind the trailing slash)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

FILES = Path(str(resources.files("polyvox") / "ui"))
SECURITY_HEADERS = {
    # nothing from elsewhere: scripts, styles and connections stay on this server
    "Content-Security-Policy": "default-src 'self'; media-src 'self' blob:; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def index() -> FileResponse:
    """The single page."""
    return FileResponse(FILES / "index.html", headers=SECURITY_HEADERS)


class UIFiles(StaticFiles):
    """The page's scripts and styles, revalidated on each load (they change on upgrade)."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers.update(SECURITY_HEADERS)
        return response


def install(app: FastAPI) -> None:
    """Serve the UI from ``app``."""
    app.include_router(router)
    app.mount("/ui", UIFiles(directory=FILES), name="ui")
