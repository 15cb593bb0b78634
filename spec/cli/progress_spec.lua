-- The progress line of bulk work (progress.lua, drawn by each and map) as a
-- runbook run by `eventapi run` writes it on stderr, forced on with
-- progress = true; the calls go to a real sandbox.
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

local APP, EVENT = command.APP, command.EVENT

--- The progress lines drawn on stderr (split at CR and LF, the clear-to-end
-- escape removed), each as { text, done, rate (nil when not shown) }.
local function drawn(stderr)
  local lines = {}
  for text in stderr:gsub("\27%[K", ""):gmatch("[^\r\n]+") do
    local done = text:match(" (%d+)/?%d* done")
    if done then
      lines[#lines + 1] = { text = text, done = tonumber(done), rate = tonumber(text:match(", ([%d.]+)/s,")) }
    end
  end
  return lines
end

describe("the progress line", function()
  local sb, env, dir

  local function run_runbook(text)
    local path = dir .. "/runbook.lua"
    command.write_file(path, text)
    local run = command.eventapi({ "run", path, APP, EVENT }, env)
    assert.are.equal(0, run.code, run.stderr)
    return run
  end

  before_each(function()
    sb = sandbox.start()
    env = command.env_for(sb)
    dir = command.temp_dir()
  end)
  after_each(function()
    sb.stop()
    command.rm_dir(dir)
  end)

  it("shows no rate for the first item, done in far less than half a second", function()
    local run = run_runbook([[
      local n = 0
      for _ in losant.events.each{ applicationId = arg[1], perPage = 2, progress = true } do n = n + 1 end
      print(n)
    ]])
    assert.are.equal("6\n", run.stdout)
    local lines = drawn(run.stderr)
    assert.are.equal("events.get 1/6 done, 0 failed", lines[1].text)
  end)

  it("is redrawn at most ten times a second: 200 quick items draw a few lines, not 200", function()
    local run = run_runbook([[
      local now = require("eventapi.core").now
      local items = {}
      for i = 1, 200 do items[i] = i end
      local started = now()
      eventapi.map(items, function(i) return i end, { progress = true, label = "quick" }):await()
      print(now() - started)
    ]])
    local seconds = tonumber(run.stdout)
    local lines = drawn(run.stderr)
    -- the first item, one line per tenth of a second after it, the final line
    assert.is_true(#lines <= 2 + math.ceil(seconds / 0.1), #lines .. " lines drawn in " .. seconds .. " s")
    assert.are.equal("quick 200/200 done, 0 failed", lines[#lines].text)
  end)

  it("never shows a rate above the items done per half second", function()
    local run = run_runbook([[
      for _ in losant.events.each{ applicationId = arg[1], perPage = 1, progress = true } do end
    ]])
    local lines = drawn(run.stderr)
    assert.truthy(lines[#lines].text:find("^events.get 6/6 done"), lines[#lines].text)
    for _, line in ipairs(lines) do
      if line.rate then assert.is_true(line.rate <= line.done / 0.5, line.text) end
    end
  end)

  it("shows a sane rate once half a second has passed", function()
    local run = run_runbook([[
      local ids = { arg[2], arg[2], arg[2], arg[2], arg[2], arg[2] }
      eventapi.map(ids, function(id)
        return losant.event.get{ applicationId = arg[1], eventId = id }
          :next(function() return eventapi.sleep(0.15) end)
      end, { concurrency = 1, progress = true, label = "slow" }):await()
    ]])
    local lines = drawn(run.stderr)
    local last = lines[#lines]
    assert.truthy(last.text:find("^slow 6/6 done, [%d.]+/s, 0 failed$"), last.text)
    -- six items in about 0.9 s: between one and twelve (six in half a second) a second
    assert.is_true(last.rate >= 1 and last.rate <= 12, last.text)
    for _, line in ipairs(lines) do
      if line.rate then assert.is_true(line.rate <= line.done / 0.5, line.text) end
    end
    assert.is_nil(lines[1].rate, lines[1].text)
  end)

  it("counts the failed items", function()
    local run = run_runbook([[
      local ids = { arg[2], "575ed0de7ae143cd83dc4a00", arg[2] }
      eventapi.map(ids, function(id)
        return losant.event.get{ applicationId = arg[1], eventId = id }
      end, { concurrency = 1, progress = true, label = "reads", settle = true }):await()
    ]])
    local lines = drawn(run.stderr)
    assert.truthy(lines[#lines].text:find("^reads 3/3 done,.* 1 failed$"), lines[#lines].text)
  end)
end)
