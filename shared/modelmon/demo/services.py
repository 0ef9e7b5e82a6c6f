"""Which modelmon services the demo starts, with which arguments, ports and readiness probe.

Ports are picked free on loopback per run, so a demo never collides with services that
tests or other runs have started. A service whose package is not in this checkout yet is
listed as missing by the runner, never replaced by a stand-in.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from modelmon.demo.setup import modelmon_argv, module_available


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceSpec:
    """One ``modelmon run <name>`` child."""

    name: str
    args: list[str]
    admin_port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    role: str = ""
    command: str | None = None  # the service to run when the name differs (a second instance)

    @property
    def available(self) -> bool:
        return module_available(
            f"modelmon_services.{(self.command or self.name).replace('-', '_')}"
        )

    @property
    def argv(self) -> list[str]:
        return modelmon_argv("run", self.command or self.name, *self.args)

    @property
    def ready_url(self) -> str | None:
        return f"http://127.0.0.1:{self.admin_port}/readyz" if self.admin_port else None

    @property
    def metrics_url(self) -> str | None:
        return f"http://127.0.0.1:{self.admin_port}/metrics" if self.admin_port else None


def service_specs(
    model_id: str,
    model_url: str,
    proxy_port: int,
    archive_destination: str,
    reports: str,
    attributions: bool = False,
) -> list[ServiceSpec]:
    """The pipeline, in start order: consumers first, then the proxy that feeds them."""
    ports = {
        name: free_port()
        for name in ("archiver", "aggregator", "detector", "alerting", "labeljoin", "attributions")
    }
    proxy_admin = free_port()
    return [
        ServiceSpec(
            "archiver",
            ["--destination", archive_destination, "--admin-port", str(ports["archiver"])],
            ports["archiver"],
            {"MODELMON_ARCHIVER__ROLL_SECONDS": "5"},
            "capture topic -> JSON Lines archive in SageMaker's layout",
        ),
        ServiceSpec(
            "aggregator",
            ["--admin-port", str(ports["aggregator"])],
            ports["aggregator"],
            {},
            "capture topic -> windowed profiles in Redis (exactly-once)",
        ),
        *([attributions_aggregator(ports["attributions"])] if attributions else []),
        ServiceSpec(
            "detector",
            ["--admin-port", str(ports["detector"]), "--out", reports],
            ports["detector"],
            {},
            "complete windows -> checks vs baseline -> reports + alerts topic",
        ),
        ServiceSpec(
            "alerting",
            ["--admin-port", str(ports["alerting"])],
            ports["alerting"],
            {},
            "alerts topic -> CloudWatch metrics, SNS, webhooks",
        ),
        ServiceSpec(
            "labeljoin",
            ["--admin-port", str(ports["labeljoin"])],
            ports["labeljoin"],
            {"MODELMON_LABELJOIN__REPORTS": reports},
            "captures + delayed labels -> model quality per window -> alerts topic",
        ),
        ServiceSpec(
            "capture-proxy",
            [
                *("--upstream", model_url, "--model", model_id),
                *("--port", str(proxy_port), "--admin-port", str(proxy_admin)),
            ],
            proxy_admin,
            {},
            "HTTP proxy in front of the model -> capture topic",
        ),
    ]


def attributions_aggregator(admin_port: int) -> ServiceSpec:
    """A second aggregator, on the attributions topic (the explainer's output; the demo's
    traffic publishes the attributions of its requests there): docs/attribution.md."""
    import os

    namespace_group = os.environ.get("MODELMON_AGGREGATOR__GROUP", "modelmon-aggregator")
    topic = os.environ.get("MODELMON_TOPICS__ATTRIBUTIONS", "modelmon.attributions.v1")
    return ServiceSpec(
        "aggregator-attributions",
        ["--admin-port", str(admin_port)],
        admin_port,
        {"MODELMON_AGGREGATOR__TOPIC": topic,
         "MODELMON_AGGREGATOR__GROUP": f"{namespace_group}-attributions"},
        "attributions topic -> windowed attribution partials in Redis (exactly-once)",
        command="aggregator",
    )  # fmt: skip


@dataclass(frozen=True)
class Dashboard:
    """The API and dashboard of one demo run: its port and a read/admin token of its own."""

    port: int
    token: str
    admin_port: int

    @property
    def url(self) -> str:
        """The address to open: the token rides in the fragment (never sent to a server)."""
        return f"http://127.0.0.1:{self.port}/#token={self.token}"

    def spec(self, archive_destination: str) -> ServiceSpec:
        """The API, reading captures back from where the demo's archiver writes them."""
        import json

        return ServiceSpec(
            "api",
            ["--port", str(self.port), "--admin-port", str(self.admin_port)],
            self.admin_port,
            {"MODELMON_API__ADMIN_TOKENS": json.dumps([self.token]),
             "MODELMON_API__POLL_SECONDS": "2",
             "MODELMON_ARCHIVER__DESTINATION": archive_destination},
            "HTTP API (/api/v1) and the live dashboard (/)",
        )  # fmt: skip


def new_dashboard() -> Dashboard:
    import secrets

    return Dashboard(free_port(), secrets.token_urlsafe(24), free_port())
