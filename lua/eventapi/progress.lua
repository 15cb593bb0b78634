--- A progress line on stderr for long bulk work (`map`, `each`): done/total,
-- rate and failures, redrawn at most ten times a second, only when stderr is
-- a terminal (and EVENTAPI_PROGRESS is not "0").
local core = require "eventapi.core"

local Progress = {}
Progress.__index = Progress

--- Progress.new(label, total, enabled) -> a progress line (total may be nil).
-- enabled: true or false forces it; nil means "when stderr is a terminal".
function Progress.new(label, total, enabled)
  if enabled == nil then enabled = core.isatty(2) and os.getenv("EVENTAPI_PROGRESS") ~= "0" end
  return setmetatable({ label = label, total = total, done = 0, failures = 0, started = core.now(),
                        drawn = 0, enabled = enabled, out = io.stderr }, Progress)
end

--- Seconds of work before the rate is shown: over less, one or two quick
-- items would give a wild rate (1 item in 3 microseconds is "347826.1/s").
Progress.rate_after = 0.5

--- The text of the line as it stands: "label 12/137 done, 8.1/s, 0 failed"
-- (the rate once rate_after seconds have passed).
function Progress:line()
  local elapsed = core.now() - self.started
  local total = self.total and ("/" .. self.total) or ""
  local rate = ""
  if elapsed >= Progress.rate_after then rate = (", %.1f/s"):format(self.done / elapsed) end
  return ("%s %d%s done%s, %d failed"):format(self.label, self.done, total, rate, self.failures)
end

--- Counts one finished item (failed: true when it failed) and redraws when due.
function Progress:step(failed)
  self.done = self.done + 1
  if failed then self.failures = self.failures + 1 end
  if not self.enabled then return end
  local now = core.now()
  if now - self.drawn >= 0.1 then
    self.drawn = now
    self.out:write("\r", self:line(), "\27[K")
    self.out:flush()
  end
end

--- Draws the final line and ends it with a newline (once).
function Progress:finish()
  if not self.enabled or self.finished then return end
  self.finished = true
  self.out:write("\r", self:line(), "\27[K\n")
  self.out:flush()
end

return Progress
