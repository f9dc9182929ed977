-- The tree, sources, markers and mutations of the root-lookup specs (meta_spec.lua). The answers
-- vim.fs.root gives for them are written out in lua-tests/fixtures/meta_roots.lua (checked
-- against vim.fs.root itself whenever the specs run under Neovim).

local T = {}

-- Directories and files (relative to the tree root); "->" makes a symlink.
T.layout = {
  "d ws/.git",
  "d ws/proj1/src/a/b/c",
  "f ws/proj1/package.json",
  "f ws/proj1/src/x.lua",
  "f ws/proj1/src/a/b/c/file.lua",
  "d ws/proj2/crates/c1/src",
  "f ws/proj2/Cargo.toml",
  "f ws/proj2/.nvim.lua",
  "f ws/proj2/crates/c1/Cargo.toml",
  "f ws/proj2/crates/c1/src/lib.rs",
  "d ws/docs",
  "f ws/docs/readme.md",
  "d ws/proj3/sub",
  "f ws/proj3/.git",
  "f ws/proj3/sub/f.txt",
  "l ws/link -> proj1/src",
}

-- Sources: relative to the tree root, made absolute by the spec; "rel:" ones are passed as
-- relative paths, with the tree root as the current directory.
T.sources = {
  "ws/proj1/src/a/b/c/file.lua",
  "ws/proj1/src/a/b/c",
  "ws/proj1/src/a/b/c/",
  "ws/proj1/src/x.lua",
  "ws/proj1/src/nope.lua",
  "ws/proj1/nodir/x/y.lua",
  "ws/proj2/crates/c1/src/lib.rs",
  "ws/proj2/crates/c1",
  "ws/proj2/.nvim.lua",
  "ws/docs/readme.md",
  "ws/link/a/b/c/file.lua",
  "ws/proj3/sub/f.txt",
  "ws",
  "ws/proj1/src/a/../x.lua",
  "ws/proj1/./src/x.lua",
  "rel:ws/proj1/src/x.lua",
  "rel:./ws/proj2/crates",
  "rel:ws/proj1/src/a/b/c/",
}

local function toml(name)
  return name:match("%.toml$") ~= nil
end

local function is_package_json(name)
  return name == "package.json"
end

-- Markers by name (the fixture refers to them by these names), in a fixed order.
T.markers = {
  { "git", ".git" },
  { "pkg", "package.json" },
  { "cargo", "Cargo.toml" },
  { "list", { ".git", "package.json" } },
  { "list2", { "Cargo.toml", ".git" } },
  { "nested", { { "Cargo.toml", ".nvim.lua" }, ".git" } },
  { "nested2", { { "package.json", ".git" } } },
  { "nope", "nope-marker" },
  { "srcdir", "src" },
  { "slash", "c/file.lua" },
  { "empty", {} },
  { "fn_toml", toml },
  { "mixed", { "nope-marker", is_package_json, ".git" } },
}

-- Mutations applied one after the other (shell commands run in the tree root); every case is
-- checked right after each, with no sleep in between.
T.mutations = {
  "touch ws/proj1/src/a/package.json",
  "rm ws/proj1/package.json",
  "rm -r ws/.git",
  "mv ws/proj2 ws/proj2b",
  "mv ws/proj2b ws/proj2",
  "rm -r ws/proj1/src/a/b && touch ws/proj1/src/a/b",
  "touch ws/Cargo.toml",
  "rm ws/proj1/src/a/b && mkdir -p ws/proj1/src/a/b/c && touch ws/proj1/src/a/b/c/.git",
  "chmod 000 ws/proj2/Cargo.toml && mv ws/proj3/.git ws/proj3/sub/.git",
}

local function q(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

---Creates the tree under `root`.
function T.build(root)
  local cmds = {}
  for _, line in ipairs(T.layout) do
    local kind, rest = line:sub(1, 1), line:sub(3)
    if kind == "d" then
      cmds[#cmds + 1] = "mkdir -p " .. q(root .. "/" .. rest)
    elseif kind == "f" then
      cmds[#cmds + 1] = "touch " .. q(root .. "/" .. rest)
    else
      local from, to = rest:match("^(.-) %-> (.*)$")
      cmds[#cmds + 1] = "ln -s " .. q(to) .. " " .. q(root .. "/" .. from)
    end
  end
  assert(os.execute(table.concat(cmds, " && ")))
end

---Applies mutation `i` in `root`.
function T.mutate(root, i)
  assert(os.execute("cd " .. q(root) .. " && " .. T.mutations[i]))
end

---The source argument for source `s` in the tree at `root`.
function T.source(root, s)
  local rel = s:match("^rel:(.*)$")
  return rel or (root .. "/" .. s)
end

---An answer relative to `root` (as the fixture writes them): nil stays nil ("-" in the
---fixture), the root itself is ".", anything outside keeps its absolute spelling.
function T.relative(root, answer)
  if answer == nil then
    return "-"
  elseif answer == root then
    return "."
  elseif answer:sub(1, #root + 1) == root .. "/" then
    return answer:sub(#root + 2)
  end
  return answer
end

return T
