-- Child: mutates DIR/f (and DIR's entries) at random for COUNT operations, then writes a final
-- version atomically and prints "done". Operations: atomic replace (temp + rename), in-place
-- rewrite (truncate + write), truncate to zero, delete, create/remove a sibling entry.
-- Version k of the file is header "v<k>:" followed by a body derived from k (see body()), so a
-- reader can tell a consistent (possibly truncated-in-place) version from a torn one.
-- Usage: mutator.lua DIR COUNT SEED
local uv = require("luv")
local dir, count, seed = arg[1], tonumber(arg[2]), tonumber(arg[3])
math.randomseed(seed)
local path = dir .. "/f"

local function body(k)
  return string.rep(string.char(97 + k % 26), (k * 7919) % 3000)
end

local function put(p, s)
  local f = assert(io.open(p, "wb"))
  f:write(s)
  f:close()
end

for k = 1, count do
  local op = math.random(1, 10)
  local v = "v" .. k .. ":" .. body(k)
  if op <= 4 then
    put(dir .. "/.next", v)
    assert(os.rename(dir .. "/.next", path))
  elseif op <= 7 then
    put(path, v)
  elseif op == 8 then
    put(path, "")
  elseif op == 9 then
    os.remove(path)
  else
    local sib = dir .. "/sibling" .. (k % 5)
    if not os.remove(sib) then
      put(sib, "")
    end
  end
  if math.random(1, 4) == 1 then
    uv.sleep(math.random(0, 2))
  end
end
put(dir .. "/.next", "final " .. seed)
assert(os.rename(dir .. "/.next", path))
print("done")
