-- The version is written in one place (Cargo.toml); everything that repeats it must agree.

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

  it("is the newest entry of CHANGELOG.md", function()
    local log = assert(read_file("CHANGELOG.md"), "CHANGELOG.md is missing")
    local top = log:match("\n## %[(%d+%.%d+%.%d+)%] %- %d%d%d%d%-%d%d%-%d%d\n")
    assert.are.equal(version, top)
    assert.matches("\n## %[Unreleased%]\n", log)
  end)
end)
