//! A throwaway SMTP server on loopback (owned by the email work; see email tests).
