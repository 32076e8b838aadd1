"""Importing customers: each row validated by ``CustomerIn``, its phone, e-mail and address
kept as the customer's own primary contact points.

A new reference is inserted; a known one whose row differs is updated (columns the file
does not have are left alone; an empty phone, e-mail or address cell changes nothing); a
known one that matches is unchanged. A changed phone, e-mail or address is added as the new
primary contact point and the old one kept (not primary), so contact history stays attached.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, update

from arrears.customers.models import ContactPoint, Customer, identifier_index
from arrears.customers.schemas import CustomerIn
from arrears.customers.validation import normalise_resident_id, normalise_uscc
from arrears.kit.errors import ValidationFailed
from arrears.loans.imports_common import (
    Importer,
    Row,
    RowCheck,
    RowError,
    cell_text,
    lookup,
    matching,
    table_of,
)

CONTACT_COLUMNS = ("phone", "email", "address")
TYPE_NAMES = {
    "individual": "individual",
    "个人": "individual",
    "business": "business",
    "企业": "business",
}
# the customer columns compared and written, and the file column each comes from
_COLUMN_SOURCES = {
    "type": "type",
    "name": "name",
    "id_number": "id_number",
    "registration_code": "id_number",
    "city": "city",
    "province": "province",
    "employer": "employer",
    "income": "monthly_income",
    "income_currency": "monthly_income",
    "time_zone": "time_zone",
    "language": "language",
}
_FIELD_CODES = {
    "customer_ref": "invalid_ref",
    "type": "invalid_type",
    "name": "invalid_name",
    "phone": "invalid_phone",
    "email": "invalid_email",
    "address": "invalid_address",
    "monthly_income": "invalid_amount",
    "income_currency": "invalid_currency",
    "time_zone": "invalid_time_zone",
    "language": "invalid_language",
}
_OPTIONAL_FIELDS = ("employer", "monthly_income", "income_currency", "time_zone", "language")

CUSTOMERS = table_of(Customer)
CONTACT_POINTS = table_of(ContactPoint)

_CUSTOMER_COLUMNS = (
    "customer_ref", "type", "name", "id_number", "registration_code", "employer", "income",
    "income_currency", "time_zone", "language", "city", "province",
)  # fmt: skip
# Columns the customer model derives from others (the ID numbers' blind indexes): an ORM
# write fills them by itself, a bulk write has to.
_DERIVED = {
    f"{name}_index": name
    for name in ("id_number", "registration_code")
    if f"{name}_index" in CUSTOMERS.c
}
_CUSTOMER_INSERT = (*_CUSTOMER_COLUMNS, *_DERIVED, "created_at", "updated_at", "version")
_CONTACT_INSERT = (
    "customer_id", "kind", "value", "relation", "status", "contact_name", "is_primary",
    "created_at", "updated_at", "version",
)  # fmt: skip


@dataclass(slots=True)
class _Candidate:
    row_number: int
    ref: str
    columns: dict[str, Any]
    contacts: dict[str, str]  # kind -> normalised value


def _message(name: str, item: Any) -> str:
    """A sentence for one of pydantic's errors about file column ``name``."""
    kind = item.get("type", "")
    if kind == "string_pattern_mismatch":
        return f"{name} may only hold letters, digits, '_', '.' and '-'"
    if kind == "string_too_short":
        return f"{name} is empty"
    if kind == "string_too_long":
        limit = (item.get("ctx") or {}).get("max_length")
        return f"{name} is longer than {limit} characters"
    if kind == "enum":
        return f"{name} must be individual or business (个人 or 企业)"
    message = str(item.get("msg", "is not valid"))
    if message.startswith("Value error, "):
        # our own validators already write whole sentences
        return message.removeprefix("Value error, ")
    return f"{name}: {message}"


class CustomersImporter(Importer):
    kind = "customers"
    required = (
        "customer_ref", "type", "name", "id_number", "phone", "email", "address", "city",
        "province",
    )  # fmt: skip
    optional = _OPTIONAL_FIELDS
    bulk_tables = (CONTACT_POINTS,)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # columns an update may change: those whose file column is present
        self.compared = [k for k, src in _COLUMN_SOURCES.items() if src in self.columns]
        # written by an update: the compared columns and what is derived from them
        self.written = self.compared + [d for d, src in _DERIVED.items() if src in self.compared]

    # -- checking ------------------------------------------------------------------------

    def _spec(self, row: Row) -> tuple[dict[str, Any], list[str]]:
        """``CustomerIn`` input of a row and the file column of each contact point."""
        raw_type = cell_text(row["type"]).lower()
        data: dict[str, Any] = {
            "customer_ref": cell_text(row["customer_ref"]),
            "type": TYPE_NAMES.get(raw_type, raw_type),
            "name": cell_text(row["name"]),
            "id_number": cell_text(row["id_number"]) or None,
            "city": cell_text(row["city"]) or None,
            "province": cell_text(row["province"]) or None,
        }
        for name in _OPTIONAL_FIELDS:
            value = cell_text(row.get(name, ""))
            if value:
                data[name] = value
        contacts = []
        points = []
        for kind in CONTACT_COLUMNS:
            value = cell_text(row[kind])
            if value:
                contacts.append(kind)
                points.append({"kind": kind, "value": value, "is_primary": True})
        data["contact_points"] = points
        return data, contacts

    def _errors(
        self, check: RowCheck, data: dict[str, Any], contacts: list[str], exc: ValidationError
    ) -> None:
        model_level = False
        for item in exc.errors():
            location = item.get("loc", ())
            if not location:
                model_level = True
                self._identifier_error(check, data)
                continue
            name = str(location[0])
            if name == "contact_points" and len(location) > 1 and isinstance(location[1], int):
                name = contacts[location[1]]
            message = _message(name, item)
            if name == "type" and not cell_text(check.row["type"]):
                message = "type is empty; use individual or business (个人 or 企业)"
            check.fail(name, message, _FIELD_CODES.get(name, "invalid_value"))
        if not model_level and data.get("type") in ("individual", "business"):
            # pydantic skips the model-level identifier rule once a field has failed; run
            # it anyway so that every problem of the row is reported at once
            self._identifier_error(check, data, income=False)

    def _identifier_error(
        self, check: RowCheck, data: dict[str, Any], *, income: bool = True
    ) -> None:
        # the model-level rule covers the ID number and the income's decimals
        id_number = data.get("id_number")
        if id_number:
            try:
                if data.get("type") == "business":
                    normalise_uscc(id_number)
                else:
                    normalise_resident_id(id_number)
            except ValidationFailed as exc:
                check.fail("id_number", exc.message, exc.code)
                return
        if not income:
            return
        check.fail(
            "monthly_income",
            f"monthly_income {data.get('monthly_income')} has more decimals than "
            f"{data.get('income_currency', 'CNY')} allows",
            "too_many_decimals",
        )

    def _candidate(self, row_number: int, row: Row) -> _Candidate | None:
        check = RowCheck(row_number, row)
        ref = cell_text(row["customer_ref"])
        fresh = self.first_sighting(check, "customer_ref", ref or None)
        data, contacts = self._spec(row)
        try:
            spec = CustomerIn.model_validate(data)
        except ValidationError as exc:
            self._errors(check, data, contacts, exc)
            spec = None
        except ValidationFailed as exc:
            # the income's decimals are checked outside pydantic's error handling
            check.fail("monthly_income", exc.message, exc.code)
            spec = None
        if check.errors or not fresh or spec is None:
            self.ctx.reject(check.errors)
            return None
        columns = spec.columns()
        for derived, source in _DERIVED.items():
            columns[derived] = identifier_index(columns[source])
        return _Candidate(
            row_number,
            spec.customer_ref,
            columns,
            {point.kind.value: point.value for point in spec.contact_points},
        )

    # -- processing ------------------------------------------------------------------------

    def parse(self, chunk: list[tuple[int, Row]]) -> list[_Candidate]:
        return [c for c in (self._candidate(n, row) for n, row in chunk) if c is not None]

    def apply(self, candidates: list[_Candidate]) -> None:
        if not candidates:
            return
        ctx = self.ctx
        existing = lookup(
            ctx.db_session,
            CUSTOMERS.c.customer_ref,
            [CUSTOMERS.c.id, *(CUSTOMERS.c[k] for k in self.compared)],
            [c.ref for c in candidates],
        )
        points: dict[int, list[Any]] = defaultdict(list)
        if existing:
            ids = [row.id for row in existing.values()]
            cp = CONTACT_POINTS.c
            for part_start in range(0, len(ids), 5_000):
                part = ids[part_start : part_start + 5_000]
                for point in ctx.db_session.execute(
                    CONTACT_POINTS.select()
                    .with_only_columns(cp.id, cp.customer_id, cp.kind, cp.value, cp.is_primary)
                    .where(matching(ctx.db_session, cp.customer_id, part), cp.relation == "self")
                ):
                    points[point.customer_id].append(point)
        new: list[_Candidate] = []
        changed: list[tuple[int, _Candidate, list[tuple[str, str, Any]]]] = []
        for candidate in candidates:
            stored = existing.get(candidate.ref)
            if stored is None:
                new.append(candidate)
                continue
            same_columns = all(getattr(stored, k) == candidate.columns[k] for k in self.compared)
            contact_changes = self._contact_changes(candidate, points.get(stored.id, []))
            if same_columns and not contact_changes:
                ctx.unchanged += 1
            else:
                changed.append((stored.id, candidate, contact_changes))
        ctx.inserted += len(new)
        ctx.updated += len(changed)
        if ctx.writing:
            self._update(changed)
            # last: the inserts go on in the background while the next chunk is parsed
            self._insert(new)

    @staticmethod
    def _contact_changes(candidate: _Candidate, stored: list[Any]) -> list[tuple[str, str, Any]]:
        """``(kind, value, id of an existing point to promote or None)`` per changed kind."""
        changes = []
        for kind, value in candidate.contacts.items():
            of_kind = [p for p in stored if p.kind == kind]
            if any(p.value == value and p.is_primary for p in of_kind):
                continue
            match = next((p.id for p in of_kind if p.value == value), None)
            changes.append((kind, value, match))
        return changes

    def _insert(self, new: list[_Candidate]) -> None:
        if not new:
            return
        now = self.ctx.now
        writer = self.ctx.writer
        customer_rows = [
            (
                c.ref,
                *(c.columns[k] for k in _CUSTOMER_COLUMNS[1:]),
                *(c.columns[k] for k in _DERIVED),
                now,
                now,
                1,
            )
            for c in new
        ]
        if writer.postgres:
            ids = writer.reserve_ids(CUSTOMERS, len(new))
        else:
            ids = writer.insert_with_ids(CUSTOMERS, _CUSTOMER_INSERT, customer_rows)
        points = [
            (customer_id, kind, value, "self", "valid", None, True, now, now, 1)
            for customer_id, c in zip(ids, new, strict=True)
            for kind, value in c.contacts.items()
        ]

        def store() -> None:
            if writer.postgres:
                writer.insert(
                    CUSTOMERS,
                    ("id", *_CUSTOMER_INSERT),
                    [(i, *row) for i, row in zip(ids, customer_rows, strict=True)],
                )
            writer.insert(CONTACT_POINTS, _CONTACT_INSERT, points)

        # stored while the next chunk of the file is read and checked
        writer.in_background(store)

    def _update(self, changed: list[tuple[int, _Candidate, list[tuple[str, str, Any]]]]) -> None:
        if not changed:
            return
        session = self.ctx.db_session
        now = self.ctx.now
        c = CUSTOMERS.c
        session.execute(
            update(CUSTOMERS)
            .where(c.id == bindparam("b_id"))
            .values(
                {
                    **{k: bindparam(f"b_{k}") for k in self.written},
                    "version": c.version + 1,
                    "updated_at": bindparam("b_now", type_=c.updated_at.type),
                }
            ),
            [
                {"b_id": customer_id, "b_now": now}
                | {f"b_{k}": candidate.columns[k] for k in self.written}
                for customer_id, candidate, _ in changed
            ],
        )
        demote = [
            {"b_customer": customer_id, "b_kind": kind, "b_now": now}
            for customer_id, _, changes in changed
            for kind, _, _ in changes
        ]
        cp = CONTACT_POINTS.c
        if demote:
            session.execute(
                update(CONTACT_POINTS)
                .where(
                    cp.customer_id == bindparam("b_customer"),
                    cp.kind == bindparam("b_kind"),
                    cp.relation == "self",
                    cp.is_primary.is_(True),
                )
                .values(
                    is_primary=False,
                    version=cp.version + 1,
                    updated_at=bindparam("b_now", type_=cp.updated_at.type),
                ),
                demote,
            )
        promote = [
            {"b_id": match, "b_now": now}
            for _, _, changes in changed
            for _, _, match in changes
            if match is not None
        ]
        if promote:
            session.execute(
                update(CONTACT_POINTS)
                .where(cp.id == bindparam("b_id"))
                .values(
                    is_primary=True,
                    version=cp.version + 1,
                    updated_at=bindparam("b_now", type_=cp.updated_at.type),
                ),
                promote,
            )
        self.ctx.writer.insert(
            CONTACT_POINTS,
            _CONTACT_INSERT,
            [
                (customer_id, kind, value, "self", "valid", None, True, now, now, 1)
                for customer_id, _, changes in changed
                for kind, value, match in changes
                if match is None
            ],
        )


__all__ = ["CustomersImporter", "RowError"]
