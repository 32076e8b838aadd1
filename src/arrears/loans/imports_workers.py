"""Schedule generation in a helper process, for large imports on PostgreSQL.

Generating a million schedules is most of the work of a large loans import. A helper
process generates them (with ``arrears.loans.schedule.generate``, as the import itself does)
and hands the rows back as binary ``COPY`` data, while the importing process checks the next rows
of the file and the database stores the previous ones: three processes busy at once.

The helper is a plain ``python -m arrears.loans.imports_workers`` child talking over its
standard input and output (multiprocessing's spawn would import the caller's main script
again in the child). Frames are a 4-byte big-endian length and a pickle: a task is a list
of ``(loan_id, LoanTerms)``, a result is ``(ok, COPY rows or error message)``, in task
order.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import date
from typing import IO, Any

from arrears.loans.schedule import LoanTerms, generate

# loans per task: big enough to amortise the hand-over, small enough to stream
TASK_LOANS = 2_000
_LENGTH = struct.Struct(">I")


# COPY BINARY framing: the stream's header and trailer, and one installment row (field
# count, then each field's length and value: int8 loan_id, int4 number, date due_on as
# days since 2000-01-01, six int8 amounts)
COPY_HEADER = b"PGCOPY\n\xff\r\n\0" + b"\0\0\0\0" + b"\0\0\0\0"
COPY_TRAILER = b"\xff\xff"
_ROW = struct.Struct("!hiqiiiiiqiqiqiqiqiq")
_EPOCH = date(2000, 1, 1).toordinal()


def installment_copy_rows(loans: Sequence[tuple[int, LoanTerms]]) -> bytes:
    """The generated installments of ``loans`` as ``COPY … (FORMAT BINARY)`` rows.

    Columns: loan_id, number, due_on, principal, interest, fee, paid_principal,
    paid_interest, paid_fee (the paid amounts are zero). Header and trailer not included.
    """
    out = bytearray()
    pack = _ROW.pack
    for loan_id, terms in loans:
        for i in generate(terms).installments:
            out += pack(
                9,
                8, loan_id,
                4, i.number,
                4, i.due_on.toordinal() - _EPOCH,
                8, i.principal,
                8, i.interest,
                8, i.fee,
                8, 0,
                8, 0,
                8, 0,
            )  # fmt: skip
    return bytes(out)


def _write_frame(stream: IO[bytes], payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    # frames come from our own child process (or our parent)
    return pickle.loads(data)


class WorkerFailed(RuntimeError):
    """The helper process stopped or could not generate a schedule."""


class ScheduleWorker:
    """A helper process generating schedules, answering in the order it was asked."""

    def __init__(self) -> None:
        # the child finds arrears where this process found it
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "arrears.loans.imports_workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._tasks: queue.Queue[list[tuple[int, LoanTerms]] | None] = queue.Queue()
        self._results: queue.Queue[tuple[bool, bytes | str]] = queue.Queue()
        # Separate threads feed the child and drain its answers, so that neither side
        # ever waits on a full pipe while this process is busy elsewhere.
        self._sender = threading.Thread(target=self._send, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._sender.start()
        self._reader.start()
        # an empty task: fails here, early, if the helper cannot run at all
        try:
            list(self.results(self.submit_one([])))
        except WorkerFailed:
            self.close()
            raise

    def _send(self) -> None:
        assert self.process.stdin is not None
        try:
            while (task := self._tasks.get()) is not None:
                _write_frame(self.process.stdin, task)
        except (BrokenPipeError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            while True:
                self._results.put(_read_frame(self.process.stdout))
        except (EOFError, OSError, pickle.UnpicklingError):
            self._results.put((False, "the schedule helper process stopped"))

    def submit_one(self, loans: Sequence[tuple[int, LoanTerms]]) -> int:
        """Queue one task, however many loans; returns 1 (the answers to collect)."""
        self._tasks.put(list(loans))
        return 1

    def submit(self, loans: Sequence[tuple[int, LoanTerms]]) -> int:
        """Queue the schedules of ``loans``; returns how many answers to collect."""
        tasks = 0
        for start in range(0, len(loans), TASK_LOANS):
            self._tasks.put(list(loans[start : start + TASK_LOANS]))
            tasks += 1
        return tasks

    def results(self, tasks: int) -> Iterator[bytes]:
        """The COPY rows of the next ``tasks`` answers, in the order they were asked for."""
        for _ in range(tasks):
            ok, payload = self._results.get()
            if not ok or not isinstance(payload, bytes):
                raise WorkerFailed(str(payload))
            yield payload

    def close(self) -> None:
        """Stop the helper process (work still queued is dropped)."""
        self._tasks.put(None)
        self._sender.join(timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The helper's loop: answer each task frame with a result frame until input ends."""
    while True:
        try:
            task = _read_frame(requests)
        except EOFError:
            return
        try:
            answer: tuple[bool, bytes | str] = (True, installment_copy_rows(task))
        except Exception as exc:  # a bug, reported to the importing process
            answer = (False, f"generating schedules failed: {exc!r}")
        _write_frame(answers, answer)


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
