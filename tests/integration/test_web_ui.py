"""The web UI in a real headless Chromium against a real polyvox server: Piper, Whisper
and Kokoro in-process, and ``xtts`` (a cloning model) from the session's XTTS gateway,
with API keys on and the voice library in a directory. Everything is done as a person
would: clicks, typing, file pickers, the (fake) microphone, downloads."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import jiwer
import pytest
import srt
import uvicorn
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from polyvox import codecs
from polyvox.settings import ModelConfig, Settings, VoiceLibrarySettings
from tests.browser import (
    PrefixProxy,
    by_id,
    chromium,
    console_errors,
    js,
    screenshot,
    viewport,
    wait,
)
from tests.conftest import LiveServer, free_port, start_server
from tests.stt_audio import SENTENCE, normalise, speech_wav

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]
KEY = "ui-test-key"
PARAGRAPH = " ".join(
    [
        "Streaming matters most for long answers.",
        "The first phrase should be playing while the rest of the paragraph is synthesised.",
        "Each sentence after it is spoken as soon as the one before has been sent.",
        "A listener should never notice where one piece of audio ends and the next begins.",
        "That is how a voice assistant feels quick, even when it has a lot to say.",
    ]
    * 2
)


@pytest.fixture(scope="module")
def server(
    xtts_gateway: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    remote = {"engine": "polyvox", "url": xtts_gateway.url, "model": "xtts", "read_timeout": 600}
    models = {
        "piper": ModelConfig(engine="piper"), "kokoro": ModelConfig(engine="kokoro"),
        "xtts": ModelConfig(**remote), "whisper": ModelConfig(engine="whisper"),
    }  # fmt: skip
    library = tmp_path_factory.mktemp("ui-library")
    settings = Settings(
        models=models, preload=["piper"], request_timeout=600,
        api_keys=[KEY],  # type: ignore[list-item]
        voices=VoiceLibrarySettings(url=str(library)),
    )  # fmt: skip
    yield from start_server(settings)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ui-files")
    speech = speech_wav(SENTENCE)
    _, rate = codecs.decode(speech)
    (folder / "sentence.wav").write_bytes(codecs.with_wav_sizes(speech, rate))
    (folder / "downloads").mkdir()
    return folder


@pytest.fixture(scope="module")
def chrome(files: Path) -> Iterator[WebDriver]:
    driver = chromium(files / "downloads", microphone=files / "sentence.wav")
    try:
        yield driver
    finally:
        driver.quit()


def api(server: LiveServer, path: str) -> Any:
    response = httpx.get(
        f"{server.url}/{path}", headers={"Authorization": f"Bearer {KEY}"}, timeout=300
    )
    assert response.status_code == 200, response.text
    return response.json()


def ready(chrome: WebDriver) -> bool:
    return bool(js(chrome, "return document.body.dataset.ready === 'true'"))


def tab(chrome: WebDriver, name: str) -> None:
    by_id(chrome, f"tab-{name}").click()
    wait(lambda: by_id(chrome, f"panel-{name}").is_displayed(), 5, f"the {name} tab")


def result(chrome: WebDriver) -> dict[str, str]:
    data: dict[str, str] = js(chrome, "return {...document.getElementById('speak-result').dataset}")
    return data


def speak(chrome: WebDriver, timeout: float = 120) -> dict[str, str]:
    """Click Speak and wait for this run (not an earlier one) to finish."""
    before = result(chrome).get("run")
    by_id(chrome, "speak-go").click()
    wait(lambda: result(chrome).get("run") != before, 10, "a new run")
    return wait(
        lambda: (r := result(chrome))["state"] in ("done", "error") and r, timeout, "synthesis"
    )


def test_key_prompt_then_the_page_loads(server: LiveServer, chrome: WebDriver) -> None:
    chrome.get(f"{server.url}/")
    dialog = by_id(chrome, "key-dialog")
    wait(lambda: dialog.is_displayed(), 15, "the API-key prompt")
    assert "needs an API key" in by_id(chrome, "key-message").text
    by_id(chrome, "key-input").send_keys("wrong-key", Keys.ENTER)
    wait(lambda: "refused" in by_id(chrome, "key-message").text, 10, "the key refused")
    by_id(chrome, "key-input").send_keys(KEY, Keys.ENTER)
    wait(lambda: ready(chrome), 60, "the page with the key")
    assert not dialog.is_displayed()
    assert KEY not in chrome.current_url
    assert js(chrome, "return sessionStorage.getItem('polyvox.apiKey')") == KEY
    models = Select(by_id(chrome, "speak-model"))
    assert [o.get_attribute("value") for o in models.options] == ["piper", "kokoro", "xtts"]
    assert "Ready" in by_id(chrome, "server-line").text
    assert not [e for e in console_errors(chrome) if "401" not in e], "console errors"


def test_speak_streams_and_plays(server: LiveServer, chrome: WebDriver, files: Path) -> None:
    by_id(chrome, "speak-input").clear()
    by_id(chrome, "speak-input").send_keys(PARAGRAPH)
    done = speak(chrome)
    assert done["state"] == "done", by_id(chrome, "speak-form").text
    first, total = int(done["firstAudioMs"]), int(done["totalMs"])
    assert 0 < first < total / 3, done
    assert done["playingBeforeEnd"] == "true", "audio played only after synthesis ended"
    seconds = float(done["audioSeconds"])
    assert seconds > 20, done
    # the finished clip is in the audio element: it plays, and its time advances
    audio = by_id(chrome, "speak-audio")
    wait(lambda: js(chrome, "return arguments[0].duration", audio) > 0, 10, "clip loaded")
    assert js(chrome, "return arguments[0].duration", audio) == pytest.approx(seconds, abs=0.05)
    js(chrome, "arguments[0].play()", audio)
    wait(lambda: js(chrome, "return arguments[0].currentTime", audio) > 0.5, 10, "playback")
    js(chrome, "arguments[0].pause()", audio)
    assert "first audio" in by_id(chrome, "speak-history").text
    assert "en_US-joe-medium" in by_id(chrome, "speak-history").text
    assert "real time" in by_id(chrome, "stat-rtf").text
    # download in another format: the server encodes the same request as MP3
    Select(by_id(chrome, "speak-format")).select_by_value("mp3")
    by_id(chrome, "speak-download").click()
    mp3 = wait(lambda: next(iter((files / "downloads").glob("polyvox-piper*.mp3")), None), 60)
    wait(lambda: not list((files / "downloads").glob("*.crdownload")) and mp3.stat().st_size, 30)
    data = mp3.read_bytes()
    assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    samples, rate = codecs.decode(data)
    assert len(samples) / rate == pytest.approx(seconds, rel=0.05)  # synthesised again


def test_stop_ends_the_synthesis_and_the_playback(server: LiveServer, chrome: WebDriver) -> None:
    def cancelled() -> float:
        text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
        line = next(
            (
                x
                for x in text.splitlines()
                if x.startswith('polyvox_jobs_cancelled_total{model="piper"}')
            ),
            "x 0",
        )
        return float(line.split()[-1])

    before = cancelled()
    by_id(chrome, "speak-input").clear()
    js(chrome, "document.getElementById('speak-input').value = arguments[0]", PARAGRAPH * 3)
    runs = result(chrome).get("run")
    by_id(chrome, "speak-go").click()
    wait(lambda: result(chrome).get("run") != runs and by_id(chrome, "stat-first").text != "–", 30)
    assert result(chrome)["state"] == "streaming"
    by_id(chrome, "speak-stop").click()
    wait(lambda: result(chrome)["state"] == "idle", 10, "stopped")
    assert by_id(chrome, "speak-status").text == "Stopped."
    wait(lambda: by_id(chrome, "speak-stop").get_attribute("disabled"), 5, "nothing left to stop")
    wait(lambda: cancelled() > before, 10, "the server's job cancelled")


def _controls(chrome: WebDriver) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = js(
        chrome,
        """const out = {};
        for (const row of document.querySelectorAll('#speak-controls [data-control]')) {
          const range = row.querySelector('input[type=number]');
          const select = row.querySelector('select');
          out[row.dataset.control] = {
            min: range && range.min !== '' ? Number(range.min) : null,
            max: range && range.max !== '' ? Number(range.max) : null,
            choices: select ? [...select.options].map(o => o.value).filter(Boolean) : null,
            checkbox: !!row.querySelector('input[type=checkbox]')};
        }
        return out;""",
    )
    return found


def test_controls_follow_each_models_capabilities(server: LiveServer, chrome: WebDriver) -> None:
    cards = {c["id"]: c for c in api(server, "v1/models")["data"]}
    seen = {}
    for model in ("kokoro", "xtts", "piper"):
        Select(by_id(chrome, "speak-model")).select_by_value(model)
        wait(
            lambda m=model: (
                js(
                    chrome,
                    "return document.querySelector('#speak-controls [data-model]')?.dataset.model",
                )
                == m
            ),
            10,
            model,
        )  # type: ignore[misc]
        caps = cards[model]["capabilities"]
        controls = _controls(chrome)
        expected = set(caps["params"]) | set(caps["voice_attributes"])
        expected |= {"speed"} if caps["speed"] else set()
        expected |= {"language"} if len(cards[model]["languages"]) > 1 else set()
        expected |= {"instructions"} if caps["instructions"] else set()
        expected |= {"reference_audio"} if caps["voice_cloning"] else set()
        expected |= {"reference_text"} if caps["reference_text"] else set()
        assert set(controls) == expected, model
        for name, spec in caps["params"].items():
            if spec["minimum"] is not None and spec["maximum"] is not None and not spec["choices"]:
                assert (controls[name]["min"], controls[name]["max"]) == (
                    spec["minimum"],
                    spec["maximum"],
                )
            if spec["choices"]:
                assert controls[name]["choices"] == spec["choices"]
            assert controls[name]["checkbox"] == (spec["type"] == "bool")
        if "language" in controls:
            assert controls["language"]["choices"] == cards[model]["languages"]
        voices = [v["id"] for v in api(server, f"v1/audio/voices?model={model}")["data"]]
        options = [o.get_attribute("value") for o in Select(by_id(chrome, "speak-voice")).options]
        assert options == voices, model
        seen[model] = set(controls)
    assert len({frozenset(s) for s in seen.values()}) == 3, "switching models changes controls"
    # a quick change of mind: the last model picked is the one shown, whatever answers last
    js(
        chrome,
        """const select = document.getElementById('speak-model');
        for (const id of ['xtts', 'kokoro', 'piper', 'kokoro']) {
          select.value = id; select.dispatchEvent(new Event('change'));
        }""",
    )
    shown = "return document.querySelector('#speak-controls [data-model]')?.dataset.model"
    wait(
        lambda: (
            js(chrome, shown) == "kokoro"
            and not by_id(chrome, "speak-go").get_attribute("disabled")
        ),
        20,
    )
    time.sleep(1)
    assert js(chrome, shown) == "kokoro"
    assert set(_controls(chrome)) == seen["kokoro"]
    voices = [o.get_attribute("value") for o in Select(by_id(chrome, "speak-voice")).options]
    assert voices == [v["id"] for v in api(server, "v1/audio/voices?model=kokoro")["data"]]


def test_a_bad_value_shows_the_apis_error_by_its_field(
    server: LiveServer, chrome: WebDriver
) -> None:
    Select(by_id(chrome, "speak-model")).select_by_value("piper")
    wait(
        lambda: js(
            chrome, "return !!document.querySelector('#speak-controls [data-control=noise_scale]')"
        ),
        10,
    )
    field = chrome.find_element("css selector", "[data-control=noise_scale] input[type=number]")
    field.clear()
    field.send_keys("9")
    by_id(chrome, "speak-input").clear()
    by_id(chrome, "speak-input").send_keys("Short.")
    assert speak(chrome)["state"] == "error"
    expected = httpx.post(
        f"{server.url}/v1/audio/speech", headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "piper", "input": "Short.", "noise_scale": 9, "response_format": "pcm"},
    ).json()["error"]  # fmt: skip
    note = chrome.find_element("css selector", "[data-control=noise_scale] .field-error")
    assert note.text == expected["message"]
    assert expected["param"] == "noise_scale"
    assert field.get_attribute("aria-invalid") == "true"
    assert note.get_attribute("id") in field.get_attribute("aria-describedby")
    chrome.find_element("css selector", "[data-control=noise_scale] button.link").click()  # reset
    assert speak(chrome)["state"] == "done"
    assert not chrome.find_elements("css selector", "#speak-form .field-error")


def test_a_recorded_voice_with_consent_is_created_used_renamed_deleted(
    server: LiveServer, chrome: WebDriver
) -> None:
    tab(chrome, "voices")
    by_id(chrome, "voice-name").send_keys("Ada")
    by_id(chrome, "voice-language").send_keys("en")
    record = by_id(chrome, "voice-record")
    record.click()  # the fake microphone plays Piper speaking SENTENCE
    wait(lambda: record.get_attribute("aria-pressed") == "true", 10, "recording")
    time.sleep(4)
    record.click()
    wait(lambda: by_id(chrome, "voice-recording").is_displayed(), 10, "the recording")
    assert "Recorded" in by_id(chrome, "voice-record-status").text
    submit = chrome.find_element("css selector", "#voice-form button[type=submit]")
    submit.click()  # consent not ticked: the API says so, by the checkbox
    note = wait(lambda: chrome.find_elements("css selector", "#voice-form .field-error"), 30)[0]
    assert note.get_attribute("data-error-for") == "consent"
    assert "consent" in note.text
    assert by_id(chrome, "voice-consent").get_attribute("aria-invalid") == "true"
    by_id(chrome, "voice-consent").click()
    submit.click()  # ticked, but by nobody: said next to the name field
    note = wait(lambda: chrome.find_elements("css selector", "#voice-form .field-error"), 10)[0]
    assert note.get_attribute("data-error-for") == "consent_by"
    assert by_id(chrome, "voice-consent-by").get_attribute("aria-invalid") == "true"
    by_id(chrome, "voice-consent-by").send_keys("Ada Lovelace")
    submit.click()
    item = wait(lambda: chrome.find_elements("css selector", "#voice-list .voice"), 60, "voice")[0]
    voice = api(server, "v1/audio/voices?source=library&detail=true")["data"][0]
    assert voice["name"] == "Ada"
    assert voice["consent"]["by"] == "Ada Lovelace"
    assert "agreed to have it cloned" in voice["consent"]["statement"]
    assert 1.0 <= voice["seconds"] <= 4.5, voice
    item.find_element("css selector", "button[aria-label='Play Ada']").click()
    player = item.find_element("css selector", "audio")
    wait(lambda: js(chrome, "return arguments[0].currentTime", player) > 0.2, 10, "reference plays")

    item.find_element("css selector", "button[aria-label='Use Ada in Speak']").click()
    wait(lambda: by_id(chrome, "panel-speak").is_displayed(), 5)
    wait(
        lambda: (
            Select(by_id(chrome, "speak-voice")).first_selected_option.get_attribute("value")
            == voice["id"]
        ),
        10,
    )
    assert (
        Select(by_id(chrome, "speak-model")).first_selected_option.get_attribute("value") == "xtts"
    )
    by_id(chrome, "speak-input").clear()
    by_id(chrome, "speak-input").send_keys("Hello there.")
    spoken = speak(chrome, timeout=300)
    assert spoken["state"] == "done", by_id(chrome, "speak-form").text
    assert float(spoken["audioSeconds"]) > 0

    tab(chrome, "voices")
    item = chrome.find_element("css selector", f"[data-voice-id='{voice['id']}']")
    item.find_element("css selector", "button[aria-label='Rename Ada']").click()
    name = item.find_element("css selector", "form.rename input")
    name.clear()
    name.send_keys("Ada L", Keys.ENTER)
    wait(lambda: api(server, f"v1/audio/voices/{voice['id']}")["name"] == "Ada L", 10, "rename")
    wait(lambda: chrome.find_elements("css selector", "button[aria-label='Delete Ada L']"), 10)
    delete = chrome.find_element("css selector", "button[aria-label='Delete Ada L']")
    delete.click()
    assert delete.text == "Confirm delete"
    delete.click()
    wait(lambda: not chrome.find_elements("css selector", "#voice-list .voice"), 10, "deleted")
    assert api(server, "v1/audio/voices?source=library&detail=true")["data"] == []


def test_a_file_is_transcribed_and_its_srt_downloaded(
    server: LiveServer, chrome: WebDriver, files: Path
) -> None:
    tab(chrome, "transcribe")
    by_id(chrome, "stt-file").send_keys(str(files / "sentence.wav"))
    chrome.find_element("css selector", "#stt-form button[type=submit]").click()
    wait(lambda: by_id(chrome, "stt-result").is_displayed(), 120, "a transcript")
    words = chrome.find_elements("css selector", "#stt-text .word")
    heard = " ".join(w.text for w in words)
    assert jiwer.wer(normalise(SENTENCE), normalise(heard)) < 0.25, heard
    fox = next(w for w in words if normalise(w.text) == "fox")
    fox.click()
    audio = by_id(chrome, "stt-audio")
    start = float(fox.get_attribute("data-start") or 0)
    assert start > 0.3
    wait(lambda: js(chrome, "return arguments[0].currentTime", audio) >= start, 10, "seek")
    js(chrome, "arguments[0].pause()", audio)

    downloads = files / "downloads"
    chrome.find_element("css selector", "#stt-downloads [data-format=srt]").click()
    path = wait(lambda: next(iter(downloads.glob("transcript*.srt")), None), 10, "the SRT file")
    wait(lambda: path.stat().st_size > 0, 5)
    subtitles = list(srt.parse(path.read_text()))
    assert subtitles
    assert subtitles[0].start.total_seconds() >= 0
    assert normalise(" ".join(s.content for s in subtitles)) == normalise(
        by_id(chrome, "stt-text").text
    )
    chrome.find_element("css selector", "#stt-downloads [data-format=json]").click()
    data = wait(lambda: next(iter(downloads.glob("transcript*.json")), None), 10, "the JSON")
    wait(lambda: data.stat().st_size > 0, 5)
    assert json.loads(data.read_text())["words"]


def test_the_server_tab_shows_models_and_recent_rtf(server: LiveServer, chrome: WebDriver) -> None:
    tab(chrome, "server")
    rows = wait(lambda: chrome.find_elements("css selector", "#server-models tr"), 10)
    text = {r.get_attribute("data-model"): r.text for r in rows}
    assert set(text) == {"piper", "kokoro", "xtts", "whisper"}

    def cell(model: str, label: str) -> str:
        selector = f"#server-models tr[data-model={model}] td[data-label='{label}']"
        return str(chrome.find_element("css selector", selector).text)

    assert cell("piper", "State") == "loaded"
    assert cell("whisper", "State") == "loaded"  # it transcribed above
    assert cell("piper", "Runs") == "in-process (cpu)"
    assert cell("xtts", "Runs").startswith("remote: ")
    status = api(server, "v1/status")
    piper = next(m for m in status["models"] if m["id"] == "piper")
    assert piper["recent_rtf"], status
    shown = float(cell("piper", "Recent RTF"))
    assert min(piper["recent_rtf"]) - 0.0005 <= shown <= max(piper["recent_rtf"]) + 0.0005


def test_screenshots_and_phone_width(server: LiveServer, chrome: WebDriver) -> None:
    """1280x800 and 390x844 screenshots (build/screenshots); nothing is wider than a phone."""
    tab(chrome, "speak")
    Select(by_id(chrome, "speak-model")).select_by_value("piper")
    wait(lambda: js(chrome, "return !!document.querySelector('[data-control=noise_scale]')"), 10)
    by_id(chrome, "speak-input").clear()
    by_id(chrome, "speak-input").send_keys(PARAGRAPH[:200])
    assert speak(chrome)["state"] == "done"
    for width, height, mobile in ((1280, 800, False), (390, 844, True)):
        viewport(chrome, width, height, mobile=mobile)
        for name in ("speak", "voices", "transcribe", "server"):
            tab(chrome, name)
            js(chrome, "window.scrollTo(0, 0)")
            overflow = js(chrome, "return document.documentElement.scrollWidth")
            assert overflow <= width, f"{name} is {overflow}px wide at {width}px"
            screenshot(chrome, f"{name}-{width}x{height}")
    viewport(chrome, 1280, 800)
    tab(chrome, "speak")


def test_every_control_is_labelled_and_tabs_use_the_keyboard(
    server: LiveServer, chrome: WebDriver
) -> None:
    unnamed = js(
        chrome,
        """return [...document.querySelectorAll('input, select, textarea, button')]
          .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                        && !el.getAttribute('aria-labelledby')
                        && !(el.tagName === 'BUTTON' && el.textContent.trim()))
          .map(el => el.outerHTML.slice(0, 120));""",
    )
    assert unnamed == []
    by_id(chrome, "tab-speak").click()
    by_id(chrome, "tab-speak").send_keys(Keys.ARROW_RIGHT)
    assert by_id(chrome, "panel-voices").is_displayed()
    assert js(chrome, "return document.activeElement.id") == "tab-voices"
    outline = js(chrome, "return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "keyboard focus is visible"
    by_id(chrome, "tab-voices").send_keys(Keys.END)
    assert by_id(chrome, "panel-server").is_displayed()


def test_the_page_works_behind_a_path_prefix(server: LiveServer, chrome: WebDriver) -> None:
    port = free_port()
    proxy = uvicorn.Server(
        uvicorn.Config(
            PrefixProxy("/speech", server.url), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=proxy.run, daemon=True)
    thread.start()
    try:
        wait(lambda: proxy.started, 10, "the proxy")
        chrome.get(f"http://127.0.0.1:{port}/speech/#speak")
        # another origin, so another session storage: the page asks for the key again
        wait(lambda: by_id(chrome, "key-dialog").is_displayed(), 15, "the key prompt")
        by_id(chrome, "key-input").send_keys(KEY, Keys.ENTER)
        wait(lambda: ready(chrome), 30, "the page behind the prefix")
        by_id(chrome, "speak-input").clear()
        by_id(chrome, "speak-input").send_keys("Behind a proxy.")
        assert speak(chrome)["state"] == "done"
        assert not [e for e in console_errors(chrome) if "404" in e]
    finally:
        proxy.should_exit = True
        thread.join(10)


def test_nothing_is_loaded_from_elsewhere(server: LiveServer) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200  # open without a key; what it calls is not
    assert "default-src 'self'" in page.headers["content-security-policy"]
    folder = Path(str(resources.files("polyvox") / "ui"))
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert len(files) >= 14
    for path in files:
        served = httpx.get(f"{server.url}/ui/{path.relative_to(folder).as_posix()}")
        assert served.status_code == 200, path
        elsewhere = {".html": r"https?://|[\"']//", ".js": r"https?://|[\"'`]//"}
        elsewhere[".css"] = r"https?://|url\(|@import"
        if path.suffix in elsewhere:
            assert not re.search(elsewhere[path.suffix], served.text), path
    assert httpx.get(f"{server.url}/v1/models").status_code == 401
