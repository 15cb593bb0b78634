-- The API reference is generated from the code, never edited by hand.
local gendocs = dofile("tools/gendocs.lua")

describe("docs/API.md", function()
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
  end

  it("is exactly what tools/gendocs.lua generates (run make docs after changing the code)", function()
    assert.are.equal(gendocs.generate(), read("docs/API.md"))
  end)

  it("lists every operation of the three services", function()
    local text = read("docs/API.md")
    for _, module in ipairs({ "eventapi.losant", "eventapi.connectdaily", "eventapi.monterosa" }) do
      local m = require(module)
      for _, op in ipairs((m.service or m).operations) do
        assert.truthy(text:find("| `" .. op.name .. "` | " .. op.method, 1, true), module .. " " .. op.name)
      end
    end
  end)

  it("documents every function the eventapi module exports", function()
    local text = read("docs/API.md")
    for name, v in pairs(require("eventapi")) do
      if type(v) == "function" then assert.truthy(text:find("eventapi." .. name, 1, true), name) end
    end
  end)
end)
