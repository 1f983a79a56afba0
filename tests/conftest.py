"""Shared fixtures: the real footage beside the project, and a guard against logged errors."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


@pytest.fixture(scope="session")
def media() -> Path:
    if not MEDIA.is_dir():
        pytest.skip(f"real footage not found at {MEDIA}")
    return MEDIA


@pytest.fixture(autouse=True)
def _fail_on_logged_error(caplog, request):
    yield
    if request.node.get_closest_marker("allow_error_log"):
        return
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        pytest.fail("test logged an error: " + "; ".join(r.getMessage() for r in errors))
