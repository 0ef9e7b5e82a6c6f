"""``modelmon migrate-keys``: rename the keys a modelmon before issue 16 stored (no Redis Cluster
hash tags) to their tagged names, in place, on the one Redis server that holds them.

Stop every modelmon service first (a running aggregator would start the partition afresh
under the new names). Then, to move to a Redis Cluster, import the migrated server into it
(``redis-cli --cluster import``; docs/decisions/0006-redis-cluster-keys.md).
"""

from __future__ import annotations

import re
import sys
from typing import Any

import click
import orjson

from modelmon.errors import ModelmonError


def _new_name(client: Any, keys: Any, name: str) -> str | None:
    new: str | None = keys.from_legacy(name)
    event_id = keys.legacy_alert_plan_id(name)
    if new is None and event_id is not None:
        plan = client.hget(name, "plan")  # a finished plan keeps only `done`: left to expire
        model = orjson.loads(plan).get("model_id") if plan else None
        new = keys.alert_plan(model, event_id) if model else None
    return new


@click.command("migrate-keys")
@click.option("--dry-run", is_flag=True, help="Print what would be renamed; change nothing.")
def migrate_keys(dry_run: bool) -> None:
    """Rename untagged keys (before Redis Cluster support) to their hash-tagged names."""
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys
    from modelmon.settings import Settings

    settings = Settings()
    keys = Keys(settings.redis.key_prefix)
    client = make_redis(settings.redis)
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", keys.prefix) + ":*"
    renamed = kept = skipped = 0
    try:
        for raw in client.scan_iter(match=pattern, count=1000):
            name = raw.decode()
            new = _new_name(client, keys, name)
            if new is None:
                skipped += "{" not in name
                continue
            if dry_run:
                click.echo(f"{name} -> {new}")
                renamed += 1
            elif client.renamenx(name, new):
                renamed += 1
            else:
                kept += 1
                click.echo(f"kept {name}: {new} exists already", err=True)
    except ModelmonError as exc:
        click.echo(f"modelmon migrate-keys: {exc}", err=True)
        sys.exit(1)
    verb = "would rename" if dry_run else "renamed"
    click.echo(f"{verb} {renamed} keys; {kept} kept (the new name exists); "
               f"{skipped} untagged keys left as they are (not modelmon's, or finished alert "
               "plans that expire)")  # fmt: skip
