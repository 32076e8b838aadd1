"""Four-eyes approvals: maker and checker differ, limits cover amounts, only approval acts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from arrears.auth import approvals
from arrears.auth.approvals import Prepared
from arrears.auth.errors import Forbidden
from arrears.auth.models import AuditEntry
from arrears.auth.principal import Principal
from arrears.kit.db import unit_of_work
from arrears.kit.errors import Conflict, ValidationFailed
from arrears.loans import products
from tests.factories import make_product

from .conftest import add_users, make_user

CHANGE = {"product_code": "CASH", "penalty_rate": "18.25"}


@pytest.fixture
def people(db_session):
    """A maker and a checker (managers), a collector and an auditor."""
    make_product(db_session, penalty_multiplier="1.5")
    return {
        name: Principal.of(make_user(db_session, name, role, **extra))
        for name, role, extra in (
            ("chen.li", "manager", {}),
            ("zhou.min", "manager", {"approval_limit": 100_000}),
            ("li.na", "collector", {}),
            ("wang.fang", "auditor", {}),
        )
    }


def ask(db_session, people, payload=CHANGE, who="chen.li"):
    return approvals.request_approval(
        db_session=db_session,
        principal=people[who],
        action="product.penalty_rate",
        payload=payload,
        reason="align with the 2026 pricing policy",
    )


def penalty_of(db_session, code="CASH"):
    product = products.get_by_code_or_raise(db_session=db_session, code=code)
    db_session.refresh(product)
    return product.penalty_rate, product.penalty_multiplier


def test_a_request_waits_with_the_current_values_for_the_approver(db_session, people):
    request = ask(db_session, people)
    assert request.status == "pending"
    assert (request.entity_type, request.entity_id) == ("product", "CASH")
    assert request.payload == {
        "product_code": "CASH",
        "penalty_rate": "18.25",
        "penalty_multiplier": None,
        "before": {"penalty_rate": None, "penalty_multiplier": "1.5"},
    }
    assert penalty_of(db_session) == (None, Decimal("1.5"))


def test_the_maker_cannot_approve_their_own_request(db_session, people):
    request = ask(db_session, people)
    with pytest.raises(Forbidden) as caught:
        approvals.decide(
            db_session=db_session, request_id=request.id, approve=True, principal=people["chen.li"]
        )
    assert caught.value.code == "own_request"
    assert request.status == "pending"
    assert penalty_of(db_session) == (None, Decimal("1.5"))


def test_approval_applies_the_penalty_rate_change(db_session, people):
    request = ask(db_session, people)
    decided = approvals.decide(
        db_session=db_session,
        request_id=request.id,
        approve=True,
        principal=people["zhou.min"],
        note="checked against the board minutes",
    )
    assert decided.status == "approved"
    assert decided.decided_by == people["zhou.min"].user_id
    assert penalty_of(db_session) == (Decimal("18.25"), None)
    change = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "product.penalty_rate")
    ).one()
    assert change.actor == "zhou.min"
    assert change.before == {"penalty_rate": None, "penalty_multiplier": "1.5"}
    assert change.after == {"penalty_rate": "18.25", "penalty_multiplier": None}


def test_rejection_changes_nothing(db_session, people):
    request = ask(db_session, people)
    decided = approvals.decide(
        db_session=db_session, request_id=request.id, approve=False, principal=people["zhou.min"]
    )
    assert decided.status == "rejected"
    assert penalty_of(db_session) == (None, Decimal("1.5"))
    actions = db_session.scalars(select(AuditEntry.action)).all()
    assert "approval.reject" in actions
    assert "product.penalty_rate" not in actions


def test_a_decided_request_cannot_be_decided_again(db_session, people):
    request = ask(db_session, people)
    approvals.decide(
        db_session=db_session, request_id=request.id, approve=False, principal=people["zhou.min"]
    )
    with pytest.raises(Conflict) as caught:
        approvals.decide(
            db_session=db_session, request_id=request.id, approve=True, principal=people["zhou.min"]
        )
    assert caught.value.code == "approval_not_pending"


def test_a_role_without_approvals_decide_cannot_decide(db_session, people):
    request = ask(db_session, people)
    with pytest.raises(Forbidden):
        approvals.decide(
            db_session=db_session, request_id=request.id, approve=True, principal=people["li.na"]
        )


def test_a_collector_cannot_ask_to_change_a_product(db_session, people):
    with pytest.raises(Forbidden) as caught:
        ask(db_session, people, who="li.na")
    assert caught.value.details["required"] == "products:write"


def test_a_product_changed_since_the_request_is_not_overwritten(db_session, people):
    request = ask(db_session, people)
    spec = products.product_to_spec(
        products.get_by_code_or_raise(db_session=db_session, code="CASH")
    )
    products.upsert(
        db_session=db_session, spec=spec.model_copy(update={"penalty_multiplier": Decimal(2)})
    )
    with pytest.raises(Conflict) as caught:
        approvals.decide(
            db_session=db_session, request_id=request.id, approve=True, principal=people["zhou.min"]
        )
    assert caught.value.code == "changed_since_request"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"product_code": "NOPE", "penalty_rate": "18"}, "product_not_found"),
        ({"product_code": "CASH", "penalty_rate": "-1"}, "invalid_payload"),
        (
            {"product_code": "CASH", "penalty_rate": "18", "penalty_multiplier": "1.5"},
            "invalid_product",
        ),
        ({"product_code": "CASH", "penalty_multiplier": "1.5"}, "nothing_to_change"),
        ({"product_code": "CASH", "surprise": 1}, "invalid_payload"),
    ],
)
def test_a_request_is_checked_when_it_is_made(db_session, people, payload, code):
    with pytest.raises(Exception) as caught:
        ask(db_session, people, payload=payload)
    assert getattr(caught.value, "code", None) == code


def test_an_unknown_action_is_refused(db_session, people):
    with pytest.raises(ValidationFailed) as caught:
        approvals.request_approval(
            db_session=db_session, principal=people["chen.li"], action="loan.write_off", payload={}
        )
    assert caught.value.code == "unknown_action"


def test_only_the_maker_can_withdraw_a_request(db_session, people):
    request = ask(db_session, people)
    with pytest.raises(Forbidden):
        approvals.cancel(db_session=db_session, request_id=request.id, principal=people["zhou.min"])
    cancelled = approvals.cancel(
        db_session=db_session, request_id=request.id, principal=people["chen.li"]
    )
    assert cancelled.status == "cancelled"
    with pytest.raises(Conflict):
        approvals.decide(
            db_session=db_session, request_id=request.id, approve=True, principal=people["zhou.min"]
        )


# --- approval limits --------------------------------------------------------------------


@pytest.fixture
def waiver(monkeypatch):
    """A money action for the test: waive an amount (minor units) of a fee."""
    applied: list[int] = []
    monkeypatch.setitem(approvals.ACTIONS, "test.waiver", None)

    def prepare(db_session, payload):
        return Prepared(payload, "loan", "L1", amount=int(payload["amount"]), currency="CNY")

    def apply(db_session, request, principal):
        applied.append(request.amount)
        return {"waived": request.amount}

    approvals.register_action(
        "test.waiver", apply, permission=approvals.Permission.LOANS_WRITE, prepare=prepare
    )
    return applied


def ask_waiver(db_session, people, amount):
    return approvals.request_approval(
        db_session=db_session,
        principal=people["chen.li"],
        action="test.waiver",
        payload={"amount": amount},
    )


def test_an_approver_without_a_limit_cannot_approve_an_amount(db_session, people, waiver):
    no_limit = Principal.of(make_user(db_session, "sun.hao", "manager"))
    request = ask_waiver(db_session, people, 50_00)
    with pytest.raises(Forbidden) as caught:
        approvals.decide(
            db_session=db_session, request_id=request.id, approve=True, principal=no_limit
        )
    assert caught.value.code == "approval_limit_exceeded"
    assert waiver == []


def test_an_amount_above_the_approvers_limit_is_refused(db_session, people, waiver):
    request = ask_waiver(db_session, people, 100_001)
    with pytest.raises(Forbidden) as caught:
        approvals.decide(
            db_session=db_session, request_id=request.id, approve=True, principal=people["zhou.min"]
        )
    assert caught.value.details == {"amount": 100_001, "approval_limit": 100_000}
    assert waiver == []


def test_an_amount_within_the_limit_is_approved_and_carried_out(db_session, people, waiver):
    request = ask_waiver(db_session, people, 100_000)
    approvals.decide(
        db_session=db_session, request_id=request.id, approve=True, principal=people["zhou.min"]
    )
    assert waiver == [100_000]


def test_rejecting_needs_no_limit(db_session, people, waiver):
    no_limit = Principal.of(make_user(db_session, "sun.hao", "manager"))
    request = ask_waiver(db_session, people, 50_00)
    approvals.decide(
        db_session=db_session, request_id=request.id, approve=False, principal=no_limit
    )
    assert waiver == []


# --- the API ----------------------------------------------------------------------------


@pytest.fixture
def api_people(api, engine):
    with unit_of_work(engine) as session:
        make_product(session, penalty_multiplier="1.5")
    add_users(
        engine,
        ("chen.li", "manager"),
        ("zhou.min", "manager", {"approval_limit": 100_000}),
        ("li.na", "collector"),
        ("wang.fang", "auditor"),
    )
    return {name: api.headers(name) for name in ("chen.li", "zhou.min", "li.na", "wang.fang")}


def test_four_eyes_through_the_api(api, engine, api_people):
    created = api.client.post(
        "/api/v1/approvals",
        headers=api_people["chen.li"],
        json={"action": "product.penalty_rate", "payload": CHANGE, "reason": "pricing"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["requested_by"]) == ("pending", "chen.li")
    own = api.client.post(f"/api/v1/approvals/{body['id']}/approve", headers=api_people["chen.li"])
    assert own.status_code == 403
    assert own.json()["code"] == "own_request"
    approved = api.client.post(
        f"/api/v1/approvals/{body['id']}/approve",
        headers=api_people["zhou.min"],
        json={"note": "ok"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["decided_by"] == "zhou.min"
    with unit_of_work(engine) as session:
        assert penalty_of(session) == (Decimal("18.25"), None)


def test_a_failed_approval_leaves_the_request_pending(api, engine, api_people):
    body = api.client.post(
        "/api/v1/approvals",
        headers=api_people["chen.li"],
        json={"action": "product.penalty_rate", "payload": CHANGE},
    ).json()
    with unit_of_work(engine) as session:
        spec = products.product_to_spec(
            products.get_by_code_or_raise(db_session=session, code="CASH")
        )
        products.upsert(
            db_session=session, spec=spec.model_copy(update={"penalty_multiplier": Decimal(2)})
        )
    refused = api.client.post(
        f"/api/v1/approvals/{body['id']}/approve", headers=api_people["zhou.min"]
    )
    assert refused.status_code == 409
    shown = api.client.get(
        f"/api/v1/approvals/{body['id']}", headers=api_people["wang.fang"]
    ).json()
    assert shown["status"] == "pending"


def test_requesters_see_their_own_requests_and_deciders_see_all(api, engine, api_people):
    api.client.post(
        "/api/v1/approvals",
        headers=api_people["chen.li"],
        json={"action": "product.penalty_rate", "payload": CHANGE},
    )
    mine = api.client.get("/api/v1/approvals", headers=api_people["li.na"]).json()
    assert mine["total"] == 0
    everything = api.client.get(
        "/api/v1/approvals", headers=api_people["zhou.min"], params={"status": "pending"}
    ).json()
    assert everything["total"] == 1
    request_id = everything["items"][0]["id"]
    hidden = api.client.get(f"/api/v1/approvals/{request_id}", headers=api_people["li.na"])
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "approval_not_found"
    audited = api.client.get("/api/v1/approvals", headers=api_people["wang.fang"]).json()
    assert audited["total"] == 1


def test_an_auditor_cannot_decide(api, engine, api_people):
    body = api.client.post(
        "/api/v1/approvals",
        headers=api_people["chen.li"],
        json={"action": "product.penalty_rate", "payload": CHANGE},
    ).json()
    response = api.client.post(
        f"/api/v1/approvals/{body['id']}/reject", headers=api_people["wang.fang"]
    )
    assert response.status_code == 403
    assert response.json()["required"] == "approvals:decide"
