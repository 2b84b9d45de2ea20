-- Starts (or reuses) the dg-lsp client and attaches it to buffers of the enabled filetypes.
local compat = require("dg_lsp.compat")

local M = {
  client_id = nil,
  status = { state = "starting" }, -- last dgLsp/status notification
}

local NAME = "dg_lsp"

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  -- Neovim before 0.12 does not announce LSP 3.18 inline completion; this plugin implements it.
  caps.textDocument = caps.textDocument or {}
  caps.textDocument.inlineCompletion = { dynamicRegistration = false }
  return caps
end

local function client_config(cfg)
  -- An empty Lua table would go out as a JSON array; the server wants an object.
  local settings = next(cfg.settings or {}) and cfg.settings or vim.empty_dict()
  return {
    name = NAME,
    cmd = cfg.cmd,
    root_dir = cfg.root_dir or vim.fn.getcwd(),
    capabilities = capabilities(),
    init_options = settings,
    -- Answers workspace/configuration for section `dgLsp`.
    settings = { dgLsp = settings },
    handlers = {
      ["dgLsp/status"] = function(_, params)
        M.status = params or {}
        if cfg.on_status then
          cfg.on_status(M.status)
        end
        vim.api.nvim_exec_autocmds("User", { pattern = "DgLspStatus", modeline = false })
      end,
    },
    on_exit = function()
      M.client_id = nil
      M.status = { state = "stopped" }
    end,
  }
end

--- Attaches the dg-lsp client to `bufnr`, starting the server on first use. Returns the client id.
function M.attach(cfg, bufnr)
  if vim.lsp.start then
    -- 0.8+: one server for every buffer, whatever its root: the model is loaded once.
    M.client_id = vim.lsp.start(client_config(cfg), {
      bufnr = bufnr,
      reuse_client = function(client, config)
        return client.name == config.name
      end,
    })
    return M.client_id
  end
  if not M.client_id or not compat.get_client(M.client_id) then
    M.client_id = vim.lsp.start_client(client_config(cfg))
  end
  if M.client_id then
    vim.lsp.buf_attach_client(bufnr, M.client_id)
  end
  return M.client_id
end

--- The running dg-lsp client attached to `bufnr`, if any.
function M.client(bufnr)
  for _, client in ipairs(compat.clients_for_buffer(bufnr or 0)) do
    if client.name == NAME then
      return client
    end
  end
  return nil
end

function M.encoding(client)
  return client.offset_encoding or "utf-16"
end

--- Sends workspace/executeCommand. The server applies its result with workspace/applyEdit (Neovim
--- does the edit, refusing a stale document version) and answers {applied, failureReason?}.
function M.execute(bufnr, command, arguments, on_done)
  local client = M.client(bufnr)
  if not client then
    vim.notify("dg-lsp: no server attached to this buffer", vim.log.levels.WARN)
    return false
  end
  compat.request(client, "workspace/executeCommand", { command = command, arguments = arguments }, function(err, result)
    if err then
      vim.notify("dg-lsp: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif type(result) == "table" and result.applied == false then
      vim.notify("dg-lsp: " .. (result.failureReason or "the edit was not applied"), vim.log.levels.WARN)
    end
    if on_done then
      on_done(err, result)
    end
  end, bufnr)
  return true
end

return M
