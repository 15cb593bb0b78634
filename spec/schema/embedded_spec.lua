-- sandbox/losant_schemas.c is generated from lua/eventapi/schemas/losant
-- by tools/embed_schemas.lua (`make schemas`): the committed file must be
-- what the tool writes now, so the sandbox checks bodies against the very
-- files the library validates with.
describe("sandbox/losant_schemas.c", function()
  it("is what tools/embed_schemas.lua writes from lua/eventapi/schemas/losant", function()
    local p = assert(io.popen("lua5.4 tools/embed_schemas.lua lua/eventapi/schemas/losant"))
    local generated = p:read("a")
    assert.is_true(p:close())
    local f = assert(io.open("sandbox/losant_schemas.c", "rb"))
    local committed = f:read("a")
    f:close()
    assert.are.equal(committed, generated, "run make schemas")
  end)
end)
