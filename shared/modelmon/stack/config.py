"""Where the local stack lives and which ports it binds (``MODELMON_STACK_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

POM_RELATIVE = Path("deploy/local/kafka/pom.xml")


def find_project_dir(start: Path | None = None) -> Path | None:
    """The checkout holding ``deploy/local/kafka/pom.xml``: from ``start`` (cwd) upwards,
    else from this installed package upwards (an editable install lives in the checkout)."""
    for origin in (start or Path.cwd(), Path(__file__).resolve()):
        for candidate in (origin, *origin.parents):
            if (candidate / POM_RELATIVE).is_file():
                return candidate
    return None


class StackConfig(BaseSettings):
    """Ports, paths and sizes of the local stack; every field has a MODELMON_STACK_ variable."""

    model_config = SettingsConfigDict(env_prefix="MODELMON_STACK_", extra="ignore")

    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    redis_port: int = 6379
    #: the masters of ``stack up --redis-cluster`` (each also uses port + 10000, its bus)
    redis_cluster_ports: list[int] = Field(default_factory=lambda: [7000, 7001, 7002])
    moto_port: int = 5000
    state_dir: Path | None = None  # default: <project>/.modelmon/stack
    project_dir: Path | None = None  # default: found from cwd or the package location
    kafka_heap: str = "1g"
    start_timeout: float = Field(default=120.0, gt=0)
    aws_region: str = "us-east-1"

    def project(self) -> Path | None:
        return self.project_dir or find_project_dir()

    def state(self) -> Path:
        """The state directory (absolute): pid files, logs, jars, Kafka and Redis data."""
        if self.state_dir is not None:
            return self.state_dir.expanduser().resolve()
        project = self.project()
        base = project if project is not None else Path.cwd()
        return (base / ".modelmon" / "stack").resolve()

    def pom(self) -> Path | None:
        project = self.project()
        return project / POM_RELATIVE if project is not None else None

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"

    @property
    def redis_cluster_url(self) -> str:
        return "redis+cluster://" + ",".join(f"{self.host}:{p}" for p in self.redis_cluster_ports)

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.moto_port}"
