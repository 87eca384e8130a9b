"""The tax module's scopes, which partner keys and staff roles are granted and the API and pages check."""

REGISTER_SCOPE = "tax:register"
FILE_SCOPE = "tax:file"
READ_SCOPE = "tax:read"
COLLECT_SCOPE = "tax:collect"
DECIDE_SCOPE = "tax:decide"
# IDs are 32-bit integer columns: larger ones are refused (422), not sent to the database.
MAX_ID = 2**31 - 1
