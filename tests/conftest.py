from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from streammetrics.cli import main

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="Rewrite tests/golden/ from the current compiler output.")


@pytest.fixture
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository's project (models, macros, profiles) to modify freely."""
    for name in ("models", "macros"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "profiles.yml", tmp_path / "profiles.yml")
    return tmp_path


def run_cli(project_dir: Path, *args: str):
    """Invoke the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(main, ["--project-dir", str(project_dir), *args], catch_exceptions=False)
