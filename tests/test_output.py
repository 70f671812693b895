"""The JSON document is written a batch of rows at a time, and is exactly json.dumps of the whole."""

from __future__ import annotations

import datetime as dt
import json
import math

import pyarrow as pa
import pytest

from kvar.cli import output
from kvar.cli.output import jsonable, print_csv, print_json
from kvar.metrics.frames import rows_in


def whole_document(command: str, parameters: dict, rows: list[dict], **extra: object) -> str:
    document = {"command": command, "parameters": jsonable(parameters), "rows": [jsonable(r) for r in rows]}
    return json.dumps({**document, **jsonable(extra)}, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("count", [0, 1, 3, 25])
@pytest.mark.parametrize("extra", [{}, {"loads": [{"file": "försäljning.csv", "rejected": 0}], "notes": ["ø"]}])
def test_streamed_json_is_the_whole_documents_text(count, extra, capsys, monkeypatch) -> None:
    monkeypatch.setattr(output, "_JSON_BATCH_ROWS", 4)  # several batches, and a last one that is short
    rows = [
        {"customer_id": f"kund-{i}", "day": dt.datetime(2024, 1, 1 + i % 28), "value": i / 3, "gap": math.nan}
        for i in range(count)
    ]
    print_json("summary", {"as_of": dt.datetime(2024, 2, 1), "unit": "D"}, iter(rows), **extra)
    written = capsys.readouterr().out
    assert written == whole_document("summary", {"as_of": dt.datetime(2024, 2, 1), "unit": "D"}, rows, **extra)
    assert len(json.loads(written)["rows"]) == count


def test_rows_come_from_arrow_batches_in_order_and_csv_takes_them_as_they_come(capsys) -> None:
    table = pa.table({"customer_id": [f"c{i}" for i in range(10)], "frequency": list(range(10))})
    assert list(rows_in(table, batch_rows=3)) == table.to_pylist()
    print_csv(rows_in(table, batch_rows=3))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "customer_id,frequency" and lines[1:] == [f"c{i},{i}" for i in range(10)]
