"""A real headless Chromium for the web UI tests: Debian's ``chromium`` and
``chromium-driver`` (``make test`` installs them; nothing downloads a browser), driven by
Selenium. The microphone is Chromium's fake device playing a WAV file we choose."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

T = TypeVar("T")
SCREENSHOTS = Path(os.environ.get("POLYVOX_SCREENSHOTS", "build/screenshots"))
"""Where the UI tests write their screenshots (not committed)."""


def binaries() -> tuple[str, str]:
    """Chromium and its driver, or a failure that says how to get them."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        raise RuntimeError(
            "the web UI tests need Debian's chromium and chromium-driver: `make test` installs "
            "them (apt-get install chromium chromium-driver)"
        )
    return browser, driver


def chromium(downloads: Path, microphone: Path) -> WebDriver:
    """A headless Chromium that may play audio unprompted, records ``microphone`` (a WAV)
    as its microphone, and saves downloads in ``downloads``."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager never fetches anything
    browser, driver = binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={microphone}",
        "--window-size=1280,800", "--lang=en-US",
    ):  # fmt: skip
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    return chrome


def viewport(chrome: WebDriver, width: int, height: int, *, mobile: bool = False) -> None:
    """Make the page's viewport exactly ``width`` x ``height`` CSS pixels."""
    chrome.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def screenshot(chrome: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert chrome.save_screenshot(str(path)), path
    return path


def wait(what: Callable[[], T | None], timeout: float = 30.0, message: str = "") -> T:
    """Poll ``what`` until it returns something truthy (then return it), or fail."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = what()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s: {message} (last: {last!r})")


def js(chrome: WebDriver, script: str, *args: Any) -> Any:
    return chrome.execute_script(script, *args)


def console_errors(chrome: WebDriver) -> list[str]:
    """Severe messages in the browser console since the last call (uncaught errors, 404s)."""
    return [e["message"] for e in chrome.get_log("browser") if e.get("level") == "SEVERE"]


def by_id(chrome: WebDriver, element_id: str) -> WebElement:
    return chrome.find_element("id", element_id)


class PrefixProxy:
    """A reverse proxy (an ASGI app) that serves ``target`` under ``/prefix/``, stripping the
    prefix as nginx's ``location /prefix/ { proxy_pass http://target/; }`` does."""

    def __init__(self, prefix: str, target: str) -> None:
        self.prefix = prefix.rstrip("/")
        self.target = target

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import httpx

        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if not path.startswith(self.prefix + "/"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not under the prefix"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode()
        url = self.target + path[len(self.prefix) :] + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"host"]
        async with (
            httpx.AsyncClient(timeout=600) as client,
            client.stream(scope["method"], url, headers=headers, content=body) as upstream,
        ):
            skip = {b"content-length", b"transfer-encoding", b"connection"}
            kept = [(k, v) for k, v in upstream.headers.raw if k.lower() not in skip]
            await send(
                {"type": "http.response.start", "status": upstream.status_code, "headers": kept}
            )
            async for chunk in upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
