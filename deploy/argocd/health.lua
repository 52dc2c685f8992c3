-- Argo CD health of authentik-operator's stage resources (PasswordStage, IdentificationStage,
-- UserLoginStage). Install it with argocd-cm.yaml next to this file.
--
--   Healthy      Ready=True for the current spec (status.observedGeneration == generation).
--   Progressing  the operator has not reconciled the current spec yet (no status, or an older
--                observedGeneration), or it is retrying a failure that can clear by itself
--                (authentik unreachable or failing, a referenced stage not ready yet, ...),
--                or the resource is being deleted.
--   Degraded     a failure only a person can fix: authentik rejected the spec or the token,
--                the name is taken, adoption is refused, a reference can never resolve,
--                deletion is blocked by references; or Observe mode found drift (the
--                operator reports drift there and never corrects it).
--
-- Argo CD runs health scripts with gopher-lua (Lua 5.1): no goto, no integer division, no
-- bit operators.

-- Synced=False reasons that need a person. Any other reason is retried by the operator.
local needs_a_person = {
  AuthentikRejected = "authentik rejected the spec: change the spec",
  AuthentikForbidden = "authentik refused the API token: check the token and its permissions",
  AuthentikProtocolError = "authentik answered something unexpected: check authentik's version",
  NameConflict = "another resource manages a stage of this name",
  AlreadyExists = "a stage of this name exists in authentik and the adoption policy forbids taking it",
  AdoptionMismatch = "the existing stage in authentik differs from the spec (adoptionPolicy IfMatch)",
  InvalidReference = "a reference can never resolve as written",
  InvalidSpec = "the spec is invalid",
  DeleteBlocked = "other resources still reference this stage",
  ConfigurationError = "the operator is misconfigured",
}

local function condition(status, type_)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

local function describe(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  return text
end

local function health(obj)
  local status = obj.status
  local generation = obj.metadata and obj.metadata.generation
  local ready = condition(status, "Ready")
  local synced = condition(status, "Synced")

  if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
    if synced ~= nil and synced.status == "False" and synced.reason == "DeleteBlocked" then
      return "Degraded", "Deletion blocked: " .. describe(synced)
    end
    return "Progressing", "Being deleted: the operator is removing the stage from authentik"
  end

  if ready == nil and synced == nil then
    return "Progressing", "Waiting for the operator to reconcile the resource"
  end

  local observed = status.observedGeneration
  if generation ~= nil and observed ~= generation then
    local seen = "none"
    if observed ~= nil then
      seen = string.format("%d", observed)
    end
    return "Progressing", string.format(
      "Waiting for the operator to reconcile generation %d (observed: %s)", generation, seen)
  end

  if synced ~= nil and synced.status == "False" then
    local hint = needs_a_person[synced.reason]
    if hint ~= nil then
      return "Degraded", describe(synced) .. " (" .. hint .. ")"
    end
    return "Progressing", "Retrying: " .. describe(synced)
  end

  if ready ~= nil and ready.status == "True" then
    local msg = describe(ready)
    if status.pk ~= nil then
      msg = msg .. " (authentik pk " .. tostring(status.pk) .. ")"
    end
    return "Healthy", msg
  end

  if ready ~= nil and ready.status == "False" and ready.reason == "Drifted" then
    return "Degraded", describe(ready) ..
      " (Observe mode reports drift and never corrects it: change authentik or the spec)"
  end

  if ready ~= nil then
    return "Progressing", describe(ready)
  end
  return "Progressing", "Waiting for the Ready condition"
end

local hs = {}
hs.status, hs.message = health(obj)
return hs
