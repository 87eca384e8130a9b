"""Dependencies identity's routers share (router.py, mosip_router.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker


def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory, for routes that commit through the group commit (auth.authenticate_committed)."""
    return request.app.state.session_factory


SessionFactory = Annotated[sessionmaker[Session], Depends(get_session_factory)]
