"""A local anvil node for development and tests, its state kept in a directory across restarts.

Gas-free like the consortium network (base fee and gas price 0); it logs to a file, not the console.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from ledger.errors import ChainUnavailable, ConfigError, LedgerError

_REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_FILE = "anvil-state.json"
LOG_FILE = "anvil.log"
_RECENT_STATES = 256


def is_listening(url: str, timeout_s: float = 1.0) -> bool:
    """Whether a JSON-RPC node answers ``eth_chainId`` at ``url``."""
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        response = httpx.post(url, json=request, timeout=timeout_s)
        return response.status_code == 200 and "result" in response.json()
    except (httpx.HTTPError, ValueError):
        return False


def find_anvil(binary: Path | None = None) -> Path:
    """``binary`` if given, else the repo's node_modules/.bin/anvil, else anvil on PATH."""
    if binary is not None:
        if not binary.is_file():
            raise ConfigError(f"anvil binary {binary} does not exist")
        return binary
    local = _REPO_ROOT / "node_modules" / ".bin" / "anvil"
    if local.is_file():
        return local
    on_path = shutil.which("anvil")
    if on_path is None:
        raise ConfigError("anvil not found: run `npm ci` or set MEDLEDGER_ANVIL_BIN")
    return Path(on_path)


class NodeProcess:
    """A chain client run as a child process in its own session (a terminal's Ctrl-C reaches us,
    and we stop nodes in order), logging to a file. Subclasses say how to reach it, where it logs,
    which signal stops it gracefully, what "ready" means beyond answering JSON-RPC, and which
    error says it did not come up."""

    name = "node"
    stop_signal = signal.SIGINT
    stop_timeout_s = 10.0
    unavailable: type[LedgerError] = ChainUnavailable

    def __init__(
        self, *, host: str, rpc_port: int, log_file: Path, startup_timeout_s: float
    ) -> None:
        self.host = host
        self.rpc_port = rpc_port
        self.log_file = log_file
        self._startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.rpc_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _launch(self, command: list[str], cwd: Path | None = None) -> None:
        """Start ``command`` and return once it is ready; ``unavailable`` if it exits or hangs."""
        if self._answering():
            raise ConfigError(f"a node already answers at {self.url}; choose other ports")
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - a fixed argument list, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=cwd,
            )
        deadline = time.monotonic() + self._startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code, self._proc = self._proc.returncode, None
                raise self.unavailable(f"{self.name} exited with {code}: {self._log_tail()}")
            if self._ready():
                return
            time.sleep(0.05)
        self.stop()
        raise self.unavailable(
            f"{self.name} did not answer at {self.url} within {self._startup_timeout_s:.0f}s; "
            f"see {self.log_file}"
        )

    def _answering(self) -> bool:
        """Whether something already answers at ``url`` (then another node holds the port)."""
        return is_listening(self.url)

    def _ready(self) -> bool:
        return self._answering()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop gracefully (the node saves its state), killing it if it hangs; nothing if not
        running."""
        self.request_stop()
        self.wait_stopped(self.stop_timeout_s if timeout_s is None else timeout_s)

    def request_stop(self) -> None:
        """Ask the node to shut down; ``wait_stopped`` waits for it."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(self.stop_signal)

    def wait_stopped(self, timeout_s: float | None = None) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.wait(timeout=self.stop_timeout_s if timeout_s is None else timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Crash the node (SIGKILL): what a power cut or an OOM kill does."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_file.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "no log"
        return " | ".join(text[-lines:]) or f"no output in {self.log_file}"

    def start(self) -> Self:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Anvil(NodeProcess):
    """One anvil process on ``host:port``; a context manager that starts it and stops it."""

    name = "anvil"

    def __init__(
        self,
        *,
        state_dir: Path,
        port: int = 8545,
        chain_id: int = 31337,
        binary: Path | None = None,
        host: str = "127.0.0.1",
        hardfork: str | None = None,
        state_interval_s: int = 5,
        startup_timeout_s: float = 15.0,
    ) -> None:
        super().__init__(
            host=host,
            rpc_port=port,
            log_file=state_dir / LOG_FILE,
            startup_timeout_s=startup_timeout_s,
        )
        self.state_dir = state_dir
        self.port = port
        self.chain_id = chain_id
        self.hardfork = hardfork
        self._binary = binary
        self._state_interval_s = state_interval_s

    def start(self) -> Self:
        """Start the node, loading its saved state if any; returns once JSON-RPC answers."""
        if self._proc is not None:
            return self
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._launch(
            [
                str(find_anvil(self._binary)),
                *("--host", self.host, "--port", str(self.port), "--chain-id", str(self.chain_id)),
                # Gas-free like the consortium; without the last flag eth_gasPrice says 1 gwei.
                *("--base-fee", "0", "--gas-price", "0", "--disable-min-priority-fee"),
                # --state loads on start and dumps on exit; the interval bounds what a kill loses.
                *("--state", str(self.state_dir / STATE_FILE)),
                *("--state-interval", str(self._state_interval_s)),
                # Keep only recent states, in memory: unpruned, anvil writes every state to disk
                # and slows as the chain grows; fully pruned, it refuses calls at past blocks,
                # which replaying a failed transaction at its parent block needs.
                *("--prune-history", str(_RECENT_STATES)),
                *("--color", "never"),
                # e.g. "paris" to stand in for the pre-Shanghai PoA clients our bytecode targets.
                *(("--hardfork", self.hardfork) if self.hardfork else ()),
            ]
        )
        return self
