-- `eventapi <service> <resource> all` and `--all`: every item of a list
-- call, page after page, one JSON value per line. Against a real sandbox
-- seeded with more events than one page holds.
local json = require("eventapi").json -- keeps the seed's empty arrays arrays
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

local APP, PROJECT = command.APP, command.PROJECT
local eventapi, printed_lines = command.eventapi, command.printed_lines

local EXTRA_EVENTS = 250 -- Losant events added to the example seed (its own 6 make 256)
local EXTRA_LIVE = 4     -- Monterosa events added (its own 1 makes 5, all future)

--- The example seed with EXTRA_EVENTS more Losant events (every fifth one
-- new, the others resolved) and EXTRA_LIVE more Monterosa events.
local function big_seed(path)
  local f = assert(io.open(sandbox.seed, "rb"))
  local seed = json.decode(f:read("a"))
  f:close()
  for i = 1, EXTRA_EVENTS do
    table.insert(seed.losant.events, {
      id = ("6%023x"):format(i), applicationId = APP, level = "info", state = i % 5 == 0 and "new" or "resolved",
      subject = "Generated event " .. i, message = "one of many", sourceType = "flow",
      creationDate = ("2026-10-%02dT%02d:%02d:00.000Z"):format(1 + i % 28, i % 24, i % 60),
    })
  end
  local template = seed.monterosa.events[1]
  for i = 1, EXTRA_LIVE do
    local ev = {}
    for k, v in pairs(template) do ev[k] = v end
    ev.id, ev.name = ("00000000-0000-4000-8000-%012d"):format(i), "Generated live event " .. i
    table.insert(seed.monterosa.events, ev)
  end
  f = assert(io.open(path, "wb"))
  f:write(json.encode(seed))
  f:close()
end

--- The ids of a list of items, and whether each appears once.
local function ids_of(items)
  local ids, seen, unique = {}, {}, true
  for _, item in ipairs(items) do
    if seen[item.id] then unique = false end
    seen[item.id] = true
    ids[#ids + 1] = item.id
  end
  return ids, unique
end

describe("eventapi on a list call with all or --all", function()
  local sb, env, dir

  --- The query strings of the recorded requests.
  local function queries()
    local list = {}
    for _, r in ipairs(sandbox.requests(sb)) do list[#list + 1] = r.query end
    return list
  end

  setup(function()
    dir = command.temp_dir()
    big_seed(dir .. "/seed.json")
  end)
  teardown(function() command.rm_dir(dir) end)
  before_each(function()
    sb = sandbox.start({ seed = dir .. "/seed.json" })
    env = command.env_for(sb)
  end)
  after_each(function() sb.stop() end)

  it("prints every event of an application, past the first page of 100, one JSON object per line", function()
    local items = printed_lines(eventapi({ "losant", "events", "all", "--applicationId", APP }, env))
    assert.are.equal(6 + EXTRA_EVENTS, #items)
    local _, unique = ids_of(items)
    assert.is_true(unique)
    for _, item in ipairs(items) do assert.are.equal(APP, item.applicationId) end
  end)

  it("fetches each page once, by page and perPage", function()
    eventapi({ "losant", "events", "all", "--applicationId", APP }, env)
    local pages = {}
    for _, query in ipairs(queries()) do pages[#pages + 1] = query:match("&page=(%d+)") or query end
    assert.are.same({ "1", "2" }, { pages[2], pages[3] })
    assert.are.equal(3, #pages)
  end)

  it("walks the pages with --all on the list call itself, its params sent with every page", function()
    local items = printed_lines(eventapi({ "losant", "events", "get", "--all", "--applicationId", APP,
                                           "--state", "new", "--perPage", "20" }, env))
    assert.are.equal(4 + EXTRA_EVENTS // 5, #items)
    for _, item in ipairs(items) do assert.are.equal("new", item.state) end
    for _, query in ipairs(queries()) do assert.truthy(query:find("perPage=20&state=new", 1, true), query) end
  end)

  it("stops after --limit items without fetching the pages after them", function()
    local items = printed_lines(eventapi({ "losant", "events", "all", "--applicationId", APP, "--perPage", "2",
                                           "--limit", "5" }, env))
    assert.are.equal(5, #items)
    assert.are.equal(3, #queries())
  end)

  it("walks a resource's other list call: every integration", function()
    local items = printed_lines(eventapi({ "losant", "integrations", "all", "--applicationId", APP,
                                           "--perPage", "1" }, env))
    local names = {}
    for _, item in ipairs(items) do names[#names + 1] = item.name end
    table.sort(names)
    assert.are.same({ "Particle fleet", "Plant MQTT broker" }, names)
  end)

  it("follows a Monterosa list's cursor to the last page", function()
    local items = printed_lines(eventapi({ "monterosa", "events", "all", "--project_id", PROJECT, "--state", "future",
                                           "--count", "2" }, env))
    assert.are.equal(1 + EXTRA_LIVE, #items)
    local _, unique = ids_of(items)
    assert.is_true(unique)
    local list = queries()
    assert.are.equal(3, #list)
    assert.truthy(list[2]:find("page%%5Bcursor%%5D="), list[2])
    for _, item in ipairs(items) do assert.is_nil(item.document) end
  end)

  it("prints nothing and exits with 0 for an empty list", function()
    local run = eventapi({ "monterosa", "events", "all", "--project_id", PROJECT, "--state", "past" }, env)
    assert.are.equal(0, run.code, run.stderr)
    assert.are.equal("", run.stdout)
  end)

  it("prints each item as indented JSON when stdout is a terminal", function()
    local text = command.eventapi_on_terminal({ "losant", "integrations", "all", "--applicationId", APP }, env)
    local objects = 0
    for _ in text:gmatch("\n}\n") do objects = objects + 1 end
    assert.are.equal(2, objects, text)
    local first = "{\n  \"applicationId\": \"" .. APP .. "\",\n"
    assert.are.equal(first, text:sub(1, #first))
  end)

  it("draws no progress line among the items when they go to a terminal", function()
    local text = command.eventapi_on_terminal({ "losant", "events", "all", "--applicationId", APP }, env)
    assert.is_nil(text:find("done,", 1, true))
    assert.is_nil(text:find("\r", 1, true))
  end)

  it("prints indented items with --pretty when stdout is not a terminal", function()
    local run = eventapi({ "--pretty", "losant", "integrations", "all", "--applicationId", APP }, env)
    assert.are.equal(0, run.code, run.stderr)
    local objects = 0
    for _ in run.stdout:gmatch("\n}\n") do objects = objects + 1 end
    assert.are.equal(2, objects, run.stdout)
  end)

  it("exits with 1 and the error's line when a page fails", function()
    local run = eventapi({ "losant", "events", "all", "--applicationId", APP },
                         command.env_with(env, { LOSANT_TOKEN = "sandbox-other-app" }))
    assert.are.equal(1, run.code)
    assert.are.equal("", run.stdout)
    assert.truthy(run.stderr:find("^eventapi: NotFound %(404%): Application was not found %[GET "),
                  "stderr: " .. run.stderr)
  end)

  it("exits with 2 for --limit without --all, sending nothing", function()
    local run = eventapi({ "losant", "events", "get", "--applicationId", APP, "--limit", "5" }, env)
    assert.are.equal(2, run.code)
    assert.are.equal("eventapi: --limit goes with --all: eventapi losant events all ... --limit 5\n", run.stderr)
    assert.are.same({}, queries())
  end)

  it("exits with 2 for all on a resource without a list call", function()
    local run = eventapi({ "losant", "event", "all", "--applicationId", APP }, env)
    assert.are.equal(2, run.code)
    assert.truthy(run.stderr:find("eventapi: losant event has no action 'all' (actions: delete, get, patch)", 1, true),
                  "stderr: " .. run.stderr)
  end)

  it("exits with 2 for --all on a call that is not a list", function()
    local run = eventapi({ "losant", "event", "get", "--applicationId", APP, "--eventId", command.EVENT, "--all" }, env)
    assert.are.equal(2, run.code)
    assert.truthy(run.stderr:find("eventapi: losant event get has no flag --all", 1, true), "stderr: " .. run.stderr)
  end)
end)
