-- wrk script: POST converse messages for many users, cycling through a short conversation.
-- env: BOT (bot id), USERS (number of distinct users), TEXTS (|-separated messages),
--      UNIQUE=1: every message made new by a word of its own (letters only: no number or date to read)
local bot = os.getenv("BOT") or "welcome-bot"
local users = tonumber(os.getenv("USERS") or "1000")
local texts = {}
for t in string.gmatch(os.getenv("TEXTS") or "hello|memory|Ada|hi|context|monkey", "([^|]+)") do
  table.insert(texts, t)
end
local unique = os.getenv("UNIQUE") == "1"
local counter = 0

local function word_of(n)
  local letters = {}
  repeat
    table.insert(letters, string.char(97 + n % 26))
    n = math.floor(n / 26)
  until n == 0
  return table.concat(letters)
end
local thread_id = 0

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function request()
  counter = counter + 1
  local user = (counter * 7919 + thread_id * 104729) % users
  local text = texts[(math.floor(counter / users) % #texts) + 1]
  if unique then
    text = text .. " " .. word_of(counter * 104729 + thread_id * 7919)
  end
  local body = '{"type":"text","text":"' .. text .. '"}'
  return wrk.format("POST", "/api/v1/bots/" .. bot .. "/converse/bench-" .. thread_id .. "-" .. user,
                    {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
                 + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.mean))
end
