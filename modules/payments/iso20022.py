"""ISO 20022 messages: pain.001 out (validated against the official XSD), pain.002 and camt.054 in.

pain.001.001.09 is checked with the schema the `sepaxml` package ships. pain.002
and camt.054 are read by element name whatever their version, and written (by the
simulated bank) as pain.002.001.10 and camt.054.001.08. One laid out exactly as
those writers lay them out is read by a pattern of the whole document, which only a
well-formed document matches, without building a tree; the result is the same.

Whatever the path, what is read is held to the ISO 20022 types of the fields it
stores or matches on (MsgId, OrgnlMsgId, EndToEndId: Max35Text; TxSts and status
reason codes: Max4Text; amounts at most `MAX_AMOUNT` minor units, and so is a
message's total): an over-long value is refused naming the field, never cut. A
document with a DOCTYPE is refused outright: bank messages need no DTD, and an
entity could smuggle text in or out (the parser never loads a DTD nor resolves an
entity, nor reaches the network).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from importlib.resources import files
from re import Match, Pattern
from re import compile as re_compile
from re import escape as re_escape
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

from lxml import etree

from ...core.errors import Unprocessable
from ...core.i18n import _
from ...core.money import major_writer, minor_units, to_minor
from .schemas import MAX_AMOUNT

PAIN001_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
PAIN002_NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
CAMT054_NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
ACCEPTED_STATUSES = {"ACCP", "ACSC", "ACSP", "ACTC", "ACWC", "ACCC"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
MAX35, MAX4 = 35, 4  # ISO 20022 Max35Text and Max4Text (the status and reason codes)


# Per-payment records are named tuples: a chunk makes tens of thousands, and a tuple is built in a third of the time.
class CreditTransfer(NamedTuple):
    end_to_end_id: str
    amount: int  # minor units
    account_kind: str  # iban | bank_account | mobile_money
    account_number: str
    bank_code: str | None
    creditor: str


class TransactionStatus(NamedTuple):
    end_to_end_id: str
    status: str  # ISO 20022 ExternalPaymentTransactionStatus1Code: ACCP, ACSC, RJCT...
    reason: str | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    msg_id: str
    original_msg_id: str
    transactions: list[TransactionStatus]


class Booking(NamedTuple):
    end_to_end_id: str
    amount: int
    currency: str
    credit: bool
    booked: bool


@dataclass(frozen=True, slots=True)
class Notification:
    msg_id: str
    entries: list[Booking]


@cache
def amount_reader(currency: str) -> Callable[[str], int]:
    """A parser of major-unit amounts in `currency` to minor units: "1000.50" -> 100050, exact or MoneyError.

    The plain form (digits, optional point and at most the currency's decimals) is parsed directly; anything
    else goes through `to_minor`, which refuses what cannot be represented.
    """
    exponent = minor_units(currency)
    plain = re_compile(rf"([0-9]{{1,18}})(?:\.([0-9]{{1,{exponent}}}))?" if exponent else r"([0-9]{1,18})()").fullmatch
    scale = 10**exponent

    @lru_cache(maxsize=4096)  # a cycle's amounts repeat (flat rates, brackets): each text is read once
    def read(text: str) -> int:
        found = plain(text)
        if found is None:
            return to_minor(text, currency)
        whole, part = found.groups()
        return int(whole) * scale + (int(part.ljust(exponent, "0")) if part else 0)

    return read


class _Fragments(dict):
    """Markup fragments by value, each built on first use."""

    def __init__(self, build: Callable[[Any], str]) -> None:
        super().__init__()
        self.build = build

    def __missing__(self, key: Any) -> str:
        fragment = self[key] = self.build(key)
        return fragment


def _timestamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


# ---------------------------------------------------------------- pain.001


def pain001(
    *,
    msg_id: str,
    debtor_name: str,
    debtor_account: str,
    currency: str,
    execution_date: date,
    transfers: Sequence[CreditTransfer],
) -> bytes:
    """A customer credit transfer initiation paying `transfers` from the debtor account."""
    total = sum(t.amount for t in transfers)
    write = major_writer(currency)
    ctrl = write(total)
    debtor = escape(debtor_name)
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{PAIN001_NS}"><CstmrCdtTrfInitn>'
        f"<GrpHdr><MsgId>{escape(msg_id)}</MsgId><CreDtTm>{_timestamp()}</CreDtTm>"
        f"<NbOfTxs>{len(transfers)}</NbOfTxs><CtrlSum>{ctrl}</CtrlSum><InitgPty><Nm>{debtor}</Nm></InitgPty></GrpHdr>"
        f"<PmtInf><PmtInfId>{escape(msg_id)}</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>false</BtchBookg>"
        f"<NbOfTxs>{len(transfers)}</NbOfTxs><CtrlSum>{ctrl}</CtrlSum>"
        f"<ReqdExctnDt><Dt>{execution_date.isoformat()}</Dt></ReqdExctnDt><Dbtr><Nm>{debtor}</Nm></Dbtr>"
        f"<DbtrAcct><Id><Othr><Id>{escape(debtor_account)}</Id></Othr></Id></DbtrAcct>"
        "<DbtrAgt><FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId></DbtrAgt>"
    ]
    # Bank codes and creditor names repeat across a message: each fragment is escaped once.
    agents = _Fragments(
        lambda code: f"<CdtrAgt><FinInstnId><Othr><Id>{escape(code)}</Id></Othr></FinInstnId></CdtrAgt>" if code else ""
    )
    creditors = _Fragments(lambda name: f"<Cdtr><Nm>{escape(name)}</Nm></Cdtr>")
    amount_open = f'<Amt><InstdAmt Ccy="{currency}">'
    for end_to_end_id, amount, kind, number, bank_code, creditor in transfers:
        if kind == "iban":
            account = f"<IBAN>{number}</IBAN>"
        elif kind == "mobile_money":
            account = f"<Othr><Id>{escape(number)}</Id><SchmeNm><Prtry>MSISDN</Prtry></SchmeNm></Othr>"
        else:
            account = f"<Othr><Id>{escape(number)}</Id></Othr>"
        parts.append(
            f"<CdtTrfTxInf><PmtId><EndToEndId>{end_to_end_id}</EndToEndId></PmtId>{amount_open}{write(amount)}"
            f"</InstdAmt></Amt>{agents[bank_code]}{creditors[creditor]}<CdtrAcct><Id>{account}</Id></CdtrAcct>"
            "</CdtTrfTxInf>"
        )
    parts.append("</PmtInf></CstmrCdtTrfInitn></Document>")
    return "".join(parts).encode()


@cache
def pain001_schema() -> etree.XMLSchema:
    path = files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def validate_pain001(message: bytes) -> etree._Element:
    """Parse and check against the official pain.001.001.09 XSD; Unprocessable naming the first error."""
    document = _parse(message, "pain.001")
    schema = pain001_schema()
    if not schema.validate(document):
        error = schema.error_log.last_error
        raise Unprocessable(
            "pain.001: "
            + _("not valid against {schema}: line {line}: {error}").format(
                schema="pain.001.001.09.xsd", line=error.line, error=error.message
            )
        )
    return document


@dataclass(frozen=True, slots=True)
class Initiation:
    msg_id: str
    currency: str
    transfers: list[tuple[str, int]]  # (EndToEndId, minor units)


def read_pain001(message: bytes | etree._ElementTree, *, validate: bool = True) -> Initiation:
    """MsgId, currency and (EndToEndId, amount) of every CdtTrfTxInf; checked against the XSD unless told not to."""
    if isinstance(message, bytes):
        document = validate_pain001(message) if validate else _parse(message, "pain.001")
    else:
        document = message
    n = _ns(document)
    msg_id = document.findtext(f"{n}CstmrCdtTrfInitn/{n}GrpHdr/{n}MsgId")
    e2e_tag, amount_tag = f"{n}EndToEndId", f"{n}InstdAmt"
    # One pass in document order: every CdtTrfTxInf has exactly one EndToEndId and one InstdAmt (the XSD).
    references = [element.text for element in document.iter(e2e_tag)]
    amounts = list(document.iter(amount_tag))
    if len(references) != len(amounts):
        raise Unprocessable(
            "pain.001: "
            + _("every {parent} needs one {first} and one {second}").format(
                parent="CdtTrfTxInf", first="EndToEndId", second="InstdAmt"
            )
        )
    currency = amounts[0].get("Ccy") if amounts else ""
    if any(a.get("Ccy") != currency for a in amounts):
        raise Unprocessable("pain.001: " + _("every {element} must be in the same currency").format(element="InstdAmt"))
    read = amount_reader(currency) if amounts else None
    transfers = [(e2e, read(a.text)) for e2e, a in zip(references, amounts, strict=True)] if read else []
    return Initiation(msg_id=msg_id, currency=currency, transfers=transfers)


_SCAN_MSG_ID = re_compile(rb"<GrpHdr><MsgId>([^<]*)</MsgId>")
_SCAN_TRANSFER = re_compile(
    rb'<EndToEndId>([^<]*)</EndToEndId></PmtId><Amt><InstdAmt Ccy="([A-Z]{3})">([0-9.]+)</InstdAmt>'
)


def scan_pain001(message: bytes) -> Initiation:
    """Read back a pain.001 this module wrote (see `pain001`) by pattern, without building a tree.

    For the simulated bank, which receives only messages `pain001` produced and the XSD accepted; anything
    that does not look exactly like that output is read with the XML parser instead.
    """
    header = _SCAN_MSG_ID.search(message)
    found = _SCAN_TRANSFER.findall(message)
    if header is None or len(found) != message.count(b"<CdtTrfTxInf>") or b"&" in message:
        return read_pain001(message, validate=False)
    currency = found[0][1].decode() if found else ""
    if any(c != found[0][1] for _e2e, c, _amount in found):
        return read_pain001(message, validate=False)
    read = amount_reader(currency) if found else None
    transfers = [(e2e.decode(), read(amount.decode())) for e2e, _currency, amount in found] if read else []
    return Initiation(msg_id=header.group(1).decode(), currency=currency, transfers=transfers)


# ---------------------------------------------------------------- pain.002 and camt.054


def pain002(*, msg_id: str, original_msg_id: str, statuses: Sequence[TransactionStatus]) -> bytes:
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{PAIN002_NS}"><CstmrPmtStsRpt>'
        f"<GrpHdr><MsgId>{escape(msg_id)}</MsgId><CreDtTm>{_timestamp()}</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{escape(original_msg_id)}</OrgnlMsgId>"
        "<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts><OrgnlPmtInfAndSts>"
        f"<OrgnlPmtInfId>{escape(original_msg_id)}</OrgnlPmtInfId>"
    ]
    for end_to_end_id, status, reason in statuses:
        reason_info = f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>" if reason else ""
        parts.append(
            f"<TxInfAndSts><OrgnlEndToEndId>{end_to_end_id}</OrgnlEndToEndId><TxSts>{status}</TxSts>"
            f"{reason_info}</TxInfAndSts>"
        )
    parts.append("</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>")
    return "".join(parts).encode()


_TRANSACTION_CODE = "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"


def camt054(*, msg_id: str, account: str, currency: str, bookings: Sequence[Booking]) -> bytes:
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{CAMT054_NS}"><BkToCstmrDbtCdtNtfctn>'
        f"<GrpHdr><MsgId>{escape(msg_id)}</MsgId><CreDtTm>{_timestamp()}</CreDtTm></GrpHdr>"
        f"<Ntfctn><Id>{escape(msg_id)}</Id><CreDtTm>{_timestamp()}</CreDtTm>"
        f"<Acct><Id><Othr><Id>{escape(account)}</Id></Othr></Id></Acct>"
    ]
    for end_to_end_id, amount, entry_currency, credit, booked in bookings:
        parts.append(
            f'<Ntry><Amt Ccy="{entry_currency}">{major_writer(entry_currency)(amount)}</Amt>'
            f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd><Sts><Cd>{'BOOK' if booked else 'PDNG'}</Cd></Sts>"
            f"{_TRANSACTION_CODE}<NtryDtls><TxDtls><Refs><EndToEndId>{end_to_end_id}</EndToEndId></Refs></TxDtls>"
            "</NtryDtls></Ntry>"
        )
    parts.append("</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>")
    return "".join(parts).encode()


def parse_message(message: bytes) -> tuple[str, etree._ElementTree]:
    """Parse once: (pain.001 | pain.002 | camt.054, the document), from the document's namespace."""
    document = _parse(message, "message")
    namespace = etree.QName(document.getroot()).namespace or ""
    for kind in ("pain.001", "pain.002", "camt.054"):
        if f":{kind}." in namespace:
            return kind, document
    raise Unprocessable(
        _("namespace '{namespace}' is not one of {kinds}").format(
            namespace=namespace, kinds="pain.001, pain.002, camt.054"
        ),
        field="message",
    )


def message_kind(message: bytes) -> str:
    """pain.001, pain.002 or camt.054, from the document's namespace."""
    return parse_message(message)[0]


def read_answer(message: bytes) -> StatusReport | Notification:
    """A bank's pain.002 or camt.054, read; anything else is refused (a pain.001 is something we send).

    One laid out exactly as this module writes them (the simulated bank's answers) is read by pattern,
    without building a tree (see `_in_our_layout`); any other is parsed and read from the tree.
    """
    report = _pain002_in_our_layout(message)
    if report is not None:
        return report
    notification = _camt054_in_our_layout(message)
    if notification is not None:
        return notification
    kind, document = parse_message(message)
    if kind == "pain.002":
        return read_pain002(message, document)
    if kind == "camt.054":
        return read_camt054(message, document)
    raise Unprocessable(_("a {kind} is something we send, not something to ingest").format(kind=kind), field="message")


def read_pain002(message: bytes, document: etree._ElementTree | None = None) -> StatusReport:
    """The status of every TxInfAndSts; `document` is `message` already parsed, when the caller has it."""
    if document is None:
        report = _pain002_in_our_layout(message)
        if report is not None:
            return report
        document = _parse(message, "pain.002")
    root = document.getroot().find("{*}CstmrPmtStsRpt")
    if root is None:
        raise Unprocessable("pain.002: " + _("no {element} element").format(element="CstmrPmtStsRpt"))
    return _status_report(
        _status_lines(root, _ns(document)),
        root.findtext("{*}GrpHdr/{*}MsgId"),
        root.findtext("{*}OrgnlGrpInfAndSts/{*}OrgnlMsgId"),
    )


def _pain002_in_our_layout(message: bytes) -> StatusReport | None:
    found = _in_our_layout(message, _PAIN002_LAYOUT)
    if found is None:
        return None
    lines = _STATUS_LINE.findall(found["lines"])
    # A line without StsRsnInf captures "" for it: the whole element tells the two apart.
    lines = [(e2e, status, code if reason else None) for e2e, status, reason, code in lines]
    return _status_report(lines, found["msg_id"], found["original_msg_id"])


def _status_report(
    lines: Iterable[tuple[str, str, str | None]], msg_id: str | None, original_msg_id: str | None
) -> StatusReport:
    statuses = []
    for e2e, status, reason in lines:
        if not e2e or not status:
            raise Unprocessable(
                "pain.002: "
                + _("every {parent} needs one {first} and one {second}").format(
                    parent="TxInfAndSts", first="OrgnlEndToEndId", second="TxSts"
                )
            )
        statuses.append(TransactionStatus(e2e.strip(), status.strip(), reason))
    if not msg_id:
        raise Unprocessable("pain.002: " + _("{element} is missing").format(element="GrpHdr/MsgId"))
    msg_id, original_msg_id = msg_id.strip(), (original_msg_id or "").strip()
    _fits("pain.002", "GrpHdr/MsgId", MAX35, (msg_id,))
    _fits("pain.002", "OrgnlGrpInfAndSts/OrgnlMsgId", MAX35, (original_msg_id,))
    _fits("pain.002", "TxInfAndSts/OrgnlEndToEndId", MAX35, (s.end_to_end_id for s in statuses))
    _fits("pain.002", "TxInfAndSts/TxSts", MAX4, (s.status for s in statuses))
    _fits("pain.002", "TxInfAndSts/StsRsnInf/Rsn/Cd", MAX4, (s.reason for s in statuses if s.reason))
    return StatusReport(msg_id=msg_id, original_msg_id=original_msg_id, transactions=statuses)


def _fits(kind: str, field: str, limit: int, values: Iterable[str]) -> None:
    """Unprocessable naming `field` when one of `values` is longer than its ISO 20022 type allows."""
    for value in values:
        if len(value) > limit:
            raise Unprocessable(
                f"{kind}: {field}: "
                + _("'{value}' is {length} characters long; ISO 20022 allows at most {limit} (Max{limit}Text)").format(
                    value=value[:40] + ("…" if len(value) > 40 else ""), length=len(value), limit=limit
                )
            )


def _notification(msg_id: str, bookings: list[Booking]) -> Notification:
    """A camt.054 read by either path, held to the ISO 20022 lengths and to amounts the ledger can hold."""
    _fits("camt.054", "GrpHdr/MsgId", MAX35, (msg_id,))
    _fits("camt.054", "Ntry/NtryDtls/TxDtls/Refs/EndToEndId", MAX35, (b.end_to_end_id for b in bookings))
    if sum(b.amount for b in bookings) > MAX_AMOUNT:
        raise Unprocessable(
            "camt.054: Ntry/Amt: "
            + _("the entries' total is too large: more than {limit} minor units").format(limit=MAX_AMOUNT),
            kind="amount-too-large",
        )
    return Notification(msg_id=msg_id, entries=bookings)


def _status_lines(root: etree._Element, n: str) -> Iterator[tuple[str, str, str | None]]:
    """(OrgnlEndToEndId, TxSts, reason code) of each TxInfAndSts, from the tree; "" for a missing text."""
    e2e_tag, status_tag, reason_tag = f"{n}OrgnlEndToEndId", f"{n}TxSts", f"{n}StsRsnInf"
    reason_path = f"{n}Rsn/{n}Cd"
    for tx in root.iter(f"{n}TxInfAndSts"):
        e2e = status = reason = None
        for child in tx:  # one pass over the children instead of a search per field
            tag = child.tag
            if tag == e2e_tag and e2e is None:
                e2e = child.text or ""
            elif tag == status_tag and status is None:
                status = child.text or ""
            elif tag == reason_tag and reason is None:
                reason = child.findtext(reason_path)
        yield e2e or "", status or "", reason


def read_camt054(message: bytes, document: etree._ElementTree | None = None) -> Notification:
    """The bookings of every Ntry; `document` is `message` already parsed, when the caller has it."""
    if document is None:
        notification = _camt054_in_our_layout(message)
        if notification is not None:
            return notification
        document = _parse(message, "camt.054")
    root = document.getroot().find("{*}BkToCstmrDbtCdtNtfctn")
    if root is None:
        raise Unprocessable("camt.054: " + _("no {element} element").format(element="BkToCstmrDbtCdtNtfctn"))
    msg_id = _notification_id(root.findtext("{*}GrpHdr/{*}MsgId"))
    bookings = [
        Booking(e2e, _entry_amount(currency, amount), currency, credit, booked)
        for currency, amount, credit, booked, references in _tree_entries(root, _ns(document))
        for e2e in references or ("",)
    ]
    return _notification(msg_id, bookings)


def _camt054_in_our_layout(message: bytes) -> Notification | None:
    found = _in_our_layout(message, _CAMT054_LAYOUT)
    if found is None:
        return None
    msg_id = _notification_id(found["msg_id"])
    bookings = [
        Booking(e2e.strip(), _entry_amount(currency, amount), currency, indicator == "CRDT", status.strip() == "BOOK")
        for currency, amount, indicator, status, e2e in _ENTRY.findall(found["entries"])
    ]
    return _notification(msg_id, bookings)


def _notification_id(msg_id: str | None) -> str:
    if not msg_id:
        raise Unprocessable("camt.054: " + _("{element} is missing").format(element="GrpHdr/MsgId"))
    return msg_id.strip()


def _entry_amount(currency: str | None, text: str) -> int:
    if currency is None:
        raise Unprocessable(
            "camt.054: "
            + _("every {parent} needs {element} with a {attribute}").format(
                parent="Ntry", element="Amt", attribute="Ccy"
            )
        )
    try:
        amount = amount_reader(currency)(text.strip())
    except ValueError as error:
        raise Unprocessable(f"camt.054: Ntry/Amt: {error}") from None
    if amount > MAX_AMOUNT:
        raise Unprocessable(
            "camt.054: Ntry/Amt: "
            + _("{amount} minor units is too large: at most {limit}").format(amount=amount, limit=MAX_AMOUNT),
            kind="amount-too-large",
        )
    return amount


def _tree_entries(root: etree._Element, n: str) -> Iterator[tuple[str | None, str, bool, bool, Sequence[str]]]:
    """(currency, amount text, credit, booked, EndToEndIds) of each Ntry, from the tree."""
    amount_tag, indicator_tag, status_tag = f"{n}Amt", f"{n}CdtDbtInd", f"{n}Sts"
    code_tag, e2e_tag = f"{n}Cd", f"{n}EndToEndId"
    for entry in root.iter(f"{n}Ntry"):
        amount = indicator = status = None
        for child in entry:  # one pass over the children instead of a search per field
            tag = child.tag
            if tag == amount_tag and amount is None:
                amount = child
            elif tag == indicator_tag and indicator is None:
                indicator = child.text
            elif tag == status_tag and status is None:
                # camt.054.001.08 nests the code (Sts/Cd); older versions carry it as the text of Sts
                status = child.findtext(code_tag) or child.text or ""
        currency = amount.get("Ccy") if amount is not None else None
        references = [ref.text.strip() for ref in entry.iter(e2e_tag) if ref.text]
        text = (amount.text or "") if amount is not None else ""
        yield currency, text, indicator == "CRDT", (status or "").strip() == "BOOK", references


# Our writers' pain.002 and camt.054, tag by tag. A text is XML characters other than <, > and &, and no CR
# (which a parser reads as LF): a document these patterns match whole is well-formed and says literally
# what a parser would read from it.
_TEXT = r"[^<>&\x00-\x08\x0b-\x1f\ufffe\uffff]*"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
_STATUS_LINE = re_compile(
    rf"<TxInfAndSts><OrgnlEndToEndId>({_TEXT})</OrgnlEndToEndId><TxSts>({_TEXT})</TxSts>"
    rf"(<StsRsnInf><Rsn><Cd>({_TEXT})</Cd></Rsn></StsRsnInf>)?</TxInfAndSts>"
)
_PAIN002_LAYOUT = re_compile(
    re_escape(f'{_DECLARATION}<Document xmlns="{PAIN002_NS}"><CstmrPmtStsRpt>')
    + rf"<GrpHdr><MsgId>(?P<msg_id>{_TEXT})</MsgId><CreDtTm>{_TEXT}</CreDtTm></GrpHdr>"
    rf"<OrgnlGrpInfAndSts><OrgnlMsgId>(?P<original_msg_id>{_TEXT})</OrgnlMsgId><OrgnlMsgNmId>{_TEXT}</OrgnlMsgNmId>"
    rf"</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>{_TEXT}</OrgnlPmtInfId>"
    rf"(?P<lines>(?:{_STATUS_LINE.pattern})*)</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
)
_ENTRY = re_compile(
    rf'<Ntry><Amt Ccy="([A-Z]{{3}})">({_TEXT})</Amt><CdtDbtInd>({_TEXT})</CdtDbtInd><Sts><Cd>({_TEXT})</Cd></Sts>'
    rf"<BkTxCd><Domn><Cd>{_TEXT}</Cd><Fmly><Cd>{_TEXT}</Cd><SubFmlyCd>{_TEXT}</SubFmlyCd></Fmly></Domn></BkTxCd>"
    rf"<NtryDtls><TxDtls><Refs><EndToEndId>({_TEXT})</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>"
)
_CAMT054_LAYOUT = re_compile(
    re_escape(f'{_DECLARATION}<Document xmlns="{CAMT054_NS}"><BkToCstmrDbtCdtNtfctn>')
    + rf"<GrpHdr><MsgId>(?P<msg_id>{_TEXT})</MsgId><CreDtTm>{_TEXT}</CreDtTm></GrpHdr>"
    rf"<Ntfctn><Id>{_TEXT}</Id><CreDtTm>{_TEXT}</CreDtTm><Acct><Id><Othr><Id>{_TEXT}</Id></Othr></Id></Acct>"
    rf"(?P<entries>(?:{_ENTRY.pattern})*)</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
)


def _in_our_layout(message: bytes, layout: Pattern[str]) -> Match[str] | None:
    """`layout` matching the whole of `message` (valid UTF-8), or None: then the XML parser reads it."""
    if not message.startswith(_DECLARATION.encode()):
        return None
    try:
        return layout.fullmatch(message.decode())
    except UnicodeDecodeError:
        return None


def _ns(document: etree._ElementTree) -> str:
    namespace = etree.QName(document.getroot()).namespace
    return "{" + namespace + "}" if namespace else ""  # Clark notation: {namespace}tag


def _parse(message: bytes, what: str) -> etree._ElementTree:
    """The document, parsed without loading a DTD, resolving an entity or reaching the network; no DOCTYPE."""
    refused = Unprocessable(
        what + ": " + _("a document type declaration (DOCTYPE) is not allowed: bank messages need no DTD or entities")
    )
    try:
        document = etree.ElementTree(etree.fromstring(message, _PARSER))
    except etree.XMLSyntaxError as error:
        if b"<!DOCTYPE" in message:  # e.g. an entity it would have declared: say what is really wrong
            raise refused from None
        raise Unprocessable(what + ": " + _("not well-formed XML ({error})").format(error=error)) from None
    if document.docinfo.doctype or document.docinfo.internalDTD is not None:
        raise refused
    return document
