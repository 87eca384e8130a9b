"""Identity HTTP API."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status
from pydantic import WithJsonSchema

from ...core.approvals import Signatory, required_for
from ...core.authorisation import check_region, region_of
from ...core.callers import Caller
from ...core.country import LoadedCountry
from ...core.deps import CountryDep, PortsDep, SessionDep, SettingsDep, require_partner, require_scope
from ...core.i18n import _
from ...core.models import Partner
from ...core.pages import PageOut, PageRequestDep
from ...core.schemas import Line
from ...core.security import AuthenticationFailed
from ...core.settings import Settings
from . import adjudication, auth, policies, queues, resident, service, vids
from .config import IdentitySettings, IdentitySettingsDep
from .dci_router import NOTIFY_SCOPE, SEARCH_SCOPE
from .deps import SessionFactory
from .models import Enrolment
from .notifier import OutboxNotifier
from .schemas import (
    AdjudicationOut,
    AdjudicationRequest,
    AuthenticationRecord,
    AuthOut,
    AuthRequest,
    CandidateOut,
    ContactChangeOut,
    ContactUpdate,
    EkycOut,
    EnrolmentOut,
    EnrolmentRequest,
    Factor,
    HeldApplicationOut,
    HeldEnrolmentOut,
    LifecycleRequest,
    LockRequest,
    OtpOut,
    OtpRequest,
    PendingDecisionOut,
    PersonLookup,
    PersonOut,
    PolicyIn,
    PolicyOut,
    ResidentOtpRequest,
    ResidentSessionOut,
    ResidentSessionRequest,
    VidOut,
    VidRequest,
    VidRevocation,
)

ENROL_SCOPE = "identity:enrol"
READ_SCOPE = "identity:read"
ADMIN_SCOPE = "identity:admin"
AUTH_SCOPE = "identity:auth"
EKYC_SCOPE = "identity:ekyc"
RESIDENT_SCOPE = "identity:resident"
SCOPES = (ENROL_SCOPE, READ_SCOPE, ADMIN_SCOPE, AUTH_SCOPE, EKYC_SCOPE, RESIDENT_SCOPE, NOTIFY_SCOPE, SEARCH_SCOPE)

router = APIRouter()

Enroller = Annotated[Caller, Depends(require_scope(ENROL_SCOPE))]
Reader = Annotated[Caller, Depends(require_scope(READ_SCOPE))]
Admin = Annotated[Caller, Depends(require_scope(ADMIN_SCOPE))]
Authenticator = Annotated[Partner, Depends(require_partner(AUTH_SCOPE))]
KycPartner = Annotated[Partner, Depends(require_partner(EKYC_SCOPE))]
Portal = Annotated[Partner, Depends(require_partner(RESIDENT_SCOPE))]
PartnerId = Annotated[int, Path(ge=1, le=2**31 - 1, description="core partner id")]
ApplicationId = Annotated[str, Path(min_length=8, max_length=36, pattern=r"^[A-Za-z0-9-]+$")]
FactorName = Annotated[Factor, Path(description="An authentication factor")]
# Absent: no filter (a query string has no null to send, so the document states none).
Region = Annotated[
    Line | None,
    Query(min_length=1, max_length=200, description="The address's first level (the country's address_levels)"),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"}),
]
Since = Annotated[
    date | None,
    Query(description="Received on or after this day (UTC)"),
    WithJsonSchema({"type": "string", "format": "date"}),
]
ResidentToken = Annotated[
    Line | None, Header(alias="X-Resident-Session", max_length=200, description="From POST /resident/sessions")
]


# Enrolment and adjudication


@router.post("/enrolments", status_code=status.HTTP_201_CREATED, summary="Enrol a resident")
def enrol(
    body: EnrolmentRequest,
    session: SessionDep,
    country: CountryDep,
    response: Response,
    caller: Enroller,
    identity_settings: IdentitySettingsDep,
) -> EnrolmentOut:
    check_region(caller, region_of(body.address, country))
    enrolment = service.enrol(
        session=session,
        request=body.as_application(),
        country=country,
        settings=identity_settings,
        maker=Signatory.of(caller),
    )
    session.commit()
    if enrolment.status != "issued":
        response.status_code = status.HTTP_202_ACCEPTED
    return _enrolment_out(enrolment, [])  # a new enrolment has no adjudication yet


# Before /enrolments/{application_id}, which would take "held" for an application ID.
@router.get("/enrolments/held", summary="Enrolments held as possible duplicates, each beside its candidates")
def held_enrolments(
    session: SessionDep,
    country: CountryDep,
    page: PageRequestDep,
    caller: Admin,
    region: Region = None,
    since: Since = None,
) -> PageOut[HeldEnrolmentOut]:
    if region is not None:  # a region-limited adjudicator may narrow the queue, never widen it
        check_region(caller, region)
    held = queues.held_enrolments(
        session=session,
        page=page,
        region_level=country.profile.address_levels[0],
        region=region,
        within=caller.regions,
        since=since,
    )
    return PageOut(items=[_held_out(item) for item in held.items], next=held.next)


@router.get("/enrolments/{application_id}", summary="Status of an enrolment application")
def enrolment_status(
    application_id: ApplicationId, session: SessionDep, country: CountryDep, caller: Reader
) -> EnrolmentOut:
    enrolment = service.get_enrolment(session=session, application_id=application_id)
    check_region(caller, _enrolment_region(enrolment, country))
    return _enrolment_out(enrolment, adjudication.pending_decisions(session=session, enrolment=enrolment))


@router.post(
    "/enrolments/{application_id}/adjudication",
    summary="Approve a decision on a held enrolment (four-eyes): it takes effect once enough people approved it",
    responses={403: {"description": "The person who submitted the enrolment may not adjudicate it"}},
)
def adjudicate(
    application_id: ApplicationId,
    body: AdjudicationRequest,
    session: SessionDep,
    country: CountryDep,
    core_settings: SettingsDep,
    caller: Admin,
    identity_settings: IdentitySettingsDep,
) -> AdjudicationOut:
    enrolment = service.get_enrolment(session=session, application_id=application_id)
    check_region(caller, _enrolment_region(enrolment, country))
    result = adjudication.adjudicate(
        session=session,
        application_id=application_id,
        decision=adjudication.Decision(body.decision, body.duplicate_of),
        note=body.note,
        country=country,
        settings=identity_settings,
        approver=Signatory.of(caller),
        required=required_for(core_settings.approvals_required, adjudication.ACTION),
    )
    session.commit()
    return AdjudicationOut(
        **_enrolment_out(result.enrolment, result.pending).model_dump(),
        decision=result.decision.decision,
        duplicate_of=result.decision.duplicate_of,
        approvals=result.tally.approvals,
        approvals_required=result.tally.required,
    )


# Registry. A national ID travels in request bodies only, never in a URL (which access logs record).


@router.post("/persons/lookup", summary="A registered person")
def person(body: PersonLookup, session: SessionDep, country: CountryDep, caller: Reader) -> PersonOut:
    found = service.get_person(session=session, national_id=body.national_id, country=country)
    check_region(caller, region_of(found.address, country))
    return PersonOut.model_validate(found)


@router.post("/persons/status", summary="ID lifecycle: deactivate (e.g. on death) or reactivate")
def set_status(
    body: LifecycleRequest, session: SessionDep, country: CountryDep, ports: PortsDep, caller: Admin
) -> PersonOut:
    found = service.get_person(session=session, national_id=body.national_id, country=country)
    check_region(caller, region_of(found.address, country))
    person = service.set_status(
        session=session,
        ports=ports,
        national_id=body.national_id,
        status=body.status,
        reason=body.reason,
        country=country,
        actor=caller.actor,
    )
    session.commit()
    return PersonOut.model_validate(person)


# Relying-party policies


@router.put("/partners/{partner_id}/policy", summary="Set what a relying party may authenticate and see")
def set_policy(partner_id: PartnerId, body: PolicyIn, session: SessionDep, caller: Admin) -> PolicyOut:
    check_region(caller, None)  # a partner's policy is national: a region-limited adjudicator does not reach it
    policy = policies.set_policy(
        session=session,
        partner_id=partner_id,
        auth_types=list(body.auth_types),
        ekyc_attributes=list(body.ekyc_attributes),
        actor=caller.actor,
    )
    session.commit()
    return PolicyOut(partner_id=partner_id, auth_types=policy.auth_types, ekyc_attributes=policy.ekyc_attributes)


@router.get("/partners/{partner_id}/policy", summary="A relying party's policy")
def get_policy(partner_id: PartnerId, session: SessionDep, caller: Admin) -> PolicyOut:
    check_region(caller, None)
    policy = policies.get_policy(session=session, partner_id=partner_id)
    return PolicyOut(partner_id=partner_id, auth_types=policy.auth_types, ekyc_attributes=policy.ekyc_attributes)


# Authentication and eKYC


@router.post("/otp", summary="Send an OTP to the resident's registered phone")
def send_otp(
    body: OtpRequest,
    session: SessionDep,
    country: CountryDep,
    settings: SettingsDep,
    partner: Authenticator,
    identity_settings: IdentitySettingsDep,
) -> OtpOut:
    if not body.consent:
        raise auth.ConsentRequired()
    policies.require_policy(session=session, partner=partner, factors=["otp"], ekyc=False)
    sent_to = auth.request_otp(
        session=session,
        individual_id=body.individual_id,
        id_type=body.id_type,
        transaction_id=body.transaction_id,
        partner=partner,
        country=country,
        settings=identity_settings,
        secret=settings.secret_key.get_secret_value(),
        notifier=_notifier(settings, identity_settings),
    )
    session.commit()
    return OtpOut(transaction_id=body.transaction_id, sent_to=sent_to)


@router.post("/auth", summary="Yes/no authentication (demographic and/or OTP)")
def authenticate(
    body: AuthRequest,
    session_factory: SessionFactory,
    country: CountryDep,
    settings: SettingsDep,
    partner: Authenticator,
    identity_settings: IdentitySettingsDep,
) -> AuthOut:
    result = auth.authenticate_committed(
        session_factory=session_factory,
        attempt=body.as_attempt(),
        partner=partner,
        country=country,
        settings=identity_settings,
        secret=settings.secret_key.get_secret_value(),
    )
    _refuse_if_locked_out(result)
    return AuthOut(
        transaction_id=result.transaction_id,
        authenticated=result.authenticated,
        factors=result.factors,
        reason=result.reason,
    )


@router.post("/ekyc", summary="Authenticate and share the attributes the partner's policy allows")
def ekyc(
    body: AuthRequest,
    session_factory: SessionFactory,
    country: CountryDep,
    settings: SettingsDep,
    partner: KycPartner,
    identity_settings: IdentitySettingsDep,
) -> EkycOut:
    result = auth.authenticate_committed(
        session_factory=session_factory,
        attempt=body.as_attempt(),
        partner=partner,
        country=country,
        settings=identity_settings,
        secret=settings.secret_key.get_secret_value(),
        ekyc=True,
    )
    _refuse_if_locked_out(result)
    return EkycOut(
        transaction_id=result.transaction_id,
        authenticated=result.authenticated,
        factors=result.factors,
        reason=result.reason,
        partner_token=result.partner_token,
        attributes=result.attributes,
    )


# The resident's own view


@router.post("/resident/otp", summary="Send the resident an OTP to open a session")
def resident_otp(
    body: ResidentOtpRequest,
    session: SessionDep,
    country: CountryDep,
    settings: SettingsDep,
    partner: Portal,
    identity_settings: IdentitySettingsDep,
) -> OtpOut:
    sent_to = auth.request_otp(
        session=session,
        individual_id=body.individual_id,
        id_type=body.id_type,
        transaction_id=body.transaction_id,
        partner=partner,
        country=country,
        settings=identity_settings,
        secret=settings.secret_key.get_secret_value(),
        notifier=_notifier(settings, identity_settings),
    )
    session.commit()
    return OtpOut(transaction_id=body.transaction_id, sent_to=sent_to)


@router.post("/resident/sessions", status_code=status.HTTP_201_CREATED, summary="Open a resident session with the OTP")
def resident_session(
    body: ResidentSessionRequest,
    session: SessionDep,
    country: CountryDep,
    settings: SettingsDep,
    partner: Portal,
    identity_settings: IdentitySettingsDep,
) -> ResidentSessionOut:
    opened = resident.open_session(
        session=session,
        individual_id=body.individual_id,
        id_type=body.id_type,
        transaction_id=body.transaction_id,
        otp=body.otp,
        partner=partner,
        country=country,
        settings=identity_settings,
        secret=settings.secret_key.get_secret_value(),
    )
    session.commit()
    if opened is None:
        raise AuthenticationFailed("otp: " + _("the code is wrong, expired or already used (or the ID is locked out)"))
    token, expires_at = opened
    return ResidentSessionOut(session_token=token, expires_at=expires_at)


@router.get("/resident/me", summary="My registry record")
def resident_me(session: SessionDep, country: CountryDep, partner: Portal, token: ResidentToken = None) -> PersonOut:
    national_id = resident.session_holder(session=session, token=token, partner=partner)
    return PersonOut.model_validate(service.get_person(session=session, national_id=national_id, country=country))


@router.get("/resident/authentications", summary="Who authenticated me, when, how, with what result")
def resident_authentications(
    session: SessionDep, partner: Portal, token: ResidentToken = None
) -> list[AuthenticationRecord]:
    national_id = resident.session_holder(session=session, token=token, partner=partner)
    return [
        AuthenticationRecord(
            occurred_at=event.occurred_at,
            partner=event.actor,
            action=event.action,
            factors=event.detail.get("factors", []),
            result=event.detail.get("result", ""),
            transaction_id=event.detail.get("transaction_id"),
            reason=event.detail.get("reason"),
        )
        for event in resident.authentication_history(session=session, national_id=national_id)
    ]


@router.put("/resident/contact", summary="Update my phone and/or address (the old values are kept)")
def resident_contact(
    body: ContactUpdate, session: SessionDep, country: CountryDep, partner: Portal, token: ResidentToken = None
) -> PersonOut:
    national_id = resident.session_holder(session=session, token=token, partner=partner)
    person = service.update_contact(
        session=session,
        national_id=national_id,
        phone=body.phone,
        address=body.address,
        country=country,
        actor=f"resident via {partner.name}",
    )
    session.commit()
    return PersonOut.model_validate(person)


@router.get("/resident/contact/history", summary="Past phones and addresses")
def resident_contact_history(
    session: SessionDep, partner: Portal, token: ResidentToken = None
) -> list[ContactChangeOut]:
    national_id = resident.session_holder(session=session, token=token, partner=partner)
    return [
        ContactChangeOut.model_validate(c) for c in service.contact_history(session=session, national_id=national_id)
    ]


@router.get("/resident/locks", summary="My locked authentication factors")
def resident_locks(session: SessionDep, partner: Portal, token: ResidentToken = None) -> list[str]:
    national_id = resident.session_holder(session=session, token=token, partner=partner)
    return auth.locked_factors(session=session, national_id=national_id)


@router.put("/resident/locks/{factor}", summary="Lock or unlock one authentication factor")
def resident_lock(
    factor: FactorName, body: LockRequest, session: SessionDep, partner: Portal, token: ResidentToken = None
) -> list[str]:
    national_id = resident.session_holder(session=session, token=token, partner=partner)
    auth.set_lock(
        session=session,
        national_id=national_id,
        factor=factor,
        locked=body.locked,
        actor=f"resident via {partner.name}",
    )
    session.commit()
    return auth.locked_factors(session=session, national_id=national_id)


@router.get("/resident/vids", summary="My virtual IDs")
def resident_vids(session: SessionDep, partner: Portal, token: ResidentToken = None) -> list[VidOut]:
    national_id = resident.session_holder(session=session, token=token, partner=partner)
    return [VidOut.model_validate(v) for v in vids.list_vids(session=session, national_id=national_id)]


@router.post("/resident/vids", status_code=status.HTTP_201_CREATED, summary="Create a virtual ID")
def resident_create_vid(
    body: VidRequest,
    session: SessionDep,
    partner: Portal,
    identity_settings: IdentitySettingsDep,
    token: ResidentToken = None,
) -> VidOut:
    national_id = resident.session_holder(session=session, token=token, partner=partner)
    vid = vids.create_vid(
        session=session,
        national_id=national_id,
        kind=body.kind,
        settings=identity_settings,
        actor=f"resident via {partner.name}",
    )
    session.commit()
    return VidOut.model_validate(vid)


@router.post("/resident/vids/revoke", summary="Revoke a virtual ID")
def resident_revoke_vid(
    body: VidRevocation, session: SessionDep, partner: Portal, token: ResidentToken = None
) -> VidOut:
    national_id = resident.session_holder(session=session, token=token, partner=partner)
    row = vids.revoke_vid(session=session, national_id=national_id, vid=body.vid, actor=f"resident via {partner.name}")
    session.commit()
    return VidOut.model_validate(row)


def _notifier(settings: Settings, identity_settings: IdentitySettings) -> OutboxNotifier:
    return OutboxNotifier(
        secret=settings.secret_key.get_secret_value(), expiry_seconds=identity_settings.notify_expiry_seconds
    )


def _refuse_if_locked_out(result: auth.AuthResult) -> None:
    """A locked-out attempt is audited and committed, then answered 429 with Retry-After."""
    if result.locked_out:
        raise auth.LockedOut(result.retry_after or 1)


def _enrolment_region(enrolment: Enrolment, country: LoadedCountry) -> str | None:
    return region_of(enrolment.demographics.get("address"), country)


def _enrolment_out(enrolment: Enrolment, pending: list[adjudication.Pending]) -> EnrolmentOut:
    return EnrolmentOut(
        application_id=enrolment.application_id,
        status=enrolment.status,
        national_id=enrolment.national_id,
        candidates=enrolment.candidates,
        pending=[
            PendingDecisionOut(
                decision=p.decision.decision, duplicate_of=p.decision.duplicate_of, approvals=p.approvals
            )
            for p in pending
        ],
    )


def _held_out(held: queues.HeldEnrolment) -> HeldEnrolmentOut:
    return HeldEnrolmentOut(
        application_id=held.enrolment.application_id,
        received_at=held.enrolment.created_at,
        application=HeldApplicationOut.model_validate(held.enrolment.demographics),
        candidates=[
            CandidateOut(**PersonOut.model_validate(candidate.person).model_dump(), name_score=candidate.name_score)
            for candidate in held.candidates
        ],
    )
