"""A real SIP callee for the tests and `bench networks`: Debian's baresip, started in its own config folder.

- `audio_source aufile,<wav>`: the callee's whole side (speech and pauses) is its microphone; baresip
  hangs up when the WAV ends (that is the callee hanging up).
- the `sndfile` filter records both directions to <dir>/dump/*-enc.wav (what the callee said) and
  *-dec.wav (what the callee heard), sample-aligned from the moment its audio started.
- `ctrl_tcp` (netstring JSON) accepts/hangs up calls and reports events; `cons` (UDP) takes the
  menu's keys, which during a call send RFC 4733 DTMF.
Each account line is one callee; the user part of the request-URI picks it (unknown user: 404).
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from telephony_adapter.sim.procs import stop_process

BARESIP = shutil.which("baresip")
MODULES = "/usr/lib/baresip/modules"


def ensure_baresip() -> str | None:
    """Path of baresip; installs it with apt when missing and we are root. None: not possible."""
    global BARESIP
    if BARESIP:
        return BARESIP
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "baresip"], env=env, capture_output=True, timeout=600)
        BARESIP = shutil.which("baresip")
    return BARESIP


# Ports for baresip and the SIP tests' peers, chosen below the kernel's ephemeral range (32768-60999) and
# above baresip's RTP ports: a port from bind(0) lies in the ephemeral range, where any process's outgoing
# connection can take it between our check and the peer's bind (CI saw baresip's TLS bind fail so).
SIP_PORTS = (30000, 32700)
UDP, TCP = socket.SOCK_DGRAM, socket.SOCK_STREAM


def _binds(kind: int, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_for(*binds: tuple[int, int], ports: tuple[int, int] = SIP_PORTS,
                  rng: random.Random | None = None, skip: frozenset[int] = frozenset()) -> int:
    """A port in `ports` (start, stop), not in `skip`, where each (socket kind, offset) bind on 127.0.0.1
    succeeds now."""
    rng = rng or random.Random()
    for _ in range(200):
        port = rng.randrange(*ports)
        if port not in skip and all(_binds(kind, port + offset) for kind, offset in binds):
            return port
    raise RuntimeError(f"no free port in {ports[0]}-{ports[1]}")


def free_udp_port() -> int:
    return free_port_for((UDP, 0))


def free_tcp_port() -> int:
    return free_port_for((TCP, 0))


def free_sip_port(rng: random.Random | None = None) -> int:
    """A port where baresip's `sip_listen` can bind all it binds: UDP and TCP on the port, TLS (TCP) on the next."""
    return free_port_for((UDP, 0), (TCP, 0), (TCP, 1), rng=rng)


def write_wav8k(path: Path, pcm: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.asarray(pcm, dtype="<i2").tobytes())
    return path


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


@dataclass
class Callee:
    user: str = "callee"
    answermode: str = "auto"  # auto | manual (rings until told) | early (183 with media, then manual)
    codecs: str = "PCMA,PCMU"
    extra: str = ""  # more account parameters, e.g. ";call_transfer=no"
    audio_source: str = ""  # this callee's own microphone WAV at the start of a call (else the config's)

    def params(self) -> str:
        source = f";audio_source=aufile,{self.audio_source}" if self.audio_source else ""
        return f"regint=0;answermode={self.answermode};audio_codecs={self.codecs}{source}{self.extra}"


class Baresip:
    """One baresip process on 127.0.0.1 with the given callees and microphone WAV."""

    def __init__(self, folder: Path, wav: Path, callees: list[Callee], *, max_calls: int = 4) -> None:
        self.folder = folder
        self.wav = wav
        self.callees = callees
        self._pick_ports()
        self.dump = folder / "dump"
        self.max_calls = max_calls
        self.proc: subprocess.Popen | None = None
        self._log: BinaryIO | None = None
        self.events: list[dict] = []
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._buf = b""
        self.lock = threading.Lock()  # one callee's command pair (select its account, act) at a time

    def _pick_ports(self) -> None:
        self.port = free_sip_port()
        self.ctrl_port = free_tcp_port()
        self.cons_port = free_udp_port()

    def uri(self, user: str = "callee") -> str:
        return f"sip:{user}@127.0.0.1:{self.port}"

    def write_config(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dump.mkdir(exist_ok=True)
        conf = f"""poll_method epoll
sip_listen 127.0.0.1:{self.port}
call_local_timeout 120
call_max_calls {self.max_calls}
audio_source aufile,{self.wav}
audio_srate 8000
audio_channels 1
audio_level no
statmode_default off
jitter_buffer_delay 1-10
rtp_ports 20000-29999
module_path {MODULES}
module g711.so
module aufile.so
module sndfile.so
module cons.so
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}
cons_listen 127.0.0.1:{self.cons_port}
snd_path {self.dump}
"""
        (self.folder / "config").write_text(conf)
        lines = [f"<sip:{c.user}@127.0.0.1:{self.port}>;{c.params()}" for c in self.callees]
        (self.folder / "accounts").write_text("\n".join(lines) + "\n")
        (self.folder / "contacts").write_text("")

    def start(self, timeout: float = 10.0, attempts: int = 3) -> Baresip:
        """Start baresip; a port taken between choosing it and baresip binding it means new ports and a retry."""
        if BARESIP is None:
            raise RuntimeError("baresip is not installed: apt-get install baresip (ensure_baresip does it as root)")
        for attempt in range(attempts):
            if self._launch(timeout):
                break
            if attempt == attempts - 1 or b"Address already in use" not in self.log_path.read_bytes():
                raise RuntimeError(f"baresip did not start: {self.log()[-2000:]}")
            self._pick_ports()
        self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5)
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_ctrl, daemon=True)
        self._reader.start()
        return self

    def _launch(self, timeout: float) -> bool:
        """One baresip process; True once it is ready, False (process ended) if it failed or timed out."""
        self.write_config()
        self.log_path = self.folder / "baresip.log"
        if self._log is not None:
            self._log.close()
        self._log = open(self.log_path, "wb")
        assert BARESIP is not None
        self.proc = subprocess.Popen([BARESIP, "-f", str(self.folder)], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while b"baresip is ready" not in self.log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                if self.proc.poll() is None:
                    self.proc.kill()
                self.proc.wait(5)
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        if self.proc is not None:
            stop_process(self.proc)
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Baresip:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")

    # --- control ------------------------------------------------------------------------------
    def command(self, command: str, params: str = "") -> None:
        """A menu command over ctrl_tcp (accept, hangup, ...)."""
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        if self._sock is None:
            raise RuntimeError("baresip is not started")
        self._sock.sendall(b"%d:%s," % (len(body), body))

    def on(self, aor: str, command: str, params: str = "") -> None:
        """`command` for the callee `aor` alone: baresip's menu acts on its current account, so select it
        first (several callees may be in calls at once; `lock` keeps each pair together)."""
        with self.lock:
            self.command("uafind", aor)
            self.command(command, params)

    def keys_on(self, aor: str, keys: str) -> None:
        """Keypad DTMF from the callee `aor` (the console acts on the current account too)."""
        with self.lock:
            self.command("uafind", aor)
            time.sleep(0.2)  # the console's keys come over another socket: let the selection land first
            self.keys(keys)

    def keys(self, keys: str, press_s: float = 0.15, gap_s: float = 0.15) -> None:
        """Press keys on baresip's console: during a call, 0-9*# send RFC 4733 DTMF. Each press is
        followed by baresip's key-release code (0x04), which ends the telephone-event."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for k in keys:
                s.sendto(k.encode(), ("127.0.0.1", self.cons_port))
                time.sleep(press_s)
                s.sendto(b"\x04", ("127.0.0.1", self.cons_port))
                time.sleep(gap_s)

    def _read_ctrl(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            self._buf += data
            while (m := re.match(rb"(\d+):", self._buf)) and len(self._buf) >= m.end() + int(m.group(1)) + 1:
                n = int(m.group(1))
                body = self._buf[m.end(): m.end() + n]
                self._buf = self._buf[m.end() + n + 1:]
                try:
                    self.events.append({**json.loads(body), "at": time.monotonic()})
                except ValueError:
                    pass

    def event_types(self) -> list[str]:
        return [e.get("type", "") for e in self.events if e.get("event")]

    def find_event(self, kind: str, aor: str | None = None, since: float = 0.0) -> dict | None:
        """The first `kind` event so far (of account `aor`, reported at or after `since` on time.monotonic())."""
        for e in list(self.events):
            if e.get("event") and e.get("type") == kind and aor in (None, e.get("accountaor")) and e["at"] >= since:
                return e
        return None

    def wait_event(self, kind: str, timeout: float = 10.0, aor: str | None = None, since: float = 0.0) -> dict:
        """The first `kind` event (as find_event), waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (e := self.find_event(kind, aor, since)) is not None:
                return e
            time.sleep(0.02)
        raise AssertionError(f"baresip never reported {kind}; events: {self.event_types()}")

    # --- what the callee heard and said -------------------------------------------------------
    def dumps(self) -> tuple[np.ndarray, np.ndarray]:
        """(said, heard) of the last call: the encoder and decoder dumps, 8 kHz int16."""
        enc = sorted(self.dump.glob("*-enc.wav"))
        dec = sorted(self.dump.glob("*-dec.wav"))
        if not enc or not dec:
            raise AssertionError(f"no sndfile dumps in {self.dump}")
        return read_wav(enc[-1]), read_wav(dec[-1])
