-- Driven by tests/authoring/nvim_e2e.rs: a real Neovim (headless) opens a
-- `.mill` file with an error through `millrace lsp`, and records what it
-- got. Works on Neovim 0.7 (start_client) and later (vim.lsp.start).
local bin = os.getenv("MILL_BIN")
local file = os.getenv("MILL_FILE")
local out = os.getenv("MILL_OUT")
local results = {}

local function finish()
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(results))
  f:close()
  vim.cmd("qa!")
end

vim.cmd("edit " .. vim.fn.fnameescape(file))
vim.bo.filetype = "mill"
local buf = vim.api.nvim_get_current_buf()
local config = {
  name = "millrace",
  cmd = { bin, "lsp" },
  root_dir = vim.fn.fnamemodify(file, ":h"),
}
local client_id
if vim.lsp.start then
  client_id = vim.lsp.start(config)
else
  client_id = vim.lsp.start_client(config)
  vim.lsp.buf_attach_client(buf, client_id)
end
results.client = client_id ~= nil

-- Diagnostics as published by the server.
vim.wait(20000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
local diags = vim.diagnostic.get(buf)
results.diagnostics = {}
for _, d in ipairs(diags) do
  table.insert(results.diagnostics, { code = d.code, line = d.lnum, col = d.col, message = d.message })
end

-- Go to definition: from `count retries` to the counter declaration.
local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
for i, l in ipairs(lines) do
  local col = l:find("count retries", 1, true)
  if col then
    vim.api.nvim_win_set_cursor(0, { i, col + 6 })
    break
  end
end
local params = vim.lsp.util.make_position_params()
local replies = vim.lsp.buf_request_sync(buf, "textDocument/definition", params, 10000) or {}
for _, reply in pairs(replies) do
  if reply.result then
    vim.lsp.util.jump_to_location(reply.result, "utf-16")
  end
end
local cursor = vim.api.nvim_win_get_cursor(0)
results.definition = { line = cursor[1] - 1, col = cursor[2] }

-- Format the buffer through the server (fmt).
if vim.lsp.buf.format then
  vim.lsp.buf.format({ async = false, timeout_ms = 10000 })
else
  vim.lsp.buf.formatting_sync(nil, 10000)
end
results.formatted = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
finish()
