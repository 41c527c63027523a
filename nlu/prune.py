"""Drop from nlu/data/train every utterance within the evaluation protocol's limit of a test sentence
(and any copy of a dev evaluation row).

`python -m nlu.prune` rewrites the training files in place (comments and layout kept, only the leaking
lines or list items go) and prints what it removed per language. Run it whenever a test set grows;
tests/nlu/test_nlu_protocol.py fails until it has been run.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

from nlu.corpus import TRAIN_DIR, _TextLoader

_INTENT = re.compile(r"^([a-z_]+):\s*$")
_LANG_BLOCK = re.compile(r"^  (zh|en):\s*$")
_LANG_FLOW = re.compile(r"^  (zh|en):\s*(\[.*\])\s*$")
_ITEM = re.compile(r"^    - (.*)$")


def _value(text: str):
    return yaml.load(text, Loader=_TextLoader)


def prune_file(path: Path, too_close, log=None) -> Counter[str]:
    """Rewrite one training file without the utterances `too_close(text)` flags; removed counts per language."""
    removed: Counter[str] = Counter()
    out: list[str] = []
    lang = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if _INTENT.match(line):
            lang = ""
        elif m := _LANG_BLOCK.match(line):
            lang = m.group(1)
        elif m := _LANG_FLOW.match(line):
            lang = m.group(1)
            items = [str(t) for t in _value(m.group(2)) or []]
            kept = [t for t in items if not too_close(t)]
            removed[lang] += len(items) - len(kept)
            for t in items:
                if t not in kept and log:
                    log(f"{path.name}\t{lang}\t{t}")
            line = f"  {lang}: [" + ", ".join(json.dumps(t, ensure_ascii=False) for t in kept) + "]"
        elif (m := _ITEM.match(line)) and lang:
            text = str(_value(m.group(1)))
            if too_close(text):
                removed[lang] += 1
                if log:
                    log(f"{path.name}\t{lang}\t{text}")
                continue
        out.append(line)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return removed


def prune(train_dir: Path = TRAIN_DIR, log=None) -> Counter[str]:
    """Drop what is within the limit of a test sentence, and copies (after normalising) of dev rows."""
    from speech.evalset.material import nlu_eval_rows, test_guard
    from speech.evalset.protocol import normalize

    guard = test_guard()
    copies = {normalize(t) for _, t, _ in nlu_eval_rows()}

    def drop(text: str) -> bool:
        return normalize(text) in copies or guard.too_close(text)

    total: Counter[str] = Counter()
    for path in sorted(train_dir.glob("*.yaml")):
        total.update(prune_file(path, drop, log))
    return total


if __name__ == "__main__":
    counts = prune(log=lambda line: print(line, file=sys.stderr))
    print(json.dumps(dict(counts)))
