"""Engine-independent clean-up of Whisper output: guards against hallucinations, simplified Chinese,
normalised punctuation. Both ASR engines call `finish()` so their output is shaped the same way."""
from __future__ import annotations

import re

import numpy as np

from speech.asr.base import Segment, Transcript

# Whisper's own rule of thumb: a segment is silence when it is both likely "no speech" and poorly scored.
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
VERY_LOW_LOGPROB = -1.6  # drop even without a no-speech flag; real phone speech scores above this here

# Phrases Whisper invents from silence/noise (subtitle credits learnt from video data).
_JUNK_PATTERNS = [
    r"谢谢(大家)?(观看|收看|收听)",
    r"(请)?(不吝)?点赞.{0,6}订阅.{0,12}",
    r"字幕(由|提供|制作|组|by).{0,20}",
    r"^字幕$",
    r"(中文)?字幕.{0,6}(志愿者|提供)",
    r"明镜与点点栏目",
    r"优优独播剧场.{0,20}",
    r"thanks? (you )?for watching[.!]?",
    r"subtitles? by.{0,40}",
    r"amara\.org.{0,40}",
    r"please subscribe.{0,30}",
    r"like and subscribe.{0,30}",
]
_JUNK = re.compile("|".join(f"(?:{p})" for p in _JUNK_PATTERNS), re.IGNORECASE)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_FULLWIDTH = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；"}


def to_simplified(text: str) -> str:
    import zhconv

    return zhconv.convert(text, "zh-hans")


def collapse_loops(text: str) -> str:
    """Collapse a phrase repeated 4+ times in a row (a decoding loop) to one copy, and runs of one
    character beyond 4 to 3 (keeps a natural '喂喂喂')."""
    text = re.sub(r"(.{2,}?)(?:[\s,，、。.]*\1){3,}", r"\1", text)
    return re.sub(r"(.)\1{4,}", r"\1\1\1", text)


def _letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def drop_echo(text: str, min_chars: int | None = None) -> str:
    """Drop a trailing restart of the utterance (Whisper looping on short audio): 'A B C. A B' -> 'A B C.'.

    The tail must restart the text from its beginning and be at least `min_chars` letters long."""
    chinese = bool(re.search(rf"[{_CJK}]", text))
    min_chars = min_chars or (3 if chinese else 4)
    core = _letters(text)
    if len(core) < 2 * min_chars:
        return text
    boundaries = [m.end() for m in re.finditer(r"[\s,，。.!?！？、]+", text)]
    if chinese:
        boundaries = sorted(set(boundaries) | set(range(1, len(text))))
    for cut in boundaries:
        head, tail = _letters(text[:cut]), _letters(text[cut:])
        if len(tail) < min_chars or len(head) < min_chars:
            continue
        if (head * (len(tail) // len(head) + 1)).startswith(tail):
            return text[:cut].rstrip(" ,，、")
    return text


# U+FFFD: bytes of a character Whisper's tokens did not complete ("刘伟\ufffd是我本人"); no character, so dropped
_BROKEN = "\ufffd"


def normalize_zh(text: str) -> str:
    text = to_simplified(text.replace(_BROKEN, ""))
    # spaces between CJK characters carry nothing in Chinese
    text = re.sub(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])", "", text)
    # ASCII punctuation next to Chinese text -> full width; a period between CJK -> 。
    for ascii_p, full in _FULLWIDTH.items():
        text = re.sub(rf"(?<=[{_CJK}])\s*{re.escape(ascii_p)}\s*", full, text)
    text = re.sub(rf"(?<=[{_CJK}])\.(?!\d)\s*", "。", text)
    text = re.sub(r"\s*([，。？！：；、])\s*", r"\1", text)
    text = re.sub(r"([，。？！：；、])[，。？！：；、]+", r"\1", text)
    return text.strip(" ，、")


def normalize_en(text: str) -> str:
    text = re.sub(r"\s+", " ", text.replace(_BROKEN, "")).strip()
    text = re.sub(r"\s+([,.?!;:])", r"\1", text)
    return text


def is_junk(text: str) -> bool:
    """True when the text is only a known hallucination phrase (plus punctuation)."""
    stripped = _JUNK.sub("", text)
    return bool(text.strip()) and not re.sub(r"[\s\W_]+", "", stripped)


def has_speech(audio: np.ndarray, threshold: float = 0.6, min_ms: int = 150) -> bool:
    """Silero VAD second opinion: at least `min_ms` of windows above `threshold`."""
    from speech.vad import SileroVad

    vad = SileroVad()
    window = SileroVad.WINDOW
    voiced = 0
    for i in range(0, len(audio) - window + 1, window):
        if vad.speech_prob(audio[i:i + window]) >= threshold:
            voiced += window
    return voiced * 1000 // 16000 >= min_ms


SHORT_UNITS = 3  # words (English) or characters (Chinese): a reading this short is checked against the VAD


def is_short(text: str) -> bool:
    """At most SHORT_UNITS words or CJK characters: where Whisper's readings of line noise live ("Thank you.",
    "Yeah.", "嗯。"), confident or not."""
    return len(re.findall(rf"[{_CJK}]", text)) + len(re.findall(r"[A-Za-z0-9']+", text)) <= SHORT_UNITS


def keep_segment(seg: Segment, audio: np.ndarray | None = None) -> bool:
    """A doubtful segment (likely silence, or poorly scored) is kept only when the VAD hears speech in
    the audio. Whisper's no-speech token alone cannot separate the two here: with the encoder context
    cut to the utterance, short backchannels ('mm-hmm, right') score like line noise, and line noise
    sometimes decodes to a confident 'I don't know.' or, primed with a caller's sentence, 'Thank you.'. So a
    short reading is doubtful too, however well scored. Without audio, Whisper's own rule applies."""
    if not seg.text.strip() or is_junk(seg.text):
        return False
    if audio is not None and is_short(seg.text) and seg.avg_logprob >= VERY_LOW_LOGPROB:
        return has_speech(audio)
    if seg.avg_logprob < VERY_LOW_LOGPROB:
        return False
    if seg.no_speech_prob >= NO_SPEECH_PROB or seg.avg_logprob < LOW_LOGPROB:
        # doubtful: keep only if the VAD hears speech (without audio, Whisper's own rule decides)
        if audio is not None:
            return has_speech(audio)
        return not (seg.no_speech_prob >= NO_SPEECH_PROB and seg.avg_logprob < LOW_LOGPROB)
    return True


def echoes_prompt(text: str, prompt: str | None, share: float = 0.6) -> bool:
    """True when most of `text` repeats the prompt Whisper was given (character bigrams for Chinese, words
    for English): on line noise a prompted Whisper may read its prompt back ("您好。关于还款、罚息……")."""
    if not prompt or not text.strip():
        return False
    def grams(t: str) -> list[str]:
        t = to_simplified(t).lower()
        if re.search(r"[\u4e00-\u9fff]", t):
            chars = re.sub(r"[\W_]+", "", t)
            return [chars[i:i + 2] for i in range(len(chars) - 1)]
        return re.findall(r"[a-z0-9']+", t)

    said, given = grams(text), set(grams(prompt))
    return bool(said) and sum(g in given for g in said) >= share * len(said)


def finish(segments: list[Segment], language: str, duration_s: float,
           audio: np.ndarray | None = None, prompt: str | None = None) -> Transcript:
    """Apply guards and normalisation; join the kept segments into one Transcript.

    `audio` (16 kHz float32, as heard) lets the VAD overrule the no-speech rule; with `prompt`, a segment
    that mostly repeats the prompt is kept only when the VAD hears speech."""
    kept: list[Segment] = []
    for seg in segments:
        if not keep_segment(seg, audio):
            continue
        if audio is not None and echoes_prompt(seg.text, prompt) and not has_speech(audio):
            continue
        text = drop_echo(collapse_loops(seg.text.strip()))
        text = _JUNK.sub("", text).strip()
        text = normalize_zh(text) if language == "zh" else normalize_en(text)
        if text:
            kept.append(Segment(seg.start, seg.end, text, seg.no_speech_prob, seg.avg_logprob))
    joiner = "" if language == "zh" else " "
    text = joiner.join(s.text for s in kept)
    text = normalize_zh(text) if language == "zh" else normalize_en(text)
    if segments:
        no_speech = max(s.no_speech_prob for s in segments)
        logprob = sum(s.avg_logprob for s in segments) / len(segments)
    else:
        no_speech, logprob = 1.0, 0.0
    return Transcript(text=text, language=language, segments=kept, no_speech_prob=no_speech,
                      avg_logprob=logprob, duration_s=duration_s)
