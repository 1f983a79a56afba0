"""A local stand-in for an OpenAI-compatible vision chat endpoint, for the captioner tests and benchmark.

It checks what a real endpoint would reject (the Authorization header, the message shape, that every image is a
JPEG data URL that decodes) and answers with a caption built from the request, so a test can see that the
measured facts and the frames reached it. Failure modes are attributes set by the test.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import cv2
import numpy as np

FACTS_PREFIX = "Measured facts (JSON): "


@dataclass
class Behaviour:
    """What the server does; a test changes these between runs.

    Attributes:
        key: the API key it expects (None: accept any or none).
        delay_s: seconds to wait before answering (longer than the client's timeout makes it time out).
        fail_first: answer 500 to this many calls first.
        rate_limit_first: answer 429 with ``Retry-After: retry_after_s`` to this many calls first.
        content: "json" (a plain JSON object), "fenced" (JSON in a ```json fence with prose), "invalid"
            (no JSON at all).
        redirect_to: answer every call with a 307 to this URL.
    """

    key: str | None = None
    delay_s: float = 0.0
    fail_first: int = 0
    rate_limit_first: int = 0
    retry_after_s: int = 1
    content: str = "json"
    redirect_to: str | None = None


@dataclass
class Call:
    """One request as the server saw it."""

    at: float
    status: int
    facts: dict | None = None
    image_sizes: list[tuple[int, int]] = field(default_factory=list)
    problem: str | None = None


class OpenAIServer:
    """``with OpenAIServer(Behaviour(key="k")) as srv: srv.base_url`` → ``http://127.0.0.1:PORT/v1``."""

    def __init__(self, behaviour: Behaviour | None = None):
        self.behaviour = behaviour or Behaviour()
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                server._handle(self)

            def log_message(self, *args):  # quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # a client that gave up is not an error
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _record(self, call: Call) -> int:
        with self._lock:
            self.calls.append(call)
            return len(self.calls)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        b = self.behaviour
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        call = Call(at=time.monotonic(), status=200)
        n = self._record(call)
        if b.delay_s:
            time.sleep(b.delay_s)
        if b.redirect_to:
            return self._error(h, call, 307, "moved", {"Location": b.redirect_to})
        if h.path != "/v1/chat/completions":
            return self._error(h, call, 404, f"no route {h.path}")
        if b.key is not None and h.headers.get("Authorization") != f"Bearer {b.key}":
            sent = (h.headers.get("Authorization") or "").removeprefix("Bearer ")
            # like OpenAI, echo (part of) the key it got: the client must keep it out of its reasons
            return self._error(h, call, 401, f"Incorrect API key provided: {sent}")
        if n <= b.rate_limit_first:
            return self._error(h, call, 429, "Rate limit reached", {"Retry-After": str(b.retry_after_s)})
        if n <= b.rate_limit_first + b.fail_first:
            return self._error(h, call, 500, "The server had an error while processing your request")
        try:
            req = json.loads(body)
            call.facts, call.image_sizes = _validate(req)
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            return self._error(h, call, 400, f"bad request: {e}")
        caption = {"visual_style": f"{len(call.image_sizes)} frames of "
                                   f"{call.image_sizes[0][0]}x{call.image_sizes[0][1]} px",
                   "audio_style": f"language {call.facts.get('language')}, sync offset "
                                  f"{call.facts.get('sync', {}).get('offset_frames')} frames",
                   "summary": f"{call.facts.get('shot_type')} clip {call.facts['clip_id']} of "
                              f"{call.facts.get('duration_s')} s"}
        text = json.dumps(caption)
        if b.content == "fenced":
            text = f"Here is the caption:\n```json\n{json.dumps(caption, indent=2)}\n```\nHope it helps."
        elif b.content == "invalid":
            text = "A man talks to the camera."
        self._send(h, 200, {"id": f"chatcmpl-{n}", "object": "chat.completion", "model": req["model"],
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": text}}]})

    def _error(self, h, call: Call, status: int, message: str, headers: dict | None = None) -> None:
        call.status, call.problem = status, message
        self._send(h, status, {"error": {"message": message, "type": "test_error"}}, headers)

    @staticmethod
    def _send(h, status: int, obj: dict, headers: dict | None = None) -> None:
        data = json.dumps(obj).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except OSError:  # the client timed out and left
            pass


def _validate(req: dict) -> tuple[dict, list[tuple[int, int]]]:
    """The facts and image sizes of a well-formed vision request; AssertionError names what is wrong."""
    assert isinstance(req.get("model"), str) and req["model"], "model missing"
    assert req.get("response_format") == {"type": "json_object"}, "response_format is not json_object"
    users = [m for m in req["messages"] if m["role"] == "user"]
    assert len(users) == 1 and isinstance(users[0]["content"], list), "one user message with content parts"
    parts = users[0]["content"]
    texts = [p["text"] for p in parts if p["type"] == "text"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(texts) == 1 and images and len(texts) + len(images) == len(parts), "text + image_url parts"
    lines = [ln for ln in texts[0].splitlines() if ln.startswith(FACTS_PREFIX)]
    assert len(lines) == 1, "no facts line"
    facts = json.loads(lines[0][len(FACTS_PREFIX):])
    sizes = []
    for url in images:
        assert url.startswith("data:image/jpeg;base64,"), "image is not a JPEG data URL"
        raw = base64.b64decode(url.split(",", 1)[1], validate=True)
        assert raw[:3] == b"\xff\xd8\xff", "image bytes are not JPEG"
        img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None, "JPEG does not decode"
        sizes.append((img.shape[1], img.shape[0]))
    return facts, sizes
