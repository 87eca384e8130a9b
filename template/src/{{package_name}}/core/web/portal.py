"""The shell's own pages: the front door, the language switch, the stylesheet, the resident's home."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ..i18n import LANGUAGE_COOKIE, shipped_languages
from ..ports import ResidentSessions
from .access import RESIDENT_COOKIE, ResidentDep, local_path
from .shell import PAGE_HEADERS, Viewer, redirect, render

STYLESHEET = Path(__file__).resolve().parent / "static" / "site.css"
ONE_YEAR = 365 * 24 * 3600

router = APIRouter()


@router.get("/")
def home(request: Request) -> Response:
    return render(request, "home.html")


@router.post("/language")
def choose_language(
    request: Request, language: Annotated[str, Form(max_length=8)], next: Annotated[str, Form(max_length=2000)] = "/"
) -> Response:
    """Remember the visitor's language (a cookie the locale middleware reads first) and go back."""
    response = redirect(local_path(next) or "/")
    if language in shipped_languages():
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=ONE_YEAR, samesite="lax", httponly=True)
    return response


@router.get("/static/site.css")
def stylesheet() -> Response:
    headers = {**PAGE_HEADERS, "Cache-Control": "public, max-age=86400"}
    return Response(STYLESHEET.read_bytes(), media_type="text/css", headers=headers)


@router.get("/me")
def resident_home(request: Request, resident: ResidentDep) -> Response:
    return render(request, "resident_home.html", viewer=Viewer(resident=resident.national_id))


@router.post("/me/sign-out")
def resident_sign_out(request: Request, resident: ResidentDep) -> Response:
    sessions: ResidentSessions = request.app.state.ports.get(ResidentSessions)
    with request.app.state.session_factory.begin() as session:
        sessions.close(session=session, token=resident.token)
    response = redirect("/")
    response.delete_cookie(RESIDENT_COOKIE, httponly=True, samesite="strict")
    return response
