"""MOSIP ID Authentication's errors, as the adapter answers them (mosip.py).

The codes and English texts of MOSIP's `IdAuthenticationErrorConstants` (mosip/id-authentication),
which relying parties branch on: a wire format, never translated (docs/standards.md).
"""

from __future__ import annotations

import structlog

log = structlog.get_logger(__name__)


class IdaError(Exception):
    """One MOSIP error: its code, MOSIP's English message and, where MOSIP gives one, its action message."""

    def __init__(self, code: str, message: str, action: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.action = code, message, action

    def wire(self) -> dict[str, str | None]:
        return {"errorCode": self.code, "errorMessage": self.message, "actionMessage": self.action}


class IdaErrors(Exception):
    """Several errors at once (each demographic attribute that did not match is one, as in MOSIP)."""

    def __init__(self, errors: list[IdaError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


# MOSIP's error catalogue, the entries this adapter answers with.
def missing(name: str) -> IdaError:
    return IdaError("IDA-MLC-006", f"Missing Input Parameter - {name}")


def invalid(name: str) -> IdaError:
    return IdaError("IDA-MLC-009", f"Invalid Input Parameter - {name}")


def too_late(seconds: int) -> IdaError:
    return IdaError(
        "IDA-MLC-001",
        f"Request to be received at MOSIP within {seconds} seconds",
        f"Please send the request within {seconds} seconds",
    )


PATH_INCOMPLETE = IdaError(
    "IDA-MPA-038",
    "Required Number of Path parameters are missing in URI",
    "Please try adding all the required path parameters.",
)
UNABLE_TO_PROCESS = IdaError("IDA-MLC-007", "Request could not be processed. Please try again")
NO_AUTH_TYPE = IdaError("IDA-MLC-008", "No authentication type selected")
NO_CONSENT = IdaError("IDA-MLC-012", "Individual's Consent is not available")
LICENCE_KEY_UNKNOWN = IdaError("IDA-MPA-007", "License key does not belong to a registered MISP")
PARTNER_UNKNOWN = IdaError("IDA-MPA-009", "Partner is not registered")
PARTNER_DEACTIVATED = IdaError("IDA-MPA-012", "Partner is deactivated")
PARTNER_API_EXPIRED = IdaError("IDA-MPA-039", "Partner API is expired or using before Commence Start Date.")
SIGNATURE_FAILED = IdaError("IDA-MPA-001", "Digital signature verification failed for signature header")
CERTIFICATE_NOT_MATCHED = IdaError(
    "IDA-MPA-021", "Partner (Auth) Certificate not matching with signature header certificate."
)
CERTIFICATE_NOT_IN_HEADER = IdaError("IDA-MPA-022", "Partner (Auth) Certificate not found in Request signature header.")
UNABLE_TO_DECRYPT = IdaError("IDA-MPA-003", "Unable to decrypt Request")
HMAC_FAILED = IdaError("IDA-MPA-016", "HMAC Validation failed")
OTP_NOT_ALLOWED = IdaError("IDA-MPA-005", "OTP Request Usage not allowed as per policy")
NOT_FOR_EKYC = IdaError("IDA-MPA-013", "Partner is unauthorised for eKYC")
NO_POLICY = IdaError("IDA-MPA-014", "Partner is not assigned with any policy")
OTP_INVALID = IdaError("IDA-OTA-004", "OTP is invalid", "Please provide correct OTP value")
OTP_FLOODED = IdaError("IDA-OTA-001", "Innumerous OTP requests received")
OTP_GENERATION_LOCKED = IdaError("IDA-OTA-006", "UIN is locked for OTP generation. Please try again later")
OTP_VALIDATION_LOCKED = IdaError(
    "IDA-OTA-007", "UIN is locked for OTP validation due to exceeding no of invalid OTP trials"
)
NO_OTP_CHANNEL = IdaError("IDA-OTA-008", "OTP Notification Channel not provided")
VID_UNUSABLE = IdaError("IDA-MLC-023", "VID is expired/deactivated")


def not_allowed_by_policy(auth_type: str) -> IdaError:
    return IdaError(
        "IDA-MPA-006",
        f"{auth_type} Authentication usage not allowed as per policy",
        "Please use other Authentication Types in the request",
    )


def unsupported(auth_type: str) -> IdaError:
    return IdaError(
        "IDA-MLC-011",
        f"Unsupported Authentication Type - {auth_type}",
        "Please use other Authentication Types in the request",
    )


def not_registered(what: str) -> IdaError:
    return IdaError(
        "IDA-MLC-014",
        f"{what} not registered. Individual has to register and try again",
        f"Please register your {what} and try again",
    )


def mismatch(attribute: str) -> IdaError:
    return IdaError("IDA-DEA-001", f"Demographic data {attribute} did not match", f"Please re-enter your {attribute}")


def not_held(attribute: str) -> IdaError:
    return IdaError("IDA-DEA-003", f"Demographic data {attribute} not available in database")


def id_error(id_type: str, kind: str) -> IdaError:
    """The MOSIP error for a problem our services raised about the individual (its `kind`)."""
    uin = id_type == "UIN"
    if kind == "not-found":
        return IdaError("IDA-MLC-018", f"{id_type} not available in database")
    if kind in ("vid-revoked", "vid-expired", "vid-used-up"):
        return VID_UNUSABLE
    if kind == "deactivated":
        if uin:
            return IdaError("IDA-MLC-003", "UIN has been deactivated", "Your UIN status is not active")
        return IdaError("IDA-MLC-010", "VID corresponding to a deactivated UIN")
    if kind == "invalid-national-id":
        if uin:
            return IdaError("IDA-MLC-002", "Invalid UIN", "Please retry with the correct UIN")
        return IdaError("IDA-MLC-004", "Invalid VID", "Please retry with correct VID")
    if kind == "forbidden":  # the policy changed between our check and the service's
        return NO_POLICY
    log.warning("identity.mosip.unmapped_problem", kind=kind)
    return UNABLE_TO_PROCESS
