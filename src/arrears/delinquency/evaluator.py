"""The daily run's helper process: loads and evaluates chunks of loans, writing nothing.

Started by ``eod.run_eod`` (``ARREARS_EOD_HELPERS`` of them, as ``kit.helpers.Helper``);
each task is ``(what, database URL, business date, loan ids)`` and its answer what the run
then stores in its own transaction: ``Writes`` of loans evaluated in full, or ``Advances``
of loans moved on from their carry. The helper reads what is committed: the run hands
it only loans it has not written yet that day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from arrears.delinquency import service
from arrears.kit.db import make_engine
from arrears.kit.helpers import fewer_collections, serve

PING = "ping"
_engines: dict[str, Engine] = {}
_rules: dict[int, service.ProductRules] = {}  # products do not change during a run


def handle(task: Any) -> Any:
    if task == PING:
        return PING
    what, url, as_of, loan_ids = task
    if what not in (service.EVALUATE, service.ADVANCE) or not isinstance(as_of, date):
        raise TypeError("a task is (evaluate|advance, database URL, business date, loan ids)")
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    with Session(engine) as session:
        if what == service.ADVANCE:
            return service.plan_advances(session, list(loan_ids), as_of, _rules)
        return service.evaluate_chunk(session, list(loan_ids), as_of, _rules)


if __name__ == "__main__":
    with fewer_collections():
        serve(handle, what="evaluating loans")
