"""Shared helpers of the benchmarks: fresh databases, timed stages in child processes."""

from __future__ import annotations

import json
import multiprocessing
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Stage:
    name: str
    seconds: float
    rows: int
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _child(target: Callable[..., int], args: tuple[Any, ...], queue: Any) -> None:
    started = time.perf_counter()
    rows = target(*args)
    seconds = time.perf_counter() - started
    # the stage's own peak plus the largest of the helper processes it started and ended
    # (an upper bound of what they held at once; the database server is not counted)
    peak = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ) / 1024
    queue.put((seconds, rows, peak))


def in_child(name: str, target: Callable[..., int], *args: Any) -> Stage:
    """Run ``target(*args)`` (returning a row count) in a fresh process: time and peak memory."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, queue))
    process.start()
    while True:
        try:
            seconds, rows, peak = queue.get(timeout=1)
            break
        except Exception:  # queue.Empty: is the child still alive?
            if not process.is_alive():
                raise SystemExit(f"stage {name} failed (exit code {process.exitcode})") from None
    process.join()
    stage = Stage(name, seconds, rows, peak)
    print(
        f"  {name:<34} {seconds:9.2f} s  {rows:>12,} rows  {stage.rows_per_second:>12,.0f} rows/s"
        f"  peak {peak:8.0f} MB",
        flush=True,
    )
    return stage


def reset_database(url: str) -> None:
    """Empty a database: the public schema on PostgreSQL, the file on SQLite."""
    from arrears.kit.db import make_engine

    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm", ".eod-lock"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    _create_if_missing(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _server(url: str) -> Any:
    """An autocommit engine on the server's ``postgres`` database."""
    from sqlalchemy.engine import make_url

    from arrears.kit.db import make_engine

    return make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )


def _create_if_missing(url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    engine = _server(url)
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def copy_database(url: str, template: str) -> None:
    """Make the PostgreSQL database of ``url`` a fresh copy of the database ``template``."""
    from sqlalchemy.engine import make_url

    target = make_url(url).database
    engine = _server(url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target}"'))
        conn.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{template}"'))
    engine.dispose()


def save(name: str, document: dict[str, Any]) -> Path:
    """Write a benchmark's figures to bench/results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    return path


def stages_json(stages: list[Stage]) -> list[dict[str, Any]]:
    return [{**asdict(s), "rows_per_second": round(s.rows_per_second)} for s in stages]
