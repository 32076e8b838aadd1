"""The README's command sequence, run with the real `arrears` command on the example files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def arrears(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arrears.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_walkthrough_works_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    for args in (
        ("init",),
        ("product", "load", str(EXAMPLES / "products.yaml")),
        ("import", "customers", str(EXAMPLES / "customers.csv"), "--dry-run"),
        ("import", "customers", str(EXAMPLES / "customers.csv")),
        ("import", "loans", str(EXAMPLES / "loans.csv")),
        ("import", "installments", str(EXAMPLES / "installments.csv")),
        ("import", "payments", str(EXAMPLES / "payments.csv")),
        ("eod", "--date", "2023-05-31"),
    ):
        result = arrears(*args, env=env)
        assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
    shown = arrears("loan", "show", "L-0001", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["loan_ref"] == "L-0001" and view["as_of"] == "2023-05-31"
    assert {"past_due_days", "bucket", "overdue", "classification", "holds"} <= set(view)
    for args in (
        ("payment", "reverse", "P-0001", "--reason", "bounced"),
        ("loan", "hold", "L-0001", "--start", "2023-06-01", "--reason", "dispute"),
        ("loan", "end-hold", "L-0001", "--on", "2023-06-10"),
        ("export", "loans"),
    ):
        result = arrears(*args, env=env)
        assert result.returncode == 0, (args, result.stderr[-2000:])
    # re-importing the same file changes nothing and still succeeds
    again = arrears("import", "payments", str(EXAMPLES / "payments.csv"), env=env)
    assert again.returncode == 0
    after = json.loads(arrears("loan", "show", "L-0001", "--json", env=env).stdout)
    assert after["holds"][0]["reason"] == "dispute"
    assert after["holds"][0]["end_on"] == "2023-06-10"
    # a date that is not one is refused with a message, and nothing changes
    bad = arrears("loan", "end-hold", "L-0001", "--on", "June", env=env)
    assert bad.returncode != 0 and "--on" in bad.stderr + bad.stdout
    unchanged = json.loads(arrears("loan", "show", "L-0001", "--json", env=env).stdout)
    assert unchanged["holds"] == after["holds"]


def test_a_file_with_errors_exits_non_zero(tmp_path: Path) -> None:
    env = {**os.environ, "ARREARS_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    assert arrears("init", env=env).returncode == 0
    bad = tmp_path / "customers.csv"
    bad.write_text(
        "customer_ref,type,name,id_number,phone,email,address,city,province\n"
        "C1,individual,张三,110105194912310021,13800138000,,,,\n",
        encoding="utf-8",
    )
    result = arrears("import", "customers", str(bad), env=env)
    assert result.returncode != 0
