# SPDX-License-Identifier: Apache-2.0
"""botocore service models, indexed the ways requests name operations.

One AWS_ENDPOINT_URL serves every service, so a request is routed by what
it carries: X-Amz-Target ("SageMaker.ListDomains") for JSON 1.1, and for
Query the Action field plus the signing service of the credential scope
(iam or sts). The models are botocore's own, so the emulator checks
requests against the same shapes the SDKs serialise from."""

import botocore.session

SERVICES = ("iam", "sts", "sagemaker", "servicecatalog")


class Models:
    def __init__(self):
        session = botocore.session.get_session()
        self.by_name = {}          # botocore service name -> ServiceModel
        self.by_target = {}        # JSON targetPrefix -> service name
        self.by_signing = {}       # signing name -> service name
        for name in SERVICES:
            model = session.get_service_model(name)
            self.by_name[name] = model
            meta = model.metadata
            if meta.get("targetPrefix"):
                self.by_target[meta["targetPrefix"]] = name
            self.by_signing[meta.get("signingName", meta["endpointPrefix"])] = name

    def query_service_for_action(self, action, signing_name=None):
        """The Query service an Action belongs to: the signing service when
        it is a Query one, else the first Query model that has the action
        (no action name is shared between IAM and STS)."""
        if signing_name in self.by_signing:
            name = self.by_signing[signing_name]
            if self.by_name[name].protocol == "query":
                return name
        for name, model in self.by_name.items():
            if model.protocol == "query" and action in model.operation_names:
                return name
        return signing_name if signing_name in ("iam", "sts") else "sts"
