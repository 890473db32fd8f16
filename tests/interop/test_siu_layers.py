"""Interop is a delivery layer above scheduling: scheduling announces (scheduling.signals) and
never imports it."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

LOWER_APPS = ("clinic", "patients", "scheduling", "clinical", "measures")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_lower_app_imports_interop():
    root = Path(settings.BASE_DIR)
    offenders = [
        str(path.relative_to(root))
        for app in LOWER_APPS
        for path in (root / app).rglob("*.py")
        if any(name == "interop" or name.startswith("interop.") for name in _imports(path))
    ]
    assert offenders == []


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "upward.py"
    module.write_text("from interop.siu import outbox\n")
    assert "interop.siu" in _imports(module)
