"""tools/setup.sh installs with uv from the sources pip is configured with (tools/pip_to_uv.py)."""
from __future__ import annotations

from tests.tool_support import load_tool


def _uv_args():
    return load_tool("pip_to_uv").uv_args


def test_pip_settings_become_uv_arguments_once_each():
    listed = "\n".join([
        ":env:.find-links='/opt/wheels'",
        ":env:.default-timeout='180'",
        "global.constraint='/etc/xdg/pip/constraints.txt'",
        "global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'",
        "global.find-links='/opt/wheels'",
        "user.index-url='https://mirror.example/simple'",
        "global.cert='/etc/ssl/certs/ca-certificates.crt'",
    ])
    assert _uv_args()(listed) == [
        "--find-links", "/opt/wheels",
        "--constraint", "/etc/xdg/pip/constraints.txt",
        "--extra-index-url", "file:///opt/pypi/simple", "--extra-index-url", "file:///opt/pypi-more/simple",
        "--index-url", "https://mirror.example/simple",
    ]


def test_no_pip_settings_give_no_arguments():
    assert _uv_args()("") == []
    assert _uv_args()("global.timeout='60'\nnot a setting line") == []
