-- Drivers that ignore what a coroutine yields (docs/runners.md, "bare coroutines"):
-- `bare` starts the coroutine with coroutine.wrap once and never looks at it again (the LSP
-- handler / nvim-dap convention: whoever has the result resumes the coroutine);
-- `spurious` resumes the coroutine on every loop tick with junk values until it is dead.
-- Results are handed over from inside the coroutine (no pcall there: PUC 5.1 cannot yield
-- through it); errors after the first resume reach fscache's error handler or `fail`.

local uv = _G.test_uv

local M = {}

M.bare = {}
---Test harness: runs fn in coroutine.wrap; done(...) gets its results.
function M.bare.start(fn, done)
  coroutine.wrap(function()
    done(fn())
  end)()
end

M.spurious = { junk_resumes = 0 }
---Test harness: resumes fn's coroutine every millisecond with junk until it ends.
function M.spurious.start(fn, done, fail)
  local co = coroutine.create(function()
    done(fn())
  end)
  local timer = uv.new_timer()
  local function check(ok, err)
    if not ok and fail then
      fail(err)
    end
    if coroutine.status(co) == "dead" and not timer:is_closing() then
      timer:stop()
      timer:close()
    end
  end
  check(coroutine.resume(co))
  -- A few junk resumes right away, so they reach the leaf even when the result is quick.
  for _ = 1, 3 do
    if coroutine.status(co) == "suspended" then
      M.spurious.junk_resumes = M.spurious.junk_resumes + 1
      check(coroutine.resume(co, "junk", 42, {}))
    end
  end
  if timer:is_closing() then
    return co
  end
  timer:start(1, 1, function()
    if coroutine.status(co) == "suspended" then
      M.spurious.junk_resumes = M.spurious.junk_resumes + 1
      check(coroutine.resume(co, "junk", 42, {}))
    else
      check(true)
    end
  end)
  return co
end

return M
