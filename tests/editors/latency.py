"""Editor-side latency of dg-lsp in a real headless Neovim: trigger() → ghost text drawn, and
accept() → text in the buffer, measured inside Neovim with vim.loop.hrtime().

    python tests/editors/latency.py --nvim 0.11 --model random:tiny -n 10

Each round moves to a fresh line end (so no result cache can answer) and triggers explicitly.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nvim_harness import FILL_MS, close, launch  # noqa: E402

MEASURE = """
local n = ...
local dg = require('dg_lsp')
local out = {}
for i = 1, n do
  local row = vim.api.nvim_buf_line_count(0)
  vim.api.nvim_buf_set_lines(0, row, row, false, {'    value_' .. i .. ' = compute(' .. i .. ', '})
  vim.api.nvim_win_set_cursor(0, {row + 1, #vim.api.nvim_buf_get_lines(0, row, row + 1, false)[1]})
  local t0 = vim.loop.hrtime()
  dg.trigger()
  if not vim.wait(%d, function() return dg.is_visible() end, 1) then return {error = 'no ghost text', round = i} end
  local t1 = vim.loop.hrtime()
  dg.accept()
  local t2 = vim.loop.hrtime()
  out[#out + 1] = {(t1 - t0) / 1e6, (t2 - t1) / 1e6}
end
return out
""" % FILL_MS


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nvim", default="0.11", choices=["0.7", "0.11"])
    ap.add_argument("--model", default="random:tiny")
    ap.add_argument("-n", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        editor = launch(args.nvim, tmp_path, args.model, auto=False)
        try:
            editor.open(tmp_path / "bench.py", "def compute(a, b):\n    return a * b\n\n\ndef main():\n", 4)
            rows = editor.lua(MEASURE, args.n + 1)
        finally:
            close(editor)
        # The server logs its own time per fill ("..., 195 ms, 5 steps, ..."): the rest is transport + client.
        server_ms = [float(m) for m in re.findall(r"candidate\(s\), (\d+(?:\.\d+)?) ms", editor.server_log.read_text())]
    if isinstance(rows, dict):
        print(rows, editor.log_tail())
        return 1
    rows = rows[1:]  # the first round warms the engine up
    shown = [r[0] for r in rows]
    accept = [r[1] for r in rows]
    print(f"nvim {args.nvim}, model {args.model}, {len(rows)} rounds after 1 warm-up")
    print(f"trigger → ghost text: median {statistics.median(shown):.1f} ms, min {min(shown):.1f}, max {max(shown):.1f}")
    print(f"accept → buffer edit: median {statistics.median(accept):.2f} ms, max {max(accept):.2f}")
    if len(server_ms) > 1:
        print(f"server-side fill time (its log): median {statistics.median(server_ms[1:]):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
