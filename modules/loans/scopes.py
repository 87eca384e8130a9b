"""The loans module's scopes, which partner keys and staff roles are granted and the API and pages check."""

PRODUCT_SCOPE = "loans:product"
APPLY_SCOPE = "loans:apply"
DECIDE_SCOPE = "loans:decide"
SERVICE_SCOPE = "loans:service"
READ_SCOPE = "loans:read"
SCOPES = (PRODUCT_SCOPE, APPLY_SCOPE, DECIDE_SCOPE, SERVICE_SCOPE, READ_SCOPE)
