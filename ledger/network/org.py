"""One organisation's node, the unit of deployment: its directory ``<DATA_DIR>/orgs/<org>/`` and the
processes it runs from it (its chain node where it has one, IPFS node, gateway), started detached
with pid files and stopped by them.

The directory holds everything the organisation's processes read, and nothing of another's:

    orgs/<org>/org.env                   the settings `medledger org start` runs it with
    orgs/<org>/keys/<org>.json           the organisation key (V3 keystore)
    orgs/<org>/swarm.key                 its copy of the consortium's IPFS swarm key
    orgs/<org>/deployments/<chain>.json  its copy of the deployment
    orgs/<org>/gateways/*.sqlite         the gateway's databases
    orgs/<org>/ipfs/                     its IPFS node's repository
    orgs/<org>/logs/, orgs/<org>/run/    logs, pid files
    orgs/<org>/chain.json                its chain node's command, where it runs one
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from ledger.chain.node import is_listening
from ledger.errors import ConfigError
from ledger.settings import Settings, load_settings
from ledger.store import IpfsNode
from ledger.store.ipfs_node import PEERS_FILE

ORG_ENV = "org.env"
CHAIN_FILE = "chain.json"
#: The processes of a node, in the order they start (a chain node only where it runs one); they
#: stop in the reverse order.
PROCESSES = ("chain", "ipfs", "gateway")


#: An organisation's name names its directory: no path separators, nothing hidden.
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def org_dir(data_dir: Path, org: str) -> Path:
    """Where an organisation's own processes keep their state; ConfigError for a name that is
    not lower-case letters, digits and hyphens (it would name another directory)."""
    if not _NAME.match(org):
        raise ConfigError(f"{org!r} is not an organisation name (a-z, 0-9, '-'; up to 63)")
    return data_dir / "orgs" / org


@dataclass(frozen=True)
class OrgNode:
    """An organisation's directory and what is in it."""

    root: Path

    @classmethod
    def of(cls, data_dir: Path, org: str) -> OrgNode:
        root = org_dir(data_dir, org).resolve()
        if not (root / ORG_ENV).is_file():
            raise ConfigError(f"no organisation {org!r} under {data_dir}: {root / ORG_ENV} missing")
        return cls(root)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def env_file(self) -> Path:
        return self.root / ORG_ENV

    @property
    def key_file(self) -> Path:
        return self.root / "keys" / f"{self.name}.json"

    @property
    def swarm_key(self) -> Path:
        return self.root / "swarm.key"

    def pid_file(self, process: str) -> Path:
        return self.root / "run" / f"{process}.pid"

    def log_file(self, process: str) -> Path:
        return self.root / "logs" / f"{process}.log"

    def env(self) -> dict[str, str]:
        """The ``MEDLEDGER_*`` variables org.env sets."""
        values: dict[str, str] = {}
        for number, line in enumerate(self.env_file.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.startswith("MEDLEDGER_"):
                raise ConfigError(f"{self.env_file}:{number}: not a MEDLEDGER_NAME=value line")
            values[name.strip()] = value.strip()
        return values

    def settings(self) -> Settings:
        """This organisation's settings: org.env first, the environment for what it leaves out
        (a passphrase, say, which org.env never holds)."""
        fields = {name.removeprefix("MEDLEDGER_").lower(): v for name, v in self.env().items()}
        try:
            return load_settings(**fields)
        except ConfigError as exc:
            raise ConfigError(f"{self.env_file}: {exc}") from exc


def write_org_env(node: OrgNode, values: dict[str, str]) -> None:
    """Write org.env: ``values`` (MEDLEDGER_* names), with the directory-bound ones set here."""
    for sub in ("keys", "deployments", "gateways", "ipfs", "logs", "run"):
        (node.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    values = {
        **values,
        "MEDLEDGER_DATA_DIR": str(node.root),
        "MEDLEDGER_ORG_KEY_FILE": str(node.key_file),
        "MEDLEDGER_IPFS_SWARM_KEY_FILE": str(node.swarm_key),
        "MEDLEDGER_STORE_BACKEND": "kubo",
    }
    host = values.get("MEDLEDGER_IPFS_API_HOST", "127.0.0.1")
    port = values["MEDLEDGER_IPFS_API_PORT"]
    values["MEDLEDGER_KUBO_URL"] = f"http://{host}:{port}"
    body = "".join(f"{name}={value}\n" for name, value in sorted(values.items()))
    scratch = node.env_file.with_suffix(".tmp")
    scratch.write_text(f"# {node.name}'s node: read by `medledger org start {node.name}`\n{body}")
    scratch.replace(node.env_file)


def copy_private(source: Path, target: Path) -> None:
    """Copy a secret (key, swarm key) readable by the owner only; an equal copy is left alone."""
    if target.exists() and target.read_bytes() == source.read_bytes():
        return
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(source.read_bytes())
    target.with_suffix(".tmp").replace(target)


# Processes: started detached (their own session, so `org start` may return), each with a pid
# file; a pid counts as ours only while the process's environment or command line names the
# organisation's directory (a chain node: its data directory), so a reused pid is never signalled.

#: Runs ``argv[2:]`` in the directory ``argv[1]`` (posix_spawn cannot change directory itself).
_IN_DIRECTORY = "import os, sys; os.chdir(sys.argv[1]); os.execv(sys.argv[2], sys.argv[2:])"


def _alive(pid: int, marker: str) -> bool:
    proc = Path(f"/proc/{pid}")
    try:
        seen = (proc / "cmdline").read_bytes() + b"\0" + (proc / "environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return marker.encode() in seen


@dataclass(frozen=True)
class ChainNode:
    """The chain node an organisation runs, where it runs one (``chain.json`` in its directory,
    written by whoever set it up: `make network-up` for its Clique signers)."""

    argv: list[str]
    cwd: str
    url: str

    @classmethod
    def of(cls, node: OrgNode) -> ChainNode | None:
        path = node.root / CHAIN_FILE
        if not path.is_file():
            return None
        raw = json.loads(path.read_text())
        return cls(list(raw["argv"]), str(raw["cwd"]), str(raw["url"]))

    def save(self, node: OrgNode) -> None:
        text = json.dumps({"argv": self.argv, "cwd": self.cwd, "url": self.url}, indent=2)
        (node.root / CHAIN_FILE).write_text(text + "\n")


def _marker(node: OrgNode, process: str) -> str:
    chain = ChainNode.of(node) if process == "chain" else None
    return f"{chain.cwd}/" if chain is not None else f"{node.root}/"


def running_pid(node: OrgNode, process: str) -> int | None:
    """The pid of ``process`` if its pid file names one of this node's processes that runs."""
    try:
        pid = int(node.pid_file(process).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid, _marker(node, process)) else None


def _ipfs_node(settings: Settings, node: OrgNode) -> IpfsNode:
    return IpfsNode(
        repo_dir=node.root / "ipfs",
        swarm_key=node.swarm_key,
        api_port=settings.ipfs_api_port,
        swarm_port=settings.ipfs_swarm_port,
        host=settings.ipfs_host,
        api_host=settings.ipfs_api_host,
        peers=settings.ipfs_peers,
        fetch_timeout_s=settings.content_fetch_timeout_s,
        redial_interval_s=settings.ipfs_redial_interval_s,
        node_bin=settings.node_bin,
    )


def _probes(node: OrgNode) -> dict[str, tuple[str, Callable[[], bool]]]:
    """Each process the node runs: its URL, and whether it answers there now."""
    settings = node.settings()
    ipfs, gateway = settings.kubo_url, gateway_url(settings)
    probes = {
        "ipfs": (ipfs, lambda: _answers("POST", f"{ipfs}/api/v0/id")),
        "gateway": (gateway, lambda: _answers("GET", f"{gateway}/v1/health")),
    }
    chain = ChainNode.of(node)
    if chain is not None:
        probes = {"chain": (chain.url, lambda: is_listening(chain.url)), **probes}
    return probes


def processes(node: OrgNode) -> list[str]:
    """The processes this node runs, in start order: a chain node only where it runs one."""
    return list(_probes(node))


def _answers(method: str, url: str) -> bool:
    try:
        return httpx.request(method, url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _spawn(node: OrgNode, process: str, argv: list[str], log: Path, cwd: str | None = None) -> int:
    """Start ``argv`` in a session of its own, detached (no Popen object is left to warn about
    or wait on it), logging to ``log``; its pid goes to the process's pid file."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if cwd is not None:
        argv = [sys.executable, "-c", _IN_DIRECTORY, cwd, *argv]
    pid = os.posix_spawn(
        argv[0],
        argv,
        {**os.environ, **node.env()},
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    node.pid_file(process).write_text(f"{pid}\n")
    return pid


def _start(
    node: OrgNode,
    process: str,
    argv: list[str],
    log: Path,
    timeout_s: float,
    cwd: str | None = None,
) -> int:
    """Start ``process`` unless it runs; return its pid once it answers. ConfigError if another
    process answers at its URL, or (it then stopped) if it exits or stays silent."""
    pid = running_pid(node, process)
    if pid is not None:
        return pid
    url, answering = _probes(node)[process]
    if answering():
        raise ConfigError(f"something else answers at {url}: {node.name}'s {process} cannot start")
    pid = _spawn(node, process, argv, log, cwd)
    deadline = time.monotonic() + timeout_s
    while not answering():
        exited, _ = os.waitpid(pid, os.WNOHANG)
        if exited or time.monotonic() > deadline:
            stop_processes(node, only=[process])
            what = "exited" if exited else f"did not answer at {url} in {timeout_s:.0f}s"
            raise ConfigError(f"{node.name}'s {process} {what}; see {log}")
        time.sleep(0.05)
    return pid


def start_chain(node: OrgNode, *, timeout_s: float = 60.0) -> int | None:
    """Start the organisation's chain node, if it runs one; its pid once it answers JSON-RPC."""
    chain = ChainNode.of(node)
    if chain is None:
        return None
    return _start(node, "chain", chain.argv, node.log_file("chain"), timeout_s, chain.cwd)


def start_ipfs(node: OrgNode, *, timeout_s: float = 30.0) -> int:
    """Start the node's IPFS node (if it does not run) and return its pid once it answers."""
    ipfs = _ipfs_node(node.settings(), node)
    if not node.swarm_key.is_file():
        raise ConfigError(f"swarm key {node.swarm_key} does not exist")
    ipfs.repo_dir.mkdir(parents=True, exist_ok=True)
    if not (ipfs.repo_dir / PEERS_FILE).exists():
        ipfs.set_peers(node.settings().ipfs_peers)  # the directory's come with sync_peers
    return _start(node, "ipfs", ipfs.command(), ipfs.log_file, timeout_s)


def ipfs_identity(node: OrgNode) -> tuple[str, str]:
    """The running IPFS node's peer id and the multiaddr peers dial it at (without /p2p/)."""
    settings = node.settings()
    ipfs = _ipfs_node(settings, node)
    return ipfs.identity["ID"], f"/ip4/{settings.ipfs_host}/tcp/{settings.ipfs_swarm_port}"


def start_gateway(node: OrgNode, *, timeout_s: float = 60.0) -> int:
    """Start the node's gateway (if it does not run) and return its pid once it is healthy."""
    settings = node.settings()
    argv = gateway_command(settings.api_host, settings.api_port)
    return _start(node, "gateway", argv, node.log_file("gateway"), timeout_s)


def gateway_command(host: str, port: int) -> list[str]:
    """The command that serves one organisation's gateway (its settings from its environment);
    the separate-host tests run it under ``ip netns exec``."""
    return [
        sys.executable,
        *("-m", "uvicorn", "--factory", "api.main:app_from_env"),
        *("--host", host, "--port", str(port), "--no-access-log"),
    ]


def gateway_url(settings: Settings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}"


def stop_processes(
    node: OrgNode, *, timeout_s: float = 30.0, only: Iterable[str] = PROCESSES
) -> list[str]:
    """SIGTERM the node's processes (gateway, IPFS node, chain node; or those of them in
    ``only``), wait until they are gone, SIGKILL what still runs after ``timeout_s``; returns the
    names of those that were running."""
    wanted = set(only)
    pids = {
        p: pid
        for p in reversed(PROCESSES)
        if p in wanted and (pid := running_pid(node, p)) is not None
    }
    for pid in pids.values():
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process, pid in pids.items():
        while not _gone(pid, _marker(node, process)):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
    for process in wanted:
        node.pid_file(process).unlink(missing_ok=True)
    return list(pids)


def _gone(pid: int, marker: str) -> bool:
    """Whether ``pid`` no longer runs; if it is our child (`medledger up` started it), its exit
    status is collected so it does not linger as a zombie (it is exiting: the wait is short)."""
    if _alive(pid, marker):
        return False
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return True


@dataclass(frozen=True)
class ProcessStatus:
    process: str
    pid: int | None
    url: str
    healthy: bool


def status(node: OrgNode) -> list[ProcessStatus]:
    """What runs of the node now: each process's pid (None: not running), URL, and health."""
    rows = []
    for process, (url, answering) in _probes(node).items():
        pid = running_pid(node, process)
        rows.append(ProcessStatus(process, pid, url, pid is not None and answering()))
    return rows
