"""Streaming end-of-utterance detection for phone calls.

Feed 20 ms frames of 16 kHz float32; get events back:

- SpeechStarted(at_ms)                  speech has lasted `min_speech_ms` (at_ms = its onset; by
                                         default the VAD's own: silero 120 ms, webrtc 160 ms)
- SpeechPartial(audio, start_ms, end_ms) every ~`partial_ms` of ongoing speech (incremental ASR)
- SpeechPaused(audio, start_ms, end_ms)  silence has lasted `pause_ms` (start ASR speculatively)
- SpeechResumed(at_ms)                   speech came back after a pause, before the endpoint
- SpeechEnded(audio, start_ms, end_ms)   silence has lasted `eos_silence_ms` (or max length reached),
                                         or `end_now()` was called during a pause

Times are stream milliseconds (audio fed so far). `audio` runs from start_ms (pre-roll included)
to end_ms = end of the voiced audio, not the end of the trailing silence; so when no speech came
back, the audio of SpeechPaused and of SpeechEnded are identical and a speculative transcript of
the pause can be used as is. Thresholds use hysteresis: silence turns to speech at
`start_threshold`, speech turns to silence below `stop_threshold`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speech.vad import Vad

RATE = 16000


@dataclass
class SpeechStarted:
    at_ms: int


@dataclass
class SpeechPartial:
    audio: np.ndarray = field(repr=False)
    start_ms: int
    end_ms: int


@dataclass
class SpeechPaused:
    audio: np.ndarray = field(repr=False)
    start_ms: int
    end_ms: int


@dataclass
class SpeechResumed:
    at_ms: int


@dataclass
class SpeechEnded:
    audio: np.ndarray = field(repr=False)
    start_ms: int
    end_ms: int
    forced: bool = False  # True when cut by max_utterance_ms

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


EndpointEvent = SpeechStarted | SpeechPartial | SpeechPaused | SpeechResumed | SpeechEnded


def _ms_to_samples(ms: int) -> int:
    return ms * RATE // 1000


class Endpointer:
    """One per call leg. Not thread-safe; feed it from the inbound audio loop."""

    def __init__(self, vad: Vad, start_threshold: float = 0.5, stop_threshold: float = 0.35,
                 min_speech_ms: int | None = None, eos_silence_ms: int = 400, pause_ms: int = 200,
                 pre_roll_ms: int = 200, max_utterance_ms: int = 15000, partial_ms: int = 1000) -> None:
        if stop_threshold > start_threshold:
            raise ValueError("stop_threshold must not exceed start_threshold")
        self.vad = vad
        self.start_threshold = start_threshold
        self.stop_threshold = stop_threshold
        self.min_speech_ms = min_speech_ms if min_speech_ms is not None else vad.min_speech_ms
        self.pause_ms = pause_ms
        self.pre_roll_ms = pre_roll_ms
        self.max_utterance_ms = max_utterance_ms
        self.partial_ms = partial_ms
        self.eos_silence_ms = eos_silence_ms
        self.set_eos_silence_ms(eos_silence_ms)
        self.reset()

    def set_eos_silence_ms(self, ms: int) -> None:
        """Per dialog node: a yes/no question can end sooner than an amount."""
        self.eos_silence_ms = max(int(ms), 20)

    @property
    def silence_ms(self) -> int:
        """Silence since the end of voice in the current utterance (0 while voiced or idle)."""
        if not self._in_utterance or self._voiced:
            return 0
        return self._ms(self._pos - self._voiced_end)

    def voiced_so_far(self) -> SpeechPaused | None:
        """While the current utterance is in a silence (of any length, even before `pause_ms`): its audio up to
        the end of voice, the same audio SpeechPaused and SpeechEnded will carry if no speech comes back (an
        early speculative transcript of it can be used as is). None while voiced or idle."""
        if not self._in_utterance or self._voiced:
            return None
        return SpeechPaused(self._audio_until(self._voiced_end).copy(), self._ms(self._utt_start),
                            self._ms(self._voiced_end))

    def end_now(self) -> SpeechEnded | None:
        """End the current utterance at its end of voice, now (the turn-taker judged the answer complete);
        None when there is no paused utterance to end."""
        if not self._in_utterance or self._voiced:
            return None
        return self._end(self._voiced_end, forced=False)

    def reset(self) -> None:
        """Forget everything (new call or after the agent's turn); the stream clock restarts at 0."""
        self.vad.reset()
        self._pos = 0  # samples fed so far
        self._history: list[np.ndarray] = []  # recent audio while idle (pre-roll + candidate)
        self._history_len = 0
        self._in_utterance = False
        self._candidate_start: int | None = None  # sample index of a possible onset
        self._chunks: list[np.ndarray] = []  # utterance audio (from start)
        self._utt_start = 0
        self._voiced = False
        self._voiced_end = 0  # sample index where the voiced audio ends
        self._paused = False
        self._next_partial = 0

    @property
    def in_utterance(self) -> bool:
        return self._in_utterance

    @property
    def now_ms(self) -> int:
        return self._pos * 1000 // RATE

    # ------------------------------------------------------------------------------------------
    def feed(self, frame: np.ndarray) -> list[EndpointEvent]:
        frame = np.asarray(frame, dtype=np.float32).reshape(-1)
        if frame.size == 0:
            return []
        prob = self.vad.speech_prob(frame)
        frame_start = self._pos
        self._pos += len(frame)
        if self._in_utterance:
            return self._feed_speaking(frame, prob)
        return self._feed_idle(frame, frame_start, prob)

    def _ms(self, samples: int) -> int:
        return samples * 1000 // RATE

    def _feed_idle(self, frame: np.ndarray, frame_start: int, prob: float) -> list[EndpointEvent]:
        self._history.append(frame)
        self._history_len += len(frame)
        threshold = self.stop_threshold if self._candidate_start is not None else self.start_threshold
        if prob >= threshold:
            if self._candidate_start is None:
                self._candidate_start = frame_start
            if self._pos - self._candidate_start >= _ms_to_samples(self.min_speech_ms):
                return self._start_utterance()
        else:
            self._candidate_start = None
        self._trim_history()
        return []

    def _trim_history(self) -> None:
        keep_from = self._pos - _ms_to_samples(self.pre_roll_ms)
        if self._candidate_start is not None:
            keep_from = min(keep_from, self._candidate_start - _ms_to_samples(self.pre_roll_ms))
        while self._history and self._history_len - len(self._history[0]) >= self._pos - keep_from:
            self._history_len -= len(self._history.pop(0))

    def _start_utterance(self) -> list[EndpointEvent]:
        onset = self._candidate_start if self._candidate_start is not None else self._pos
        audio = np.concatenate(self._history)
        history_start = self._pos - len(audio)
        start = max(history_start, onset - _ms_to_samples(self.pre_roll_ms))
        self._chunks = [audio[start - history_start:]]
        self._history, self._history_len = [], 0
        self._candidate_start = None
        self._in_utterance = True
        self._utt_start = start
        self._voiced = True
        self._voiced_end = self._pos
        self._paused = False
        self._next_partial = onset + _ms_to_samples(self.partial_ms)
        return [SpeechStarted(at_ms=self._ms(onset))]

    def _audio_until(self, end: int) -> np.ndarray:
        audio = np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks = [audio]
        return audio[: end - self._utt_start]

    def _feed_speaking(self, frame: np.ndarray, prob: float) -> list[EndpointEvent]:
        self._chunks.append(frame)
        events: list[EndpointEvent] = []
        threshold = self.stop_threshold if self._voiced else self.start_threshold
        if prob >= threshold:
            if not self._voiced and self._paused:
                events.append(SpeechResumed(at_ms=self._ms(self._pos - len(frame))))
            self._voiced = True
            self._paused = False
            self._voiced_end = self._pos
            if self._pos >= self._next_partial:
                self._next_partial = self._pos + _ms_to_samples(self.partial_ms)
                events.append(SpeechPartial(self._audio_until(self._pos).copy(), self._ms(self._utt_start),
                                            self.now_ms))
        else:
            self._voiced = False
            silence = self._pos - self._voiced_end
            if not self._paused and silence >= _ms_to_samples(self.pause_ms):
                self._paused = True
                events.append(SpeechPaused(self._audio_until(self._voiced_end).copy(),
                                           self._ms(self._utt_start), self._ms(self._voiced_end)))
            if silence >= _ms_to_samples(self.eos_silence_ms):
                events.append(self._end(self._voiced_end, forced=False))
                return events
        if self._pos - self._utt_start >= _ms_to_samples(self.max_utterance_ms):
            events.append(self._end(self._pos, forced=True))
        return events

    def _end(self, end: int, forced: bool) -> SpeechEnded:
        audio = self._audio_until(end).copy()
        event = SpeechEnded(audio, self._ms(self._utt_start), self._ms(end), forced=forced)
        full = self._chunks[0]
        tail = full[end - self._utt_start:]  # trailing silence becomes the next pre-roll
        self._in_utterance = False
        self._chunks = []
        self._voiced = False
        self._paused = False
        self._history = [tail] if tail.size else []
        self._history_len = tail.size
        self._candidate_start = None
        self._trim_history()
        return event
