-- placeholder replaced by the lua filter work
function allow_healthcheck(req)
  return req.url == "/healthz"
end
