"""Run the installed OpenStack clients as `subprocess.run` would, faster.

`run` takes the same arguments the tests give `subprocess.run`. For the
`openstack` and `swift` commands of this virtual environment it asks a warm
parent (tests/clizygote.py) to fork the real command with the caller's
argv, environment, working directory and streams, which saves the second
or so each command otherwise spends importing itself. Anything else, or
STRATUS_TEST_WARM_CLI=0, goes to `subprocess.run` unchanged.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

BIN = Path(sys.executable).parent
WARM = {str(BIN / "openstack"): "openstack", str(BIN / "swift"): "swift"}
ZYGOTE = Path(__file__).with_name("clizygote.py")

_lock = threading.Lock()
_socket_path: str | None = None
_failed = False


def _zygote() -> str | None:
    """The warm parent's socket, started on first use; None if it can't run."""
    global _socket_path, _failed
    with _lock:
        if _socket_path or _failed:
            return _socket_path
        folder = tempfile.mkdtemp(prefix="stratus-cli-")
        path = os.path.join(folder, "sock")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        proc = subprocess.Popen(
            [sys.executable, str(ZYGOTE), path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line or set(json.loads(line).get("ready", [])) != set(WARM.values()):
            proc.kill()
            _failed = True
            return None

        def stop() -> None:
            if proc.stdin:
                proc.stdin.close()  # the zygote exits at end of input
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

        atexit.register(stop)
        _socket_path = path
        return path


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """`subprocess.run(argv, **kwargs)`, with the OpenStack clients forked warm."""
    prog = WARM.get(str(argv[0]))
    supported = {"env", "capture_output", "text", "timeout", "stdin", "cwd", "input", "check"}
    if (
        prog is None
        or os.environ.get("STRATUS_TEST_WARM_CLI", "1") == "0"
        or not kwargs.get("capture_output")
        or set(kwargs) - supported
        or kwargs.get("stdin") not in (None, subprocess.DEVNULL)
    ):
        return subprocess.run(argv, **kwargs)
    path = _zygote()
    if path is None:
        return subprocess.run(argv, **kwargs)
    return _run_warm(path, prog, [str(a) for a in argv], **kwargs)


def _run_warm(
    path: str,
    prog: str,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    capture_output: bool = True,
    text: bool = False,
    timeout: float | None = None,
    stdin: Any = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | bytes | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[Any]:
    request = {
        "prog": prog,
        "argv": [prog, *argv[1:]],
        "env": dict(os.environ if env is None else env),
        "cwd": os.fspath(cwd) if cwd is not None else os.getcwd(),
    }
    payload = json.dumps(request).encode()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, _stdin_for(input) as inp:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(path)
            socket.send_fds(conn, [len(payload).to_bytes(4, "big") + payload], [inp.fileno(), out.fileno(), err.fileno()])
            conn.settimeout(timeout)
            reader = conn.makefile("rb")
            pid = 0
            try:
                pid = json.loads(reader.readline())["pid"]
                line = reader.readline()
            except TimeoutError:
                line = b""
                if pid:
                    os.killpg(pid, signal.SIGKILL)
                stdout, stderr = _read(out), _read(err)
                raise subprocess.TimeoutExpired(argv, timeout or 0, stdout, stderr) from None
        if not line:
            raise RuntimeError(f"the warm CLI parent lost {' '.join(argv)}")
        returncode = int(json.loads(line)["rc"])
        stdout, stderr = _read(out), _read(err)
    result: subprocess.CompletedProcess[Any] = subprocess.CompletedProcess(
        argv, returncode, _decode(stdout) if text else stdout, _decode(stderr) if text else stderr
    )
    if check:
        result.check_returncode()
    return result


def _read(f: IO[bytes]) -> bytes:
    f.seek(0)
    return f.read()


def _stdin_for(data: str | bytes | None) -> IO[bytes]:
    if data is None:
        return open(os.devnull, "rb")
    f = tempfile.TemporaryFile()
    f.write(data.encode() if isinstance(data, str) else data)
    f.seek(0)
    return f
