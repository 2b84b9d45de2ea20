-- Suggestion items: server items → text relative to the cursor, and how text is consumed when the
-- user types through it or accepts part of it. Pure functions over strings (byte offsets).
local compat = require("dg_lsp.compat")

local M = {}

-- An item from the server → {text, tail, command} relative to the request's cursor: `text` is what is
-- left to insert at the cursor, `tail` the bytes after the cursor it replaces. Items whose range
-- leaves the cursor line or does not agree with what is typed before the cursor cannot be ghost text.
function M.normalize(raw, row, col, line, encoding)
  local text = raw.insertText
  if type(text) == "table" then
    -- A snippet: shown and inserted as plain text, tab stops dropped.
    text = (text.value or ""):gsub("%${%d+:([^}]*)}", "%1"):gsub("%$%d+", "")
  end
  if type(text) ~= "string" then
    return nil
  end
  local scol, ecol = col, col
  if raw.range then
    if raw.range.start.line ~= row or raw.range["end"].line ~= row then
      return nil
    end
    scol = compat.to_byte_col(line, raw.range.start.character, encoding)
    ecol = compat.to_byte_col(line, raw.range["end"].character, encoding)
  end
  if scol > col or ecol < col then
    return nil
  end
  local typed = line:sub(scol + 1, col)
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  text = text:sub(#typed + 1)
  local tail = ecol - col
  if tail > 0 then
    -- A replaced rest-of-line that the fill reproduces verbatim is kept, not replaced.
    local replaced = line:sub(col + 1, ecol)
    if #text >= #replaced and text:sub(#text - #replaced + 1) == replaced then
      text, tail = text:sub(1, #text - #replaced), 0
    end
  end
  if text == "" then
    return nil
  end
  return { text = text, tail = tail, command = raw.command }
end

-- Keeps the items that start with `consumed` and drops that prefix from them; the current item stays
-- current when it survives. Returns false when nothing is left.
function M.advance(s, consumed)
  local kept, index = {}, 1
  for i, it in ipairs(s.items) do
    if #it.text > #consumed and it.text:sub(1, #consumed) == consumed then
      kept[#kept + 1] = { text = it.text:sub(#consumed + 1), tail = it.tail, command = it.command }
      if i == s.index then
        index = #kept
      end
    end
  end
  if #kept == 0 then
    return false
  end
  s.items, s.index = kept, index
  return true
end

function M.first_word(text)
  return text:match("^%s*[%w_]+") or text:match("^%s*[^%w_%s]+") or text:match("^%s+") or text
end

function M.first_line(text)
  if text:sub(1, 1) == "\n" then
    return text:match("^\n[^\n]*")
  end
  return text:match("^[^\n]*")
end

return M
