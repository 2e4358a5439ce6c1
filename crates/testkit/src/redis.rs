//! A throwaway `redis-server` on loopback (owned by the cart work; see cart tests).
