"""The import contracts in .importlinter hold, and they would catch the mistakes they are there for:
an import from a lower floor to a higher one, and a module importing one of its own importers.

Each case runs lint-imports on a copy of the project's packages in a temporary folder, so the
deliberate mistakes never touch the real tree."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LAYERS = "Floors run one way"
ACYCLIC = "No module imports one of its own importers"


def root_packages() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config["importlinter"]["root_packages"].split()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for package in root_packages():
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "templates", "static", "*.json", "*.css", "*.js"),
        )
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=folder, capture_output=True, text=True, timeout=300, check=False
    )


def broken_contracts(output: str) -> str:
    return output.partition("Broken contracts")[2]


def test_every_project_package_is_under_contract():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(root_packages())


def test_the_untouched_project_keeps_every_contract(project):
    result = lint_imports(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_import_from_the_base_up_to_the_web_breaks_the_layers(project):
    (project / "clinic" / "upward.py").write_text("from web import desk  # a lower floor reaching up\n")

    result = lint_imports(project)

    assert result.returncode == 1
    broken = broken_contracts(result.stdout)
    assert LAYERS in broken
    assert "clinic is not allowed to import web" in broken
    assert "clinic.upward -> web.desk" in broken
    assert ACYCLIC not in broken


def test_scheduling_importing_the_session_record_breaks_the_layers(project):
    appointments = project / "scheduling" / "services" / "appointments.py"
    appointments.write_text(appointments.read_text() + "\nfrom clinical.services import require_start_allowed\n")

    result = lint_imports(project)

    assert result.returncode == 1
    assert "scheduling is not allowed to import clinical" in broken_contracts(result.stdout)


def test_two_siblings_on_one_floor_may_not_import_each_other(project):
    (project / "measures" / "sideways.py").write_text("import clinical.models\n")

    result = lint_imports(project)

    assert result.returncode == 1
    broken = broken_contracts(result.stdout)
    assert LAYERS in broken
    assert "measures is not allowed to import clinical" in broken


def test_a_module_importing_one_of_its_importers_breaks_the_acyclic_contract(project):
    # clinic.permissions imports clinic.rows; rows importing permissions back closes a circle.
    rows = project / "clinic" / "rows.py"
    rows.write_text(rows.read_text() + "\nimport clinic.permissions\n")

    result = lint_imports(project)

    assert result.returncode == 1
    broken = broken_contracts(result.stdout)
    assert ACYCLIC in broken
    assert "No cycles are allowed in clinic" in broken
    assert LAYERS not in broken


def test_the_engine_reading_a_model_breaks_its_contract(project):
    (project / "scheduling" / "engine" / "shortcut.py").write_text("from scheduling.models import Appointment\n")

    result = lint_imports(project)

    assert result.returncode == 1
    broken = broken_contracts(result.stdout)
    assert "The scheduling engine is plain Python" in broken
    assert "scheduling.engine.shortcut -> scheduling.models" in broken
