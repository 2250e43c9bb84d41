"""A gateway launcher for the crash test: imports the gateway once, then forks a fresh gateway
process per "start" (a restart in ~1 s instead of the ~5 s a cold interpreter takes here).

Commands on stdin, one a line: ``start PORT`` (answers the child's pid), ``kill`` (SIGKILL the
child, reap it), ``stop`` (SIGINT, a clean shutdown, reap it). Settings come from the environment.
"""

from __future__ import annotations

import os
import signal
import sys

import uvicorn

import api.main  # imported before any fork: the children share it, already loaded


def _serve(port: int) -> None:
    app = api.main.app_from_env()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    child = 0
    for line in sys.stdin:
        command, *args = line.split()
        if command == "start":
            child = os.fork()
            if child == 0:
                try:
                    _serve(int(args[0]))
                finally:
                    os._exit(0)
            print(child, flush=True)
        elif command in ("kill", "stop"):
            os.kill(child, signal.SIGKILL if command == "kill" else signal.SIGINT)
            _, status = os.waitpid(child, 0)
            print(status, flush=True)


if __name__ == "__main__":
    main()
