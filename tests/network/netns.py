"""Hosts for tests across real processes: each organisation's processes on a "host" of their own.

As root with iproute2, a host is a network namespace with one address on a private bridge
(``10.77.N.0/24``, the bridge itself ``10.77.N.1`` in the root namespace, where the chain
listens) and no default route: a host reaches the bridge's subnet and nothing else. Otherwise
every host is 127.0.0.1 with ports of its own (``MEDLEDGER_TEST_HOSTS=loopback`` forces that;
``netns`` insists on namespaces). Names carry the creating process's id, so parallel runs do not
clash and what a killed run left is found and removed by the next one::

    bridge   mlbr<pid>                 10.77.N.1/24      (root namespace: anvil)
    host i   netns medledger-<pid>-<i> 10.77.N.(i+2)/24  (veth ml<pid>h<i> on the bridge)
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

import httpx
import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.chain.deploy import load_deployment
from ledger.chain.node import Anvil, NodeProcess
from ledger.errors import ConfigError
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.consortium import Consortium, OrgRecord, seed_demo
from ledger.network.content import SWARM_KEY_FILE
from ledger.network.org import OrgNode, gateway_command
from ledger.network.org_join import publish_peer, sync_peers
from ledger.network.stack import write_demo_org
from ledger.settings import Settings
from ledger.store import IpfsNode, swarm_key_new
from tests.conftest import free_run

Mode = Literal["netns", "loopback"]

_NETNS = re.compile(r"^medledger-(\d+)-\d+$")
_BRIDGE = re.compile(r"^mlbr(\d+)$")
_VETH = re.compile(r"^ml(\d+)h\d+$")
_LOCK = Path("/run/lock/medledger-test-netns.lock")
# Each run's process groups, "<group> <start time>" a line, in a file named for the run's pid: the
# next run kills what a killed run left running (on loopback too, and the chain beside the bridge).
_GROUPS = Path(tempfile.gettempdir()) / "medledger-test-hosts"
# Loopback ports below the ephemeral range, as in tests/store/conftest.py.
_PORTS = itertools.count(26_000, 7)


def _ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_netns(name: str) -> None:
    """SIGKILL every process in namespace ``name``, then delete it (its veth goes with it)."""
    for pid in _ip("netns", "pids", name, check=False).split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    _ip("netns", "del", name, check=False)


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (FileNotFoundError, IndexError):
        return None


def record_group(pid: int) -> None:
    """Note process group ``pid`` (its leader's id) as this run's, for the next run to kill if
    this one is killed before it can."""
    _GROUPS.mkdir(exist_ok=True)
    with (_GROUPS / str(os.getpid())).open("a") as file:
        file.write(f"{pid} {_start_time(pid)}\n")


def _kill_recorded(run: Path) -> None:
    for line in run.read_text().splitlines():
        group, started = line.split()
        # A leader with another start time is another process that got the id since.
        if _start_time(int(group)) in (None, started):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(group), signal.SIGKILL)
    run.unlink(missing_ok=True)


def _stale(pid: str) -> bool:
    return pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid)))


def remove_stale() -> list[str]:
    """Kill the processes and remove the namespaces and bridges of runs that are gone (and of an
    earlier run that had this process's id); returns the names removed."""
    removed = []
    for run in _GROUPS.glob("*") if _GROUPS.is_dir() else ():
        if _stale(run.name):
            _kill_recorded(run)
            removed.append(f"processes of run {run.name}")
    if not namespaces_possible():
        return removed
    for line in _ip("netns", "list", check=False).splitlines():
        name = line.split()[0] if line.strip() else ""
        found = _NETNS.match(name)
        if found and _stale(found[1]):
            _kill_netns(name)
            removed.append(name)
    # A namespace lingers after its deletion while a killed process's socket still holds it
    # (an orphaned TCP connection retrying its FIN), and its veth with it: delete that too.
    for line in _ip("-o", "link", "show", check=False).splitlines():
        name = line.split(":")[1].strip().partition("@")[0]
        found = _BRIDGE.match(name) or _VETH.match(name)
        if found and _stale(found[1]):
            _ip("link", "del", name, check=False)
            removed.append(name)
    return removed


def namespaces_possible() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


@dataclass
class Host:
    """One organisation's machine: its address, and the prefix that runs a command on it."""

    name: str
    address: str
    netns: str | None = None
    veth: str | None = None  # the root namespace's end of its link to the bridge
    groups: list[int] = field(default_factory=list)

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def port(self, fixed: int) -> int:
        """``fixed`` on a host of its own (every machine may use the same port); on loopback,
        a free port of the host's own."""
        return fixed if self.netns else free_run(1, next(_PORTS))

    def adopt(self, pid: int | None) -> None:
        """Count ``pid``'s process group among this host's, for ``power_off``."""
        if pid is not None:
            self.groups.append(pid)
            record_group(pid)

    def power_off(self) -> None:
        """SIGKILL every process group started on this host and, in a namespace, every process
        in it: what pulling the machine's plug does."""
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.groups.clear()
        if self.netns:
            for pid in _ip("netns", "pids", self.netns, check=False).split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)

    def run(self, *command: str) -> str:
        """Run ``command`` on the host; its standard output."""
        done = subprocess.run([*self.prefix, *command], capture_output=True, text=True, check=True)
        return done.stdout

    def counters(self) -> dict[str, int]:
        """The kernel's per-namespace counters of packets that had nowhere to go and of UDP
        sent (``Ip.OutNoRoutes``, ``Ip6.OutNoRoutes``, ``Udp.OutDatagrams``, ...); namespaces
        only."""
        if not self.netns:
            raise ConfigError("per-host counters need a network namespace")
        found: dict[str, int] = {}
        lines = self.run("cat", "/proc/net/snmp").splitlines()
        for names, values in itertools.pairwise(lines):
            head, _, keys = names.partition(":")
            if values.startswith(head + ":") and not keys.strip()[0].isdigit():
                for key, value in zip(keys.split(), values.split(":")[1].split(), strict=True):
                    found[f"{head}.{key}"] = int(value)
        for line in self.run("cat", "/proc/net/snmp6").splitlines():
            key, value = line.split()
            found[key] = int(value)
        return found

    def sockets(self, protocol: Literal["tcp", "udp"], pids: Sequence[int] = ()) -> list[Socket]:
        """The host's sockets (in a namespace, all of them; on loopback, those of ``pids``)."""
        flag = "-tanpH" if protocol == "tcp" else "-uanpH"
        found = []
        for line in self.run("ss", flag).splitlines():
            parts = line.split()
            owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
            if not self.netns and not owners & set(pids):
                continue
            state, local, peer = (parts[0], parts[3], parts[4])
            found.append(Socket(state, local, peer, owners))
        return found


@dataclass(frozen=True)
class Socket:
    state: str
    local: str
    peer: str
    pids: set[int]

    @property
    def peer_host_port(self) -> tuple[str, int]:
        address, _, port = self.peer.rpartition(":")
        return address.strip("[]"), int(port) if port.isdigit() else 0


class Hosts:
    """The machines of one test run: a bridge and a namespace per host, or loopback; one per
    process at a time (the names carry the process's id). Closing kills every process on them
    and removes what was made."""

    def __init__(self, mode: Mode | Literal["auto"] = "auto") -> None:
        wanted = os.environ.get("MEDLEDGER_TEST_HOSTS", mode)
        self.mode: Mode = "loopback"
        self.why = "MEDLEDGER_TEST_HOSTS=loopback" if wanted == "loopback" else ""
        self.hosts: dict[str, Host] = {}
        self._bridge: str | None = None
        self._subnet = ""
        remove_stale()
        if wanted != "loopback":
            if not namespaces_possible():
                self.why = "not root, or no `ip` (iproute2)"
            else:
                try:
                    self._make_bridge()
                    self.mode = "netns"
                except OSError as exc:
                    self.why = str(exc)
                    self.close()
            if wanted == "netns" and self.mode != "netns":
                raise ConfigError(f"MEDLEDGER_TEST_HOSTS=netns, but: {self.why}")

    @property
    def chain_address(self) -> str:
        """Where the chain listens: the bridge (root namespace), or loopback."""
        return f"{self._subnet}.1" if self._bridge else "127.0.0.1"

    def _make_bridge(self) -> None:
        bridge = f"mlbr{os.getpid()}"
        _LOCK.parent.mkdir(parents=True, exist_ok=True)
        # Two runs choosing a subnet at once would choose the same one.
        with _LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = set(re.findall(r"inet 10\.77\.(\d+)\.", _ip("-4", "-o", "addr")))
            free = [n for n in range(256) if str(n) not in used]
            if not free:
                raise OSError("no free 10.77.N.0/24 subnet for a bridge")
            self._subnet = f"10.77.{free[os.getpid() % len(free)]}"
            _ip("link", "add", bridge, "type", "bridge")
            self._bridge = bridge
            _ip("addr", "add", f"{self._subnet}.1/24", "dev", bridge)
            _ip("link", "set", bridge, "up")

    def add(self, name: str) -> Host:
        """A new host for ``name``: in a namespace with the next address on the bridge."""
        if name in self.hosts:
            raise ValueError(f"host {name} exists")
        index = len(self.hosts)
        if self.mode == "loopback":
            host = Host(name, "127.0.0.1")
        else:
            assert self._bridge is not None
            ns, veth = f"medledger-{os.getpid()}-{index}", f"ml{os.getpid()}h{index}"
            host = Host(name, f"{self._subnet}.{index + 2}", ns, veth)
            self.hosts[name] = host  # from here on, close() removes it
            _ip("netns", "add", ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", self._bridge, "up")
            _ip("-n", ns, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        self.hosts[name] = host
        return host

    def close(self) -> None:
        """Kill every host's processes and remove the namespaces and the bridge."""
        for host in self.hosts.values():
            host.power_off()
            if host.netns and host.veth:
                _kill_netns(host.netns)
                _ip("link", "del", host.veth, check=False)
        self.hosts.clear()
        if self._bridge is not None:
            _ip("link", "del", self._bridge, check=False)
            self._bridge = None
        (_GROUPS / str(os.getpid())).unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GatewayProcess(NodeProcess):
    """One organisation's gateway (uvicorn, api.main:app_from_env) on ``host``, in its own
    process group, its settings in its environment."""

    name = "gateway"

    def __init__(self, host: Host, port: int, env: dict[str, str], log_file: Path) -> None:
        super().__init__(
            host=host.address, rpc_port=port, log_file=log_file, startup_timeout_s=60.0
        )
        self.on = host
        self.env = env

    def start(self) -> Self:
        if self._proc is None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            settings = [f"{k}={v}" for k, v in sorted(self.env.items())]
            self._launch(
                [*self.on.prefix, "env", *settings, *gateway_command(self.host, self.rpc_port)]
            )
        return self

    def _ready(self) -> bool:
        if self.pid is not None and self.pid not in self.on.groups:
            self.on.adopt(self.pid)  # at once, not once it answers: a run killed now leaks it
        return self._answering()

    def _answering(self) -> bool:
        try:
            return httpx.get(f"{self.url}/v1/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


def wait_until(condition: object, timeout_s: float, what: str, interval_s: float = 0.2) -> None:
    """Poll ``condition()`` until it is true; AssertionError naming ``what`` if it never is."""
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(interval_s)


@dataclass
class OrgMachine:
    """One organisation's processes on its host: its IPFS node and its gateway, each in its own
    process group, everything under its own directory (keys, deployment, databases, node)."""

    name: str
    host: Host
    directory: OrgNode
    node: IpfsNode
    gateway: GatewayProcess

    def start(self) -> Self:
        self.node.start()
        self.host.adopt(self.node.pid)
        self.gateway.start()
        return self

    def power_off(self) -> None:
        """Kill the gateway and the node outright (SIGKILL on their process groups)."""
        self.host.power_off()
        self.gateway.kill()
        self.node.kill()

    def stop(self) -> None:
        self.gateway.stop()
        self.node.stop()


#: How long a node waits for a block from its peers here: short, so absent content shows fast.
FETCH_TIMEOUT_S = 3.0


def free_port_on(address: str) -> int:
    """A TCP port nothing listens on at ``address`` (nor on all addresses) when asked."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class SeparateConsortium:
    """The demo consortium's chain (one anvil, root namespace) and some of its organisations,
    each on a machine of its own, sharing nothing but the chain and the swarm key."""

    hosts: Hosts
    anvil: Anvil
    w3: Web3
    consortium: Consortium
    swarm_key: Path
    orgs: dict[str, OrgMachine]

    @property
    def chain(self) -> Chain:
        """The chain as any member reads it (the deployment as the regulator's node keeps it)."""
        root = self.orgs["regulator"].directory.root
        return Chain(self.w3, load_deployment(self.w3, root, chain_id=self.consortium.chain_id))

    def staff(self, org: str, label: str) -> LocalAccount:
        return self.consortium.account(self.consortium.orgs[org].staff[label].key_file)

    def client(self, account: LocalAccount, on: str) -> GatewayClient:
        """A client of ``on``'s gateway, signing as ``account``."""
        url = self.orgs[on].gateway.url
        return GatewayClient(url, account, fetch_domain(url), timeout=60)

    def as_staff(self, org: str, label: str) -> GatewayClient:
        """Staff of ``org`` at their own organisation's gateway."""
        return self.client(self.staff(org, label), org)


def org_machine(
    root: Path, host: Host, record: OrgRecord, rpc_url: str, extra: dict[str, str]
) -> OrgMachine:
    """``record``'s machine on ``host``: its directory as `medledger up` writes it (org.env, its
    key, its copies of the deployment and swarm key) with the host's address and ports, an IPFS
    node and a gateway run from it under the host's prefix (not yet started)."""
    inherited = Settings(
        data_dir=root, content_fetch_timeout_s=FETCH_TIMEOUT_S, ipfs_redial_interval_s=0.5
    )
    values = {
        "MEDLEDGER_RPC_URL": rpc_url,
        "MEDLEDGER_CHAIN_ID": str(inherited.chain_id),
        "MEDLEDGER_API_HOST": host.address,
        "MEDLEDGER_API_PORT": str(host.port(8000)),
        "MEDLEDGER_IPFS_HOST": host.address,
        # The tests read every node's RPC API from the root namespace, so it listens on the
        # host's bridge address here; an organisation's node keeps it on loopback by default.
        "MEDLEDGER_IPFS_API_HOST": host.address,
        "MEDLEDGER_IPFS_API_PORT": str(host.port(5001)),
        "MEDLEDGER_IPFS_SWARM_PORT": str(host.port(4001)),
        "MEDLEDGER_BULK_WORKERS": "0",
        # An access-log batch or a record batch's manifest a node could not fetch within the short
        # timeout above (a loaded machine) is asked for again at the next read after this, not a
        # minute later.
        "MEDLEDGER_ACCESS_TRAIL_RETRY_S": "2",
        "MEDLEDGER_BATCH_MANIFEST_RETRY_S": "2",
        **extra,
    }
    directory = write_demo_org(inherited, root, record, values)
    own = directory.settings()
    node = IpfsNode(
        repo_dir=directory.root / "ipfs",
        swarm_key=directory.swarm_key,
        api_port=own.ipfs_api_port,
        swarm_port=own.ipfs_swarm_port,
        host=own.ipfs_host,
        api_host=own.ipfs_api_host,
        fetch_timeout_s=own.content_fetch_timeout_s,
        redial_interval_s=own.ipfs_redial_interval_s,
        prefix=host.prefix,
    )
    gateway = GatewayProcess(host, own.api_port, directory.env(), directory.log_file("gateway"))
    return OrgMachine(record.name, host, directory, node, gateway)


@contextlib.contextmanager
def separate_consortium(
    root: Path, made: Hosts, orgs: Sequence[str], extra: dict[str, dict[str, str]] | None = None
) -> Iterator[SeparateConsortium]:
    """Seed the demo consortium on an anvil on the bridge, then start ``orgs`` each on a host of
    its own, their IPFS nodes peered with each other; everything stopped on exit."""
    anvil = Anvil(
        state_dir=root / "chain", host=made.chain_address, port=free_port_on(made.chain_address)
    )
    with anvil, requests.Session() as session:
        assert anvil.pid is not None
        record_group(anvil.pid)
        session.trust_env = False
        w3 = Web3(Web3.HTTPProvider(anvil.url, session=session))
        consortium = seed_demo(w3, root, anvil.url, api_port=1)
        swarm_key = swarm_key_new(root / SWARM_KEY_FILE)
        machines = {
            name: org_machine(
                root, made.add(name), consortium.orgs[name], anvil.url, (extra or {}).get(name, {})
            )
            for name in orgs
        }
        try:
            for machine in machines.values():
                machine.node.start()
                machine.host.adopt(machine.node.pid)
                publish_peer(machine.directory)  # its peer id and address, on chain
            for machine in machines.values():
                sync_peers(machine.directory)  # every other member's, from the chain
            # Side by side: each gateway spends seconds importing before it answers.
            with ThreadPoolExecutor(len(machines)) as pool:
                list(pool.map(lambda m: m.gateway.start(), machines.values()))
            yield SeparateConsortium(made, anvil, w3, consortium, swarm_key, machines)
        finally:
            # Gateways first: one stopping seals its access log onto its node.
            for machine in machines.values():
                machine.gateway.request_stop()
            for machine in machines.values():
                machine.gateway.wait_stopped()
                machine.node.request_stop()
            for machine in machines.values():
                machine.node.wait_stopped()
