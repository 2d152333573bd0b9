"""The engines that execute AML scenarios (domain/aml): DuckDB in process, the embedded
default, and Spark, in local mode for tests and on a cluster in production. Both take an
Arrow table of transactions and run the same Ibis expressions over it.

Spark is optional at run time (a deployment that scans with DuckDB needs no JVM): its
module is imported only when a Spark engine is made.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa


class Engine(Protocol):
    """Runs Ibis expressions over tables it was given."""

    name: str

    def table(self, data: pa.Table) -> ir.Table:
        """`data` as a table this engine's expressions can read."""
        ...

    def run(self, expr: ir.Table) -> pa.Table:
        """The rows of `expr`, computed by this engine."""
        ...

    def close(self) -> None: ...


class _IbisEngine:
    """What both engines do alike: Arrow data in (a memtable here; Spark makes a view),
    Arrow rows out."""

    name: str
    _con: Any

    def table(self, data: pa.Table) -> ir.Table:
        return ibis.memtable(data)

    def run(self, expr: ir.Table) -> pa.Table:
        return self._con.to_pyarrow(expr)

    def close(self) -> None:
        self._con.disconnect()


class DuckDBEngine(_IbisEngine):
    """DuckDB in this process: tables are Arrow data it reads in place."""

    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        self._con = ibis.duckdb.connect(threads=threads) if threads else ibis.duckdb.connect()


class SparkEngine(_IbisEngine):
    """Spark through PySpark: `master` is `local[N]` for one machine or a cluster's URL.
    Times are UTC whatever the JVM's zone, so both engines see the same instants."""

    name = "spark"

    def __init__(self, master: str = "local[2]", session: Any = None) -> None:
        if session is None:
            from pyspark.sql import SparkSession

            session = (
                SparkSession.builder.master(master)
                .appName("guardpay-aml")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "8")
                .getOrCreate()
            )
            session.sparkContext.setLogLevel("ERROR")
        session.conf.set("spark.sql.session.timeZone", "UTC")  # a given session too
        self._session = session
        self._con = ibis.pyspark.connect(session)
        self._views: list[str] = []

    def table(self, data: pa.Table) -> ir.Table:
        """`data` as a temporary view, made from the Arrow data itself: a memtable goes
        through pandas, which turns a null string into the text "NaN" (pandas 3), so a
        missing device would look like one device every account shares. Views are
        named uniquely: engines made in one process share Spark's session."""
        name = f"guardpay_aml_{uuid.uuid4().hex}"
        self._session.createDataFrame(data).createOrReplaceTempView(name)
        self._views.append(name)
        return self._con.table(name)

    def close(self) -> None:
        for name in self._views:
            self._session.catalog.dropTempView(name)
        self._views.clear()
        super().close()


ENGINES = ("duckdb", "spark")


def make_engine(name: str, master: str = "local[2]") -> Engine:
    """The engine a scan names: `duckdb`, or `spark` at `master`."""
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine(master)
    raise ValueError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
