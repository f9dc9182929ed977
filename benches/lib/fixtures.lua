-- Deterministic fixtures for the benchmark (the native baseline reads the same layout):
--   <root>/w1/f0000.txt .. f1999.txt   2,000 files of exactly 2,048 bytes (W1, W2, W5)
--   <root>/w3/d000.json .. d199.json   200 JSON documents of about 20 KiB (W3)
--   <root>/w4/e00000 .. e09999         10,000 empty files (W4)
--   <root>/big/package-lock.json       a 3.8 MB package-lock-shaped document (lib/lockfile.lua)
--   <root>/deep/l01/../l10/source.lua  10 levels under a directory holding the root marker
-- Every file's content is a function of its index, so a run can check each byte it got back.

local uv = vim.uv
local lockfile = require("lib.lockfile")

local M = {}

M.W1_FILES, M.W1_SIZE = 2000, 2048
M.W3_FILES, M.W3_ITEMS = 200, 152
M.W4_ENTRIES = 10000
M.ROOT_LEVELS, M.ROOT_MARKER = 10, "fscache-bench.root"

---The 2,048 bytes of W1 file `i` (0-based).
function M.w1_content(i)
  local head = ("fixture %04d\n"):format(i)
  local unit = ("%04d abcdefghijklmnopqrstuvwxyz 0123456789\n"):format(i)
  local body = unit:rep(math.ceil(M.W1_SIZE / #unit))
  return (head .. body):sub(1, M.W1_SIZE)
end

---The JSON text of W3 document `i`: an object with `name`, `version` and `items`.
function M.w3_content(i)
  local items = {}
  for k = 0, M.W3_ITEMS - 1 do
    items[#items + 1] = (
      '{"id":%d,"name":"item-%d-%d","tags":["alpha","beta","gamma"],'
      .. '"active":%s,"score":%d.5,"nested":{"x":%d,"y":null,"label":"n%05d"}}'
    ):format(k, i, k, (k % 2 == 0) and "true" or "false", k * 3, k, k * 7)
  end
  return ('{"name":"doc-%03d","version":%d,"items":[%s]}'):format(i, i, table.concat(items, ",\n"))
end

function M.w1_path(root, i)
  return ("%s/w1/f%04d.txt"):format(root, i)
end

function M.w3_path(root, i)
  return ("%s/w3/d%03d.json"):format(root, i)
end

function M.w4_dir(root)
  return root .. "/w4"
end

function M.w4_name(i)
  return ("e%05d"):format(i)
end

local function write(path, content)
  local f = assert(io.open(path, "wb"))
  assert(f:write(content))
  assert(f:close())
end

---Creates every fixture under a fresh temp dir; returns root, W1 paths, their contents, W3 paths.
function M.create()
  local root = assert(uv.fs_mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/fscache-bench-XXXXXX"))
  for _, d in ipairs({ "w1", "w3", "w4", "big", "deep" }) do
    assert(uv.fs_mkdir(root .. "/" .. d, 493))
  end
  local fx = { root = root, w1 = {}, w1_content = {}, w3 = {}, w4 = M.w4_dir(root) }
  fx.big = root .. "/big/package-lock.json"
  fx.big_text = lockfile.text()
  write(fx.big, fx.big_text)
  fx.deep_root = root .. "/deep"
  write(fx.deep_root .. "/" .. M.ROOT_MARKER, "")
  local dir = fx.deep_root
  for level = 1, M.ROOT_LEVELS do
    dir = ("%s/l%02d"):format(dir, level)
    assert(uv.fs_mkdir(dir, 493))
  end
  fx.deep_source = dir .. "/source.lua"
  write(fx.deep_source, "return 1\n")
  for i = 0, M.W1_FILES - 1 do
    local p, c = M.w1_path(root, i), M.w1_content(i)
    write(p, c)
    fx.w1[i + 1], fx.w1_content[i + 1] = p, c
  end
  for i = 0, M.W3_FILES - 1 do
    local p = M.w3_path(root, i)
    write(p, M.w3_content(i))
    fx.w3[i + 1] = p
  end
  for i = 0, M.W4_ENTRIES - 1 do
    write(fx.w4 .. "/" .. M.w4_name(i), "")
  end
  -- Let every fixture age past any "changed just now" window, so hits are plain hits.
  uv.sleep(100)
  return fx
end

---Removes the fixture tree.
function M.remove(fx)
  vim.fn.delete(fx.root, "rf")
end

return M
