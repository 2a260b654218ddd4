"""Use cases of users: signed links, the two e-mails, password hashing, and the session-revocation outbox."""
