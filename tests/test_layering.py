"""The package's layering: no import cycles, and the import-linter contract holds and can break."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")  # import-linter's graph library (the [test] extra installs it)

ROOT = Path(__file__).resolve().parents[1]


def _cycles(graph) -> list[list[str]]:
    """Every module that lies on an import cycle, as one chain back to itself (Tarjan would do; DFS suffices)."""
    found = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                found.append([module, *chain])
    return found


def test_no_import_cycles_type_checking_imports_included():
    graph = grimp.build_graph("mnist_classic", exclude_type_checking_imports=False)
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_planted_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "cyc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("cyc")) == [["cyc.a", "cyc.b", "cyc.a"], ["cyc.b", "cyc.a", "cyc.b"]]


def test_cycle_finder_sees_type_checking_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "cyct"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("cyct", exclude_type_checking_imports=False)) != []


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports") or pytest.skip("lint-imports not installed")
    env = {"PYTHONPATH": str(tree), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([exe], cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_layers_contract_is_kept():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


# One upward import planted per contract, each into a copy of the package: (file, import line, message).
PLANTED = [
    ("data/loader.py", "from ..bench import case", "mnist_classic.data is not allowed to import mnist_classic.bench"),
    (
        "spec/selectors.py",
        "from ..bench import runner",
        "spec is not allowed to import mnist_classic.bench",
    ),
    (
        "measure/timing.py",
        "from ..spec import pipelines",
        "measure is not allowed to import mnist_classic.spec",
    ),
    (
        "bench/case.py",
        "from . import runner",
        "bench.case is not allowed to import mnist_classic.bench.runner",
    ),
    (
        "bench/parallel/order.py",
        "from .. import plan",
        "mnist_classic.bench.parallel is not allowed to import mnist_classic.bench.plan",
    ),
    (
        "analysis/verdicts/compare.py",
        "from ..history import series",
        "mnist_classic.analysis.verdicts is not allowed to import mnist_classic.analysis.history",
    ),
    (
        "analysis/explore/explorer.py",
        "from ..verdicts import compare",
        "mnist_classic.analysis.explore is not allowed to import mnist_classic.analysis.verdicts",
    ),
    ("analysis/stats.py", "from .report import summary", "mnist_classic.analysis.stats is not allowed to import"),
    # The framework adapters stand on data alone, side by side.
    ("torch.py", "from .spec import pipelines", "mnist_classic.torch is not allowed to import mnist_classic.spec"),
    ("keras.py", "from . import torch", "mnist_classic.keras is not allowed to import mnist_classic.torch"),
    ("data/raw.py", "from .. import keras", "mnist_classic.data is not allowed to import mnist_classic.keras"),
]


@pytest.mark.parametrize(("module", "line", "message"), PLANTED, ids=[p[0] for p in PLANTED])
def test_an_upward_import_breaks_the_contract(tmp_path, module, line, message):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "mnist_classic", tree / "mnist_classic", ignore=shutil.ignore_patterns("_data"))
    shutil.copy(ROOT / "pyproject.toml", tree)
    with (tree / "mnist_classic" / module).open("a") as f:
        f.write(f"\n{line}  # noqa: F401  (upward)\n")
    done = _lint_imports(tree)
    assert done.returncode == 1
    assert message in " ".join(done.stdout.split()), done.stdout
