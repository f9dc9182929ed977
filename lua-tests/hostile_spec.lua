-- Hostile input: every public function (module, classes, methods, and the native table and
-- userdata methods reachable through them) gets every wrong type for every argument. The answer
-- must be a Lua error or `nil, message, code` - never a crash, never a Rust panic - and a callback
-- passed to a call that did not raise is called exactly once, later.

local fscache = require("fscache")
local uv = test_uv
local unpack = table.unpack or unpack

local HUGE = string.rep("x", 16 * 1024 * 1024)

-- Values every argument position receives. Paths are interpreted relative to a deep temp dir
-- (cwd is changed for this spec), so "../.." never reaches outside it.
local function hostile_values()
  local trap = setmetatable({}, {
    __index = function()
      error("trap: __index")
    end,
    __newindex = function()
      error("trap: __newindex")
    end,
    __len = function()
      error("trap: __len")
    end,
  })
  return {
    { "nil", nil },
    { "zero", 0 },
    { "negative", -1 },
    { "fraction", 1.5 },
    { "1e300", 1e300 },
    { "inf", math.huge },
    { "-inf", -math.huge },
    { "nan", 0 / 0 },
    { "2^53", 2 ^ 53 },
    { "true", true },
    { "false", false },
    { "empty table", {} },
    { "array", { 1, 2, 3 } },
    { "trap table", trap },
    { "function", function() end },
    {
      "erroring function",
      function()
        error("hostile function called")
      end,
    },
    { "thread", coroutine.create(function() end) },
    { "file userdata", io.stdout },
    { "proxy userdata", newproxy and newproxy(true) or io.stderr },
    { "null", fscache.null },
    { "huge string", HUGE },
    { "NUL byte", "a\0b" },
    { "empty string", "" },
    { "relative path", "relative/path" },
    { "dotdot", "../../etc/passwd" },
    { "dot", "." },
    { "root", "/" },
    { "slashes", string.rep("/", 5000) },
    { "deep", string.rep("a/", 3000) .. "f" },
    { "long name", string.rep("n", 300) },
    { "dev null", "/dev/null" },
  }
end

local CB = {} -- sentinel: a fresh counting callback

describe("hostile input to every public function", function()
  local dir, old_cwd, calls, files, dirs, native_files, native_dirs
  local checked = 0
  local panic_before

  setup(function()
    panic_before = fscache._native.last_panic()
    old_cwd = uv.cwd()
    dir = tmpdir()
    local deep = dir .. "/a/b/c"
    assert(uv.fs_mkdir(dir .. "/a", 493))
    assert(uv.fs_mkdir(dir .. "/a/b", 493))
    assert(uv.fs_mkdir(deep, 493))
    write_file(dir .. "/f", "valid file")
    write_file(dir .. "/j.json", '{"a": [1, 2, {"b": null}]}')
    assert(uv.chdir(deep))
    -- Hostile callbacks raise on purpose: keep their reports off stderr.
    fscache.set_error_handler(function() end)
  end)

  teardown(function()
    fscache.set_error_handler(nil)
    assert(uv.chdir(old_cwd))
    rm_rf(dir)
  end)

  before_each(function()
    calls = {}
    files = fscache.FileCache.new()
    dirs = fscache.DirectoryCache.new()
    native_files = files._native
    native_dirs = dirs._native
  end)

  local function new_cb(record)
    local c = { n = 0, raised = false }
    record[#record + 1] = c
    return function()
      c.n = c.n + 1
    end
  end

  -- Calls fn with `args`, each CB replaced by a fresh counting callback; checks the outcome.
  local function probe(label, fn, args, n)
    local record = {}
    local real = {}
    for i = 1, n do
      real[i] = args[i] == CB and new_cb(record) or args[i]
    end
    local r = pack(pcall(fn, unpack(real, 1, n)))
    checked = checked + 1
    if not r[1] then
      local msg = tostring(r[2])
      assert(msg ~= "" and not msg:find("panicked", 1, true), label .. ": " .. msg:sub(1, 300))
      for _, c in ipairs(record) do
        c.raised = true
      end
    elseif r[2] == nil and r.n >= 3 then
      assert(type(r[3]) == "string" and type(r[4]) == "string", label .. ": bad failure value")
      assert(r[4]:match("^E[A-Z0-9]+$") or r[4] == "UNKNOWN", label .. ": code " .. r[4])
    end
    for _, c in ipairs(record) do
      calls[#calls + 1] = { label = label, c = c }
    end
  end

  -- For each position, every hostile value with the valid args elsewhere.
  local function matrix(label, fn, valid, n)
    n = n or #valid
    for pos = 1, n do
      for _, h in ipairs(hostile_values()) do
        local args = {}
        for i = 1, n do
          args[i] = valid[i]
        end
        args[pos] = h[2]
        probe(("%s arg #%d = %s"):format(label, pos, h[1]), fn, args, n)
      end
    end
  end

  -- Every callback of a call that did not raise runs exactly once; the others never run.
  local function settle()
    local function waiting()
      local out = {}
      for _, e in ipairs(calls) do
        if not e.c.raised and e.c.n == 0 then
          out[#out + 1] = e.label
        end
      end
      return out
    end
    local settled = wait_until(function()
      return #waiting() == 0 and fscache.pool_stats().pending == 0
    end, 20000)
    if not settled then
      local w = waiting()
      error(
        ("%d callbacks never ran (pending jobs: %d), e.g. %s"):format(
          #w,
          fscache.pool_stats().pending,
          table.concat(w, "; ", 1, math.min(#w, 5))
        )
      )
    end
    uv.sleep(20)
    wait_until(function()
      return false
    end, 30)
    for _, e in ipairs(calls) do
      local want = e.c.raised and 0 or 1
      assert(e.c.n == want, ("%s: callback ran %d times, expected %d"):format(e.label, e.c.n, want))
    end
    assert.are.equal(panic_before, fscache._native.last_panic())
  end

  -- Calls f inside fscache.run and waits for it (timeout_ms: default 20 s).
  local function in_coroutine(f, timeout_ms)
    return function(...)
      local a = pack(...)
      return run_async(function()
        return f(unpack(a, 1, a.n))
      end, timeout_ms or 20000)
    end
  end

  it("FileCache and DirectoryCache constructors and options", function()
    matrix("FileCache.new", fscache.FileCache.new, { {} }, 1)
    matrix("DirectoryCache.new", fscache.DirectoryCache.new, { {} }, 1)
    for _, field in ipairs({ "trust_mtime", "max_size", "unknown_option" }) do
      for _, h in ipairs(hostile_values()) do
        probe("FileCache.new{" .. field .. "=" .. h[1] .. "}", fscache.FileCache.new, { { [field] = h[2] } }, 1)
        probe(
          "DirectoryCache.new{" .. field .. "=" .. h[1] .. "}",
          fscache.DirectoryCache.new,
          { { [field] = h[2] } },
          1
        )
      end
    end
    settle()
  end)

  it("FileCache methods (colon and dot calls, callback and coroutine forms)", function()
    local p = dir .. "/f"
    local j = dir .. "/j.json"
    local FC = fscache.FileCache
    matrix("get", FC.get, { files, p, CB })
    matrix("get_sync", FC.get_sync, { files, p })
    matrix("get_json", FC.get_json, { files, j, {}, CB })
    matrix("get_json cb-in-opts", FC.get_json, { files, j, CB })
    matrix("get_json_sync", FC.get_json_sync, { files, j, {} })
    matrix("write", FC.write, { files, dir .. "/w", { content = "x" }, CB })
    matrix("write_sync", FC.write_sync, { files, dir .. "/w", { content = "x" } })
    matrix("invalidate", FC.invalidate, { files, p })
    matrix("clear_all", FC.clear_all, { files, "extra" })
    matrix("stats", FC.stats, { files, "extra" })
    for _, field in ipairs({ "content", "json", "indent" }) do
      for _, h in ipairs(hostile_values()) do
        local data = { [field] = h[2] }
        if field == "indent" then
          data.json = { a = 1 }
        end
        probe("write_sync{" .. field .. "=" .. h[1] .. "}", FC.write_sync, { files, dir .. "/w", data }, 3)
        probe("write{" .. field .. "=" .. h[1] .. "}", FC.write, { files, dir .. "/w", data, CB }, 4)
      end
    end
    for _, h in ipairs(hostile_values()) do
      probe("get_json_sync{jsonc=" .. h[1] .. "}", FC.get_json_sync, { files, j, { jsonc = h[2] } }, 3)
    end
    settle()
  end)

  it("FileCache *_async methods, inside and outside a coroutine", function()
    local FC = fscache.FileCache
    for _, m in ipairs({
      { "get_async", { files, dir .. "/f" } },
      { "get_json_async", { files, dir .. "/j.json", {} } },
      { "write_async", { files, dir .. "/w", { content = "x" } } },
    }) do
      matrix(m[1] .. " (plain code)", FC[m[1]], m[2])
      matrix(m[1] .. " (coroutine)", in_coroutine(FC[m[1]]), m[2])
    end
    settle()
  end)

  it("DirectoryCache methods", function()
    local DC = fscache.DirectoryCache
    matrix("dir get", DC.get, { dirs, dir, CB })
    matrix("dir get_sync", DC.get_sync, { dirs, dir })
    matrix("dir get_async (plain code)", DC.get_async, { dirs, dir })
    matrix("dir get_async (coroutine)", in_coroutine(DC.get_async), { dirs, dir })
    matrix("dir invalidate", DC.invalidate, { dirs, dir })
    matrix("dir clear_all", DC.clear_all, { dirs, "extra" })
    matrix("dir stats", DC.stats, { dirs, "extra" })
    settle()
  end)

  it("native userdata methods, including a wrong self", function()
    local p = dir .. "/f"
    for _, m in ipairs({
      { "get", { native_files, p, CB } },
      { "get_sync", { native_files, p } },
      { "get_json", { native_files, dir .. "/j.json", {}, CB } },
      { "get_json_sync", { native_files, dir .. "/j.json", {} } },
      { "write", { native_files, dir .. "/w", { content = "x" }, CB } },
      { "write_sync", { native_files, dir .. "/w", { content = "x" } } },
      { "invalidate", { native_files, p } },
      { "clear_all", { native_files } },
      { "stats", { native_files } },
      { "peek", { native_files, p } },
      -- cancel() on a cache with no waiters: here a hostile 0 would withdraw a real waiter.
      { "cancel", { fscache.FileCache.new()._native, 1000000000 } },
    }) do
      matrix("native " .. m[1], native_files[m[1]], m[2])
    end
    for _, m in ipairs({
      { "get", { native_dirs, dir, CB } },
      { "get_sync", { native_dirs, dir } },
      { "invalidate", { native_dirs, dir } },
      { "clear_all", { native_dirs } },
      { "stats", { native_dirs } },
      { "peek", { native_dirs, dir } },
      { "cancel", { fscache.DirectoryCache.new()._native, 1000000000 } },
    }) do
      matrix("native dir " .. m[1], native_dirs[m[1]], m[2])
    end
    -- A FileCache userdata where a DirectoryCache one is expected, and the reverse.
    probe("dir get_sync on a file cache", native_dirs.get_sync, { native_files, dir }, 2)
    probe("file get_sync on a dir cache", native_files.get_sync, { native_dirs, dir .. "/f" }, 2)
    settle()
  end)

  it("module functions", function()
    local pool = fscache.pool_stats()
    local ok_fn = function()
      return 1
    end
    -- run(fn, on_done, on_error) calls exactly one of the two, possibly before it returns.
    matrix("run", fscache.run, { ok_fn, function() end, function() end })
    matrix("block_on", fscache.block_on, { ok_fn, 1000 })
    matrix("dispatch", fscache.dispatch, { 1 })
    matrix("set_error_handler", fscache.set_error_handler, { function() end })
    fscache.set_error_handler(function() end)
    matrix("setup", fscache.setup, { {} })
    for _, field in ipairs({ "threads", "slice_ms", "run_ahead" }) do
      for _, h in ipairs(hostile_values()) do
        probe("setup{" .. field .. "=" .. h[1] .. "}", fscache.setup, { { [field] = h[2] } }, 1)
      end
    end
    fscache.setup({ threads = pool.threads, slice_ms = pool.slice_ms, run_ahead = true })
    local start = function(done)
      done(1)
    end
    matrix("await (plain code)", fscache.await, { start })
    -- A hostile start that never calls done() leaves its coroutine waiting: that is await's
    -- contract, so those calls end in run_async's timeout (an error here), kept short.
    matrix("await (coroutine)", in_coroutine(fscache.await, 300), { start })
    matrix("json_decode", fscache.json_decode, { '{"a": [1, null]}', {} })
    matrix("json_encode", fscache.json_encode, { { a = { 1, 2 } }, {} })
    for _, field in ipairs({ "jsonc", "path", "indent" }) do
      for _, h in ipairs(hostile_values()) do
        probe("json_decode{" .. field .. "=" .. h[1] .. "}", fscache.json_decode, { "[1]", { [field] = h[2] } }, 2)
        probe("json_encode{" .. field .. "=" .. h[1] .. "}", fscache.json_encode, { { 1 }, { [field] = h[2] } }, 2)
      end
    end
    matrix("empty_object", fscache.empty_object, { "extra" })
    matrix("fd", fscache.fd, { "extra" })
    matrix("pool_stats", fscache.pool_stats, { "extra" })
    matrix("attached", fscache.attached, { "extra" })
    matrix("attach", fscache.attach, { uv })
    matrix("detach", fscache.detach, { "extra" })
    fscache.attach(uv) -- detach() above really detached (Neovim's own attach included)
    assert.is_true(fscache.attached())
    settle()
  end)

  it("the native table", function()
    local native = fscache._native
    local pool = fscache.pool_stats()
    for _, name in ipairs({
      "new_file_cache",
      "new_dir_cache",
      "setup",
      "fd",
      "reset_wake",
      "dispatch",
      "pending",
      "pool_stats",
      "now_ms",
      "last_panic",
      "shared",
    }) do
      matrix("native." .. name, native[name], { nil })
    end
    fscache.setup({ threads = pool.threads, slice_ms = pool.slice_ms })
    matrix("native.json_decode", native.json_decode, { "[1]", {} })
    matrix("native.json_encode", native.json_encode, { { 1 }, {} })
    matrix("native.json_decode_sliced", native.json_decode_sliced, { "[1]", {} })
    local sliced = native.json_decode_sliced("[" .. ("1,"):rep(5000) .. "1]")
    matrix("sliced:step", sliced.step, { sliced, 0 })
    matrix("native.empty_dict", native.empty_dict, { "extra" })
    -- json_configure sets the null / empty-dict markers for the whole state: restore after each.
    local function restore_json()
      if in_nvim then
        native.json_configure({ null = vim.NIL, empty_dict_mt = getmetatable(vim.empty_dict()) })
      else
        native.json_configure({})
      end
    end
    for _, field in ipairs({ "null", "empty_dict_mt", "array_mt" }) do
      for _, h in ipairs(hostile_values()) do
        probe("native.json_configure{" .. field .. "=" .. h[1] .. "}", native.json_configure, { { [field] = h[2] } }, 1)
        restore_json()
      end
    end
    for _, h in ipairs(hostile_values()) do
      probe("native.json_configure(" .. h[1] .. ")", native.json_configure, { h[2] }, 1)
      restore_json()
    end
    assert.are.equal("[null,{}]", fscache.json_encode({ fscache.null, fscache.empty_object() }))
    -- wait(ms) blocks until a result waits or ms pass: give it a result to wait for.
    for _, h in ipairs(hostile_values()) do
      files:get(dir .. "/f", function() end)
      probe("native.wait(" .. h[1] .. ")", native.wait, { h[2] }, 1)
      native.dispatch()
    end
    -- set_deliver replaces how every callback is called: restore the shim's after each probe.
    for _, h in ipairs(hostile_values()) do
      probe("native.set_deliver(" .. h[1] .. ")", native.set_deliver, { h[2] }, 1)
      native.set_deliver(fscache._await.deliver)
    end
    settle()
    print(("\n[hostile] %d calls checked"):format(checked))
  end)

  -- Functions this file does not list (added after it was written) get the generic treatment:
  -- three argument positions, every hostile value, nothing valid around it.
  it("public functions not listed above", function()
    local known = {
      module = {
        "FileCache",
        "DirectoryCache",
        "run",
        "block_on",
        "attach",
        "detach",
        "attached",
        "dispatch",
        "set_error_handler",
        "setup",
        "fd",
        "pool_stats",
        "await",
        "json_decode",
        "json_encode",
        "empty_object",
        "null",
        "version",
        "_native",
        "_await",
      },
      class = {
        "new",
        "get",
        "get_sync",
        "get_async",
        "get_json",
        "get_json_sync",
        "get_json_async",
        "write",
        "write_sync",
        "write_async",
        "invalidate",
        "clear_all",
        "stats",
        "__index",
      },
    }
    local function set(list)
      local t = {}
      for _, k in ipairs(list) do
        t[k] = true
      end
      return t
    end
    local module_known, class_known = set(known.module), set(known.class)
    local extra = {}
    for k, v in pairs(fscache) do
      if type(v) == "function" and not module_known[k] then
        extra[#extra + 1] = { "fscache." .. k, v }
      end
    end
    for _, cls in ipairs({ "FileCache", "DirectoryCache" }) do
      for k, v in pairs(fscache[cls]) do
        if type(v) == "function" and not class_known[k] then
          local obj = cls == "FileCache" and files or dirs
          extra[#extra + 1] = {
            cls .. ":" .. k,
            function(...)
              return v(obj, ...)
            end,
          }
        end
      end
    end
    table.sort(extra, function(a, b)
      return a[1] < b[1]
    end)
    for _, e in ipairs(extra) do
      matrix(e[1], e[2], {}, 3)
    end
    fscache.attach(uv)
    fscache.set_error_handler(function() end)
    settle()
    print(("\n[hostile] generic treatment for %d unlisted functions"):format(#extra))
  end)
end)
