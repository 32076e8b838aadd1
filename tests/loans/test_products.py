from pathlib import Path

import pytest

from arrears.kit.errors import ValidationFailed
from arrears.loans import products
from arrears.loans.products import parse_product_specs


def base(**kw):
    return {"code": "P1", "name": "产品", **kw}


def test_defaults_follow_the_briefing():
    (spec,) = parse_product_specs(base())
    assert spec.currency == "CNY" and spec.method == "annuity" and spec.day_count == "30/360"
    assert spec.allocation_order == ["penalty", "fee", "interest", "principal"]
    assert [b.code for b in spec.buckets] == [f"M{i}" for i in range(8)]
    assert str(spec.tolerance) == "0.01"


@pytest.mark.parametrize(
    ("buckets", "fragment"),
    [
        (
            [
                {"code": "A", "min_days": 0, "max_days": 10},
                {"code": "B", "min_days": 10, "max_days": None},
            ],
            "overlap",
        ),
        (
            [
                {"code": "A", "min_days": 0, "max_days": 10},
                {"code": "B", "min_days": 12, "max_days": None},
            ],
            "gap",
        ),
        ([{"code": "A", "min_days": 1, "max_days": None}], "start at 0"),
        ([{"code": "A", "min_days": 0, "max_days": 10}], "open-ended"),
    ],
)
def test_bucket_ranges_with_overlap_or_gap_are_refused(buckets, fragment):
    with pytest.raises(ValidationFailed) as info:
        parse_product_specs(base(buckets=buckets))
    assert fragment in info.value.message


def test_penalty_rate_and_multiplier_together_are_refused():
    with pytest.raises(ValidationFailed) as info:
        parse_product_specs(base(penalty_rate=18, penalty_multiplier=1.5))
    assert "not both" in info.value.message


def test_yaml_floats_are_read_as_the_decimals_written(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "- code: P1\n  name: x\n  penalty_rate: 0.1\n  late_fee: 30.10\n", encoding="utf-8"
    )
    (spec,) = products.read_product_file(path)
    assert str(spec.penalty_rate) == "0.1" and str(spec.late_fee) == "30.1"


@pytest.mark.parametrize(
    "bad",
    [
        {"method": "balloon"},
        {"currency": "RMB"},
        {"allocation_order": ["principal", "interest"]},
        {"late_fee": "1.234"},
        {"grace_days": -1},
        {"rounding_unit": "dime"},
        {"surprise": 1},
    ],
)
def test_invalid_product_fields_are_refused_with_a_sentence(bad):
    with pytest.raises(ValidationFailed) as info:
        parse_product_specs(base(**bad))
    assert info.value.code == "invalid_product" and "P1" in info.value.message


def test_loading_twice_is_unchanged_and_an_edit_is_an_update(db_session):
    (spec,) = parse_product_specs(base())
    assert products.upsert(db_session=db_session, spec=spec)[1] == "created"
    assert products.upsert(db_session=db_session, spec=spec)[1] == "unchanged"
    (edited,) = parse_product_specs(base(grace_days=3))
    product, outcome = products.upsert(db_session=db_session, spec=edited)
    assert outcome == "updated" and product.grace_days == 3
    assert products.product_to_spec(product) == edited
