"""espeak-ng voices for both languages (formant synthesis: robotic but instant and always available).

English uses the en-us voice. Mandarin uses `cmn-latn-pinyin` fed pinyin with tone numbers from
pypinyin, because espeak-ng 1.51's plain `cmn` voice misreads many characters; numbers become
Chinese words first (2000 -> 两千).
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

from speech.audio import decode_wav
from speech.errors import SpeechError
from speech.tts.base import Speech
from speech.tts.text import split_clauses, zh_to_pinyin

SAMPLE_RATE = 22050
VOICES = {"en": "en-us", "zh": "cmn-latn-pinyin"}
SPEED_WPM = {"en": 165, "zh": 150}


def espeak_binary() -> str:
    for name in ("espeak-ng", "espeak"):
        path = shutil.which(name)
        if path:
            return path
    raise SpeechError("espeak-ng is not installed; `apt-get install espeak-ng` "
                      "(or set TTS_ENGINE_EN=piper for English)")


class EspeakTts:
    name = "espeak"
    sample_rate = SAMPLE_RATE

    def __init__(self, speed_wpm: dict[str, int] | None = None) -> None:
        self.binary = espeak_binary()
        self.speed = {**SPEED_WPM, **(speed_wpm or {})}

    def voice_for(self, lang: str, voice: str | None = None) -> str:
        if voice:
            return voice
        if lang not in VOICES:
            raise SpeechError(f"no espeak voice for language {lang!r}; use zh or en")
        return VOICES[lang]

    def _command(self, text: str, lang: str, voice: str | None) -> tuple[list[str], str]:
        v = self.voice_for(lang, voice)
        spoken = zh_to_pinyin(text) if lang == "zh" and v.startswith("cmn-latn") else text
        # -b 1: the input is UTF-8; `--` so text starting with '-' is not taken as an option
        return [self.binary, "--stdout", "-b", "1", "-v", v, "-s", str(self.speed.get(lang, 160)), "--", spoken], v

    def _run(self, cmd: list[str]) -> Speech:
        proc = subprocess.run(cmd, capture_output=True, timeout=30, check=False)
        return self._decode(proc.returncode, proc.stdout, proc.stderr)

    @staticmethod
    def _decode(code: int, out: bytes, err: bytes) -> Speech:
        if code != 0 or not out:
            raise SpeechError(f"espeak-ng failed ({err.decode(errors='replace').strip() or code})")
        audio, rate = decode_wav(out, name="espeak-ng output")
        from speech.audio import to_int16

        return Speech(pcm=to_int16(audio), sample_rate=rate)

    def synthesize(self, text: str, lang: str, voice: str | None = None) -> Speech:
        if not text.strip():
            return Speech(pcm=_silence(0), sample_rate=SAMPLE_RATE)
        cmd, _ = self._command(text, lang, voice)
        return self._run(cmd)

    def stream(self, text: str, lang: str, voice: str | None = None) -> Iterator[Speech]:
        """Clause by clause; the next clause is already being synthesised while this one is consumed."""
        clauses = split_clauses(text, at_commas=True)
        if not clauses:
            return
        pending = self._spawn(clauses[0], lang, voice)
        try:
            for i in range(len(clauses)):
                current = pending
                if i + 1 < len(clauses):
                    pending = self._spawn(clauses[i + 1], lang, voice)
                out, err = current.communicate(timeout=30)
                yield self._decode(current.returncode, out, err)
        finally:  # consumer stopped early (barge-in): do not leave a synthesiser running
            if pending.poll() is None:
                pending.kill()
                pending.communicate()

    def _spawn(self, text: str, lang: str, voice: str | None) -> subprocess.Popen:
        cmd, _ = self._command(text, lang, voice)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _silence(n: int):
    import numpy as np

    return np.zeros(n, dtype=np.int16)
