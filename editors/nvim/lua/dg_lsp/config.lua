-- Defaults and option merging for require("dg_lsp").setup{}.
local M = {}

local function default_cmd()
  if vim.fn.executable("dg-lsp") == 1 then
    return { "dg-lsp", "serve" }
  end
  return { vim.fn.executable("python3") == 1 and "python3" or "python", "-m", "dg_lsp.cli", "serve" }
end

M.defaults = {
  cmd = nil, -- default: `dg-lsp serve`, else `python3 -m dg_lsp.cli serve`
  filetypes = { "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust", "java", "c", "cpp" },
  root_dir = nil, -- default: the current working directory
  auto_trigger = true,
  debounce_ms = 75, -- client-side; the server debounces too (settings.debounceMs)
  -- "auto": Neovim 0.12+'s vim.lsp.inline_completion when present; false: this plugin's ghost text.
  native = "auto",
  -- Server settings (section `dgLsp`), sent as initializationOptions and on workspace/configuration:
  -- model, device, maxContextTokens, maxFillTokens, debounceMs, candidates, holeMarker,
  -- enabledLanguages, completionItems, trustRemoteCode, inlineMultiline, modelOptions.
  settings = {},
  keymaps = {
    accept = "<Tab>", -- falls back to a normal <Tab> when no suggestion is shown
    accept_word = "<M-Right>",
    accept_line = "<M-Down>",
    next = "<M-]>",
    prev = "<M-[>",
    dismiss = "<C-]>",
    trigger = "<M-\\>",
    fill_selection = "<leader>df", -- visual mode: fill the selection (a block selection fills each line's part jointly)
    fill_holes = "<leader>dh", -- normal mode: fill every hole marker in the buffer
    fix_line = "<leader>dl", -- normal mode: rewrite the line under the cursor
  },
  hl_group = "DgLspGhostText",
  on_status = nil, -- function(status) called on every dgLsp/status notification
}

function M.build(opts)
  opts = opts or {}
  local cfg = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts)
  if opts.keymaps == false then
    cfg.keymaps = {}
  end
  cfg.cmd = cfg.cmd or default_cmd()
  return cfg
end

return M
