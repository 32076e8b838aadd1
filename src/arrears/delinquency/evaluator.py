"""The daily run's helper process: loads and evaluates chunks of loans, writing nothing.

Started by ``eod.run_eod`` (``ARREARS_EOD_HELPERS`` of them, as ``kit.helpers.Helper``);
each task is ``(database URL, business date, loan ids)`` and its answer the ``Writes`` the
run then stores in its own transaction. The helper reads what is committed: the run hands
it only loans it has not written yet that day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from arrears.delinquency import service
from arrears.kit.db import make_engine
from arrears.kit.helpers import serve

PING = "ping"
_engines: dict[str, Engine] = {}
_rules: dict[int, service.ProductRules] = {}  # products do not change during a run


def handle(task: Any) -> Any:
    if task == PING:
        return PING
    url, as_of, loan_ids = task
    if not isinstance(as_of, date):
        raise TypeError("a task is (database URL, business date, loan ids)")
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    with Session(engine) as session:
        return service.evaluate_chunk(session, list(loan_ids), as_of, _rules)


if __name__ == "__main__":
    serve(handle, what="evaluating loans")
