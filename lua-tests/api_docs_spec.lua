-- Every public function and value of the loaded module has a LuaCATS annotation in
-- types/fscache.lua (with the implementation's parameter names, in order) and a help tag in
-- doc/fscache.txt; and nothing is annotated that the module does not have.

local fscache = require("fscache")

-- Public API of the real module: { key = "fscache.run" | "FileCache.new" | "FileCache:get", fn = f }.
local function public_api()
  local api = {}
  for name, v in pairs(fscache) do
    if type(name) == "string" and name:sub(1, 1) ~= "_" then
      if type(v) == "function" then
        api[#api + 1] = { key = "fscache." .. name, fn = v }
      elseif type(v) == "table" and type(v.new) == "function" then
        for mname, m in pairs(v) do
          if type(m) == "function" and mname:sub(1, 1) ~= "_" then
            local sep = mname == "new" and "." or ":"
            api[#api + 1] = { key = name .. sep .. mname, fn = m, method = sep == ":" }
          end
        end
      elseif type(v) ~= "table" then
        api[#api + 1] = { key = "fscache." .. name, value = true }
      end
    end
  end
  table.sort(api, function(a, b)
    return a.key < b.key
  end)
  return api
end

-- Parameter names of a Lua function, or nil where the interpreter cannot tell (PUC Lua 5.1).
local function param_names(f)
  local info = debug.getinfo(f, "u")
  if not info or not info.nparams then
    return nil
  end
  local names = {}
  for i = 1, info.nparams do
    local ok, n = pcall(debug.getlocal, f, i)
    if not ok or not n then
      return nil
    end
    names[i] = n
  end
  return names
end

-- types/fscache.lua: { [key] = { params = {...}, doc = {lines} } }.
local function parse_types()
  local src = assert(read_file("types/fscache.lua"), "types/fscache.lua is missing")
  local found, doc = {}, {}
  for line in (src .. "\n"):gmatch("([^\n]*)\n") do
    local fname, params = line:match("^function%s+([%w_%.:]+)%s*%(([^)]*)%)")
    local field = line:match("^(fscache%.[%w_]+)%s*=")
    if fname then
      local list = {}
      for p in params:gmatch("[%w_%.]+") do
        list[#list + 1] = p
      end
      found[fname] = { params = list, doc = doc }
      doc = {}
    elseif field then
      found[field] = { doc = doc, field = true }
      doc = {}
    elseif line:match("^%-%-%-") then
      doc[#doc + 1] = line
    else
      doc = {}
    end
  end
  return found, src
end

local function doc_params(doc)
  local names = {}
  for _, l in ipairs(doc) do
    local n = l:match("^%-%-%-@param%s+([%w_%.]+)")
    if n then
      names[#names + 1] = n
    end
  end
  return names
end

describe("types/fscache.lua", function()
  local types, src = parse_types()

  it("is a ---@meta file for the module that loads as Lua", function()
    assert.matches("^%-%-%-@meta fscache\n", src)
    local chunk = assert((loadstring or load)(src, "@types/fscache.lua"))
    local stub = chunk()
    assert.is_table(stub)
    assert.is_table(stub.FileCache)
    assert.is_table(stub.DirectoryCache)
  end)

  it("annotates every public function with its parameters, in order", function()
    local problems = {}
    for _, a in ipairs(public_api()) do
      local t = types[a.key]
      if not t then
        problems[#problems + 1] = a.key .. ": no annotation"
      elseif a.fn then
        if #t.doc == 0 then
          problems[#problems + 1] = a.key .. ": no doc comment"
        end
        local documented = table.concat(doc_params(t.doc), ",")
        if documented ~= table.concat(t.params, ",") then
          problems[#problems + 1] = ("%s: ---@param %s but function(%s)"):format(
            a.key,
            documented,
            table.concat(t.params, ",")
          )
        end
        local impl = param_names(a.fn)
        if impl then
          if a.method then
            assert.are.equal("self", impl[1], a.key .. " is a method")
            table.remove(impl, 1)
          end
          if table.concat(impl, ",") ~= table.concat(t.params, ",") then
            problems[#problems + 1] = ("%s: implementation takes (%s), annotation says (%s)"):format(
              a.key,
              table.concat(impl, ","),
              table.concat(t.params, ",")
            )
          end
        end
      elseif not (t.field and t.doc[#t.doc] and t.doc[#t.doc]:match("^%-%-%-@type ")) then
        problems[#problems + 1] = a.key .. ": value without ---@type"
      end
    end
    assert.are.same({}, problems)
  end)

  it("annotates nothing the module does not have", function()
    local real = {}
    for _, a in ipairs(public_api()) do
      real[a.key] = true
    end
    local extra = {}
    for key in pairs(types) do
      if not real[key] and key ~= "fscache.FileCache" and key ~= "fscache.DirectoryCache" then
        extra[#extra + 1] = key
      end
    end
    table.sort(extra)
    assert.are.same({}, extra)
  end)
end)

describe("doc/fscache.txt", function()
  local text = assert(read_file("doc/fscache.txt"), "doc/fscache.txt is missing")
  local tags = {}
  for tag in text:gmatch("%*([^%s*|]+)%*") do
    tags[tag] = (tags[tag] or 0) + 1
  end

  it("has a help tag for every public function and value", function()
    local missing = {}
    for _, a in ipairs(public_api()) do
      local tag = a.key:find("^fscache%.") and a.key or ("fscache." .. a.key)
      if a.fn then
        tag = tag .. "()"
      end
      if not tags[tag] then
        missing[#missing + 1] = tag
      end
    end
    assert.are.same({}, missing)
  end)

  it("defines each tag once, starts with its file tag and ends with a modeline", function()
    local dup = {}
    for tag, n in pairs(tags) do
      if n > 1 then
        dup[#dup + 1] = tag
      end
    end
    assert.are.same({}, dup)
    assert.matches("^%*fscache%.txt%*", text)
    assert.is_truthy(tags["fscache"])
    assert.matches("vim:[^\n]*ft=help[^\n]*\n$", text)
  end)

  it("keeps lines within 78 columns", function()
    local long = {}
    local n = 0
    for line in text:gmatch("([^\n]*)\n") do
      n = n + 1
      if #line > 78 then
        long[#long + 1] = n .. ": " .. line
      end
    end
    assert.are.same({}, long)
  end)
end)
