"""A warm parent for the OpenStack command-line clients the tests run.

`openstack` and `swift` spend most of each run importing themselves and
their plugins (about 1.3 s of CPU per call here, more than the work asked
of them). This process imports them once, then forks a fresh child per
request: the child is the real client, run by its own console-script entry
point with the caller's argv, environment, working directory and standard
streams, so what a test sees is what the installed command prints. Only the
start-up is shared; nothing a command does survives into the next one.

Run by tests/clirun.py as ``python clizygote.py SOCKET``. It exits when its
standard input closes (the test run that started it has ended).

Protocol, per connection: the caller sends a 4-byte big-endian length and
a JSON request {"prog", "argv", "env", "cwd"}, with the three descriptors
for the child's fds 0, 1 and 2 attached to the first message. The answer
is two JSON lines: {"pid": N} once the child runs, then {"rc": N}.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from typing import Any

PROGRAMS = ("openstack", "swift")


def warm() -> dict[str, Callable[[], Any]]:
    """Import each program's entry point and every plugin module the
    `openstack` command can load, so a child starts with them in memory."""
    mains: dict[str, Callable[[], Any]] = {}
    # cliff names its application after sys.argv[0] when it is imported
    sys.argv[:] = ["openstack"]
    points = importlib.metadata.entry_points()
    for ep in points.select(group="console_scripts"):
        if ep.name in PROGRAMS and ep.name not in mains:
            mains[ep.name] = ep.load()
    for group in points.groups:
        if not group.startswith("openstack."):
            continue
        for ep in points.select(group=group):
            try:
                ep.load()
            except Exception:  # a plugin that can't import fails in the child, as it would anyway
                pass
    return mains


def run_child(main: Callable[[], Any], request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the command, then exit with its status."""
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv[:] = request["argv"]  # in place: some clients keep a reference to the list
    code: Any
    try:
        code = main()
    except SystemExit as exit_:
        code = exit_.code
    except BaseException:
        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def recv_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        more = conn.recv(1 << 16)
        if not more:
            raise EOFError("request cut short")
        data += more
    size = int.from_bytes(data[:4], "big")
    return json.loads(data[4 : 4 + size]), list(fds)


def serve_one(conn: socket.socket, mains: dict[str, Callable[[], Any]]) -> None:
    """In a per-request process: fork the command, report its pid and status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    request, fds = recv_request(conn)
    main = mains[request["prog"]]
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        conn.close()
        run_child(main, request, fds)
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    _pid, status = os.waitpid(pid, 0)
    conn.sendall(json.dumps({"rc": os.waitstatus_to_exitcode(status)}).encode() + b"\n")


def main() -> None:
    path = sys.argv[1]
    mains = warm()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the request processes reap themselves
    print(json.dumps({"ready": sorted(mains)}), flush=True)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _events in selector.select():
            if key.fileobj is sys.stdin:
                if not os.read(sys.stdin.fileno(), 4096):
                    return  # the test run is over
                continue
            conn, _addr = listener.accept()
            if os.fork() == 0:
                listener.close()
                try:
                    serve_one(conn, mains)
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(0)
            conn.close()


if __name__ == "__main__":
    main()
