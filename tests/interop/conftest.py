"""Shared fixtures: start mclocal on a free port with a temporary data directory."""

import os
import signal
import subprocess
import time

import pytest


def _binary(var):
    path = os.environ.get(var)
    if not path or not os.path.exists(path):
        pytest.fail(f"{var} must point at the built binary (ctest sets it); got {path!r}")
    return path


class MclocalProcess:
    """One mclocal server; restart() keeps the data directory (kill -9 tests)."""

    def __init__(self, tmp_path, auth="permissive", keys=None, extra_args=()):
        self.bin = _binary("MCLOCAL_BIN")
        self.data_dir = tmp_path / "data"
        self.port_file = tmp_path / "port"
        self.log_path = tmp_path / "mclocal.log"
        self.keys_file = None
        self.auth = auth
        self.extra_args = list(extra_args)
        if keys:
            self.keys_file = tmp_path / "keys"
            self.keys_file.write_text("".join(f"{k} {v}\n" for k, v in keys.items()))
        self.proc = None
        self.port = None
        self.start()

    def start(self, extra_args=()):
        try:
            self._start(self.port or 0, extra_args)
        except RuntimeError:
            if not self.port:
                raise
            # Restarting on the previous port failed (taken meanwhile): take any free port;
            # clients read the endpoint from this object.
            self._start(0, extra_args)

    def _start(self, port, extra_args):
        if self.port_file.exists():
            self.port_file.unlink()
        args = [self.bin, f"--address=127.0.0.1:{port}", f"--port_file={self.port_file}",
                f"--data_dir={self.data_dir}", f"--auth={self.auth}"]
        if self.keys_file:
            args.append(f"--keys_file={self.keys_file}")
        args += self.extra_args + list(extra_args)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.port_file.exists():
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"mclocal exited with {self.proc.returncode}: "
                                   f"{self.log_path.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("mclocal did not write its port file within 30 s")
            time.sleep(0.02)
        self.port = int(self.port_file.read_text().strip())

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def tunnel_endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()
        self.log.close()

    def wait_exit(self, timeout=30):
        self.proc.wait(timeout=timeout)
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


@pytest.fixture
def start_mclocal(tmp_path):
    started = []

    def start(**kwargs):
        server = MclocalProcess(tmp_path / f"mclocal{len(started)}", **kwargs)
        started.append(server)
        return server

    for d in range(4):
        (tmp_path / f"mclocal{d}").mkdir()
    yield start
    for server in started:
        server.stop()


@pytest.fixture
def mclocal(start_mclocal):
    return start_mclocal()
