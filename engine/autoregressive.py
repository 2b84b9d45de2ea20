"""The autoregressive fill-in-the-middle baseline behind the same `infill` interface.

Same network and tokenizer as the embedded model, trained causally on PSM sequences
(<pre> prefix <suf> suffix <mid> middle <eos>; Bavarian et al. 2022). Decoding is greedy (or
sampled), one token per forward pass, with the prompt's keys/values cached. It serves benchmarks
comparing diffusion and autoregression on the same work; one hole per request.
"""
from __future__ import annotations

import time

import torch

from engine.api import CancelToken, Cancelled, Candidate, Hole, InfillError, InfillRequest, InfillResult, InfillStats, validate
from engine.backends.native import load_tokenizer
from engine.model import load_model


class AREngine:
    def __init__(self, folder, device: torch.device):
        self.model = load_model(folder, device=str(device))
        self.tok = load_tokenizer(folder)
        self.device = device
        self.cfg = self.model.cfg
        self.spec = str(folder)

    @property
    def info(self) -> dict:
        return {"name": "autoregressive-fim", "model": self.spec, "device": str(self.device), "dtype": "float32",
                "max_context": self.cfg.max_context}

    def count_tokens(self, text: str) -> int:
        return len(self.tok.encode(text).ids)

    def infill(self, request: InfillRequest, cancel: CancelToken | None = None) -> InfillResult:
        validate(request)
        holes = request.holes
        if len(holes) != 1 or not isinstance(request.segments[-1], str):
            raise InfillError("the autoregressive baseline fills exactly one hole between two texts")
        hole: Hole = holes[0]
        i = request.segments.index(hole)
        prefix, suffix = "".join(request.segments[:i]), "".join(request.segments[i + 1:])
        t0 = time.perf_counter()
        enc = lambda s: self.tok.encode(s).ids if s else []  # noqa: E731
        budget = self.cfg.max_context
        pre, suf = enc(prefix)[-(budget * 3 // 4):], enc(suffix)[: budget // 4]
        prompt = [self.cfg.pre_id, *pre, self.cfg.suf_id, *suf, self.cfg.mid_id]
        gen = torch.Generator().manual_seed(request.seed or 0)
        candidates, nfe, ms_ctx = [], 0, 0.0
        stop = {self.cfg.eos_id, self.cfg.eom_id, self.cfg.pad_id}
        with torch.inference_mode():
            for row in range(request.candidates):
                temp = request.temperature if row == 0 else (request.temperature or request.alt_temperature)
                tc = time.perf_counter()
                cache, hidden = self.model.encode_stream(prompt)
                ms_ctx += (time.perf_counter() - tc) * 1e3
                out, logps = [], []
                while len(out) < hole.max_tokens:
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled()
                    logp = torch.log_softmax(self.model.logits(hidden[0, -1]).float(), -1)
                    logp[self.cfg.mask_id] = float("-inf")
                    nxt = int(torch.multinomial((logp / temp).softmax(-1), 1, generator=gen)) if temp > 0 else int(logp.argmax())
                    logps.append(float(logp[nxt]))
                    if nxt in stop:
                        break
                    out.append(nxt)
                    if hole.single_line and "\n" in self.tok.decode([nxt]):
                        break
                    cache, hidden = self.model.encode_stream(cache.ids + [nxt], cache)
                    nfe += row == 0
                nfe += row == 0
                text = self.tok.decode(out)
                if hole.single_line and "\n" in text:
                    text = text[: text.index("\n") + 1]
                candidates.append(Candidate([text], sum(logps) / max(1, len(logps))))
        total = (time.perf_counter() - t0) * 1e3
        stats = InfillStats(nfe=nfe, tokens=nfe, context_tokens=len(prompt), ms={"context": ms_ctx, "total": total})
        return InfillResult(candidates, stats)
