"""DCI registry routes (dci.py), at the paths the DCI registry core API v1.0.0 gives them: `/registry/...`.

In our OpenAPI document with the envelope as far as we read it (dci_schemas.py): a request valid by
it is answered 200, its events' or search requests' refusals in-band in DCI's codes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ...core.deps import CountryDep, PortsDep, SessionDep, require_partner
from ...core.models import Partner
from . import dci
from .config import IdentitySettingsDep
from .dci_schemas import NotifyAck, NotifyRequest, SearchAnswer, SearchRequest

NOTIFY_SCOPE = "identity:crvs-notify"
SEARCH_SCOPE = "identity:dci-search"

router = APIRouter(prefix="/registry")

CivilRegistry = Annotated[Partner, Depends(require_partner(NOTIFY_SCOPE))]
Searcher = Annotated[Partner, Depends(require_partner(SEARCH_SCOPE))]


@router.post(
    "/notify",
    summary="DCI notify: a civil registry reports live births and deaths",
    response_model_exclude_none=True,
)
def notify(
    body: NotifyRequest,
    session: SessionDep,
    ports: PortsDep,
    country: CountryDep,
    identity_settings: IdentitySettingsDep,
    partner: CivilRegistry,
) -> NotifyAck:
    answer = dci.notify(
        session=session, ports=ports, country=country, settings=identity_settings, partner=partner, request=body
    )
    session.commit()
    return NotifyAck.model_validate(answer)


@router.post(
    "/sync/search",
    summary="DCI sync search: a person by UIN, with the attributes the partner's policy allows",
    response_model_exclude_none=True,
)
def sync_search(body: SearchRequest, session: SessionDep, country: CountryDep, partner: Searcher) -> SearchAnswer:
    answer = dci.search(session=session, country=country, partner=partner, request=body)
    session.commit()
    return SearchAnswer.model_validate(answer)
