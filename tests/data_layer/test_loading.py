"""Loading: every bad-row rule, column mapping, time zones, currencies, idempotent workspace loads."""

from __future__ import annotations

import csv
import datetime as dt
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kvar import Workspace, load_file
from kvar.data import reasons
from kvar.data.loading import export_rejects
from kvar.data.validation import LoadContext
from kvar.errors import FileFormatError, MappingError, ValidationError, WorkspaceError
from tests.conftest import UNEVEN_LINES


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rejects(con, result) -> list[tuple]:
    return con.execute(
        f'SELECT row, column_name, value, reason FROM "{result.rejects_table}" ORDER BY row, column_name'
    ).fetchall()


def accepted(con, result) -> list[dict]:
    relation = con.table(result.accepted_table)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def test_each_bad_row_is_kept_with_file_row_column_value_and_reason(con, tmp_path) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        "\n".join(
            [
                "order_id,customer,date,amount,currency",
                "o1,c1,2024-01-05,10.50,usd",  # line 2: fine (currency upper-cased)
                "o2,c2,2024-13-45,5.00,USD",  # line 3: impossible date
                "o3,c3,2024-01-06,abc,USD",  # line 4: not a number
                "o4,,2024-01-07,3.00,USD",  # line 5: missing customer
                "o5,c5,2024-01-08,4.00,XYZ",  # line 6: unknown currency
                "o1,c1,2024-01-05,10.50,USD",  # line 7: duplicate id
                "o7,c7,2999-01-01,1.00,USD",  # line 8: in the future
                "o8,c8,2024-01-09,-2.00,USD",  # line 9: a refund, accepted
            ]
        )
        + "\n",
    )
    result = load_file(
        con, "transactions", path, {"transaction_id": "order_id"}, LoadContext(now=dt.datetime(2024, 6, 1))
    )
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (8, 2, 6)
    got = rejects(con, result)
    assert [(row, column, value) for row, column, value, _ in got] == [
        (3, "occurred_at", "2024-13-45"),
        (4, "amount", "abc"),
        (5, "customer_id", None),
        (6, "currency", "XYZ"),
        (7, "transaction_id", "o1"),
        (8, "occurred_at", "2999-01-01"),
    ]
    reasons = [reason for *_, reason in got]
    assert "unparseable time" in reasons[0] and "not a number" in reasons[1] and "required" in reasons[2]
    assert (
        "unknown currency" in reasons[3]
        and reasons[4] == "duplicate line (the same values in every column): first seen at row 2"
    )
    assert "future" in reasons[5]
    raw = json.loads(con.execute(f'SELECT raw FROM "{result.rejects_table}" WHERE row = 4').fetchall()[0][0])
    # the row as the file has it: its columns, in its order, and nothing of kvar's own
    assert raw == {"order_id": "o3", "customer": "c3", "date": "2024-01-06", "amount": "abc", "currency": "USD"}
    rows = accepted(con, result)
    assert [(r["transaction_id"], r["amount"], r["currency"]) for r in rows] == [
        ("o1", 10.5, "USD"),
        ("o8", -2.0, "USD"),
    ]


def test_refund_kind_makes_amount_negative_and_unknown_kind_is_rejected(con, tmp_path) -> None:
    path = write(
        tmp_path,
        "t.csv",
        "customer_id,occurred_at,amount,kind\nc1,2024-01-01,10,purchase\nc1,2024-01-02,4,refund\nc1,2024-01-03,4,gift\n",
    )
    result = load_file(con, "transactions", path)
    assert [r["amount"] for r in accepted(con, result)] == [10.0, -4.0]
    assert rejects(con, result)[0][1:3] == ("kind", "gift")


def test_times_are_stored_in_utc(con, tmp_path) -> None:
    path = write(
        tmp_path, "t.csv", "customer_id,occurred_at\nc1,2024-03-01 10:00\nc2,2024-03-01T10:00:00+02:00\nc3,20240301\n"
    )
    utc = accepted(con, load_file(con, "transactions", path))
    assert [r["occurred_at"] for r in utc] == [
        dt.datetime(2024, 3, 1, 10),
        dt.datetime(2024, 3, 1, 8),
        dt.datetime(2024, 3, 1),
    ]
    berlin = accepted(con, load_file(con, "transactions", path, context=LoadContext(timezone="Europe/Berlin")))
    assert [r["occurred_at"] for r in berlin] == [
        dt.datetime(2024, 3, 1, 9),
        dt.datetime(2024, 3, 1, 8),
        dt.datetime(2024, 2, 29, 23),
    ]


_OFFSETS = st.sampled_from(["", "Z", "+02:00", "-05:30", "+0100", "+00:00", " UTC", " Europe/Oslo"])


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.datetimes(
                min_value=dt.datetime(1980, 1, 1), max_value=dt.datetime(2025, 12, 31)
            ),  # zone rules agree since
            st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S.%f"]),
            _OFFSETS,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_iso_times_are_stored_as_the_utc_instant_python_reads_them(tmp_path_factory, rows) -> None:
    """Naive times of a UTC load take a shortcut (no time zone arithmetic) that must read every value as
    the general path does: Python's own ISO parser (and zoneinfo) is the independent reading here."""
    from zoneinfo import ZoneInfo

    import duckdb

    lines = [f"c{index},{instant.strftime(form)}{offset}" for index, (instant, form, offset) in enumerate(rows)]
    path = write(tmp_path_factory.mktemp("iso"), "t.csv", "customer_id,occurred_at\n" + "\n".join(lines) + "\n")
    expected = []
    for instant, form, offset in rows:
        written = dt.datetime.strptime(instant.strftime(form), form)
        zone = ZoneInfo(offset.strip()) if "/" in offset else None
        if zone is not None:
            written = written.replace(tzinfo=zone)
        elif offset.strip() not in ("", "UTC"):
            written = dt.datetime.fromisoformat(written.isoformat() + offset)
        if written.tzinfo is not None:
            written = written.astimezone(dt.UTC).replace(tzinfo=None)
        expected.append(written)
    con = duckdb.connect()
    assert [r["occurred_at"] for r in accepted(con, load_file(con, "transactions", path))] == expected


def test_custom_date_format(con, tmp_path) -> None:
    path = write(tmp_path, "t.csv", "customer_id,occurred_at\nc1,31/01/2024 08:30\n")
    rows = accepted(con, load_file(con, "transactions", path, context=LoadContext(date_format="%d/%m/%Y %H:%M")))
    assert rows[0]["occurred_at"] == dt.datetime(2024, 1, 31, 8, 30)


def test_mixed_currencies_stop_the_load_unless_an_fx_table_is_given(con, tmp_path) -> None:
    path = write(
        tmp_path,
        "t.csv",
        "customer_id,occurred_at,amount,currency\nc1,2024-01-01,10,USD\nc2,2024-01-01,10,EUR\nc3,2024-01-01,5,GBP\n",
    )
    with pytest.raises(
        ValidationError, match=r"mixes EUR \(1 rows\), GBP \(1 rows\), USD \(1 rows\); kvar adds amounts"
    ):
        load_file(con, "transactions", path)
    result = load_file(
        con, "transactions", path, context=LoadContext(fx_rates={"USD": 1.0, "EUR": 1.1}, base_currency="USD")
    )
    rows = accepted(con, result)
    assert [(r["amount"], r["amount_original"], r["currency"], r["currency_original"]) for r in rows] == [
        (10.0, 10.0, "USD", "USD"),
        (pytest.approx(11.0), 10.0, "USD", "EUR"),
    ]
    assert rejects(con, result)[0][3] == "no FX rate for this currency in the FX table"


def test_a_workspace_keeps_one_currency_across_its_loads(tmp_path) -> None:
    header = "customer_id,occurred_at,amount,currency\n"
    workspace = Workspace.create(tmp_path / "w.duckdb")
    workspace.load("transactions", write(tmp_path, "sek.csv", header + "c1,2024-01-01,10,SEK\n"))
    nok = write(tmp_path, "nok.csv", header + "c2,2024-01-02,100,NOK\n")
    with pytest.raises(
        ValidationError, match=r"nok.csv with the rows already in the workspace: .* NOK \(1 rows\), SEK"
    ):
        workspace.load("transactions", nok)
    assert workspace.count("transactions") == 1  # nothing of nok.csv was loaded
    converted = workspace.load("transactions", nok, context=LoadContext(fx_rates={"NOK": 0.98}, base_currency="SEK"))
    assert converted.rows_loaded == 1
    assert workspace.connection.execute("SELECT DISTINCT currency FROM transactions").fetchall() == [("SEK",)]


def test_subscription_rules(con, tmp_path) -> None:
    path = write(
        tmp_path,
        "s.csv",
        "subscription_id,customer_id,started_at,ended_at,mrr\ns1,c1,2024-01-01,,10\ns2,c2,2024-02-01,2024-01-01,10\ns3,c3,2024-01-01,,-5\n",
    )
    result = load_file(con, "subscriptions", path)
    assert [(row, column) for row, column, *_ in rejects(con, result)] == [(3, "ended_at"), (4, "mrr")]
    assert accepted(con, result)[0]["ended_at"] is None


def test_feedback_score_ranges(con, tmp_path) -> None:
    path = write(
        tmp_path,
        "f.csv",
        "customer_id,occurred_at,kind,score\nc1,2024-01-01,nps,10\nc1,2024-01-01,nps,11\nc1,2024-01-01,csat,0\nc1,2024-01-01,poll,3\n",
    )
    result = load_file(con, "feedback", path)
    assert [reason for *_, reason in rejects(con, result)] == [
        "nps score outside 0-10",
        "csat score outside 1-5",
        "unknown kind: expected one of csat, exit, nps, review",
    ]


def test_mapping_errors_name_the_columns(con, tmp_path) -> None:
    path = write(tmp_path, "t.csv", "who,when\nc1,2024-01-01\n")
    with pytest.raises(MappingError, match="needs column.*customer_id.*found who, when.*--map customer_id="):
        load_file(con, "transactions", path)
    with pytest.raises(MappingError, match="no column 'nope'"):
        load_file(con, "transactions", path, {"customer_id": "nope"})
    result = load_file(con, "transactions", path, {"customer_id": "who", "occurred_at": "when"})
    assert result.rows_loaded == 1


def test_unreadable_files(con, tmp_path) -> None:
    with pytest.raises(FileFormatError, match="no such file"):
        load_file(con, "transactions", tmp_path / "missing.csv")
    with pytest.raises(FileFormatError, match="empty"):
        load_file(con, "transactions", write(tmp_path, "empty.csv", ""))
    with pytest.raises(ValidationError, match="all 2 rows were rejected"):
        load_file(con, "transactions", write(tmp_path, "bad.csv", "customer_id,occurred_at\nc1,never\nc2,later\n"))


def test_malformed_csv_lines_are_rejected_with_their_line(con, tmp_path) -> None:
    result = load_file(con, "transactions", write(tmp_path, "t.csv", UNEVEN_LINES))
    assert [(r["customer_id"], r["product"]) for r in accepted(con, result)] == [
        ("c1", "book"),
        ("c3", None),
        ("c4", "pen"),
    ]
    assert con.execute(f'SELECT row, reason, raw FROM "{result.rejects_table}"').fetchall() == [
        (3, "malformed line: more fields than the header's 4 columns", 'c2;2024-01-02;2;"a;b";extra;fields')
    ]


@pytest.mark.parametrize(
    ("text", "kept", "rejected"),
    [
        pytest.param("customer_id,occurred_at\nc1,2024-01-01\nc2,2024-01-02\n", [("c1", 2), ("c2", 3)], [], id="clean"),
        pytest.param("c1,2024-01-01\nc2,2024-01-02", [("c1", 1), ("c2", 2)], [], id="no header, no last break"),
        pytest.param(
            "customer_id,occurred_at\nc1,2024-01-01\nc2,never\nc3,2024-01-03\n",
            [("c1", 2), ("c3", 4)],
            [3],
            id="a reject",
        ),
        pytest.param(
            "customer_id,occurred_at\nc1,2024-01-01\nc2,2024-01-02,extra\nc3,2024-01-03\n",
            [("c1", 2), ("c3", 4)],
            [3],
            id="too many fields",
        ),
        pytest.param(
            'customer_id,occurred_at,note\nc1,2024-01-01,"two\nlines"\nc2,2024-01-02,x\n',
            [("c1", 2), ("c2", 3)],
            [],
            id="a quoted line break counts as one line",
        ),
    ],
)
def test_rows_carry_their_line_numbers_however_the_file_is_read(con, tmp_path, text, kept, rejected) -> None:
    """A clean file is typed where it lies and numbered by position; a file with a reject, a malformed line
    or a record over two lines is read again with its line numbers: the numbers are the same either way."""
    headerless = {"customer_id": "column1", "occurred_at": "column2"} if text.startswith("c1") else None
    result = load_file(con, "transactions", write(tmp_path, "t.csv", text), headerless)
    assert sorted((r["customer_id"], r["_row"]) for r in accepted(con, result)) == kept
    assert sorted({row for row, *_ in rejects(con, result)}) == rejected


def test_parquet_and_product_mapping_on_real_online_retail_dirt(con, data_dir, tmp_path) -> None:
    mapping = {"amount": "Quantity*UnitPrice", "occurred_at": "InvoiceDate"}
    result = load_file(con, "transactions", data_dir / "online_retail_head.csv", mapping)
    source = f"read_csv('{data_dir / 'online_retail_head.csv'}')"
    (missing,) = con.execute(f"SELECT count(*) FROM {source} WHERE CustomerID IS NULL").fetchall()[0]
    # InvoiceNo is the order; a line repeated with the same values in every column is a duplicate.
    (repeated,) = con.execute(
        f"SELECT count(*) - count(DISTINCT (InvoiceNo, CustomerID, InvoiceDate, StockCode, Quantity, Quantity * UnitPrice)) "
        f"FROM {source} WHERE CustomerID IS NOT NULL"
    ).fetchall()[0]
    assert result.rows_read == 3000 and missing > 0 and repeated > 0
    assert result.rows_rejected == missing + repeated
    assert dict((c, n) for c, _, n in result.reasons) == {"customer_id": missing, "transaction_id": repeated}
    (cancellations,) = con.execute(f'SELECT count(*) FROM "{result.accepted_table}" WHERE amount < 0').fetchall()[0]
    assert cancellations > 0  # returns are kept as negative amounts
    parquet = tmp_path / "retail.parquet"
    con.execute(
        f"COPY (SELECT * FROM read_csv('{data_dir / 'online_retail_head.csv'}', all_varchar=true)) TO '{parquet}'"
    ).fetchall()
    again = load_file(con, "transactions", parquet, mapping)
    assert (again.rows_loaded, again.rows_rejected) == (result.rows_loaded, result.rows_rejected)
    assert (
        again.first_rejects[0][1] == result.first_rejects[0][1] - 1
    )  # Parquet rows count from 1, CSV lines from the header


def test_parquet_columns_of_their_own_types_read_as_their_text_would(con, tmp_path) -> None:
    """Numbers and times a Parquet file types itself are read as they are (no text round trip), with the
    same values, rules and rejects as the same file written as text; naive times are the load's zone."""
    csv = write(
        tmp_path,
        "orders.csv",
        "transaction_id,customer_id,occurred_at,amount,quantity\n"
        "t1,c1,2024-03-31 01:30:00,10.5,1\n"
        "t2,c2,2024-03-31 03:30:00,-4,2\n"
        "t2,c2,2024-03-31 03:30:00,-4,2\n"  # a duplicate order
        "t3,,2024-04-01 00:00:00,7,\n"  # no customer
        "t4,c4,2024-04-02 12:00:00,,3\n",
    )
    parquet = tmp_path / "orders.parquet"
    con.execute(
        f"COPY (SELECT transaction_id, customer_id, CAST(occurred_at AS TIMESTAMP) AS occurred_at, "
        f"CAST(amount AS DECIMAL(9, 2)) AS amount, CAST(quantity AS INTEGER) AS quantity "
        f"FROM read_csv('{csv}')) TO '{parquet}'"
    ).fetchall()
    assert con.execute(f"SELECT typeof(occurred_at), typeof(amount) FROM '{parquet}' LIMIT 1").fetchall() == [
        ("TIMESTAMP", "DECIMAL(9,2)")
    ]
    stockholm = LoadContext(timezone="Europe/Stockholm")
    text, native = (
        load_file(con, "transactions", csv, context=stockholm),
        load_file(con, "transactions", parquet, context=stockholm),
    )
    rows = {name: accepted(con, result) for name, result in (("text", text), ("native", native))}
    for row in rows["text"]:
        row["_row"] -= 1  # CSV lines count the header
    assert rows["native"] == rows["text"]
    assert [row["occurred_at"] for row in rows["native"][:2]] == [
        dt.datetime(2024, 3, 31, 0, 30),  # CET, UTC+1
        dt.datetime(2024, 3, 31, 1, 30),  # after the change to CEST, UTC+2
    ]
    assert (
        [(row - 1, column, reason.replace("row 3", "row 2")) for row, column, _, reason in rejects(con, text)]
        == [(row, column, reason) for row, column, _, reason in rejects(con, native)]
        == [
            (3, "transaction_id", "duplicate line (the same values in every column): first seen at row 2"),
            (4, "customer_id", "missing value: customer_id is required"),
        ]
    )
    (raw,) = con.execute(f"SELECT raw FROM \"{native.rejects_table}\" WHERE column_name = 'customer_id'").fetchall()[0]
    assert json.loads(raw)["amount"] == 7


def test_a_row_breaking_several_rules_lists_them_in_one_order_everywhere(con, tmp_path) -> None:
    """Rejects of one row come by column, then reason (two on one column included), in the summary and the
    CSV export, whatever order the engine found them in."""
    path = write(
        tmp_path,
        "subs.csv",
        "subscription_id,customer_id,started_at,ended_at,mrr,quantity\n"
        "s1,,2024-02-01,2024-01-01,-5,-1\n"
        '"s2","c""2\x07",2024-01-01,,10,1\n'
        "s3,c3,2024-01-01,,10,1\n",
    )
    result = load_file(con, "subscriptions", path)
    expected = [
        (2, "customer_id", "missing value: customer_id is required"),
        (2, "ended_at", "ended_at before started_at"),
        (2, "mrr", "expected mrr >= 0"),
        (2, "quantity", "expected quantity >= 0"),
        *sorted((3, "customer_id", why) for why in (reasons.CONTROL_IN_ID, reasons.QUOTE_IN_ID)),
    ]
    assert [(row, column, why) for _, row, column, _, why in result.first_rejects] == expected[:5]
    exported = tmp_path / "rejects.csv"
    export_rejects(con, [result.rejects_table], exported)
    with exported.open(newline="") as handle:
        listed = [(int(r["row"]), r["column_name"], r["reason"]) for r in csv.DictReader(handle)]
    assert listed == expected


def test_workspace_loads_are_idempotent_and_keep_rejects(tmp_path) -> None:
    customers = write(tmp_path, "customers.csv", "customer_id,channel\nc1,ads\nc2,organic\n")
    events = write(tmp_path, "events.csv", "customer_id,occurred_at,event\nc1,2024-01-01,login\nc9,2024-01-01,login\n")
    orders = write(tmp_path, "orders.csv", "transaction_id,customer_id,occurred_at,amount\nt1,c1,2024-01-01,5\n")
    with Workspace.create(tmp_path / "ws.duckdb") as space:
        space.load("customers", customers)
        first = space.load("events", events)
        assert (first.rows_loaded, first.rows_rejected) == (1, 1)
        assert first.first_rejects[0][4] == "unknown customer: not in the customers table"
        assert space.load("events", events).skipped
        assert space.tables()["events"] == 1
        space.load("transactions", orders)
        renamed = write(
            tmp_path,
            "orders2.csv",
            "transaction_id,customer_id,occurred_at,amount\nt1,c1,2024-01-01,5\nt2,c2,2024-01-02,6\n",
        )
        second = space.load("transactions", renamed)
        assert (second.rows_loaded, second.rows_rejected) == (1, 1)
        assert space.count("transactions") == 2
        assert space.rejects().count("*").fetchall()[0][0] == 2
        assert {"source_file", "source_row"} <= set(space.columns("transactions"))
    with Workspace.open(tmp_path / "ws.duckdb") as space:
        assert space.tables() == {"customers": 2, "transactions": 2, "events": 1}
    with pytest.raises(WorkspaceError, match="kvar init"):
        Workspace.open(tmp_path / "nothing.duckdb")


def test_content_loaded_before_is_skipped_by_name_before_validation_and_by_digest_after_it(
    tmp_path, monkeypatch
) -> None:
    """The digest is computed while a new file is validated; a file loaded again under its name is settled
    by the digest before any validation, and the same content under another name (every row of which the
    rules reject as already loaded) is skipped all the same. The digest recorded is the file's."""
    import hashlib

    import kvar.data.workspace as workspace

    text = "transaction_id,customer_id,occurred_at,amount\nt1,c1,2024-01-01,5\nt2,c2,2024-01-02,6\n"
    orders = write(tmp_path, "orders.csv", text)
    copy = write(tmp_path, "copy-of-orders.csv", text)
    with Workspace.create(tmp_path / "ws.duckdb") as space:
        assert space.load("transactions", orders).rows_loaded == 2
        recorded = space.connection.execute("SELECT sha256 FROM loads").fetchall()
        assert recorded == [(hashlib.sha256(text.encode()).hexdigest(),)]
        assert space.load("transactions", copy).skipped
        with monkeypatch.context() as patched:
            patched.setattr(workspace, "load_file", lambda *args: pytest.fail("validated a file loaded before"))
            assert space.load("transactions", orders).skipped
        assert space.count("transactions") == 2 and space.connection.execute(
            "SELECT count(*) FROM loads"
        ).fetchone() == (1,)


#: Characters that make an identifier interesting: plain ones (some ``url_encode`` keeps, some it encodes),
#: spaces DuckDB's trim removes (Unicode Zs), a tab it keeps, control characters, the replacement
#: character, a quote, a comma, a letter beyond ASCII.
_ID_CHARACTERS = 'aZ09-_.~!# \u00a0\u3000\t\x01\x1f\x7f\ufffd",é'


def _zs_trimmed(text: str) -> str:
    """``text`` without the Unicode space separators (category Zs) at either end, as DuckDB's trim does."""
    spaces = "".join({c for c in text if unicodedata.category(c) == "Zs"})
    return text.strip(spaces) if spaces else text


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=_ID_CHARACTERS + "!~1", max_size=5))
def test_the_trimmed_text_of_a_value_is_what_trimming_gives(text) -> None:
    """Numbers and times are read from their trimmed text (NULL when empty); the shortcut that skips the
    trim for ASCII text with no space at either end gives what trimming every value would."""
    import duckdb

    from kvar.data.validation import _text

    (read,) = duckdb.sql(f"SELECT {_text('value')} FROM (SELECT $text AS value)", params={"text": text}).fetchall()[0]
    assert read == (_zs_trimmed(text) or None)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_ID_CHARACTERS + "\x00/:%+", max_size=5))
def test_an_identifier_is_plain_exactly_when_its_pattern_says(text) -> None:
    """The shortcut through ``url_encode`` judges an identifier plain exactly as the pattern alone does:
    printable ASCII without a double quote, nothing to trim at either end."""
    import re

    import duckdb

    from kvar.data.validation import _PLAIN_ID, _plain_id_sql

    (plain,) = duckdb.sql(f"SELECT {_plain_id_sql('$text')}", params={"text": text}).fetchall()[0]
    assert plain == (re.fullmatch(_PLAIN_ID, text) is not None)


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.text(alphabet=_ID_CHARACTERS, max_size=6), min_size=1, max_size=10))
def test_identifiers_are_trimmed_and_judged_as_the_rules_say(tmp_path_factory, ids) -> None:
    """Each identifier is kept trimmed, or rejected as missing, with a control character or with a quote,
    exactly as a plain Python reading of the rules says (the one-test shortcut for plain ids included)."""
    import duckdb

    # more than 16 control bytes at its start make the file binary, not text (kvar.data.text_files)
    assume(sum(value.count(c) for value in ids for c in "\x01\x1f\x7f") <= 16)
    ids = [*ids, "c0"]  # one row that loads: a file whose every row is rejected stops the load
    path = tmp_path_factory.mktemp("ids") / "t.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "occurred_at"])
        writer.writerows([value, "2024-01-01"] for value in ids)
    expected_kept, expected_rejects = [], []
    for line, value in enumerate(ids, start=2):
        trimmed = _zs_trimmed(value)
        if not trimmed:
            expected_rejects.append((line, reasons.reason(reasons.MISSING, column="customer_id")))
            continue
        broken = []
        if any(c in trimmed for c in "\t\x01\x1f\x7f\ufffd"):
            broken.append(reasons.CONTROL_IN_ID)
        if '"' in trimmed:
            broken.append(reasons.QUOTE_IN_ID)
        expected_rejects += [(line, why) for why in sorted(broken)]
        if not broken:
            expected_kept.append(trimmed)
    con = duckdb.connect()
    result = load_file(con, "transactions", path)
    assert [r["customer_id"] for r in accepted(con, result)] == expected_kept
    assert sorted((row, why) for row, column, _, why in rejects(con, result) if column == "customer_id") == sorted(
        expected_rejects
    )


_LINES = st.sampled_from(
    [
        "k1;2024-01-05;12.50",
        'k2;2024-01-05;"12;5"',
        '"k\n3";2024-01-05;1',
        "k4;2024-01-05;1;x",
        'k5;2024-01-05;1;"a;b";c',
        "k6;2024-01-05",
        "",
        " k7 ;2024-01-05; 7 ",
        "k8;x;1",
        "kö;2024-01-05;1",
        'k9;2024-01-05;1"2',
        '"k10";"2024-01-05";"3"',
    ]
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_LINES, min_size=1, max_size=8), last_break=st.booleans())
def test_a_file_read_in_place_gives_what_reading_it_with_line_numbers_gives(
    lines, last_break, tmp_path_factory
) -> None:
    """A delimited UTF-8 file read where it lies (rows numbered by position) and the same file read
    into a table with its line numbers give the same rows, rejects (line, value, reason and raw text) and
    counts, whatever its quoted breaks, empty, long and short lines."""
    import duckdb

    from kvar.data import loading, reading

    text = "kund;datum;belopp\n" + "\n".join(lines) + ("\n" if last_break else "")
    path = tmp_path_factory.mktemp("ways") / "export.csv"
    path.write_text(text)

    def outcome(in_place: bool) -> object:
        read = reading.read_raw if in_place else (lambda *args, **kw: reading.read_raw(*args, **kw, in_place=False))
        with pytest.MonkeyPatch.context() as patch, duckdb.connect() as con:
            patch.setattr(loading, "read_raw", read)
            try:
                result = load_file(
                    con, "transactions", path, {"customer_id": "kund", "occurred_at": "datum", "amount": "belopp"}
                )
            except (FileFormatError, ValidationError) as error:
                return str(error)
            rows = con.execute(f'SELECT * FROM "{result.accepted_table}" ORDER BY _row').fetchall()
            found = con.execute(f'SELECT * FROM "{result.rejects_table}" ORDER BY row, column_name, reason').fetchall()
            return rows, found, result.rows_read, result.rows_rejected

    assert outcome(in_place=True) == outcome(in_place=False)
