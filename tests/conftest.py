"""Shared test helpers: where the repository and the shared corpora are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = (REPO_ROOT / ".." / "shared").resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the repository; tests that need it skip, saying so, when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED} (expected ../shared beside the repo)")
    return SHARED
