# SPDX-License-Identifier: Apache-2.0
"""Operation handlers, one module per service.

Each module exports HANDLERS (operation name -> handler(ctx, params)
returning the output dict, or raising AwsError) and fresh_state()
(the service's empty state). Operations in the model without a handler
are answered as not implemented."""

from . import iam, sts

HANDLERS = {"iam": iam.HANDLERS, "sts": sts.HANDLERS}
FRESH_STATE = {"iam": iam.fresh_state, "sts": sts.fresh_state}
