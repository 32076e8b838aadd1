"""Paging, sorting and filtering of list endpoints.

A list endpoint takes ``page`` (from 1), ``page_size`` (1–500, default 50) and ``sort``
(comma-separated whitelisted fields, ``-`` for descending: ``-disbursed_on,loan_ref``) and
answers ``{"items": [...], "total": n, "page": p, "page_size": s}``. The database does the
work: one COUNT over the filtered query and one LIMIT/OFFSET page, always ordered down to
the primary key so pages never overlap or skip rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeAlias, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from arrears.kit.errors import ValidationFailed

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# keeps OFFSET inside what every database accepts
MAX_PAGE = 1_000_000

ItemT = TypeVar("ItemT")

# A SELECT of any columns, and a column (or mapped attribute) to sort or filter on.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
Column: TypeAlias = ColumnElement[Any] | QueryableAttribute[Any]


class Page(BaseModel, Generic[ItemT]):
    """One page of a list."""

    items: list[ItemT]
    total: int = Field(description="How many items match the filters, on all pages.")
    page: int = Field(description="This page's number, from 1.")
    page_size: int = Field(description="Items per page asked for.")


@dataclass(frozen=True, slots=True)
class PageParams:
    """Which page the client asked for."""

    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def get_page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (1–500).")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    """The ``page`` and ``page_size`` query parameters."""
    return PageParams(page=page, page_size=page_size)


PageQuery = Annotated[PageParams, Depends(get_page_params)]


@dataclass(frozen=True, slots=True)
class SortOrder:
    """A parsed ``sort`` parameter: the ORDER BY clauses, tie-breaker included."""

    fields: tuple[tuple[str, bool], ...]  # (name, descending)
    clauses: tuple[ColumnElement[Any], ...]


def parse_sort(
    text: str | None,
    fields: Mapping[str, Column],
    *,
    default: str,
    tiebreaker: Column,
) -> SortOrder:
    """Parse ``-disbursed_on,loan_ref`` against whitelisted ``fields``; else ``invalid_sort``."""
    wanted = [part.strip() for part in (text or default).split(",") if part.strip()]
    if not wanted:
        wanted = [part.strip() for part in default.split(",")]
    parsed: list[tuple[str, bool]] = []
    clauses: list[ColumnElement[Any]] = []
    for part in wanted:
        descending = part.startswith("-")
        name = part[1:].strip() if descending or part.startswith("+") else part
        if name not in fields:
            allowed = ", ".join(sorted(fields))
            raise ValidationFailed(
                f"cannot sort by '{name[:64]}'; sort by one or more of: {allowed} "
                "(prefix a field with - for descending order)",
                code="invalid_sort",
                allowed=sorted(fields),
            )
        if any(seen == name for seen, _ in parsed):
            continue
        parsed.append((name, descending))
        column = fields[name]
        clauses.append(column.desc() if descending else column.asc())
    clauses.append(tiebreaker.asc())
    return SortOrder(tuple(parsed), tuple(clauses))


def sorting(
    fields: Mapping[str, Column],
    *,
    default: str,
    tiebreaker: Column,
) -> Callable[..., SortOrder]:
    """A ``sort`` query-parameter dependency accepting only ``fields``."""
    allowed = ", ".join(fields)
    description = (
        f"Comma-separated fields to sort by, - for descending. One or more of: {allowed}. "
        f"Default: {default}."
    )

    # a plain default, not Annotated: the closure's names are unknown to postponed annotations
    def sort_dependency(
        sort: str | None = Query(None, max_length=200, description=description, examples=[default]),
    ) -> SortOrder:
        return parse_sort(sort, fields, default=default, tiebreaker=tiebreaker)

    return sort_dependency


def where_given(query: AnySelect, filters: Mapping[Column, Any]) -> AnySelect:
    """``query`` narrowed by ``column == value`` for every filter whose value was given."""
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    return query


def count(db_session: Session, query: AnySelect) -> int:
    """How many rows ``query`` returns (its ordering dropped)."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(db_session.scalar(counted) or 0)


def paginate(
    db_session: Session,
    query: AnySelect,
    params: PageParams,
    order: SortOrder | Sequence[ColumnElement[Any]],
) -> tuple[list[Any], int]:
    """One page of ``query`` in ``order`` and the total across pages.

    A query selecting one thing (an entity or a column) yields those things; otherwise rows.
    """
    clauses = order.clauses if isinstance(order, SortOrder) else tuple(order)
    total = count(db_session, query)
    if total == 0 or params.offset >= total:
        return [], total
    result = db_session.execute(
        query.order_by(*clauses).limit(params.page_size).offset(params.offset)
    )
    if len(query.column_descriptions) == 1:
        return list(result.scalars().all()), total
    return list(result.all()), total
