"""What the flows decided and what became of it: kvar's own tables in the worker's state database.

The worker's state database (an SQLite file beside the workspace by default, PostgreSQL for several workers) holds
DBOS's tables and, beside them, four of kvar's own, never in the DuckDB workspace:

* ``kvar_holdouts``: each customer's holdout assignment per salt (a flow's name, or the global salt), stored the
  first time the customer is seen, so that a later change of a holdout share never reshuffles anyone already
  assigned (a member stays held out, a treated customer stays treated);
* ``kvar_messages``: every decided message, keyed by its idempotency key ``flow:customer:instant:step``, with its
  decision (``send``, ``held_out``, ``suppressed``, ``capped``), ``scheduled_at`` (UTC) and ``status``:
  ``scheduled`` until it is sent, then ``delivered``, ``bounced``, ``failed``, ``disabled``, ``dead``,
  ``cancelled`` or ``suppressed``. A decision once recorded is never changed: deciding again keeps it;
* ``kvar_runs``: the instant each run decided up to, so that the next run decides from there on;
* ``kvar_flows``: each flow's goal as the latest run read it, for ``kvar flows uplift``.

The messages table is the schedule: a run decides the new occurrences, records them, and sends every recorded
message that is due and still ``scheduled``, whichever run decided it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kvar.errors import WorkspaceError
from kvar.i18n import tr

_METADATA = sa.MetaData()

HOLDOUTS = sa.Table(
    "kvar_holdouts",
    _METADATA,
    sa.Column("salt", sa.String(200), primary_key=True),
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("held_out", sa.Boolean, nullable=False),
    sa.Column("assigned_at", sa.DateTime, nullable=False),
)

MESSAGES = sa.Table(
    "kvar_messages",
    _METADATA,
    sa.Column("key", sa.String(600), primary_key=True),
    sa.Column("flow", sa.String(200), nullable=False, index=True),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("customer_id", sa.String(200), nullable=False, index=True),
    sa.Column("channel", sa.String(200), nullable=False),
    sa.Column("occurrence", sa.String(600), nullable=False),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("scheduled_at", sa.DateTime, nullable=False, index=True),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("deferred", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)

RUNS = sa.Table(
    "kvar_runs",
    _METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
)

FLOWS = sa.Table(
    "kvar_flows",
    _METADATA,
    sa.Column("flow", sa.String(200), primary_key=True),
    sa.Column("goal", sa.String(60), nullable=True),
    sa.Column("goal_seconds", sa.Integer, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

SCHEDULED = "scheduled"
#: A message's columns as decided (the rest is its fate).
DECIDED = ("key", "flow", "step", "customer_id", "channel", "occurrence", "occurred_at", "scheduled_at", "decision")


def state_path(workspace: Path) -> Path:
    """The default state database of a workspace: an SQLite file beside it (``shop.duckdb`` → ``shop.flows.sqlite``)."""
    return workspace.with_suffix(".flows.sqlite")


def state_url(workspace: Path) -> str:
    """The URL of :func:`state_path`."""
    return f"sqlite:///{state_path(workspace)}"


def existing_state(workspace: Path, state: str | None = None) -> str | None:
    """``state`` when given, else the workspace's default state database when a worker has made it, else ``None``."""
    if state:
        return state
    return state_url(workspace) if state_path(workspace).exists() else None


def engine_url(url: str) -> str:
    """The SQLAlchemy URL of a state database URL (``postgresql://`` is served by psycopg 3, as DBOS does)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


class Ledger:
    """kvar's tables in the state database at ``url`` (created on first use)."""

    def __init__(self, url: str) -> None:
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise WorkspaceError(
                tr("the state database {url}: expected sqlite:///FILE or postgresql://USER@HOST/DATABASE").format(
                    url=url
                )
            )
        try:
            self.engine = sa.create_engine(engine_url(url), pool_pre_ping=True)
            try:
                _METADATA.create_all(self.engine, checkfirst=True)
            except (sa.exc.ProgrammingError, sa.exc.IntegrityError):  # another worker created them at that moment
                _METADATA.create_all(self.engine, checkfirst=True)
        except (sa.exc.ArgumentError, sa.exc.OperationalError) as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise WorkspaceError(
                tr("the state database {url}: cannot be opened ({reason})").format(url=url, reason=reason)
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as connection:
            yield connection

    def holdouts(self, salt: str, proposed: Mapping[str, bool], *, store: bool) -> dict[str, bool]:
        """The holdout assignment of each customer of ``proposed`` for ``salt``: the stored one where there is
        one, else the proposed one, which is stored when ``store``."""
        if not proposed:
            return {}
        now = _now()
        with self._transaction() as connection:
            if store:
                connection.execute(
                    _insert_missing(HOLDOUTS, ("salt", "customer_id"), connection),
                    [
                        {"salt": salt, "customer_id": customer, "held_out": held, "assigned_at": now}
                        for customer, held in proposed.items()
                    ],
                )
            stored = dict(
                connection.execute(
                    sa.select(HOLDOUTS.c.customer_id, HOLDOUTS.c.held_out).where(
                        HOLDOUTS.c.salt == salt, HOLDOUTS.c.customer_id.in_(sorted(proposed))
                    )
                ).all()
            )
        return {customer: stored.get(customer, held) for customer, held in proposed.items()}

    def recorded(self, customers: Iterable[str], since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
        """The recorded messages of ``customers`` scheduled in ``[since, until)``."""
        wanted = sorted(set(customers))
        if not wanted:
            return []
        columns = [MESSAGES.c[name] for name in (*DECIDED, "reason", "deferred")]
        found: list[dict[str, Any]] = []
        with self._transaction() as connection:
            for start in range(0, len(wanted), 5_000):
                query = sa.select(*columns).where(
                    MESSAGES.c.customer_id.in_(wanted[start : start + 5_000]),
                    MESSAGES.c.scheduled_at >= since,
                    MESSAGES.c.scheduled_at < until,
                )
                found.extend(dict(row._mapping) for row in connection.execute(query))
        return found

    def record(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Record decided messages; one already recorded keeps its decision and status."""
        rows = [
            {
                **{name: message[name] for name in DECIDED},
                "reason": message["reason"],
                "deferred": bool(message.get("deferred")),
                "status": SCHEDULED if message["decision"] == "send" else message["decision"],
                "detail": "",
            }
            for message in messages
        ]
        if rows:
            with self._transaction() as connection:
                connection.execute(_insert_missing(MESSAGES, ("key",), connection), rows)

    def record_history(
        self, flow: str, entries: Iterable[Mapping[str, Any]], goal: tuple[str, dt.timedelta], channel: str = "email"
    ) -> None:
        """Record a flow's past entries (``customer_id``, ``occurred_at``, ``held_out``) as delivered or held-out
        first messages, with its goal: a history from elsewhere (another tool, a simulation) that
        ``kvar flows uplift`` can measure."""
        self.remember_goals({flow: goal})
        rows = []
        for entry in entries:
            occurrence = f"{flow}:{entry['customer_id']}:{entry['occurred_at'].isoformat()}"
            held = bool(entry["held_out"])
            rows.append(
                {
                    "key": f"{occurrence}:1",
                    "flow": flow,
                    "step": 1,
                    "customer_id": str(entry["customer_id"]),
                    "channel": channel,
                    "occurrence": occurrence,
                    "occurred_at": entry["occurred_at"],
                    "scheduled_at": entry["occurred_at"],
                    "decision": "held_out" if held else "send",
                    "reason": "recorded history",
                    "deferred": False,
                    "status": "held_out" if held else "delivered",
                    "detail": "",
                }
            )
        if rows:
            with self._transaction() as connection:
                connection.execute(_insert_missing(MESSAGES, ("key",), connection), rows)

    def due(self, as_of: dt.datetime) -> list[dict[str, Any]]:
        """Every message still to send whose time has come, in order of ``scheduled_at`` and key."""
        query = (
            sa.select(*(MESSAGES.c[name] for name in (*DECIDED, "reason")))
            .where(MESSAGES.c.status == SCHEDULED, MESSAGES.c.scheduled_at <= as_of)
            .order_by(MESSAGES.c.scheduled_at, MESSAGES.c.key)
        )
        with self._transaction() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def settle(self, outcomes: Iterable[tuple[str, str, str]]) -> None:
        """Record ``(key, status, detail)`` of messages that were sent, cancelled or dead-lettered."""
        rows = [{"k": key, "s": status, "d": detail} for key, status, detail in outcomes]
        if rows:
            statement = (
                MESSAGES.update()
                .where(MESSAGES.c.key == sa.bindparam("k"))
                .values(status=sa.bindparam("s"), detail=sa.bindparam("d"))
            )
            with self._transaction() as connection:
                connection.execute(statement, rows)

    def last_as_of(self) -> dt.datetime | None:
        """The latest instant a run decided up to, or ``None`` before the first run."""
        with self._transaction() as connection:
            value = connection.execute(sa.select(sa.func.max(RUNS.c.as_of))).scalar()
        return value if isinstance(value, dt.datetime) else None

    def remember_goals(self, goals: Mapping[str, tuple[str, dt.timedelta] | None]) -> None:
        """Record each flow's goal (flow → goal and window, or ``None``) as the latest run read it (an upsert:
        several workers may record at the same moment)."""
        now = _now()
        rows = [
            {
                "flow": flow,
                "goal": goal[0] if goal else None,
                "goal_seconds": int(goal[1].total_seconds()) if goal else None,
                "updated_at": now,
            }
            for flow, goal in goals.items()
        ]
        if not rows:
            return
        with self._transaction() as connection:
            insert = _insert(connection)(FLOWS)
            connection.execute(
                insert.on_conflict_do_update(
                    index_elements=["flow"],
                    set_={name: insert.excluded[name] for name in ("goal", "goal_seconds", "updated_at")},
                ),
                rows,
            )

    def goals(self) -> dict[str, tuple[str, dt.timedelta]]:
        """The recorded goals of the flows that have one."""
        with self._transaction() as connection:
            rows = connection.execute(sa.select(FLOWS).where(FLOWS.c.goal.is_not(None))).all()
        return {row.flow: (row.goal, dt.timedelta(seconds=row.goal_seconds)) for row in rows}

    def finish_run(self, as_of: dt.datetime) -> None:
        with self._transaction() as connection:
            connection.execute(RUNS.insert().values(as_of=as_of, finished_at=_now()))

    def entries(self) -> list[dict[str, Any]]:
        """One row per occurrence that entered a flow: ``flow``, ``customer_id``, ``occurred_at`` and
        ``held_out`` (its messages were held back by a holdout), in order of flow, time and customer."""
        held = sa.func.max(sa.case((MESSAGES.c.decision == "held_out", 1), else_=0))
        query = (
            sa.select(MESSAGES.c.flow, MESSAGES.c.customer_id, MESSAGES.c.occurred_at, held.label("held_out"))
            .group_by(MESSAGES.c.flow, MESSAGES.c.customer_id, MESSAGES.c.occurred_at)
            .order_by(MESSAGES.c.flow, MESSAGES.c.occurred_at, MESSAGES.c.customer_id)
        )
        with self._transaction() as connection:
            return [{**row._mapping, "held_out": bool(row.held_out)} for row in connection.execute(query)]

    def status(self) -> list[dict[str, Any]]:
        """Per flow: occurrences entered, messages by status, and customers held out."""
        counts = sa.select(
            MESSAGES.c.flow,
            MESSAGES.c.status,
            MESSAGES.c.deferred,
            sa.func.count().label("messages"),
        ).group_by(MESSAGES.c.flow, MESSAGES.c.status, MESSAGES.c.deferred)
        entered = sa.select(
            MESSAGES.c.flow,
            sa.func.count(sa.distinct(MESSAGES.c.occurrence)).label("entered"),
            sa.func.count(sa.distinct(sa.case((MESSAGES.c.decision == "held_out", MESSAGES.c.customer_id)))).label(
                "held_out"
            ),
        ).group_by(MESSAGES.c.flow)
        with self._transaction() as connection:
            by_status = connection.execute(counts).all()
            by_flow = {row.flow: row for row in connection.execute(entered)}
        table: dict[str, dict[str, Any]] = {}
        for flow, status, deferred, messages in by_status:
            row = table.setdefault(flow, {"flow": flow, **dict.fromkeys(STATUS_COLUMNS, 0)})
            column = "sent" if status == "delivered" else status
            row[column] = row.get(column, 0) + messages
            if deferred and status == SCHEDULED:
                row["deferred"] += messages
        for flow, row in table.items():
            row["entered"] = by_flow[flow].entered
            row["in_holdout"] = by_flow[flow].held_out
        return [table[flow] for flow in sorted(table)]


#: ``kvar flows status`` columns after ``flow`` (``deferred``: scheduled messages moved out of the quiet hours).
STATUS_COLUMNS = (
    "entered",
    "scheduled",
    "deferred",
    "sent",
    "bounced",
    "failed",
    "disabled",
    "dead",
    "cancelled",
    "suppressed",
    "capped",
    "held_out",
    "in_holdout",
)


def _insert(connection: sa.Connection) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert


def _insert_missing(table: sa.Table, keys: tuple[str, ...], connection: sa.Connection) -> Any:
    """An INSERT that skips rows whose key is already there."""
    return _insert(connection)(table).on_conflict_do_nothing(index_elements=list(keys))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
