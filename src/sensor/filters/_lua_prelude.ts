/**
 * The Lua side of the lua filter: sandbox, script loader and the per-request dispatcher. Built
 * once per engine for the record fields the scripts use, so a call pushes only those values
 * onto the Lua stack and no table crosses the JS↔Lua bridge.
 *
 * Protocol of `__qts_phase(phase, now, flags, nfields, field1, …)`: phase 4 runs every
 * enabled allow_*, phase 6 every deny_*; `flags` is "\n"-framed ("\nstatic\nfoo\n"); nfields is
 * 0 when the record is the one pushed last time (phase 6 after 4). It returns nil when nothing
 * happened, else lines: "W" (an allow_* was truthy), "E<event>" (a deny_* fired), "F+<flag>" /
 * "F-<flag>" (qts.set_flag), "!<index>\t<kind>\t<message>" (a function failed; kind is
 * budget|memory|error).
 */
export function luaPrelude(fields: readonly string[], budget: number): string {
  const names = fields.map((_, i) => `v${i + 1}`);
  // Plain assignments, not rawset calls: req has no __newindex, and a C call per field costs.
  const assign = fields.map((field, i) => `req.${field} = v${i + 1}`).join("\n    ");
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
local known = {}
local known_count = 0
local function check_pattern(s, p, scans)
  if type(s) ~= "string" or type(p) ~= "string" then return end
  local k = known[p]
  if not k then
    k = repetitions(p)
    if known_count > 1000 then known, known_count = {}, 0 end
    known[p] = k
    known_count = known_count + 1
  end
  if scans or sub(p, 1, 1) ~= "^" then k = k + 1 end
  if k < 2 then return end
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
local setflags = nil
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
setmetatable(req, { __index = function(t, k)
  if k == "flags" then
    local f = {}
    for name in gmatch(flagstr, "[^\\n]+") do f[name] = true end
    rawset(t, "flags", f)
    return f
  elseif k == "headers" then
    local h = parse_headers(rawheaders)
    rawset(t, "headers", h)
    return h
  end
  return nil
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
  setflags = (setflags or "") .. (value and "F+" or "F-") .. name .. "\\n"
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
  local ok, why = run_hooked(chunk, nil)
  if not ok then return why end
  local found = {}
  for k, v in pairs(env) do
    if type(k) == "string" and type(v) == "function" and (find(k, "^allow_") or find(k, "^deny_")) then
      found[#found + 1] = k
    end
  end
  sort(found)
  for _, k in ipairs(found) do
    local list = find(k, "^allow_") and allows or denies
    list[#list + 1] = { fn = env[k], name = k, script = name, off = -1 }
  end
  return nil
end

-- "<phase>\\t<index>\\t<script>\\t<function>" lines, for the JS side's names and counters.
function __qts_list()
  local out = {}
  for i, e in ipairs(allows) do out[#out + 1] = "4\\t" .. i .. "\\t" .. e.script .. "\\t" .. e.name end
  for i, e in ipairs(denies) do out[#out + 1] = "6\\t" .. i .. "\\t" .. e.script .. "\\t" .. e.name end
  return table.concat(out, "\\n")
end

function __qts_collect()
  collect("collect")
  return nil
end

function __qts_disable(phase, index, until_ms)
  local list = phase == 4 and allows or denies
  if list[index] then list[index].off = until_ms end
end

function __qts_phase(phase, now, flags, nfields, ${names.join(", ") || "_"})
  flagstr = flags
  setflags = nil
  req.flags = nil
  req.headers = nil
  if nfields > 0 then
    ${assign}
    ${fields.includes("headers_raw") ? 'rawheaders = req.headers_raw or ""' : ""}
  end
  local list = phase == 4 and allows or denies
  local out = nil
  for i = 1, #list do
    local e = list[i]
    if e.off <= now then
      __qts_cur = i
      local ok, r = rawpcall(e.fn, req)
      if not ok then
        local kind = r == "not enough memory" and "memory" or "error"
        local msg = type(r) == "string" and gsub(sub(r, 1, 300), "[\\r\\n\\t]", " ") or type(r)
        out = (out or "") .. "!" .. i .. "\\t" .. kind .. "\\t" .. msg .. "\\n"
      elseif r then
        if phase == 4 then
          out = (out or "") .. "W\\n"
          break
        end
        out = (out or "") .. "E" .. (type(r) == "string" and r or ("lua_" .. sub(e.name, 6))) .. "\\n"
      end
    end
  end
  if setflags then out = (out or "") .. setflags end
  return out
end

-- Nothing after the prelude may reach these (_G.x: the locals above keep their captures).
_G.debug, _G.io, _G.os, _G.package, _G.require, _G.dofile, _G.loadfile, _G.load = nil
_G.collectgarbage = nil
`;
}
