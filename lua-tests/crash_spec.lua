-- A writer process killed with SIGKILL at random points of a stream of atomic writes: the target
-- is always the old or a new complete version, never a torn or mixed file. The writer is a real
-- LuaJIT process (lua-tests/children/writer.lua); the kill points are random with a fixed seed
-- (FSCACHE_FAULT_SEED overrides it), the count is bounded (FSCACHE_KILLS per shape, default 40).

local C = require("support.child")
local uv = test_uv

local SEED = tonumber(os.getenv("FSCACHE_FAULT_SEED") or "") or 20240607
local KILLS = tonumber(os.getenv("FSCACHE_KILLS") or "") or 40

local A = "A" .. string.rep("a", 64 * 1024 - 1)
local B = "B" .. string.rep("b", 256 * 1024 - 1)
local INITIAL = "initial version\n"

local function spawn_writer(target, shape)
  local st = { ready = false, exited = false, out = "" }
  local stdout = uv.new_pipe(false)
  local handle, pid
  handle, pid = uv.spawn(C.interp, {
    args = { C.children .. "/writer.lua", target, shape },
    env = { "FSCACHE_LIB_DIR=" .. C.lib_dir, "PATH=" .. (os.getenv("PATH") or "/usr/bin:/bin") },
    stdio = { nil, stdout, nil },
  }, function(code, signal)
    st.exited, st.code, st.signal = true, code, signal
  end)
  assert(handle, pid)
  stdout:read_start(function(_, data)
    if data then
      st.out = st.out .. data
      st.ready = st.out:find("ready", 1, true) ~= nil
    end
  end)
  st.pid, st.handle, st.stdout = pid, handle, stdout
  return st
end

-- Closes the process and pipe handles and lets luv finish closing them (an unclosed handle at
-- lua_close crashes luv's loop finalizer).
local function close_writer(w)
  local closed = 0
  for _, h in ipairs({ w.stdout, w.handle }) do
    if h:is_closing() then
      closed = closed + 1
    else
      h:close(function()
        closed = closed + 1
      end)
    end
  end
  assert(wait_until(function()
    return closed == 2
  end, 5000))
end

local function temp_files(dir)
  local n = 0
  for _, name in ipairs(dir_names(dir)) do
    if name:find("^%.target%.fscache%-%d+%-%d+%.tmp$") then
      n = n + 1
    else
      assert(name == "target", "unexpected file " .. name)
    end
  end
  return n
end

describe("SIGKILL during a stream of writes", function()
  for _, shape in ipairs({ "sync", "cb", "async" }) do
    it(("target is always a complete version (%s, %d kills)"):format(shape, KILLS), function()
      math.randomseed(SEED)
      local dir = tmpdir()
      local target = dir .. "/target"
      write_file(target, INITIAL)
      local seen = { initial = 0, A = 0, B = 0 }
      local leftovers = 0
      for i = 1, KILLS do
        local w = spawn_writer(target, shape)
        -- Most kills land in the middle of the stream (after the first write completed); a few
        -- land while the child is still starting or writing its first version.
        if i % 8 ~= 0 then
          assert(
            wait_until(function()
              return w.ready or w.exited
            end, 10000),
            "writer never became ready"
          )
          assert(not w.exited, "writer died by itself: " .. tostring(w.code))
          uv.sleep(math.random(0, 12))
        else
          uv.sleep(math.random(0, 4))
        end
        uv.kill(w.pid, "sigkill")
        assert(
          wait_until(function()
            return w.exited
          end, 10000),
          "writer did not exit"
        )
        close_writer(w)
        assert.are.equal(9, w.signal)
        local content = read_file(target)
        if content == INITIAL then
          seen.initial = seen.initial + 1
        elseif content == A then
          seen.A = seen.A + 1
        elseif content == B then
          seen.B = seen.B + 1
        else
          error(
            ("kill %d (seed %d): torn target of %d bytes starting %q"):format(i, SEED, #content, content:sub(1, 16))
          )
        end
        -- Writes of one path run one at a time: a killed writer leaves at most one temp file.
        local now = temp_files(dir)
        assert(now - leftovers <= 1, ("kill %d left %d temp files"):format(i, now - leftovers))
        leftovers = now
      end
      print(
        ("\n[crash %s] seed %d: %d kills -> initial %d, A %d, B %d; temp files left by killed writers: %d"):format(
          shape,
          SEED,
          KILLS,
          seen.initial,
          seen.A,
          seen.B,
          leftovers
        )
      )
      -- The kills must have hit the stream, not only its start.
      assert.is_true(seen.A + seen.B > KILLS / 2)
      rm_rf(dir)
    end)
  end
end)
