"""The error tree: every error class newsledger defines lives in tasks/errors.py and is drawn
in its docstring, and every recorded (stage, code) pair is one class."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from newsledger.tasks import errors

REPO_ROOT = Path(__file__).resolve().parents[1]


def _error_classes() -> list[type[BaseException]]:
    return [
        value
        for value in vars(errors).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    ]


def test_every_error_class_is_in_the_documented_tree() -> None:
    doc = errors.__doc__ or ""
    missing = [c.__name__ for c in _error_classes() if c.__name__ not in doc]
    assert not missing
    assert errors.NewsledgerError.__name__ in doc


def test_every_code_is_one_class() -> None:
    seen: dict[tuple[str, str], str] = {}
    for cls in _error_classes():
        if not issubclass(cls, errors.NewsledgerError):
            continue
        key = (cls.stage, cls.code)
        assert key not in seen, f"{cls.__name__} and {seen[key]} share stage/code {key}"
        seen[key] = cls.__name__
        assert f'"{cls.code}"' in (errors.__doc__ or ""), f"{cls.__name__}: code not documented"


def test_no_error_class_outside_tasks_errors() -> None:
    """Public exception classes are defined in tasks/errors.py only (underscore-named ones
    are private control flow inside one module)."""
    known = {c.__name__ for c in _error_classes()} | {"Exception", "RuntimeError"}
    stray = []
    for path in [*(REPO_ROOT / "tasks").glob("*.py"), *(REPO_ROOT / "flows").glob("*.py")]:
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                if bases & known or any(b.endswith(("Error", "Exception")) for b in bases):
                    stray.append(f"{path.name}:{node.name}")
    assert not stray


def test_http_status_code_comes_from_the_status() -> None:
    assert errors.HTTPStatusError("gone", status=404).code == "http_404"
    assert errors.HTTPStatusError("odd").code == "http"
