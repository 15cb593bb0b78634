-- What `eventapi monterosa ...` prints: the plain result, without the raw
-- JSON:API answer the library keeps in `document`, unless --raw is given.
-- Against a real sandbox.
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

local PROJECT = command.PROJECT
local LIVE = "18b17c20-5e84-4086-8da0-784f21622e16"
local eventapi, printed = command.eventapi, command.printed

describe("eventapi monterosa output", function()
  local sb, env

  before_each(function()
    sb = sandbox.start()
    env = command.env_for(sb)
  end)
  after_each(function() sb.stop() end)

  it("prints an event without the raw JSON:API document", function()
    local ev = printed(eventapi({ "monterosa", "events", "get", "--event_id", LIVE }, env))
    assert.are.equal(LIVE, ev.id)
    assert.are.equal("Live Event", ev.name)
    assert.is_nil(ev.document)
  end)

  it("keeps the raw JSON:API document with --raw", function()
    local ev = printed(eventapi({ "monterosa", "events", "get", "--event_id", LIVE, "--raw" }, env))
    assert.are.equal(LIVE, ev.id)
    assert.are.equal(LIVE, ev.document.data.id)
    assert.are.equal("Live Event", ev.document.data.attributes.name)
  end)

  it("prints the included resources of an event, plain and without the document", function()
    local ev = printed(eventapi({ "monterosa", "events", "get", "--event_id", LIVE, "--include", "stats,project" },
                                env))
    assert.is_nil(ev.document)
    local types = {}
    for _, r in ipairs(ev.included) do
      types[#types + 1] = r.type
      assert.is_nil(r.document)
      assert.is_nil(r.attributes)
    end
    table.sort(types)
    assert.are.same({ "projects", "stats" }, types)
  end)

  it("prints a list without the document, in the list, its items or its included resources", function()
    local list = printed(eventapi({ "monterosa", "events", "list", "--project_id", PROJECT, "--state", "future",
                                    "--include", "stats" }, env))
    assert.is_nil(list.document)
    assert.are.equal(1, #list.items)
    assert.are.equal("Live Event", list.items[1].name)
    assert.is_nil(list.items[1].document)
    assert.is_true(#list.included > 0)
    for _, r in ipairs(list.included) do assert.is_nil(r.document) end
  end)

  it("prints a list with its document with --raw", function()
    local list = printed(eventapi({ "--raw", "monterosa", "events", "list", "--project_id", PROJECT,
                                    "--state", "future" }, env))
    assert.are.equal(LIVE, list.document.data[1].id)
  end)

  it("prints a created event without the document", function()
    local ev = printed(eventapi({ "monterosa", "events", "create", "--project_id", PROJECT, "--name", "Tonight",
                                  "--duration", "600", "--start_at", "2026-12-01T19:30:00Z", "--start_mode", "manual" },
                                env))
    assert.are.equal("Tonight", ev.name)
    assert.is_nil(ev.document)
  end)
end)
