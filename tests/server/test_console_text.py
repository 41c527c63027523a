"""Both languages first-class: every text key the console's pages and scripts name exists in English and
Chinese, and every code the console shows has a label in both (GET /api/vocab)."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from agent.server.vocab import GROUPS, labels, missing_labels

CONSOLE = Path(__file__).resolve().parents[2] / "agent" / "server" / "console"


def _texts() -> dict[str, dict[str, str]]:
    src = (CONSOLE / "i18n.js").read_text()
    out = subprocess.run(["node", "-e", "global.window={};" + src + ";console.log(JSON.stringify(window.DW_TEXT))"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(subprocess.run(["which", "node"], capture_output=True).returncode != 0, reason="needs node")
def test_every_key_used_by_the_console_is_in_both_languages():
    text = _texts()
    used: set[str] = set()
    for f in CONSOLE.glob("*.html"):
        used |= set(re.findall(r'data-i18n(?:-ph)?="([a-z0-9_]+)"', f.read_text()))
    for f in CONSOLE.glob("*.js"):
        used |= set(re.findall(r'DW\.t\("([a-z0-9_]+)"\)', f.read_text()))
    used |= {f"field_{f}" for f in ("notes", "tags", "scores", "outcome")}
    used |= {f"ps_{s}" for s in ("pending", "kept", "partially_kept", "broken", "cancelled")}
    for lang in ("en", "zh"):
        missing = sorted(k for k in used if not text[lang].get(k))
        assert not missing, (lang, missing)
    same = [k for k in used if text["en"][k] == text["zh"][k] and not re.search(r"HTTP|#|dialwise", text["en"][k])]
    assert not same, same  # a key left in English in the Chinese UI


def test_every_code_has_a_label_in_both_languages():
    assert missing_labels() == []
    vocab = labels()
    for group in GROUPS:
        for code, text in vocab[group].items():
            assert text["en"] and text["zh"] and re.search(r"[\u4e00-\u9fff]", text["zh"]), (group, code)
