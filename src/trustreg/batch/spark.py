"""Apache Spark for batch work: one way to start a session, locally or on a cluster.

PySpark is imported only here and in the Spark jobs, and only when ``--engine spark``
asks for it: the registry itself never needs a JVM. A local session (``local[N]``)
binds its driver to 127.0.0.1 and runs without its web UI; on a cluster
(``--spark-master spark://host:7077``, ``yarn``, ``k8s://...``) the workers must run the
same Python with ``trustreg`` installed, and read the snapshot from a path they all
see (a shared file system or object store): see docs/batch.md, "On a cluster".
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from trustreg.errors import TrustRegError

LOCAL = "local[{cores}]"
# Settings of every session: the UI and its port are off, nothing listens beyond the
# loopback unless a cluster needs it, and Arrow carries the rows to Python and back.
BASE_CONFIG = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
}
LOCAL_CONFIG = {
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    # A laptop's worth of partitions, not a cluster's 200.
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "4g",
}


def local_master(cores: int | None = None) -> str:
    """The master URL of a local session on ``cores`` cores (default: all)."""
    return LOCAL.format(cores=cores or os.cpu_count() or 1)


@contextmanager
def spark_session(master: str | None = None, cores: int | None = None) -> Iterator[Any]:
    """A Spark session on ``master`` (default: local on ``cores`` cores), stopped after.

    Raises TrustRegError with what to do when PySpark or Java is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - the dev and spark extras install it
        raise TrustRegError(
            "--engine spark needs PySpark: pip install 'trustreg[spark]' (and Java 17)"
        ) from exc
    # The Python workers must be this interpreter, with trustreg and pyarrow importable.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    url = master or local_master(cores)
    if url.startswith("local"):
        # Else Spark binds its block manager to the first network interface it finds.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(url).appName("trustreg")
    config = {**BASE_CONFIG, **(LOCAL_CONFIG if url.startswith("local") else {})}
    for key, value in config.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Py4J and JVM start-up errors have no common class
        raise TrustRegError(f"Spark did not start on {url}: {exc}") from exc
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
