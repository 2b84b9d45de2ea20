-- Version differences between Neovim 0.7 and current releases, in one place.
local M = {}

local function has(feature)
  return vim.fn.has(feature) == 1
end

M.nvim_0_8 = has("nvim-0.8")
M.nvim_0_10 = has("nvim-0.10")
M.nvim_0_11 = has("nvim-0.11")
-- 0.10 added `virt_text_pos = "inline"`: ghost text that pushes the rest of the line right.
M.inline_virt_text = M.nvim_0_10
-- 0.12 ships a native inline-completion client.
M.native_inline = has("nvim-0.12") and vim.lsp.inline_completion ~= nil
  and type(vim.lsp.inline_completion.enable) == "function"

M.uv = vim.uv or vim.loop

-- Client methods became `client:method()` in 0.11 (the dot form is deprecated there).
function M.request(client, method, params, handler, bufnr)
  if M.nvim_0_11 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

function M.cancel_request(client, id)
  if M.nvim_0_11 then
    return client:cancel_request(id)
  end
  return client.cancel_request(id)
end

function M.get_client(id)
  return vim.lsp.get_client_by_id(id)
end

function M.clients_for_buffer(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr })
  end
  return vim.lsp.buf_get_clients(bufnr)
end

--- Byte offset (0-based) → LSP character offset in `encoding` for one line of text.
function M.to_lsp_col(line, byte_col, encoding)
  byte_col = math.min(byte_col, #line)
  if encoding == "utf-8" then
    return byte_col
  end
  local units, i = 0, 1
  while i <= byte_col do
    local b = line:byte(i)
    local len = b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
    -- Astral-plane characters take two UTF-16 code units.
    units = units + ((encoding == "utf-16" and len == 4) and 2 or 1)
    i = i + len
  end
  return units
end

--- LSP character offset in `encoding` → byte offset (0-based) in one line; clamps to the line end.
function M.to_byte_col(line, character, encoding)
  if encoding == "utf-8" then
    return math.min(character, #line)
  end
  local units, i = 0, 1
  while i <= #line and units < character do
    local b = line:byte(i)
    local len = b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
    units = units + ((encoding == "utf-16" and len == 4) and 2 or 1)
    i = i + len
  end
  return i - 1
end

function M.get_line(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
end

return M
