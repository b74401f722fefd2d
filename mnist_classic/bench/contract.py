"""The contract check: every estimator a user brings is tried on a few real images before the first case.

A benchmark that fails in its last hour for a reason a second's check would
have shown wastes the hour; one that writes rows for a broken estimator
pollutes the results. So before anything is written, each configuration that
is not a built-in pipeline is cloned, round-tripped through ``get_params`` /
``set_params``, fitted on about 50 training images of the run's own data and
asked to predict about 50 test images: it must return one label per image,
each one of the training labels. The first failure stops the run with one
line naming the selector and what failed.

The check runs in a child process with a time limit per estimator (the run's
``--timeout`` when given, else :data:`DEFAULT_CONTRACT_TIMEOUT`, 60 s), killed
when the limit passes: an estimator whose ``fit`` never returns stops the run
with one line too, and whatever a user's estimator raises (or a crash of the
child) is reported, never a traceback. Estimator objects that cannot be sent
to a child (a local class, or a class of ``__main__``: a notebook's, a script's)
are checked in a thread instead, which is abandoned, not killed, when the limit
passes; so are all of them when the main module is a script without the
``if __name__ == "__main__":`` guard, which a spawned child would run again.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from ..spec.plugins import load_entry_points, load_plugins
from ..spec.selectors.parse import ConfiguredPipeline
from ..spec.selectors.steps import ContractError

__all__ = ["DEFAULT_CONTRACT_TIMEOUT", "ContractError", "check_contract", "contract_sample"]

#: Seconds each user estimator has to pass the check when the run sets no ``timeout``.
DEFAULT_CONTRACT_TIMEOUT = 60.0
#: Seconds the check's child process has to start, import and load the plugins.
STARTUP_TIMEOUT = 60.0


def contract_sample(y: np.ndarray, per_class: int = 5, seed: int = 0) -> np.ndarray:
    """Indices of up to ``per_class`` images of each class (about 50 for 10 classes), sorted.

    Examples
    --------
    >>> contract_sample(np.array([0, 1, 0, 1]), per_class=2).tolist()
    [0, 1, 2, 3]
    >>> len(contract_sample(np.repeat(np.arange(10), 100)))
    50
    """
    rng = np.random.default_rng(seed)
    picks = []
    for label in np.unique(y):
        where = np.flatnonzero(y == label)
        picks.append(where[:per_class] if len(where) <= per_class else np.sort(rng.choice(where, per_class, False)))
    return np.sort(np.concatenate(picks))


def _fail(name: str, what: str, exc: BaseException | None = None) -> ContractError:
    detail = f": {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ") if exc else ""
    return ContractError(f"Estimator {name!r} failed the contract check: {what}{detail}")


def check_one(configured: ConfiguredPipeline, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, seed: int = 0) -> None:
    """Check one configuration on a small sample; raise :class:`ContractError` on the first failure."""
    name = configured.name
    try:
        est = configured.build(random_state=seed)
    except Exception as exc:
        raise _fail(name, "building it raised", exc) from None
    try:
        twin = clone(est)
    except Exception as exc:
        raise _fail(name, "sklearn.base.clone raised", exc) from None
    try:
        params = est.get_params(deep=False)
        twin.set_params(**params)
        again = twin.get_params(deep=False)
    except Exception as exc:
        raise _fail(name, "get_params/set_params round trip raised", exc) from None
    if set(again) != set(params):
        raise _fail(name, f"get_params after set_params gives other keys ({sorted(set(again) ^ set(params))})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings on 50 images say nothing
            twin.fit(X, y)
    except Exception as exc:
        raise _fail(name, f"fit on {len(y)} images raised", exc) from None
    try:
        pred = np.asarray(twin.predict(X_test))
    except Exception as exc:
        raise _fail(name, f"predict on {len(X_test)} images raised", exc) from None
    if pred.shape != (len(X_test),):
        raise _fail(name, f"predict returned shape {pred.shape} for {len(X_test)} images (one label per image)")
    unknown = sorted(set(pred.tolist()) - set(np.unique(y).tolist()), key=str)
    if unknown:
        raise _fail(name, f"predict returned labels not among the training labels: {unknown[:5]}")


def _check_all(pipelines: Sequence[ConfiguredPipeline], data: tuple[np.ndarray, ...], seed: int, send: Any) -> None:
    """Check each configuration, sending ``("start", name)`` before it and ``("ok"|"fail", ...)`` at the end."""
    try:
        for configured in pipelines:
            send(("start", configured.name))
            X, y, X_test = data
            check_one(configured, X, y, X_test, seed)
    except ContractError as exc:
        send(("fail", str(exc)))
    except BaseException as exc:  # anything at all from a user's code is one line, never a traceback
        send(("fail", f"the contract check raised {type(exc).__name__}: {exc}"))
    else:
        send(("ok", None))


def _child(conn: Any, blob: bytes, plugins: tuple[str, ...]) -> None:
    """Entry point of the check's child process: load the plugins, then check."""
    try:
        load_entry_points()
        load_plugins(plugins)
        pipelines, data, seed = pickle.loads(blob)  # noqa: S301  (pickled by the parent a moment ago)
    except BaseException as exc:
        conn.send(("fail", f"the contract check could not start: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    _check_all(pipelines, data, seed, conn.send)


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text


def _wait(receive: Callable[[float], Any], limit: float, what: Callable[[str], str]) -> None:
    """Read the check's messages until it ends; raise ContractError on a failure or a limit passed."""
    current, deadline = "", time.monotonic() + STARTUP_TIMEOUT
    while True:
        message = receive(max(0.0, deadline - time.monotonic()))
        if message is None:
            if not current:
                msg = f"the contract check did not start within {STARTUP_TIMEOUT:g} s"
                raise ContractError(msg)
            msg = f"Estimator {current!r} failed the contract check: it did not finish within {what(current)}"
            raise ContractError(msg)
        kind, value = message
        if kind == "fail":
            raise ContractError(_first_line(str(value)))
        if kind == "ok":
            return
        if kind == "start":
            current, deadline = value, time.monotonic() + limit


def _main_is_spawn_safe() -> bool:
    """Whether a spawned child may import this process's main module (multiprocessing does) without running it.

    A script whose top level calls :func:`~.runner.run_benchmark` without the
    ``if __name__ == "__main__":`` guard would run again in the child, so the
    guard is looked for in its source (a heuristic: no API says it).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None:  # an interactive session or python -c: nothing to import again
        return True
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"__name__\s*==\s*['\"]__main__['\"]", text) is not None


def _in_child(blob: bytes, plugins: tuple[str, ...], limit: float, what: Any) -> None:
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(sender, blob, plugins), daemon=True, name="mnist-classic-contract")
    proc.start()
    sender.close()

    def receive(timeout: float) -> Any:
        if not receiver.poll(timeout):
            return None
        try:
            return receiver.recv()
        except EOFError:  # the child died without a word: a crash in native code, os._exit...
            proc.join(5)
            msg = f"the contract check's process ended without an answer (exit code {proc.exitcode})"
            raise ContractError(msg) from None

    try:
        _wait(receive, limit, what)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receiver.close()


def _in_thread(user: list[Any], data: tuple[np.ndarray, ...], seed: int, limit: float, what: Any) -> None:
    messages: queue.Queue[Any] = queue.Queue()
    thread = threading.Thread(target=_check_all, args=(user, data, seed, messages.put), daemon=True)
    thread.start()

    def receive(timeout: float) -> Any:
        try:
            return messages.get(timeout=timeout)
        except queue.Empty:
            return None

    _wait(receive, limit, what)


def check_contract(
    pipelines: Sequence[ConfiguredPipeline],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    *,
    seed: int = 0,
    timeout: float | None = None,
    plugins: Sequence[str] = (),
    on_check: Callable[[list[str], float], None] | None = None,
) -> list[str]:
    """Check every user-brought configuration on ~50 images of the data; return the names checked.

    Parameters
    ----------
    pipelines : sequence of ConfiguredPipeline
        Those that are not built-in pipelines are checked.
    X_train, y_train, X_test : numpy.ndarray
        The run's data; ~50 images are taken from it.
    seed : int, default=0
    timeout : float or None, default=None
        Seconds per estimator; None is :data:`DEFAULT_CONTRACT_TIMEOUT`.
    plugins : sequence of str, default=()
        Plugins the child process loads before it builds the estimators.
    on_check : callable or None, default=None
        Called as ``on_check(names, limit)`` when the check starts.

    Raises
    ------
    ContractError
        The first configuration that fails or passes the time limit, named,
        with what failed.
    """
    user = [p for p in pipelines if p.user_brought]
    if not user:
        return []
    limit = float(timeout) if timeout else DEFAULT_CONTRACT_TIMEOUT
    source = "the run's timeout" if timeout else "the default limit; set another with --timeout"

    def what(name: str) -> str:
        return f"{limit:g} s ({source}) on {len(idx)} images"

    idx = contract_sample(np.asarray(y_train), seed=seed)
    X, y = np.ascontiguousarray(X_train[idx]), np.asarray(y_train)[idx]
    data = (X, y, np.ascontiguousarray(X_test[: len(idx)]))
    if on_check is not None:
        on_check([p.name for p in user], limit)
    try:
        blob = pickle.dumps((user, data, seed))
    except Exception:  # a local class or a closure cannot be sent: checked in this process
        blob = b""
    # A class of __main__ (a notebook, a script) pickles by reference, but a spawned child
    # has another __main__: check those in this process too.
    if not blob or b"__main__" in blob or not _main_is_spawn_safe():
        _in_thread(user, data, seed, limit, what)
    else:
        _in_child(blob, tuple(plugins), limit, what)
    return [p.name for p in user]
