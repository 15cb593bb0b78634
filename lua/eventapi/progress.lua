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

--- The text of the line as it stands.
function Progress:line()
  local elapsed = math.max(core.now() - self.started, 1e-9)
  local total = self.total and ("/" .. self.total) or ""
  return ("%s %d%s done, %.1f/s, %d failed"):format(self.label, self.done, total, self.done / elapsed, self.failures)
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
