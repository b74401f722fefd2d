"""Build one environment per scikit-learn release and run a small case in each.

For each requirement set: the build time (uv or pip; a second call shows the
cache), the versions resolved, and whether
``python -m mnist_classic run --n-train 1000 --pipelines logreg`` runs in it.

Usage: python benchmarks/env_matrix.py [--installer auto|uv|pip] [--cache DIR] [SPEC ...]
where SPEC is a comma-separated requirement set, e.g. "scikit-learn==1.3.2,numpy<2".
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from mnist_classic.matrix.envs import EnvBuildError, build_env

DEFAULT = ["scikit-learn==1.3.2", "scikit-learn==1.4.2", "scikit-learn==1.5.2", "scikit-learn==1.6.1",
           "scikit-learn==1.7.2", "scikit-learn==1.8.0", "scikit-learn==1.9.1"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", default=DEFAULT)
    parser.add_argument("--installer", default="auto", choices=["auto", "uv", "pip"])
    parser.add_argument("--cache", default=None, help="cache folder (default: a new temporary one)")
    parser.add_argument("--n-train", default="1000")
    args = parser.parse_args(argv)
    cache = Path(args.cache or tempfile.mkdtemp(prefix="mnist-classic-envs-"))
    print(f"cache {cache}, installer {args.installer}")
    for spec in args.specs:
        reqs = [r for r in spec.split(",") if r]
        start = time.perf_counter()
        try:
            env = build_env(reqs, cache_dir=cache, installer=args.installer)
        except EnvBuildError as exc:
            print(f"{spec}: BUILD FAILED after {time.perf_counter() - start:.1f} s: {exc}")
            continue
        built = time.perf_counter() - start
        start = time.perf_counter()
        build_env(reqs, cache_dir=cache, installer=args.installer)
        again = time.perf_counter() - start
        v = env.versions
        resolved = ", ".join(f"{k} {v[k]}" for k in ("scikit-learn", "numpy", "scipy", "pandas"))
        out = Path(tempfile.mkdtemp()) / "x.csv"
        cmd = [str(env.python), "-m", "mnist_classic", "run", "--n-train", args.n_train, "--pipelines", "logreg"]
        start = time.perf_counter()
        proc = subprocess.run([*cmd, "--output", str(out)], capture_output=True, text=True, cwd=tempfile.gettempdir())
        ran = time.perf_counter() - start
        status = "run ok" if proc.returncode == 0 else f"run FAILED ({proc.returncode}): {proc.stderr.strip()[-300:]}"
        print(f"{spec}: built {built:.1f} s (cached {again:.2f} s); {resolved}; {status} in {ran:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
