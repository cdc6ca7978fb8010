"""Test-only import shim: makes ``newsledger.flows`` / ``newsledger.tasks`` resolve to the
repository's ``flows/`` and ``tasks/`` folders, so tests exercise the working tree rather than
the copy installed in site-packages. Put ``tests/shim`` first on ``sys.path``/``PYTHONPATH``.

The package's own ``__init__`` (the curated public API, ``public/__init__.py`` in the
repository, installed as ``newsledger/__init__.py``) is then run in this module, so
``import newsledger; newsledger.open(...)`` works here as it does when installed."""

from pathlib import Path

_ROOT = Path(__file__).resolve().parents[3]
__path__ = [str(_ROOT)]
_PUBLIC = _ROOT / "public" / "__init__.py"
exec(compile(_PUBLIC.read_text(encoding="utf-8"), str(_PUBLIC), "exec"))
