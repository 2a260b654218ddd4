"""Use cases of auth: the OAuth2 authorization server and its grants, signing keys, access tokens, the log-in brake."""
