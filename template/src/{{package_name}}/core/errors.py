"""Errors as RFC 9457 problem details (`application/problem+json`).

`title` and `detail` are in the request's language (core/i18n.py); `type`,
`status`, `instance` and field locations never are, so clients branch on those.
"""

from __future__ import annotations

import logging
import secrets
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .i18n import DEFAULT_LOCALE, N_, _, current_locale, gettext, language_of, negotiate, ngettext, use_locale

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://nation-stack.dev/problems/"

log = logging.getLogger(__name__)


class Problem(Exception):
    """A domain error the API reports as a problem document.

    `kind` becomes the problem type URI; `detail` says what was wrong and, where
    it helps, what is allowed. Pass a translated message (`_("...").format(...)`)
    or a marked one (`N_("...")`): the handler looks `detail` up in the catalogs
    again, so a message marked at import time is shown in the request's language.
    `field` names the input at fault (`currency`, `account.number`); it leads the
    problem's detail as `field: message`, and callers that are not HTTP read it as is.
    """

    status = 400

    def __init__(
        self,
        detail: str,
        *,
        kind: str = "bad-request",
        status: int | None = None,
        headers: dict[str, str] | None = None,
        field: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail if field is None else f"{field}: {detail}")
        self.message = detail
        self.field = field
        self.detail = detail if field is None else f"{field}: {detail}"
        self.kind = kind
        if status is not None:
            self.status = status
        self.headers = headers or {}  # e.g. Retry-After on a 429
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
    """Every error becomes a problem document: domain problems, invalid requests, HTTP errors, and the unexpected.

    The handler for `Exception` is the one Starlette's ServerErrorMiddleware calls, so a 500 is a
    problem document too (the middleware re-raises afterwards, for the server's own log and for
    test clients that ask for it).
    """
    app.add_exception_handler(Problem, _domain_problem)
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(Exception, _unexpected_problem)


async def _domain_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Problem)
    response = problem_response(
        status=error.status,
        title=status_title(error.status),
        detail=problem_detail(error),
        kind=error.kind,
        instance=request.url.path,
        **error.extensions,
    )
    response.headers.update(error.headers)
    return response


def problem_detail(error: Problem) -> str:
    """A domain problem's detail in the current language, led by the field at fault."""
    return gettext(error.message) if error.field is None else f"{error.field}: {gettext(error.message)}"


def validation_errors(error: RequestValidationError) -> list[dict[str, str]]:
    """Each refused input: where it was (e.g. `body.amount`) and what was wrong, in the current language."""
    return [
        {"location": ".".join(str(part) for part in e["loc"]), "message": validation_message(e)} for e in error.errors()
    ]


async def _validation_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = validation_errors(error)
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
    return problem_response(
        status=422,
        title=status_title(422),
        detail=detail,
        kind="invalid-request",
        instance=request.url.path,
        errors=errors,
    )


async def _http_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    response = problem_response(
        status=error.status_code,
        title=status_title(error.status_code),
        detail=gettext(str(error.detail)),
        kind=_phrase(error.status_code).lower().replace(" ", "-"),
        instance=request.url.path,
    )
    if error.headers:
        response.headers.update(error.headers)
    return response


async def _unexpected_problem(request: Request, error: Exception) -> JSONResponse:
    """A 500 with a generic, translated detail and a reference; the traceback goes to the log under that reference.

    Nothing of the exception (its text may hold SQL parameters or personal data) reaches the client.
    """
    reference = secrets.token_hex(8)
    log.error(
        "unexpected error %s on %s %s",
        reference,
        request.method,
        request.url.path,
        exc_info=(type(error), error, error.__traceback__),
    )
    # Starlette calls this handler outside every middleware, the locale's included: negotiate again.
    country = getattr(request.app.state, "country", None)
    fallback = country.profile.locale if country is not None else None
    with use_locale(negotiate(request.headers.get("accept-language"), fallback)):
        return problem_response(
            status=500,
            title=status_title(500),
            detail=_("The server failed to answer this request; quote reference {reference} to its operator.").format(
                reference=reference
            ),
            kind="internal-error",
            instance=request.url.path,
            reference=reference,
        )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def status_title(status: int) -> str:
    return gettext(_phrase(status))


# The HTTP reason phrases the stack answers with, so the extractor puts them in
# the catalogs (`title`, and Starlette's default `detail`). Python 3.13 renamed
# 413 and 422 after RFC 9110; both spellings are listed.
STATUS_PHRASES = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Not Acceptable"),
    N_("Conflict"),
    N_("Gone"),
    N_("Request Entity Too Large"),
    N_("Content Too Large"),
    N_("Unsupported Media Type"),
    N_("Unprocessable Entity"),
    N_("Unprocessable Content"),
    N_("Too Many Requests"),
    N_("Internal Server Error"),
    N_("Service Unavailable"),
    N_("Error"),
)

# Pydantic's messages for the common validation errors, by error type, worded as
# Pydantic words them in English; the other types keep Pydantic's English text.
# Placeholders are the error's `ctx` keys.
VALIDATION_MESSAGES = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "string_type": N_("Input should be a valid string"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "float_parsing": N_("Input should be a valid number, unable to parse string as a number"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "decimal_parsing": N_("Input should be a valid decimal"),
    "dict_type": N_("Input should be a valid dictionary"),
    "model_attributes_type": N_("Input should be a valid dictionary or object to extract fields from"),
    "list_type": N_("Input should be a valid list"),
    "enum": N_("Input should be {expected}"),
    "literal_error": N_("Input should be {expected}"),
    "greater_than": N_("Input should be greater than {gt}"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "less_than": N_("Input should be less than {lt}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "string_pattern_mismatch": N_("String should match pattern '{pattern}'"),
    "date_parsing": N_("Input should be a valid date in the format YYYY-MM-DD, {error}"),
    "date_from_datetime_parsing": N_("Input should be a valid date or datetime, {error}"),
    "datetime_parsing": N_("Input should be a valid datetime, {error}"),
    "uuid_parsing": N_("Input should be a valid UUID, {error}"),
    "json_invalid": N_("Invalid JSON: {error}"),
    "value_error": N_("Value error, {error}"),
}


def validation_message(error: Any) -> str:
    """One Pydantic error's message in the current language (Pydantic's text when we have none)."""
    if language_of(current_locale()) == DEFAULT_LOCALE:
        return str(error["msg"])  # Pydantic's own wording, exactly
    kind, ctx = error.get("type"), error.get("ctx") or {}
    if kind == "string_too_short":
        template = ngettext(
            "String should have at least {min_length} character",
            "String should have at least {min_length} characters",
            _count(ctx.get("min_length")),
        )
    elif kind == "string_too_long":
        template = ngettext(
            "String should have at most {max_length} character",
            "String should have at most {max_length} characters",
            _count(ctx.get("max_length")),
        )
    elif kind in VALIDATION_MESSAGES:
        template = gettext(VALIDATION_MESSAGES[kind])
    else:
        return str(error["msg"])
    try:
        return template.format(**{key: str(value) for key, value in ctx.items()})
    except (KeyError, IndexError, ValueError):
        return str(error["msg"])


def _count(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 2


# The OpenAPI side: every operation states the problems it may answer, as problem documents.

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ProblemDetails",
    "description": "An RFC 9457 problem document; title and detail are in the request's language",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem; clients branch on it"},
        "title": {"type": "string", "description": "The HTTP status's phrase"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string", "description": "What was wrong and, where it helps, what is allowed"},
        "instance": {"type": "string", "description": "The path of the request"},
        "errors": {
            "type": "array",
            "description": "Request validation (422): one entry per wrong field",
            "items": {
                "type": "object",
                "required": ["location", "message"],
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "reference": {"type": "string", "description": "500: the reference the server's log has the error under"},
    },
    "additionalProperties": True,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
_WRITES = {"post", "put", "patch", "delete"}


def default_problem_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The problems any operation of this shape may answer, from what it takes and whether it needs a key.

    422 (the request is invalid) and 500 always; 400 when it takes a body (one that is not JSON);
    401 and 403 when it needs an API key; 404 when it names something (path, query or body); 409
    when it changes state. A route answering another status (429, 503) raises a `Problem` with it
    and says so with `responses={429: {"description": ...}}`: it is documented as a problem too.
    """
    statuses = {422, 500}
    if "requestBody" in operation:
        statuses.add(400)  # a body that is not JSON at all
    if operation.get("security"):
        statuses |= {401, 403}
    if "{" in path or operation.get("parameters") or "requestBody" in operation:
        statuses.add(404)
    if method in _WRITES:
        statuses.add(409)
    return statuses


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """State every operation's error responses as `application/problem+json` problem documents (in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ProblemDetails"] = PROBLEM_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            declared = {int(status) for status in responses if status.isdigit() and int(status) >= 400}
            for status in sorted(declared | default_problem_statuses(path, method, operation)):
                existing = responses.get(str(status), {})
                if status != 422 and existing.get("content"):
                    continue  # a route's own error body (GET /health's 503); FastAPI's 422 is replaced
                description = existing.get("description")
                if not description or description == "Validation Error":
                    description = _phrase(status)
                responses[str(status)] = {
                    "description": description,
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
                }
            operation["responses"] = dict(sorted(responses.items()))
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, replaced by ProblemDetails
        rest = {name: schema for name, schema in schemas.items() if name != unused}
        if f"#/components/schemas/{unused}'" not in repr((document.get("paths"), rest)):
            schemas.pop(unused, None)
    return document
