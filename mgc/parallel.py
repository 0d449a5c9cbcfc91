"""Run one function over many tasks in worker processes: the machinery of ``extract`` and ``predict``.

:func:`run_parallel` yields one result per task, in task order, each a :class:`Done` or a
:class:`Failed` that the worker function itself returns. Workers are forked from a fork server
started clean (never plain fork: the parent may hold TensorFlow's threads) and preloaded with
the caller's modules, so they start warm; plain spawn where the platform has no fork server.
Each worker runs one BLAS/OpenMP thread and ignores Ctrl-C (the parent handles it). A worker
that dies (a crashing decoder, the OOM killer) costs only its own task: that task becomes a
``Failed`` with :data:`CRASHED`, the rest go on.

A preload module (e.g. :mod:`mgc.parallel_preload`) should call :func:`prepare_server` before
anything else: the fork server then ignores Ctrl-C, so every worker is born ignoring it, and dies
with the process that started it, so ``kill -9`` of the parent leaves no process behind.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence, Union

from mgc import interrupt

CRASHED = "the worker process died on this file (a crashing decoder, or out of memory)"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Done:
    """A task that worked: ``value`` is what the worker computed for it."""

    task: Any
    value: Any


@dataclass(frozen=True)
class Failed:
    """A task that did not: ``reason`` is one line saying why."""

    task: Any
    reason: str


Result = Union[Done, Failed]


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent exits (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def prepare_server() -> None:
    """What the fork server does first, from its preload module: ignore SIGINT (before the
    server saves its signal handlers, so every worker is born ignoring Ctrl-C) and die with the
    process that started it (each worker dies with the server: :func:`_init_worker`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


def _init_worker() -> None:
    """One BLAS/OpenMP thread per process: the parallelism is across processes, and the
    thread count changes float32 rounding, so fixing it makes results independent of
    ``--workers``. Workers ignore Ctrl-C; the parent commits finished work and stops them."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it saves and exits
    die_with_parent()  # never outlive the fork server (which never outlives the parent)


def start_server(preload: Sequence[str] = ()):
    """The context workers come from: a fork server preloaded with ``preload`` (module names),
    started now so that it warms up while the parent does other work; plain spawn where the
    platform has no fork server. A process has one fork server: the first call starts it, with
    its ``preload``, and later calls reuse it."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    forkserver.ensure_running()
    return context


def run_parallel(
    tasks: Sequence,
    work: Callable[..., Result],
    *,
    workers: int,
    args: tuple = (),
    preload: Sequence[str] = (),
) -> Iterator[Result]:
    """``work(task, *args)`` for every task, in task order, at most a few tasks in flight per
    worker. ``work`` (a module-level function, as are ``args`` picklable) returns a
    :class:`Done` or a :class:`Failed`. With ``workers <= 1`` it runs here, one BLAS thread.

    If a worker dies (a decoder crash, the OOM killer), the pool breaks: the tasks that were in
    flight are then run one at a time in fresh processes, the one that kills its process again
    becomes ``Failed(task, CRASHED)``, and the rest continue in a new pool. A pool broken by
    Ctrl-C is not a crash: :func:`mgc.interrupt.check` raises KeyboardInterrupt instead.
    """
    if workers <= 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            for task in tasks:
                yield work(task, *args)
        return
    context = start_server(preload)
    window, done = workers * 4, 0
    while done < len(tasks):
        pending: deque = deque()
        try:
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
                for task in tasks[done:]:
                    pending.append((task, pool.submit(work, task, *args)))
                    if len(pending) >= window:
                        result = pending[0][1].result()
                        pending.popleft()
                        done += 1
                        yield result
                while pending:
                    result = pending[0][1].result()
                    pending.popleft()
                    done += 1
                    yield result
        except BrokenProcessPool:
            interrupt.check()  # workers stopped by Ctrl-C are not crashes: no task is to blame
            for task, _ in pending:  # find the culprit among the tasks in flight
                with ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker) as alone:
                    try:
                        result = alone.submit(work, task, *args).result()
                    except BrokenProcessPool:
                        result = Failed(task, CRASHED)
                done += 1
                yield result
