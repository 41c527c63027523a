"""Print uv's arguments for the package sources pip is configured with, one per line.

tools/setup.sh installs with uv (about ten times faster than pip here), and uv reads no pip.conf: this
carries pip's index, extra indexes, find-links and constraints over (from `pip config list`, which also
shows PIP_* variables), so uv installs exactly what pip would have.
"""
from __future__ import annotations

import shlex
import subprocess
import sys

FLAGS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
         "constraint": "--constraint"}


def uv_args(config_list: str) -> list[str]:
    out: list[str] = []
    for line in config_list.splitlines():
        key, sep, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if not sep or name not in FLAGS:
            continue
        for word in shlex.split(value):
            for item in word.split():
                pair = [FLAGS[name], item]
                if not any(out[i:i + 2] == pair for i in range(0, len(out), 2)):
                    out += pair
    return out


if __name__ == "__main__":
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    print("\n".join(uv_args(listed)))
