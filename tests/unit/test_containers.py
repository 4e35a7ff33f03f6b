"""Static checks of the Dockerfiles, compose file and image workflow (no Docker engine here)."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "docker").glob("Dockerfile.*"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SCRIPTS = set(PYPROJECT["project"]["scripts"])
EXTRAS = set(PYPROJECT["project"]["optional-dependencies"])
INSTRUCTIONS = {
    "FROM", "ARG", "ENV", "WORKDIR", "COPY", "ADD", "RUN", "USER", "EXPOSE",
    "HEALTHCHECK", "CMD", "ENTRYPOINT", "LABEL", "VOLUME", "SHELL", "STOPSIGNAL",
}  # fmt: skip


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    assert not pending, f"{path.name}: dangling line continuation"
    parsed = []
    for line in lines:
        word, _, rest = line.partition(" ")
        parsed.append((word.upper(), rest.strip()))
    return parsed


def exec_form(args: str) -> list[str]:
    value = json.loads(args) if args.startswith("[") else shlex.split(args)
    assert isinstance(value, list)
    return [str(v) for v in value]


def check_command(argv: list[str]) -> None:
    """The command is a polyvox console script or ``python -m`` of an importable module."""
    program = argv[0]
    if program in ("python", "python3"):
        assert argv[1] == "-m", argv
        assert importlib.util.find_spec(argv[2]) is not None, f"no module {argv[2]}"
    else:
        assert program in SCRIPTS, f"{program} is not a console script of polyvox"


def test_there_are_six_dockerfiles() -> None:
    assert [p.name for p in DOCKERFILES] == [
        "Dockerfile.chatterbox", "Dockerfile.cpu", "Dockerfile.cuda", "Dockerfile.qwen",
        "Dockerfile.runpod", "Dockerfile.xtts",
    ]  # fmt: skip


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_parses(path: Path) -> None:
    parsed = instructions(path)
    names = [name for name, _ in parsed]
    assert set(names) <= INSTRUCTIONS, set(names) - INSTRUCTIONS
    assert names[0] in ("FROM", "ARG")
    assert names.count("CMD") + names.count("ENTRYPOINT") >= 1


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_copy_sources_exist(path: Path) -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for name, args in instructions(path):
        if name not in ("COPY", "ADD"):
            continue
        parts = [p for p in exec_form(args) if not p.startswith("--")]
        assert not any(p.startswith("--from") for p in exec_form(args))
        for source in parts[:-1]:
            assert (ROOT / source).exists(), f"{path.name}: COPY source {source} is missing"
            assert source.rstrip("/") not in ignored, f"{source} is in .dockerignore"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_entry_commands_are_real(path: Path) -> None:
    for name, args in instructions(path):
        if name in ("CMD", "ENTRYPOINT"):
            assert args.startswith("["), "use the exec form so signals reach polyvox"
            check_command(exec_form(args))
        if name == "RUN" and "polyvox.worker.runpod" in args:
            check_command(["python", "-m", "polyvox.worker.runpod"])


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_extras_exist(path: Path) -> None:
    for name, args in instructions(path):
        if name == "ARG" and args.startswith("EXTRAS="):
            extras = set(args.removeprefix("EXTRAS=").split(","))
            assert extras <= EXTRAS, extras - EXTRAS


def test_runpod_image_bakes_weights_and_runs_the_worker() -> None:
    parsed = instructions(ROOT / "docker" / "Dockerfile.runpod")
    runs = [args for name, args in parsed if name == "RUN"]
    assert any("python -m polyvox.worker.runpod --warm-only" in run for run in runs)
    assert exec_form(dict(parsed)["CMD"]) == ["python", "-m", "polyvox.worker.runpod"]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return data


def test_compose_services() -> None:
    services = compose()["services"]
    assert set(services) == {"gateway", "engine-gpu"}
    assert services["engine-gpu"]["profiles"] == ["gpu"]
    assert "gateway" not in {s for svc in services.values() for s in svc.get("depends_on", [])}
    for service in services.values():
        build = service["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
        check_command(service["command"])
        for port in service["ports"]:
            assert re.fullmatch(r"\d+:\d+", port)


def test_workflow_builds_every_dockerfile() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/docker.yml").read_text("utf-8"))
    (job,) = workflow["jobs"].values()
    files = {entry["dockerfile"] for entry in job["strategy"]["matrix"]["include"]}
    assert files == {str(p.relative_to(ROOT)) for p in DOCKERFILES}
    build = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("docker/build-push"))
    assert build["with"]["context"] == "."
