"""Serving the console: files from web/dist, index.html for the console's own paths, the API
untouched (an unknown API path stays a problem+json 404), and the security headers."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from arrears.app import create_app
from arrears.kit.spa import CONTENT_SECURITY_POLICY, is_api_path

INDEX = "<!doctype html><title>arrears</title><div id=root></div>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX, encoding="utf-8")
    script = "console.log('arrears');" * 100
    (tmp_path / "assets" / "index-abc123.js").write_text(script, encoding="utf-8")
    (tmp_path / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(script.encode()))
    (tmp_path / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    return tmp_path


@pytest.fixture
def client(dist: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ARREARS_WEB_DIST", str(dist))
    with TestClient(create_app()) as http:
        yield http


def test_the_console_is_served_at_the_root_with_its_security_headers(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_console_paths_fall_back_to_index_html(client: TestClient) -> None:
    for path in ("/loans", "/customers/C00000001", "/loans/L1?bucket=M1"):
        response = client.get(path)
        assert response.status_code == 200 and response.text == INDEX, path


def test_hashed_assets_are_cached_and_sent_compressed(client: TestClient) -> None:
    response = client.get("/assets/index-abc123.js", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert response.text.startswith("console.log")  # the client decompressed it
    plain = client.get("/assets/index-abc123.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert client.get("/favicon.svg").text == "<svg/>"


def test_an_unknown_api_path_stays_a_problem(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_found"
    assert client.get("/openapi.json").json()["info"]["title"] == "arrears"


def test_a_path_outside_the_build_is_not_served(client: TestClient, dist: Path) -> None:
    (dist.parent / "secret.txt").write_text("secret", encoding="utf-8")
    response = client.get("/../secret.txt")
    assert "secret" not in response.text


def test_only_reads_are_answered_by_the_console(client: TestClient) -> None:
    response = client.post("/loans")
    assert response.status_code in (404, 405)
    assert response.headers["content-type"].startswith("application/problem+json")


def test_without_a_build_the_root_says_how_to_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_WEB_DIST", str(tmp_path / "missing"))
    with TestClient(create_app()) as http:
        response = http.get("/")
    assert response.status_code == 404 and "make web" in response.text


def test_api_paths_are_recognised() -> None:
    assert is_api_path("/api/v1/loans") and is_api_path("/docs") and is_api_path("/openapi.json")
    assert not is_api_path("/apiary") and not is_api_path("/loans")
