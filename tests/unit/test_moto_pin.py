"""``aws_emulator.moto_server`` patches moto's internals (DynamoDB transactions, SQS message checks): it is written
against one moto version, pinned in pyproject.toml. Another version fails here, loudly, before the emulator
misbehaves quietly; upgrading moto means re-reading those patches against the new internals, then the pin."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import moto
from moto.dynamodb import comparisons, exceptions
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import table
from moto.moto_server import werkzeug_app
from moto.sqs import models as sqs_models

ROOT = Path(__file__).resolve().parents[2]


def pinned_moto() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = [project.get("dependencies", []), *project.get("optional-dependencies", {}).values()]
    dependencies = [dep for group in groups for dep in group]
    motos = [dep for dep in dependencies if re.match(r"moto\b", dep)]
    pins = [found.group(1) for dep in motos if (found := re.fullmatch(r"moto(?:\[[^\]]*\])?==(\S+)", dep))]
    assert len(pins) == 1, f"pyproject.toml must pin moto exactly (moto[...]==X.Y.Z), found {motos}"
    return pins[0]


def test_the_installed_moto_is_the_pinned_one() -> None:
    assert moto.__version__ == pinned_moto(), (
        f"moto {moto.__version__} is installed but aws_emulator/moto_server.py patches moto {pinned_moto()}'s "
        "internals: install the pinned version, or re-check those patches against this one and move the pin"
    )


def test_what_the_emulator_patches_is_still_there() -> None:
    missing = [
        name
        for owner, name in [
            (dynamodb_models, "copy"),
            (dynamodb_models, "DynamoDBBackend"),
            (dynamodb_models.DynamoDBBackend, "transact_write_items"),
            (dynamodb_models.DynamoDBBackend, "get_table"),
            (dynamodb_models.DynamoDBBackend, "get_item"),
            (dynamodb_models.DynamoDBBackend, "put_item"),
            (dynamodb_models.DynamoDBBackend, "delete_item"),
            (table, "Table"),
            (comparisons, "get_filter_expression"),
            (exceptions, "ConditionalCheckFailed"),
            (exceptions, "TransactionCanceledException"),
            (sqs_models.Message, "visible"),
            (sqs_models.Message, "delayed"),
            (sqs_models.Message, "had_receipt_handle"),
            (werkzeug_app, "DomainDispatcherApplication"),
            (werkzeug_app, "MotoRequestHandler"),
            (werkzeug_app, "create_backend_app"),
        ]
        if not hasattr(owner, name)
    ]
    message = sqs_models.Message("id", "body")
    missing += [
        f"Message().{name}"
        for name in ("visible_at", "delayed_until", "receipt_handle", "_old_receipt_handles")
        if not hasattr(message, name)
    ]
    assert missing == [], f"moto {moto.__version__} lacks what aws_emulator/moto_server.py patches: {missing}"
