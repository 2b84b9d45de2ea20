-- Multi-span fills through the server's commands: a visual selection (a block selection gives one
-- span per line, filled jointly), every hole marker in the buffer, the line under the cursor.
-- Argument shapes follow dg_lsp/features/code_actions.py.
local compat = require("dg_lsp.compat")
local lsp = require("dg_lsp.lsp")

local M = {}

local function position(bufnr, row, col, encoding)
  return { line = row, character = compat.to_lsp_col(compat.get_line(bufnr, row), col, encoding) }
end

--- LSP ranges for the last visual selection ('< and '> marks; `mode` is visualmode()).
function M.visual_ranges(bufnr, mode, encoding)
  local s = vim.api.nvim_buf_get_mark(bufnr, "<")
  local e = vim.api.nvim_buf_get_mark(bufnr, ">")
  local srow, scol, erow, ecol = s[1] - 1, s[2], e[1] - 1, e[2]
  local function char_end(row, col)
    -- Marks point at the last character's first byte; the range end is after its last byte.
    local line = compat.get_line(bufnr, row)
    if col >= #line then
      return #line
    end
    local b = line:byte(col + 1)
    local len = b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
    return math.min(#line, col + len)
  end
  if mode == "V" then
    return { { start = position(bufnr, srow, 0, encoding), ["end"] = position(bufnr, erow, #compat.get_line(bufnr, erow), encoding) } }
  end
  if mode == "\22" then -- blockwise: the same byte columns on every line (assumes no tabs/wide characters)
    local lo, hi = math.min(scol, ecol), math.max(scol, ecol)
    local ranges = {}
    for row = srow, erow do
      local line = compat.get_line(bufnr, row)
      if lo <= #line then
        ranges[#ranges + 1] = { start = position(bufnr, row, lo, encoding), ["end"] = position(bufnr, row, char_end(row, hi), encoding) }
      end
    end
    return ranges
  end
  return { { start = position(bufnr, srow, scol, encoding), ["end"] = position(bufnr, erow, char_end(erow, ecol), encoding) } }
end

local function client_or_warn(bufnr)
  local client = lsp.client(bufnr)
  if not client then
    vim.notify("dg-lsp: no server attached to this buffer", vim.log.levels.WARN)
  end
  return client
end

--- Fills the last visual selection (all of its spans jointly) with dgLsp.fillRanges.
function M.fill_selection(bufnr, mode, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = client_or_warn(bufnr)
  if not client then
    return false
  end
  local ranges = M.visual_ranges(bufnr, mode or vim.fn.visualmode(), lsp.encoding(client))
  return lsp.execute(bufnr, "dgLsp.fillRanges", { { uri = vim.uri_from_bufnr(bufnr), ranges = ranges } }, on_done)
end

--- Fills every hole marker (setting holeMarker) in the buffer with dgLsp.fillHoles.
function M.fill_holes(bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not client_or_warn(bufnr) then
    return false
  end
  return lsp.execute(bufnr, "dgLsp.fillHoles", { { uri = vim.uri_from_bufnr(bufnr) } }, on_done)
end

--- Rewrites the line under the cursor with dgLsp.fixLine.
function M.fix_line(bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not client_or_warn(bufnr) then
    return false
  end
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local col = vim.api.nvim_win_get_cursor(0)[2]
  local pos = position(bufnr, row, col, lsp.encoding(lsp.client(bufnr)))
  return lsp.execute(bufnr, "dgLsp.fixLine", { { uri = vim.uri_from_bufnr(bufnr), line = row, position = pos } }, on_done)
end

local ALTERNATIVE_KIND = "refactor.rewrite.dgLsp.alternative"

--- Offers the server's alternatives for the selection or the statement under the cursor through
--- vim.lsp.buf.code_action() (the server computes them only for an explicitly invoked request).
function M.alternatives()
  local context = { only = { ALTERNATIVE_KIND }, triggerKind = 1 }
  if compat.nvim_0_8 then
    vim.lsp.buf.code_action({ context = context })
  else
    vim.lsp.buf.code_action(context) -- 0.7 takes the context itself
  end
end

return M
