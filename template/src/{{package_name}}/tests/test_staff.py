"""Staff accounts: Argon2id at rest, TOTP required, lock-out, password rules, sessions and their timeouts."""

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ..cli import app
from ..conftest import TEST_SECRET
from ..core import staff
from ..core.db import make_session_factory
from ..core.deps import STAFF_COOKIE
from ..core.errors import Conflict, Problem
from ..core.models import AuditEvent, StaffAccount, StaffSession, utcnow
from ..core.settings import Settings

pytestmark = pytest.mark.country_independent  # accounts, passwords and sessions read no country data

PASSWORD = "correct horse battery staple 7"


@pytest.fixture
def amina(session: Session) -> Iterator[pyotp.TOTP]:
    """A staff account `amina` granted core.auditor; yields her authenticator."""
    staff.create_account(session=session, user_name="amina", display_name="Amina", password=PASSWORD)
    staff.grant_role(session=session, user_name="amina", role="core.auditor")
    uri = staff.enrol_totp(session=session, user_name="amina", secret_key=TEST_SECRET)
    session.commit()
    yield pyotp.TOTP(pyotp.parse_uri(uri).secret)


def sign_in(session: Session, settings: Settings, totp: pyotp.TOTP, *, password: str = PASSWORD, now=None, code=None):
    now = now or utcnow()
    return staff.sign_in(
        session=session,
        user_name="amina",
        password=password,
        code=totp.at(now) if code is None else code,
        settings=settings,
        now=now,
    )


def test_the_password_is_stored_as_argon2id_and_the_totp_secret_encrypted(session: Session, amina: pyotp.TOTP) -> None:
    account = session.scalars(select(StaffAccount)).one()
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash
    assert amina.secret not in account.totp_secret


def test_sign_in_needs_both_the_password_and_the_current_code(
    session: Session, settings: Settings, amina: pyotp.TOTP
) -> None:
    with pytest.raises(staff.SignInFailed):
        sign_in(session, settings, amina, code="")  # the password alone
    with pytest.raises(staff.SignInFailed):
        sign_in(session, settings, amina, code="000000" if amina.now() != "000000" else "111111")
    with pytest.raises(staff.SignInFailed):
        sign_in(session, settings, amina, password="wrong password entirely")
    assert sign_in(session, settings, amina).user_name == "amina"


def test_a_code_is_accepted_once(session: Session, settings: Settings, amina: pyotp.TOTP) -> None:
    now = utcnow()
    sign_in(session, settings, amina, now=now)
    with pytest.raises(staff.SignInFailed):
        sign_in(session, settings, amina, now=now)  # the same code again, replayed
    later = now + timedelta(seconds=amina.interval)
    assert sign_in(session, settings, amina, now=later).user_name == "amina"


def test_an_unknown_user_gets_the_same_answer(session: Session, settings: Settings, amina: pyotp.TOTP) -> None:
    with pytest.raises(staff.SignInFailed) as unknown:
        staff.sign_in(session=session, user_name="nobody", password=PASSWORD, code=amina.now(), settings=settings)
    with pytest.raises(staff.SignInFailed) as wrong:
        sign_in(session, settings, amina, password="wrong password entirely")
    assert unknown.value.detail == wrong.value.detail == "sign-in failed"
    assert unknown.value.status == 401


def test_failures_lock_the_account_until_the_time_is_up(
    session: Session, settings: Settings, amina: pyotp.TOTP
) -> None:
    now = utcnow()
    for _ in range(settings.staff_max_failed_sign_ins):
        with pytest.raises(staff.SignInFailed):
            sign_in(session, settings, amina, password="wrong password entirely", now=now)
    with pytest.raises(staff.SignInFailed):  # locked: even the right password and code
        sign_in(session, settings, amina, now=now)
    assert [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))][-1] == "staff.locked"
    later = now + timedelta(minutes=settings.staff_lockout_minutes, seconds=1)
    assert sign_in(session, settings, amina, now=later).failed_attempts == 0


def test_the_cli_unlocks_a_locked_account(
    cli_on_test_database: Path, session: Session, settings: Settings, amina: pyotp.TOTP
) -> None:
    for _ in range(settings.staff_max_failed_sign_ins):
        with pytest.raises(staff.SignInFailed):
            sign_in(session, settings, amina, password="wrong password entirely")
    session.commit()
    result = CliRunner().invoke(app, ["staff", "unlock", "amina"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert sign_in(session, settings, amina).user_name == "amina"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short pass1", "at least 12 characters"),
        ("password1234", "most common passwords"),
        ("Qwertyuiop123", "most common passwords"),
        ("my name is AMINA, ok?", "must not contain the user name"),
    ],
)
def test_weak_passwords_are_refused(session: Session, password: str, reason: str) -> None:
    with pytest.raises(Problem) as refused:
        staff.create_account(session=session, user_name="amina", display_name="Amina", password=password)
    assert refused.value.field == "password"
    assert reason in refused.value.detail


def test_a_cookie_session_ends_when_idle_and_in_any_case_at_its_absolute_expiry(
    session: Session, settings: Settings, amina: pyotp.TOTP
) -> None:
    now = utcnow()
    account = sign_in(session, settings, amina)
    opened = staff.open_session(session=session, account=account, kind="cookie", settings=settings, now=now)
    idle = timedelta(minutes=settings.staff_cookie_idle_minutes)
    expiry = now + timedelta(minutes=settings.staff_cookie_absolute_minutes)
    step = idle - timedelta(minutes=1)  # used just within the idle timeout, again and again
    moments = [now + step * n for n in range(1, (expiry - now) // step + 1)] + [expiry - timedelta(seconds=1)]
    for moment in moments:
        assert staff.resolve(session=session, token=opened.token, settings=settings, now=moment).account.id
    with pytest.raises(staff.SessionInvalid):  # at the absolute expiry, however active
        staff.resolve(session=session, token=opened.token, settings=settings, now=expiry)

    idle_one = staff.open_session(session=session, account=account, kind="cookie", settings=settings, now=now)
    with pytest.raises(staff.SessionInvalid):
        staff.resolve(session=session, token=idle_one.token, settings=settings, now=now + idle)


def test_a_bearer_token_is_short_lived_even_when_used(session: Session, settings: Settings, amina: pyotp.TOTP) -> None:
    now = utcnow()
    opened = staff.open_session(
        session=session, account=sign_in(session, settings, amina), kind="bearer", settings=settings, now=now
    )
    lifetime = timedelta(minutes=settings.staff_bearer_minutes)
    assert opened.expires_at == now + lifetime
    staff.resolve(session=session, token=opened.token, settings=settings, now=now + lifetime - timedelta(seconds=1))
    with pytest.raises(staff.SessionInvalid):
        staff.resolve(session=session, token=opened.token, settings=settings, now=now + lifetime)


def test_signing_out_everywhere_revokes_every_session(session: Session, settings: Settings, amina: pyotp.TOTP) -> None:
    account = sign_in(session, settings, amina)
    tokens = [
        staff.open_session(session=session, account=account, kind=kind, settings=settings).token
        for kind in ("cookie", "bearer")
    ]
    assert staff.sign_out_everywhere(session=session, account_id=account.id) == 2
    for token in tokens:
        with pytest.raises(staff.SessionInvalid):
            staff.resolve(session=session, token=token, settings=settings)


def test_a_bearer_token_works_on_an_api_route(client: TestClient, amina: pyotp.TOTP) -> None:
    assert client.get("/meta").status_code == 401
    opened = client.post(
        "/staff/sessions", json={"user_name": "amina", "password": PASSWORD, "code": amina.now(), "kind": "bearer"}
    )
    assert opened.status_code == 201, opened.text
    bearer = {"Authorization": f"Bearer {opened.json()['token']}"}
    assert client.get("/meta", headers=bearer).status_code == 200
    me = client.get("/staff/me", headers=bearer).json()
    assert me["user_name"] == "amina"
    assert [r["role"] for r in me["roles"]] == ["core.auditor"]
    assert client.delete("/staff/sessions/current", headers=bearer).status_code == 204
    assert client.get("/meta", headers=bearer).status_code == 401


def test_a_cookie_works_on_an_api_route(client: TestClient, amina: pyotp.TOTP) -> None:
    opened = client.post("/staff/sessions", json={"user_name": "amina", "password": PASSWORD, "code": amina.now()})
    assert opened.status_code == 201, opened.text
    assert opened.json()["token"] is None  # the token travels only in the cookie
    cookie = opened.headers["set-cookie"]
    assert {"Secure", "HttpOnly", "SameSite=strict"} <= {part.strip() for part in cookie.split(";")}
    token = cookie.split(";")[0].removeprefix(f"{STAFF_COOKIE}=")
    client.cookies.clear()
    assert client.get("/meta", headers={"Cookie": f"{STAFF_COOKIE}={token}"}).status_code == 200
    assert client.delete("/staff/sessions", headers={"Cookie": f"{STAFF_COOKIE}={token}"}).status_code == 204
    assert client.get("/meta", headers={"Cookie": f"{STAFF_COOKIE}={token}"}).status_code == 401


def test_a_failed_sign_in_over_http_is_counted(client: TestClient, session: Session, amina: pyotp.TOTP) -> None:
    refused = client.post(
        "/staff/sessions", json={"user_name": "amina", "password": "not the password", "code": "123456"}
    )
    assert refused.status_code == 401
    assert refused.json()["detail"] == "sign-in failed"
    assert session.scalars(select(StaffAccount)).one().failed_attempts == 1


def test_a_staff_member_without_the_permission_is_refused(
    client: TestClient, session: Session, amina: pyotp.TOTP
) -> None:
    staff.revoke_grant(session=session, user_name="amina", role="core.auditor")
    session.commit()
    opened = client.post(
        "/staff/sessions", json={"user_name": "amina", "password": PASSWORD, "code": amina.now(), "kind": "bearer"}
    )
    bearer = {"Authorization": f"Bearer {opened.json()['token']}"}
    assert client.get("/staff/me", headers=bearer).json()["roles"] == []
    refused = client.get("/meta", headers=bearer)
    assert refused.status_code == 403
    assert "meta:read" in refused.json()["detail"]


def staff_cli(*args: str):
    return CliRunner().invoke(app, ["staff", *args], catch_exceptions=False)


def said(result) -> list[str]:
    """The command's lines, less the evaluation banner every command of an unlicensed deployment shows."""
    return [line for line in result.output.splitlines() if "evaluation deployment" not in line]


def test_create_admin_prints_the_provisioning_uri_once_and_grants_the_administrator(
    cli_on_test_database: Path,
) -> None:
    created = staff_cli("create-admin", "--user-name", "root-admin", "--display-name", "Admin", "--password", PASSWORD)
    assert created.exit_code == 0, created.output
    assert created.output.count("otpauth://totp/") == 1
    listed = staff_cli("list", "--json")
    assert json.loads(said(listed)[-1]) == [
        {
            "user_name": "root-admin",
            "display_name": "Admin",
            "active": True,
            "locked": False,
            "totp": True,
            "roles": [{"role": "core.administrator", "region": None}],
        }
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("add", "--user-name", "amina", "--display-name", "Amina", "--password", "password1234"),
        ("add", "--user-name", "Not Valid!", "--display-name", "Amina", "--password", PASSWORD),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli_on_test_database: Path, args: tuple[str, ...]) -> None:
    result = staff_cli(*args)
    assert result.exit_code == 2
    assert len(said(result)) == 1, result.output
    assert said(result)[0].startswith(("password: ", "user_name: "))


def test_granting_an_unknown_role_or_a_region_to_a_national_role_exits_2(
    cli_on_test_database: Path, amina: pyotp.TOTP
) -> None:
    unknown = staff_cli("grant", "amina", "core.janitor")
    assert unknown.exit_code == 2
    assert "unknown role 'core.janitor'" in unknown.output
    regional = staff_cli("grant", "amina", "core.auditor", "--region", "R1")
    assert regional.exit_code == 2
    assert staff_cli("revoke-grant", "amina", "core.auditor").exit_code == 0
    assert staff_cli("revoke-grant", "amina", "core.auditor").exit_code == 1  # nothing left to revoke


def link(session: Session, **changes: object) -> StaffAccount:
    person = {
        "issuer": "https://id.example.gov",
        "subject": "248289761001",
        "user_name": "baraka",
        "display_name": "Baraka",
        "grants": [("core.auditor", None)],
        **changes,
    }
    return staff.sign_in_linked(session=session, **person)  # type: ignore[arg-type]


def test_an_account_of_the_openid_provider_is_refused_what_a_local_one_would_be(session: Session) -> None:
    with pytest.raises(Problem, match="user_name: the user name is longer than 64 characters"):
        link(session, user_name="b" * 65)
    with pytest.raises(Problem, match=r"role: unknown role 'core\.janitor'"):
        link(session, grants=[("core.janitor", None)])
    account = link(session)
    assert link(session, user_name="baraka.m", display_name="Baraka M").id == account.id  # renamed at the provider
    account.active = False
    with pytest.raises(staff.SignInFailed):
        link(session)


def first_sign_ins_at_once(engine: Engine, monkeypatch: pytest.MonkeyPatch, *people: dict[str, str]) -> list[object]:
    """Sign each person in, in their own transaction and thread, once every one of them has found no linked account.

    This is the race of a person's first sign-in sent twice at the same instant (a double click,
    two tabs): each request looks for the account before either has created it.
    """
    find_linked = staff._linked_account
    all_looked = threading.Barrier(len(people))
    waited = threading.local()

    def looked_up_together(session: Session, issuer: str, subject: str) -> StaffAccount | None:
        found = find_linked(session, issuer, subject)
        if found is None and not getattr(waited, "done", False):
            waited.done = True
            all_looked.wait(timeout=30)
        return found

    monkeypatch.setattr(staff, "_linked_account", looked_up_together)

    results: list[object] = [None] * len(people)

    def sign_in_alone(index: int) -> None:
        try:
            with make_session_factory(engine).begin() as own:
                results[index] = link(own, **people[index]).id
        except Exception as error:  # the outcome under test, whatever it is
            results[index] = error

    threads = [threading.Thread(target=sign_in_alone, args=(index,)) for index in range(len(people))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_first_sign_in_twice_at_the_same_instant_links_one_account(
    engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = first_sign_ins_at_once(engine, monkeypatch, {}, {})
    assert all(isinstance(result, int) for result in results), results
    assert len(set(results)) == 1
    assert session.scalar(select(func.count()).select_from(StaffAccount)) == 1
    assert session.scalar(select(func.count()).where(AuditEvent.action == "staff.created")) == 1


def test_two_people_taking_the_same_user_name_at_the_same_instant_give_one_account_and_a_conflict(
    engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = first_sign_ins_at_once(engine, monkeypatch, {"subject": "1001"}, {"subject": "1002"})
    assert sorted(type(result).__name__ for result in results) == ["Conflict", "int"], results
    conflict = next(result for result in results if isinstance(result, Conflict))
    assert "the user name 'baraka' belongs to another staff account" in conflict.detail
    assert session.scalar(select(func.count()).select_from(StaffAccount)) == 1


def test_a_rename_at_the_provider_to_a_user_name_another_account_holds_is_a_conflict(session: Session) -> None:
    link(session, subject="1001", user_name="baraka")
    renamed = link(session, subject="1002", user_name="otieno")
    with pytest.raises(Conflict, match="the user name 'baraka' belongs to another staff account"):
        link(session, subject="1002", user_name="baraka")
    session.expire_all()
    assert session.get(StaffAccount, renamed.id).user_name == "otieno"


def test_a_session_id_token_is_sealed_and_forgotten_at_any_sign_out(session: Session, settings: Settings) -> None:
    account = link(session)
    id_tokens = [f"eyJhbGciOiJSUzI1NiJ9.session-{n}.signature" for n in range(3)]
    tokens = [
        staff.open_session(session=session, account=account, kind="cookie", settings=settings, id_token=id_token)
        for id_token in id_tokens
    ]
    sealed = "".join(session.scalars(select(StaffSession.oidc_id_token)))
    assert not any(id_token[:16] in sealed or id_token[-16:] in sealed for id_token in id_tokens)
    assert staff.sign_out_linked(session=session, token=tokens[0].token, settings=settings) == id_tokens[0]
    assert staff.sign_out_linked(session=session, token=tokens[0].token, settings=settings) is None  # once
    staff.sign_out(session=session, token=tokens[1].token)
    staff.sign_out_everywhere(session=session, account_id=account.id)
    session.expire_all()
    assert session.scalars(select(StaffSession.oidc_id_token)).all() == [None, None, None]
