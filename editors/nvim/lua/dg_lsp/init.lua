-- dg-lsp for Neovim 0.7+: starts the server for the enabled filetypes, shows inline completions as
-- ghost text (native vim.lsp.inline_completion on 0.12+), and exposes the server's multi-span fills.
local actions = require("dg_lsp.actions")
local compat = require("dg_lsp.compat")
local config = require("dg_lsp.config")
local inline = require("dg_lsp.inline")
local lsp = require("dg_lsp.lsp")

local M = {}

local cfg = nil

local function native()
  return cfg ~= nil and cfg.native ~= false and compat.native_inline
end

-- Native 0.12 client: its extmarks live in this namespace; there is no public "is shown" query.
local function native_visible(bufnr)
  local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  return ns ~= nil and #vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { limit = 1 }) > 0
end

local function cur()
  return vim.api.nvim_get_current_buf()
end

--- Asks for a suggestion at the cursor now (an explicit request: the server returns alternatives).
function M.trigger()
  if native() then
    -- The native client has no public "request now"; it requests (debounced) on cursor movement.
    vim.api.nvim_exec_autocmds("CursorMovedI", { buffer = cur(), modeline = false })
    return true
  end
  return inline.request(cur(), { invoked = true })
end

function M.is_visible()
  if native() then
    return native_visible(cur())
  end
  return inline.is_visible(cur())
end

--- The suggestion being shown: {text, index, count, row, col} (plugin renderer only) or nil.
function M.current()
  return inline.current(cur())
end

function M.accept()
  if native() then
    -- get() accepts the shown candidate (applied on the next event-loop turn) and says whether it did.
    return native_visible(cur()) and vim.lsp.inline_completion.get() == true
  end
  return inline.accept(nil, cur())
end

--- Accepts the next word (native 0.12 client: the whole suggestion).
function M.accept_word()
  if native() then
    return M.accept()
  end
  return inline.accept("word", cur())
end

--- Accepts up to the end of the current line (native 0.12 client: the whole suggestion).
function M.accept_line()
  if native() then
    return M.accept()
  end
  return inline.accept("line", cur())
end

function M.dismiss()
  if native() then
    -- No public dismiss in the native client: hide its ghost text (accept() only takes visible text).
    local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
    if ns then
      vim.api.nvim_buf_clear_namespace(cur(), ns, 0, -1)
    end
    return
  end
  inline.dismiss(cur())
end

local function native_cycle(count)
  local ic = vim.lsp.inline_completion
  local select = ic.select or ic.jump
  if select then
    select({ count = count })
  end
end

function M.next()
  if native() then
    return native_cycle(1)
  end
  return inline.cycle(1, cur())
end

function M.prev()
  if native() then
    return native_cycle(-1)
  end
  return inline.cycle(-1, cur())
end

M.fill_selection = actions.fill_selection
M.fill_holes = actions.fill_holes
M.fix_line = actions.fix_line
M.alternatives = actions.alternatives

--- The last dgLsp/status notification: {state = loading|ready|busy|error, device, model, message}.
function M.status()
  return lsp.status
end

--- For a statusline: "dg-lsp: ready (embedded, cpu)".
function M.statusline()
  local s = lsp.status or {}
  local where = table.concat(vim.tbl_filter(function(x)
    return x ~= nil and x ~= ""
  end, { s.model, s.device }), ", ")
  return "dg-lsp: " .. (s.state or "starting") .. (where ~= "" and (" (" .. where .. ")") or "")
end

local function termcodes(keys)
  return vim.api.nvim_replace_termcodes(keys, true, false, true)
end

-- Insert-mode keys act on a visible suggestion and otherwise do what the key normally does, so <Tab>
-- still indents. Expr mappings with callbacks (0.7+); the returned keys are not remapped.
local function map_insert(lhs, fn_name, fallback)
  if not lhs or lhs == "" then
    return
  end
  vim.api.nvim_set_keymap("i", lhs, "", {
    expr = true,
    noremap = true,
    silent = true,
    desc = "dg-lsp " .. fn_name,
    callback = function()
      if fallback and not M.is_visible() then
        return termcodes(lhs)
      end
      return termcodes("<Cmd>lua require('dg_lsp')." .. fn_name .. "()<CR>")
    end,
  })
end

local function set_keymaps(keys)
  map_insert(keys.accept, "accept", true)
  map_insert(keys.accept_word, "accept_word", true)
  map_insert(keys.accept_line, "accept_line", true)
  map_insert(keys.dismiss, "dismiss", true)
  map_insert(keys.next, "next", false)
  map_insert(keys.prev, "prev", false)
  map_insert(keys.trigger, "trigger", false)
  if keys.fill_selection then
    vim.api.nvim_set_keymap("x", keys.fill_selection, ":<C-u>DgLspFill<CR>", { noremap = true, silent = true, desc = "dg-lsp fill selection" })
  end
  if keys.fill_holes then
    vim.api.nvim_set_keymap("n", keys.fill_holes, "<Cmd>DgLspFillHoles<CR>", { noremap = true, silent = true, desc = "dg-lsp fill holes" })
  end
  if keys.fix_line then
    vim.api.nvim_set_keymap("n", keys.fix_line, "<Cmd>DgLspFixLine<CR>", { noremap = true, silent = true, desc = "dg-lsp fix line" })
  end
end

local function set_commands()
  vim.api.nvim_create_user_command("DgLspFill", function()
    actions.fill_selection(cur(), vim.fn.visualmode())
  end, { range = true, desc = "dg-lsp: fill the last visual selection (block: each line's part, jointly)" })
  vim.api.nvim_create_user_command("DgLspFillHoles", function()
    actions.fill_holes(cur())
  end, { desc = "dg-lsp: fill every hole marker in the buffer" })
  vim.api.nvim_create_user_command("DgLspFixLine", function()
    actions.fix_line(cur())
  end, { desc = "dg-lsp: rewrite the line under the cursor" })
  vim.api.nvim_create_user_command("DgLspAlternatives", function()
    actions.alternatives()
  end, { desc = "dg-lsp: alternatives for the selection or the statement under the cursor" })
  vim.api.nvim_create_user_command("DgLspStatus", function()
    print(M.statusline())
  end, { desc = "dg-lsp: server state, model and device" })
end

local function attach(bufnr)
  if vim.bo[bufnr].buftype ~= "" then
    return
  end
  if not lsp.attach(cfg, bufnr) then
    return
  end
  if native() then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  else
    inline.attach(bufnr, cfg.auto_trigger)
  end
end

--- require("dg_lsp").setup{ cmd = {...}, filetypes = {...}, auto_trigger = true, debounce_ms = 75,
--- keymaps = {...} | false, settings = { model = "embedded", ... }, native = "auto" }
function M.setup(opts)
  cfg = config.build(opts)
  inline.configure(cfg)
  vim.cmd("highlight default link " .. cfg.hl_group .. " Comment")
  set_keymaps(cfg.keymaps or {})
  set_commands()
  local group = vim.api.nvim_create_augroup("dg_lsp", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = cfg.filetypes,
    callback = function(args)
      attach(args.buf)
    end,
  })
  -- Buffers already open when setup() runs (lazy loading).
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(cfg.filetypes, vim.bo[bufnr].filetype) then
      attach(bufnr)
    end
  end
end

return M
