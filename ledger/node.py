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

from ledger.errors import ChainUnavailable, ConfigError

_REPO_ROOT = Path(__file__).resolve().parent.parent
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


class Anvil:
    """One anvil process on ``host:port``; a context manager that starts it and stops it."""

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
        self.state_dir = state_dir
        self.port = port
        self.chain_id = chain_id
        self.host = host
        self.hardfork = hardfork
        self._binary = binary
        self._state_interval_s = state_interval_s
        self._startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.state_dir / LOG_FILE

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the node, loading its saved state if any; returns once JSON-RPC answers."""
        if self._proc is not None:
            return self
        if is_listening(self.url):
            raise ConfigError(f"a node already answers at {self.url}; choose another port")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(find_anvil(self._binary)),
            *("--host", self.host, "--port", str(self.port), "--chain-id", str(self.chain_id)),
            # Gas-free like the consortium; without the last flag eth_gasPrice still says 1 gwei.
            *("--base-fee", "0", "--gas-price", "0", "--disable-min-priority-fee"),
            # --state loads on start and dumps on exit; the interval bounds what a kill loses.
            *("--state", str(self.state_dir / STATE_FILE)),
            *("--state-interval", str(self._state_interval_s)),
            # Keep only recent states, in memory: unpruned, anvil writes every state to disk and
            # slows as the chain grows; fully pruned, it refuses calls at past blocks, which
            # replaying a failed transaction at its parent block needs.
            *("--prune-history", str(_RECENT_STATES)),
            *("--color", "never"),
            # e.g. "paris" to stand in for the pre-Shanghai PoA clients our bytecode targets.
            *(("--hardfork", self.hardfork) if self.hardfork else ()),
        ]
        with self.log_file.open("ab") as log:
            # Own session: a terminal's Ctrl-C reaches us, and we stop the node in order.
            self._proc = subprocess.Popen(  # noqa: S603 - a fixed argument list, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the node gracefully so it writes its state; does nothing if it is not running."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self.stop()
                raise ChainUnavailable(f"anvil exited with {code}: {self._log_tail()}")
            if is_listening(self.url):
                return
            time.sleep(0.05)
        self.stop()
        raise ChainUnavailable(
            f"anvil did not answer at {self.url} within {self._startup_timeout_s:.0f}s; "
            f"see {self.log_file}"
        )

    def _log_tail(self, lines: int = 5) -> str:
        text = self.log_file.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or f"no output in {self.log_file}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
