"""G2P Connect mapper messages (core API v1.0.0) as this adapter takes and answers them, written from the spec.

Only the shape is checked here (a body of another shape is answered `ERR`, `err.request.bad`, with
HTTP 400). What the specification answers with a status reason code — a version, a timestamp, an
address, a reference_id that is wrong — passes this layer as text and is answered in the message by
g2p.py, with the code. Encrypted messages (`is_msg_encrypted`, the JWE form) are not offered, so the
`EncryptedMessage` alternative of each message is left out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ...core.schemas import Integer, Line

Text99 = Annotated[Line, Field(max_length=99)]
Stamp = Annotated[Line, Field(max_length=64, json_schema_extra={"format": "date-time"})]
Address = Annotated[
    Line,
    Field(
        max_length=200,
        description="`type:value@provider`: ids `nid:…@…`, `vid:…@…`, `ext:…@…`; financial addresses "
        "`account:…@<bank code>`, `mobile:…@<provider>`",
        examples=["nid:1234567890@nid", "account:DE89370400440532013000@DEUTDEFF"],
    ),
]
Locale = Annotated[str, Field(pattern=r"^[a-z]{3}$", description="ISO 639-3")]


class _Open(BaseModel):
    """The specification lets every object carry more properties than it names: they are read and ignored."""

    model_config = ConfigDict(extra="allow")


class AttributeNameValue(_Open):
    name: Line = Field(max_length=200)
    value: str | int | float | bool | dict[str, Any]


class MsgHeader(_Open):
    version: Text99 | None = Field(default=None, description="1.0.0")
    message_id: Text99 = Field(description="Unique per sender: a message sent again gets the same answer")
    message_ts: Stamp
    action: Annotated[Line, Field(max_length=40)]
    sender_id: Text99
    sender_uri: Annotated[Line, Field(max_length=2000)] | None = Field(
        default=None, description="Base URI of the sender's callbacks (async); by default the one registered"
    )
    receiver_id: Text99 | None = None
    total_count: Integer = Field(ge=0, le=10_000)
    is_msg_encrypted: StrictBool = False
    meta: dict[str, Any] | None = None


class _Item(_Open):
    reference_id: Text99
    timestamp: Stamp
    additional_info: list[AttributeNameValue] | None = Field(default=None, max_length=100)
    locale: Locale | None = None


class LinkItem(_Item):
    id: Address
    fa: Address
    name: Annotated[Line, Field(max_length=1000)] | None = None
    phone_number: Annotated[Line, Field(max_length=50)] | None = None


class UpdateItem(LinkItem):
    pass


class UnlinkItem(_Item):
    id: Address
    fa: Address | None = None


class ResolveItem(_Item):
    fa: Address | None = None
    id: Address | None = None
    name: Annotated[Line, Field(max_length=1000)] | None = None
    scope: Literal["yes_no", "details"] = "yes_no"


class LinkRequest(_Open):
    transaction_id: Text99
    link_request: list[LinkItem] = Field(max_length=10_000)


class UpdateRequest(_Open):
    transaction_id: Text99
    update_request: list[UpdateItem] = Field(max_length=10_000)


class UnlinkRequest(_Open):
    transaction_id: Text99
    unlink_request: list[UnlinkItem] = Field(max_length=10_000)


class ResolveRequest(_Open):
    transaction_id: Text99
    resolve_request: list[ResolveItem] = Field(max_length=10_000)


class TxnStatusQuery(_Open):
    reference_id: Text99
    txn_type: Literal["link", "resolve", "update", "unlink"]
    attribute_type: Literal["transaction_id", "reference_id_list", "correlation_id"]
    attribute_value: Text99 | Annotated[list[Text99], Field(max_length=10_000)]
    locale: Locale | None = None


class TxnStatusRequest(_Open):
    transaction_id: Text99
    txnstatus_request: TxnStatusQuery


class _Envelope(_Open):
    signature: Annotated[Line, Field(max_length=8000)] | None = Field(
        default=None, description="The body form of the signature, for senders registered with it"
    )
    header: MsgHeader


class LinkEnvelope(_Envelope):
    message: LinkRequest


class UpdateEnvelope(_Envelope):
    message: UpdateRequest


class UnlinkEnvelope(_Envelope):
    message: UnlinkRequest


class ResolveEnvelope(_Envelope):
    message: ResolveRequest


class TxnStatusEnvelope(_Envelope):
    message: TxnStatusRequest


# ---------------------------------------------------------------- answers (documented; built by g2p.py)

RequestStatus = Literal["rcvd", "pdng", "succ", "rjct"]


class AckError(BaseModel):
    code: str
    message: str | None = None


class Ack(BaseModel):
    ack_status: Literal["ACK", "NACK", "ERR"]
    timestamp: str = Field(json_schema_extra={"format": "date-time"})
    correlation_id: str
    error: AckError | None = None


class AckResponse(BaseModel):
    """The acknowledgement: ACK (the callback follows), or ERR with the error's code."""

    message: Ack


class CallbackHeader(BaseModel):
    version: str
    message_id: str
    message_ts: str = Field(json_schema_extra={"format": "date-time"})
    action: str
    status: RequestStatus
    status_reason_code: str | None = None
    status_reason_message: str | None = None
    total_count: int
    completed_count: int
    sender_id: str
    receiver_id: str
    is_msg_encrypted: bool = False
    meta: dict[str, Any] | None = None


class ResponseItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    reference_id: str
    timestamp: str
    status: RequestStatus
    status_reason_code: str | None = None
    status_reason_message: str | None = None
    fa: str | None = None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")

    transaction_id: str
    correlation_id: str


class LinkAnswer(_Answer):
    link_response: list[ResponseItem]


class UpdateAnswer(_Answer):
    update_response: list[ResponseItem]


class UnlinkAnswer(_Answer):
    unlink_response: list[ResponseItem]


class ResolveAnswer(_Answer):
    resolve_response: list[ResponseItem]


class TxnStatusAnswer(_Answer):
    txnstatus_response: dict[str, Any]


class _OnEnvelope(BaseModel):
    signature: str | None = None
    header: CallbackHeader


class OnLink(_OnEnvelope):
    message: LinkAnswer | None = None


class OnUpdate(_OnEnvelope):
    message: UpdateAnswer | None = None


class OnUnlink(_OnEnvelope):
    message: UnlinkAnswer | None = None


class OnResolve(_OnEnvelope):
    message: ResolveAnswer | None = None


class OnTxnStatus(_OnEnvelope):
    message: TxnStatusAnswer | None = None


class TokenOut(BaseModel):
    """G2P Connect's OAuth2ClientTokenResponse (`expires_in` is a string there)."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: str
    scope: str | None = None


class OAuthError(BaseModel):
    """RFC 6749 section 5.2."""

    error: Literal["invalid_request", "invalid_client", "unsupported_grant_type"]
    error_description: str | None = None
