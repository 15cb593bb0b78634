--- Fuzz target "sse": the server-sent-event parser (src/sse.c) through its
-- test hook, testing.sse_parse(chunks, max_message). The input is
-- [max byte][split byte][cut bytes...][stream]: the max byte picks
-- max_message (below 128: 1..64, so the size limit is reached; else 1 MiB),
-- the split byte how the stream is cut (its low 3 bits: that many cut bytes
-- follow, each a cut position; 7: one byte per chunk), the rest is the
-- stream. Invariants:
--  (a) fed whole (one chunk) and fed split, the parser agrees: if the whole
--      run fails, the split one fails too; the split run's messages are a
--      prefix of the whole run's, and equal with the same comment count when
--      it does not fail. (A split may fail where the whole does not: a line
--      cut by a read is held and counted in full.) The only failure is
--      "too large";
--  (b) the whole run equals a reference parser written below from the HTML
--      standard's "event stream interpretation" (bytes, not decoded text:
--      the parser does not decode UTF-8): the same messages, comments and
--      failure, the failure where the documented limit (sse.h: the held
--      unfinished line, data and event type together at most max_message
--      bytes; an id at most max_message) says;
--  (c) a split run fails only when some line plus the data and event type
--      held before it exceeds max_message;
--  and no sanitizer report.
local F = require "fuzzlib"
require "eventapi.core"
local testing = debug.getregistry()["eventapi.testing"]
assert(testing and testing.sse_parse, "no testing.sse_parse")

local BOM = "\239\187\191"
local RETRY_CAP = 86400000 -- the parser caps a retry at a day (sse.c)

--- The reference: messages, failed (boolean), comments, and upper, the
-- largest line plus data plus event type held before it (bound (c)).
local function reference(s, max)
  local msgs, comments, upper = {}, 0, 0
  local data, event, id, retry = "", "", "", nil
  local pos = 1
  if s:sub(1, 3) == BOM then
    pos = 4
  elseif #s < 3 and BOM:sub(1, #s) == s then
    return msgs, false, 0, 0 -- a stream cut inside its byte order mark: nothing yet
  end
  local first = pos == 1 and s:byte(1) == 0xEF -- a partial mark the parser put back, the first line held
  local function field(line)
    if line == "" then -- dispatch
      if data ~= "" then
        msgs[#msgs + 1] = { event = event ~= "" and event or "message", data = data:sub(1, -2), id = id,
                            retry = retry }
      end
      data, event = "", ""
      return true
    end
    if line:sub(1, 1) == ":" then comments = comments + 1; return true end
    local name, value = line:match("^([^:]*):(.*)$")
    if not name then name, value = line, "" end
    if value:sub(1, 1) == " " then value = value:sub(2) end
    if name == "data" then
      if #data + #event + #value + 1 > max then return false end
      data = data .. value .. "\n"
    elseif name == "event" then
      if #data + #value > max then return false end
      event = value
    elseif name == "id" then
      if not value:find("\0", 1, true) then
        if #value > max then return false end
        id = value
      end
    elseif name == "retry" then
      if value:match("^%d+$") then
        local digits = value:gsub("^0+", "")
        retry = #digits > 9 and RETRY_CAP or math.min(tonumber("0" .. digits), RETRY_CAP)
      end
    end
    return true
  end
  while true do
    local j = s:find("[\r\n]", pos)
    local line = s:sub(pos, (j or #s + 1) - 1)
    upper = math.max(upper, #line + #data + #event)
    if not j then -- the unfinished last line, held
      return msgs, #line + #data + #event > max, comments, upper
    end
    if first and #line > max then return msgs, true, comments, upper end
    first = false
    if not field(line) then return msgs, true, comments, upper end
    pos = (s:sub(j, j + 1) == "\r\n") and j + 2 or j + 1
  end
end

local function same_msgs(a, b, n)
  for i = 1, n do
    local x, y = a[i], b[i]
    if not (x and y and x.event == y.event and x.data == y.data and x.id == y.id and x.retry == y.retry) then
      return false, i
    end
  end
  return true
end

local function show(msgs)
  local out = {}
  for i, m in ipairs(msgs) do
    out[i] = ("{event=%q data=%q id=%q retry=%s}"):format(m.event, m.data, m.id, tostring(m.retry))
  end
  return table.concat(out, " ")
end

return function(input)
  if #input < 2 then return end
  local mb, sb = input:byte(1), input:byte(2)
  local max = mb < 128 and 1 + mb % 64 or 1 << 20
  local ncuts = sb % 8
  local stream, chunks
  if ncuts == 7 then
    stream = input:sub(3)
    chunks = {}
    for i = 1, #stream do chunks[i] = stream:sub(i, i) end
  else
    stream = input:sub(3 + ncuts)
    local cuts = {}
    for i = 1, ncuts do cuts[i] = ((input:byte(2 + i) or 0) * 7919) % (#stream + 1) end
    table.sort(cuts)
    chunks = {}
    local from = 1
    for _, c in ipairs(cuts) do
      chunks[#chunks + 1] = stream:sub(from, c)
      from = c + 1
    end
    chunks[#chunks + 1] = stream:sub(from)
  end

  local whole, wfail, wcomments = testing.sse_parse({ stream }, max)
  local split, sfail, scomments = testing.sse_parse(chunks, max)
  F.check(wfail == nil or wfail == "too large", "whole: unexpected failure", wfail)
  F.check(sfail == nil or sfail == "too large", "split: unexpected failure", sfail)

  -- (b) the whole run against the reference
  local rmsgs, rfail, rcomments, upper = reference(stream, max)
  F.check((wfail ~= nil) == rfail, "whole run and reference disagree on failing:", tostring(wfail), tostring(rfail),
    max, stream)
  F.check(#whole == #rmsgs and same_msgs(whole, rmsgs, #whole), "whole run differs from the reference:",
    show(whole), show(rmsgs), max, stream)
  F.check(wcomments == rcomments, "comment counts differ (whole, reference):", wcomments, rcomments)

  -- (a) whole against split
  if wfail then F.check(sfail ~= nil, "the whole run failed but the split one did not:", max, stream) end
  F.check(#split <= #whole and same_msgs(split, whole, #split), "split messages are not a prefix of the whole's:",
    show(split), show(whole), max, stream, #chunks)
  if not sfail then
    F.check(#split == #whole, "split and whole differ in count:", #split, #whole, stream)
    F.check(scomments == wcomments, "comment counts differ (split, whole):", scomments, wcomments)
  else
    -- (c) a split run fails only where something held is over the limit
    F.check(upper > max, "the split run failed with nothing over max_message:", upper, max, stream, #chunks)
  end
end
