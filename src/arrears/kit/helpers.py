"""Helper processes: CPU work handed to a child so that both cores are busy.

A helper is a plain ``python -m MODULE`` child talking over its standard input and output
(multiprocessing's spawn would import the caller's main script again in the child, and
fork is unsafe in a process with threads). Frames are a 4-byte big-endian length and a
pickle. A task is any picklable value; the answer is ``(True, result)`` or ``(False,
message)``, in task order. The child's module calls ``serve(handler)`` as its main.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, TypeVar

_LENGTH = struct.Struct(">I")
T = TypeVar("T")
R = TypeVar("R")
_STOP = object()


def write_frame(stream: IO[bytes], payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    # frames come from our own child process (or our parent)
    return pickle.loads(data)


class HelperFailed(RuntimeError):
    """The helper process stopped, or could not do a task."""


class Helper:
    """A helper process running ``python -m module``, answering in the order it was asked."""

    def __init__(self, module: str, *, what: str = "helper") -> None:
        self.what = what
        # the child finds arrears where this process found it
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        self._tasks: queue.Queue[Any] = queue.Queue()
        self._results: queue.Queue[tuple[bool, Any]] = queue.Queue()
        self.outstanding = 0
        # Separate threads feed the child and drain its answers, so that neither side
        # ever waits on a full pipe while this process is busy elsewhere.
        self._sender = threading.Thread(target=self._send, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._sender.start()
        self._reader.start()

    def _send(self) -> None:
        assert self.process.stdin is not None
        try:
            while (task := self._tasks.get()) is not _STOP:
                write_frame(self.process.stdin, task)
        except (BrokenPipeError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            while True:
                self._results.put(read_frame(self.process.stdout))
        except (EOFError, OSError, pickle.UnpicklingError):
            self._results.put((False, f"the {self.what} process stopped"))

    def submit(self, task: Any) -> None:
        """Queue a task."""
        self.outstanding += 1
        self._tasks.put(task)

    def ready(self) -> bool:
        """Whether the oldest outstanding answer has arrived."""
        return not self._results.empty()

    def result(self) -> Any:
        """The answer to the oldest outstanding task (waiting for it)."""
        ok, payload = self._results.get()
        self.outstanding -= 1
        if not ok:
            raise HelperFailed(str(payload))
        return payload

    def results(self, tasks: int) -> Iterator[Any]:
        """The next ``tasks`` answers, in the order they were asked for."""
        for _ in range(tasks):
            yield self.result()

    def close(self) -> None:
        """Stop the helper process (work still queued is dropped)."""
        self._tasks.put(_STOP)
        self._sender.join(timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Helper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Let the cyclic garbage collector run far less often while bulk work runs.

    Bulk work makes and drops millions of small objects, freed by reference counting; at
    the default thresholds the collector would also scan every live object again and again
    (a fifth of the daily run's evaluation time).
    """
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


# tasks queued for each helper by ``share``: enough that a helper never waits while this
# process plans a task of its own and stores the answers that came in meanwhile (moving
# a million loans on a day: a task planned here takes as long as storing three)
AHEAD = 4
log = logging.getLogger(__name__)


def share(
    tasks: Iterable[T],
    helpers: Sequence[Helper],
    *,
    task: Callable[[T], Any],
    here: Callable[[T], R],
    store: Callable[[R], None],
) -> None:
    """Plan each of ``tasks`` in a helper or here, and ``store`` every plan here.

    A task goes to the helper with the fewest queued while one has fewer than ``AHEAD``;
    otherwise this process plans it itself (``here``). Plans are stored as they arrive.
    If a helper stops, the tasks it was given are planned here.
    """
    queued: dict[int, deque[T]] = {id(h): deque() for h in helpers}
    working = list(helpers)

    def collect(helper: Helper, *, wait: bool) -> None:
        waiting = queued[id(helper)]
        while waiting and (wait or helper.ready()):
            try:
                plan = helper.result()
            except HelperFailed as exc:
                log.warning("helpers.failed helper=%s error=%s", helper.what, exc)
                working.remove(helper)
                while waiting:
                    store(here(waiting.popleft()))
                return
            waiting.popleft()
            store(plan)

    for item in tasks:
        for helper in list(working):
            collect(helper, wait=False)
        idle = min(working, key=lambda h: len(queued[id(h)]), default=None)
        if idle is not None and len(queued[id(idle)]) < AHEAD:
            queued[id(idle)].append(item)
            idle.submit(task(item))
        else:
            store(here(item))
    for helper in list(working):
        collect(helper, wait=True)


def serve(handler: Callable[[Any], Any], *, what: str = "helper") -> None:
    """The helper's loop: answer each task frame with ``handler(task)`` until input ends."""
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            task = read_frame(requests)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, handler(task))
        except Exception as exc:  # a bug, reported to the parent
            answer = (False, f"{what} failed: {exc!r}")
        write_frame(answers, answer)
