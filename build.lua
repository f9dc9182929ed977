-- build.lua: puts the native library at lua/fscache.so, downloaded or built.
--
-- lazy.nvim runs this file on install and update (`build = "build.lua"` in the plugin spec;
-- `:Lazy build fscache` to rerun). It also runs as `nvim -l build.lua` or `luajit build.lua`, and
-- `make build` runs it. Inside a lazy.nvim build task it yields while downloads and cargo run, so
-- the editor stays responsive; anywhere else it waits for them.
--
-- Two routes:
--   download  fetch fscache-<version>-<os>-<arch>-<abi>.so and its .sha256 from
--             $FSCACHE_DOWNLOAD_URL/v<version>/ (default: the GitHub release of this version),
--             verify the checksum, load it once in a child process, then rename it into place.
--             Needs curl or wget, and sha256sum or shasum.
--   source    cargo build --release (Rust >= 1.88), then copy it into place.
-- FSCACHE_BUILD picks: `download`, `source`, or `auto` (default): a checkout with local changes
-- (not exactly at the tag v<version>, or with modified tracked files) builds from source when
-- cargo is present, so a downloaded library never hides those changes; anything else downloads
-- first and falls back to cargo. A checksum mismatch installs nothing and stops.
-- FSCACHE_ABI (make's FEATURE) picks the Lua ABI: luajit (Neovim's Lua, default), lua51, lua54.
-- Set CARGO_TARGET_DIR to build elsewhere. The file is replaced by a rename, never in place: a
-- running Neovim that has the old library mapped keeps it intact.

local DEFAULT_URL = "https://github.com/fscache/fscache/releases/download"

local root = debug.getinfo(1, "S").source:match("^@(.*)[/\\]build%.lua$") or "."
if root:sub(1, 1) ~= "/" and not root:match("^%a:") and os.getenv("PWD") then
  root = os.getenv("PWD") .. (root == "." and "" or ("/" .. root))
end
local windows = package.config:sub(1, 1) == "\\"
local VERSION = dofile(root .. "/lua/fscache/version.lua")
local ABI = os.getenv("FSCACHE_ABI") or "luajit"
local MODE = os.getenv("FSCACHE_BUILD") or "auto"
if ABI == "" then
  ABI = "luajit"
end
if MODE == "" then
  MODE = "auto"
end
local dst = root .. "/lua/" .. (windows and "fscache.dll" or "fscache.so")

local function fail(msg)
  error("fscache build: " .. msg, 0)
end

if ABI ~= "luajit" and ABI ~= "lua51" and ABI ~= "lua54" then
  fail("FSCACHE_ABI must be luajit, lua51 or lua54, not " .. ABI)
end
if MODE ~= "auto" and MODE ~= "download" and MODE ~= "source" then
  fail("FSCACHE_BUILD must be auto, download or source, not " .. MODE)
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The lazy.nvim task running this file, if any (lazy yields build tasks between loop ticks).
local function lazy_task()
  local async = package.loaded["lazy.async"]
  return type(async) == "table" and type(async.running) == "function" and async.running() or nil
end

-- Runs argv (in root); returns ok, output (stdout and stderr). `stream`: outside Neovim the
-- output goes to the terminal instead of being collected (cargo's progress).
local function run(argv, stream)
  if vim and vim.system then
    local done, result
    local output = {}
    local function collect(_, data)
      if data then
        output[#output + 1] = data
      end
    end
    vim.system(argv, { cwd = root, text = true, stdout = collect, stderr = collect }, function(r)
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
      return false, table.concat(argv, " ") .. " did not finish within 30 minutes"
    end
    return result.code == 0, table.concat(output)
  end
  local quoted = {}
  for i, a in ipairs(argv) do
    quoted[i] = quote(a)
  end
  local line = "cd " .. quote(root) .. " && " .. table.concat(quoted, " ")
  if stream then
    local ok = os.execute(line)
    return ok == true or ok == 0, ""
  end
  -- the shell echoes the status: LuaJIT's popen close() does not return it
  local p = assert(io.popen("(" .. line .. ') 2>&1; echo "__exit=$?"'))
  local out = p:read("*a")
  p:close()
  local status = tonumber(out:match("__exit=(%d+)%s*$"))
  return status == 0, (out:gsub("__exit=%d+%s*$", ""))
end

-- Whether `name` is a command on PATH.
local function have(name)
  local ok = run({ "sh", "-c", "command -v " .. name .. " >/dev/null 2>&1" })
  return ok
end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local s = f:read("*a")
  f:close()
  return s
end

-- Copies src to dst through a temporary file and a rename.
local function install(src, to)
  local bytes = read_all(src) or fail("cannot read " .. src)
  local tmp = to .. ".tmp"
  local output = assert(io.open(tmp, "wb"))
  assert(output:write(bytes))
  assert(output:close())
  local ok, err = os.rename(tmp, to)
  if not ok then
    os.remove(tmp)
    fail("cannot replace " .. to .. ": " .. tostring(err))
  end
end

-- os-arch as the release artifacts name it: linux-x86_64, linux-aarch64, macos-x86_64, macos-arm64.
local function platform()
  local _, s = run({ "uname", "-s" })
  local _, m = run({ "uname", "-m" })
  s, m = (s or ""):gsub("%s+$", ""), (m or ""):gsub("%s+$", "")
  local os_name = s == "Darwin" and "macos" or s:lower()
  if os_name == "linux" and m == "arm64" then
    m = "aarch64"
  end
  return os_name .. "-" .. m
end

local function target_lib()
  local target = os.getenv("CARGO_TARGET_DIR") or (root .. "/target")
  local _, uname = run({ "uname", "-s" })
  local name = windows and "fscache.dll" or ((uname or ""):match("^Darwin") and "libfscache.dylib" or "libfscache.so")
  if target:sub(1, 1) ~= "/" and not target:match("^%a:") then
    target = root .. "/" .. target
  end
  return target .. "/release/" .. name
end

local cargo = os.getenv("CARGO") or "cargo"
local cargo_cmd = { cargo, "build", "--release" }
if ABI == "luajit" then
  cargo_cmd[#cargo_cmd + 1] = "--features"
  cargo_cmd[#cargo_cmd + 1] = "luajit"
else
  cargo_cmd[#cargo_cmd + 1] = "--no-default-features"
  cargo_cmd[#cargo_cmd + 1] = "--features"
  cargo_cmd[#cargo_cmd + 1] = ABI
end

-- The source route; returns true or false and why.
local function build_source()
  if not have(cargo) then
    return false, "cargo is not on PATH"
  end
  print("fscache: building from source: " .. table.concat(cargo_cmd, " "))
  local ok, output = run(cargo_cmd, true)
  if not ok then
    return false, "`" .. table.concat(cargo_cmd, " ") .. "` failed in " .. root .. ":\n" .. output
  end
  install(target_lib(), dst)
  print("fscache: built " .. dst)
  return true
end

local function sha256(path)
  for _, argv in ipairs({ { "sha256sum", path }, { "shasum", "-a", "256", path } }) do
    if have(argv[1]) then
      local ok, out = run(argv)
      local hex = ok and out:match("^(%x+)")
      if hex and #hex == 64 then
        return hex:lower()
      end
    end
  end
  return nil, "neither sha256sum nor shasum is on PATH"
end

-- Fetches url into file with curl or wget; returns true or false and why.
local function fetch(url, file)
  if have("curl") then
    local ok, out = run({ "curl", "-fsSL", "--connect-timeout", "15", "--max-time", "600", "-o", file, url })
    return ok, out
  elseif have("wget") then
    local ok, out = run({ "wget", "-q", "-T", "30", "-O", file, url })
    return ok, out
  end
  return false, "neither curl nor wget is on PATH"
end

-- The interpreter command (argv prefix) that loads a library of ABI in a child process.
local function checker()
  local candidates = {
    luajit = { { "luajit" }, { "nvim", "-u", "NONE", "-i", "NONE", "-n", "--headless", "-l" } },
    lua51 = { { "lua5.1" }, { "lua" } },
    lua54 = { { "lua5.4" }, { "lua" } },
  }
  if ABI == "luajit" and vim and vim.v and vim.v.progpath and vim.v.progpath ~= "" then
    return { vim.v.progpath, "-u", "NONE", "-i", "NONE", "-n", "--headless", "-l" }
  end
  for _, argv in ipairs(candidates[ABI]) do
    if have(argv[1]) then
      return argv
    end
  end
end

-- The download route; returns true, or false, why and whether to stop (checksum mismatch).
local function download()
  local base = os.getenv("FSCACHE_DOWNLOAD_URL") or DEFAULT_URL
  base = base:gsub("/+$", "")
  local artifact = ("fscache-%s-%s-%s.so"):format(VERSION, platform(), ABI)
  local url = ("%s/v%s/%s"):format(base, VERSION, artifact)
  local tmp = ("%s.download-%d"):format(dst, math.random(1, 1e9))
  local sumfile = tmp .. ".sha256"
  local function cleanup()
    os.remove(tmp)
    os.remove(sumfile)
  end
  print("fscache: downloading " .. url)
  local ok, why = fetch(url, tmp)
  if ok then
    ok, why = fetch(url .. ".sha256", sumfile)
  end
  if not ok then
    cleanup()
    return false, "download of " .. url .. " (and .sha256) failed: " .. tostring(why):gsub("%s+$", "")
  end
  local want = (read_all(sumfile) or ""):match("^%s*(%x+)")
  local got, err = sha256(tmp)
  if not got then
    cleanup()
    return false, err
  end
  if not want or #want ~= 64 or want:lower() ~= got then
    cleanup()
    return false,
      ("checksum mismatch for %s: %s.sha256 says %s, the file has %s; nothing was installed"):format(
        artifact,
        url,
        tostring(want),
        got
      ),
      true
  end
  local check = checker()
  if check then
    local script = tmp .. ".check.lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
local open = assert(package.loadlib(%q, "luaopen_fscache"))
local m = open("fscache")
io.stdout:write("FSCACHE_VERSION ", tostring(m.version), "\n")
io.stdout:flush()
os.exit(0)
]]):format(tmp))
    f:close()
    local argv = {}
    for i, a in ipairs(check) do
      argv[i] = a
    end
    argv[#argv + 1] = script
    local loaded, out = run(argv)
    os.remove(script)
    local v = out and out:match("FSCACHE_VERSION (%S+)")
    if not loaded or v ~= VERSION then
      cleanup()
      return false,
        ("%s does not load with %s (expected version %s): %s"):format(artifact, check[1], VERSION, out or "")
    end
    print(("fscache: %s loads in %s (version %s)"):format(artifact, check[1], v))
  else
    print("fscache: no interpreter for " .. ABI .. " to test-load the download; installing it unchecked")
  end
  os.remove(sumfile)
  local renamed, rerr = os.rename(tmp, dst)
  if not renamed then
    os.remove(tmp)
    return false, "cannot replace " .. dst .. ": " .. tostring(rerr)
  end
  print(("fscache: downloaded %s (sha256 %s) to %s"):format(artifact, got, dst))
  return true
end

-- Whether this checkout has changes since its release: not exactly at tag v<version>, or
-- modified tracked files. Not a git checkout (an archive): no.
local function local_changes()
  local git = io.open(root .. "/.git", "rb") -- a directory, or a worktree's file
  if not git then
    return false
  end
  git:close()
  if not have("git") then
    return true
  end
  local ok, tag = run({ "git", "-C", root, "describe", "--tags", "--exact-match", "HEAD" })
  if not ok or tag:gsub("%s+$", "") ~= "v" .. VERSION then
    return true
  end
  local _, status = run({ "git", "-C", root, "status", "--porcelain", "--untracked-files=no" })
  return (status or ""):match("%S") ~= nil
end

math.randomseed(os.time() + math.floor((os.clock() * 1e6) % 1e6))

local source_first = MODE == "source" or (MODE == "auto" and local_changes() and have(cargo))
if source_first then
  local ok, why = build_source()
  if not ok then
    fail(why)
  end
  return
end

local ok, why, stop = download()
if ok then
  return
end
if stop or MODE == "download" then
  fail(why)
end
print("fscache: " .. why .. "; building from source instead")
local built, cwhy = build_source()
if not built then
  fail(table.concat({
    "no library for fscache " .. VERSION .. " (" .. ABI .. "):",
    "  download: " .. why,
    "    fix: check the network or proxy, or set FSCACHE_DOWNLOAD_URL to a mirror of the release",
    "    (its v" .. VERSION .. "/ holds the artifact and its .sha256); needs curl or wget",
    "  source:   " .. cwhy,
    "    fix: install Rust >= 1.88 (https://rustup.rs), then run this again (:Lazy build fscache,",
    "    or make build in " .. root .. ")",
  }, "\n"))
end
