"""Write the settings tables of docs/configuration.md from modelmon's settings classes.

    .venv/bin/python scripts/gen_config_docs.py          # rewrite the generated part
    .venv/bin/python scripts/gen_config_docs.py --check  # exit 1 if it is out of date

Only the text between the ``settings:begin`` / ``settings:end`` markers is generated.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from modelmon.settings import Settings
from modelmon.stack.config import StackConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def _type(field: FieldInfo) -> str:
    text = str(field.annotation).replace("typing.", "").replace("pydantic.types.", "")
    text = text.replace("<class '", "").replace("'>", "").replace("pathlib.", "")
    return text.replace("|", "or")


def _default(field: FieldInfo) -> str:
    if "SecretStr" in str(field.annotation):
        return "(unset; secret)"
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return "(unset)"
    if isinstance(value, SecretStr):
        return "(secret)"
    return f"`{value!r}`" if not isinstance(value, str) else f"`{value}`"


# Notes for fields whose definition carries no ``description``.
NOTES = {
    "MODELMON_KAFKA__BOOTSTRAP_SERVERS": "host:port[,host:port...]",
    "MODELMON_KAFKA__SECURITY_PROTOCOL": "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    "MODELMON_KAFKA__SASL_MECHANISM": "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
    "MODELMON_KAFKA__EXTRA": "JSON map passed verbatim to librdkafka",
    "MODELMON_TOPICS__CAPTURE_PARTITIONS": "the aggregator scales out up to this many",
    "MODELMON_TOPICS__REPLICATION_FACTOR": "1 for the local stack; 3 in production",
    "MODELMON_REDIS__URL": "redis:// or rediss:// (TLS); password in the URL",
    "MODELMON_REDIS__KEY_PREFIX": "every key modelmon writes starts with it",
    "MODELMON_AWS__REGION": "default: AWS_DEFAULT_REGION, AWS_REGION, else us-east-1",
    "MODELMON_AWS__ENDPOINT_URL": "default: AWS_ENDPOINT_URL; unset means real AWS",
    "MODELMON_LOG_JSON": "JSON lines (services) or plain text",
    "MODELMON_NATIVE": "the native capture decoder when built; 0: pure Python (docs/decode.md)",
    "MODELMON_STACK_STATE_DIR": "default: <checkout>/.modelmon/stack",
    "MODELMON_STACK_PROJECT_DIR": "the checkout holding deploy/local/kafka/pom.xml",
    "MODELMON_STACK_KAFKA_HEAP": "the broker's -Xmx",
    "MODELMON_STACK_START_TIMEOUT": "seconds to wait for each service to answer",
}


def _row(env: str, field: FieldInfo, flags: dict[str, str] | None = None) -> str:
    note = (field.description or NOTES.get(env, "")).replace("|", "/")
    flag = (flags or {}).get(env)
    shown = f"`{flag}`" if flag else ""
    return f"| `{env}` | {shown} | {_type(field)} | {_default(field)} | {note} |"


def _section(title: str, doc: str, rows: list[str]) -> list[str]:
    head = ["", f"### {title}", "", doc, "", "| variable | flag | type | default | notes |",
            "|---|---|---|---|---|"]  # fmt: skip
    return [*head, *rows]


def render() -> str:
    lines: list[str] = []
    top: list[str] = []
    flags = _flags()
    for name, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            doc = " ".join((model.__doc__ or "").split())
            rows = [_row(f"MODELMON_{name.upper()}__{sub.upper()}", f, flags)
                    for sub, f in model.model_fields.items()]  # fmt: skip
            lines += _section(f"`{name}` ({model.__name__})", doc, rows)
        else:
            top.append(_row(f"MODELMON_{name.upper()}", field))
    lines += _section("top level", "Process-wide options.", top)
    stack = StackConfig.model_fields.items()
    stack_rows = [_row(f"MODELMON_STACK_{n.upper()}", f) for n, f in stack]
    stack_doc = " ".join((StackConfig.__doc__ or "").split())
    lines += _section("`modelmon stack` (StackConfig)", stack_doc, stack_rows)
    return "\n".join([BEGIN, *lines, "", END])


def _flags() -> dict[str, str]:
    """``MODELMON_<SECTION>__<FIELD>`` -> the flag ``modelmon run NAME`` generates for it."""
    import modelmon_services

    flags: dict[str, str] = {}
    for module in pkgutil.iter_modules(modelmon_services.__path__):
        package = importlib.import_module(f"modelmon_services.{module.name}")
        command = getattr(package, "command", None)
        if not isinstance(command, click.Command):
            continue
        for param in command.params:
            if isinstance(param, click.Option) and param.name and "__" in param.name:
                flags.setdefault(f"MODELMON_{param.name.upper()}", param.opts[0])
    return flags


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    fresh = before + render() + after
    if "--check" in argv:
        if fresh != text:
            print(f"{DOC} is out of date: run `.venv/bin/python scripts/gen_config_docs.py`")
            return 1
        return 0
    DOC.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
