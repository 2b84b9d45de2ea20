-- Ghost text with extmarks. 0.10+: the first line `inline` at the cursor; older: an `overlay` that
-- repaints the rest of the line after the ghost text, so it reads as if inserted. Further lines are
-- `virt_lines` below the cursor line.
local compat = require("dg_lsp.compat")

local M = {}

M.ns = vim.api.nvim_create_namespace("dg_lsp_ghost")

local function expand_tabs(s, bufnr)
  local ts = vim.bo[bufnr].tabstop
  return (s:gsub("\t", string.rep(" ", ts)))
end

--- Shows `text` (may contain newlines) at (row, col) in `bufnr`, reusing mark `id` when given so a
--- typed-through suggestion is updated in place without flicker. Returns the extmark id.
function M.show(bufnr, row, col, text, hl, id)
  local lines = vim.split(text, "\n", { plain = true })
  local after = compat.get_line(bufnr, row):sub(col + 1)
  local opts = { id = id, hl_mode = "combine", priority = 200 }
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { expand_tabs(lines[i], bufnr), hl } }
  end
  if compat.inline_virt_text then
    opts.virt_text = { { expand_tabs(lines[1], bufnr), hl } }
    opts.virt_text_pos = "inline"
  elseif #lines == 1 then
    -- Ghost then the real rest of the line, painted over the rest of the line.
    opts.virt_text = { { expand_tabs(lines[1], bufnr), hl }, { expand_tabs(after, bufnr), "Normal" } }
    opts.virt_text_pos = "overlay"
  else
    -- The rest of the line will follow the last inserted line: show it there, and blank it here.
    local first = expand_tabs(lines[1], bufnr)
    local hidden = vim.fn.strdisplaywidth(expand_tabs(after, bufnr))
    local pad = math.max(0, hidden - vim.fn.strdisplaywidth(first))
    opts.virt_text = { { first, hl }, { string.rep(" ", pad), "Normal" } }
    opts.virt_text_pos = "overlay"
    if after ~= "" then
      table.insert(virt_lines[#virt_lines], { expand_tabs(after, bufnr), "Normal" })
    end
  end
  if #virt_lines > 0 then
    opts.virt_lines = virt_lines
  end
  return vim.api.nvim_buf_set_extmark(bufnr, M.ns, row, col, opts)
end

function M.clear(bufnr, id)
  if not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  if id then
    pcall(vim.api.nvim_buf_del_extmark, bufnr, M.ns, id)
  else
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

--- The ghost text currently drawn in `bufnr` (virtual text of our extmarks, lines joined by "\n"),
--- for is_visible() and for tests that check what the user sees.
function M.rendered(bufnr)
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, M.ns, 0, -1, { details = true })
  local out = {}
  for _, m in ipairs(marks) do
    local d = m[4]
    local parts = {}
    if d.virt_text and d.virt_text[1] then
      parts[1] = d.virt_text[1][1]
    end
    for _, vl in ipairs(d.virt_lines or {}) do
      parts[#parts + 1] = vl[1] and vl[1][1] or ""
    end
    out[#out + 1] = table.concat(parts, "\n")
  end
  return table.concat(out, "\n")
end

return M
