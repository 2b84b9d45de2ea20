-- Test init for headless Neovim (0.7+): loads the plugin from this checkout, starts the real server
-- from DG_LSP_TEST_CMD (a JSON list) and defines DgTest, the helpers the pytest side calls over RPC.
-- Every wait is vim.wait on a condition with a timeout; none sleeps.
local root = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h:h")
vim.opt.runtimepath:prepend(root .. "/editors/nvim")
vim.o.swapfile = false
vim.o.hidden = true -- tests move from file to file in one editor
vim.o.shada = ""

local dg = require("dg_lsp")
dg.setup({
  cmd = vim.fn.json_decode(os.getenv("DG_LSP_TEST_CMD")),
  settings = {
    model = os.getenv("DG_LSP_TEST_MODEL") or "random:tiny",
    device = "cpu",
    debounceMs = 0,
    candidates = 3,
  },
  debounce_ms = 20,
  auto_trigger = os.getenv("DG_LSP_TEST_AUTO") == "1",
})

DgTest = {}

function DgTest.state()
  local bufnr = vim.api.nvim_get_current_buf()
  local cur = vim.api.nvim_win_get_cursor(0)
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, require("dg_lsp.ghost").ns, 0, -1, { details = true })
  return {
    visible = dg.is_visible(),
    current = dg.current() or vim.NIL,
    rendered = require("dg_lsp.ghost").rendered(bufnr),
    marks = #marks,
    mark_id = marks[1] and marks[1][1] or vim.NIL,
    virt_text_pos = marks[1] and marks[1][4].virt_text_pos or vim.NIL,
    mode = vim.api.nvim_get_mode().mode,
    cursor = { cur[1] - 1, cur[2] },
    lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false),
    tick = vim.api.nvim_buf_get_changedtick(bufnr),
    status = require("dg_lsp.lsp").status,
  }
end

--- Waits for `cond` (a Lua expression string) to be true; returns {ok, state}.
function DgTest.wait(ms, cond)
  local fn = assert((loadstring or load)("return " .. cond))
  local ok = vim.wait(ms, function()
    local good, value = pcall(fn)
    return good and value
  end, 10)
  return { ok = ok, state = DgTest.state() }
end

--- Waits until the server is ready, or gives up at once when it stopped or reported an error.
function DgTest.wait_ready(ms)
  local res = DgTest.wait(ms, "(require('dg_lsp.lsp').client(0) ~= nil and require('dg_lsp').status().state == 'ready')"
    .. " or require('dg_lsp').status().state == 'stopped' or require('dg_lsp').status().state == 'error'")
  res.ok = res.ok and res.state.status.state == "ready"
  return res
end

--- trigger(), then wait for the ghost text, or stop early when the answer came back empty.
function DgTest.trigger_and_wait(ms, min_count)
  local inline = require("dg_lsp.inline")
  dg.trigger()
  local _, seq = inline.last_answer()
  local cond = "require('dg_lsp').is_visible()"
  if min_count and min_count ~= vim.NIL then
    cond = cond .. " and require('dg_lsp').current().count >= " .. min_count
  end
  local res = DgTest.wait(ms, "(" .. cond .. ") or ((require('dg_lsp.inline').last_answer() or {}).seq == " .. seq
    .. " and not require('dg_lsp').is_visible())")
  res.answer = inline.last_answer() or vim.NIL
  res.ok = res.ok and res.state.visible and (not min_count or min_count == vim.NIL or res.state.current.count >= min_count)
  return res
end

--- Selects the code action whose title matches `pattern` when vim.ui.select is asked.
function DgTest.pick_code_action(pattern)
  DgTest.offered = {}
  vim.ui.select = function(items, opts, on_choice)
    for i, item in ipairs(items) do
      -- 0.7 passes {client_id, action}; 0.8+ {ctx, action}; either way the action has a title.
      local action = item.action or item[2]
      DgTest.offered[#DgTest.offered + 1] = action.title
      if action.title:match(pattern) then
        return on_choice(item, i)
      end
    end
    on_choice(nil, nil)
  end
end
