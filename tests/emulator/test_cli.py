"""``ais-emulator serve`` / ``python -m ais_emulator serve`` as a process."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import pytest
import requests


def start(*args):
    proc = subprocess.Popen([sys.executable, "-m", "ais_emulator", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    return proc, line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_url_and_stops_cleanly(sig):
    proc, line = start("--host", "127.0.0.1", "--port", "0")
    try:
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert m, line
        url = m.group(0)
        assert requests.get(url + "/v1/health", timeout=5).status_code == 200
        assert requests.post(url + "/v1/buckets/x", json={"action": "create-bck", "name": "",
                                                          "value": None}).status_code == 200
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, out
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_port_in_use_fails_with_message():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "ais_emulator", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "cannot bind" in proc.stderr


def test_usage_errors():
    proc = subprocess.run([sys.executable, "-m", "ais_emulator"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2 and "serve" in proc.stderr


def test_main_in_process_help(capsys):
    from ais_emulator.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    assert "--port" in capsys.readouterr().out


def test_max_object_size_and_a_non_loopback_warning():
    proc, line = start("--host", "0.0.0.0", "--port", "0", "--max-object-size", "1KiB",
                       "--allow-etl-code")
    try:
        # the warnings come first (stderr is merged), then the serving line
        lines = [line]
        while "serving AIStore API" not in lines[-1]:
            lines.append(proc.stdout.readline())
        text = "".join(lines)
        assert "WARNING: bound to 0.0.0.0" in text and "RUN ARBITRARY PYTHON CODE" in text
        port = re.search(r":(\d+)\s*$", lines[-1]).group(1)
        url = f"http://127.0.0.1:{port}"
        assert requests.post(url + "/v1/buckets/x", json={"action": "create-bck"}).status_code == 200
        assert requests.put(url + "/v1/objects/x/ok", data=b"a" * 1024).status_code == 200
        r = requests.put(url + "/v1/objects/x/big", data=b"a" * 1025)
        assert r.status_code == 413 and "max object size 1024" in r.json()["message"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


def test_fault_option_installs_rules():
    proc, line = start("--port", "0", "--fault", "503 op=list first=1", "--fault",
                       "reset after=10 p=0.5")
    try:
        # the rules are in place (and printed) before the serving line
        assert "fault rule 1: 503" in line
        assert "fault rule 2: reset" in proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline()).group(0)
        requests.post(url + "/v1/buckets/x", json={"action": "create-bck"}, timeout=5)
        assert requests.get(url + "/v1/buckets/x", json={"action": "list"},
                            timeout=5).status_code == 503
        rules = requests.get(url + "/v1/__emulator__/faults", timeout=5).json()["rules"]
        assert [(r["kind"], r["fired"]) for r in rules] == [("status", 1), ("reset", 0)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


def test_bad_max_object_size_is_a_usage_error():
    proc = subprocess.run([sys.executable, "-m", "ais_emulator", "serve", "--max-object-size",
                           "lots"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "invalid size" in proc.stderr


def test_bad_fault_option_is_a_usage_error():
    proc = subprocess.run([sys.executable, "-m", "ais_emulator", "serve", "--fault",
                           "reset p=3"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "probability must be within [0, 1]" in proc.stderr
