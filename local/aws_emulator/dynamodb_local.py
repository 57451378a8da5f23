"""DynamoDB Local (the real engine AWS ships for development) on loopback, installed from npm on first use.

moto is a model of DynamoDB; DynamoDB Local is Amazon's own engine. It enforces what moto does not: table-name
rules, the 25-item / 100-key batch limits, condition checks that are atomic under concurrent writers, and
transaction conflicts. It ships inside the npm package ``amplify-dynamodb-simulator``, so it needs only the npm
registry and a Java runtime (17+), no Docker::

    python -m aws_emulator.dynamodb_local [--port 8000]     # install if needed, run until Ctrl-C

What it does not do faster than AWS: TTL deletion is lazy there too, so expiry is tested at read time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aws_emulator.template import ROOT

PACKAGE = "amplify-dynamodb-simulator"
CACHE = Path(os.environ.get("PREGEN_DYNAMODB_LOCAL_DIR", str(ROOT / ".local" / "dynamodb-local")))


# The JIT's first tier only, and one GC thread: on a small machine shared with the stack's Python processes the
# second tier's compilations cost more CPU than they save during a run of minutes (bench.dynamodb_local measures it).
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


class Unavailable(RuntimeError):
    """DynamoDB Local cannot be installed or started here (no npm, no java, or no registry)."""


def _emulator_dir(cache: Path) -> Path | None:
    found = sorted(cache.glob("package/**/DynamoDBLocal.jar"))
    return found[0].parent if found else None


def install(cache: Path = CACHE) -> Path:
    """The directory holding DynamoDBLocal.jar, fetched with ``npm pack`` into ``cache`` the first time."""
    emulator = _emulator_dir(cache)
    if emulator is not None:
        return emulator
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm is needed to fetch DynamoDB Local (package amplify-dynamodb-simulator)")
    cache.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            [npm, "pack", PACKAGE, "--silent"], cwd=cache, check=True, capture_output=True, text=True, timeout=600
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"npm pack {PACKAGE} failed: {exc}") from exc
    tarball = cache / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        archive.extractall(cache, filter="data")
    tarball.unlink()
    emulator = _emulator_dir(cache)
    if emulator is None:
        raise Unavailable(f"{PACKAGE} holds no DynamoDBLocal.jar")
    return emulator


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class DynamoDBLocal:
    """A running DynamoDB Local process (in memory, one shared database for every credential and region)."""

    process: subprocess.Popen[bytes]
    host: str
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    timeout_s: float = 90.0,
    cache: Path = CACHE,
    db_path: Path | None = None,
    memory_mb: int = 512,
    jvm_options: tuple[str, ...] = JVM_OPTIONS,
) -> DynamoDBLocal:
    """Start DynamoDB Local on ``host:port`` (0: a free port) and wait until it accepts connections. Its data is
    kept in memory, or in ``db_path`` (a SQLite file there) so that it outlives the process."""
    java = shutil.which("java")
    if java is None:
        raise Unavailable("a Java runtime (17+) is needed to run DynamoDB Local")
    emulator = install(cache)
    port = port or _free_port(host)
    if db_path is not None:
        db_path.mkdir(parents=True, exist_ok=True)
    storage = ["-inMemory"] if db_path is None else ["-dbPath", str(db_path.resolve())]
    process = subprocess.Popen(
        [
            java,
            f"-Djava.library.path={emulator / 'DynamoDBLocal_lib'}",
            f"-Xmx{memory_mb}m",
            *jvm_options,
            "-jar",
            str(emulator / "DynamoDBLocal.jar"),
            *storage,
            "-sharedDb",
            "-disableTelemetry",  # it would otherwise report usage to AWS: nothing here may call AWS
            "-port",
            str(port),
        ],
        cwd=emulator,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # DynamoDB Local has no bind-address option (-port listens on every interface); only loopback clients use it.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Unavailable(f"DynamoDB Local exited with {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return DynamoDBLocal(process=process, host=host, port=port)
        except OSError:
            time.sleep(0.25)
    process.kill()
    raise Unavailable(f"DynamoDB Local did not listen on {host}:{port} within {timeout_s:.0f} s")


# A scratch table for the warm-up, deleted after it.
WARM_UP_TABLE = "aws-emulator-warm-up"
# A table keyed like Pregen's (partition pk, sort sk; strings), on demand: CreateTable's parameters but its name.
PK_SK_TABLE: dict[str, object] = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    # DynamoDB Local reads the credential's shape and checks no signature (-sharedDb: one database for all).
    "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


def _call(
    connection: http.client.HTTPConnection, operation: str, body: dict[str, object], *, tolerate: str = ""
) -> dict[str, object]:
    """One request; an error answer raises, except the error type ``tolerate`` names."""
    connection.request("POST", "/", json.dumps(body), {**_HEADERS, "X-Amz-Target": f"DynamoDB_20120810.{operation}"})
    response = connection.getresponse()
    answer: dict[str, object] = json.loads(response.read() or b"{}")
    if response.status >= 400 and not (tolerate and str(answer.get("__type", "")).endswith(tolerate)):
        raise Unavailable(f"DynamoDB Local answered {operation} with {response.status}: {answer}")
    return answer


def _warm_up_round(connection: http.client.HTTPConnection, worker: int, i: int) -> None:
    table = WARM_UP_TABLE
    key = {"pk": {"S": f"k{worker}-{i % 50}"}, "sk": {"S": "item"}}
    other = {"pk": {"S": f"k{worker}-{i % 50}"}, "sk": {"S": "stats"}}
    item = {**key, "body": {"S": "x" * 200}, "n": {"N": str(i)}}
    _call(
        connection,
        "PutItem",
        {
            "TableName": table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk) OR n < :n",
            "ExpressionAttributeValues": {":n": {"N": str(i)}},
        },
    )
    _call(connection, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": i % 2 == 0})
    _call(
        connection,
        "UpdateItem",
        {
            "TableName": table,
            "Key": other,
            "UpdateExpression": "ADD hits :one SET #at = :at",
            "ConditionExpression": "attribute_not_exists(hits) OR hits < :cap",
            "ExpressionAttributeNames": {"#at": "at"},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":at": {"N": str(i)}, ":cap": {"N": "1000000"}},
            "ReturnValues": "ALL_NEW",
        },
    )
    _call(
        connection,
        "Query",
        {"TableName": table, "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": key["pk"]}},
    )
    _call(
        connection,
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": table, "Item": {**item, "sk": {"S": "version"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": other,
                        "UpdateExpression": "ADD writes :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        },
    )
    _call(connection, "DeleteItem", {"TableName": table, "Key": {**key, "sk": {"S": "version"}}})


def warm_up(host: str, port: int, *, rounds: int = 40, workers: int = 2) -> float:
    """Run a small workload of the operations Pregen makes (conditional puts, reads, counter updates, queries,
    transactions, deletes) on a scratch table, then delete it; the seconds it took.

    A fresh DynamoDB Local answers its first requests of each kind slowly (the JVM loads their classes, then
    compiles them): in the measurements of docs/BENCHMARKS.md (stampede) a fresh engine cost three times the CPU
    per request of a warm one. DynamoDB itself has no such first minutes, so the stack warms its local engine
    before it serves, and the first learners meet the engine the deployment would have."""
    began = time.perf_counter()
    admin = http.client.HTTPConnection(host, port, timeout=30)
    _call(
        admin,
        "CreateTable",
        {"TableName": WARM_UP_TABLE, **PK_SK_TABLE},
        tolerate="ResourceInUseException",  # left by a stack stopped during its warm-up: used as it is
    )
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            for i in range(rounds):
                _warm_up_round(connection, worker, i)
        except (OSError, Unavailable) as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _call(admin, "DeleteTable", {"TableName": WARM_UP_TABLE})
    admin.close()
    if failures:
        raise Unavailable(f"DynamoDB Local failed its warm-up: {failures[0]}")
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aws_emulator.dynamodb_local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--install-only", action="store_true", help="fetch it into .local/ and exit")
    args = parser.parse_args(argv)
    if args.install_only:
        print(install())
        return
    server = start(args.host, args.port)
    print(f"DynamoDB Local at {server.endpoint} (Ctrl-C to stop)", flush=True)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
