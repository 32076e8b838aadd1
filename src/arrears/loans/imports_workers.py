"""Schedule generation in a helper process, for large imports on PostgreSQL.

Generating a million schedules is most of the work of a large loans import. A helper
process generates them (with ``arrears.loans.schedule.generate``, as the import itself does)
and hands the rows back as binary ``COPY`` data, while the importing process checks the next rows
of the file and the database stores the previous ones: three processes busy at once.

The helper is a ``kit.helpers.Helper`` running this module: a task is a list of
``(loan_id, LoanTerms)``, the answer its COPY rows.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from datetime import date

from arrears.kit.helpers import Helper, HelperFailed, serve
from arrears.loans.schedule import LoanTerms, generate

# loans per task: big enough to amortise the hand-over, small enough to stream
TASK_LOANS = 2_000


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


class WorkerFailed(HelperFailed):
    """The helper process stopped or could not generate a schedule."""


class ScheduleWorker(Helper):
    """A helper process generating schedules, answering in the order it was asked."""

    def __init__(self) -> None:
        super().__init__("arrears.loans.imports_workers", what="schedule helper")
        # an empty task: fails here, early, if the helper cannot run at all
        try:
            list(self.results(self.submit_one([])))
        except WorkerFailed:
            self.close()
            raise

    def submit_one(self, loans: Sequence[tuple[int, LoanTerms]]) -> int:
        """Queue one task, however many loans; returns 1 (the answers to collect)."""
        self.submit(list(loans))
        return 1

    def submit_loans(self, loans: Sequence[tuple[int, LoanTerms]]) -> int:
        """Queue the schedules of ``loans``; returns how many answers to collect."""
        tasks = 0
        for start in range(0, len(loans), TASK_LOANS):
            self.submit(list(loans[start : start + TASK_LOANS]))
            tasks += 1
        return tasks

    def results(self, tasks: int) -> Iterator[bytes]:
        """The COPY rows of the next ``tasks`` answers, in the order they were asked for."""
        for _ in range(tasks):
            try:
                payload = self.result()
            except HelperFailed as exc:
                raise WorkerFailed(str(exc)) from None
            if not isinstance(payload, bytes):
                raise WorkerFailed(f"the schedule helper answered {type(payload).__name__}")
            yield payload


if __name__ == "__main__":
    serve(installment_copy_rows, what="generating schedules")
