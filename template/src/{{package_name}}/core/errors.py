"""Errors as RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://nation-stack.dev/problems/"


class Problem(Exception):
    """A domain error the API reports as a problem document.

    `kind` becomes the problem type URI; `detail` says what was wrong and, where
    it helps, what is allowed.
    """

    status = 400

    def __init__(self, detail: str, *, kind: str = "bad-request", status: int | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.kind = kind
        if status is not None:
            self.status = status
        self.extensions = extensions


class NotFound(Problem):
    status = 404

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, kind="not-found", **extensions)


class Conflict(Problem):
    status = 409

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, kind="conflict", **extensions)


class Unprocessable(Problem):
    status = 422

    def __init__(self, detail: str, *, kind: str = "invalid-input", **extensions: Any) -> None:
        super().__init__(detail, kind=kind, **extensions)


def problem_response(
    *, status: int, title: str, detail: str, kind: str, instance: str, **extensions: Any
) -> JSONResponse:
    body = {"type": PROBLEM_TYPE_BASE + kind, "title": title, "status": status, "detail": detail, "instance": instance}
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _domain_problem)
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)


async def _domain_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Problem)
    return problem_response(
        status=error.status,
        title=_title(error.status),
        detail=error.detail,
        kind=error.kind,
        instance=request.url.path,
        **error.extensions,
    )


async def _validation_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"location": ".".join(str(part) for part in e["loc"]), "message": e["msg"]} for e in error.errors()]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
    return problem_response(
        status=422,
        title=_title(422),
        detail=detail,
        kind="invalid-request",
        instance=request.url.path,
        errors=errors,
    )


async def _http_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    response = problem_response(
        status=error.status_code,
        title=_title(error.status_code),
        detail=str(error.detail),
        kind=_title(error.status_code).lower().replace(" ", "-"),
        instance=request.url.path,
    )
    if error.headers:
        response.headers.update(error.headers)
    return response


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
