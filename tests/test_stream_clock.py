"""The figures read off a stream clock: revisions, early words, latencies from the speech span."""

from __future__ import annotations

from spectragram_bench.providers.stream_clock import StreamClock, StreamEvent, early_words, revisions


def ev(t, audio, text, final=False, ends=None):
    return StreamEvent("final" if final else "partial", t, audio, text, final, ends)


def test_growing_partials_are_not_revisions_but_changed_words_are():
    events = [ev(100, 100, "the"), ev(200, 200, "the quick"), ev(300, 300, "the quack brown"),
              ev(400, 400, "the quick brown fox"), ev(500, 500, "the quick brown fox", final=True),
              ev(600, 600, "jumps"), ev(700, 700, "jumped", final=True)]
    # "quick" -> "quack" is one, "quack" -> "quick" another, and the second segment's final
    # "jumped" replacing the partial "jumps" a third; growing partials are none
    assert revisions(events) == 3


def test_a_final_starts_a_new_segment():
    assert revisions([ev(1, 1, "a b", final=True), ev(2, 2, "c"), ev(3, 3, "c d", final=True)]) == 0


def test_early_words_use_word_times_else_the_speech_start():
    timed = [ev(100, 100, "one two three", ends=[80.0, 150.0, 300.0]), ev(200, 200, "one two three", ends=[80, 150, 300])]
    assert early_words(timed, {"start_ms": 0.0, "end_ms": 1000.0}) == 2  # most in one message, not summed
    untimed = [ev(100, 100, "one two"), ev(700, 700, "one two three")]
    assert early_words(untimed, {"start_ms": 500.0, "end_ms": 1000.0}) == 2
    assert early_words(untimed, None) == 0


def test_latencies_count_from_the_frames_holding_the_speech_boundaries():
    clock = StreamClock(frame_ms=50)
    clock.zero = 10.0
    clock.send_times = [10.0 + (k + 1) * 0.05 + 0.002 for k in range(40)]  # each frame 2 ms late
    clock.events = [ev(180.0, 150.0, "hi"), ev(1410.0, 1400.0, "hi there", final=True)]
    s = clock.summary({"start_ms": 120.0, "end_ms": 1000.0})
    assert s["speech_start_sent_ms"] == 152.0  # frame 2 (100-150 ms) left at 152 ms
    assert s["speech_end_sent_ms"] == 1002.0  # frame 19 (950-1000 ms) left at 1002 ms
    assert s["ttfp_ms"] == 28.0 and s["finalization_ms"] == 408.0
    assert s["timeline"][1] == {"kind": "final", "t_ms": 1410.0, "audio_ms": 1400.0, "chars": 8, "final": True}


def test_no_speech_end_means_no_finalization_figure():
    clock = StreamClock(frame_ms=50)
    clock.zero = 0.0
    clock.send_times = [0.05]
    clock.events = [ev(60.0, 50.0, "x", final=True)]
    s = clock.summary({"start_ms": None, "end_ms": None, "source": "vad"})
    assert s["finalization_ms"] is None and s["ttfp_ms"] is None


def test_an_event_is_stamped_at_its_arrival_with_the_audio_sent_by_then():
    """A message read off the socket at t but handled later (a burst of finals) keeps t, and the
    audio it is stamped with is what had left by t, not by the time it was handled."""
    clock = StreamClock(frame_ms=100)
    clock.zero = 50.0
    clock.send_times = [50.0 + (k + 1) * 0.1 + 0.001 for k in range(5)]  # each frame 1 ms after it is due
    clock.sent_audio_ms = [(k + 1) * 100.0 for k in range(5)]  # frames ending at 100..500 ms of audio
    clock.stamp("final", "hi", True, at=50.25)  # arrived between the 2nd and 3rd frames
    clock.stamp("partial", "early", False, at=50.05)  # before the first frame left
    (late, early) = clock.events
    assert abs(late.arrival_ms - 250.0) < 1e-6 and late.audio_ms == 200.0
    assert abs(early.arrival_ms - 50.0) < 1e-6 and early.audio_ms == 0.0
