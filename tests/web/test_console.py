"""The web console in a real browser against the real server on a fresh demo database.

Each scenario of issue 5: every role signs in and sees only its screens; a customer is
found and an ID number revealed with a reason; loans are filtered by bucket; a file with
an error is imported and the row error shown; the calculator runs. Each screen is
screenshotted and must be ready within a second.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.auth.roles import Permission, permissions_of
from arrears.customers.models import Customer
from arrears.delinquency.models import LoanState
from arrears.kit.db import make_engine
from arrears.loans.models import Loan, LoanStatus
from tests.web.conftest import AS_OF, PASSWORD, ROLES, Server

LOAD_BUDGET_SECONDS = 1.0
# a screen gets this many tries at the budget, so that a busy machine does not fail it
LOAD_TRIES = 3
LOAD_TIMES: dict[str, float] = {}
# a screen is ready when its data is in and none of its tables is still loading
READY = "[data-page={screen}][data-ready=true]:not(:has(.data-table[data-loading=true]))"

# the side menu, in order, and the permission each entry needs (web/src/screens.tsx)
MENU = [
    ("仪表盘", Permission.ANALYTICS_READ),
    ("客户", Permission.CUSTOMERS_READ),
    ("贷款", Permission.LOANS_READ),
    ("数据导入", Permission.IMPORTS_RUN),
    ("日终批处理", Permission.EOD_READ),
    ("贷款计算器", Permission.SCHEDULE_PREVIEW),
]


def db(server: Server) -> Session:
    return Session(make_engine(server.database_url))


def sign_in(page: Any, server: Server, role: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("用户名").fill(server.users[role])
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("登\\s*录")).click()
    page.wait_for_selector("[data-testid=side-menu]")


def open_screen(page: Any, path: str, screen: str) -> float:
    """Load ``path`` afresh and wait until the screen says its data is in; seconds taken."""
    started = time.perf_counter()
    page.goto(path)
    page.wait_for_selector(READY.format(screen=screen))
    return time.perf_counter() - started


def assert_loads_fast(page: Any, path: str, screen: str) -> None:
    """A full page load of ``path`` (HTML, scripts, sign-in check, data, render) is ready
    within the budget — the best of ``LOAD_TRIES`` loads."""
    times = []
    for _ in range(LOAD_TRIES):
        times.append(open_screen(page, path, screen))
        if times[-1] < LOAD_BUDGET_SECONDS:
            break
    LOAD_TIMES[path] = min(times)
    print(f"{path}: ready in {min(times) * 1000:.0f} ms")
    assert min(times) < LOAD_BUDGET_SECONDS, f"{path} took {[round(t, 3) for t in times]} s"


def menu_labels(page: Any) -> list[str]:
    return [label.strip() for label in page.locator("[data-testid=side-menu] a").all_inner_texts()]


def shot(page: Any, folder: Path, name: str, *, full_page: bool = False) -> None:
    page.wait_for_timeout(300)  # let charts finish their first paint
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


# --- sign-in, roles, sign-out, session expiry -------------------------------------------


def test_sign_in_screen(page: Any, server: Server, screenshots: Path) -> None:
    page.goto("/")
    page.wait_for_url(re.compile(r"/sign-in"))
    page.get_by_label("用户名").wait_for()
    shot(page, screenshots, "sign-in")


def test_a_wrong_password_shows_the_servers_sentence(page: Any, server: Server) -> None:
    page.goto("/sign-in")
    page.get_by_label("用户名").fill(server.users["analyst"])
    page.get_by_label("密码").fill("not the password at all")
    page.get_by_role("button", name=re.compile("登\\s*录")).click()
    alert = page.get_by_test_id("api-error")
    alert.wait_for()
    assert alert.get_attribute("data-code") == "invalid_credentials"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_only_the_screens_it_may_use(page: Any, server: Server, role: str) -> None:
    sign_in(page, server, role)
    granted = permissions_of(role)
    assert menu_labels(page) == [label for label, needed in MENU if needed in granted]
    if Permission.IMPORTS_RUN not in granted:
        page.goto("/imports")
        page.get_by_text("您的角色无权访问此页面。").wait_for()


def test_sign_out_and_an_expired_session_return_to_sign_in(page: Any, server: Server) -> None:
    sign_in(page, server, "analyst")
    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name="退出登录").click()
    page.wait_for_url(re.compile(r"/sign-in"))
    page.get_by_text("您已退出登录。").wait_for()

    sign_in(page, server, "analyst")
    page.context.clear_cookies()  # the session ends behind the page's back
    page.locator("[data-testid=side-menu] a", has_text="贷款").first.click()
    page.wait_for_url(re.compile(r"/sign-in\?next="))
    page.get_by_text("您的会话已过期或已在别处结束，请重新登录。").wait_for()
    # signing in again returns to the page that was asked for
    page.get_by_label("用户名").fill(server.users["analyst"])
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("登\\s*录")).click()
    page.wait_for_url(re.compile(r"/loans"))


# --- the screens ------------------------------------------------------------------------


def test_dashboard_shows_the_portfolio(page: Any, server: Server, screenshots: Path) -> None:
    sign_in(page, server, "manager")
    assert_loads_fast(page, "/", "dashboard")
    with db(server) as session:
        active = session.scalar(
            select(func.count())
            .select_from(LoanState)
            .join(Loan, Loan.id == LoanState.loan_id)
            .where(Loan.status == LoanStatus.ACTIVE.value)
        )
    assert page.get_by_text(f"在贷笔数 {active:,}").is_visible()
    assert page.get_by_text("M1+ 逾期率（按余额）").is_visible()
    assert page.get_by_text(f"数据日期 {AS_OF.isoformat()}").is_visible()
    assert page.locator("[role=figure][aria-label^=近]").count() == 1  # the 12-month trend chart
    shot(page, screenshots, "dashboard", full_page=True)


def test_search_a_customer_and_reveal_the_id_with_a_reason(
    page: Any, server: Server, screenshots: Path
) -> None:
    with db(server) as session:
        customer = session.scalars(
            select(Customer).where(Customer.type == "individual").order_by(Customer.id).limit(1)
        ).one()
        ref, name = customer.customer_ref, customer.name
    sign_in(page, server, "manager")
    assert_loads_fast(page, "/customers", "customers")
    page.get_by_test_id("customer-search").locator("input").fill(ref)
    page.get_by_test_id("customer-search").locator("input").press("Enter")
    link = page.get_by_role("link", name=ref, exact=True)
    link.wait_for()
    shot(page, screenshots, "customers")
    link.click()
    page.wait_for_selector(READY.format(screen="customer"))
    assert page.get_by_role("heading", name=re.compile(name)).is_visible()
    masked = page.get_by_test_id("id-number").inner_text()
    assert "*" in masked, masked
    page.get_by_role("button", name="查看 证件号码").click()
    page.get_by_test_id("reveal-reason").fill("核实借款人身份")
    page.get_by_role("button", name=re.compile("确\\s*认")).click()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=id-number]').textContent.includes('*')"
    )
    revealed = page.get_by_test_id("id-number").inner_text()
    assert re.fullmatch(r"[0-9X]{18}", revealed), revealed
    assert revealed[:6] == masked[:6] and revealed[-4:] == masked[-4:]
    shot(page, screenshots, "customer")
    assert_loads_fast(page, f"/customers/{ref}", "customer")


def test_filter_loans_by_bucket(page: Any, server: Server, screenshots: Path) -> None:
    with db(server) as session:
        in_m1 = session.scalar(
            select(func.count()).select_from(LoanState).where(LoanState.bucket == "M1")
        )
    assert in_m1, "the demo book has loans in M1"
    sign_in(page, server, "manager")
    assert_loads_fast(page, "/loans", "loans")
    page.get_by_test_id("bucket-filter").click()
    page.locator(".ant-select-item-option", has_text=re.compile("^M1$")).click()
    page.keyboard.press("Escape")
    page.get_by_test_id("apply-filters").click()
    page.wait_for_url(re.compile(r"bucket=M1"))
    page.get_by_text(f"共 {in_m1:,} 条").wait_for()
    buckets = page.locator(".ant-table-tbody tr.ant-table-row td:nth-child(8)").all_inner_texts()
    assert buckets and set(buckets) == {"M1"}, buckets
    shot(page, screenshots, "loans")

    # the filtered list survives a reload, and a loan opens with its schedule and history
    assert_loads_fast(page, "/loans?bucket=M1&sort=-past_due_days", "loans")
    first = page.locator(".ant-table-tbody tr.ant-table-row a").first
    loan_ref = first.inner_text()
    first.click()
    page.wait_for_selector(READY.format(screen="loan"))
    assert 1 <= int(page.get_by_test_id("loan-dpd").inner_text()) <= 30
    page.get_by_text("逾期", exact=True).first.wait_for()
    shot(page, screenshots, "loan")
    assert_loads_fast(page, f"/loans/{loan_ref}", "loan")


def test_import_a_file_with_an_error_and_see_the_row_error(
    page: Any, server: Server, screenshots: Path, tmp_path: Path
) -> None:
    upload = tmp_path / "customers.csv"
    upload.write_text(
        "customer_ref,type,name,id_number,phone,email,address,city,province\n"
        "E2E-0001,individual,王五,11010519491231002X,13800138001,,北京市,北京,北京\n"
        "E2E-0002,individual,赵六,110105194912310021,13800138002,,上海市,上海,上海\n",
        encoding="utf-8",
    )
    sign_in(page, server, "manager")
    assert_loads_fast(page, "/imports", "imports")
    page.locator("input[type=file]").set_input_files(str(upload))
    page.get_by_test_id("import-check").click()
    errors = page.get_by_test_id("row-errors")
    errors.wait_for()
    row = errors.locator(".ant-table-tbody tr").first
    assert row.locator("td").nth(0).inner_text() == "3"  # the header is row 1
    assert row.locator("td").nth(1).inner_text() == "id_number"
    assert "110105194912310021" in row.inner_text()
    assert page.get_by_test_id("import-commit").is_disabled()
    shot(page, screenshots, "imports")

    page.get_by_text("跳过有错误的行，导入其余行").click()
    page.get_by_test_id("import-commit").click()
    page.get_by_text("导入完成").wait_for()
    with db(server) as session:
        assert session.scalar(select(Customer).where(Customer.customer_ref == "E2E-0001"))
        assert not session.scalar(select(Customer).where(Customer.customer_ref == "E2E-0002"))


def test_daily_runs(page: Any, server: Server, screenshots: Path) -> None:
    sign_in(page, server, "manager")
    assert_loads_fast(page, "/runs", "runs")
    current = page.get_by_test_id("current-run")
    assert AS_OF.isoformat() in current.inner_text()
    assert "已完成" in current.inner_text()
    assert page.locator(".ant-table-tbody tr.ant-table-row").count() >= 2  # history + the day
    shot(page, screenshots, "runs")


def test_the_calculator_previews_all_four_methods(
    page: Any, server: Server, screenshots: Path
) -> None:
    sign_in(page, server, "analyst")
    assert_loads_fast(page, "/calculator", "calculator")
    page.get_by_label("贷款金额").fill("630000")
    page.get_by_label("年利率（%）").fill("4.9")
    page.get_by_label("期数（月）").fill("360")
    page.get_by_test_id("calc-submit").click()
    compare = page.get_by_test_id("calc-compare")
    compare.wait_for()
    rows = compare.locator(".ant-table-tbody tr")
    assert rows.count() == 4
    annuity = rows.filter(has_text="等额本息")
    assert "¥3,343.58" in annuity.inner_text()  # the documented annuity payment
    equal_principal = rows.filter(has_text="等额本金")
    assert "¥4,322.50" in equal_principal.inner_text()  # its documented first month
    shot(page, screenshots, "calculator")


def test_english_is_one_click_away(page: Any, server: Server, screenshots: Path) -> None:
    sign_in(page, server, "manager")
    open_screen(page, "/", "dashboard")
    page.get_by_text("EN", exact=True).click()
    page.get_by_text("Portfolio overview").wait_for()
    assert menu_labels(page)[0] == "Dashboard"
    shot(page, screenshots, "dashboard-en")
