"""Answering-machine detection from the first seconds of a call.

Signals, cheapest first:
- voicemail phrases in the early transcript (zh and en), e.g. 请在提示音后留言, leave a message after the tone;
- the beep: a steady pure tone (roughly 500-2500 Hz, typically ~1 kHz) lasting >= 100 ms;
- greeting length and cadence: people answer with a short "喂?" / "Hello?" and then wait; machines talk
  on for many seconds with only short pauses.

`feed(frame)` takes 20 ms int16 frames (any rate) and returns the current verdict: "human", "machine"
or "unknown". The verdict is final once `decided`; beep detection keeps running after a machine
verdict, so the session can wait for `beep_at_ms` before leaving its voicemail message.
"""
from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

HUMAN, MACHINE, UNKNOWN = "human", "machine", "unknown"
FIXTURES_DIR = Path(__file__).with_name("amd_fixtures")

VOICEMAIL_PHRASES = {
    "zh": [
        "请在提示音后留言", "提示音后留言", "请留言", "留言", "嘀声后", "哔声后", "语音信箱",
        "暂时无人接听", "无人接听", "暂时无法接通", "无法接通", "不在服务区", "已关机", "正在通话中",
        "您拨打的电话", "您拨打的用户", "稍后再拨",
    ],
    "en": [
        "leave a message", "leave your message", "after the tone", "after the beep", "at the tone",
        "not available", "unavailable", "can't take your call", "cannot take your call",
        "can't come to the phone", "voicemail", "voice mail", "mailbox", "record your message",
        "the person you are calling", "the number you have dialed", "please try again later",
    ],
}


def match_voicemail_phrase(text: str) -> str | None:
    """The voicemail phrase found in `text` (either language), or None."""
    if not text:
        return None
    zh = re.sub(r"[\s，,。．.！!？?、：:；;\"'“”‘’]", "", text)
    for phrase in VOICEMAIL_PHRASES["zh"]:
        if phrase in zh:
            return phrase
    en = " ".join(re.sub(r"[^a-z' ]", " ", text.lower().replace("’", "'")).split())
    for phrase in VOICEMAIL_PHRASES["en"]:
        if phrase in en:
            return phrase
    return None


@dataclass
class AmdResult:
    verdict: str
    reason: str
    beep_at_ms: int | None
    greeting_ms: int
    initial_silence_ms: int | None
    decided_at_ms: int | None
    phrase: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AnsweringMachineDetector:
    """Streaming AMD. All times are milliseconds of call audio since the first frame."""

    def __init__(
        self,
        *,
        max_human_greeting_ms: int = 4200,
        end_of_greeting_silence_ms: int = 700,
        max_initial_silence_ms: int = 5000,
        pause_ms: int = 450,
        min_beep_ms: int = 100,
        speech_dbfs: float = -40.0,
    ) -> None:
        self.max_human_greeting_ms = max_human_greeting_ms
        self.end_silence_ms = end_of_greeting_silence_ms
        self.max_initial_silence_ms = max_initial_silence_ms
        self.pause_ms = pause_ms
        self.min_beep_ms = min_beep_ms
        self.speech_dbfs = speech_dbfs
        self.now_ms = 0
        self.verdict = UNKNOWN
        self.reason = "listening"
        self.decided = False
        self.decided_at_ms: int | None = None
        self.beep_at_ms: int | None = None
        self.phrase: str | None = None
        self.speech_start_ms: int | None = None  # first speech onset
        self.last_speech_ms: int | None = None  # end of the latest speech frame
        self.bursts = 0  # speech bursts in the greeting (cadence)
        self._tail = np.zeros(0, dtype=np.float32)
        self._tone_run: list[float] = []  # peak frequencies of consecutive tonal frames
        self._tone_start_ms = 0

    # --- inputs ---------------------------------------------------------------------------
    def feed(self, frame: np.ndarray, sample_rate: int = 8000) -> str:
        x = np.asarray(frame)
        x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
        if len(x) == 0:
            return self.verdict
        start_ms = self.now_ms
        self.now_ms += int(round(len(x) * 1000 / sample_rate))
        rms = float(np.sqrt(np.mean(x * x)) + 1e-9)
        dbfs = 20 * np.log10(rms)
        self._beep(x, sample_rate, dbfs, start_ms)
        if dbfs > self.speech_dbfs and not self._tone_run:
            self._speech(start_ms)
        self._decide_by_time()
        return self.verdict

    def feed_text(self, text: str) -> str:
        """Early transcript (what ASR heard so far)."""
        phrase = match_voicemail_phrase(text)
        if phrase:
            self.phrase = phrase
            self._set(MACHINE, f"voicemail phrase: {phrase}", force=True)
        return self.verdict

    # --- features ---------------------------------------------------------------------------
    def _speech(self, start_ms: int) -> None:
        if self.speech_start_ms is None:
            self.speech_start_ms = start_ms
            self.bursts = 1
        elif self.last_speech_ms is not None and start_ms - self.last_speech_ms >= self.pause_ms // 3:
            self.bursts += 1
        self.last_speech_ms = self.now_ms

    @property
    def greeting_ms(self) -> int:
        if self.speech_start_ms is None or self.last_speech_ms is None:
            return 0
        return self.last_speech_ms - self.speech_start_ms

    def _beep(self, x: np.ndarray, rate: int, dbfs: float, start_ms: int) -> None:
        window = int(rate * 0.04)
        self._tail = np.concatenate([self._tail, x])[-window:]
        tonal = False
        freq = 0.0
        if dbfs > -45 and len(self._tail) >= window // 2:
            seg = self._tail * np.hanning(len(self._tail))
            spec = np.abs(np.fft.rfft(seg, n=4096)) ** 2
            freqs = np.fft.rfftfreq(4096, 1 / rate)
            peak = int(np.argmax(spec))
            freq = float(freqs[peak])
            band = (freqs > freq - 80) & (freqs < freq + 80)
            purity = float(spec[band].sum() / (spec.sum() + 1e-12))
            tonal = 450 <= freq <= 2600 and purity > 0.9
        if tonal and (not self._tone_run or abs(freq - float(np.median(self._tone_run))) < 25):
            if not self._tone_run:
                self._tone_start_ms = start_ms
            self._tone_run.append(freq)
            if self.beep_at_ms is None and len(self._tone_run) * 20 >= self.min_beep_ms:
                self.beep_at_ms = self._tone_start_ms
                self._set(MACHINE, f"beep at {freq:.0f} Hz", force=True)
        else:
            self._tone_run = [freq] if tonal else []
            if tonal:
                self._tone_start_ms = start_ms

    def _decide_by_time(self) -> None:
        if self.decided:
            return
        if self.speech_start_ms is None:
            if self.now_ms >= self.max_initial_silence_ms:
                self._set(UNKNOWN, f"silence for {self.now_ms} ms after answer")
            return
        if self.greeting_ms > self.max_human_greeting_ms:
            self._set(MACHINE, f"greeting longer than {self.max_human_greeting_ms} ms ({self.bursts} bursts)")
        elif self.now_ms - (self.last_speech_ms or 0) >= self.end_silence_ms:
            self._set(HUMAN, f"short greeting ({self.greeting_ms} ms) then silence")

    def _set(self, verdict: str, reason: str, force: bool = False) -> None:
        if self.decided and not force:
            return
        if self.decided and self.verdict == MACHINE and verdict == MACHINE:
            return
        self.verdict, self.reason, self.decided = verdict, reason, True
        self.decided_at_ms = self.now_ms

    def result(self) -> AmdResult:
        initial = self.speech_start_ms if self.speech_start_ms is not None else None
        return AmdResult(self.verdict, self.reason, self.beep_at_ms, self.greeting_ms, initial,
                         self.decided_at_ms, self.phrase)


# --------------------------------------------------------------------------------------------
# files, fixtures, benchmark
# --------------------------------------------------------------------------------------------
def detect_pcm(pcm: np.ndarray, rate: int, text: str | None = None, tail_ms: int = 1000) -> AmdResult:
    """Run the detector over a whole recording in 20 ms frames (plus `tail_ms` of silence)."""
    det = AnsweringMachineDetector()
    step = rate // 50
    pcm = np.concatenate([np.asarray(pcm), np.zeros(rate * tail_ms // 1000, dtype=np.asarray(pcm).dtype)])
    for i in range(0, len(pcm) - step + 1, step):
        det.feed(pcm[i : i + step], rate)
    if text:
        det.feed_text(text)
    return det.result()


def detect_file(path: str | Path, text: str | None = None) -> AmdResult:
    from speech.audio import read_audio, to_int16

    audio, rate = read_audio(path, target_rate=8000)
    return detect_pcm(to_int16(audio), rate, text)


# (file stem, language, espeak voice, greeting text, beep Hz or None)
VOICEMAIL_SCRIPTS = [
    ("vm_zh_beep", "zh", "cmn", "您好，我现在不方便接听电话，请在提示音后留言，我会尽快给您回电。", 1000),
    ("vm_zh_carrier", "zh", "cmn", "您拨打的电话暂时无人接听，请稍后再拨。", None),
    ("vm_zh_beep_hi", "zh", "cmn", "你好，这里是王先生的语音信箱，请在嘀声后留下您的姓名和电话。", 1400),
    ("vm_en_beep", "en", "en-us", "Hi, you have reached Sam. I can't take your call right now. "
     "Please leave a message after the tone.", 1000),
    ("vm_en_carrier", "en", "en-us", "The person you are calling is not available. Please try again later.", None),
    ("vm_en_beep_lo", "en", "en-us", "Hello, this is the voicemail of Jordan Lee. Leave your name, number "
     "and a short message after the beep and I will call you back.", 850),
]


def build_voicemail_fixtures(out_dir: str | Path = FIXTURES_DIR) -> list[Path]:
    """Synthesize voicemail greetings (espeak-ng), append a sox beep, store 8 kHz WAVs + manifest."""
    from speech.audio import read_audio, to_int16, write_g711_wav

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths, manifest = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for stem, lang, voice, text, beep in VOICEMAIL_SCRIPTS:
            raw = Path(tmp) / f"{stem}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
            speech, _ = read_audio(raw, target_rate=8000)
            parts = [np.zeros(2400, dtype=np.float32), speech, np.zeros(2800, dtype=np.float32)]
            if beep:
                tone_path = Path(tmp) / f"{stem}_beep.wav"
                subprocess.run(["sox", "-n", "-r", "8000", "-b", "16", "-c", "1", str(tone_path),
                                "synth", "0.5", "sine", str(beep), "vol", "0.5"], check=True)
                parts += [read_audio(tone_path)[0], np.zeros(4000, dtype=np.float32)]
            path = out / f"{stem}.wav"
            write_g711_wav(path, to_int16(np.concatenate(parts)), 8000, law="ulaw")  # as a phone line
            beep_ms = int((2400 + len(speech) + 2800) / 8) if beep else None
            manifest.append({"file": path.name, "lang": lang, "text": text, "beep_hz": beep, "beep_at_ms": beep_ms})
            paths.append(path)
    (out / "manifest.jsonl").write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in manifest))
    return paths


EARLY_TRANSCRIPT_S = 4.0  # what ASR has heard of a greeting when the AMD must decide


def early_transcripts(vm_dir: Path, machines: list[dict], asr=None) -> list[str]:
    """ASR output (not the reference text) of each greeting's first EARLY_TRANSCRIPT_S seconds, heard
    through the phone channel the fixtures were recorded in."""
    from speech.audio import read_audio

    if asr is None:
        from speech.asr import create_asr

        asr = create_asr("faster")
    out = []
    for m in machines:
        audio, _ = read_audio(vm_dir / m["file"], 16000)
        out.append(asr.transcribe(audio[: int(16000 * EARLY_TRANSCRIPT_S)], language=m["lang"]).text)
    return out


def benchmark(fixtures: str | Path | None = None, asr=None) -> dict[str, Any]:
    """AMD over voicemail fixtures (machines) and the 80 sim voices (human answers): audio only, and with
    the early transcript that ASR produced (`asr`, default the faster engine)."""
    import time

    vm_dir = Path(fixtures) if fixtures else FIXTURES_DIR
    voices = Path(__file__).resolve().parent.parent / "telephony_adapter" / "sim" / "voices"
    t0 = time.perf_counter()
    machines = [json.loads(line) for line in (vm_dir / "manifest.jsonl").read_text().splitlines() if line]
    humans = [json.loads(line) for line in (voices / "manifest.jsonl").read_text().splitlines() if line]
    m_hits, beep_err, decide_ms = 0, [], []
    for m in machines:
        r = detect_file(vm_dir / m["file"])
        m_hits += r.verdict == MACHINE
        if m.get("beep_at_ms") is not None and r.beep_at_ms is not None:
            beep_err.append(abs(r.beep_at_ms - m["beep_at_ms"]))
    h_hits, h_wrong = 0, []
    for h in humans:
        r = detect_file(voices / h["file"])
        h_hits += r.verdict == HUMAN
        if r.verdict != HUMAN:
            h_wrong.append(h["file"])
        if r.verdict == HUMAN and r.decided_at_ms is not None:
            decide_ms.append(r.decided_at_ms)
    heard = early_transcripts(vm_dir, machines, asr)
    with_text = sum(detect_file(vm_dir / m["file"], text).verdict == MACHINE
                    for m, text in zip(machines, heard, strict=True))
    return {
        "machines": len(machines),
        "machine_recall_audio_only": round(m_hits / max(1, len(machines)), 3),
        "machine_recall_with_transcript": round(with_text / max(1, len(machines)), 3),
        "transcript_source": "asr",
        "early_transcripts": heard,
        "humans": len(humans),
        "human_accuracy": round(h_hits / max(1, len(humans)), 3),
        "humans_misjudged": h_wrong,
        "beep_error_ms_max": max(beep_err) if beep_err else None,
        "human_decision_ms_median": float(np.median(decide_ms)) if decide_ms else None,
        "seconds": round(time.perf_counter() - t0, 2),
    }
