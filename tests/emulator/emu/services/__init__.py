# SPDX-License-Identifier: Apache-2.0
"""Operation handlers, one module per service (SageMaker split in two).

Each module exports HANDLERS (operation name -> handler(ctx, params)
returning the output dict, or raising AwsError) and fresh_state()
(its empty state). Operations in the model without a handler are
answered as not implemented."""

from . import iam, sagemaker_more, sagemaker_studio, servicecatalog, sts


def _fresh_sagemaker():
    data = {"tags": {}}
    data.update(sagemaker_studio.fresh_state())
    data.update(sagemaker_more.fresh_state())
    return data


HANDLERS = {
    "iam": iam.HANDLERS,
    "sts": sts.HANDLERS,
    "sagemaker": {**sagemaker_studio.HANDLERS, **sagemaker_more.HANDLERS},
    "servicecatalog": servicecatalog.HANDLERS,
}
FRESH_STATE = {
    "iam": iam.fresh_state,
    "sts": sts.fresh_state,
    "sagemaker": _fresh_sagemaker,
    "servicecatalog": servicecatalog.fresh_state,
}
