"""Narration synthesis speed per offline voice, as × real time (seconds of speech per second of
work; higher is faster). The first call loads the voice and is reported apart."""
import time
from pathlib import Path
import tempfile

from storynb.providers.base import SpeechRequest
from storynb.providers.offline.narrator import LocalNarrator

TEXTS = {
    "en": ("The lighthouse keeper climbed the stairs as the storm rolled in. Far below, a lost "
           "whale called out in the dark water, and he answered with his lamp."),
    "zh": "灯塔看守人在暴风雨来临时爬上了楼梯。远处，一头迷路的鲸鱼在黑暗的海水里呼唤，他用灯光回答了它。",
}

narrator = LocalNarrator()
with tempfile.TemporaryDirectory() as tmp:
    for language, text in TEXTS.items():
        why = narrator.missing(language)
        if why:
            print(f"{language}: no voice ({why})")
            continue
        out = Path(tmp) / f"{language}.wav"
        started = time.perf_counter()
        first = narrator._speak(SpeechRequest(text=text, language=language), out)
        load = time.perf_counter() - started
        runs, spoken, work = 3, 0.0, 0.0
        for _ in range(runs):
            started = time.perf_counter()
            spoken += narrator._speak(SpeechRequest(text=text, language=language), out)
            work += time.perf_counter() - started
        print(f"{language} ({first.voice}, {first.engine}): {spoken / work:.1f}x real time "
              f"({spoken / runs:.1f} s of speech in {work / runs:.2f} s; first call {load:.2f} s)")
