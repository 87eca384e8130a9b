"""DCI registry core API v1.0.0 message envelopes, as far as this registry reads and answers them (dci.py).

Written from the published specification (SPDCI `registry_core_api_v1.0.0.yaml`; the excerpt the tests
validate against is in tests/dci_spec/). Fields we do not read are allowed and ignored, as the
specification lets registries add their own; everything we check is stated here, so a request valid by
our OpenAPI document is answered 200 and any refusal of its content is given in-band, per event or
search request, in DCI's own status codes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ...core.schemas import Integer, Line
from .schemas import NOT_BLANK

DciId = Annotated[Line, Field(min_length=1, max_length=200, json_schema_extra=NOT_BLANK)]
DciText = Annotated[Line, Field(max_length=200)]
SenderId = Annotated[Line, Field(min_length=1, max_length=100, json_schema_extra=NOT_BLANK)]
TransactionId = Annotated[Line, Field(min_length=1, max_length=99, json_schema_extra=NOT_BLANK)]
Batch = 100  # events or search requests in one message


class _Open(BaseModel):
    """A DCI object: what we read is checked, anything else the sender adds is ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class DciIdentifier(_Open):
    identifier_type: Literal["UIN", "BRN", "MRN", "DRN"]
    identifier: DciId


class DciName(_Open):
    sur_name: DciText | None = None
    given_name: DciText | None = None
    second_name: DciText | None = None


class PersonRecord(_Open):
    """dci_PersonRecord: the fields a birth or a death needs."""

    identifier_type: Literal["UIN", "BRN", "MRN", "DRN"]
    identifier: DciId
    name: DciName | None = None
    sex: Literal["male", "female", "other", "unknown"] | None = None
    birthdate: DciText | None = Field(default=None, description="ISO 8601: a date, or a date and time")
    deathdate: DciText | None = Field(default=None, description="ISO 8601: a date, or a date and time")
    parent1_identifier: DciIdentifier | None = None
    parent2_identifier: DciIdentifier | None = None


class NotifyData(_Open):
    version: DciText | None = None
    reg_type: DciText | None = None
    # Not in NotifyEventRequest's data (it is in SearchResponse's): read when given, otherwise the event
    # is told by the record (a deathdate: a death; a BRN: a live birth). docs/standards.md.
    reg_event_type: Literal["live_birth", "death"] | None = Field(
        default=None, description="dci_VitalEvents code (an extension here: see docs/standards.md)"
    )
    reg_record_type: DciText
    reg_records: PersonRecord | Annotated[list[PersonRecord], Field(min_length=1, max_length=Batch)]


class NotifyEvent(_Open):
    reference_id: DciId
    timestamp: DciText
    data: NotifyData
    locale: DciText | None = None


class NotifyEventRequest(_Open):
    transaction_id: TransactionId
    notify_event: Annotated[list[NotifyEvent], Field(min_length=1, max_length=Batch)]


class NotifyHeader(_Open):
    """MsgCallbackHeader_V1.0.0 with action `notify`."""

    version: DciText | None = None
    message_id: DciId
    message_ts: DciText
    action: Literal["notify"]
    status: Literal["rcvd", "pdng", "succ", "rjct"]
    sender_id: SenderId | None = None
    receiver_id: DciText | None = None
    is_msg_encrypted: StrictBool = False


class NotifyRequest(_Open):
    signature: Annotated[Line, Field(max_length=4000)] | None = None
    header: NotifyHeader
    message: NotifyEventRequest


class SearchCriteria(_Open):
    version: DciText | None = None
    reg_type: DciText | None = None
    reg_event_type: DciText | None = None
    query_type: Literal["idtype-value", "expression", "predicate"]
    query: dict[str, Any] | list[Any]


class SearchItem(_Open):
    reference_id: DciId
    timestamp: DciText
    search_criteria: SearchCriteria
    locale: DciText | None = None


class SearchRequestMessage(_Open):
    transaction_id: TransactionId
    search_request: Annotated[list[SearchItem], Field(min_length=1, max_length=Batch)]


class SearchHeader(_Open):
    """MsgHeader_V1.0.0 with action `search`."""

    version: DciText | None = None
    message_id: DciId
    message_ts: DciText
    action: Literal["search"]
    sender_id: SenderId
    receiver_id: DciText | None = None
    total_count: Integer = Field(ge=0, le=2**31 - 1)
    is_msg_encrypted: StrictBool = False


class SearchRequest(_Open):
    signature: Annotated[Line, Field(max_length=4000)] | None = None
    header: SearchHeader
    message: SearchRequestMessage


class RegistryHeader(_Open):
    """MsgHeader_V1.0.0 of a registry's callback to us (on-subscribe, on-unsubscribe)."""

    version: DciText | None = None
    message_id: DciId
    message_ts: DciText
    sender_id: SenderId
    receiver_id: DciText | None = None
    total_count: Integer = Field(ge=0, le=2**31 - 1)
    is_msg_encrypted: StrictBool = False


class SubscriptionInfo(_Open):
    """SubscriptionInfo: the code under `code` (its properties) or `subscription_code` (its required list)."""

    code: DciText | None = None
    subscription_code: DciText | None = None
    status: Literal["subscribe", "unsubscribe"] | None = None
    reg_event_type: DciText | None = None


class SubscribeResult(_Open):
    reference_id: DciId
    timestamp: DciText
    status: Literal["rcvd", "pdng", "succ", "rjct"]
    status_reason_code: DciText | None = None
    status_reason_message: Annotated[Line, Field(max_length=999)] | None = None
    subscriptions: Annotated[list[SubscriptionInfo], Field(max_length=Batch)] = []


class SubscribeResponse(_Open):
    transaction_id: TransactionId
    correlation_id: DciId
    subscribe_response: Annotated[list[SubscribeResult], Field(max_length=Batch)]


class OnSubscribeHeader(RegistryHeader):
    action: Literal["on-subscribe"]


class OnSubscribeRequest(_Open):
    signature: Annotated[Line, Field(max_length=4000)] | None = None
    header: OnSubscribeHeader
    message: SubscribeResponse


class SubscriptionStatus(_Open):
    code: DciText
    status: Literal["subscribe", "unsubscribe"]


class UnsubscribeResponse(_Open):
    transaction_id: TransactionId
    correlation_id: DciId
    status: Literal["rcvd", "pdng", "succ", "rjct"]
    status_reason_code: DciText | None = None
    status_reason_message: Annotated[Line, Field(max_length=999)] | None = None
    subscription_status: Annotated[list[SubscriptionStatus], Field(max_length=Batch)] = []


class OnUnsubscribeHeader(RegistryHeader):
    action: Literal["on-unsubscribe"]


class OnUnsubscribeRequest(_Open):
    signature: Annotated[Line, Field(max_length=4000)] | None = None
    header: OnUnsubscribeHeader
    message: UnsubscribeResponse


# Answers ----------------------------------------------------------------------------------------------


class DciError(BaseModel):
    code: str
    message: str


class EventStatus(BaseModel):
    reference_id: str
    status: Literal["succ", "rjct"]
    status_reason_code: str | None = None
    status_reason_message: str | None = None


class PlainAckMessage(BaseModel):
    ack_status: Literal["ACK", "NACK", "ERR"]
    timestamp: str
    correlation_id: str
    error: DciError | None = None


class Ack(BaseModel):
    """The specification's acknowledgement (`Response`)."""

    message: PlainAckMessage


class AckMessage(PlainAckMessage):
    # Ours: what became of each event (DCI's notify has no callback to say it).
    notify_status: list[EventStatus] = []


class NotifyAck(BaseModel):
    message: AckMessage


class CallbackHeader(BaseModel):
    version: str
    message_id: str
    message_ts: str
    action: str
    status: Literal["rcvd", "pdng", "succ", "rjct"]
    status_reason_code: str | None = None
    status_reason_message: str | None = None
    total_count: int
    completed_count: int
    sender_id: str
    receiver_id: str | None = None
    is_msg_encrypted: bool = False


class SearchData(BaseModel):
    version: str
    reg_record_type: str
    reg_records: dict[str, Any]  # RegistryRecord: one object


class SearchResult(BaseModel):
    reference_id: str
    timestamp: str
    status: Literal["succ", "rjct"]
    status_reason_code: str | None = None
    status_reason_message: str | None = None
    data: SearchData | None = None


class SearchResponseMessage(BaseModel):
    transaction_id: str
    correlation_id: str
    search_response: list[SearchResult]


class SearchAnswer(BaseModel):
    header: CallbackHeader
    message: SearchResponseMessage
