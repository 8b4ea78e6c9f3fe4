-- default.lua: the Lua rules qts ships, and a short guide to writing your own.
--
-- HOW RULES ARE CALLED
--   A script defines global functions named allow_<name>(req) and deny_<name>(req).
--   * Step 4 of the filter chain calls every allow_* (alphabetical order within a script,
--     scripts in the order of the lua component's "scripts" list). The first one returning a
--     truthy value sets the flag "whitelisted" on the request; later filters with
--     skip_if: [whitelisted] then leave it alone.
--   * Step 6 calls every deny_*. A truthy result emits the event "lua_<name>" for the client
--     IP (deny_bad_method -> "lua_bad_method"); returning a string emits that string instead.
--     The list manager turns events into bans through projections matching "^lua_".
--
-- WHAT req HOLDS
--   Fields named as the wire record: req.url, req.method, req.host, req.http_user_agent,
--   req.referer, req.cookie, req.geo, req.accept, req.request, req.status, req.timestamp, ...
--   plus req.remote_addr (client IP as text), req.domain_id, req.headers (table by lower-case
--   header name) and req.flags (table of flags set so far, e.g. req.flags.static).
--   A field is filled only when some script reads it as req.name or req["name"] (outside
--   comments): that keeps each call cheap. req is reused between requests: never keep a
--   reference to it.
--
-- HELPERS
--   qts.has_flag(name)          -> true when an earlier filter set the flag
--   qts.set_flag(name[, value]) -> sets a flag on the request (value defaults to true)
--   qts.match(pattern, s)       -> RE2 regular expression match (slower than string.find:
--                                  prefer plain Lua patterns on hot paths)
--   qts.when(name, cond)        -> at load time only: promises that function `name` does nothing
--                                  (returns nothing, sets no flag, changes no global) for a
--                                  request outside `cond`, so qts may leave such requests out of
--                                  Lua altogether (counted in /metrics: qts_filter_counter_total,
--                                  counter "prefiltered"). cond keys, all that are given must
--                                  hold: methods, not_methods, paths (the URL up to "?"),
--                                  path_prefixes; each a list {"GET", "HEAD"} or a set
--                                  {GET = true}. A request some other function needs still runs
--                                  every function, so a wrong promise changes results only
--                                  sometimes: keep it exact. Lua costs ~2 us a request; a
--                                  function that stays out of most requests costs ~0.
--
-- LIMITS (the sandbox)
--   No io, os, package, debug, require, load, dofile, loadfile, coroutine or string.dump.
--   Each call may run instruction_budget VM instructions; the whole Lua state may hold
--   memory_limit_mb across calls (past it the state is reset: scripts reloaded, globals start
--   over; counted in /metrics). A function that errors or goes over is stopped and the request
--   continues as if it returned nothing (fail-open). Errors are counted in /metrics and logged
--   once a minute. A function stopped 3 times within a minute is skipped for the next minute.
--
-- STATE
--   Globals live as long as the Lua state. Domains on the same lua configuration share one
--   state, so a script that counts per client must key its tables by req.domain_id too.
--   One string.find/match/gsub runs to its end without budget checks, so a pattern whose worst
--   case on its subject is too slow (several * + - repetitions on long text) is refused with
--   an error: use qts.match (RE2, linear-time) for complex patterns on client-controlled text.

-- Monitoring probes: a GET/HEAD of a health URL from loopback or a private network is never
-- rate-limited or banned.
local HEALTH_PATHS = {
  ["/health"] = true,
  ["/healthz"] = true,
  ["/ping"] = true,
  ["/status"] = true,
}
-- The longest of them: a longer path is none of them, whatever follows it.
local HEALTH_MAX = 0
for path in pairs(HEALTH_PATHS) do HEALTH_MAX = math.max(HEALTH_MAX, #path) end

local function is_private(ip)
  return ip == "127.0.0.1" or ip == "::1"
    or ip:find("^10%.") ~= nil
    or ip:find("^192%.168%.") ~= nil
    or ip:find("^172%.1[6-9]%.") ~= nil
    or ip:find("^172%.2%d%.") ~= nil
    or ip:find("^172%.3[01]%.") ~= nil
    or ip:find("^f[cd]") ~= nil -- IPv6 unique local fc00::/7
end

function allow_health_check(req)
  local method = req.method
  if method ~= "GET" and method ~= "HEAD" then return false end
  -- The path is the URL up to "?": a plain find, no pattern (this runs for every GET).
  local path = req.url
  local q = path:find("?", 1, true)
  if q then
    if q > HEALTH_MAX + 1 then return false end
    path = path:sub(1, q - 1)
  end
  return HEALTH_PATHS[path] == true and is_private(req.remote_addr)
end
qts.when("allow_health_check", { methods = { "GET", "HEAD" }, paths = HEALTH_PATHS })

-- Methods a web site answers. Anything else (TRACE, TRACK, DEBUG, PROPFIND, random words) is
-- a scanner probing the server: event "lua_bad_method". An empty method (not sent by the
-- proxy) is left alone.
local STANDARD_METHODS = {
  GET = true, HEAD = true, POST = true, PUT = true, DELETE = true, PATCH = true, OPTIONS = true,
}

function deny_bad_method(req)
  local method = req.method
  return method ~= "" and not STANDARD_METHODS[method]
end
qts.when("deny_bad_method", { not_methods = STANDARD_METHODS })

-- More examples, disabled. Remove the comment markers to use one (and note that fields they
-- name, like http_user_agent or headers, are then pushed on every call).
--
-- Ban clients that ask for well-known secrets, with a custom event name:
--   function deny_secrets(req)
--     if req.url:find("/.env", 1, true) or req.url:find("/.git/", 1, true) then
--       return "lua_secret_probe"
--     end
--   end
--
-- Mark API clients so later filters can skip_if: [api]:
--   function allow_api_marker(req)
--     if req.headers["x-api-key"] then qts.set_flag("api") end
--     return false
--   end
