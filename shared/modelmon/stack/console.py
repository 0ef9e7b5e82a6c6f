"""Kafka's console producer and consumer against the local stack (``modelmon stack kafka-console``).

Since Kafka 4 the tools are their own artifact (``kafka-tools``), fetched by the stack's pom
beside the broker. A broker started before the pom listed them has no tools jars on its
classpath; then the pom's jars are fetched once more into ``kafka/tools-libs`` (from ~/.m2,
nothing is replaced under the running broker). Tool logs go to stderr, so the consumer's
stdout holds only records.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from modelmon.stack import kafka, prereqs
from modelmon.stack.config import StackConfig

#: tool name -> main class, as the ``kafka-console-*.sh`` scripts of a Kafka 4 release run them.
TOOLS = {
    "producer": "org.apache.kafka.tools.ConsoleProducer",
    "consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
}

_LOG4J2 = """\
status = error
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
"""


def tools_libs(cfg: StackConfig) -> Path:
    """A directory of jars holding Kafka's tools: the broker's, else ``kafka/tools-libs``."""
    libs = kafka.libs_dir(cfg)
    if any(libs.glob("kafka-tools-[0-9]*.jar")):
        return libs
    tools = cfg.state() / kafka.NAME / "tools-libs"
    tools.parent.mkdir(parents=True, exist_ok=True)
    kafka.fetch_jars(cfg, tools)
    return tools


def command(
    cfg: StackConfig, tool: str, args: Sequence[str], *, java: str, libs: Path
) -> list[str]:
    """The java command line of ``tool`` with ``args``; ``--bootstrap-server`` is the stack's
    unless ``args`` names one."""
    log_config = cfg.state() / kafka.NAME / "tools-log4j2.properties"
    log_config.parent.mkdir(parents=True, exist_ok=True)
    if not log_config.is_file() or log_config.read_text() != _LOG4J2:
        log_config.write_text(_LOG4J2)
    logging = f"-Dlog4j2.configurationFile={log_config}"
    argv = [java, "-Xmx256m", "-Djava.awt.headless=true", logging, "-cp", f"{libs}/*", TOOLS[tool]]
    if not any(a == "--bootstrap-server" or a.startswith("--bootstrap-server=") for a in args):
        argv += ["--bootstrap-server", cfg.kafka_bootstrap]
    return [*argv, *args]


def console_command(cfg: StackConfig, tool: str, args: Sequence[str]) -> list[str]:
    """Resolve Java and the tools' jars (fetching them if needed), then build the command."""
    return command(cfg, tool, args, java=prereqs.java(), libs=tools_libs(cfg))
