"""The payments module's scopes, which partner keys and staff roles are granted and the API and pages check."""

LINK_SCOPE = "payments:link"
READ_SCOPE = "payments:read"
TRANSFER_SCOPE = "payments:transfer"
PROGRAMME_SCOPE = "payments:programme"
APPROVE_SCOPE = "payments:approve"
