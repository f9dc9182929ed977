-- Installing without a Rust toolchain, offline: dist/ (built by `make dist`, once per run by
-- scripts/suites.d/install.sh) served by `python3 -m http.server --bind 127.0.0.1`, used with a
-- PATH that has no cargo: the plugin route in a fresh release checkout (download, checksum
-- mismatch, no server), binary rocks for LuaJIT, Lua 5.1 and 5.4 with `luarocks test`,
-- :checkhealth, the stale-library warning, vim.g.fscache, and fscache.testing under busted
-- (LuaJIT, 5.1, 5.4, Neovim) and a plenary-style harness. Every command has a time limit.

local uv = test_uv
local ROOT = assert(uv.fs_realpath("."))
local VERSION = dofile("lua/fscache/version.lua")
-- this machine's artifacts (make dist builds for the machine it runs on)
local PLATFORM = "linux-" .. (select(2, sh("uname -m")):gsub("%s+$", ""):gsub("^arm64$", "aarch64"))
local ART = {}
for _, abi in ipairs({ "luajit", "lua51", "lua54" }) do
  ART[abi] = ("fscache-%s-%s-%s.so"):format(VERSION, PLATFORM, abi)
end
local NVIM = "nvim -u NONE -i NONE -n --headless"

-- PATH without any directory that holds cargo (or rustc).
local function path_without_cargo()
  local keep = {}
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    if not uv.fs_stat(dir .. "/cargo") and not uv.fs_stat(dir .. "/rustc") then
      keep[#keep + 1] = dir
    end
  end
  return table.concat(keep, ":")
end
local NOCARGO = path_without_cargo()

-- Runs cmd (a shell line) with PATH without cargo, in dir, limited to `limit` seconds.
local function run(dir, cmd, limit)
  return sh(
    ("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 PATH=%s timeout %d sh -c %s"):format(
      shell_quote(dir),
      shell_quote(NOCARGO),
      limit or 120,
      shell_quote(cmd)
    )
  )
end

local server = {}

-- A served directory: rocks/ -> dist (a rocks server), good/v<version> -> dist (release layout),
-- bad/v<version>/ with the LuaJIT library and a wrong .sha256.
local function start_server()
  local srv = assert(uv.fs_realpath(tmpdir()))
  assert(
    sh(
      ("cd %s && ln -s %s rocks && mkdir good bad bad/v%s && ln -s %s good/v%s"):format(
        shell_quote(srv),
        shell_quote(ROOT .. "/dist"),
        VERSION,
        shell_quote(ROOT .. "/dist"),
        VERSION
      )
    )
  )
  local bad = srv .. "/bad/v" .. VERSION .. "/"
  assert(sh(("cp %s %s"):format(shell_quote(ROOT .. "/dist/" .. ART.luajit), shell_quote(bad))))
  write_file(bad .. ART.luajit .. ".sha256", string.rep("0", 64) .. "  " .. ART.luajit .. "\n")
  local log = srv .. ".http.log"
  local ok, out = sh(
    ("cd %s && (timeout 900 python3 -u -m http.server --bind 127.0.0.1 0 >%s 2>&1 & echo $!)"):format(
      shell_quote(srv),
      shell_quote(log)
    )
  )
  assert(ok, out)
  server.pid = assert(tonumber(out:match("(%d+)")))
  server.dir, server.log = srv, log
  assert(
    wait_until(function()
      server.port = (read_file(log) or ""):match("port (%d+)")
      return server.port ~= nil
    end, 10000),
    "http.server did not start: " .. tostring(read_file(log))
  )
  server.url = "http://127.0.0.1:" .. server.port
end

local function stop_server()
  if server.pid then
    os.execute("kill " .. server.pid .. " 2>/dev/null")
    server.pid = nil
  end
  if server.dir then
    os.remove(server.log)
    rm_rf(server.dir)
  end
end

-- A release checkout: the working tree's files (tracked and new, not ignored) copied to a fresh
-- git repository whose HEAD is tagged v<version>, without lua/fscache.so.
local function release_checkout()
  local dir = assert(uv.fs_realpath(tmpdir()))
  local ok, out = sh(
    (
      "git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null | tar -xf - -C %s"
      .. " && cd %s && rm -f lua/fscache.so && git init -q && git add -A"
      .. " && git -c user.name=t -c user.email=t@t commit -qm release && git tag v%s"
    ):format(shell_quote(dir), shell_quote(dir), VERSION)
  )
  assert(ok, out)
  return dir
end

local function sha256(path)
  local ok, out = sh("sha256sum " .. shell_quote(path))
  assert(ok, out)
  return out:match("^(%x+)")
end

describe("make dist", function()
  it("wrote a library, a checksum, a binary rock and a manifest", function()
    for _, abi in ipairs({ "luajit", "lua51", "lua54" }) do
      local lib = "dist/" .. ART[abi]
      assert.is_not_nil(uv.fs_stat(lib), lib)
      local sum = assert(read_file(lib .. ".sha256"))
      assert.are.equal(sha256(lib) .. "  " .. ART[abi] .. "\n", sum)
    end
    assert.is_not_nil(uv.fs_stat("dist/fscache-" .. VERSION .. "-1." .. PLATFORM .. ".rock"))
    local manifest = assert(read_file("dist/manifest"))
    assert.matches('["' .. VERSION .. '-1"]', manifest, 1, true)
    assert.matches(PLATFORM, manifest, 1, true)
  end)

  it("needs glibc 2.17 or older symbols only", function()
    for _, abi in ipairs({ "luajit", "lua51", "lua54" }) do
      local ok, out = sh("objdump -T dist/" .. ART[abi])
      assert(ok, out)
      local max = { 0, 0 }
      for a, b in out:gmatch("GLIBC_(%d+)%.(%d+)") do
        a, b = tonumber(a), tonumber(b)
        if a > max[1] or (a == max[1] and b > max[2]) then
          max = { a, b }
        end
      end
      assert.is_true(max[1] == 2 and max[2] >= 2, "found GLIBC_ versions in " .. abi)
      assert.is_true(max[1] == 2 and max[2] <= 17, abi .. " needs GLIBC_" .. max[1] .. "." .. max[2])
    end
  end)
end)

describe("without cargo", function()
  setup(start_server)
  teardown(stop_server)

  it("the test PATH really has no cargo", function()
    local ok = run(ROOT, "command -v cargo")
    assert.is_false(ok)
    assert.is_true((run(ROOT, "command -v curl && command -v nvim && command -v luarocks")))
  end)

  describe("the plugin route in a release checkout", function()
    local dir
    before_each(function()
      dir = release_checkout()
    end)
    after_each(function()
      rm_rf(dir)
    end)

    it("downloads, verifies and load-checks the library (nvim -l build.lua), and Neovim uses it", function()
      local ok, out = run(dir, ("FSCACHE_DOWNLOAD_URL=%s/good %s -l build.lua"):format(server.url, NVIM))
      assert(ok, out)
      assert.matches("fscache: downloading " .. server.url .. "/good/v" .. VERSION .. "/" .. ART.luajit, out, 1, true)
      assert.matches("loads in", out, 1, true)
      assert.matches("fscache: downloaded " .. ART.luajit, out, 1, true)
      assert.is_nil(out:find("building from source", 1, true), out)
      assert.are.equal(sha256(ROOT .. "/dist/" .. ART.luajit), sha256(dir .. "/lua/fscache.so"))
      assert.are.equal("", (select(2, sh("ls " .. shell_quote(dir .. "/lua") .. " | grep download || true"))))
      ok, out = run(
        dir,
        ([[%s --cmd 'set rtp^=%s' -c 'lua local f = require("fscache")
print("VERSION " .. f.version .. " PATH " .. f._library_path)
print("SIZE " .. assert(f.FileCache.new():get_sync("Cargo.toml")).size)' -c 'qa!']]):format(NVIM, dir)
      )
      assert(ok, out)
      assert.matches("VERSION " .. VERSION .. " PATH " .. dir .. "/lua/fscache.so", out, 1, true)
      assert.matches("SIZE %d+", out)
    end)

    it("downloads inside a lazy.nvim build task, yielding, before the plugin is on the runtimepath", function()
      -- lazy.nvim loadfile()s build.lua and resumes it in its task coroutine on later ticks;
      -- `require("lazy.async").running()` names that task. The checkout is not on 'runtimepath'.
      write_file(
        dir .. "/lazy_case.lua",
        ([[
local tasks = setmetatable({}, { __mode = "k" })
package.loaded["lazy.async"] = {
  running = function()
    local co = coroutine.running()
    return co and tasks[co]
  end,
}
assert(not vim.o.rtp:find(%q, 1, true))
local co = coroutine.create(assert(loadfile(%q)))
tasks[co] = { name = "fscache" }
local resumes = 0
while coroutine.status(co) ~= "dead" do
  local ok, msg = coroutine.resume(co)
  assert(ok, msg)
  resumes = resumes + 1
  vim.wait(5)
end
print("RESUMES " .. resumes)
]]):format(dir, dir .. "/build.lua")
      )
      local ok, out =
        run("/", ("FSCACHE_DOWNLOAD_URL=%s/good %s -l %s"):format(server.url, NVIM, dir .. "/lazy_case.lua"))
      assert(ok, out)
      assert.matches("fscache: downloaded " .. ART.luajit, out, 1, true)
      assert.is_true(tonumber(out:match("RESUMES (%d+)")) > 1, out)
      assert.are.equal(sha256(ROOT .. "/dist/" .. ART.luajit), sha256(dir .. "/lua/fscache.so"))
    end)

    it("downloads with `make build` (LuaJIT runs build.lua)", function()
      local ok, out = run(dir, ("make build FSCACHE_DOWNLOAD_URL=%s/good"):format(server.url))
      assert(ok, out)
      assert.matches("fscache: downloaded " .. ART.luajit, out, 1, true)
      assert.are.equal(sha256(ROOT .. "/dist/" .. ART.luajit), sha256(dir .. "/lua/fscache.so"))
      ok, out = run(dir, ("make build FEATURE=lua54 FSCACHE_DOWNLOAD_URL=%s/good"):format(server.url))
      assert(ok, out)
      assert.matches("fscache: downloaded " .. ART.lua54, out, 1, true)
      assert.matches("loads in lua5.4", out, 1, true)
    end)

    it("downloads with wget when curl is not on PATH", function()
      -- a PATH of links to every command of the cargo-free PATH except curl
      local bin = dir .. "/.nocurl-bin"
      -- (ln keeps the first of equal names, as PATH lookup does)
      local ok, out = sh(
        ('mkdir -p %s && for d in $(echo %s | tr ":" " "); do ln -s "$d"/* %s/ 2>/dev/null; done; rm -f %s/curl'):format(
          shell_quote(bin),
          shell_quote(NOCARGO),
          shell_quote(bin),
          shell_quote(bin)
        )
      )
      assert(ok, out)
      ok, out = sh(
        ("cd %s && env -u LUA_PATH -u LUA_CPATH PATH=%s FSCACHE_DOWNLOAD_URL=%s/good timeout 120 sh -c %s"):format(
          shell_quote(dir),
          shell_quote(bin),
          server.url,
          shell_quote("command -v curl || luajit build.lua")
        )
      )
      assert(ok, out)
      assert.matches("fscache: downloaded " .. ART.luajit, out, 1, true)
      assert.are.equal(sha256(ROOT .. "/dist/" .. ART.luajit), sha256(dir .. "/lua/fscache.so"))
    end)

    it("installs nothing on a checksum mismatch and leaves the existing library untouched", function()
      write_file(dir .. "/lua/fscache.so", "the old library")
      local before = assert(uv.fs_stat(dir .. "/lua/fscache.so"))
      local ok, out = run(dir, ("FSCACHE_DOWNLOAD_URL=%s/bad %s -l build.lua"):format(server.url, NVIM))
      assert.is_false(ok, out)
      assert.matches("checksum mismatch for " .. ART.luajit, out, 1, true)
      assert.matches("nothing was installed", out, 1, true)
      assert.is_nil(out:find("building from source", 1, true), out)
      local after = assert(uv.fs_stat(dir .. "/lua/fscache.so"))
      assert.are.equal(before.ino, after.ino)
      assert.are.equal("the old library", read_file(dir .. "/lua/fscache.so"))
      local _, listing = sh("ls -a " .. shell_quote(dir .. "/lua"))
      assert.is_nil(listing:find("download", 1, true), listing)
    end)

    it("names both routes and their fixes when there is no download and no cargo", function()
      local ok, out = run(dir, ("FSCACHE_DOWNLOAD_URL=http://127.0.0.1:9/nothing %s -l build.lua"):format(NVIM))
      assert.is_false(ok, out)
      assert.matches("no library for fscache " .. VERSION, out, 1, true)
      assert.matches("download: download of http://127.0.0.1:9/nothing/v" .. VERSION, out, 1, true)
      assert.matches("FSCACHE_DOWNLOAD_URL", out, 1, true)
      assert.matches("source:   cargo is not on PATH", out, 1, true)
      assert.matches("https://rustup.rs", out, 1, true)
      assert.is_nil(uv.fs_stat(dir .. "/lua/fscache.so"))
    end)

    it("rejects a bad FSCACHE_BUILD or FSCACHE_ABI, naming the variable", function()
      local ok, out = run(dir, "FSCACHE_BUILD=sometimes luajit build.lua")
      assert.is_false(ok, out)
      assert.matches("FSCACHE_BUILD must be auto, download or source, not sometimes", out, 1, true)
      ok, out = run(dir, "FSCACHE_ABI=lua53 luajit build.lua")
      assert.is_false(ok, out)
      assert.matches("FSCACHE_ABI must be luajit, lua51 or lua54, not lua53", out, 1, true)
      assert.is_nil(uv.fs_stat(dir .. "/lua/fscache.so"))
    end)

    it("FSCACHE_BUILD=source without cargo says so", function()
      local ok, out = run(dir, "FSCACHE_BUILD=source luajit build.lua")
      assert.is_false(ok, out)
      assert.matches("fscache build: cargo is not on PATH", out, 1, true)
    end)

    it(":checkhealth fscache reports the library, its matching version, the watcher and the pool", function()
      local ok, out = run(dir, ("FSCACHE_DOWNLOAD_URL=%s/good luajit build.lua"):format(server.url))
      assert(ok, out)
      ok, out = run(
        dir,
        ([[%s --cmd 'set rtp^=%s' -c 'lua vim.g.fscache = { threads = 3 }' -c 'checkhealth fscache' -c 'lua io.stdout:write(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n"), "\n")' -c 'qa!']]):format(
          NVIM,
          dir
        )
      )
      assert(ok, out)
      assert.matches("library: " .. dir .. "/lua/fscache.so", out, 1, true)
      assert.matches("OK version " .. VERSION .. " matches the Lua files", out, 1, true)
      assert.matches("Lua: LuaJIT", out, 1, true)
      assert.matches("platform: Linux " .. PLATFORM:gsub("^linux%-", ""), out, 1, true)
      assert.matches("pool: 3 threads", out, 1, true)
      assert.matches("watches in use", out, 1, true)
      assert.is_nil(out:find("ERROR", 1, true), out)
    end)

    it(":checkhealth fscache without a library is an ERROR that says how to get one", function()
      local ok, out = run(
        dir,
        ([[%s --cmd 'set rtp^=%s' -c 'lua vim.g.fscache = { watch_limit = 0 }' -c 'checkhealth fscache' -c 'lua io.stdout:write(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n"), "\n")' -c 'qa!']]):format(
          NVIM,
          dir
        )
      )
      assert(ok, out)
      assert.matches("ERROR require('fscache') failed", out, 1, true)
      assert.matches("the native library is not built", out, 1, true)
      assert.matches(":Lazy build fscache", out, 1, true)
      -- with the library, watch_limit = 0 is reported as off
      ok, out = run(dir, ("FSCACHE_DOWNLOAD_URL=%s/good luajit build.lua"):format(server.url))
      assert(ok, out)
      ok, out = run(
        dir,
        ([[%s --cmd 'set rtp^=%s' -c 'lua vim.g.fscache = { watch_limit = 0 }' -c 'checkhealth fscache' -c 'lua io.stdout:write(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n"), "\n")' -c 'qa!']]):format(
          NVIM,
          dir
        )
      )
      assert(ok, out)
      assert.matches("watcher: off (watch_limit = 0)", out, 1, true)
      assert.matches("vim.g.fscache = { watch_limit = 0 }", out, 1, true)
      assert.is_nil(out:find("ERROR", 1, true), out)
    end)

    it("warns once about a stale library, naming both versions and the fix", function()
      local ok, out = run(dir, ("FSCACHE_DOWNLOAD_URL=%s/good luajit build.lua"):format(server.url))
      assert(ok, out)
      write_file(dir .. "/lua/fscache/version.lua", 'return "9.9.9"\n')
      -- Neovim: vim.notify WARN (captured), and :checkhealth turns it into a warning
      ok, out = run(
        dir,
        ([[%s --cmd 'set rtp^=%s' -c 'lua local seen = {}
vim.notify = function(msg, level) seen[#seen + 1] = level .. ":" .. msg end
local f = require("fscache"); package.loaded.fscache = nil; require("fscache")
for _, m in ipairs(seen) do print("NOTIFY " .. m) end
print("COUNT " .. #seen)' -c 'checkhealth fscache' -c 'lua io.stdout:write(table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n"), "\n")' -c 'qa!']]):format(
          NVIM,
          dir
        )
      )
      assert(ok, out)
      local warn = 3 -- vim.log.levels.WARN
      assert.matches(
        ("NOTIFY %d:fscache: stale native library: %s/lua/fscache.so is version %s, these Lua files expect 9.9.9."):format(
          warn,
          dir,
          VERSION
        ),
        out,
        1,
        true
      )
      assert.matches("fix: cd " .. dir .. " && make build", out, 1, true)
      assert.matches("COUNT 1", out, 1, true)
      assert.matches("WARNING stale library: version " .. VERSION .. ", the Lua files expect 9.9.9", out, 1, true)
      -- elsewhere: stderr
      ok, out = run(
        dir,
        [[LUA_PATH='lua/?.lua;lua/?/init.lua' luajit -e 'local f = require("fscache") print("LOADED " .. f.version)']]
      )
      assert(ok, out)
      assert.matches("fscache: stale native library:", out, 1, true)
      assert.matches("is version " .. VERSION .. ", these Lua files expect 9.9.9", out, 1, true)
      assert.matches("LOADED " .. VERSION, out, 1, true)
    end)
  end)

  describe("vim.g.fscache", function()
    local function nvim_with(setting)
      return run(
        ROOT,
        ([[%s --cmd 'set rtp^=%s' -c 'lua local seen = {}
vim.notify = function(msg, level) seen[#seen + 1] = level .. ":" .. msg end
%s
local s = require("fscache").pool_stats()
print("THREADS " .. s.threads .. " SLICE " .. s.slice_ms .. " NICE " .. s.worker_nice .. " LIMIT " .. s.watch_limit .. " AHEAD " .. s.run_ahead)
for _, m in ipairs(seen) do print("NOTIFY " .. m) end' -c 'qa!']]):format(NVIM, ROOT, setting)
      )
    end

    it("configures the pool when the module loads", function()
      local ok, out =
        nvim_with("vim.g.fscache = { threads = 3, slice_ms = 7, worker_nice = 5, watch_limit = 100, run_ahead = 40 }")
      assert(ok, out)
      assert.matches("THREADS 3 SLICE 7 NICE 5 LIMIT 100 AHEAD 40", out, 1, true)
      assert.is_nil(out:find("NOTIFY", 1, true), out)
    end)

    it("leaves the defaults alone when unset", function()
      local ok, out = nvim_with("")
      assert(ok, out)
      assert.matches("THREADS %d+ SLICE 2 NICE 10", out)
      assert.is_nil(out:find("NOTIFY", 1, true), out)
    end)

    it("warns about a bad value instead of failing the require", function()
      local ok, out = nvim_with('vim.g.fscache = { threads = "many" }')
      assert(ok, out)
      assert.matches(
        "NOTIFY 3:fscache: vim.g.fscache.threads ignored: bad option 'threads' to 'setup' (integer 1..1024 expected, got string \"many\")",
        out,
        1,
        true
      )
      assert.is_nil(out:find("traceback", 1, true), out)
      assert.matches("THREADS %d+ SLICE 2 ", out)
      -- the good options apply, each bad or unknown one is named
      ok, out = nvim_with("vim.g.fscache = { threads = 3, slice_ms = -1, colour = 1 }")
      assert(ok, out)
      assert.matches("THREADS 3 SLICE 2", out, 1, true)
      assert.matches("NOTIFY 3:fscache: vim.g.fscache.slice_ms ignored: bad option 'slice_ms'", out, 1, true)
      assert.matches("NOTIFY 3:fscache: vim.g.fscache: unknown option colour", out, 1, true)
      ok, out = nvim_with("vim.g.fscache = 5")
      assert(ok, out)
      assert.matches("NOTIFY 3:fscache: vim.g.fscache ignored: table expected, got number", out, 1, true)
    end)
  end)

  describe("binary rocks from the served dist/", function()
    local trees = {}
    teardown(function()
      for _, t in pairs(trees) do
        rm_rf(t)
      end
    end)
    for _, case in ipairs({
      { lua = "luajit", ver = "5.1", abi = "luajit" },
      { lua = "lua5.1", ver = "5.1", abi = "lua51" },
      { lua = "lua5.4", ver = "5.4", abi = "lua54" },
    }) do
      it(("install for %s with --only-server, no cargo, and the module works"):format(case.lua), function()
        local tree = assert(uv.fs_realpath(tmpdir()))
        trees[case.lua] = tree
        local config = case.lua == "luajit"
            and ("LUAROCKS_CONFIG=" .. shell_quote(ROOT .. "/scripts/luarocks-luajit.lua") .. " ")
          or ""
        local ok, out = run(
          tree,
          ("%sluarocks --lua-version=%s --tree=%s install fscache --only-server=%s/rocks"):format(
            config,
            case.ver,
            tree,
            server.url
          )
        )
        assert(ok, out)
        assert.matches("fscache " .. VERSION .. "-1 is now installed", out, 1, true)
        ok, out = run(
          tree,
          ([[eval "$(luarocks --lua-version=%s --tree=%s path)" && printf 'rock data\n' >data.txt && %s -e '
local f = require("fscache")
print("VERSION " .. f.version .. " LIB " .. f._library_path)
local files = f.FileCache.new()
print("ASYNC " .. f.block_on(function() return assert(files:get_async("data.txt")).content end, 5000))
print("TESTING " .. require("fscache.testing").timeout_ms)']]):format(case.ver, tree, case.lua)
        )
        assert(ok, out)
        assert.matches(
          ("VERSION %s LIB %s/lib/lua/%s/fscache_%s.so"):format(VERSION, tree, case.ver, case.abi),
          out,
          1,
          true
        )
        assert.matches("ASYNC rock data", out, 1, true)
        assert.matches("TESTING 5000", out, 1, true)
        if case.lua == "luajit" then
          -- Neovim through the rock tree (rocks.nvim / lazy.nvim put it on the search paths)
          ok, out = run(
            tree,
            ([[eval "$(luarocks --lua-version=5.1 --tree=%s path)" && %s -c 'lua local f = require("fscache") print("NVIM " .. f.version .. " " .. f._library_path)' -c 'qa!']]):format(
              tree,
              NVIM
            )
          )
          assert(ok, out)
          assert.matches("NVIM " .. VERSION .. " " .. tree .. "/lib/lua/5.1/fscache_luajit.so", out, 1, true)
        end
        -- luarocks test with the installed rockspec, on the installed library
        local libdir = tree .. "/testlib"
        assert(
          sh(
            ("mkdir -p %s && ln -s %s %s"):format(
              shell_quote(libdir),
              shell_quote(("%s/lib/lua/%s/fscache_%s.so"):format(tree, case.ver, case.abi)),
              shell_quote(libdir .. "/fscache.so")
            )
          )
        )
        local rockspec = ("%s/lib/luarocks/rocks-%s/fscache/%s-1/fscache-%s-1.rockspec"):format(
          tree,
          case.ver,
          VERSION,
          VERSION
        )
        ok, out = run(
          ROOT,
          ([[%seval "$(luarocks --lua-version=%s --tree=%s path)" && FSCACHE_LIB_DIR=%s luarocks --lua-version=%s --tree=%s test %s -- -o plainTerminal lua-tests/smoke_spec.lua lua-tests/version_spec.lua]]):format(
            config,
            case.ver,
            tree,
            shell_quote(libdir),
            case.ver,
            tree,
            shell_quote(rockspec)
          ),
          300
        )
        assert(ok, out)
        assert.matches("(%d+) successes / 0 failures / 0 errors / 0 pending", out)
      end)
    end

    -- fscache.testing as a plugin author uses it: busted in a plugin directory, fscache from the tree
    local function busted_plugin(task, tree, ver)
      local dir = ROOT .. "/ecosystem-tests/testing-plugin"
      local paths = ("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;"):format(tree, ver, tree, ver)
      local cpaths = ("%s/lib/lua/%s/?.so;;"):format(tree, ver)
      if task == "nvim" then
        -- Neovim's default search path lacks the system's Lua 5.1 modules (busted): add them, as nlua does
        paths = paths .. "/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua"
        cpaths = cpaths .. "/usr/lib/" .. PLATFORM:gsub("^linux%-", "") .. "-linux-gnu/lua/5.1/?.so"
      end
      local vars = ver == "5.4" and ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s"):format(shell_quote(paths), shell_quote(cpaths))
        or ("LUA_PATH=%s LUA_CPATH=%s"):format(shell_quote(paths), shell_quote(cpaths))
      return run(
        dir,
        ("FSCACHE_NVIM_LUA=%s %s busted --run=%s -o plainTerminal"):format(
          shell_quote(ROOT .. "/scripts/nvim-lua"),
          vars,
          task
        ),
        120
      )
    end

    local function assert_testing_results(out, what)
      assert.matches("2 successes / 0 failures / 2 errors / 0 pending", out, 1, true, what)
      assert.matches("TESTING%-READ %d+", out)
      assert.matches("TESTING-AWAIT ticked", out, 1, true)
      assert.matches("reader_spec.lua:36: EXPECTED-BOOM", out, 1, true)
      assert.matches("stack traceback:", out, 1, true)
      assert.matches("did not finish within its time-out of 300 ms", out, 1, true)
    end

    for _, case in ipairs({
      { task = "luajit", tree = "luajit", ver = "5.1" },
      { task = "lua51", tree = "lua5.1", ver = "5.1" },
      { task = "lua54", tree = "lua5.4", ver = "5.4" },
      { task = "nvim", tree = "luajit", ver = "5.1" },
    }) do
      it("fscache.testing.it awaits in a plugin's busted spec (" .. case.task .. ")", function()
        local tree = assert(trees[case.tree], "the " .. case.tree .. " rock test runs first")
        local ok, out = busted_plugin(case.task, tree, case.ver)
        assert.is_false(ok, out) -- two tests fail on purpose
        assert_testing_results(out, case.task)
      end)
    end

    it("fscache.testing.it works under a plenary-style harness in Neovim", function()
      local tree = assert(trees.luajit, "the luajit rock test runs first")
      local ok, out = run(
        ROOT .. "/ecosystem-tests/testing-plugin",
        ([[eval "$(luarocks --lua-version=5.1 --tree=%s path)" && %s -l %s spec/reader_spec.lua]]):format(
          tree,
          NVIM,
          shell_quote(ROOT .. "/ecosystem-tests/support/plenary_harness.lua")
        )
      )
      assert.is_false(ok, out)
      assert.matches("Success: 2\nFailed : 2", (out:gsub("\r", "")), 1, true)
      assert.matches("TESTING-AWAIT ticked", out, 1, true)
      assert.matches("EXPECTED-BOOM", out, 1, true)
      assert.matches("did not finish within its time-out of 300 ms", out, 1, true)
    end)
  end)
end)
