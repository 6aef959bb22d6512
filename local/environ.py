"""Each function's own environment, in one process.

On AWS every function runs in its own execution environment and sees only the variables the
template gives it (Globals + its own) plus what Lambda's runtime adds. The local stack runs all
functions in one process, on threads; a single ``os.environ`` holding the union of all functions'
variables would hide every variable a function lacks on AWS. So ``os.environ`` becomes a mapping
whose contents belong to the thread reading it: a thread running an invocation sees exactly its
function's environment; threads it starts inherit it (a fan-out pool inside a handler); every
other thread (tests, the gateway, the pump, the carrier) sees the process environment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

_local = threading.local()


class ThreadEnviron(MutableMapping[str, str]):
    """``os.environ``, per thread when a function environment is in use (see the module doc)."""

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process

    def _current(self) -> MutableMapping[str, str]:
        env: MutableMapping[str, str] | None = getattr(_local, "env", None)
        return self.process if env is None else env

    def __getitem__(self, key: str) -> str:
        return self._current()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._current()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._current()))

    def __len__(self) -> int:
        return len(self._current())

    def __contains__(self, key: object) -> bool:
        return key in self._current()

    def get(self, key: str, default: Any = None) -> Any:
        return self._current().get(key, default)

    def copy(self) -> dict[str, str]:
        return dict(self._current())

    def __repr__(self) -> str:
        return f"ThreadEnviron({dict(self._current())!r})"


def install() -> None:
    """Make ``os.environ`` per thread (idempotent) and let new threads inherit their starter's."""
    if isinstance(os.environ, ThreadEnviron):
        return
    os.environ = ThreadEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003 (reads and writes still reach it)
    _inherit_in_new_threads()


def process_environment() -> MutableMapping[str, str]:
    """The process's own environment, whatever thread asks."""
    env = os.environ
    return env.process if isinstance(env, ThreadEnviron) else env


def current() -> MutableMapping[str, str] | None:
    """The function environment this thread runs with (None: the process environment)."""
    return getattr(_local, "env", None)


@contextmanager
def function_environment(env: MutableMapping[str, str] | None) -> Iterator[None]:
    """Run the body with ``env`` as this thread's whole environment (None: the process's)."""
    install()
    previous = getattr(_local, "env", None)
    _local.env = env
    try:
        yield
    finally:
        _local.env = previous


def _inherit_in_new_threads() -> None:
    start, bootstrap = threading.Thread.start, threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def start_with_env(self: threading.Thread) -> None:
        self._autocall_env = current()  # type: ignore[attr-defined]
        start(self)

    def bootstrap_with_env(self: threading.Thread) -> None:
        _local.env = getattr(self, "_autocall_env", None)
        bootstrap(self)

    threading.Thread.start = start_with_env  # type: ignore[method-assign]
    threading.Thread._bootstrap_inner = bootstrap_with_env  # type: ignore[attr-defined]
