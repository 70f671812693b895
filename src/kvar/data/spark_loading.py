"""Load files into Spark where they lie (a file, a folder, a glob, an ``s3a://`` or ``hdfs://`` URI),
check every rule of ``docs/data-model.md`` and keep the rejects: nothing is copied into DuckDB first.

The rules are not written a second time for Spark. The typing pass of :mod:`kvar.data.validation`
(every one-row rule, the refund sign and the FX conversion) is one SQL query over a batch of rows; it
is generated once on the driver and run inside each Spark task, batch by batch, by an embedded DuckDB
(``mapInArrow``), so each row is typed and checked by exactly the SQL the DuckDB engine uses. The rules
that compare rows (a later duplicate of a key) are Spark joins. Formats (decimal comma, thousands
grouping, day-first dates) are chosen from the first 10,000 rows; a later value they do not read but
another format would stops the load and asks for ``--decimal``, ``--thousands`` or ``--date-format``,
since the whole column might have chosen otherwise.

Row numbers are the DuckDB engine's: a text file's line number (the header is line 1; a quoted value
spanning lines counts as one line here) and a Parquet file's 1-based row index, per file.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import reduce
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from kvar.data import reasons
from kvar.data.contracts import contract_for
from kvar.data.loading import FileLoad, export_rejects
from kvar.data.locations import check_folder_keys, folder_values, local_files
from kvar.data.mapping import resolve
from kvar.data.reading import DELIMITERS, RawTable, engine_message, header_names, sniff
from kvar.data.reasons import FIRST_SEEN, reason, shown_reason
from kvar.data.sql import literal
from kvar.data.text_files import TextFile, decoded_lines, file_kind, inspect_text
from kvar.data.validation import (
    SAMPLE_ROWS,
    LoadContext,
    check_one_currency,
    duplicate_reason,
    prepare,
    sample_screens,
    typing_select,
)
from kvar.errors import FileFormatError, ValidationError
from kvar.i18n import tr
from kvar.i18n.formatting import number

_BATCH_ROWS = 200_000  # rows DuckDB checks per query inside a task
_names = (f"_kvar_spark_{index}" for index in itertools.count())
_MALFORMED = "_kvar_malformed"
_JAVA_CHARSETS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1252": "windows-1252", "latin-1": "ISO-8859-1"}
_JAVA_CHARSETS |= {"iso-8859-1": "ISO-8859-1", "utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE", "utf-16": "UTF-16"}
#: The charsets Spark 4 reads text in by default; for another (Windows-1252), the session's
#: ``spark.sql.legacy.javaCharsets`` is set, for the lazy reads of the load's rows and of later commands.
_SPARK_CHARSETS = {"us-ascii", "iso-8859-1", "utf-8", "utf-16be", "utf-16le", "utf-16", "utf-32"}


def spark_location(path: Path | str) -> str:
    """The location as Spark reads it. A command-line ``Path`` collapses the ``//`` of a URI
    (``s3a://bucket/x`` becomes ``s3a:/bucket/x``); it is put back."""
    text = str(path)
    scheme, sep, rest = text.partition(":/")
    if sep and scheme.isalnum() and len(scheme) > 1 and not rest.startswith("/") and scheme != "file":
        return f"{scheme}://{rest}"
    return text


def _local_files(location: str) -> list[Path]:
    """The local files a location names (:func:`kvar.data.locations.local_files`); none for a URI."""
    return [] if "://" in location else local_files(location.removeprefix("file:"))


def _is_parquet(spark: Any, location: str, files: list[Path]) -> bool:
    """Whether the files are Parquet: by the local files' content, else by the ``PAR1`` that every
    Parquet file begins with (a remote folder's name need not say).

    Raises :class:`~kvar.errors.FileFormatError` when local files mix Parquet and text: Spark reads a set
    of files in one format."""
    if files:
        kinds = {file: file_kind(file) for file in files}
        parquet = [file for file, kind in kinds.items() if kind == "parquet"]
        text = [file for file, kind in kinds.items() if kind != "parquet"]
        if parquet and text:
            raise FileFormatError(
                tr(
                    "{path}: holds Parquet files ({parquet}) and text files ({text}); --engine spark reads one kind at a time: give each its own folder or glob"
                ).format(path=location, parquet=parquet[0].name, text=text[0].name)
            )
        return bool(parquet)
    first = spark.read.text(location).limit(1).collect()
    return bool(first) and first[0].value.startswith("PAR1")


def _read(spark: Any, location: str, encoding: str | None) -> tuple[Any, str, Any]:
    """The raw rows (text columns as text, Parquet columns in the file's types, the text columns of
    their folder names, ``_file``, ``_row``, and for text files ``_kvar_malformed``: the line when its
    fields are more than the header's), how the text was decoded, and the column of how many columns
    each row's file has.

    Local files are read as the list :func:`kvar.data.locations.local_files` gives, as the DuckDB
    engine reads them, with the columns of their folder names (:func:`kvar.data.locations.folder_values`);
    text files in groups of one encoding, delimiter and header (:func:`_text_groups`), their columns
    matched by name. A URI is read by Spark's own listing of it, its ``key=value`` folders read as text."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
    from pyspark.sql.utils import AnalysisException

    files = _local_files(location)
    if "://" not in location and not files:
        raise FileFormatError(tr("{path}: no such file").format(path=location))
    # a file given by name keeps its name as given (as with DuckDB); files of a folder or glob their paths
    alone = len(files) == 1 and Path(location).is_file()
    named = F.lit(location) if alone else _local_path(F.col("_metadata.file_path"))
    try:
        if _is_parquet(spark, location, files):
            # local paths made absolute: a Spark Connect server or a cluster resolves a relative one in its own folder
            where = [str(file.absolute()) for file in files] if files else [location]
            parquet = _text_partitions(spark, lambda: spark.read.parquet(*where))
            numbered = parquet.select(  # the reader knows each row's index: 1-based
                "*", named.alias("_file"), (F.col("_metadata.row_index") + 1).cast("bigint").alias("_row")
            )
            return _with_folder_columns(spark, numbered, location, files), "", F.lit(0)
        groups = _text_groups(spark, location, files, encoding)
        reads = [_read_text_group(spark, group, named) for group in groups]
    except AnalysisException as error:
        raise FileFormatError(
            tr("{path}: not readable by Spark ({reason})").format(path=location, reason=engine_message(error))
        ) from error
    raw = reduce(lambda left, right: left.unionByName(right, allowMissingColumns=True), reads)
    decoded = ", ".join(dict.fromkeys(group.decoded for group in groups))
    widths = (
        F.lit(len(groups[0].names))
        if len(groups) == 1
        else F.element_at(
            F.create_map(
                *(F.lit(value) for group in groups for path in group.paths for value in (path, len(group.names)))
            ),
            F.col("_file"),
        )
    )
    return _with_folder_columns(spark, _numbered(raw, 2), location, files), decoded, widths


@dataclass(frozen=True)
class _TextGroup:
    """Text files Spark reads together: one encoding (Spark's name, and as the load summary says it), one
    delimiter and one header (its fields as written, and the column names kvar makes of them)."""

    paths: tuple[str, ...]
    charset: str
    decoded: str
    delimiter: str
    fields: tuple[str, ...]
    names: tuple[str, ...]


def _text_groups(spark: Any, location: str, files: list[Path], encoding: str | None) -> list[_TextGroup]:
    """The text files at ``location`` grouped by encoding, delimiter and header, each decided from the
    file's first lines as the DuckDB engine decides them, in the order of their first files. A URI is one
    group, decided from its first line as Spark reads it."""
    firsts: dict[str, list[str]] = {}  # path -> first lines
    sources: dict[str, tuple[str, str]] = {}  # path -> (charset, decoded)
    if not files:
        charset, decoded = _charset(None, encoding)
        _allow_charset(spark, charset)
        firsts[location] = [
            row.value for row in spark.read.option("encoding", charset).text(location).limit(1).collect()
        ]
        sources[location] = (charset, decoded)
    for file in files:
        source = inspect_text(file, encoding)
        # absolute: a Spark Connect server or a cluster resolves a relative path in its own folder
        path = str(file.absolute())
        firsts[path], sources[path] = decoded_lines(source, 5), _charset(source, encoding)
    groups: dict[tuple[str, str, str, tuple[str, ...]], list[str]] = {}
    for path, lines in firsts.items():
        if not lines:
            raise FileFormatError(tr("{path}: no lines of text").format(path=path))
        header = lines[0].lstrip("\ufeff")
        delimiter, has_header = sniff(lines)
        if not has_header or not DELIMITERS.search(header):
            raise FileFormatError(
                tr(
                    "{path}: --engine spark reads delimited text with a header line (CSV) and Parquet; this file has no header line or is aligned by spaces. Load it with the DuckDB engine (the default), or save it as CSV with a header"
                ).format(path=path)
            )
        fields = tuple(next(csv.reader([header], delimiter=delimiter)))
        groups.setdefault((*sources[path], delimiter, fields), []).append(path)
    return [
        _TextGroup(tuple(paths), charset, decoded, delimiter, fields, header_names(Path(paths[0]), list(fields)))
        for (charset, decoded, delimiter, fields), paths in groups.items()
    ]


def _read_text_group(spark: Any, group: _TextGroup, named: Any) -> Any:
    """The rows of ``group``'s files: the header's columns (by kvar's names), ``_kvar_malformed`` (the line
    when its fields are more than the header's; a shorter one is padded, as on DuckDB) and ``_file``
    (``named``)."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
    from pyspark.sql.types import StringType, StructField, StructType

    _allow_charset(spark, group.charset)
    # the header's own fields, which Spark checks each file's header against, renamed after the read
    schema = StructType([StructField(field, StringType()) for field in (*group.fields, _MALFORMED)])
    reader = (
        spark.read.schema(schema)
        .option("header", True)
        .option("enforceSchema", False)
        .option("sep", group.delimiter)
        .option("encoding", group.charset)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _MALFORMED)
    )
    read = _text_partitions(spark, lambda: reader.csv(list(group.paths))).withColumnsRenamed(
        {field: name for field, name in zip(group.fields, group.names, strict=True) if field != name}
    )
    too_many = _fields(F.col(_MALFORMED), group.delimiter) > len(group.names)
    return read.withColumn(_MALFORMED, F.when(too_many, F.col(_MALFORMED))).withColumn("_file", named)


def _allow_charset(spark: Any, charset: str) -> None:
    """Let Spark 4 read text in ``charset`` when it is not one of its own (:data:`_SPARK_CHARSETS`)."""
    if charset.lower() not in _SPARK_CHARSETS:
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")


def _text_partitions(spark: Any, read: Callable[[], Any]) -> Any:
    """``read()`` with Spark's partition discovery (of a URI's ``key=value`` folders) giving text columns,
    as kvar gives them for local files; the session's setting is put back."""
    setting = "spark.sql.sources.partitionColumnTypeInference.enabled"
    before = spark.conf.get(setting)
    spark.conf.set(setting, "false")
    try:
        return read()
    finally:
        spark.conf.set(setting, before)


def _with_folder_columns(spark: Any, numbered: Any, location: str, files: list[Path]) -> Any:
    """``numbered`` with the text columns of the local files' ``key=value`` folder names
    (:func:`kvar.data.locations.folder_values`) after the files' own, joined by file."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
    from pyspark.sql.types import StringType, StructField, StructType

    values = folder_values(location, files)
    keys = list(values[0]) if values else []
    if not keys:
        return numbered
    own = [name for name in numbered.columns if name not in ("_file", "_row", _MALFORMED)]
    check_folder_keys(own, keys, location)
    schema = StructType([StructField(name, StringType()) for name in ("_file", *keys)])
    rows = [(str(file.absolute()), *found.values()) for file, found in zip(files, values, strict=True)]
    joined = numbered.join(F.broadcast(spark.createDataFrame(rows, schema)), "_file", "left")
    rest = [name for name in numbered.columns if name not in own]
    return joined.select(*(F.col(f"`{name}`") for name in (*own, *keys, *rest)))


def _local_path(uri: Any) -> Any:
    """A ``file:`` URI as the plain path it names (Spark writes a local path %-escaped, as a URI, and a
    ``+`` in it is a plus); other URIs as they are."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    escaped = F.regexp_replace(uri, "^file:(//)?", "")
    plain = F.call_function("url_decode", F.regexp_replace(escaped, "\\+", "%2B"))
    return F.when(uri.startswith("file:"), plain).otherwise(uri)


def _charset(source: TextFile | None, encoding: str | None) -> tuple[str, str]:
    """Spark's name of a text's encoding (given, or as the DuckDB engine detects it in a local file's
    ``source``; UTF-8 for a URI) and its description in the load summary."""
    if source is not None:
        codec = "utf-8" if source.compressed else source.encoding.lower()
        return _JAVA_CHARSETS.get(codec, codec), source.describe()
    codec = (encoding or "utf-8").lower()
    return _JAVA_CHARSETS.get(codec, codec), codec.upper()


def _numbered(raw: Any, first_row: int) -> Any:
    """``raw`` (text rows with their ``_file``) with ``_row``: the row's position in its file, counted from
    ``first_row``.

    Within a task's partition a file's rows come in file order and the partitions of one file in
    offset order, so a row's number is its index in the partition plus the rows of the file in the
    earlier partitions (a small table joined back, not a sort of the rows)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812

    ided = raw.select("*", F.spark_partition_id().alias("_part"), F.monotonically_increasing_id().alias("_id"))
    pieces = ided.groupBy("_file", "_part").agg(F.min("_id").alias("_first"), F.count("*").alias("_rows"))
    earlier = Window.partitionBy("_file").orderBy("_part").rowsBetween(Window.unboundedPreceding, -1)
    pieces = pieces.select(
        "_file", "_part", "_first", F.coalesce(F.sum("_rows").over(earlier), F.lit(0)).alias("_before")
    )
    row = F.col("_id") - F.col("_first") + F.col("_before") + F.lit(first_row)
    return ided.join(F.broadcast(pieces), ["_file", "_part"]).select(
        *(F.col(f"`{name}`") for name in raw.columns), row.cast("bigint").alias("_row")
    )


def _checker(
    sql: str, timezone: str, raw_table: str, schema: pa.Schema
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function each Spark task runs over its rows: ``sql`` on an embedded DuckDB, a batch at a time."""

    def check(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        con = duckdb.connect(config={"threads": 1})
        con.execute(f"SET TimeZone = {literal(timezone)}")
        pending: list[pa.RecordBatch] = []

        def run() -> Iterator[pa.RecordBatch]:
            con.register(raw_table, pa.Table.from_batches(pending))
            yield from con.sql(sql).to_arrow_table().cast(schema).to_batches()
            con.unregister(raw_table)
            pending.clear()

        rows = 0
        for batch in batches:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= _BATCH_ROWS:
                yield from run()
                rows = 0
        if pending:
            yield from run()
        con.close()

    return check


def load_into_spark(
    spark: Any,
    table: str,
    path: Path | str,
    mapping: Mapping[str, str] | None = None,
    context: LoadContext | None = None,
) -> FileLoad:
    """Read and check the file(s) at ``path`` as ``table`` in ``spark``: the accepted rows and the rejects
    (``table_name, file, row, column_name, value, reason, raw``) are temporary views named in the result.

    Raises like :func:`kvar.data.loading.load_file`: nothing is loaded when the files as a whole cannot be.
    """
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.pandas.types import from_arrow_schema

    location = spark_location(path)
    contract = contract_for(table)
    context = context or LoadContext()
    raw, decoded, widths = _read(spark, location, context.encoding)
    columns = tuple(name for name in raw.columns if name not in ("_file", "_row", _MALFORMED))
    resolved = resolve(contract, columns, mapping or {}, Path(location).name)
    text = _MALFORMED in raw.columns  # a malformed line goes through the check too, and is set apart after it
    carried = ("_file", _MALFORMED) if text else ("_file",)

    name = next(_names)
    sample_con = duckdb.connect()
    well_formed_raw = raw.where(F.col(_MALFORMED).isNull()) if text else raw
    first_rows = well_formed_raw.where(F.col("_row") <= SAMPLE_ROWS + 1).orderBy("_file", "_row").limit(SAMPLE_ROWS)
    sample = first_rows.toArrow()  # read by name below too
    sample_con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM sample').fetchall()
    types = dict(sample_con.execute(f'SELECT column_name, column_type FROM (DESCRIBE "{name}")').fetchall())
    sampled = RawTable(Path(location), name, columns, len(sample), (), types=types)
    check, reading = prepare(sample_con, sampled, contract, resolved, context)
    _require_one_reading(check, reading, location)
    screens = sample_screens(check, reading)
    sql = typing_select(check, reading, screens, carried=carried, listed=True)
    schema = sample_con.cursor().sql(f"{sql} LIMIT 0").to_arrow_table().schema  # a fresh result
    sample_con.close()

    checked = raw.mapInArrow(
        _checker(sql, context.timezone, name, schema), from_arrow_schema(schema, prefer_timestamp_ntz=True)
    ).persist()
    flags = [f"_unusual.{column}" for column in screens]
    well_formed = F.col(_MALFORMED).isNull() if text else F.lit(True)
    screened = well_formed & _beyond(sample)  # a value of the sample that no format chosen reads is a reject
    totals = checked.agg(
        F.count("*").alias("rows"),
        F.count(F.col(_MALFORMED) if text else F.lit(None)).alias("malformed"),
        *(F.max(F.when(screened, F.col(f"`{flag}`").cast("int"))).alias(flag) for flag in flags),
    ).first()
    unusual = [flag.removeprefix("_unusual.") for flag in flags if totals[flag]]
    if unusual:
        checked.unpersist()
        raise ValidationError(
            tr(
                "{path}: {columns} has values after the first {sample} rows that the format those rows show does not read (Spark chooses formats from them). Nothing was loaded. Pass --decimal, --thousands or --date-format to say how to read it."
            ).format(path=location, columns=", ".join(unusual), sample=number(SAMPLE_ROWS))
        )
    rows = checked.where(well_formed)
    rejects = _listed_rejects(rows, contract.name)
    repeated = _later_duplicates(rows, contract, [column.name for column in check.present])
    repeated = repeated.persist() if repeated is not None else None  # few rows, read by every use below
    accepted = rows.where(~F.col("_bad"))
    if repeated is not None:
        accepted = accepted.join(repeated.select("_file", "_row"), ["_file", "_row"], "left_anti")
        key = contract.row_identity([column.name for column in check.present])[0]
        rejects = rejects.unionByName(_with_raw(repeated, raw, resolved.sources[key].columns[0], contract.name))
    if text:
        rejects = rejects.unionByName(_malformed_rejects(checked.where(~well_formed), contract.name, widths))
    helpers = {"_bad", "_rejects", "_raw_json", _MALFORMED, *flags}
    accepted = accepted.select(*(F.col(f"`{column}`") for column in checked.columns if column not in helpers))
    accepted.createOrReplaceTempView(f"{name}_accepted")
    rejects.persist().createOrReplaceTempView(f"{name}_rejects")  # counted and listed several times
    counts = (int(totals["rows"]) - int(totals["malformed"]), int(totals["malformed"]))
    return _outcome(spark, table, location, name, counts, decoded, reading.formats.notes, context)


def _require_one_reading(check: Any, reading: Any, location: str) -> None:
    """Stop unless every file of the sample (``check.raw``, the set's first rows) reads each of its values
    in its own formats, as the DuckDB engine chooses them per file, as in the formats chosen for the
    set, which Spark reads every file in."""
    con, sample = check.con, check.raw
    files = [file for (file,) in con.execute(f'SELECT DISTINCT _file FROM "{sample.table}" ORDER BY 1').fetchall()]
    if len(files) < 2:
        return
    typed = [column.name for column in check.present if column.kind in ("money", "number", "time")]
    alone = replace(sample, table=f"{sample.table}_file")  # a view of one file's rows at a time
    for file in files:
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{alone.table}" AS SELECT * FROM "{sample.table}" WHERE _file = {literal(file)}'
        ).fetchall()
        own_check, own = prepare(con, alone, check.contract, check.mapping, check.context)
        if (own.formats.numbers, own.formats.dates) == (reading.formats.numbers, reading.formats.dates):
            continue
        in_set = typing_select(replace(check, raw=alone), reading, {}, listed=True)
        in_file = typing_select(own_check, own, {}, listed=True)
        for name in typed:
            differing = con.execute(
                f"SELECT s._row, {own.original(check.mapping.sources[name])} FROM ({in_set}) s JOIN ({in_file}) o "
                f'USING (_row) JOIN "{alone.table}" r USING (_row) WHERE s."{name}" IS DISTINCT FROM o."{name}" '
                "ORDER BY 1 LIMIT 1"
            ).fetchall()
            if differing:
                (row, value) = differing[0]
                raise ValidationError(
                    tr(
                        "{path}: {file} row {row}: {column} {value!r} reads otherwise in the format of that file than in the format of the set's first rows, and Spark reads the files of a set in one format per column. Nothing was loaded. Load the files apart, or with the DuckDB engine."
                    ).format(path=location, file=file, row=row, column=name, value=value)
                )


def _beyond(sample: pa.Table) -> Any:
    """Spark column: the row is not one of ``sample``, the first rows (by file and row) the formats were
    chosen from, whose ``_row`` is at most one past :data:`SAMPLE_ROWS`."""
    from pyspark.sql import functions as F  # noqa: N812

    beyond = F.col("_row") > SAMPLE_ROWS + 1
    if sample.num_rows == SAMPLE_ROWS:  # a full sample: the rows after its last one
        file, row = sample["_file"][-1].as_py(), sample["_row"][-1].as_py()
        beyond |= (F.col("_file") > F.lit(file)) | ((F.col("_file") == F.lit(file)) & (F.col("_row") > F.lit(row)))
    return beyond


def _listed_rejects(checked: Any, table: str) -> Any:
    """One reject per broken one-row rule, as the typing pass listed them."""
    from pyspark.sql import functions as F  # noqa: N812

    return (
        checked.where(F.col("_bad"))
        .select("_file", "_row", F.explode("_rejects").alias("r"), "_raw_json")
        .select(
            F.lit(table).alias("table_name"),
            F.col("_file").alias("file"),
            F.col("_row").alias("row"),
            F.col("r.column_name").alias("column_name"),
            F.col("r.value").alias("value"),
            F.col("r.reason").alias("reason"),
            F.col("_raw_json").alias("raw"),
        )
    )


def _later_duplicates(checked: Any, contract: Any, present: list[str]) -> Any:
    """(_file, _row, column_name, reason) of each later row with the key of an earlier one (files in name
    order, then rows), as :func:`kvar.data.validation._flag_set_rules` finds them; None without a key."""
    from pyspark.sql import functions as F  # noqa: N812

    identity = contract.row_identity(present)
    if not identity:
        return None
    key = identity[0]
    typed = checked.where(F.col(key).isNotNull()).select(*identity, "_file", "_row")
    first = (
        typed.groupBy(*identity)
        .agg(F.count("*").alias("_copies"), F.min(F.struct("_file", "_row")).alias("_first"))
        .where(F.col("_copies") > 1)
    )
    same = reduce(lambda left, right: left & right, [typed[name].eqNullSafe(first[name]) for name in identity])
    later = typed.join(first, same).where(F.struct(typed["_file"], typed["_row"]) > first["_first"])
    values = {"row": first["_first._row"], "file": first["_first._file"]}
    return later.select(
        typed["_file"],
        typed["_row"],
        F.lit(key).alias("column_name"),
        F.when(typed["_file"] == first["_first._file"], _filled(duplicate_reason(identity), values))
        .otherwise(_filled(duplicate_reason(identity, in_other_file=True), values))
        .alias("reason"),
    )


def _filled(pieces: list[str], values: Mapping[str, Any]) -> Any:
    """A reason from :func:`kvar.data.validation.duplicate_reason`'s pieces, its values the columns
    ``values`` names."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    return F.concat(
        *(F.lit(piece) if index % 2 == 0 else values[piece].cast("string") for index, piece in enumerate(pieces))
    )


def _with_raw(found: Any, rows: Any, source: str, table: str) -> Any:
    """Rejects of rows found by a rule over other rows (on the key read from the file's column
    ``source``), with the key's value as the file had it and the raw row as JSON."""
    from pyspark.sql import functions as F  # noqa: N812

    raw_columns = [name for name in rows.columns if name not in ("_file", "_row", _MALFORMED)]
    return found.join(rows, ["_file", "_row"]).select(
        F.lit(table).alias("table_name"),
        F.col("_file").alias("file"),
        F.col("_row").alias("row"),
        "column_name",
        F.col(f"`{source}`").cast("string").alias("value"),
        "reason",
        # an empty value as null, as DuckDB writes the raw row (Spark would leave it out)
        F.to_json(F.struct(*(F.col(f"`{name}`") for name in raw_columns)), {"ignoreNullFields": "false"}).alias("raw"),
    )


def _malformed_rejects(malformed: Any, table: str, widths: Any) -> Any:
    """A line with more fields than its file's header (the column ``widths``: how many): rejected whole,
    with the line as the raw value."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    too_many = reason(reasons.MALFORMED, problem=reason(reasons.TOO_MANY_FIELDS, count="{count}"))
    return malformed.select(
        F.lit(table).alias("table_name"),
        F.col("_file").alias("file"),
        F.col("_row").alias("row"),
        F.lit(None).cast("string").alias("column_name"),
        F.lit(None).cast("string").alias("value"),
        _filled(re.split(r"\{(\w+)\}", too_many), {"count": widths}).alias("reason"),
        F.col(_MALFORMED).alias("raw"),
    )


def _fields(line: Any, delimiter: str) -> Any:
    """How many fields the text ``line`` has between ``delimiter`` s, a quoted one counting once."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    unquoted = F.regexp_replace(line, '"([^"]|"")*"', "")
    return F.size(F.split(unquoted, re.escape(delimiter)))


def _outcome(
    spark: Any,
    table: str,
    location: str,
    name: str,
    totals: tuple[int, int],
    decoded: str,
    notes: tuple[str, ...],
    context: LoadContext,
) -> FileLoad:
    """Counts, the commonest reasons and the first rejects, as :func:`kvar.data.loading.load_file` gives them."""
    from pyspark.sql import functions as F  # noqa: N812

    accepted, rejects = spark.table(f"{name}_accepted"), spark.table(f"{name}_rejects")
    checked_rows, malformed_rows = totals
    rows_read = checked_rows + malformed_rows
    rejected = rejects.select("file", "row").distinct().count()
    commonest = [
        (column or "(line)", why, int(rows))
        for column, why, rows in rejects.groupBy(
            "column_name", F.regexp_replace("reason", FIRST_SEEN, "row N").alias("reason")
        )
        .count()
        .orderBy(F.desc("count"), F.asc_nulls_last("column_name"), "reason")  # as DuckDB orders them
        .collect()
    ]
    if rows_read == 0:
        raise FileFormatError(tr("{path}: no data rows").format(path=location))
    if rejected == rows_read:
        top = "; ".join(
            tr("{column}: {reason} ({rows} rows)").format(column=column, reason=shown_reason(why), rows=number(rows))
            for column, why, rows in commonest[:3]
        )
        raise ValidationError(
            tr("{path}: all {rows_read} rows were rejected ({top})").format(path=location, rows_read=rows_read, top=top)
        )
    if context.fx_rates is None and "currency" in accepted.columns:
        found = accepted.where(F.col("currency").isNotNull()).groupBy("currency").count().collect()
        check_one_currency([(row["currency"], int(row["count"])) for row in found], location, table)
    first = rejects.orderBy("file", "row", F.asc_nulls_last("column_name"), "reason").limit(5).collect()
    return FileLoad(
        table=table,
        file=location,
        sha256="",
        rows_read=rows_read,
        rows_loaded=rows_read - rejected,
        rows_rejected=rejected,
        reasons=tuple(commonest),
        first_rejects=tuple(
            (row["file"], int(row["row"]), row["column_name"], row["value"], row["reason"]) for row in first
        ),
        accepted_table=f"{name}_accepted",
        rejects_table=f"{name}_rejects",
        encoding=decoded,
        read_as=notes,
    )


def export_spark_rejects(spark: Any, views: Sequence[str], path: Path, *, excel: bool = False) -> None:
    """The rejects of Spark's views ``views`` as one CSV at ``path``, exactly as
    :func:`kvar.data.loading.export_rejects` writes them (the rejects are brought to the driver)."""
    con = duckdb.connect()
    try:
        for view in views:
            rejects = spark.table(view).toArrow()  # noqa: F841 - read by name below
            con.execute(f'CREATE TEMP TABLE "{view}" AS SELECT * FROM rejects').fetchall()
        export_rejects(con, views, path, excel=excel)
    finally:
        con.close()
