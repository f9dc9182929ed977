-- build.lua: builds the native library and places it at lua/fscache.so.
--
-- lazy.nvim runs this file on install and update (`build = "build.lua"` in the plugin spec;
-- `:Lazy build fscache` to rerun). It also runs as `nvim -l build.lua` or `luajit build.lua`.
-- Inside a lazy.nvim build task it yields while cargo runs, so the editor stays responsive and
-- cargo's output shows up as progress; anywhere else it waits for cargo.
-- The feature is luajit (Neovim's Lua). Set CARGO_TARGET_DIR to build elsewhere.

local root = debug.getinfo(1, "S").source:match("^@(.*)[/\\]build%.lua$") or "."
local windows = package.config:sub(1, 1) == "\\"
local cmd = { "cargo", "build", "--release", "--features", "luajit" }

local function target_lib()
  local target = os.getenv("CARGO_TARGET_DIR") or (root .. "/target")
  local uname = (not windows) and io.popen("uname -s 2>/dev/null"):read("*l") or ""
  local name = windows and "fscache.dll" or (uname == "Darwin" and "libfscache.dylib" or "libfscache.so")
  if target:sub(1, 1) ~= "/" and not target:match("^%a:") then
    target = root .. "/" .. target
  end
  return target .. "/release/" .. name
end

-- The lazy.nvim task running this file, if any (lazy yields build tasks between loop ticks).
local function lazy_task()
  local async = package.loaded["lazy.async"]
  return type(async) == "table" and type(async.running) == "function" and async.running() or nil
end

-- Runs cmd in root; returns true, or false and the output.
local function run_cargo()
  if vim and vim.system then
    local done, result
    local output = {}
    local function collect(_, data)
      if data then
        output[#output + 1] = data
      end
    end
    vim.system(cmd, { cwd = root, text = true, stdout = collect, stderr = collect }, function(r)
      result, done = r, true
    end)
    if lazy_task() then
      local shown = 0
      while not done do
        if #output > shown then
          shown = #output
          coroutine.yield(vim.trim(output[shown]))
        else
          coroutine.yield()
        end
      end
    else
      vim.wait(30 * 60 * 1000, function()
        return done
      end, 50)
    end
    if not done then
      return false, "cargo did not finish within 30 minutes"
    end
    return result.code == 0, table.concat(output)
  end
  local quoted = {}
  for i, a in ipairs(cmd) do
    quoted[i] = "'" .. a .. "'"
  end
  local p = assert(io.popen("cd '" .. root:gsub("'", "'\\''") .. "' && " .. table.concat(quoted, " ") .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return ok == true or ok == 0, out
end

-- Copies src to dst through a temporary file and a rename: a running Neovim that has the old
-- library mapped keeps it intact.
local function install(src, dst)
  local input = assert(io.open(src, "rb"))
  local bytes = input:read("*a")
  input:close()
  local tmp = dst .. ".tmp"
  local output = assert(io.open(tmp, "wb"))
  assert(output:write(bytes))
  assert(output:close())
  local ok, err = os.rename(tmp, dst)
  if not ok then
    os.remove(tmp)
    error("fscache build: cannot replace " .. dst .. ": " .. tostring(err), 0)
  end
end

local ok, output = run_cargo()
if not ok then
  error("fscache build: `" .. table.concat(cmd, " ") .. "` failed in " .. root .. ":\n" .. output, 0)
end
local dst = root .. "/lua/" .. (windows and "fscache.dll" or "fscache.so")
install(target_lib(), dst)
print("fscache: built " .. dst)
