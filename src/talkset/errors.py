"""One-line error reasons: what every "talkset: error: <file>: <reason>" message is built from."""
from __future__ import annotations


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line (whitespace collapsed, at most ``limit`` characters; its type name if
    it has no text), for reasons that name a file and must fit on one line."""
    return (" ".join(str(exc).split()) or type(exc).__name__)[:limit]


class TalksetError(Exception):
    """An error a user can act on: the message is one line naming the file (or option) and the reason.

    The CLI prints it as ``talkset: error: <message>`` and exits 1, without a traceback."""
