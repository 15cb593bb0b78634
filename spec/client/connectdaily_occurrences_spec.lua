-- eventapi.connectdaily.occurrences against the sandbox over real HTTP: a
-- series of each kind the sandbox has (rec_type 0 daily, 1 weekly, 2
-- monthly, 3 one-time) is created through the client and read back, and
-- the days occurrences lists are compared with what the sandbox itself
-- accepts: it forks a day only when its own recurrence rules say the series
-- occurs then, and refuses any other day with 400. Then the bad arguments.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local SEED = "spec/fixtures/connectdaily_seed.json"
local jdn, date, occurrences = eventapi.connectdaily.jdn, eventapi.connectdaily.date,
                               eventapi.connectdaily.occurrences

--- The error of a call that must raise.
local function raised(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "no error was raised")
  return err
end

--- The dates of a list of JDNs, for readable failures.
local function dates(list)
  local out = {}
  for i, j in ipairs(list) do out[i] = date(j) end
  return out
end

describe("eventapi.connectdaily.occurrences", function()
  local sb, cd

  before_each(function()
    sb = sandbox.start({ seed = SEED })
    cd = eventapi.connectdaily({ url = sb.url .. "/calendar", user = "api", password = "sandbox-password" })
  end)
  after_each(function()
    cd:close()
    sb.stop()
  end)

  --- Creates an event in calendar 3 through the client and reads it back.
  local function series(fields)
    local ev = { calendar_id = 3, description = "occurrences spec", exceptions = {} }
    for k, v in pairs(fields) do ev[k] = v end
    local made = cd.events.create({ event = ev }):await()
    return cd.events.get({ cal_item_id = made.cal_item_id }):await()
  end

  --- Forks every day of [from, to] and returns the list of the days the
  -- sandbox accepted; every refusal must be a 400.
  local function forkable(ev, from, to)
    local accepted = {}
    for j = jdn(from), jdn(to) do
      local p = cd.events.fork({ cal_item_id = ev.cal_item_id, starting_date = j })
      local ok, err = pcall(p.await, p)
      if ok then
        accepted[#accepted + 1] = j
      else
        assert.are.equal(400, err.status, date(j) .. ": " .. tostring(err))
      end
    end
    return accepted
  end

  it("lists exactly the days the sandbox forks of a daily series, within its dates and around an exception",
     function()
    local ev = series({ rec_type = 0, starting_date = "2026-12-03", ending_date = "2026-12-12",
                        exceptions = { "2026-12-07" } })
    local listed = occurrences(ev, "2026-11-28", "2026-12-16")
    assert.are.same({ "2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06", "2026-12-08", "2026-12-09",
                      "2026-12-10", "2026-12-11", "2026-12-12" }, dates(listed))
    assert.are.same(dates(listed), dates(forkable(ev, "2026-11-28", "2026-12-16")))
  end)

  it("lists exactly the days the sandbox forks of a weekly series, on its starting weekday only", function()
    local ev = series({ rec_type = 1, starting_date = "2026-12-01", ending_date = "2027-01-12" })
    local listed = occurrences(ev, "2026-11-20", "2027-01-20")
    assert.are.same({ "2026-12-01", "2026-12-08", "2026-12-15", "2026-12-22", "2026-12-29", "2027-01-05",
                      "2027-01-12" }, dates(listed))
    assert.are.same(dates(listed), dates(forkable(ev, "2026-11-20", "2027-01-20")))
  end)

  it("lists exactly the days the sandbox forks of a monthly series on the 31st, which skips shorter months",
     function()
    local ev = series({ rec_type = 2, starting_date = "2026-12-31", ending_date = "2027-05-31" })
    local listed = occurrences(ev, "2026-12-01", "2027-06-30")
    assert.are.same({ "2026-12-31", "2027-01-31", "2027-03-31", "2027-05-31" }, dates(listed))
    assert.are.same(dates(listed), dates(forkable(ev, "2026-12-01", "2027-06-30")))
  end)

  it("lists exactly the days the sandbox forks of a monthly series on the 29th, February of a leap year included",
     function()
    local ev = series({ rec_type = 2, starting_date = "2027-12-29", ending_date = "2028-03-29" })
    local listed = occurrences(ev, "2027-12-01", "2028-04-30")
    assert.are.same({ "2027-12-29", "2028-01-29", "2028-02-29", "2028-03-29" }, dates(listed))
    assert.are.same(dates(listed), dates(forkable(ev, "2027-12-01", "2028-04-30")))
  end)

  it("lists the one day of a one-time event, which the sandbox does not fork since it is not a series", function()
    local ev = series({ rec_type = 3, starting_date = "2026-12-03", ending_date = "2026-12-03" })
    assert.are.same({ "2026-12-03" }, dates(occurrences(ev, "2026-12-01", "2026-12-31")))
    assert.are.same({}, forkable(ev, "2026-12-01", "2026-12-05"))
  end)

  it("lists nothing for a one-time event whose day is outside the window", function()
    local ev = { rec_type = 3, starting_date = "2026-12-03", ending_date = "2026-12-03" }
    assert.are.same({}, occurrences(ev, "2026-12-04", "2026-12-31"))
    assert.are.same({}, occurrences(ev, "2026-11-01", "2026-12-02"))
  end)

  it("no longer lists a day once it is forked, in the series read again", function()
    local ev = series({ rec_type = 1, starting_date = "2026-12-01", ending_date = "2026-12-29" })
    cd.events.fork({ cal_item_id = ev.cal_item_id, starting_date = "2026-12-15" }):await()
    local again = cd.events.get({ cal_item_id = ev.cal_item_id }):await()
    assert.are.same({ "2026-12-01", "2026-12-08", "2026-12-22", "2026-12-29" },
                    dates(occurrences(again, "2026-12-01", "2026-12-31")))
  end)

  it("returns Julian Day Numbers, ascending", function()
    local ev = series({ rec_type = 1, starting_date = "2026-12-01", ending_date = "2026-12-15" })
    assert.are.same({ 2461376, 2461383, 2461390 }, occurrences(ev, 2461376, 2461390))
  end)

  it("takes from and to as Julian Day Numbers or dates alike, both days included", function()
    local ev = { rec_type = 0, starting_date = 2461376, ending_date = 2461406 }
    assert.are.same(occurrences(ev, 2461380, 2461382), occurrences(ev, "2026-12-05", 2461382))
    assert.are.same({ 2461380, 2461381, 2461382 }, occurrences(ev, 2461380, "2026-12-07"))
  end)

  it("reads an event as given to create: dates as strings, ending_date and rec_type left out", function()
    assert.are.same({ "2026-12-03" }, dates(occurrences({ starting_date = "2026-12-03" }, "2026-12-01", "2026-12-31")))
    assert.are.same({ "2026-12-03" }, dates(occurrences({ starting_date = "2026-12-03", ending_date = "2026-12-05" },
                                                        "2026-12-01", "2026-12-31")))
    assert.are.same({ "2026-12-02", "2026-12-04" },
                    dates(occurrences({ rec_type = 0, starting_date = "2026-12-01", ending_date = "2026-12-04",
                                        exceptions = { 2461376, "2026-12-03" } }, "2026-12-01", "2026-12-31")))
  end)

  it("returns an empty list when the window misses the series", function()
    local ev = { rec_type = 1, starting_date = "2026-12-01", ending_date = "2026-12-29" }
    assert.are.same({}, occurrences(ev, "2027-01-01", "2027-12-31"))
    assert.are.same({}, occurrences(ev, "2026-12-02", "2026-12-07"))
  end)

  describe("refuses with InvalidParams naming the problem", function()
    local EV = { rec_type = 0, starting_date = "2026-12-01", ending_date = "2026-12-31" }

    local function invalid(text, ...)
      local err = raised(occurrences, ...)
      assert.is_true(eventapi.Error.is(err))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(tostring(err):find("eventapi.connectdaily.occurrences: ", 1, true), tostring(err))
      assert.truthy(tostring(err):find(text, 1, true), tostring(err))
    end

    it("a series that is not a table", function()
      invalid("series must be an event table, not a number", 42, "2026-12-01", "2026-12-31")
    end)

    it("a series without starting_date", function()
      invalid("series.starting_date is missing", { rec_type = 0 }, "2026-12-01", "2026-12-31")
    end)

    it("an ending_date that is not a date", function()
      invalid("series.ending_date '2026-13-01' is not a real yyyy-mm-dd date",
              { starting_date = "2026-12-01", ending_date = "2026-13-01" }, "2026-12-01", "2026-12-31")
    end)

    it("an ending_date before starting_date", function()
      invalid("series.ending_date is before series.starting_date",
              { starting_date = "2026-12-01", ending_date = "2026-11-30" }, "2026-12-01", "2026-12-31")
    end)

    it("a rec_type other than 0, 1, 2 or 3", function()
      invalid("series.rec_type must be 0, 1, 2 or 3, not 4",
              { rec_type = 4, starting_date = "2026-12-01" }, "2026-12-01", "2026-12-31")
      invalid("series.rec_type must be 0, 1, 2 or 3, not weekly",
              { rec_type = "weekly", starting_date = "2026-12-01" }, "2026-12-01", "2026-12-31")
    end)

    it("exceptions that are not a list", function()
      invalid("series.exceptions must be a list of dates",
              { starting_date = "2026-12-01", exceptions = { first = 2461376 } }, "2026-12-01", "2026-12-31")
      invalid("series.exceptions must be a list of dates",
              { starting_date = "2026-12-01", exceptions = "2026-12-01" }, "2026-12-01", "2026-12-31")
    end)

    it("an exception that is not a date, by its index", function()
      invalid("series.exceptions[2] a Julian Day Number must be an integer",
              { starting_date = "2026-12-01", exceptions = { 2461376, 12 } }, "2026-12-01", "2026-12-31")
    end)

    it("a missing or bad from", function()
      invalid("from is missing", EV, nil, "2026-12-31")
      invalid("from '2026-02-30' is not a real yyyy-mm-dd date", EV, "2026-02-30", "2026-12-31")
      invalid("from must be a Julian Day Number or a yyyy-mm-dd date", EV, 2461376.0, "2026-12-31")
    end)

    it("a missing or bad to", function()
      invalid("to is missing", EV, "2026-12-01")
      invalid("to a Julian Day Number must be an integer", EV, "2026-12-01", 5373485)
    end)

    it("a to before from, with both dates", function()
      invalid("to (2026-12-01) is before from (2026-12-02)", EV, "2026-12-02", "2026-12-01")
    end)
  end)
end)
