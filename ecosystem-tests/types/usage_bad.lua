-- Type-checked against types/fscache.lua by ecosystem-tests/types_spec.lua: each line marked
-- `expect: <code>` is a misuse the checker must report on that line.

local fscache = require("fscache")

local files = fscache.FileCache.new({ trust_mtime = "yes" }) -- expect: param-type-mismatch
local dirs = fscache.DirectoryCache.new()
files:get_sync("/a", "/b") -- expect: redundant-parameter
files:nosuch("/a") -- expect: undefined-field
fscache.setup({ threads = "many" }) -- expect: assign-type-mismatch
local entry = files:get_sync("/a")
print(entry.content) -- expect: need-check-nil
files:write_sync("/a", { content = 42 }) -- expect: param-type-mismatch
fscache.block_on(function() end, "soon") -- expect: param-type-mismatch
dirs:get("/", "not a function") -- expect: param-type-mismatch
fscache.set_error_handler(42) -- expect: param-type-mismatch
