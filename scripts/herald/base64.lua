-- herald.base64: standard Base64 encoding (for HTTP auth headers).
local M = {}
local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    out[#out + 1] = chars:sub((n >> 18) + 1, (n >> 18) + 1)
      .. chars:sub(((n >> 12) & 63) + 1, ((n >> 12) & 63) + 1)
      .. (b and chars:sub(((n >> 6) & 63) + 1, ((n >> 6) & 63) + 1) or "=")
      .. (c and chars:sub((n & 63) + 1, (n & 63) + 1) or "=")
  end
  return table.concat(out)
end

return M
