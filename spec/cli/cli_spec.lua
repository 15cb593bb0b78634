-- The eventapi command, run as a subprocess (its stdout is a pipe, so JSON
-- comes out on one line) against a real sandbox; what it sent is read back
-- from the sandbox's record.
local cjson = require "cjson"
local sandbox = require "helpers.sandbox"

local command = require "cli.command"

local APP, EVENT, INTEGRATION, PROJECT = command.APP, command.EVENT, command.INTEGRATION, command.PROJECT
local LOSANT_TOKEN, CD_PASSWORD = command.LOSANT_TOKEN, command.CD_PASSWORD
local eventapi, printed = command.eventapi, command.printed
local temp_dir, rm_dir, write_file = command.temp_dir, command.rm_dir, command.write_file

describe("the eventapi command", function()
  local sb, env

  local function recorded() return sandbox.requests(sb) end

  before_each(function()
    sb = sandbox.start()
    env = command.env_for(sb)
  end)
  after_each(function() sb.stop() end)

  --- env with some variables changed (false removes one).
  local function env_with(changes) return command.env_with(env, changes) end

  describe("calling a service", function()
    it("prints a Losant event list as one line of JSON", function()
      local result = printed(eventapi({ "losant", "events", "get", "--applicationId", APP, "--state", "new" }, env))
      assert.are.equal(4, result.totalCount)
      for _, ev in ipairs(result.items) do assert.are.equal("new", ev.state) end
    end)

    it("sends the flags as the call's params, integers in both flag forms", function()
      eventapi({ "losant", "events", "get", "--applicationId", APP, "--state", "new", "--perPage", "2", "--page=0" }, env)
      local r = recorded()[1]
      assert.are.equal("/applications/" .. APP .. "/events", r.path)
      assert.are.equal("_actions=false&_links=true&_embedded=true&page=0&perPage=2&state=new", r.query)
    end)

    it("keeps large integers exact in the output", function()
      local run = eventapi({ "losant", "event", "get", "--applicationId", APP, "--eventId", EVENT }, env)
      assert.truthy(run.stdout:find('"reading_us":1700000000123456', 1, true))
    end)

    it("sends boolean flags as true or false", function()
      eventapi({ "losant", "integration", "delete", "--applicationId", APP, "--integrationId", INTEGRATION,
                 "--includeWorkflows", "true" }, env)
      local r = recorded()[1]
      assert.are.equal("DELETE", r.method)
      assert.are.equal("_actions=false&_links=true&_embedded=true&includeWorkflows=true", r.query)
    end)

    it("sends a JSON body given on the command line", function()
      local result = printed(eventapi({ "losant", "event", "patch", "--applicationId", APP, "--eventId", EVENT,
                                        "--event", '{"state":"acknowledged","comment":"on it"}' }, env))
      assert.are.equal("acknowledged", result.state)
      local r = recorded()[1]
      assert.are.equal("PATCH", r.method)
      assert.are.same({ state = "acknowledged", comment = "on it" }, cjson.decode(r.body))
    end)

    it("reads a JSON body from @file", function()
      local dir = temp_dir()
      write_file(dir .. "/event.json", '{"level":"info","subject":"from a file"}')
      local result = printed(eventapi({ "losant", "events", "post", "--applicationId", APP,
                                        "--event", "@" .. dir .. "/event.json" }, env))
      rm_dir(dir)
      assert.are.equal("from a file", result.subject)
      assert.are.same({ level = "info", subject = "from a file" }, cjson.decode(recorded()[1].body))
    end)

    it("reads a JSON body from standard input with @-", function()
      local result = printed(eventapi({ "losant", "events", "post", "--applicationId", APP, "--event", "@-" }, env,
                                      '{"level":"warning","subject":"piped"}'))
      assert.are.equal("piped", result.subject)
    end)

    it("sends a json-kind param as JSON in the query string", function()
      eventapi({ "losant", "events", "get", "--applicationId", APP, "--query", '{"level":"critical"}' }, env)
      assert.are.equal("_actions=false&_links=true&_embedded=true&query=%7B%22level%22%3A%22critical%22%7D",
                       recorded()[1].query)
    end)

    it("forks a Connect Daily occurrence and prints the new cal_item_id", function()
      local run = eventapi({ "connectdaily", "events", "fork", "--cal_item_id", "42", "--starting_date", "2026-12-08" },
                           env)
      local id = printed(run)
      assert.are.equal("number", type(id))
      local r = recorded()[1]
      assert.are.equal("POST", r.method)
      assert.are.equal("/calendar/restapi/v1/events/42", r.path)
      assert.are.equal("fork=1&starting_date=2026-12-08", r.query)
      local forked = printed(eventapi({ "connectdaily", "events", "get", "--cal_item_id", ("%d"):format(id) }, env))
      assert.are.equal(3, forked.rec_type)
    end)

    it("authenticates Connect Daily with CONNECTDAILY_TOKEN instead of a user", function()
      local run = eventapi({ "connectdaily", "events", "get", "--cal_item_id", "42" },
                           env_with({ CONNECTDAILY_USER = false, CONNECTDAILY_PASSWORD = false,
                                      CONNECTDAILY_TOKEN = "sandbox-calendar-token" }))
      assert.are.equal("Weekly board meeting", printed(run).description)
      assert.are.equal("Bearer sandbox-calendar-token", recorded()[1].headers.authorization)
    end)

    it("lists Monterosa events in a state", function()
      local result = printed(eventapi({ "monterosa", "events", "list", "--project_id", PROJECT, "--state", "future" },
                                      env))
      assert.are.equal(1, #result.items)
      assert.are.equal("Live Event", result.items[1].name)
      assert.are.equal("filter%5Bstate%5D=future", recorded()[1].query)
    end)

    it("reads attributes without a declared kind as text, or as JSON when the call refuses the text", function()
      local result = printed(eventapi({ "monterosa", "events", "create", "--project_id", PROJECT, "--name", "2026",
                                        "--duration", "3600", "--start_at", "2026-12-01T19:30:00Z",
                                        "--start_mode", "manual", "--repeat", "false" }, env))
      assert.are.equal("2026", result.name)
      assert.are.equal(3600, result.duration)
      local sent = cjson.decode(recorded()[1].body).data.attributes
      assert.are.equal("2026", sent.name)
      assert.are.equal(3600, sent.duration)
      assert.are.equal(false, sent["repeat"])
      assert.are.equal(1796153400, sent.start_at)
    end)

    it("prints indented JSON with sorted keys with --pretty", function()
      local run = eventapi({ "--pretty", "losant", "integration", "get", "--applicationId", APP,
                             "--integrationId", INTEGRATION }, env)
      assert.are.equal(0, run.code)
      local keys = {}
      for key in run.stdout:gmatch('\n  "([^"]+)":') do keys[#keys + 1] = key end
      local sorted = { table.unpack(keys) }
      table.sort(sorted)
      assert.is_true(#keys > 5)
      assert.are.same(sorted, keys)
      assert.truthy(run.stdout:find('\n  "mqttConfig": {\n    "clientId": "plant",\n', 1, true))
      local last = '\n  "topics": [\n    "plant/+/telemetry"\n  ]\n}\n'
      assert.are.equal(last, run.stdout:sub(-#last))
      assert.are.equal("Plant MQTT broker", cjson.decode(run.stdout).name)
    end)

    it("prints indented JSON by itself when stdout is a terminal", function()
      local text = command.eventapi_on_terminal({ "losant", "integration", "get", "--applicationId", APP,
                                                  "--integrationId", INTEGRATION }, env)
      local first = "{\n  \"applicationId\": \"" .. APP .. "\",\n"
      assert.are.equal(first, text:sub(1, #first))
      assert.are.equal("Plant MQTT broker", cjson.decode(text).name)
    end)
  end)

  describe("usage errors", function()
    local cases = {
      { "an unknown flag", { "losant", "event", "get", "--applicationId", APP, "--eventid", EVENT },
        "losant event get has no flag --eventid" },
      { "an unknown service", { "lozant", "events", "get" }, "unknown service 'lozant'" },
      { "an unknown resource", { "losant", "evnts", "get" }, "losant has no resource 'evnts'" },
      { "an unknown action", { "monterosa", "events", "start" }, "monterosa events has no action 'start'" },
      { "a missing action", { "connectdaily", "events" }, "missing action after 'connectdaily events'" },
      { "a flag without its value", { "losant", "event", "get", "--applicationId", APP, "--eventId" },
        "--eventId needs a value" },
      { "a flag given twice", { "losant", "events", "get", "--applicationId", APP, "--state", "new", "--state=new" },
        "--state is given twice" },
      { "a stray argument", { "losant", "events", "get", "--applicationId", APP, "new" },
        "unexpected argument 'new'" },
      { "bad JSON", { "losant", "events", "post", "--applicationId", APP, "--event", "{level: info}" },
        "--event is not valid JSON" },
      { "a JSON scalar for a table", { "losant", "events", "post", "--applicationId", APP, "--event", "42" },
        "--event must be a JSON object or array" },
      { "an unreadable @file", { "losant", "events", "post", "--applicationId", APP, "--event", "@/nonexistent.json" },
        "--event: cannot read /nonexistent.json" },
      { "an integer flag that is not one", { "losant", "events", "get", "--applicationId", APP, "--page", "first" },
        "--page must be an integer, not 'first'" },
      { "a boolean flag that is not true or false",
        { "monterosa", "events", "list", "--project_id", PROJECT, "--state", "future", "--only_listings", "yes" },
        "--only_listings must be true or false, not 'yes'" },
      { "a missing required param", { "monterosa", "events", "list", "--project_id", PROJECT },
        "monterosa events list: missing required param 'state'" },
      { "a param the call refuses", { "connectdaily", "events", "fork", "--cal_item_id", "42",
                                      "--starting_date", "2026-02-30" }, "connectdaily events fork: starting_date" },
      { "an unknown option", { "--verbose", "losant", "events", "get" }, "unknown option --verbose" },
      { "a negative --limit", { "losant", "events", "all", "--applicationId", APP, "--limit", "-1" },
        "--limit must be 0 or more, not -1" },
    }
    for _, case in ipairs(cases) do
      local what, args, message = table.unpack(case)
      it("exits with 2 and names the problem for " .. what .. ", sending nothing", function()
        local run = eventapi(args, env)
        assert.are.equal(2, run.code)
        assert.are.equal("", run.stdout)
        assert.truthy(run.stderr:find("eventapi: " .. message, 1, true), "stderr: " .. run.stderr)
        assert.are.same({}, recorded())
      end)
    end
  end)

  describe("configuration", function()
    local cases = {
      { "LOSANT_TOKEN", { "losant", "events", "get", "--applicationId", APP }, { LOSANT_TOKEN = false },
        "losant needs an API token: set LOSANT_TOKEN" },
      { "CONNECTDAILY_URL", { "connectdaily", "events", "get", "--cal_item_id", "42" }, { CONNECTDAILY_URL = false },
        "connectdaily needs its base URL: set CONNECTDAILY_URL" },
      { "CONNECTDAILY_USER", { "connectdaily", "events", "get", "--cal_item_id", "42" },
        { CONNECTDAILY_USER = false, CONNECTDAILY_PASSWORD = false },
        "connectdaily needs credentials: set CONNECTDAILY_USER and CONNECTDAILY_PASSWORD, or CONNECTDAILY_TOKEN" },
      { "CONNECTDAILY_PASSWORD", { "connectdaily", "events", "get", "--cal_item_id", "42" },
        { CONNECTDAILY_PASSWORD = false }, "connectdaily needs a password for user api: set CONNECTDAILY_PASSWORD" },
      { "MONTEROSA_URL", { "monterosa", "events", "get", "--event_id", "x" }, { MONTEROSA_URL = false },
        "monterosa needs its base URL: set MONTEROSA_URL" },
      { "MONTEROSA_TOKEN", { "monterosa", "events", "get", "--event_id", "x" }, { MONTEROSA_TOKEN = "" },
        "monterosa needs an API token: set MONTEROSA_TOKEN" },
    }
    for _, case in ipairs(cases) do
      local variable, args, changes, message = table.unpack(case)
      it("exits with 2 and names " .. variable .. " when it is missing", function()
        local run = eventapi(args, env_with(changes))
        assert.are.equal(2, run.code)
        assert.truthy(run.stderr:find("eventapi: " .. message, 1, true), "stderr: " .. run.stderr)
        assert.are.same({}, recorded())
      end)
    end

    it("exits with 2 and names CONNECTDAILY_TOKEN and CONNECTDAILY_USER when both are set", function()
      local run = eventapi({ "connectdaily", "events", "get", "--cal_item_id", "42" },
                           env_with({ CONNECTDAILY_TOKEN = "sandbox-calendar-token" }))
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: connectdaily takes a token or a user and password, not both: CONNECTDAILY_TOKEN "
                       .. "and CONNECTDAILY_USER are both set; unset one\n", run.stderr)
      assert.are.same({}, recorded())
    end)

    it("exits with 2 and names CONNECTDAILY_PASSWORD when it is set without CONNECTDAILY_USER", function()
      local run = eventapi({ "connectdaily", "events", "get", "--cal_item_id", "42" },
                           env_with({ CONNECTDAILY_USER = false, CONNECTDAILY_TOKEN = "sandbox-calendar-token" }))
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: connectdaily: CONNECTDAILY_PASSWORD is set without a user: set CONNECTDAILY_USER "
                       .. "too, or unset it\n", run.stderr)
      assert.are.same({}, recorded())
    end)

    it("exits with 2 and names the --config file's options when it sets both token and user", function()
      local dir = temp_dir()
      write_file(dir .. "/config.lua", "return { connectdaily = { token = 't', user = 'api', password = 'p' } }")
      local run = eventapi({ "--config", dir .. "/config.lua", "connectdaily", "events", "get", "--cal_item_id", "42" },
                           env)
      rm_dir(dir)
      assert.are.equal(2, run.code)
      assert.truthy(run.stderr:find("not both: token in the --config file and user in the --config file are both set",
                                    1, true), "stderr: " .. run.stderr)
      assert.are.same({}, recorded())
    end)

    it("takes the client options from a --config file", function()
      local dir = temp_dir()
      write_file(dir .. "/config.lua", ("return { losant = { url = %q, token = %q, timeout = 10 } }")
                 :format(sb.url, LOSANT_TOKEN))
      local run = eventapi({ "--config", dir .. "/config.lua", "losant", "event", "get", "--applicationId", APP,
                             "--eventId", EVENT }, {})
      rm_dir(dir)
      assert.are.equal(EVENT, printed(run).id)
    end)

    it("lets the config file win over the environment and fills the rest from it", function()
      local dir = temp_dir()
      write_file(dir .. "/config.lua", "return { losant = { token = 'sandbox-read-only' } }")
      local run = eventapi({ "losant", "event", "get", "--applicationId", APP, "--eventId", EVENT,
                             "--config=" .. dir .. "/config.lua" }, env)
      rm_dir(dir)
      printed(run)
      assert.are.equal("Bearer sandbox-read-only", recorded()[1].headers.authorization)
    end)

    it("takes no credential from the environment when the config file names one", function()
      local dir = temp_dir()
      write_file(dir .. "/config.lua", "return { connectdaily = { token = 'sandbox-calendar-token' } }")
      local run = eventapi({ "--config", dir .. "/config.lua", "connectdaily", "events", "get", "--cal_item_id", "42" },
                           env) -- CONNECTDAILY_USER and CONNECTDAILY_PASSWORD are set there
      rm_dir(dir)
      assert.are.equal(42, printed(run).cal_item_id)
      assert.are.equal("Bearer sandbox-calendar-token", recorded()[1].headers.authorization)
    end)

    it("exits with 2 for a config file naming an unknown service", function()
      local dir = temp_dir()
      write_file(dir .. "/config.lua", "return { lossant = { token = 'x' } }")
      local run = eventapi({ "--config", dir .. "/config.lua", "losant", "events", "get", "--applicationId", APP }, env)
      rm_dir(dir)
      assert.are.equal(2, run.code)
      assert.truthy(run.stderr:find("unknown service 'lossant'", 1, true), "stderr: " .. run.stderr)
    end)

    it("exits with 2 for a client option the library does not know", function()
      local dir = temp_dir()
      write_file(dir .. "/config.lua", "return { losant = { tokn = 'x' } }")
      local run = eventapi({ "--config", dir .. "/config.lua", "losant", "events", "get", "--applicationId", APP }, env)
      rm_dir(dir)
      assert.are.equal(2, run.code)
      assert.truthy(run.stderr:find("unknown option 'tokn'", 1, true), "stderr: " .. run.stderr)
    end)
  end)

  describe("a failing call", function()
    it("exits with 1 and writes the error's line to stderr after eventapi: ", function()
      local run = eventapi({ "losant", "event", "get", "--applicationId", APP, "--eventId", "575ed0de7ae143cd83dc4a00" },
                           env)
      assert.are.equal(1, run.code)
      assert.are.equal("", run.stdout)
      assert.are.equal("eventapi: NotFound (404): Event was not found [GET " .. sb.url .. "/applications/" .. APP
                       .. "/events/575ed0de7ae143cd83dc4a00?_actions=false&_links=true&_embedded=true]\n", run.stderr)
    end)

    it("never prints the Losant token", function()
      local run = eventapi({ "losant", "event", "get", "--applicationId", APP, "--eventId", "nope" },
                           env_with({ LOSANT_TOKEN = "sandbox-secret-token-123" }))
      assert.are.equal(1, run.code)
      assert.truthy(run.stderr:find("^eventapi: Unauthorized %(401%)"), "stderr: " .. run.stderr)
      assert.is_nil((run.stdout .. run.stderr):find("sandbox-secret-token-123", 1, true))
    end)

    it("never prints the Connect Daily password, even one written in the URL", function()
      local host = sb.url:match("^http://(.*)$")
      local run = eventapi({ "connectdaily", "events", "get", "--cal_item_id", "4242" },
                           env_with({ CONNECTDAILY_URL = "http://api:" .. CD_PASSWORD .. "@" .. host .. "/calendar" }))
      assert.are.equal(1, run.code)
      assert.truthy(run.stderr:find("^eventapi: NotFound %(404%)"), "stderr: " .. run.stderr)
      assert.is_nil((run.stdout .. run.stderr):find(CD_PASSWORD, 1, true))
    end)
  end)

  describe("run", function()
    local dir
    before_each(function() dir = temp_dir() end)
    after_each(function() rm_dir(dir) end)

    local function runbook(text)
      local path = dir .. "/runbook.lua"
      write_file(path, text)
      return path
    end

    it("gives the runbook configured clients, eventapi, arg and its args", function()
      local path = runbook([[
        local ev = losant.event.get{ applicationId = arg[1], eventId = arg[2] }:await()
        local cd = connectdaily.events.get{ cal_item_id = 42 }:await()
        local list = monterosa.events.list{ project_id = arg[3], state = "future" }:await()
        print(eventapi.json.encode({ subject = ev.subject, calendar = cd.description, live = list.items[1].name,
                                     n = select("#", ...), script = arg[0] }))
      ]])
      local out = printed(eventapi({ "run", path, APP, EVENT, PROJECT }, env))
      assert.are.same({ subject = "Power levels critical", calendar = "Weekly board meeting", live = "Live Event",
                        n = 3, script = path }, out)
    end)

    it("drives the loop until the runbook's pending work is done", function()
      local path = runbook([[
        losant.events.get{ applicationId = arg[1], state = "new" }
          :next(function(page) return eventapi.sleep(0.05):next(function() return page end) end)
          :next(function(page) print(page.totalCount) end)
      ]])
      local run = eventapi({ "run", path, APP }, env)
      assert.are.equal(0, run.code)
      assert.are.equal("4\n", run.stdout)
    end)

    it("makes only the clients the runbook uses", function()
      local path = runbook([[print(connectdaily.events.get{ cal_item_id = 43 }:await().description)]])
      local run = eventapi({ "run", path }, env_with({ LOSANT_TOKEN = false, MONTEROSA_TOKEN = false }))
      assert.are.equal(0, run.code, run.stderr)
      assert.are.equal("Fire drill\n", run.stdout)
    end)

    it("exits with 2 and names the variable when the runbook uses an unconfigured service", function()
      local path = runbook([[print(monterosa.events.get{ event_id = "x" }:await())]])
      local run = eventapi({ "run", path }, env_with({ MONTEROSA_TOKEN = false }))
      assert.are.equal(2, run.code)
      assert.truthy(run.stderr:find("set MONTEROSA_TOKEN", 1, true), "stderr: " .. run.stderr)
      assert.are.same({}, recorded())
    end)

    it("exits with 1 and the error's line when the runbook fails", function()
      local path = runbook([[losant.event.get{ applicationId = arg[1], eventId = "575ed0de7ae143cd83dc4a00" }:await()]])
      local run = eventapi({ "run", path, APP }, env)
      assert.are.equal(1, run.code)
      assert.truthy(run.stderr:find("^eventapi: " .. path:gsub("%p", "%%%0") .. ":1: NotFound %(404%): "
                                    .. "Event was not found %[GET "), "stderr: " .. run.stderr)
    end)

    it("exits with 2 for a runbook that cannot be loaded", function()
      local run = eventapi({ "run", dir .. "/missing.lua" }, env)
      assert.are.equal(2, run.code)
      assert.truthy(run.stderr:find("missing.lua", 1, true), "stderr: " .. run.stderr)
    end)

    it("sends nothing that changes data with --dry-run, and reads go through", function()
      local path = runbook([[
        local app, ev = arg[1], arg[2]
        local before = losant.event.get{ applicationId = app, eventId = ev }:await()
        local patched = losant.event.patch{ applicationId = app, eventId = ev, event = { state = "resolved" } }:await()
        local posted = losant.events.post{ applicationId = app, event = { level = "info", subject = "s" } }:await()
        local forked = connectdaily.events.fork{ cal_item_id = 42, starting_date = "2026-12-08" }:await()
        local deleted = monterosa.events.delete{ event_id = "18b17c20-5e84-4086-8da0-784f21622e16" }:await()
        print(eventapi.json.encode({ state = before.state, patched = patched.dry_run, method = patched.method,
                                     posted = posted.dry_run, forked = type(forked) == "table" and forked.dry_run,
                                     deleted = deleted.dry_run }))
      ]])
      local run = eventapi({ "run", "--dry-run", path, APP, EVENT }, env)
      assert.are.same({ state = "new", patched = true, method = "PATCH", posted = true, forked = true, deleted = true },
                      printed(run))
      local methods = {}
      for _, r in ipairs(recorded()) do methods[#methods + 1] = r.method end
      assert.are.same({ "GET" }, methods)
      assert.truthy(run.stderr:find("PATCH " .. sb.url .. "/applications/" .. APP .. "/events/" .. EVENT, 1, true),
                    "stderr: " .. run.stderr)
    end)

    it("makes the clients the runbook creates itself dry too with --dry-run", function()
      local path = runbook([[
        local own <close> = eventapi.losant{ url = arg[1], token = arg[2], dry_run = false }
        local result = own.event.patch{ applicationId = arg[3], eventId = arg[4], event = { state = "resolved" } }
          :await()
        print(eventapi.json.encode({ dry_run = result.dry_run }))
      ]])
      local run = eventapi({ "run", "--dry-run", path, sb.url, LOSANT_TOKEN, APP, EVENT }, {})
      assert.are.same({ dry_run = true }, printed(run))
      assert.are.same({}, recorded())
    end)

    it("leaves the data as it was after a --dry-run", function()
      local path = runbook([[
        losant.event.patch{ applicationId = arg[1], eventId = arg[2], event = { state = "resolved" } }:await()
      ]])
      assert.are.equal(0, eventapi({ "run", "--dry-run", path, APP, EVENT }, env).code)
      local ev = printed(eventapi({ "losant", "event", "get", "--applicationId", APP, "--eventId", EVENT }, env))
      assert.are.equal("new", ev.state)
    end)
  end)

  it("sends nothing that changes data for a single call with --dry-run", function()
    local run = eventapi({ "--dry-run", "losant", "events", "post", "--applicationId", APP,
                           "--event", '{"level":"info","subject":"s"}' }, env)
    local result = printed(run)
    assert.is_true(result.dry_run)
    assert.are.equal("POST", result.method)
    assert.are.same({}, recorded())
  end)
end)

describe("eventapi --help", function()
  local SERVICES = require("eventapi.services").by_name

  --- The flags of an operation row as the help writes them (* for required).
  local function flags(op)
    local list = {}
    for _, p in ipairs(op.params) do
      if p.fixed == nil then list[#list + 1] = "--" .. p.name .. (p.required and "*" or "") end
    end
    if op.stream then list[#list + 1] = "(a stream: one JSON line per message until Ctrl-C)" end
    return table.concat(list, " ")
  end

  --- The help's line for a call (nil when it has none).
  local function line_of(help, service, op)
    local resource, action = op.name:match("^(%w+)%.(.+)$")
    local call = service .. " " .. resource .. " " .. action
    for line in help:gmatch("[^\n]+") do
      local words, rest = line:match("^  (%S+ %S+ %S+)%s+(.*)$")
      if words == call then return rest end
      if line == "  " .. call then return "" end
    end
    return nil
  end

  it("lists every call of the three operation tables with its flags, required ones marked", function()
    local run = eventapi({ "--help" })
    assert.are.equal(0, run.code)
    for service, table_ in pairs(SERVICES) do
      for _, op in ipairs(table_.operations) do
        assert.are.equal(flags(op), line_of(run.stdout, service, op), service .. " " .. op.name)
      end
    end
  end)

  it("lists every call of one service, and no other service's, for eventapi <service> --help", function()
    local run = eventapi({ "connectdaily", "--help" })
    assert.are.equal(0, run.code)
    for _, op in ipairs(SERVICES.connectdaily.operations) do
      assert.are.equal(flags(op), line_of(run.stdout, "connectdaily", op), op.name)
    end
    assert.is_nil(run.stdout:find("losant event", 1, true))
    assert.is_nil(run.stdout:find("monterosa events", 1, true))
  end)

  it("describes one call's params, the service's common ones included", function()
    local run = eventapi({ "losant", "events", "get", "--help" })
    assert.are.equal(0, run.code)
    assert.truthy(run.stdout:find("GET /applications/{applicationId}/events ", 1, true))
    assert.truthy(run.stdout:find("\n  %-%-applicationId%*%s+string, in the path\n"))
    assert.truthy(run.stdout:find("\n  %-%-perPage%s+integer, in the query string\n"))
    assert.truthy(run.stdout:find("\n  %-%-_links%s+boolean, in the query string, default true\n"))
    assert.truthy(run.stdout:find("\n  %-%-losantdomain%s+string, a header\n"))
  end)

  it("leaves fixed params out of a call's flags", function()
    local run = eventapi({ "connectdaily", "events", "fork", "--help" })
    assert.are.equal(0, run.code)
    assert.truthy(run.stdout:find("--starting_date*", 1, true))
    assert.is_nil(run.stdout:find("--fork", 1, true))
  end)

  it("prints the version with --version", function()
    local run = eventapi({ "--version" })
    assert.are.equal(0, run.code)
    assert.truthy(run.stdout:find("^eventapi " .. require("eventapi").version:gsub("%.", "%%.") .. " "))
  end)

  it("exits with 2 and points to the help when no service is given", function()
    local run = eventapi({})
    assert.are.equal(2, run.code)
    assert.are.equal("eventapi: missing service (run 'eventapi --help')\n", run.stderr)
  end)
end)

describe("eventapi on a terminal (cli.main with isatty true)", function()
  local cli = require "eventapi.cli"
  local sb
  before_each(function() sb = sandbox.start() end)
  after_each(function() sb.stop() end)

  --- Runs cli.main in this process with stdout a terminal; returns the exit code and what it printed.
  local function main(argv)
    local out, err = {}, {}
    local env = command.env_for(sb)
    local code = cli.main(argv, {
      getenv = function(name) return env[name] end, isatty = function() return true end,
      stdout = { write = function(_, ...) for _, s in ipairs({ ... }) do out[#out + 1] = s end end },
      stderr = { write = function(_, ...) for _, s in ipairs({ ... }) do err[#err + 1] = s end end },
    })
    return code, table.concat(out), table.concat(err)
  end

  it("prints indented JSON by default", function()
    local code, out, err = main({ "losant", "event", "get", "--applicationId", APP, "--eventId", EVENT })
    assert.are.equal(0, code, err)
    assert.truthy(out:find('^{\n  "'), out)
  end)

  it("prints one line with --compact", function()
    local code, out, err = main({ "--compact", "losant", "event", "get", "--applicationId", APP, "--eventId", EVENT })
    assert.are.equal(0, code, err)
    assert.truthy(out:find('^{"'), out)
    assert.are.equal(1, select(2, out:gsub("\n", "")))
  end)
end)

describe("cli.json", function()
  local cli = require "eventapi.cli"
  local json = require("eventapi").json

  it("writes object keys in sorted order on one line", function()
    assert.are.equal('{"a":1,"b":{"c":true,"d":null},"z":"x"}',
                     cli.json({ z = "x", a = 1, b = { d = json.null, c = true } }))
  end)

  it("writes two-space indented JSON when pretty", function()
    assert.are.equal('{\n  "a": [\n    1,\n    2.5\n  ],\n  "b": {},\n  "c": []\n}',
                     cli.json({ c = json.decode("[]"), b = {}, a = { 1, 2.5 } }, true))
  end)

  it("keeps 64-bit integers and string escapes exact", function()
    assert.are.equal('[9007199254740993,"a\\"b\\n"]', cli.json({ 9007199254740993, 'a"b\n' }))
  end)

  it("refuses a cycle", function()
    local t = {}
    t.self = t
    assert.has_error(function() cli.json(t) end)
  end)
end)
