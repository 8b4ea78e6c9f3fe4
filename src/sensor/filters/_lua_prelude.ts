/**
 * The Lua side of the lua filter: sandbox, script loader and the batch dispatcher. Built once
 * per engine for the record fields the scripts use, so a batch of requests crosses the JS↔Lua
 * boundary as one string and one call, and no table crosses it.
 *
 * Protocol of `__qts_batch(buf, n)`: `buf` holds n records, each packed as
 * `string.pack(format)`: mask | first << 2 (u32; mask 1 runs the allow_* functions, 2 the
 * deny_* ones; first is the function where the first stage run starts, 1 but after a
 * failure), event time (ms, double), when `flags` the flags set so far ("\n"-framed:
 * "\nstatic\nfoo\n"; else none cross) and one value per used field. For
 * each record in order it runs every enabled allow_* (the first truthy one whitelists and ends
 * the stage), then, unless a flag in the skip list (the component's skip_if) is now set, every
 * deny_*: one request's two stages run back to back, as the chain would call them. It returns
 * nil when nothing happened, else "\n"-separated lines: "@<k>" starts the lines of the k-th
 * record of the batch, then "W" (an allow_* was truthy), "A+<flag>"/"A-<flag>" (qts.set_flag in
 * an allow_*), "E<event>" (a deny_* fired), "D+<flag>"/"D-<flag>" (qts.set_flag in a deny_*).
 *
 * No pcall per function: a function that errors, runs out of budget or memory unwinds to the
 * caller in JS (a pcall is a JS round trip in this wasm build). The JS side then reads
 * `__qts_take()`: "<k>\t<stage>\t<function>\n" (where it stopped; stage 0 = between
 * functions, in the dispatcher) followed by the lines made so far, and resumes with a new batch
 * from the next function. `__qts_unit` numbers the stages of a batch (2k: allow_* of the k-th
 * record, 2k+1: its deny_*), so the JS budget hook knows when one request's stage ends and the
 * next one's budget starts.
 *
 * Every instruction the dispatcher runs per record costs twice (the count hook traps each one):
 * its loop keeps what it reads in locals and runs both stages inline, without a call.
 */
export function luaPrelude(
  fields: readonly string[],
  budget: number,
  format: string,
  flags: boolean,
): string {
  const names = fields.map((_, i) => `v${i + 1}`);
  // Plain assignments, not rawset calls: req has no __newindex, and a C call per field costs.
  const assign = fields.map((field, i) => `r.${field} = v${i + 1}`).join("\n    ");
  const unpacked = ["mf", "now", ...(flags ? ["flags"] : []), ...names, "nextpos"].join(", ");
  return `
local sethook, rawpcall, rawxpcall, load, error, type, tostring, rawset, rawget, pairs, next,
  setmetatable, sort, find, gmatch, lower, gsub, sub, match =
  debug.sethook, pcall, xpcall, load, error, type, tostring, rawset, rawget, pairs, next,
  setmetatable, table.sort, string.find, string.gmatch, string.lower, string.gsub, string.sub,
  string.match
local pack, unpack = table.pack, table.unpack
local collect = collectgarbage
local BUDGET = ${budget}
local BUDGET_MSG = "qts: instruction budget exceeded"
local exhausted = false
local function hook()
  exhausted = true
  error(BUDGET_MSG, 0)
end

-- The real string table stays reachable through ("").method: strip what it must not offer and
-- lock the string metatable so one script cannot change strings for another.
string.dump = nil

-- A Lua pattern match is one C call: the instruction budget cannot stop it, and k unbounded
-- repetitions (* + -) can cost up to n^k steps on n bytes (n^(k+1) unanchored or repeated by
-- gmatch/gsub). Refuse matches whose worst case is over ~2e7 steps; qts.match (RE2) is linear.
local PATTERN_LIMIT = 2e7
local FACTORIAL = { 1, 2, 6, 24, 120, 720, 5040 }
local function set_end(p, i)
  i = i + 1
  if sub(p, i, i) == "^" then i = i + 1 end
  repeat
    local c = sub(p, i, i)
    if c == "" then return i end
    if c == "%" then i = i + 1 end
    i = i + 1
  until sub(p, i, i) == "]"
  return i + 1
end
local function repetitions(p)
  local n, i, len = 0, 1, #p
  if sub(p, 1, 1) == "^" then i = 2 end
  while i <= len do
    local c = sub(p, i, i)
    local j
    if c == "%" then
      local d = sub(p, i + 1, i + 1)
      if d == "b" then j = -(i + 4)
      elseif d == "f" then j = -set_end(p, i + 2)
      else j = i + 2 end
    elseif c == "[" then j = set_end(p, i)
    elseif c == "(" or c == ")" then j = -(i + 1)
    else j = i + 1 end
    if j < 0 then
      i = -j
    else
      local q = sub(p, j, j)
      if q == "*" or q == "+" or q == "-" then n = n + 1; i = j + 1
      elseif q == "?" then i = j + 1
      else i = j end
    end
  end
  return n
end
-- Repetitions counted per pattern (+1 when unanchored) for find/match, and +1 for the scans
-- of gmatch/gsub; a pattern seen before costs one table read (the common, cheap case).
local known_find, known_scan = {}, {}
local known_count = 0
local function check_pattern(s, p, scans)
  local k = (scans and known_scan or known_find)[p]
  if k == nil then
    if type(p) ~= "string" then return end
    local n = repetitions(p)
    if known_count > 1000 then known_find, known_scan, known_count = {}, {}, 0 end
    known_find[p] = sub(p, 1, 1) ~= "^" and n + 1 or n
    known_scan[p] = n + 1
    known_count = known_count + 1
    k = scans and n + 1 or known_find[p]
  end
  if k < 2 or type(s) ~= "string" then return end
  local cost = (#s) ^ k / (FACTORIAL[k] or 5040)
  if cost > PATTERN_LIMIT then
    error("qts: Lua pattern with " .. k .. " repetitions on " .. #s ..
      " bytes may take too long; use qts.match (RE2) or a simpler pattern", 3)
  end
end
local raw_find, raw_match, raw_gmatch, raw_gsub = string.find, string.match, string.gmatch, string.gsub
string.find = function(s, p, init, plain)
  if not plain then check_pattern(s, p, false) end
  return raw_find(s, p, init, plain)
end
string.match = function(s, p, init)
  check_pattern(s, p, false)
  return raw_match(s, p, init)
end
string.gmatch = function(s, p, init)
  check_pattern(s, p, true)
  return raw_gmatch(s, p, init)
end
string.gsub = function(s, p, repl, n)
  check_pattern(s, p, true)
  return raw_gsub(s, p, repl, n)
end
getmetatable("").__metatable = false

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local flagstr = "\\n"
-- qts.set_flag calls of the current stage, "+name"/"-name", reported when the stage ends.
local setflags, setflags_n = {}, 0
local req = {}
local rawheaders = ""
-- Header text is client-controlled: parse it in linear time (no backtracking patterns).
local function trim(text)
  local first = find(text, "%S")
  if not first then return "" end
  return sub(text, first, #match(text, ".*%S"))
end
local function parse_headers(text)
  local h = {}
  for line in gmatch(text, "[^\\r\\n]+") do
    local colon = find(line, ":", 1, true)
    if colon then
      local name = trim(sub(line, 1, colon - 1))
      if name ~= "" then h[lower(name)] = trim(sub(line, colon + 1)) end
    end
  end
  return h
end
-- True once a stage made req.flags or req.headers, which the next stage must make afresh.
local dirty = false
setmetatable(req, { __index = function(t, k)
  if k == "flags" then
    dirty = true
    local f = {}
    for name in gmatch(flagstr, "[^\\n]+") do f[name] = true end
    rawset(t, "flags", f)
    return f
  elseif k == "headers" then
    dirty = true
    local h = parse_headers(rawheaders)
    rawset(t, "headers", h)
    return h
  end
  return nil
end, __newindex = function(t, k, v)
  -- A script setting req.flags or req.headers itself: the next stage starts without it.
  dirty = true
  rawset(t, k, v)
end })

local qts = {}
function qts.has_flag(name)
  local f = rawget(req, "flags")
  if f then return f[name] == true end
  return find(flagstr, "\\n" .. tostring(name) .. "\\n", 1, true) ~= nil
end
function qts.set_flag(name, value)
  name = tostring(name)
  if value == nil then value = true end
  value = value and true or false
  if find(name, "[^%w_.%-]") or #name == 0 or #name > 64 then
    error("qts.set_flag: bad flag name " .. name, 2)
  end
  setflags_n = setflags_n + 1
  setflags[setflags_n] = (value and "+" or "-") .. name
  local f = rawget(req, "flags")
  if f then f[name] = value or nil end
  if value then
    if not find(flagstr, "\\n" .. name .. "\\n", 1, true) then flagstr = flagstr .. name .. "\\n" end
  else
    flagstr = gsub(flagstr, "\\n" .. gsub(name, "%p", "%%%0") .. "\\n", "\\n")
  end
end
local js_match = __qts_match
__qts_match = nil
function qts.match(pattern, s)
  if type(pattern) ~= "string" or type(s) ~= "string" then
    error("qts.match(pattern, s) takes two strings", 2)
  end
  return js_match(pattern, s)
end

-- qts.when(name, cond): a load-time promise that function \`name\` of this script does nothing
-- for a request outside \`cond\`, so the JS side may leave such requests out of Lua. Kept per
-- script and function as "key=v1<US>v2<RS>key=..." (US = \\31, RS = \\30).
local WHEN_KEYS = { methods = true, not_methods = true, paths = true, path_prefixes = true }
local loading = nil
local whens = {}
local function when_values(key, v)
  if type(v) ~= "table" then
    error("qts.when: " .. key .. " must be a list or a set of strings", 3)
  end
  local out = {}
  for k, x in pairs(v) do
    -- A list {"GET", "HEAD"} or a set {GET = true}: the strings are the values either way.
    local value = type(k) == "number" and x or k
    if type(value) ~= "string" or value == "" or find(value, "[%c]") then
      error("qts.when: " .. key .. " holds a value that is not a plain non-empty string", 3)
    end
    if type(k) ~= "number" and not x then value = nil end
    if value then out[#out + 1] = value end
  end
  if #out == 0 then error("qts.when: " .. key .. " is empty", 3) end
  sort(out)
  return table.concat(out, "\\31")
end
function qts.when(name, cond)
  if loading == nil then error("qts.when: call it when the script loads, not per request", 2) end
  if type(name) ~= "string" or not (find(name, "^allow_[%w_]+$") or find(name, "^deny_[%w_]+$")) then
    error("qts.when: the first argument names an allow_* or deny_* function", 2)
  end
  if type(cond) ~= "table" then error("qts.when: the second argument is a table", 2) end
  local keys = {}
  for key in pairs(cond) do
    if not WHEN_KEYS[key] then
      error("qts.when: unknown key " .. tostring(key) ..
        " (methods, not_methods, paths, path_prefixes)", 2)
    end
    keys[#keys + 1] = key
  end
  if #keys == 0 then error("qts.when: the condition is empty", 2) end
  sort(keys)
  local parts = {}
  for i, key in ipairs(keys) do parts[i] = key .. "=" .. when_values(key, cond[key]) end
  whens[loading .. "\\t" .. name] = table.concat(parts, "\\30")
end

local function sandbox()
  return {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    select = select, tonumber = tonumber, tostring = tostring, type = type,
    rawequal = rawequal, rawget = rawget, rawset = rawset, rawlen = rawlen,
    getmetatable = getmetatable, _VERSION = _VERSION,
    -- A script's pcall cannot swallow the budget stop: once the budget is spent, the JS hook
    -- raises an error at every instruction until control is back in JS. xpcall calls its
    -- handler after unwinding, because Lua runs an erroring handler again with hooks off.
    pcall = rawpcall,
    xpcall = function(f, handler, ...)
      local result = pack(rawpcall(f, ...))
      if result[1] then return unpack(result, 1, result.n) end
      return false, handler(result[2])
    end,
    -- Finalizers run with hooks off: a looping __gc would hang the state, so none are allowed.
    setmetatable = function(t, mt)
      if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
        error("qts: __gc metamethods are not allowed", 2)
      end
      return setmetatable(t, mt)
    end,
    string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8),
    qts = qts,
  }
end

local allows, denies = {}, {}
-- The same functions for the dispatcher, and the event time each is skipped until (-1: never);
-- the line of a deny_* returning a non-string ("E" .. its default event name).
local afn, aoff, dfn, doff, dline = {}, {}, {}, {}, {}

-- Load time only: budget through debug.sethook (the per-request path uses a cheaper C hook
-- armed from JS, see _lua_engine.ts).
local function run_hooked(fn, arg)
  exhausted = false
  sethook(hook, "", BUDGET)
  local ok, r = rawpcall(fn, arg)
  sethook()
  if ok then return true, r end
  local kind = exhausted and "budget" or (r == "not enough memory" and "memory" or "error")
  local msg = type(r) == "string" and r or type(r)
  return false, kind .. "\\t" .. gsub(sub(msg, 1, 300), "[\\r\\n\\t]", " ")
end

-- Loads one script in its own environment; returns nil or an error line.
function __qts_load(name, source)
  local env = sandbox()
  -- Text mode only ("t"): precompiled bytecode is refused.
  local chunk, err = load(source, "=" .. name, "t", env)
  if not chunk then return "syntax\\t" .. tostring(err) end
  loading = name
  local ok, why = run_hooked(chunk, nil)
  loading = nil
  if not ok then return why end
  local found = {}
  for k, v in pairs(env) do
    if type(k) == "string" and type(v) == "function" and (find(k, "^allow_") or find(k, "^deny_")) then
      found[#found + 1] = k
    end
  end
  sort(found)
  for key in pairs(whens) do
    local script, fname = match(key, "^(.-)\\t(.*)$")
    if script == name and type(env[fname]) ~= "function" then
      return "error\\tqts.when names " .. fname .. ", which the script does not define"
    end
  end
  for _, k in ipairs(found) do
    local list = find(k, "^allow_") and allows or denies
    list[#list + 1] = { fn = env[k], name = k, script = name }
    local fns, offs = list == allows and afn or dfn, list == allows and aoff or doff
    fns[#list], offs[#list] = env[k], -1
    if list == denies then dline[#list] = "Elua_" .. sub(k, 6) end
  end
  return nil
end

-- "<phase>\\t<index>\\t<script>\\t<function>\\t<when>" lines, for the JS side's names,
-- counters and prefilters (<when> empty: every request).
function __qts_list()
  local out = {}
  local function line(phase, i, e)
    return phase .. "\\t" .. i .. "\\t" .. e.script .. "\\t" .. e.name .. "\\t" ..
      (whens[e.script .. "\\t" .. e.name] or "")
  end
  for i, e in ipairs(allows) do out[#out + 1] = line(4, i, e) end
  for i, e in ipairs(denies) do out[#out + 1] = line(6, i, e) end
  return table.concat(out, "\\n")
end

function __qts_collect()
  collect("collect")
  return nil
end

function __qts_disable(phase, index, until_ms)
  local offs = phase == 4 and aoff or doff
  if offs[index] then offs[index] = until_ms end
end

-- The batch being run; upvalues, so they survive an error unwinding to JS (see __qts_take).
local sunpack = string.unpack
local FORMAT = "${format}"
local b_buf, b_n, b_pos, b_k = "", 0, 1, 0
local b_stage, b_fn = 0, 0
local out, outn, out_k = {}, 0, -1
local skip = {}
__qts_unit = 0

-- "@k" for each k seen, made once.
local at = setmetatable({}, { __index = function(t, k)
  local line = "@" .. k
  t[k] = line
  return line
end })

local function emit(line)
  if out_k ~= b_k then
    outn = outn + 1
    out[outn] = at[b_k]
    out_k = b_k
  end
  outn = outn + 1
  out[outn] = line
end

local function flush_flags(tag)
  for i = 1, setflags_n do emit(tag .. setflags[i]) end
  setflags_n = 0
end

local function skipped()
  for i = 1, #skip do
    if find(flagstr, skip[i], 1, true) then return true end
  end
  return false
end

local function event_line(r)
  if #r > 100 or find(r, "[^%w_.:%-]") or r == "" then return "Elua_invalid_event" end
  return "E" .. r
end

local function run()
  local nskip = #skip
  local buf, n, pos, k = b_buf, b_n, b_pos, b_k
  local r, format, nallow, ndeny = req, FORMAT, #afn, #dfn
  local afn, aoff, dfn, doff, dline = afn, aoff, dfn, doff, dline
  while k < n do
    k = k + 1
    b_k = k
    b_stage = 0
    local ${unpacked} = sunpack(format, buf, pos)
    pos = nextpos
    local mask, first = mf & 3, mf >> 2
    flagstr = ${flags ? "flags" : '"\\n"'}
    ${assign}
    ${fields.includes("headers_raw") ? 'rawheaders = r.headers_raw or ""' : ""}
    if mask ~= 2 then
      -- allow_*, from function \`first\` on: the first truthy one whitelists and ends the stage.
      b_stage = 4
      b_fn = 0
      __qts_unit = k + k
      if dirty then
        rawset(r, "flags", nil)
        rawset(r, "headers", nil)
        dirty = false
      end
      for i = first, nallow do
        if aoff[i] <= now then
          b_fn = i
          if afn[i](r) then
            emit("W")
            if not find(flagstr, "\\nwhitelisted\\n", 1, true) then
              flagstr = flagstr .. "whitelisted\\n"
            end
            break
          end
        end
      end
      b_fn = nallow + 1
      if setflags_n > 0 then flush_flags("A") end
    end
    if mask == 2 or (mask == 3 and (nskip == 0 or not skipped())) then
      -- deny_*: a truthy result is an event.
      b_stage = 6
      b_fn = 0
      __qts_unit = k + k + 1
      if dirty then
        rawset(r, "flags", nil)
        rawset(r, "headers", nil)
        dirty = false
      end
      for i = mask == 2 and first or 1, ndeny do
        if doff[i] <= now then
          b_fn = i
          local result = dfn[i](r)
          if result then emit(type(result) == "string" and event_line(result) or dline[i]) end
        end
      end
      b_fn = ndeny + 1
      if setflags_n > 0 then flush_flags("D") end
    end
  end
  b_stage, b_fn, b_buf = 0, 0, ""
  if outn == 0 then return nil end
  local text = table.concat(out, "\\n", 1, outn)
  outn = 0
  return text
end

function __qts_batch(buf, n)
  b_buf, b_n, b_pos, b_k = buf, n, 1, 0
  __qts_unit = 0
  outn, out_k = 0, -1
  return run()
end

-- After an error unwound a batch: where it stopped, and the lines made before.
function __qts_take()
  local head = b_k .. "\\t" .. b_stage .. "\\t" .. b_fn
  if b_stage ~= 0 then flush_flags(b_stage == 4 and "A" or "D") end
  local text = outn > 0 and table.concat(out, "\\n", 1, outn) or ""
  outn, out_k, b_buf = 0, -1, ""
  b_stage, b_fn = 0, 0
  return head .. "\\n" .. text
end

-- The flags (one a line) that keep deny_* from running (the component's skip_if).
function __qts_skip(names)
  skip = {}
  for name in gmatch(names, "[^\\n]+") do skip[#skip + 1] = "\\n" .. name .. "\\n" end
end

-- Nothing after the prelude may reach these (_G.x: the locals above keep their captures).
_G.debug, _G.io, _G.os, _G.package, _G.require, _G.dofile, _G.loadfile, _G.load = nil
_G.collectgarbage = nil
`;
}
