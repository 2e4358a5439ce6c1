-- Checkout load for wrk. Every request() is a pipelined PAIR on one connection
-- and one session: POST /cart (add OLJCESPC7Z) then POST /cart/checkout,
-- because a checkout empties the cart. wrk counts both responses as requests
-- (checkouts/s = req/s / 2) and records one latency per pair.
-- Sessions are signed by the shop, so they come from a pool it minted
-- (BENCH_SESSIONS: a file of `shop_session-id=...` lines); each thread cycles
-- through its own share, so no two pairs in flight share a cart.
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

local sessions = {}
local first, share, next_pair = 1, 1, 0

init = function(args)
  local pool = {}
  for line in io.lines(os.getenv("BENCH_SESSIONS")) do
    pool[#pool + 1] = line
  end
  local threads = tonumber(os.getenv("WRK_THREADS") or "2")
  share = math.floor(#pool / threads)
  first = ((tid or 1) - 1) * share + 1
  sessions = pool
end

request = function()
  local session = sessions[first + next_pair % share]
  next_pair = next_pair + 1
  local headers = {
    ["Cookie"] = session,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  return wrk.format("POST", "/cart", headers, "product_id=OLJCESPC7Z&quantity=1")
    .. wrk.format("POST", "/cart/checkout", headers, form)
end
