"""A remote engine: an OpenAI-compatible `/v1/completions` server (vLLM, llama.cpp server, TGI…).

The denoising happens on the server; this side sends prefix and suffix and reads the middle. By
default the suffix travels in the `suffix` field (servers that implement fill-in-the-middle
natively); with `fim_template` the prompt is built locally instead, e.g.
``"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"``. Only used when the user
configures a URL: dg-lsp makes no network request otherwise.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from engine.api import CancelToken, Cancelled, Candidate, InfillError, InfillRequest, InfillResult, InfillStats, validate


class RemoteEngine:
    def __init__(self, url: str, model: str | None = None, fim_template: str | None = None,
                 api_key: str | None = None, timeout_s: float = 30.0, **_ignored):
        self.base = url.rstrip("/")
        if not self.base.endswith("/v1"):
            self.base += "/v1"
        self.model, self.fim_template, self.api_key, self.timeout_s = model, fim_template, api_key, timeout_s

    @property
    def info(self) -> dict:
        return {"name": "remote", "model": self.model or self.base, "device": "remote", "dtype": "",
                "max_context": 8192}

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 3)  # the server's tokenizer is not known here: an estimate

    def _post(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(f"{self.base}/completions", json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise InfillError(f"remote engine {self.base} answered {exc.code}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise InfillError(f"remote engine {self.base} unreachable: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise InfillError(f"remote engine {self.base} sent invalid JSON: {exc}") from exc

    def infill(self, request: InfillRequest, cancel: CancelToken | None = None) -> InfillResult:
        validate(request)
        holes = request.holes
        if len(holes) != 1:
            raise InfillError("the remote engine fills one hole per request")
        i = request.segments.index(holes[0])
        prefix, suffix = "".join(request.segments[:i]), "".join(request.segments[i + 1:])
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        body = {"max_tokens": holes[0].max_tokens, "temperature": request.temperature, "n": request.candidates,
                "seed": request.seed}
        if self.model:
            body["model"] = self.model
        if self.fim_template:
            body["prompt"] = self.fim_template.format(prefix=prefix, suffix=suffix)
        else:
            body.update(prompt=prefix, suffix=suffix)
        if holes[0].single_line:
            body["stop"] = ["\n"]
        t0 = time.perf_counter()
        reply = self._post(body)
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        try:
            choices = sorted(reply["choices"], key=lambda c: c.get("index", 0))
            # a single line ends with its newline, as the local engines return it; the server
            # stopped on that newline and left it out
            texts = [c["text"] + ("\n" if holes[0].single_line and c.get("finish_reason") == "stop" else "")
                     for c in choices]
        except (KeyError, TypeError) as exc:
            raise InfillError(f"remote engine reply has no choices[].text: {str(reply)[:200]}") from exc
        usage = reply.get("usage") or {}
        stats = InfillStats(nfe=0, tokens=int(usage.get("completion_tokens", 0)),
                            context_tokens=int(usage.get("prompt_tokens", 0)),
                            ms={"total": (time.perf_counter() - t0) * 1e3})
        return InfillResult([Candidate([t], 0.0) for t in texts], stats)
