"""``modelmon stack up | down | status | env | kafka-console``: the local Kafka, Redis and AWS
emulator."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from modelmon.errors import ConfigurationError, ModelmonError


def _config(ctx: click.Context) -> Any:
    from modelmon.stack import StackConfig

    overrides = {k: v for k, v in ctx.obj.items() if v is not None}
    return StackConfig(**overrides)


def _fail(exc: ModelmonError) -> None:
    click.echo(f"modelmon stack: {exc}", err=True)
    sys.exit(2 if isinstance(exc, ConfigurationError) else 1)


@click.group()
@click.option("--state-dir", type=click.Path(path_type=Path), help="Default: .modelmon/stack/")
@click.option("--host", help="Address every service binds to (default 127.0.0.1).")
@click.option("--kafka-port", type=int, help="Kafka broker port (default 9092).")
@click.option("--kafka-controller-port", type=int, help="KRaft controller port (default 9093).")
@click.option("--redis-port", type=int, help="Redis port (default 6379).")
@click.option("--moto-port", type=int, help="AWS emulator port (default 5000).")
@click.pass_context
def stack(ctx: click.Context, /, **options: Any) -> None:
    """Start, stop and inspect the local stack (Apache Kafka, Redis, moto's AWS emulator).

    Every option also reads MODELMON_STACK_<OPTION> (e.g. MODELMON_STACK_KAFKA_PORT).
    """
    ctx.obj = options


@stack.command()
@click.option("--capture-partitions", type=int, help="Partitions of the capture topic.")
@click.option(
    "--redis-cluster",
    is_flag=True,
    help="Also start a Redis Cluster: three masters on MODELMON_STACK_REDIS_CLUSTER_PORTS "
    "(default [7000, 7001, 7002]); `stack env --redis-cluster` points modelmon at it.",
)
@click.pass_context
def up(ctx: click.Context, capture_partitions: int | None, redis_cluster: bool) -> None:
    """Start what is not running yet (idempotent) and create modelmon's topics."""
    from modelmon.settings import Settings
    from modelmon.stack import up as stack_up

    cfg = _config(ctx)
    topics = Settings().topics
    if capture_partitions is not None:
        topics = topics.model_copy(update={"capture_partitions": capture_partitions})
    try:
        stack_up(cfg, topics, report=click.echo, redis_cluster=redis_cluster)
    except ModelmonError as exc:
        _fail(exc)
    click.echo(f"stack is up (state in {cfg.state()}); `modelmon stack env` prints its variables")


@stack.command()
@click.argument(
    "services", nargs=-1, type=click.Choice(["kafka", "redis", "moto", "redis-cluster"])
)
@click.pass_context
def down(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Stop the processes this stack started, by pid (nothing else); all, or SERVICES."""
    from modelmon.stack import down as stack_down

    stack_down(_config(ctx), report=click.echo, only=services)


@stack.command()
@click.option("--all-topics", is_flag=True, help="List every topic, not only modelmon's.")
@click.pass_context
def status(ctx: click.Context, all_topics: bool) -> None:
    """Show each service, its version and pid, and Kafka's topics; exit 1 if one is down."""
    from modelmon.stack import status as stack_status

    report = stack_status(_config(ctx))
    click.echo(f"state dir: {report.state_dir}")
    for svc in report.services:
        pid = f"pid {svc.pid}" if svc.pid else "-"
        click.echo(f"{svc.name:6} {svc.state:12} {svc.endpoint:26} {pid:10} {_label(svc)}")
    if report.cluster_id:
        click.echo(f"kafka cluster id: {report.cluster_id}")
    shown = {n: p for n, p in report.topics.items() if all_topics or n.startswith("modelmon.")}
    for name, parts in shown.items():
        click.echo(f"topic  {name} ({parts} partitions)")
    if len(shown) < len(report.topics):
        click.echo(f"(+{len(report.topics) - len(shown)} other topics; --all-topics lists them)")
    if not report.all_running:
        sys.exit(1)


def _label(svc: Any) -> str:
    names = {"kafka": "Apache Kafka", "redis": "Redis", "moto": "moto (AWS emulator)",
             "redis-cluster": "Redis Cluster"}  # fmt: skip
    version = f" {svc.version}" if svc.version else ""
    return f"{names.get(svc.name, svc.name)}{version}"


@stack.command()
@click.option("--redis-cluster", is_flag=True, help="Point MODELMON_REDIS__URL at the cluster.")
@click.pass_context
def env(ctx: click.Context, redis_cluster: bool) -> None:
    """Print `export` lines pointing modelmon and boto3 at this stack (eval "$(...)")."""
    from modelmon.stack import env_vars

    for key, value in env_vars(_config(ctx), redis_cluster).items():
        click.echo(f"export {key}={shlex.quote(value)}")


@stack.command(
    "kafka-console",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--print-command", is_flag=True, help="Print the java command line; run nothing.")
@click.argument("tool", type=click.Choice(["producer", "consumer"]))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def kafka_console(
    ctx: click.Context, print_command: bool, tool: str, args: tuple[str, ...]
) -> None:
    """Run Kafka's kafka-console-producer or -consumer against the stack's broker.

    ARGS go to the tool unchanged (e.g. --topic T --property parse.key=true, or --topic T
    --from-beginning --max-messages 10); --bootstrap-server is the stack's unless given.
    The tools' jars come from Maven Central through deploy/local/kafka/pom.xml.
    """
    from modelmon.stack.console import console_command

    try:
        argv = console_command(_config(ctx), tool, args)
    except ModelmonError as exc:
        _fail(exc)
    if print_command:
        click.echo(shlex.join(argv))
        return
    sys.stdout.flush()
    os.execv(argv[0], argv)  # the tool owns stdin, stdout, signals and the exit code
