-- Inline completion (ghost text) over textDocument/inlineCompletion, sent as a raw request so it works
-- on Neovim 0.7+. One suggestion per buffer; it is tied to the buffer's changedtick and is never
-- applied after the buffer changed under it, except when the user typed through it (then the rest
-- stays visible, updated in place: no flicker).
local compat = require("dg_lsp.compat")
local ghost = require("dg_lsp.ghost")
local items = require("dg_lsp.items")
local lsp = require("dg_lsp.lsp")

local M = {}

local INVOKED, AUTOMATIC = 1, 2 -- lsp.InlineCompletionTriggerKind

local cfg = { debounce_ms = 75, hl_group = "DgLspGhostText" }
---@type table<integer, table> per buffer: seq, pending {client, id}, timer, sugg, applying, attached
local buffers = {}

local function buf_state(bufnr)
  local st = buffers[bufnr]
  if not st then
    st = { seq = 0 }
    buffers[bufnr] = st
  end
  return st
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function tick(bufnr)
  return vim.api.nvim_buf_get_changedtick(bufnr)
end

function M.configure(opts)
  cfg = opts
end

local function render(bufnr, st)
  local s = st.sugg
  s.mark = ghost.show(bufnr, s.row, s.col, s.items[s.index].text, cfg.hl_group, s.mark)
end

local function cancel_pending(st)
  if st.timer then
    st.timer:stop()
  end
  if st.pending then
    local client = compat.get_client(st.pending.client_id)
    if client then
      pcall(compat.cancel_request, client, st.pending.id)
    end
    st.pending = nil
  end
end

function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = buffers[bufnr]
  if not st then
    return
  end
  cancel_pending(st)
  st.seq = st.seq + 1 -- responses still in flight are now stale
  if st.sugg then
    ghost.clear(bufnr, st.sugg.mark)
    st.sugg = nil
  end
end

-- Is the suggestion still valid for the buffer as it is now? A change is accepted only when it is the
-- user typing the suggestion's own next characters at its position; then the suggestion is rebased.
local function revalidate(bufnr, st)
  local s = st.sugg
  if not s then
    return false
  end
  local now = tick(bufnr)
  if now == s.tick then
    return true
  end
  if s.foreign then
    return false -- something changed outside the suggestion's line
  end
  local row, col = cursor()
  if row ~= s.row or col <= s.col then
    return false
  end
  local line = compat.get_line(bufnr, row)
  if line:sub(1, s.col) ~= s.line:sub(1, s.col) or line:sub(col + 1) ~= s.line:sub(s.col + 1) then
    return false
  end
  if not items.advance(s, line:sub(s.col + 1, col)) then
    return false
  end
  s.col, s.line, s.tick = col, line, now
  return true
end

local function show(bufnr, st, row, col, list, invoked, index)
  -- A new answer replaces the shown one in the same extmark: no blank frame in between.
  local mark = st.sugg and st.sugg.mark
  st.sugg = {
    row = row,
    col = col,
    line = compat.get_line(bufnr, row),
    items = list,
    index = index or 1,
    tick = tick(bufnr),
    invoked = invoked,
    foreign = false,
    mark = mark,
  }
  render(bufnr, st)
end

--- Sends textDocument/inlineCompletion for the cursor. `opts.invoked`: an explicit request (the server
--- returns several candidates); `opts.index`: which candidate to show first (for next/prev).
function M.request(bufnr, opts)
  opts = opts or {}
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = lsp.client(bufnr)
  if not client then
    return false
  end
  local st = buf_state(bufnr)
  cancel_pending(st)
  st.seq = st.seq + 1
  local seq, at_tick = st.seq, tick(bufnr)
  local row, col = cursor()
  local encoding = lsp.encoding(client)
  local line = compat.get_line(bufnr, row)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = compat.to_lsp_col(line, col, encoding) },
    context = { triggerKind = opts.invoked and INVOKED or AUTOMATIC },
  }
  local ok, id = compat.request(client, "textDocument/inlineCompletion", params, function(err, result)
    if st.seq ~= seq then
      return -- superseded by a newer request or a dismiss
    end
    st.pending = nil
    st.answered = { seq = seq, count = 0, err = err ~= nil } -- for callers waiting on an answer
    if err then
      vim.notify("dg-lsp: inline completion failed: " .. (err.message or vim.inspect(err)), vim.log.levels.WARN)
      return
    end
    if not vim.api.nvim_buf_is_valid(bufnr) or vim.api.nvim_get_current_buf() ~= bufnr then
      return
    end
    local r, c = cursor()
    if tick(bufnr) ~= at_tick or r ~= row or c ~= col then
      return -- the buffer or cursor moved on; the answer is for a state that no longer exists
    end
    if not opts.invoked and not vim.api.nvim_get_mode().mode:match("^i") then
      return
    end
    local found, seen = {}, {}
    for _, raw in ipairs((result and (result.items or result)) or {}) do
      local it = items.normalize(raw, row, col, line, encoding)
      if it and not seen[it.text] then
        seen[it.text] = true
        found[#found + 1] = it
      end
    end
    st.answered.count = #found
    if #found == 0 then
      return
    end
    local index = opts.index and ((opts.index - 1) % #found) + 1 or 1
    show(bufnr, st, row, col, found, opts.invoked, index)
  end, bufnr)
  if ok then
    st.pending = { client_id = client.id, id = id }
  end
  return ok
end

--- Auto-trigger after `debounce_ms` of quiet; each keystroke restarts the timer.
function M.schedule(bufnr)
  local st = buf_state(bufnr)
  if not st.timer then
    st.timer = compat.uv.new_timer()
  end
  st.timer:stop()
  st.timer:start(cfg.debounce_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_buf_is_valid(bufnr) and vim.api.nvim_get_current_buf() == bufnr
      and vim.api.nvim_get_mode().mode:match("^i") then
      M.request(bufnr, { invoked = false })
    end
  end))
end

--- The last answer received for this buffer: {seq, count (usable items), err} or nil; `seq` grows
--- with every request sent (see M.request's return). For tests and statuslines.
function M.last_answer(bufnr)
  local st = buffers[bufnr or vim.api.nvim_get_current_buf()]
  return st and st.answered, st and st.seq
end

function M.is_visible(bufnr)
  local st = buffers[bufnr or vim.api.nvim_get_current_buf()]
  return st ~= nil and st.sugg ~= nil
end

--- The shown suggestion: {text = remaining text, index, count, row, col} or nil.
function M.current(bufnr)
  local st = buffers[bufnr or vim.api.nvim_get_current_buf()]
  local s = st and st.sugg
  if not s then
    return nil
  end
  return { text = s.items[s.index].text, index = s.index, count = #s.items, row = s.row, col = s.col }
end

--- Inserts the suggestion (`part`: nil for all of it, "word" or "line"). Returns true when text was
--- inserted; false (and the suggestion dismissed) when the buffer changed under it.
function M.accept(part, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = buffers[bufnr]
  local s = st and st.sugg
  if not s then
    return false
  end
  local row, col = cursor()
  if not revalidate(bufnr, st) or row ~= s.row or col ~= s.col then
    M.dismiss(bufnr)
    return false
  end
  local it = s.items[s.index]
  local text = it.text
  if part == "word" then
    text = items.first_word(it.text)
  elseif part == "line" then
    text = items.first_line(it.text)
  end
  local whole = text == it.text
  local lines = vim.split(text, "\n", { plain = true })
  cancel_pending(st)
  st.applying = true
  local ok, err = pcall(vim.api.nvim_buf_set_text, bufnr, row, col, row, col + (whole and it.tail or 0), lines)
  st.applying = false
  if not ok then
    M.dismiss(bufnr)
    error(err)
  end
  local end_row = row + #lines - 1
  local end_col = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  if whole then
    M.dismiss(bufnr)
    if it.command then
      lsp.execute(bufnr, it.command.command, it.command.arguments)
    end
    return true
  end
  -- Partial accept: the rest stays as the suggestion at the new cursor.
  items.advance(s, text)
  s.row, s.col, s.line, s.tick, s.foreign = end_row, end_col, compat.get_line(bufnr, end_row), tick(bufnr), false
  render(bufnr, st)
  return true
end

--- Cycles candidates. With only one (automatic requests ask for one), asks the server for
--- alternatives and shows the next one when they arrive.
function M.cycle(delta, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = buf_state(bufnr)
  local s = st.sugg
  if s and revalidate(bufnr, st) and #s.items > 1 then
    s.index = ((s.index - 1 + delta) % #s.items) + 1
    render(bufnr, st)
    return true
  end
  if s and s.invoked then
    return false -- already all the server had
  end
  return M.request(bufnr, { invoked = true, index = s and 1 + delta or 1 })
end

--- Buffer hooks: typing through, dismiss on cursor moves and on leaving insert mode, auto-trigger.
function M.attach(bufnr, auto_trigger)
  local st = buf_state(bufnr)
  if st.attached then
    return
  end
  st.attached = true
  vim.api.nvim_buf_attach(bufnr, false, {
    on_lines = function(_, _, _, first, last_old, last_new)
      local s = st.sugg
      if s and not st.applying and not (first == s.row and last_old == s.row + 1 and last_new == s.row + 1) then
        s.foreign = true
      end
    end,
    on_detach = function()
      buffers[bufnr] = nil
    end,
  })
  local group = vim.api.nvim_create_augroup("dg_lsp_buf_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd("TextChangedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      if st.sugg then
        if revalidate(bufnr, st) then
          render(bufnr, st) -- typed through: same extmark, shorter text
          return
        end
        M.dismiss(bufnr)
      end
      if auto_trigger then
        M.schedule(bufnr)
      end
    end,
  })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      -- Typing also moves the cursor, but changes the tick; TextChangedI (after this) handles that.
      local s = st.sugg
      if s and s.tick == tick(bufnr) then
        local row, col = cursor()
        if row ~= s.row or col ~= s.col then
          M.dismiss(bufnr)
        end
      end
    end,
  })
  vim.api.nvim_create_autocmd("CursorMoved", {
    group = group,
    buffer = bufnr,
    callback = function()
      -- A suggestion asked for in normal mode goes away when the cursor leaves it.
      local s = st.sugg
      local row, col = cursor()
      if s and (row ~= s.row or col ~= s.col) then
        M.dismiss(bufnr)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
    end,
  })
end

return M
