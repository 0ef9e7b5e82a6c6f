"""The local stack's process handling and configuration, with real (harmless) processes."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelmon.errors import ConfigurationError
from modelmon.stack import StackConfig, env_vars, kafka, prereqs
from modelmon.stack.process import ManagedProcess, ensure_port_free, wait_started


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[ManagedProcess]:
    proc = ManagedProcess("sleeper", tmp_path)
    yield proc
    proc.stop(grace=1.0)


def test_a_started_process_is_ours_until_it_is_stopped(sleeper: ManagedProcess) -> None:
    pid = sleeper.start(["sleep", "300"])

    assert sleeper.pid() == pid
    assert sleeper.pidfile.read_text().strip() == str(pid)
    assert Path(os.readlink(f"/proc/{pid}/cwd")) == sleeper.workdir.resolve()
    assert sleeper.stop(grace=10.0) is True
    assert sleeper.pid() is None
    assert not sleeper.pidfile.exists()
    assert sleeper.stop() is False


def test_a_pid_file_naming_a_stranger_is_ignored_and_never_signalled(tmp_path: Path) -> None:
    proc = ManagedProcess("stranger", tmp_path)
    proc.pidfile.parent.mkdir(parents=True)
    proc.pidfile.write_text(f"{os.getpid()}\n")  # alive, but not in our working directory

    assert proc.pid() is None
    assert not proc.pidfile.exists()
    assert proc.stop() is False


def test_stop_kills_a_process_that_ignores_sigterm(sleeper: ManagedProcess) -> None:
    pid = sleeper.start(["bash", "-c", "trap '' TERM; while true; do sleep 1; done"])

    assert sleeper.stop(grace=0.5) is True
    assert sleeper.pid() is None
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_a_process_that_exits_fails_with_the_tail_of_its_log(tmp_path: Path) -> None:
    proc = ManagedProcess("broken", tmp_path)
    pid = proc.start(["sh", "-c", "echo 'fatal: boom-marker'; exit 3"])

    with pytest.raises(ConfigurationError) as caught:
        wait_started(proc, pid, lambda: False, 60.0, "Broken")
    assert "Broken exited" in str(caught.value)
    assert "fatal: boom-marker" in str(caught.value)
    assert str(proc.logfile) in str(caught.value)


def test_a_port_held_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(ConfigurationError) as caught:
            ensure_port_free(ManagedProcess("redis", tmp_path), "127.0.0.1", port, "--redis-port")
    message = str(caught.value)
    assert f"port 127.0.0.1:{port} for redis is taken" in message
    assert "--redis-port / MODELMON_STACK_REDIS_PORT" in message


def test_kafka_is_configured_as_one_kraft_node(tmp_path: Path) -> None:
    cfg = StackConfig(state_dir=tmp_path, kafka_port=19092, kafka_controller_port=19093)
    (tmp_path / "kafka").mkdir()
    server = kafka._write_configs(cfg)
    props = dict(line.split("=", 1) for line in server.read_text().splitlines())

    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "data")
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr", "min.insync.replicas"):  # fmt: skip
        assert props[key] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_cluster_ids_are_kafka_uuids() -> None:
    ids = {kafka._cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_jars_are_not_fetched_again_while_the_pom_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pom = tmp_path / "project" / "deploy/local/kafka/pom.xml"
    pom.parent.mkdir(parents=True)
    pom.write_text("<project/>")
    cfg = StackConfig(project_dir=tmp_path / "project", state_dir=tmp_path / "state")
    libs = kafka.libs_dir(cfg)
    libs.mkdir(parents=True)
    (libs / ".pom-sha256").write_text(hashlib.sha256(b"<project/>").hexdigest() + "\n")
    monkeypatch.setenv("PATH", "")  # Maven could not even be found

    assert kafka.fetch_jars(cfg) is False
    pom.write_text("<project><!-- changed --></project>")
    with pytest.raises(ConfigurationError, match="apt-get install -y maven"):
        kafka.fetch_jars(cfg)


def test_missing_java_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    with pytest.raises(ConfigurationError, match="openjdk-17-jre-headless"):
        prereqs.java()


def test_state_dir_defaults_to_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELMON_STACK_STATE_DIR", raising=False)  # a shared stack's setting
    assert StackConfig(project_dir=tmp_path).state() == tmp_path / ".modelmon" / "stack"
    assert StackConfig(state_dir=tmp_path / "s").state() == tmp_path / "s"


def test_env_points_everything_at_the_configured_ports() -> None:
    cfg = StackConfig(kafka_port=1, redis_port=2, moto_port=3, aws_region="eu-west-1")
    assert env_vars(cfg) == {
        "MODELMON_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "MODELMON_REDIS__URL": "redis://127.0.0.1:2/0",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:3",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def test_stack_settings_read_their_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELMON_STACK_KAFKA_PORT", "29092")
    monkeypatch.setenv("MODELMON_STACK_STATE_DIR", "/tmp/elsewhere")
    cfg = StackConfig()
    assert cfg.kafka_bootstrap == "127.0.0.1:29092"
    assert cfg.state() == Path("/tmp/elsewhere")
