"""Fixtures for the upstream-client compatibility tests.

Stubs are generated at test time from proto/demo.proto with grpcio-tools, the
way an upstream (Python) client would be built, and each service runs as its
own `boutique <service>` process on a free loopback port.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def boutique_binary() -> Path:
    path = Path(os.environ.get("BOUTIQUE_BIN", ROOT / "target" / "debug" / "boutique"))
    if not path.is_file():
        pytest.fail(f"{path} not found: build it first (cargo build -p boutique) or set BOUTIQUE_BIN")
    return path


@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    """The generated demo_pb2 / demo_pb2_grpc modules."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("stubs")
    proto_dir = ROOT / "proto"
    code = protoc.main(
        ["protoc", f"-I{proto_dir}", f"--python_out={out}", f"--grpc_python_out={out}", str(proto_dir / "demo.proto")]
    )
    assert code == 0, "protoc failed"
    sys.path.insert(0, str(out))
    import demo_pb2
    import demo_pb2_grpc

    return demo_pb2, demo_pb2_grpc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """One `boutique <name>` process and a channel to it."""

    def __init__(self, name: str, port: int, env: dict):
        self.name = name
        self.port = port
        self.addr = f"127.0.0.1:{port}"
        inherited = {k: v for k, v in os.environ.items() if k != "PORT"}
        full_env = {**inherited, "LISTEN_ADDR": "127.0.0.1", "LOG_FORMAT": "json", **env}
        self.process = subprocess.Popen(
            [str(boutique_binary()), name], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.channel = grpc.insecure_channel(self.addr)
        wait_serving(self.channel, self.process, timeout=20)

    def stop(self) -> int:
        """SIGTERM, as Kubernetes would; returns the exit code."""
        self.channel.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process.stdout.close()

    def output(self) -> str:
        return self.process.stdout.read().decode() if self.process.poll() is not None else ""


def wait_serving(channel, process, timeout: float) -> None:
    """Polls grpc.health.v1 Check("") until SERVING: readiness by observation."""
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}: {process.stdout.read().decode()}")
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
            last = reply.status
        except grpc.RpcError as error:
            last = error.code()
        time.sleep(0.05)
    raise AssertionError(f"not SERVING within {timeout}s (last: {last})")


@pytest.fixture(scope="module")
def services():
    """Starts services on demand; stops them all (cleanly) at the end of the module."""
    started = {}

    def get(name: str, **env) -> Service:
        if name not in started:
            port = free_port()
            started[name] = Service(name, port, {"PORT": str(port), **env})
        return started[name]

    yield get
    for service in started.values():
        code = service.stop()
        assert code == 0, f"{service.name} exited with {code}: {service.output()}"
