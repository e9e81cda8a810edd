"""What the offline providers share: a stable seed from text, and tidy text ends."""
from __future__ import annotations


import hashlib
import re
from typing import Any

from ...text import is_cjk


def seed_of(*parts: Any) -> int:
    """A stable 64-bit seed from the parts (the same input paints and writes the same)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


_DANGLING_EN = {"a", "an", "the", "of", "to", "in", "on", "at", "for", "with", "and", "or", "but", "by",
                "from", "into", "onto", "who", "that", "which", "whose", "during", "when", "while", "as",
                "his", "her", "their", "its", "my", "our", "your", "is", "are", "was", "were", "very", "so",
                "than", "then", "through", "over", "under", "after", "before", "until", "because", "about",
                "across", "along", "around", "behind", "beyond", "near", "toward", "towards", "upon", "without",
                "where", "if", "amid", "amidst", "throughout", "since", "though", "although", "nor", "every",
                "one", "some", "this", "these", "those", "no", "not", "just", "only", "also", "him"}
_DANGLING_ZH = "的和与跟同及或在把被对向从给让将"


def trim_dangling(text: str) -> str:
    """Text without trailing spaces, punctuation and dangling small words ("a", "of", "during", "的")."""
    t = text
    while True:
        t = t.rstrip(" \t,;:—–-·、，：；(（“\"'‘…")
        m = re.search(r"(?:^|\s)([A-Za-z']+)$", t)
        if m and m.start(1) > 0 and m.group(1).lower() in _DANGLING_EN:
            t = t[:m.start(1)]
        elif len(t) > 1 and t[-1] in _DANGLING_ZH and is_cjk(t[-2]):
            t = t[:-1]
        else:
            return t
