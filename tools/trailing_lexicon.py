"""Write nlu/data/trailing_words.yaml: the words after which a caller has not finished, from two public
part-of-speech lexicons, neither of which comes from this project's turn set.

- Mandarin: jieba's dictionary (jieba 0.42.1, jieba/dict.txt, "word frequency tag"): the conjunctions (tag c)
  of frequency 2000 or more and two characters or more (a one-character conjunction, 和 or 而, ends too many
  other words).
- English: the Brill tagger's lexicon as TextBlob ships it (TextBlob 0.20.1, textblob/en/en-lexicon.txt, one
  most likely Penn tag per word): conjunctions (CC), prepositions and subordinating conjunctions (IN), "to" (TO)
  and possessive determiners (PRP$), plus the articles "the" and "an". Other determiners (some, both, neither,
  this) stand alone as pronouns, so they are left out; so are words of one letter (Whisper writes letters as
  words: "option A") and anything not all lowercase letters.

Which of these words callers do end answers with (about, for, on; 可以, 不是) is decided at run time, from the
NLU's training corpus (nlu/trailing_words.py), so the file holds the lexicons' words only.

    python tools/trailing_lexicon.py            # downloads both sdists from the package index (pip download)
    python tools/trailing_lexicon.py --jieba-dict DICT --brill-lexicon LEXICON
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "nlu" / "data" / "trailing_words.yaml"
JIEBA = "jieba==0.42.1"
TEXTBLOB = "textblob==0.20.1"
ZH_MIN_FREQ = 2000
EN_TAGS = ("CC", "IN", "TO", "PRP$")
EN_ARTICLES = ("the", "an")


def zh_words(dict_txt: str) -> list[str]:
    out = []
    for line in dict_txt.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "c" and int(parts[1]) >= ZH_MIN_FREQ and len(parts[0]) >= 2:
            out.append(parts[0])
    return sorted(set(out))


def en_words(lexicon_txt: str) -> list[str]:
    out = set(EN_ARTICLES)
    for line in lexicon_txt.splitlines():
        parts = line.split()
        if line.startswith(";;;") or len(parts) < 2:
            continue
        word, tag = parts[0], parts[1]
        if tag in EN_TAGS and re.fullmatch(r"[a-z]{2,}", word):
            out.add(word)
    return sorted(out)


def render(zh: list[str], en: list[str]) -> str:
    def block(words: list[str]) -> str:
        return "\n".join(f"  - \"{w}\"" for w in words)  # quoted: YAML reads on / off as booleans

    return (
        "# Words after which a caller has not finished (conjunctions, prepositions, articles, possessives), from\n"
        "# two public part-of-speech lexicons. Written by tools/trailing_lexicon.py: do not edit by hand.\n"
        "# Words that the NLU's training answers end with are exempt at run time (nlu/trailing_words.py).\n"
        "source:\n"
        f"  zh: \"{JIEBA}, jieba/dict.txt: tag c, frequency >= {ZH_MIN_FREQ}, two characters or more\"\n"
        f"  en: \"{TEXTBLOB}, textblob/en/en-lexicon.txt (Brill 1.14): tags {', '.join(EN_TAGS)}; "
        f"articles {', '.join(EN_ARTICLES)}; lowercase, two letters or more\"\n"
        f"zh:\n{block(zh)}\nen:\n{block(en)}\n")


def _member(archive: Path, suffix: str) -> str:
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as z:
            name = next(n for n in z.namelist() if n.endswith(suffix))
            return z.read(name).decode("utf-8")
    with tarfile.open(archive) as t:
        member = next(m for m in t.getmembers() if m.name.endswith(suffix))
        f = t.extractfile(member)
        assert f is not None
        return f.read().decode("utf-8")


def _download(spec: str, into: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(into), spec], check=True)
    name = spec.split("==")[0]
    return next(p for p in into.iterdir() if p.name.lower().startswith(name))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jieba-dict", type=Path, help="jieba/dict.txt (default: downloaded)")
    ap.add_argument("--brill-lexicon", type=Path, help="textblob/en/en-lexicon.txt (default: downloaded)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        zh_txt = (args.jieba_dict.read_text("utf-8") if args.jieba_dict
                  else _member(_download(JIEBA, Path(tmp)), "jieba/dict.txt"))
        en_txt = (args.brill_lexicon.read_text("utf-8") if args.brill_lexicon
                  else _member(_download(TEXTBLOB, Path(tmp)), "textblob/en/en-lexicon.txt"))
    OUT.write_text(render(zh_words(zh_txt), en_words(en_txt)), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
