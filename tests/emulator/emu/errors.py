# SPDX-License-Identifier: Apache-2.0
"""AwsError: what a handler raises to answer with an AWS error.

Handlers raise with a code and message; the protocol codec turns it into
the wire format (XML envelope for Query, __type JSON for JSON 1.1). Auth
failures are raised by kind rather than code because the same failure has
different codes in the two protocol families (e.g. an unknown key is
InvalidClientTokenId for IAM/STS but UnrecognizedClientException for
SageMaker); AUTH_CODES holds that mapping."""


class AwsError(Exception):
    def __init__(self, code, message, status=400, sender=True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender  # Query <Type>Sender</Type> vs Receiver


class AuthError(Exception):
    """An authentication failure, named by kind; see AUTH_CODES."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


# kind -> protocol -> (code, HTTP status)
AUTH_CODES = {
    "missing": {"query": ("MissingAuthenticationToken", 403),
                "json": ("MissingAuthenticationTokenException", 403)},
    "incomplete": {"query": ("IncompleteSignature", 403),
                   "json": ("IncompleteSignatureException", 400)},
    "unknown_key": {"query": ("InvalidClientTokenId", 403),
                    "json": ("UnrecognizedClientException", 400)},
    "bad_signature": {"query": ("SignatureDoesNotMatch", 403),
                      "json": ("InvalidSignatureException", 400)},
    # AWS reports a skewed clock as a signature failure whose message
    # starts "Signature expired" (or "Signature not yet current").
    "skew": {"query": ("SignatureDoesNotMatch", 403),
             "json": ("InvalidSignatureException", 400)},
    "expired_token": {"query": ("ExpiredToken", 403),
                      "json": ("ExpiredTokenException", 400)},
}


def auth_to_aws(err, protocol):
    code, status = AUTH_CODES[err.kind][protocol]
    return AwsError(code, err.message, status)
