# SPDX-License-Identifier: Apache-2.0
"""awsemu's MLflow tracking servers, Studio lifecycle configs, app image
configs, images, the SageMaker projects portfolio and the Service Catalog
operations around it, driven by boto3.

SageMakerMoreTest runs with no async delay (final statuses are still
polled for, never assumed). AsyncTest runs with a delay long enough to
observe the transient statuses and the rules that depend on them.
NoVerifyTest checks that handlers refuse missing members even with the
model checks off. The lifecycle-config-in-use rule, whose inputs belong
to the domain module, is checked in-process on hand-made data."""

import base64
import datetime
import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from emutest import ACCOUNT, REGION, EmuCase, wait_for  # noqa: E402

ROLE = "arn:aws:iam::%s:role/mlflow-role" % ACCOUNT
STORE = "s3://my-bucket/mlflow/"
SCRIPT = base64.b64encode(b"#!/bin/bash\necho hello\n").decode()


class Base(EmuCase):
    def setUp(self):
        super().setUp()
        self.sm = self.client("sagemaker")
        self.sc = self.client("servicecatalog")

    def state(self):
        return self.admin("GET", "/_emu/state")["services"]

    def tags_of(self, arn):
        """The tag registry entry of arn (None when not registered); read
        from the state dump so the test does not need ListTags."""
        return self.state()["sagemaker"]["tags"].get(arn)

    def sagemaker_share(self):
        """The accepted shares whose provider is Amazon SageMaker."""
        shares = self.sc.list_accepted_portfolio_shares()["PortfolioDetails"]
        return [p for p in shares if p["ProviderName"] == "Amazon SageMaker"]

    def create_server(self, name="mlflow", **extra):
        args = dict(TrackingServerName=name, ArtifactStoreUri=STORE, RoleArn=ROLE)
        args.update(extra)
        return self.sm.create_mlflow_tracking_server(**args)["TrackingServerArn"]

    def server_status(self, name):
        return self.sm.describe_mlflow_tracking_server(
            TrackingServerName=name)["TrackingServerStatus"]

    def wait_status(self, describe, status, **key):
        """Poll describe(**key) until its status is status; returns the
        description."""
        def done():
            out = describe(**key)
            value = out.get("TrackingServerStatus") or out.get("ImageStatus")
            return out if value == status else None
        return wait_for(done, what="status %s of %s" % (status, key))

    def wait_gone(self, describe, **key):
        def gone():
            try:
                describe(**key)
            except self.sm.exceptions.ResourceNotFound:
                return True
            return False
        wait_for(gone, what="%s to disappear" % key)

    def pages(self, call, list_key, token_in="NextToken", token_out="NextToken", **args):
        """Every page of a list call, following its token by hand."""
        pages = []
        while True:
            out = call(**args)
            pages.append(out[list_key])
            if token_out not in out:
                return pages
            args[token_in] = out[token_out]


class SageMakerMoreTest(Base):
    EXTRA_ARGS = ("--async-delay-ms", "0")

    # -- MLflow ------------------------------------------------------------

    def test_mlflow_create_describe_defaults(self):
        arn = self.create_server("mlflow")
        self.assertEqual(arn, "arn:aws:sagemaker:%s:%s:mlflow-tracking-server/mlflow"
                         % (REGION, ACCOUNT))
        out = self.wait_status(self.sm.describe_mlflow_tracking_server, "Created",
                               TrackingServerName="mlflow")
        self.assertEqual(out["TrackingServerArn"], arn)
        self.assertEqual(out["TrackingServerName"], "mlflow")
        self.assertEqual(out["ArtifactStoreUri"], STORE)
        self.assertEqual(out["RoleArn"], ROLE)
        self.assertEqual(out["TrackingServerSize"], "Small")
        self.assertRegex(out["MlflowVersion"], r"^\d+\.\d+\.\d+$")
        self.assertIs(out["AutomaticModelRegistration"], False)
        self.assertEqual(out["IsActive"], "Active")
        self.assertRegex(out["TrackingServerUrl"],
                         r"^https://t-[a-z0-9]{12}\.%s\.experiments\.sagemaker\.aws$" % REGION)
        self.assertNotIn("WeeklyMaintenanceWindowStart", out)
        self.assertEqual(out["CreatedBy"]["IamIdentity"]["Arn"],
                         "arn:aws:iam::%s:user/awsemu" % ACCOUNT)
        self.assertLessEqual(out["CreationTime"], out["LastModifiedTime"])
        self.assertLess(abs(time.time() - out["CreationTime"].timestamp()), 60)
        self.assertEqual(self.tags_of(arn), {})

    def test_mlflow_create_with_everything(self):
        arn = self.create_server(
            "full", TrackingServerSize="Large", MlflowVersion="2.13.2",
            AutomaticModelRegistration=True, WeeklyMaintenanceWindowStart="Sun:03:30",
            Tags=[{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}])
        out = self.wait_status(self.sm.describe_mlflow_tracking_server, "Created",
                               TrackingServerName="full")
        self.assertEqual(out["TrackingServerSize"], "Large")
        self.assertEqual(out["MlflowVersion"], "2.13.2")
        self.assertIs(out["AutomaticModelRegistration"], True)
        self.assertEqual(out["WeeklyMaintenanceWindowStart"], "Sun:03:30")
        self.assertEqual(self.tags_of(arn), {"team": "ml", "env": "dev"})

    def test_mlflow_update_and_delete(self):
        arn = self.create_server("srv", Tags=[{"Key": "k", "Value": "v"}])
        before = self.wait_status(self.sm.describe_mlflow_tracking_server, "Created",
                                  TrackingServerName="srv")
        time.sleep(0.01)   # so that LastModifiedTime can visibly move
        out = self.sm.update_mlflow_tracking_server(
            TrackingServerName="srv", ArtifactStoreUri="s3://other-bucket/x",
            TrackingServerSize="Medium", AutomaticModelRegistration=True,
            WeeklyMaintenanceWindowStart="Mon:01:00")
        self.assertEqual(out["TrackingServerArn"], arn)
        after = self.wait_status(self.sm.describe_mlflow_tracking_server, "Updated",
                                 TrackingServerName="srv")
        self.assertEqual(after["ArtifactStoreUri"], "s3://other-bucket/x")
        self.assertEqual(after["TrackingServerSize"], "Medium")
        self.assertIs(after["AutomaticModelRegistration"], True)
        self.assertEqual(after["WeeklyMaintenanceWindowStart"], "Mon:01:00")
        # What the update did not name stays as it was.
        for same in ("RoleArn", "MlflowVersion", "TrackingServerUrl", "CreationTime"):
            self.assertEqual(after[same], before[same], same)
        self.assertGreater(after["LastModifiedTime"], before["LastModifiedTime"])
        # An update of a server in Updated is allowed as well.
        self.sm.update_mlflow_tracking_server(TrackingServerName="srv",
                                              TrackingServerSize="Small")
        self.wait_status(self.sm.describe_mlflow_tracking_server, "Updated",
                         TrackingServerName="srv")

        self.assertEqual(self.sm.delete_mlflow_tracking_server(
            TrackingServerName="srv")["TrackingServerArn"], arn)
        self.wait_gone(self.sm.describe_mlflow_tracking_server, TrackingServerName="srv")
        self.assertIsNone(self.tags_of(arn))
        self.assertEqual(self.sm.list_mlflow_tracking_servers()["TrackingServerSummaries"], [])
        # The name is free again.
        self.create_server("srv")

    def test_mlflow_immutable_members_refused(self):
        """RoleArn and MlflowVersion cannot be updated: they are
        not in UpdateMlflowTrackingServer's input. boto3 will not send an
        unknown member, so it is added to the body just before signing."""
        self.create_server("srv")
        self.wait_status(self.sm.describe_mlflow_tracking_server, "Created",
                         TrackingServerName="srv")
        for member, value in (("RoleArn", ROLE + "2"), ("MlflowVersion", "2.13.2")):
            def add_member(request, **kwargs):
                body = json.loads(request.body)
                body[member] = value
                request.data = json.dumps(body).encode()
            self.sm.meta.events.register(
                "before-sign.sagemaker.UpdateMlflowTrackingServer", add_member)
            try:
                err = self.assertAwsError("ValidationException",
                                          self.sm.update_mlflow_tracking_server,
                                          TrackingServerName="srv")
            finally:
                self.sm.meta.events.unregister(
                    "before-sign.sagemaker.UpdateMlflowTrackingServer", add_member)
            self.assertIn(member, str(err))
        out = self.sm.describe_mlflow_tracking_server(TrackingServerName="srv")
        self.assertEqual((out["RoleArn"], out["TrackingServerStatus"]), (ROLE, "Created"))

    def test_mlflow_stop_and_start(self):
        self.create_server("srv")
        self.wait_status(self.sm.describe_mlflow_tracking_server, "Created",
                         TrackingServerName="srv")
        self.sm.stop_mlflow_tracking_server(TrackingServerName="srv")
        out = self.wait_status(self.sm.describe_mlflow_tracking_server, "Stopped",
                               TrackingServerName="srv")
        self.assertEqual(out["IsActive"], "Inactive")
        # A stopped server can be neither updated nor stopped again.
        self.assertAwsError("ConflictException", self.sm.update_mlflow_tracking_server,
                            TrackingServerName="srv", TrackingServerSize="Medium")
        self.assertAwsError("ValidationException", self.sm.stop_mlflow_tracking_server,
                            TrackingServerName="srv")
        self.sm.start_mlflow_tracking_server(TrackingServerName="srv")
        out = self.wait_status(self.sm.describe_mlflow_tracking_server, "Started",
                               TrackingServerName="srv")
        self.assertEqual(out["IsActive"], "Active")
        self.assertAwsError("ValidationException", self.sm.start_mlflow_tracking_server,
                            TrackingServerName="srv")
        self.sm.update_mlflow_tracking_server(TrackingServerName="srv",
                                              TrackingServerSize="Medium")

    def test_mlflow_errors(self):
        self.create_server("srv")
        err = self.assertAwsError("ResourceInUse", self.create_server, "srv")
        self.assertIn("mlflow-tracking-server/srv", str(err))
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        for call in (self.sm.describe_mlflow_tracking_server,
                     self.sm.update_mlflow_tracking_server,
                     self.sm.delete_mlflow_tracking_server,
                     self.sm.start_mlflow_tracking_server,
                     self.sm.stop_mlflow_tracking_server):
            self.assertAwsError("ResourceNotFound", call, TrackingServerName="nope")
        # The artifact store has to be S3, on create and on update.
        self.assertAwsError("ValidationException", self.create_server, "web",
                            ArtifactStoreUri="https://example.com/store")
        self.assertAwsError("ValidationException", self.sm.update_mlflow_tracking_server,
                            TrackingServerName="srv", ArtifactStoreUri="https://x.example/y")
        self.assertAwsError("ValidationException", self.create_server, "bad",
                            WeeklyMaintenanceWindowStart="Sunday:3")
        self.assertAwsError("ValidationException", self.create_server, "-bad-name")

    def test_mlflow_validation_without_client_checks(self):
        sm = self.client("sagemaker", validate=False)
        err = self.assertAwsError("ValidationException", sm.create_mlflow_tracking_server,
                                  TrackingServerName="x", ArtifactStoreUri=STORE,
                                  RoleArn=ROLE, TrackingServerSize="Huge")
        self.assertIn("'trackingServerSize'", str(err))
        self.assertIn("enum value set", str(err))
        err = self.assertAwsError("ValidationException", sm.create_mlflow_tracking_server,
                                  TrackingServerName="x", ArtifactStoreUri=STORE)
        self.assertIn("'roleArn'", str(err))
        self.assertIn("must not be null", str(err))
        self.create_server("x")
        err = self.assertAwsError("ValidationException", sm.list_mlflow_tracking_servers,
                                  SortBy="Size")
        self.assertIn("'sortBy'", str(err))
        self.assertEqual(self.sm.list_mlflow_tracking_servers()["TrackingServerSummaries"][0]
                         ["TrackingServerName"], "x")

    def test_mlflow_list_sorting_filters_and_pages(self):
        names = ["s%d" % i for i in range(7)]
        for i, name in enumerate(names):
            self.create_server(name, MlflowVersion="2.13.2" if i % 2 else "2.16.2")
        for name in names:
            self.wait_status(self.sm.describe_mlflow_tracking_server, "Created",
                             TrackingServerName=name)
        pages = self.pages(self.sm.list_mlflow_tracking_servers, "TrackingServerSummaries",
                           MaxResults=3, SortBy="Name", SortOrder="Ascending")
        self.assertEqual([len(p) for p in pages], [3, 3, 1])
        self.assertEqual([s["TrackingServerName"] for p in pages for s in p], names)
        summary = pages[0][0]
        self.assertEqual(set(summary), {"TrackingServerArn", "TrackingServerName",
                                        "CreationTime", "LastModifiedTime",
                                        "TrackingServerStatus", "IsActive", "MlflowVersion"})
        self.assertEqual(summary["TrackingServerStatus"], "Created")
        # Default: newest first, 10 per page.
        out = self.sm.list_mlflow_tracking_servers()
        self.assertNotIn("NextToken", out)
        self.assertEqual([s["TrackingServerName"] for s in out["TrackingServerSummaries"]],
                         names[::-1])
        # boto3's own paginator agrees.
        paginator = self.sm.get_paginator("list_mlflow_tracking_servers")
        got = [s["TrackingServerName"] for page in paginator.paginate(
            SortBy="Name", SortOrder="Descending", PaginationConfig={"PageSize": 2})
            for s in page["TrackingServerSummaries"]]
        self.assertEqual(got, names[::-1])
        # Filters.
        out = self.sm.list_mlflow_tracking_servers(MlflowVersion="2.13.2", SortBy="Name",
                                                   SortOrder="Ascending")
        self.assertEqual([s["TrackingServerName"] for s in out["TrackingServerSummaries"]],
                         ["s1", "s3", "s5"])
        self.sm.stop_mlflow_tracking_server(TrackingServerName="s4")
        self.wait_status(self.sm.describe_mlflow_tracking_server, "Stopped",
                         TrackingServerName="s4")
        out = self.sm.list_mlflow_tracking_servers(TrackingServerStatus="Stopped")
        self.assertEqual([s["TrackingServerName"] for s in out["TrackingServerSummaries"]],
                         ["s4"])
        # boto3 sends timestamps in whole seconds, so bound by an hour.
        hour = datetime.timedelta(hours=1)
        now = datetime.datetime.now(datetime.timezone.utc)
        for args, count in (({"CreatedAfter": now - hour}, 7),
                            ({"CreatedAfter": now + hour}, 0),
                            ({"CreatedBefore": now + hour}, 7),
                            ({"CreatedBefore": now - hour}, 0)):
            out = self.sm.list_mlflow_tracking_servers(**args)
            self.assertEqual(len(out["TrackingServerSummaries"]), count, args)
        self.assertAwsError("ValidationException", self.sm.list_mlflow_tracking_servers,
                            NextToken="not-a-token")

    def test_pages_survive_deletions(self):
        for i in range(5):
            self.create_server("p%d" % i)
        first = self.sm.list_mlflow_tracking_servers(MaxResults=2, SortBy="Name",
                                                     SortOrder="Ascending")
        self.assertEqual([s["TrackingServerName"] for s in first["TrackingServerSummaries"]],
                         ["p0", "p1"])
        self.wait_status(self.sm.describe_mlflow_tracking_server, "Created",
                         TrackingServerName="p1")
        self.sm.delete_mlflow_tracking_server(TrackingServerName="p1")
        self.wait_gone(self.sm.describe_mlflow_tracking_server, TrackingServerName="p1")
        rest = self.sm.list_mlflow_tracking_servers(
            MaxResults=10, SortBy="Name", SortOrder="Ascending", NextToken=first["NextToken"])
        self.assertEqual([s["TrackingServerName"] for s in rest["TrackingServerSummaries"]],
                         ["p2", "p3", "p4"])

    def test_out_of_band_and_drift(self):
        """The admin API's out-of-band calls and patches work on these
        resources: tables are keyed by name, the status is "Status"."""
        out = self.admin("POST", "/_emu/call/sagemaker/CreateStudioLifecycleConfig", {
            "StudioLifecycleConfigName": "console-made",
            "StudioLifecycleConfigContent": SCRIPT,
            "StudioLifecycleConfigAppType": "CodeEditor"})
        self.assertTrue(out["StudioLifecycleConfigArn"].endswith("/console-made"))
        self.assertEqual(self.sm.describe_studio_lifecycle_config(
            StudioLifecycleConfigName="console-made")["StudioLifecycleConfigAppType"],
            "CodeEditor")

        self.create_server("srv")
        before = self.wait_status(self.sm.describe_mlflow_tracking_server, "Created",
                                  TrackingServerName="srv")
        self.admin("POST", "/_emu/patch", {"service": "sagemaker",
                                           "path": ["mlflow_servers", "srv", "ArtifactStoreUri"],
                                           "value": "s3://drifted/"})
        self.admin("POST", "/_emu/patch", {"service": "sagemaker",
                                           "path": ["mlflow_servers", "srv", "Status"],
                                           "value": "UpdateFailed"})
        after = self.sm.describe_mlflow_tracking_server(TrackingServerName="srv")
        self.assertEqual(after["ArtifactStoreUri"], "s3://drifted/")
        self.assertEqual(after["TrackingServerStatus"], "UpdateFailed")
        self.assertGreater(after["LastModifiedTime"], before["LastModifiedTime"])
        # UpdateFailed: fix and update again.
        self.sm.update_mlflow_tracking_server(TrackingServerName="srv", ArtifactStoreUri=STORE)
        self.wait_status(self.sm.describe_mlflow_tracking_server, "Updated",
                         TrackingServerName="srv")

    # -- Studio lifecycle configs -----------------------------------------

    def create_lcc(self, name="lcc", app_type="JupyterLab", **extra):
        return self.sm.create_studio_lifecycle_config(
            StudioLifecycleConfigName=name, StudioLifecycleConfigContent=SCRIPT,
            StudioLifecycleConfigAppType=app_type, **extra)["StudioLifecycleConfigArn"]

    def test_lifecycle_config_crud(self):
        arn = self.create_lcc("on-start", "JupyterServer",
                              Tags=[{"Key": "owner", "Value": "me"}])
        self.assertEqual(arn, "arn:aws:sagemaker:%s:%s:studio-lifecycle-config/on-start"
                         % (REGION, ACCOUNT))
        out = self.sm.describe_studio_lifecycle_config(StudioLifecycleConfigName="on-start")
        self.assertEqual(out["StudioLifecycleConfigArn"], arn)
        self.assertEqual(out["StudioLifecycleConfigName"], "on-start")
        self.assertEqual(out["StudioLifecycleConfigContent"], SCRIPT)
        self.assertEqual(out["StudioLifecycleConfigAppType"], "JupyterServer")
        self.assertEqual(out["CreationTime"], out["LastModifiedTime"])
        self.assertEqual(self.tags_of(arn), {"owner": "me"})
        listed = self.sm.list_studio_lifecycle_configs()["StudioLifecycleConfigs"]
        self.assertEqual(listed, [{
            "StudioLifecycleConfigArn": arn, "StudioLifecycleConfigName": "on-start",
            "CreationTime": out["CreationTime"], "LastModifiedTime": out["LastModifiedTime"],
            "StudioLifecycleConfigAppType": "JupyterServer"}])
        self.sm.delete_studio_lifecycle_config(StudioLifecycleConfigName="on-start")
        self.assertAwsError("ResourceNotFound", self.sm.describe_studio_lifecycle_config,
                            StudioLifecycleConfigName="on-start")
        self.assertIsNone(self.tags_of(arn))
        # Immutable: SageMaker has no update operation for it at all.
        self.assertFalse(hasattr(self.sm, "update_studio_lifecycle_config"))

    def test_lifecycle_config_errors(self):
        self.create_lcc("lcc")
        self.assertAwsError("ResourceInUse", self.create_lcc, "lcc")
        self.assertAwsError("ResourceNotFound", self.sm.describe_studio_lifecycle_config,
                            StudioLifecycleConfigName="nope")
        self.assertAwsError("ResourceNotFound", self.sm.delete_studio_lifecycle_config,
                            StudioLifecycleConfigName="nope")
        err = self.assertAwsError(
            "ValidationException", self.sm.create_studio_lifecycle_config,
            StudioLifecycleConfigName="plain", StudioLifecycleConfigContent="echo hi; exit 0",
            StudioLifecycleConfigAppType="JupyterLab")
        self.assertIn("base64", str(err))
        self.assertAwsError("ValidationException", self.create_lcc, "under_score")
        sm = self.client("sagemaker", validate=False)
        err = self.assertAwsError("ValidationException", sm.create_studio_lifecycle_config,
                                  StudioLifecycleConfigName="x",
                                  StudioLifecycleConfigContent=SCRIPT,
                                  StudioLifecycleConfigAppType="RStudio")
        self.assertIn("'studioLifecycleConfigAppType'", str(err))
        err = self.assertAwsError("ValidationException", sm.create_studio_lifecycle_config,
                                  StudioLifecycleConfigName="x",
                                  StudioLifecycleConfigAppType="JupyterLab")
        self.assertIn("'studioLifecycleConfigContent'", str(err))

    def test_lifecycle_config_list_filters_and_pages(self):
        for i in range(5):
            self.create_lcc("jl-%d" % i, "JupyterLab")
        self.create_lcc("ce-0", "CodeEditor")
        pages = self.pages(self.sm.list_studio_lifecycle_configs, "StudioLifecycleConfigs",
                           MaxResults=2, SortBy="Name", SortOrder="Ascending")
        self.assertEqual([[c["StudioLifecycleConfigName"] for c in p] for p in pages],
                         [["ce-0", "jl-0"], ["jl-1", "jl-2"], ["jl-3", "jl-4"]])
        out = self.sm.list_studio_lifecycle_configs(AppTypeEquals="CodeEditor")
        self.assertEqual([c["StudioLifecycleConfigName"]
                          for c in out["StudioLifecycleConfigs"]], ["ce-0"])
        out = self.sm.list_studio_lifecycle_configs(NameContains="jl", SortBy="Name",
                                                    SortOrder="Descending")
        self.assertEqual([c["StudioLifecycleConfigName"] for c in out["StudioLifecycleConfigs"]],
                         ["jl-4", "jl-3", "jl-2", "jl-1", "jl-0"])

    # -- App image configs -------------------------------------------------

    KERNEL = {"KernelSpecs": [{"Name": "echo-kernel", "DisplayName": "echo"}],
              "FileSystemConfig": {"MountPath": "/root", "DefaultUid": 0, "DefaultGid": 0}}

    def test_app_image_config_crud(self):
        arn = self.sm.create_app_image_config(
            AppImageConfigName="echo-kernel-app-config", KernelGatewayImageConfig=self.KERNEL,
            Tags=[{"Key": "a", "Value": "b"}])["AppImageConfigArn"]
        self.assertEqual(arn, "arn:aws:sagemaker:%s:%s:app-image-config/echo-kernel-app-config"
                         % (REGION, ACCOUNT))
        out = self.sm.describe_app_image_config(AppImageConfigName="echo-kernel-app-config")
        self.assertEqual(out["AppImageConfigArn"], arn)
        self.assertEqual(out["KernelGatewayImageConfig"], self.KERNEL)
        self.assertNotIn("JupyterLabAppImageConfig", out)
        self.assertEqual(self.tags_of(arn), {"a": "b"})
        time.sleep(0.01)
        jupyter = {"ContainerConfig": {"ContainerArguments": ["--x"],
                                       "ContainerEnvironmentVariables": {"A": "1"}}}
        self.assertEqual(self.sm.update_app_image_config(
            AppImageConfigName="echo-kernel-app-config",
            JupyterLabAppImageConfig=jupyter)["AppImageConfigArn"], arn)
        after = self.sm.describe_app_image_config(AppImageConfigName="echo-kernel-app-config")
        self.assertEqual(after["JupyterLabAppImageConfig"], jupyter)
        self.assertEqual(after["KernelGatewayImageConfig"], self.KERNEL)
        self.assertGreater(after["LastModifiedTime"], out["LastModifiedTime"])
        self.assertEqual(after["CreationTime"], out["CreationTime"])
        listed = self.sm.list_app_image_configs()["AppImageConfigs"]
        self.assertEqual([c["AppImageConfigName"] for c in listed], ["echo-kernel-app-config"])
        self.assertEqual(listed[0]["JupyterLabAppImageConfig"], jupyter)
        self.sm.delete_app_image_config(AppImageConfigName="echo-kernel-app-config")
        self.assertEqual(self.sm.list_app_image_configs()["AppImageConfigs"], [])
        self.assertIsNone(self.tags_of(arn))

    def test_app_image_config_errors_and_pages(self):
        for i in range(3):
            self.sm.create_app_image_config(AppImageConfigName="c%d" % i,
                                            KernelGatewayImageConfig=self.KERNEL)
        self.assertAwsError("ResourceInUse", self.sm.create_app_image_config,
                            AppImageConfigName="c1")
        for call in (self.sm.describe_app_image_config, self.sm.update_app_image_config,
                     self.sm.delete_app_image_config):
            self.assertAwsError("ResourceNotFound", call, AppImageConfigName="nope")
        sm = self.client("sagemaker", validate=False)
        err = self.assertAwsError("ValidationException", sm.create_app_image_config,
                                  AppImageConfigName="k",
                                  KernelGatewayImageConfig={"FileSystemConfig": {}})
        self.assertIn("kernelSpecs", str(err))
        pages = self.pages(self.sm.list_app_image_configs, "AppImageConfigs", MaxResults=2,
                           SortBy="Name", SortOrder="Ascending")
        self.assertEqual([[c["AppImageConfigName"] for c in p] for p in pages],
                         [["c0", "c1"], ["c2"]])
        out = self.sm.list_app_image_configs(NameContains="C2")
        self.assertEqual([c["AppImageConfigName"] for c in out["AppImageConfigs"]], ["c2"])

    # -- Images ------------------------------------------------------------

    def test_image_crud(self):
        arn = self.sm.create_image(ImageName="echo", RoleArn=ROLE, DisplayName="Echo",
                                   Description="an image",
                                   Tags=[{"Key": "t", "Value": "1"}])["ImageArn"]
        self.assertEqual(arn, "arn:aws:sagemaker:%s:%s:image/echo" % (REGION, ACCOUNT))
        out = self.wait_status(self.sm.describe_image, "CREATED", ImageName="echo")
        self.assertEqual(out["ImageArn"], arn)
        self.assertEqual(out["RoleArn"], ROLE)
        self.assertEqual(out["DisplayName"], "Echo")
        self.assertEqual(out["Description"], "an image")
        self.assertEqual(self.tags_of(arn), {"t": "1"})
        # boto3's ImageCreated waiter understands the statuses.
        self.sm.get_waiter("image_created").wait(ImageName="echo",
                                                 WaiterConfig={"Delay": 1})
        images = self.sm.list_images()["Images"]
        self.assertEqual(len(images), 1)
        self.assertEqual(images[0]["ImageName"], "echo")
        self.assertEqual(images[0]["ImageStatus"], "CREATED")
        self.assertNotIn("RoleArn", images[0])
        self.sm.update_image(ImageName="echo", DisplayName="Echo 2",
                             DeleteProperties=["Description"])
        out = self.wait_status(self.sm.describe_image, "CREATED", ImageName="echo")
        self.assertEqual(out["DisplayName"], "Echo 2")
        self.assertNotIn("Description", out)
        self.sm.delete_image(ImageName="echo")
        self.wait_gone(self.sm.describe_image, ImageName="echo")
        self.assertIsNone(self.tags_of(arn))

    def test_image_errors_and_pages(self):
        for name in ("img.b", "img-a", "other"):
            self.sm.create_image(ImageName=name, RoleArn=ROLE)
        self.assertAwsError("ResourceInUse", self.sm.create_image, ImageName="other",
                            RoleArn=ROLE)
        for call in (self.sm.describe_image, self.sm.update_image, self.sm.delete_image):
            self.assertAwsError("ResourceNotFound", call, ImageName="nope")
        pages = self.pages(self.sm.list_images, "Images", MaxResults=2, SortBy="IMAGE_NAME",
                           SortOrder="ASCENDING")
        self.assertEqual([[i["ImageName"] for i in p] for p in pages],
                         [["img-a", "img.b"], ["other"]])
        out = self.sm.list_images(NameContains="img", SortBy="IMAGE_NAME",
                                  SortOrder="DESCENDING")
        self.assertEqual([i["ImageName"] for i in out["Images"]], ["img.b", "img-a"])
        sm = self.client("sagemaker", validate=False)
        self.assertAwsError("ValidationException", sm.list_images, SortBy="NAME")
        err = self.assertAwsError("ValidationException", sm.create_image, ImageName="x")
        self.assertIn("'roleArn'", str(err))

    # -- Projects and Service Catalog --------------------------------------

    def test_projects_sequence(self):
        """The original module's custom resource, then a reconciler's
        extra steps: enable, find the share, accept it, associate the three
        execution roles, list them, disassociate one."""
        status = self.sm.get_sagemaker_servicecatalog_portfolio_status
        self.assertEqual(status()["Status"], "Disabled")
        self.assertEqual(self.sagemaker_share(), [])

        self.sm.enable_sagemaker_servicecatalog_portfolio()
        self.sm.enable_sagemaker_servicecatalog_portfolio()   # idempotent
        self.assertEqual(status()["Status"], "Enabled")
        [share] = self.sagemaker_share()
        pid = share["Id"]
        self.assertRegex(pid, r"^port-[a-z0-9]{13}$")
        self.assertRegex(share["ARN"], r"^arn:aws:catalog:%s:\d{12}:portfolio/%s$"
                         % (REGION, pid))
        self.assertTrue(share["DisplayName"])
        self.assertTrue(share["Description"])
        self.assertLess(abs(time.time() - share["CreatedTime"].timestamp()), 60)
        # Listed as an account-to-account (IMPORTED) share only.
        self.assertEqual(self.sc.list_accepted_portfolio_shares(
            PortfolioShareType="IMPORTED")["PortfolioDetails"], [share])
        for other in ("AWS_ORGANIZATIONS", "AWS_SERVICECATALOG"):
            self.assertEqual(self.sc.list_accepted_portfolio_shares(
                PortfolioShareType=other)["PortfolioDetails"], [], other)

        self.sc.accept_portfolio_share(PortfolioId=pid)
        self.sc.accept_portfolio_share(PortfolioId=pid, PortfolioShareType="IMPORTED")

        roles = ["arn:aws:iam::%s:role/%s" % (ACCOUNT, name) for name in (
            "sagemaker-studio-role", "data-scientist-role", "lead-data-scientist-role")]
        for role in roles:
            self.sc.associate_principal_with_portfolio(PortfolioId=pid, PrincipalARN=role,
                                                       PrincipalType="IAM")
        # Associating again (the original does so on every update) changes nothing.
        self.sc.associate_principal_with_portfolio(PortfolioId=pid, PrincipalARN=roles[0],
                                                   PrincipalType="IAM")
        listed = self.sc.list_principals_for_portfolio(PortfolioId=pid)
        self.assertEqual(listed["Principals"],
                         [{"PrincipalARN": r, "PrincipalType": "IAM"} for r in roles])
        self.assertNotIn("NextPageToken", listed)

        self.sc.disassociate_principal_from_portfolio(PortfolioId=pid, PrincipalARN=roles[1],
                                                      PrincipalType="IAM")
        listed = self.sc.list_principals_for_portfolio(PortfolioId=pid)["Principals"]
        self.assertEqual([p["PrincipalARN"] for p in listed], [roles[0], roles[2]])
        self.assertAwsError("ResourceNotFoundException",
                            self.sc.disassociate_principal_from_portfolio,
                            PortfolioId=pid, PrincipalARN=roles[1])

        # Disabling withdraws the share and its associations; enabling
        # again brings back the same portfolio id.
        self.sm.disable_sagemaker_servicecatalog_portfolio()
        self.assertEqual(status()["Status"], "Disabled")
        self.assertEqual(self.sagemaker_share(), [])
        self.assertAwsError("ResourceNotFoundException", self.sc.list_principals_for_portfolio,
                            PortfolioId=pid)
        self.sm.enable_sagemaker_servicecatalog_portfolio()
        self.assertEqual(self.sagemaker_share()[0]["Id"], pid)
        self.assertEqual(self.sc.list_principals_for_portfolio(
            PortfolioId=pid)["Principals"], [])

    def test_servicecatalog_errors(self):
        self.sm.enable_sagemaker_servicecatalog_portfolio()
        pid = self.sagemaker_share()[0]["Id"]
        role = "arn:aws:iam::%s:role/r" % ACCOUNT
        for call, args in (
                (self.sc.accept_portfolio_share, {}),
                (self.sc.associate_principal_with_portfolio,
                 {"PrincipalARN": role, "PrincipalType": "IAM"}),
                (self.sc.disassociate_principal_from_portfolio, {"PrincipalARN": role}),
                (self.sc.list_principals_for_portfolio, {})):
            self.assertAwsError("ResourceNotFoundException", call,
                                PortfolioId="port-doesnotexist", **args)
        # AWS_SERVICECATALOG shares cannot be accepted; ORGANIZATIONS was not offered.
        for share_type in ("AWS_SERVICECATALOG", "AWS_ORGANIZATIONS"):
            self.assertAwsError("ResourceNotFoundException", self.sc.accept_portfolio_share,
                                PortfolioId=pid, PortfolioShareType=share_type)
        # PrincipalType IAM needs a full IAM ARN; IAM_PATTERN one without account.
        for bad in ("not-an-arn", "arn:aws:iam:::role/x", "arn:aws:s3:::bucket",
                    "arn:aws:iam::%s:policy/p" % ACCOUNT):
            self.assertAwsError("InvalidParametersException",
                                self.sc.associate_principal_with_portfolio, PortfolioId=pid,
                                PrincipalARN=bad, PrincipalType="IAM")
        self.assertAwsError("InvalidParametersException",
                            self.sc.associate_principal_with_portfolio, PortfolioId=pid,
                            PrincipalARN=role, PrincipalType="IAM_PATTERN")
        # Disassociation must name the type it was associated with.
        self.sc.associate_principal_with_portfolio(PortfolioId=pid, PrincipalARN=role,
                                                   PrincipalType="IAM")
        self.assertAwsError("ResourceNotFoundException",
                            self.sc.disassociate_principal_from_portfolio, PortfolioId=pid,
                            PrincipalARN=role, PrincipalType="IAM_PATTERN")
        # At most 10 IAM_PATTERN principals.
        for i in range(10):
            self.sc.associate_principal_with_portfolio(
                PortfolioId=pid, PrincipalARN="arn:aws:iam:::role/team-%d-*" % i,
                PrincipalType="IAM_PATTERN")
        self.assertAwsError("LimitExceededException",
                            self.sc.associate_principal_with_portfolio, PortfolioId=pid,
                            PrincipalARN="arn:aws:iam:::role/one-too-many",
                            PrincipalType="IAM_PATTERN")
        self.assertAwsError("InvalidParametersException",
                            self.sc.list_principals_for_portfolio, PortfolioId=pid,
                            PageToken="garbage")
        self.assertAwsError("InvalidParametersException",
                            self.sc.list_accepted_portfolio_shares, PageToken="garbage")
        sc = self.client("servicecatalog", validate=False)
        err = self.assertAwsError("ValidationException", sc.associate_principal_with_portfolio,
                                  PortfolioId=pid, PrincipalARN=role, PrincipalType="USER")
        self.assertIn("'principalType'", str(err))
        err = self.assertAwsError("ValidationException", sc.associate_principal_with_portfolio,
                                  PortfolioId=pid, PrincipalType="IAM")
        self.assertIn("'principalARN'", str(err))
        self.assertAwsError("ValidationException", sc.list_principals_for_portfolio,
                            PortfolioId=pid, PageSize=21)

    def test_principal_pages(self):
        self.sm.enable_sagemaker_servicecatalog_portfolio()
        pid = self.sagemaker_share()[0]["Id"]
        roles = ["arn:aws:iam::%s:role/r%02d" % (ACCOUNT, i) for i in range(25)]
        for role in roles:
            self.sc.associate_principal_with_portfolio(PortfolioId=pid, PrincipalARN=role,
                                                       PrincipalType="IAM")
        pages = self.pages(self.sc.list_principals_for_portfolio, "Principals",
                           token_in="PageToken", token_out="NextPageToken",
                           PortfolioId=pid, PageSize=10)
        self.assertEqual([len(p) for p in pages], [10, 10, 5])
        self.assertEqual([p["PrincipalARN"] for page in pages for p in page], roles)
        # Default page size (20), and PageSize 0 means the default too.
        for args in ({}, {"PageSize": 0}):
            out = self.sc.list_principals_for_portfolio(PortfolioId=pid, **args)
            self.assertEqual(len(out["Principals"]), 20)
            self.assertIn("NextPageToken", out)
        # A principal removed from an earlier page moves nothing.
        first = self.sc.list_principals_for_portfolio(PortfolioId=pid, PageSize=5)
        self.sc.disassociate_principal_from_portfolio(PortfolioId=pid, PrincipalARN=roles[2])
        nxt = self.sc.list_principals_for_portfolio(PortfolioId=pid, PageSize=5,
                                                    PageToken=first["NextPageToken"])
        self.assertEqual(nxt["Principals"][0]["PrincipalARN"], roles[5])
        paginator = self.sc.get_paginator("list_principals_for_portfolio")
        got = [p["PrincipalARN"] for page in paginator.paginate(
            PortfolioId=pid, PaginationConfig={"PageSize": 7}) for p in page["Principals"]]
        self.assertEqual(got, roles[:2] + roles[3:])

    def test_accepted_shares_pages(self):
        self.sm.enable_sagemaker_servicecatalog_portfolio()
        out = self.sc.list_accepted_portfolio_shares(PageSize=1)
        self.assertEqual(len(out["PortfolioDetails"]), 1)
        self.assertNotIn("NextPageToken", out)


class AsyncTest(Base):
    """Transient statuses, seen with a delay of DELAY_S."""

    DELAY_S = 1.5
    EXTRA_ARGS = ("--async-delay-ms", str(int(DELAY_S * 1000)))

    def test_mlflow_transitions(self):
        self.create_server("srv")
        out = self.sm.describe_mlflow_tracking_server(TrackingServerName="srv")
        self.assertEqual(out["TrackingServerStatus"], "Creating")
        self.assertEqual(out["IsActive"], "Inactive")
        self.assertEqual(self.sm.list_mlflow_tracking_servers()["TrackingServerSummaries"][0]
                         ["TrackingServerStatus"], "Creating")
        # Nothing can be done to a server being created.
        self.assertAwsError("ConflictException", self.sm.update_mlflow_tracking_server,
                            TrackingServerName="srv", TrackingServerSize="Medium")
        err = self.assertAwsError("ValidationException", self.sm.delete_mlflow_tracking_server,
                                  TrackingServerName="srv")
        self.assertIn("CREATING", str(err))
        self.assertAwsError("ValidationException", self.sm.stop_mlflow_tracking_server,
                            TrackingServerName="srv")
        created = self.wait_status(self.sm.describe_mlflow_tracking_server, "Created",
                                   TrackingServerName="srv")
        self.assertGreater(created["LastModifiedTime"], out["LastModifiedTime"])

        self.sm.update_mlflow_tracking_server(TrackingServerName="srv",
                                              TrackingServerSize="Medium")
        self.assertEqual(self.server_status("srv"), "Updating")
        self.assertAwsError("ConflictException", self.sm.update_mlflow_tracking_server,
                            TrackingServerName="srv", TrackingServerSize="Large")
        self.wait_status(self.sm.describe_mlflow_tracking_server, "Updated",
                         TrackingServerName="srv")

        self.sm.delete_mlflow_tracking_server(TrackingServerName="srv")
        self.assertEqual(self.server_status("srv"), "Deleting")
        # The name stays taken until the deletion completes.
        self.assertAwsError("ResourceInUse", self.create_server, "srv")
        self.wait_gone(self.sm.describe_mlflow_tracking_server, TrackingServerName="srv")
        self.create_server("srv")

    def test_image_transitions(self):
        self.sm.create_image(ImageName="img", RoleArn=ROLE)
        self.assertEqual(self.sm.describe_image(ImageName="img")["ImageStatus"], "CREATING")
        self.assertAwsError("ResourceInUse", self.sm.delete_image, ImageName="img")
        self.assertAwsError("ResourceInUse", self.sm.update_image, ImageName="img",
                            DisplayName="x")
        self.wait_status(self.sm.describe_image, "CREATED", ImageName="img")
        self.sm.update_image(ImageName="img", DisplayName="x")
        self.assertEqual(self.sm.describe_image(ImageName="img")["ImageStatus"], "UPDATING")
        self.wait_status(self.sm.describe_image, "CREATED", ImageName="img")
        self.sm.delete_image(ImageName="img")
        self.assertEqual(self.sm.describe_image(ImageName="img")["ImageStatus"], "DELETING")
        self.wait_gone(self.sm.describe_image, ImageName="img")


class NoVerifyTest(Base):
    """With --no-verify (benchmarks) the model checks are off; handlers
    still refuse a missing member with an AWS error, not a dropped
    connection."""

    EXTRA_ARGS = ("--no-verify",)

    def test_missing_members(self):
        sm = self.client("sagemaker", validate=False)
        sc = self.client("servicecatalog", validate=False)
        err = self.assertAwsError("ValidationException", sm.create_studio_lifecycle_config,
                                  StudioLifecycleConfigName="x",
                                  StudioLifecycleConfigAppType="JupyterLab")
        self.assertIn("'studioLifecycleConfigContent'", str(err))
        self.assertAwsError("ValidationException", sm.create_mlflow_tracking_server,
                            TrackingServerName="x", ArtifactStoreUri=STORE)
        self.assertAwsError("ValidationException", sm.describe_image)
        sm.enable_sagemaker_servicecatalog_portfolio()
        pid = self.sagemaker_share()[0]["Id"]
        self.assertAwsError("InvalidParametersException", sc.associate_principal_with_portfolio,
                            PortfolioId=pid, PrincipalType="IAM")
        self.assertAwsError("InvalidParametersException", sc.associate_principal_with_portfolio,
                            PortfolioId=pid, PrincipalARN="arn:aws:iam::%s:role/r" % ACCOUNT,
                            PrincipalType="GROUP")


class LifecycleConfigInUseTest(unittest.TestCase):
    """DeleteStudioLifecycleConfig's ResourceInUse rule reads tables of
    the domain/profile/space/app module; checked here on hand-made data so
    it does not depend on that module's operations."""

    ARN = "arn:aws:sagemaker:us-east-1:%s:studio-lifecycle-config/lcc" % ACCOUNT

    def in_use(self, data):
        from emu.services.sagemaker_more import lifecycle_config_in_use
        return lifecycle_config_in_use(data, self.ARN)

    def test_references(self):
        own = {"studio_lifecycle_configs": {"lcc": {"StudioLifecycleConfigArn": self.ARN}},
               "tags": {self.ARN: {}}}
        self.assertFalse(self.in_use(dict(own)))
        domain = {"domains": {"d-1": {"Status": "InService", "DefaultUserSettings": {
            "JupyterLabAppSettings": {"LifecycleConfigArns": [self.ARN]}}}}}
        self.assertTrue(self.in_use(dict(own, **domain)))
        app = {"apps": {"a": {"Status": "InService",
                              "ResourceSpec": {"LifecycleConfigArn": self.ARN}}}}
        self.assertTrue(self.in_use(dict(own, **app)))
        app["apps"]["a"]["Status"] = "Deleted"
        self.assertFalse(self.in_use(dict(own, **app)))
        other = {"domains": {"d-1": {"DefaultUserSettings": {
            "JupyterLabAppSettings": {"LifecycleConfigArns": [self.ARN + "-2"]}}}}}
        self.assertFalse(self.in_use(dict(own, **other)))


if __name__ == "__main__":
    unittest.main()
