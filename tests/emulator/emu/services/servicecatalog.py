# SPDX-License-Identifier: Apache-2.0
"""Service Catalog, as far as SageMaker projects need it: the portfolio
shares accepted by this account and the IAM principals associated with
a portfolio.

The only portfolio is the one SageMaker shares when projects are enabled
(EnableSagemakerServicecatalogPortfolio, in sagemaker_more.py). SageMaker
accepts that share on the account's behalf: right after enabling, it is
listed by ListAcceptedPortfolioShares with the default share type
(IMPORTED) and ProviderName "Amazon SageMaker", which is how the original
module finds it without ever calling AcceptPortfolioShare. Accepting it
again is harmless. Its id is derived from account and region, so it is
the same across enable/disable and emulator restarts, as a real share's id
is stable. Disabling projects withdraws the share and with it the
principal associations.

Errors: unknown portfolio ids (or a share type that does not match the
share) are ResourceNotFoundException; malformed principals and page
tokens InvalidParametersException; more than 10 IAM_PATTERN principals
LimitExceededException. Pages use PageToken / NextPageToken and PageSize
(0 or absent means the default of 20)."""

import base64
import binascii
import hashlib
import json
import re
import time

from ..errors import AwsError

PROVIDER_NAME = "Amazon SageMaker"
DISPLAY_NAME = "Amazon SageMaker Solutions and ML Ops products"
DESCRIPTION = "SageMaker project templates shared by Amazon SageMaker with this account."
# The share comes from an account AWS owns, not from the caller's.
OWNER_ACCOUNT = "000000000000"
DEFAULT_PAGE_SIZE = 20
MAX_PATTERN_PRINCIPALS = 10

_IAM_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:(user|group|role)/.+\Z")
_IAM_PATTERN_ARN = re.compile(r"arn:aws[a-z-]*:iam:::(user|group|role)/.+\Z")


def fresh_state():
    # portfolio id -> record; principals are kept in association order.
    return {"portfolios": {}}


# -- the SageMaker share (called from sagemaker_more) --------------------

def sagemaker_portfolio_id(account, region):
    digest = hashlib.sha256(("sagemaker-projects:%s:%s" % (account, region)).encode())
    return "port-" + base64.b32encode(digest.digest()).decode().lower()[:13]


def publish_sagemaker_portfolio(state):
    """Share and accept the SageMaker portfolio (no-op when already
    there). Runs under the state lock, from the SageMaker handler."""
    portfolios = state.data["servicecatalog"]["portfolios"]
    pid = sagemaker_portfolio_id(state.account, state.region)
    if pid in portfolios:
        return
    portfolios[pid] = {
        "Id": pid,
        "ARN": "arn:aws:catalog:%s:%s:portfolio/%s" % (state.region, OWNER_ACCOUNT, pid),
        "DisplayName": DISPLAY_NAME,
        "Description": DESCRIPTION,
        "CreatedTime": time.time(),
        "ProviderName": PROVIDER_NAME,
        "_share_type": "IMPORTED",
        "_principals": [],
        "_next_seq": 1,
    }


def withdraw_sagemaker_portfolio(state):
    state.data["servicecatalog"]["portfolios"].pop(
        sagemaker_portfolio_id(state.account, state.region), None)


# -- helpers -------------------------------------------------------------

def _invalid(message):
    return AwsError("InvalidParametersException", message)


def _need(params, member):
    value = params.get(member)
    if not value:
        raise _invalid("%s is required." % member)
    return value


def _portfolio(ctx, params):
    pid = _need(params, "PortfolioId")
    portfolio = ctx.data["portfolios"].get(pid)
    if portfolio is None:
        raise AwsError("ResourceNotFoundException", "Portfolio %s not found." % pid)
    return portfolio


def _public(portfolio):
    return {k: v for k, v in portfolio.items() if not k.startswith("_")}


def _page(items, position, params):
    """One page of items (ordered by the increasing key position(item))
    and the NextPageToken member. The token names the last item returned,
    so removals between pages skip nothing."""
    token = params.get("PageToken")
    if token:
        try:
            after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _invalid("The page token is not valid.")
        try:
            items = [it for it in items if position(it) > after]
        except TypeError:
            raise _invalid("The page token is not valid.")
    size = params.get("PageSize") or DEFAULT_PAGE_SIZE
    page = items[:size]
    extra = {}
    if len(items) > size:
        extra["NextPageToken"] = base64.urlsafe_b64encode(
            json.dumps({"after": position(page[-1])}).encode()).decode()
    return page, extra


def _check_principal(arn, kind):
    if kind == "IAM":
        if not _IAM_ARN.match(arn):
            raise _invalid("PrincipalARN %s is not a fully defined IAM user, group or role "
                           "ARN, as PrincipalType IAM requires." % arn)
    elif kind == "IAM_PATTERN":
        if not _IAM_PATTERN_ARN.match(arn):
            raise _invalid("PrincipalARN %s is not an IAM ARN without account id, as "
                           "PrincipalType IAM_PATTERN requires." % arn)
    else:
        raise _invalid("PrincipalType %s is not valid." % kind)


# -- handlers ------------------------------------------------------------

def list_accepted_portfolio_shares(ctx, params):
    # AWS_SERVICECATALOG (deprecated: AWS's own default portfolios) and
    # AWS_ORGANIZATIONS shares never exist here; the SageMaker share is
    # an account-to-account (IMPORTED) one.
    share_type = params.get("PortfolioShareType") or "IMPORTED"
    items = sorted((p for p in ctx.data["portfolios"].values()
                    if p["_share_type"] == share_type), key=lambda p: p["Id"])
    page, extra = _page(items, lambda p: p["Id"], params)
    return dict(PortfolioDetails=[_public(p) for p in page], **extra)


def accept_portfolio_share(ctx, params):
    portfolio = _portfolio(ctx, params)
    share_type = params.get("PortfolioShareType") or "IMPORTED"
    if share_type != portfolio["_share_type"]:
        # No share of that type was offered (AWS_SERVICECATALOG in
        # particular is documented to answer ResourceNotFoundException).
        raise AwsError("ResourceNotFoundException", "No %s share of portfolio %s found."
                       % (share_type, portfolio["Id"]))
    return {}   # already accepted: accepting again changes nothing


def associate_principal_with_portfolio(ctx, params):
    portfolio = _portfolio(ctx, params)
    principal_arn = _need(params, "PrincipalARN")
    kind = _need(params, "PrincipalType")
    _check_principal(principal_arn, kind)
    principals = portfolio["_principals"]
    if any(p["PrincipalARN"] == principal_arn and p["PrincipalType"] == kind
           for p in principals):
        return {}   # idempotent: the association already exists
    if kind == "IAM_PATTERN" and sum(
            p["PrincipalType"] == "IAM_PATTERN" for p in principals) >= MAX_PATTERN_PRINCIPALS:
        raise AwsError("LimitExceededException",
                       "A portfolio can have at most %d IAM_PATTERN principals."
                       % MAX_PATTERN_PRINCIPALS)
    # seq orders the principals and anchors page tokens.
    principals.append({"PrincipalARN": principal_arn, "PrincipalType": kind,
                       "seq": portfolio["_next_seq"]})
    portfolio["_next_seq"] += 1
    return {}


def disassociate_principal_from_portfolio(ctx, params):
    portfolio = _portfolio(ctx, params)
    principal_arn = _need(params, "PrincipalARN")
    # The type must match the association's; IAM when not given.
    kind = params.get("PrincipalType") or "IAM"
    principals = portfolio["_principals"]
    keep = [p for p in principals
            if not (p["PrincipalARN"] == principal_arn and p["PrincipalType"] == kind)]
    if len(keep) == len(principals):
        raise AwsError("ResourceNotFoundException", "Principal %s (%s) is not associated "
                       "with portfolio %s." % (principal_arn, kind, portfolio["Id"]))
    portfolio["_principals"] = keep
    return {}


def list_principals_for_portfolio(ctx, params):
    portfolio = _portfolio(ctx, params)
    page, extra = _page(portfolio["_principals"], lambda p: p["seq"], params)
    return dict(Principals=[{"PrincipalARN": p["PrincipalARN"],
                             "PrincipalType": p["PrincipalType"]} for p in page], **extra)


HANDLERS = {
    "ListAcceptedPortfolioShares": list_accepted_portfolio_shares,
    "AcceptPortfolioShare": accept_portfolio_share,
    "AssociatePrincipalWithPortfolio": associate_principal_with_portfolio,
    "DisassociatePrincipalFromPortfolio": disassociate_principal_from_portfolio,
    "ListPrincipalsForPortfolio": list_principals_for_portfolio,
}
