"""pain.002 and camt.054 read by pattern (the layout our writers use) say exactly what the tree reader says.

Every message is read twice, once as it comes and once with the pattern path switched off, and the
answers (or the problems raised) must be equal: for our writers' own output, and for the same output
changed in the ways a pattern could misread (comments, references, CDATA, CR LF, namespaces, prefixes,
elements outside the report, extra or missing elements, bad amounts) or that make it malformed
(unclosed elements, markup characters or non-XML characters in a text, bytes that are not UTF-8).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ....core.errors import Unprocessable
from .. import iso20022

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent

TEXT = st.text(alphabet=st.sampled_from(list("AZaz09 -_.éß")), max_size=8)  # spaces and non-ASCII included
CURRENCY = st.sampled_from(["KES", "JPY", "BHD"])
BOOKINGS = st.lists(
    st.builds(iso20022.Booking, TEXT, st.integers(0, 10**9), CURRENCY, st.booleans(), st.booleans()), max_size=5
)
STATUSES = st.lists(
    st.builds(
        iso20022.TransactionStatus,
        TEXT,
        st.sampled_from(["ACCP", "RJCT", "PDNG", " ACSC ", ""]),
        st.one_of(st.none(), st.sampled_from(["MS03", "AC04", ""])),
    ),
    max_size=5,
)


def _answer(read: Callable[[bytes], Any], message: bytes) -> Any:
    try:
        return read(message)
    except Unprocessable as problem:
        return ("problem", problem.detail)


def _by_tree(read: Callable[[bytes], Any], message: bytes) -> Any:
    with mock.patch.object(iso20022, "_in_our_layout", return_value=None):
        return _answer(read, message)


def _kth(text: str, marker: str, k: int) -> int:
    """Where the k-th `marker` starts, or -1."""
    found = -1
    for _ in range(k + 1):
        found = text.find(marker, found + 1)
        if found < 0:
            break
    return found


def _insert(marker: str, new: str) -> Callable[[str, int], str]:
    """Replace the k-th `marker` with `new`."""

    def change(text: str, k: int) -> str:
        at = _kth(text, marker, k)
        return text if at < 0 else text[:at] + new + text[at + len(marker) :]

    return change


def _rename(tag: str, new: str, opening: str | None = None) -> Callable[[str, int], str]:
    """Rename the k-th `tag` element to `new` (its start tag written as `opening`, if given)."""

    def change(text: str, k: int) -> str:
        at = _kth(text, f"<{tag}>", k)
        end = text.find(f"</{tag}>", at) if at >= 0 else -1
        if end < 0:
            return text
        inner = text[at + len(tag) + 2 : end]
        return text[:at] + (opening or f"<{new}>") + inner + f"</{new}>" + text[end + len(tag) + 3 :]

    return change


def _changes(line: str, root: str, reference: str, namespace: str) -> dict[str, Callable[[str, int], str]]:
    """Ways to change the k-th `line` element (or its reference element) of a message."""
    start, ref = f"<{line}>", f"<{reference}>"

    def element(text: str, k: int) -> tuple[int, int]:
        """Where the k-th line starts and ends, or (-1, -1)."""
        at = _kth(text, start, k)
        end = text.find(f"</{line}>", at) if at >= 0 else -1
        return (at, end + len(line) + 3) if end >= 0 else (-1, -1)

    def outside(text: str, k: int) -> str:
        at, end = element(text, k)
        return text if at < 0 else text.replace(f"</{root}>", f"</{root}><{root}>{text[at:end]}</{root}>")

    def wrapped(before: str, after: str) -> Callable[[str, int], str]:
        def change(text: str, k: int) -> str:
            at, end = element(text, k)
            return text if at < 0 else text[:at] + before + text[at:end] + after + text[end:]

        return change

    return {
        "comment": _insert(start, f"{start}<!-- c -->"),
        "instruction": _insert(start, f"{start}<?pi x?>"),
        "whitespace": _insert(start, f"{start}\n  "),
        "other namespace": _insert(start, f'<{line} xmlns="urn:other">'),
        "prefix": _rename(line, f"p:{line}", f'<p:{line} xmlns:p="{namespace}">'),
        "outside the report": outside,
        "in another namespace": wrapped('<W xmlns="urn:other">', "</W>"),
        "in a comment": wrapped("<!--", "-->"),
        "in CDATA": wrapped("<W><![CDATA[", "]]></W>"),
        "empty element": _insert(start, f"<{line}/>{start}"),
        "character reference": _insert(ref, f"{ref}&#65;"),
        "entity": _insert(ref, f"{ref}&amp;"),
        "CDATA": _insert(ref, f"{ref}<![CDATA[x]]>"),
        "CR LF": _insert(ref, f"{ref}a\r\nb"),
        "second reference": _insert(ref, f"{ref}X</{reference}>{ref}"),
        "no reference": _rename(reference, "Other"),
        "no message id": _rename("MsgId", "Id"),
        "tab and line feed": _insert(ref, f"{ref}a\tb\n"),
        "greater-than": _insert(ref, f"{ref}a>b"),
        "unclosed": _insert(f"</{line}>", ""),
        "less-than": _insert(ref, f"{ref}a<"),
        "end of CDATA": _insert(ref, f"{ref}]]>"),
        "control character": _insert(ref, f"{ref}\x01"),
        "not a character": _insert(ref, f"{ref}\ufffe"),
        "not UTF-8": _insert(ref, f"{ref}\udcff"),  # encoded as the lone byte 0xFF
        "another version": lambda text, k: text.replace(namespace, namespace[:-2] + "02"),
    }


CAMT054_CHANGES = _changes("Ntry", "BkToCstmrDbtCdtNtfctn", "EndToEndId", iso20022.CAMT054_NS) | {
    "no currency": _insert(' Ccy="', ' Cy="'),
    "bad amount": _insert("</Amt>", "9.9999</Amt>"),
    "text status": _insert("<Sts><Cd>", "<Sts>BOOK<Cd>"),
    "credit spelled out": _insert("<CdtDbtInd>CRDT", "<CdtDbtInd> CRDT"),
}
PAIN002_CHANGES = _changes("TxInfAndSts", "CstmrPmtStsRpt", "OrgnlEndToEndId", iso20022.PAIN002_NS) | {
    "no status": _rename("TxSts", "Sts"),
    "reason first": _insert("<StsRsnInf>", "<StsRsnInf><Rsn><Cd>X</Cd></Rsn>"),
}


def _camt054(bookings: list[iso20022.Booking]) -> bytes:
    return iso20022.camt054(msg_id="NTF-1", account="X", currency="KES", bookings=bookings)


def _pain002(statuses: list[iso20022.TransactionStatus]) -> bytes:
    return iso20022.pain002(msg_id="STS-1", original_msg_id="M-1", statuses=statuses)


def _changed(message: bytes, changes: dict[str, Callable[[str, int], str]], chosen: list[tuple[str, int]]) -> bytes:
    text = message.decode()
    for name, k in chosen:
        text = changes[name](text, k)
    return text.encode(errors="surrogateescape")


def _chosen(changes: dict[str, Callable[[str, int], str]]) -> st.SearchStrategy[list[tuple[str, int]]]:
    return st.lists(st.tuples(st.sampled_from(sorted(changes)), st.integers(0, 4)), min_size=1, max_size=2)


@settings(max_examples=300, deadline=None)
@given(bookings=BOOKINGS, chosen=_chosen(CAMT054_CHANGES))
def test_camt054_by_pattern_equals_the_tree(bookings, chosen) -> None:
    message = _camt054(bookings)
    for document in (message, _changed(message, CAMT054_CHANGES, chosen)):
        for read in (iso20022.read_camt054, iso20022.read_answer):
            assert _answer(read, document) == _by_tree(read, document)


@settings(max_examples=300, deadline=None)
@given(statuses=STATUSES, chosen=_chosen(PAIN002_CHANGES))
def test_pain002_by_pattern_equals_the_tree(statuses, chosen) -> None:
    message = _pain002(statuses)
    for document in (message, _changed(message, PAIN002_CHANGES, chosen)):
        for read in (iso20022.read_pain002, iso20022.read_answer):
            assert _answer(read, document) == _by_tree(read, document)


@pytest.mark.parametrize(
    "chosen",
    [
        # a line the tree reads but the pattern cannot see, and one the pattern sees but the tree does not
        [("prefix", 0), ("in another namespace", 1)],
        [("prefix", 0), ("in a comment", 1)],
        [("whitespace", 0), ("outside the report", 1)],
        [("entity", 0)],
        [("character reference", 1)],
        [("CR LF", 2)],
    ],
)
def test_lines_that_could_trade_places_are_read_from_the_tree(chosen) -> None:
    bookings = [iso20022.Booking(f"G2P-1-{i}", 10_000 + i, "KES", True, True) for i in range(3)]
    for read, message, changes in (
        (iso20022.read_camt054, _camt054(bookings), CAMT054_CHANGES),
        (
            iso20022.read_pain002,
            _pain002([iso20022.TransactionStatus(b[0], "ACCP", None) for b in bookings]),
            PAIN002_CHANGES,
        ),
    ):
        document = _changed(message, changes, chosen)
        assert _answer(read, document) == _by_tree(read, document), chosen


OUR_CAMT054 = _camt054([iso20022.Booking(f"G2P-1-{i}", 10_000, "KES", True, i != 1) for i in range(3)])
OUR_PAIN002 = _pain002(
    [iso20022.TransactionStatus("G2P-1-1", "ACCP", None), iso20022.TransactionStatus("G2P-1-2", "RJCT", "AC04")]
)


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (iso20022.read_camt054, OUR_CAMT054),
        (iso20022.read_answer, OUR_CAMT054),
        (iso20022.read_pain002, OUR_PAIN002),
        (iso20022.read_answer, OUR_PAIN002),
    ],
)
def test_our_own_messages_are_read_by_pattern_without_a_parser(read, message: bytes) -> None:
    expected = _by_tree(read, message)
    with mock.patch.object(iso20022, "_parse", side_effect=AssertionError("parsed")):
        assert read(message) == expected


@pytest.mark.parametrize("read", [iso20022.read_camt054, iso20022.read_pain002, iso20022.read_answer])
def test_malformed_messages_are_refused(read) -> None:
    message = OUR_CAMT054 if read is iso20022.read_camt054 else OUR_PAIN002
    with pytest.raises(Unprocessable, match="not well-formed"):
        read(message.replace(b"</Document>", b""))


def test_a_pain001_is_not_an_answer() -> None:
    message = iso20022.pain001(
        msg_id="M-1",
        debtor_name="Treasury",
        debtor_account="CYCLE-1",
        currency="KES",
        execution_date=date(2026, 1, 1),
        transfers=[iso20022.CreditTransfer("G2P-1-1", 100, "bank_account", "1234567", "BANK1", "Beneficiary")],
    )
    with pytest.raises(Unprocessable, match=r"a pain\.001 is something we send"):
        iso20022.read_answer(message)
