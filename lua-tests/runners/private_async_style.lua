-- A vim._async-style runner for protocol tests, written from docs/runners.md (not
-- Neovim's code). A leaf yields one function; the runner calls it under pcall with a callback
-- that resumes the thread with the callback's arguments. Extra yielded values are ignored.

local unpack = table.unpack or unpack
local function pack(...)
  return { n = select("#", ...), ... }
end

local M = { leaf_calls = 0 }

---Test harness: runs fn; done(...) gets its results, fail(err) its error.
function M.start(fn, done, fail)
  local co = coroutine.create(fn)
  local function step(...)
    local r = pack(coroutine.resume(co, ...))
    if not r[1] then
      if fail then
        fail(r[2])
      end
      return
    end
    if coroutine.status(co) == "dead" then
      done(unpack(r, 2, r.n))
      return
    end
    M.leaf_calls = M.leaf_calls + 1
    local ok, err = pcall(r[2], function(...)
      step(...)
    end)
    if not ok and fail then
      fail(err)
    end
  end
  step()
  return co
end

return M
