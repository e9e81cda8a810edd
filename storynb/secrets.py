"""API keys: encrypted at rest with Fernet, and one redaction path for everything shown or logged.

The master key never lives in the database. It comes from `$STORYNB_SECRET_KEY` (one Fernet key,
or several separated by commas: the first encrypts, all of them decrypt) or else from a key file
(`$STORYNB_KEY_FILE`, default `~/.config/storynb/secret.key`; one key per line, newest first)
created with mode 0600 the first time a key is stored.

Rotation: `Secrets.rotate(db)` puts a new master key at the top of the key file (or, with the
environment variable, uses the first key listed there) and re-encrypts every stored provider key
with it. Old keys stay in the file so other studios that share it can still be read; remove them
by hand once every studio has been rotated.

`redact(text)` is the one function that removes secrets from any text that leaves the engine:
exception messages, call-log errors, log records, DataFrames and CLI output. It replaces every
key this process has decrypted or been given, and anything that looks like a credential
(`sk-…`, `Bearer …`, JWTs, `api_key=…`, URL user:password).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from pathlib import Path

from .db import writing
from .errors import InvalidInput, StorynbError
from .files import atomic_path

ENV_KEY = "STORYNB_SECRET_KEY"
ENV_FILE = "STORYNB_KEY_FILE"
MASK = "[redacted]"

_known: set[str] = set()
_known_lock = threading.Lock()

_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{12,}"),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"eyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]{6,}"),
    re.compile(r"(?i)((?:api[_-]?key|access[_-]?key|secret[_-]?key|token|secret|password|"
               r"authorization|x-api-key)[\"']?\s*[=:]\s*[\"']?)([^\s\"'&,;}]{4,})"),
    re.compile(r"(://)([^/\s:@]+):([^/\s@]+)@"),
]


_FRAGMENT = 10        # a piece of a known key this long is masked wherever it appears …
_FRAGMENT_FROM = 16  # … for keys at least this long (a text cut short may hold part of a key)


def _mask_fragments(text: str, secret: str) -> str:
    """Mask every run of at least _FRAGMENT characters of `secret` in `text` (what is left of a
    key when a text was cut before it was redacted)."""
    step = _FRAGMENT
    offset = 0
    while offset + step <= len(secret):
        window = secret[offset:offset + step]
        at = text.find(window)
        while at >= 0:
            start, end, lo, hi = at, at + step, offset, offset + step
            while start > 0 and lo > 0 and text[start - 1] == secret[lo - 1]:
                start, lo = start - 1, lo - 1
            while end < len(text) and hi < len(secret) and text[end] == secret[hi]:
                end, hi = end + 1, hi + 1
            text = text[:start] + MASK + text[end:]
            at = text.find(window, start + len(MASK))
        offset += 1
    return text


class Secret:
    """A secret value that does not show itself: repr/str give a masked hint only."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value
        remember(value)

    def reveal(self) -> str:
        """The clear value, for the HTTP boundary only."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({hint(self._value)!r})"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into anything by accident
        raise TypeError("a Secret cannot be pickled")


def hint(value: str | None) -> str:
    """What may be shown of a key: that it is set, and its last four characters."""
    if not value:
        return ""
    return "set, ends …" + value[-4:] if len(value) >= 12 else "set"


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:10]


def remember(value: str | None) -> None:
    """Register a secret value so redact() removes it from any text from now on."""
    if value and len(value) >= 4:
        with _known_lock:
            _known.add(value)
            for part in re.split(r"[:\s]", value):  # "user:pass" and "access:secret" pairs
                if len(part) >= 6:
                    _known.add(part)


def redact(text) -> str:
    """`text` with every known secret and every credential-looking token replaced by [redacted].
    Never raises: on any internal error the whole text is replaced."""
    if text is None:
        return ""
    try:
        text = str(text)
        with _known_lock:
            known = sorted(_known, key=len, reverse=True)
        for value in known:
            if value in text:
                text = text.replace(value, MASK)
        for value in known:
            if len(value) >= _FRAGMENT_FROM:
                text = _mask_fragments(text, value)
        text = _PATTERNS[0].sub(MASK, text)
        text = _PATTERNS[1].sub(lambda m: f"{m.group(1)} {MASK}", text)
        text = _PATTERNS[2].sub(MASK, text)
        text = _PATTERNS[3].sub(lambda m: m.group(1) + MASK, text)
        text = _PATTERNS[4].sub(lambda m: f"{m.group(1)}{MASK}@", text)
        return text
    except Exception:  # a redactor must fail closed
        return MASK


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact one log record in place: its message (formatted with its args first, so a key
    passed as an argument is caught), its exception text and its stack. Done on the whole text,
    before any formatter can truncate it (a cut key would no longer match)."""
    try:
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments: keep what there is, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._storynb_redacted = True
    except Exception:
        record.msg, record.args, record.exc_info, record.exc_text = MASK, (), None, None
    return record


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record through redact() (once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_storynb_redacted", False):
            redact_record(record)
        return True


_filter = RedactingFilter()
_install_lock = threading.Lock()


def _redacting_factory(previous):
    def factory(*args, **kwargs):
        return redact_record(previous(*args, **kwargs))

    factory._storynb_redacting = True
    return factory


def install_log_filter() -> None:
    """Redact every log record of every logger (idempotent).

    A filter on a logger only sees records logged on that very logger, not its children's
    (`httpcore.http11` logs response headers, where a service may echo the key back), and a
    handler added later would have no filter at all. So the record factory itself redacts:
    every record any logger makes is clean before any filter, handler or formatter sees it.
    Filters on the root handlers and on the usual loggers stay as a second line, for records
    made without the factory (`logging.makeLogRecord`) or a factory replaced after ours."""
    with _install_lock:
        current = logging.getLogRecordFactory()
        if not getattr(current, "_storynb_redacting", False):
            logging.setLogRecordFactory(_redacting_factory(current))
        for name in ("storynb", "httpx", "httpcore"):
            logger = logging.getLogger(name)
            if _filter not in logger.filters:
                logger.addFilter(_filter)
        for handler in logging.getLogger().handlers:
            if _filter not in handler.filters:
                handler.addFilter(_filter)


# encryption ----------------------------------------------------------------------------------
def default_key_file() -> Path:
    if os.environ.get(ENV_FILE):
        return Path(os.environ[ENV_FILE]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "storynb" / "secret.key"


class Secrets:
    """Encrypts and decrypts provider keys with the master key(s) described above."""

    def __init__(self, key_file: str | Path | None = None):
        self._key_file = Path(key_file) if key_file else None

    @property
    def key_file(self) -> Path:
        return self._key_file or default_key_file()

    def _keys(self, create: bool) -> list[bytes]:
        env = os.environ.get(ENV_KEY, "").strip()
        if env:
            return [k.strip().encode() for k in env.split(",") if k.strip()]
        path = self.key_file
        if path.exists():
            keys = [line.strip().encode() for line in path.read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
            if keys:
                return keys
        if not create:
            return []
        from cryptography.fernet import Fernet

        key = Fernet.generate_key()
        _write_private(path, [key])
        return [key]

    def _fernet(self, create: bool):
        from cryptography.fernet import Fernet, MultiFernet

        keys = self._keys(create)
        if not keys:
            return None
        try:
            return MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError):
            raise StorynbError(f"the master key in ${ENV_KEY} or {self.key_file} is not a valid "
                               "Fernet key (44 characters of URL-safe base64)") from None

    def encrypt(self, value: str) -> str:
        remember(value)
        return self._fernet(create=True).encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        fernet = self._fernet(create=False)
        if fernet is None:
            raise StorynbError(f"a provider key is stored but there is no master key: set "
                               f"${ENV_KEY} or restore {self.key_file}")
        try:
            value = fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise StorynbError(f"a stored provider key cannot be decrypted with the master key "
                               f"(${ENV_KEY} or {self.key_file}): was the key file replaced? "
                               "Set the key again with `storynb providers edit NAME --key-stdin`") from None
        remember(value)
        return value

    def rotate(self, db) -> int:
        """Re-encrypt every stored provider key under a new master key. Returns how many."""
        from cryptography.fernet import Fernet, MultiFernet

        if os.environ.get(ENV_KEY, "").strip():
            keys = self._keys(create=False)  # the user put the new key first in the variable
        else:
            keys = [Fernet.generate_key()] + self._keys(create=False)
        fernet = MultiFernet([Fernet(k) for k in keys])
        rows = list(db.query("select id, key_encrypted from providers "
                             "where key_encrypted is not null and key_encrypted != ''"))
        try:
            rotated = {r["id"]: fernet.rotate(r["key_encrypted"].encode()).decode() for r in rows}
        except Exception:
            raise StorynbError("a stored provider key cannot be decrypted with any master key; "
                               "nothing was changed") from None
        if not os.environ.get(ENV_KEY, "").strip():
            _write_private(self.key_file, keys)
        with writing(db):
            for pid, token in rotated.items():
                db["providers"].update(pid, {"key_encrypted": token})
        return len(rotated)


def _write_private(path: Path, keys: list[bytes]) -> None:
    """Write the key file atomically with mode 0600 from the start (never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with atomic_path(path) as tmp:  # created with mode 0600
        tmp.write_text("# storynb master keys (Fernet), newest first. Keep this file private.\n"
                       + "".join(k.decode() + "\n" for k in keys))


def check_key_text(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("an API key must be non-empty text")
    return value.strip()


# Every record of every logger is redacted from the moment storynb (or any adapter) is imported.
install_log_filter()
