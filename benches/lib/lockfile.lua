-- A deterministic document shaped like an npm package-lock.json (lockfileVersion 3): 12,000
-- packages, about 3.8 MB pretty-printed. Plain Lua 5.1 (no vim.*), so the busted specs can load
-- it too (`dofile("benches/lib/lockfile.lua")`). Same text on every run and every host.

local M = {}

M.PACKAGES = 12000

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local LICENSES = { "MIT", "ISC", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "0BSD" }

---The JSON text (a string of about 3.8 MB).
---@param n? integer packages (default M.PACKAGES)
---@return string
function M.text(n)
  n = n or M.PACKAGES
  -- Park–Miller LCG: exact in doubles, so every Lua gives the same sequence.
  local seed = 20240601
  local function rnd(k)
    seed = (seed * 16807) % 2147483647
    return seed % k
  end
  local function name(i)
    return ("pkg-%05d"):format(i)
  end
  local out = {}
  local function w(s)
    out[#out + 1] = s
  end
  w('{\n  "name": "big-app",\n  "version": "1.0.0",\n  "lockfileVersion": 3,\n  "requires": true,\n')
  w('  "packages": {\n    "": {\n      "name": "big-app",\n      "version": "1.0.0",\n')
  w('      "dependencies": {\n')
  for i = 1, 40 do
    w(('        "%s": "^%d.%d.0"%s\n'):format(name(i), rnd(9) + 1, rnd(20), i < 40 and "," or ""))
  end
  w("      }\n    }")
  for i = 1, n do
    local v = ("%d.%d.%d"):format(rnd(9) + 1, rnd(30), rnd(40))
    -- Older packages carry a sha1 digest, newer ones sha512 (as in real lockfiles).
    local sha1 = rnd(2) == 0
    local chars = {}
    for k = 1, sha1 and 27 or 86 do
      local c = rnd(64) + 1
      chars[k] = B64:sub(c, c)
    end
    w((',\n    "node_modules/%s": {\n'):format(name(i)))
    w(('      "version": "%s",\n'):format(v))
    w(('      "resolved": "https://registry.npmjs.org/%s/-/%s-%s.tgz",\n'):format(name(i), name(i), v))
    w(
      ('      "integrity": "%s-%s%s",\n'):format(sha1 and "sha1" or "sha512", table.concat(chars), sha1 and "=" or "==")
    )
    if rnd(3) == 0 then
      w('      "dev": true,\n')
    end
    local deps = rnd(6) == 0 and 2 or rnd(2)
    if deps > 0 then
      w('      "dependencies": {\n')
      for d = 1, deps do
        w(
          ('        "%s": "^%d.%d.%d"%s\n'):format(
            name(rnd(n) + 1),
            rnd(9) + 1,
            rnd(30),
            rnd(9),
            d < deps and "," or ""
          )
        )
      end
      w("      },\n")
    end
    if rnd(8) == 0 then
      w('      "engines": {\n        "node": ">=' .. (rnd(10) + 10) .. '"\n      },\n')
    end
    w(('      "license": "%s"\n    }'):format(LICENSES[rnd(#LICENSES) + 1]))
  end
  w("\n  }\n}\n")
  return table.concat(out)
end

return M
