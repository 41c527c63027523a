"""The session's clock of the line (agent.call_listener.arrival): when the audio at a stream position had arrived,
the end of voice that `voice_to_voice_ms` starts from, and an onset that a barge-in is timed from."""
from __future__ import annotations

from agent.call_listener import arrival

# 20 ms frames: (stream ms at the frame's end, monotonic arrival); the third one came late (jitter)
FRAMES = [(20, 10.000), (40, 10.020), (60, 10.055), (80, 10.060), (100, 10.080)]


def test_an_end_of_voice_is_the_arrival_of_the_frame_it_ends():
    assert arrival(FRAMES, 40) == 10.020  # not the next frame's 10.055: 35 ms of a latency would go missing
    assert arrival(FRAMES, 100) == 10.080


def test_an_onset_is_the_arrival_of_the_frame_its_first_sample_is_in():
    assert arrival(FRAMES, 40 + 1) == 10.055
    assert arrival(FRAMES, 0 + 1) == 10.000


def test_a_position_between_frame_ends_is_in_the_next_frame_and_beyond_them_unknown():
    uneven = [(21, 1.0), (41, 1.02), (62, 1.04)]  # a resampler's frames need not end on 20 ms
    assert arrival(uneven, 40) == 1.02 and arrival(uneven, 42) == 1.04
    assert arrival(uneven, 63) is None and arrival([], 5) is None
