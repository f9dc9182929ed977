-- The version is written in Cargo.toml and, for the Lua side, in lua/fscache/version.lua;
-- everything that repeats it must agree.

local fscache = require("fscache")

local function cargo_version()
  local toml = assert(read_file("Cargo.toml"), "Cargo.toml is missing")
  local package = assert(toml:match("%[package%](.-)\n%["), "no [package] table")
  return assert(package:match('\nversion%s*=%s*"([^"]+)"'), "no package version")
end

-- Evaluates a rockspec (plain Lua assignments) into a table.
local function load_rockspec(path)
  local src = assert(read_file(path), path .. " is missing")
  local env = {}
  local chunk
  if setfenv then
    chunk = assert(loadstring(src, "@" .. path))
    setfenv(chunk, env)
  else
    chunk = assert(load(src, "@" .. path, "t", env))
  end
  chunk()
  return env
end

describe("version", function()
  local version = cargo_version()

  it("is semantic", function()
    assert.matches("^%d+%.%d+%.%d+$", version)
  end)

  it("fscache.version is Cargo.toml's", function()
    assert.are.equal(version, fscache.version)
  end)

  it("the publishing rockspec carries it in its name, version and tag", function()
    local path = "rockspecs/fscache-" .. version .. "-1.rockspec"
    local spec = load_rockspec(path)
    assert.are.equal("fscache", spec.package)
    assert.are.equal(version .. "-1", spec.version)
    assert.are.equal("v" .. version, spec.source.tag)
    assert.are.equal("rust-mlua", spec.build.type)
    assert.are.same({ "fscache" }, spec.build.modules)
    assert.is_false(spec.build.default_features)
  end)

  it("no other rockspec claims a release version", function()
    local ok, out = sh("ls rockspecs/*.rockspec *.rockspec")
    assert(ok, out)
    for path in out:gmatch("[^\n]+") do
      local spec = load_rockspec(path)
      if spec.version ~= "scm-1" then
        assert.are.equal(version .. "-1", spec.version, path)
      end
    end
  end)

  it("the offline rockspec builds the same package", function()
    local spec = load_rockspec("fscache-scm-1.rockspec")
    assert.are.equal("fscache", spec.package)
    assert.are.equal("scm-1", spec.version)
    assert.are.equal("build/fscache.so", spec.build.install.lib.fscache)
  end)

  it("is the newest entry of CHANGELOG.md (released with a date, or marked unreleased)", function()
    local log = assert(read_file("CHANGELOG.md"), "CHANGELOG.md is missing")
    local top, when = log:match("\n## %[(%d+%.%d+%.%d+)%] %- (%S+)\n")
    assert.are.equal(version, top)
    if when == "unreleased" then
      assert.is_nil(log:find("\n## %[Unreleased%]\n"), "one unreleased section: the version's")
    else
      assert.matches("^%d%d%d%d%-%d%d%-%d%d$", when)
      assert.matches("\n## %[Unreleased%]\n", log)
    end
  end)

  it("lua/fscache/version.lua (what the loader expects) is Cargo.toml's", function()
    assert.are.equal(version, dofile("lua/fscache/version.lua"))
  end)

  it("the loader, build.lua and the dist script read the version from lua/fscache/version.lua", function()
    for _, path in ipairs({ "lua/fscache/init.lua", "build.lua", "scripts/dist.sh" }) do
      local src = assert(read_file(path), path)
      assert.matches("fscache/version.lua", src, 1, true)
      assert.is_nil(src:find(version, 1, true), path .. " repeats the version")
    end
  end)
end)
