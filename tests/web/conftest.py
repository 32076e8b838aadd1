"""End-to-end fixtures: a fresh demo database, the real server on a free loopback port, and
Debian's Chromium driven by Playwright.

The browser is ``/usr/bin/chromium`` (``apt-get install chromium``); Playwright never
downloads one. Without it these tests fail in CI (``CI=true``) and are skipped elsewhere,
saying why. The console must be built first (``cd web && npm ci && npm run build``).

Screenshots go to a temporary folder, or to ``ARREARS_SCREENSHOTS`` when set
(``make screenshots`` sets it to ``docs/screenshots``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A fixed business date: the same demo book, the same screenshots, on any day.
AS_OF = date(2025, 6, 30)
DEMO_LOANS = 300
PASSWORD = "Quiet-Harbour-Lantern-42"
ROLES = ("admin", "manager", "collector", "field_agent", "legal", "analyst", "auditor", "agency")
VIEWPORT = {"width": 1440, "height": 900}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)


def username_of(role: str) -> str:
    return f"e2e.{role.replace('_', '-')}"


@dataclass
class Server:
    """The running console and API."""

    url: str
    database_url: str
    users: dict[str, str] = field(default_factory=dict)  # role -> user name


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


E2E_DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("ARREARS_TEST_POSTGRES_URL") else [])


def _fresh_postgres_database(admin_url: str, name: str) -> str:
    """A new, empty PostgreSQL database beside the test one (the suite's own is truncated
    per test, so the long-lived server gets its own)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from arrears.kit.settings import normalise_database_url

    admin = make_url(normalise_database_url(admin_url))
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def _build_demo(database_url: str, directory: Path) -> None:
    """The demo book (products, 300 loans with history, month-end snapshots) and one user
    per role, written by the same code ``arrears demo`` runs."""
    from arrears.auth import service as auth
    from arrears.demo.build import build_demo
    from arrears.kit import db as kit_db

    engine = kit_db.make_engine(database_url)
    previous = (kit_db._engine, kit_db._factory)
    kit_db.set_engine(engine)
    try:
        build_demo(engine, loans=DEMO_LOANS, seed=42, as_of=AS_OF, directory=directory)
        with kit_db.unit_of_work(engine) as session:
            for role in ROLES:
                if auth.get_by_username(db_session=session, username=username_of(role)):
                    continue
                auth.create_user(
                    db_session=session,
                    username=username_of(role),
                    password=PASSWORD,
                    role=role,
                    display_name=f"E2E {role}",
                    agency="Acme Recoveries" if role == "agency" else None,
                )
    finally:
        kit_db._engine, kit_db._factory = previous
        engine.dispose()


@pytest.fixture(scope="session", params=E2E_DATABASES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``arrears serve`` on a fresh demo database (SQLite, and PostgreSQL when configured)."""
    if not (DIST / "index.html").is_file():
        _unavailable(f"the console is not built: {DIST}/index.html is missing (make web)")
    home = tmp_path_factory.mktemp(f"e2e-{request.param}")
    if request.param == "postgresql":
        database = _fresh_postgres_database(os.environ["ARREARS_TEST_POSTGRES_URL"], "arrears_e2e")
    else:
        database = f"sqlite:///{home / 'demo.db'}"
    _build_demo(database, home / "demo-data")
    port = _free_port()
    env = {
        **os.environ,
        "ARREARS_DATABASE_URL": database,
        "ARREARS_WEB_DIST": str(DIST),
        "ARREARS_SIGN_IN_ATTEMPTS_PER_MINUTE": "1000",
        "ARREARS_LOG_LEVEL": "WARNING",
        "ARREARS_TIMEZONE": "Asia/Shanghai",
    }
    arrears = Path(sys.executable).with_name("arrears")
    command = [str(arrears)] if arrears.exists() else [sys.executable, "-m", "arrears.cli"]
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "the server did not start:\n" + (home / "server.log").read_text()[-3000:]
                )
            time.sleep(0.2)
        yield Server(url=url, database_url=database, users={r: username_of(r) for r in ROLES})
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        _unavailable(
            "Chromium is not installed at /usr/bin/chromium (apt-get install chromium); "
            "the browser tests need it"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screens are saved: ``ARREARS_SCREENSHOTS`` or a temporary folder."""
    configured = os.environ.get("ARREARS_SCREENSHOTS")
    target = (ROOT / configured) if configured else tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def context(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser profile (no cookies) speaking Simplified Chinese."""
    ctx = browser.new_context(
        base_url=server.url, viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    assert not errors, f"the page raised: {errors}"
