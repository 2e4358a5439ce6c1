-- Checkout load for wrk. Every request() is a pipelined PAIR on one connection
-- and one fresh session: POST /cart (add OLJCESPC7Z) then POST /cart/checkout,
-- because a checkout empties the cart. wrk counts both responses as requests
-- (checkouts/s = req/s / 2) and records one latency per pair.
local counter = 0
local form = "email=someone%40example.com&street_address=1600+Amphitheatre+Parkway"
  .. "&zip_code=94043&city=Mountain+View&state=CA&country=United+States"
  .. "&credit_card_number=4432801561520454&credit_card_expiration_month=1"
  .. "&credit_card_expiration_year=" .. (tonumber(os.date("%Y")) + 2)
  .. "&credit_card_cvv=672"

setup = function(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

init = function(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end

local function uuid()
  return string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
    math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff),
    math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff),
    math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff))
end

request = function()
  local headers = {
    ["Cookie"] = "shop_session-id=" .. uuid(),
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  return wrk.format("POST", "/cart", headers, "product_id=OLJCESPC7Z&quantity=1")
    .. wrk.format("POST", "/cart/checkout", headers, form)
end
