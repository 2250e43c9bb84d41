"""`medledger up`: local chain, deployment, demo consortium and one gateway per organisation.

Every gateway runs in its own process, as each organisation would run its own; stopping `up`
stops them and the chain, whose state stays under the data directory for the next start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ledger.chain import _artifacts
from ledger.chain.connection import connect
from ledger.chain.deploy import PrescriptionValidity
from ledger.chain.node import Anvil
from ledger.errors import ConfigError
from ledger.network.consortium import Consortium, seed_demo
from ledger.network.content import org_ipfs_nodes
from ledger.settings import Settings


@contextmanager
def chain_endpoint(settings: Settings) -> Iterator[str]:
    """The configured JSON-RPC endpoint, or a local anvil kept under the data directory."""
    if settings.rpc_url is not None:
        yield settings.rpc_url
        return
    with Anvil(
        port=settings.anvil_port,
        chain_id=settings.chain_id,
        state_dir=settings.data_dir / "chain",
        binary=settings.anvil_bin,
    ) as anvil:
        yield anvil.url


def gateway_env(
    data_dir: Path, rpc_url: str, key_file: str, port: int, chain_id: int
) -> dict[str, str]:
    """The environment of one organisation's gateway process."""
    env = dict(os.environ)
    env.update(
        MEDLEDGER_RPC_URL=rpc_url,
        MEDLEDGER_CHAIN_ID=str(chain_id),
        MEDLEDGER_DATA_DIR=str(data_dir.resolve()),
        MEDLEDGER_ORG_KEY_FILE=str(Path(key_file).resolve()),
        MEDLEDGER_API_PORT=str(port),
    )
    return env


def gateway_command(host: str, port: int) -> list[str]:
    """The command that serves one organisation's gateway (settings from its environment)."""
    return [
        sys.executable,
        *("-m", "uvicorn", "--factory", "api.main:app_from_env"),
        *("--host", host, "--port", str(port), "--no-access-log"),
    ]


@contextmanager
def gateway_process(env: dict[str, str], host: str, port: int, log: Path) -> Iterator[str]:
    """One organisation's gateway in its own uvicorn process; yields its URL once it answers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            gateway_command(host, port),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{host}:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(
    url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"gateway at {url} exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ConfigError(f"gateway at {url} did not answer within {timeout_s:.0f}s; see {log}")


@dataclass(frozen=True)
class Stack:
    """What is running: the chain endpoint, the seeded consortium (development), gateway URLs."""

    rpc_url: str
    consortium: Consortium | None
    gateways: dict[str, str]
    ipfs_nodes: dict[str, str] = field(default_factory=dict)  # organisation: its node's API URL


@contextmanager
def running_stack(settings: Settings) -> Iterator[Stack]:
    """Chain, deployment, demo consortium (development only) and gateways, stopped on exit."""
    _artifacts.check_sources()
    with ExitStack() as stack:
        rpc_url = stack.enter_context(chain_endpoint(settings))
        w3 = connect(rpc_url)
        consortium: Consortium | None = None
        if settings.profile == "development":
            validity = PrescriptionValidity(
                zone=settings.zone,
                online_days=settings.prescription_online_days,
                offline_days=settings.prescription_offline_days,
            )
            consortium = seed_demo(
                w3,
                settings.data_dir,
                rpc_url,
                settings.api_port,
                prescription_validity=validity,
                follow_up_window_s=settings.demo_follow_up_window_days * 86_400,
            )
            wanted = [
                (org.name, org.key_file, int(org.gateway_url.rsplit(":", 1)[1]))
                for org in consortium.orgs.values()
                if org.gateway_url
            ]
        elif settings.org_key_file is not None:
            wanted = [("gateway", str(settings.org_key_file), settings.api_port)]
        else:
            raise ConfigError("MEDLEDGER_ORG_KEY_FILE is required outside development")
        nodes: dict[str, str] = {}
        if settings.ipfs_nodes:
            started = stack.enter_context(org_ipfs_nodes(settings, [n for n, _, _ in wanted]))
            nodes = {name: node.url for name, node in started.items()}
        urls = {}
        for name, key_file, port in wanted:
            env = gateway_env(settings.data_dir, rpc_url, key_file, port, settings.chain_id)
            if name in nodes:
                env.update(MEDLEDGER_STORE_BACKEND="kubo", MEDLEDGER_KUBO_URL=nodes[name])
            log = settings.data_dir / "logs" / f"gateway-{name}.log"
            urls[name] = stack.enter_context(gateway_process(env, settings.api_host, port, log))
        yield Stack(rpc_url, consortium, urls, nodes)


def up(settings: Settings) -> None:
    """Start everything `make run` promises and serve until interrupted."""
    with running_stack(settings) as running:
        print(f"chain    {running.rpc_url}")
        for name, url in running.gateways.items():
            print(f"gateway  {name:<11} {url}  (OpenAPI: {url}/docs)")
        for name, url in running.ipfs_nodes.items():
            print(f"ipfs     {name:<11} {url}  ({settings.data_dir / 'orgs' / name / 'ipfs'})")
        if not running.ipfs_nodes:
            print(f"store    {settings.store_backend} ({settings.data_dir / 'store'})")
        print(
            "ready: run `medledger demo` in another terminal; Ctrl-C stops (state is kept)",
            flush=True,
        )
        wait_for_interrupt()


def wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM; both set explicitly: a background job may ignore SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    stop.wait()
