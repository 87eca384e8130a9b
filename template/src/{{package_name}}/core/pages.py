"""One pagination convention for every list the API answers (the work queues first).

Keyset pagination: rows come in the order of one stable, unique, increasing key (the id), and a
page's `next` cursor is where the following page starts. Unlike an offset, a cursor neither skips
nor repeats a row when rows are added or leave the list (an enrolment adjudicated, an objection
decided) between two pages. Clients pass `next` back as `after`, as is: its form is no contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy import BigInteger, Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from .errors import Unprocessable
from .i18n import _

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Every string the pattern matches is a cursor the services accept (the fuzz sends such strings):
# 18 digits stay below SQLite's and PostgreSQL's largest integer.
CURSOR_PATTERN = r"^[0-9]{1,18}$"
START = 0  # below every id

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class PageRequest:
    """Which page a caller wants: at most `limit` rows whose key is above `after`."""

    limit: int = DEFAULT_LIMIT
    after: int = START

    @classmethod
    def parse(cls, *, limit: int = DEFAULT_LIMIT, after: str | None = None) -> PageRequest:
        """The request from what a caller typed (a query string, a console form, a CLI option)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise Unprocessable(_("between 1 and {most}").format(most=MAX_LIMIT), field="limit")
        if after is None:
            return cls(limit=limit)
        if re.fullmatch(CURSOR_PATTERN, after) is None:
            raise Unprocessable(_("not a cursor; pass the `next` of the previous page as is"), field="after")
        return cls(limit=limit, after=int(after))


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and the cursor of the next one (None on the last page)."""

    items: list[T]
    next: str | None

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        return Page(items=[convert(item) for item in self.items], next=self.next)


def fetch(session: Session, query: Select[Any], key: InstrumentedAttribute[int], request: PageRequest) -> Page[Any]:
    """The page of `query`'s rows (one entity each) in the order of `key`, starting after `request.after`.

    One row more than the page is read, to know whether a next page exists without counting.
    """
    # A cursor past the key's largest value starts after every row; the database would refuse the
    # number itself (PostgreSQL's INTEGER stops at 2**31 - 1, where the cursor pattern does not).
    after = min(request.after, _largest(key))
    rows: Sequence[Any] = session.scalars(query.where(key > after).order_by(key).limit(request.limit + 1)).all()
    items = list(rows[: request.limit])
    more = len(rows) > request.limit
    return Page(items=items, next=str(getattr(items[-1], key.key)) if more else None)


def _largest(key: InstrumentedAttribute[int]) -> int:
    return 2**63 - 1 if isinstance(key.type, BigInteger) else 2**31 - 1


class PageOut(BaseModel, Generic[T]):
    """A page of a list: its items, and the cursor of the next page, `null` on the last one."""

    items: list[T]
    next: str | None = Field(description="Pass as `after` to get the next page; null: this is the last page")


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, at most {MAX_LIMIT}")]
After = Annotated[
    str | None,
    Query(pattern=CURSOR_PATTERN, description="The `next` of the previous page; absent: the first page"),
    # Absent means the first page; a query string has no null to send.
    WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN}),
]


def page_request(request: Request, limit: Limit = DEFAULT_LIMIT, after: After = None) -> PageRequest:
    refuse_unknown_parameters(request)
    return PageRequest.parse(limit=limit, after=after)


def refuse_unknown_parameters(request: Request) -> None:
    """A query parameter the route does not take is refused: a misspelt filter (`stauts=`) would
    otherwise answer the whole unfiltered list as if it were the filtered one."""
    known = _query_names(request.scope["route"].dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise Unprocessable(
            _("not a parameter of this list; it takes {known}").format(known=", ".join(sorted(known))),
            field=unknown[0],
        )


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route takes, its dependencies' included."""
    names = {parameter.alias for parameter in dependant.query_params}
    return names.union(*(_query_names(dependency) for dependency in dependant.dependencies))


PageRequestDep = Annotated[PageRequest, Depends(page_request)]
"""The `limit` and `after` query parameters of a paginated route, as a PageRequest."""
