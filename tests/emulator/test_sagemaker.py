# SPDX-License-Identifier: Apache-2.0
"""awsemu's SageMaker Studio operations (domains, user profiles, spaces,
apps, tags) driven by boto3: outputs checked against what was created,
the deletion-order and not-found rules, update merging and its limits,
LastModifiedTime, pagination, tags and model validation.

Asynchronous statuses are checked twice: in process against a fake clock
(always), and end to end with --async-delay-ms once awsemu has the flag.
Waits poll against a deadline; nothing sleeps a fixed time."""

import json
import os
import sys
import types
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from emutest import ACCOUNT, REGION, EmuCase, wait_for  # noqa: E402

ROLE = "arn:aws:iam::%s:role/studio-exec" % ACCOUNT
PREFIX = "arn:aws:sagemaker:%s:%s:" % (REGION, ACCOUNT)
LCC = PREFIX + "studio-lifecycle-config/startup"


class StudioCase(EmuCase):
    """Helpers creating Studio resources and waiting for their status."""

    def setUp(self):
        super().setUp()
        self.sm = self.client("sagemaker")

    def wait_status(self, describe, status, **kwargs):
        """Poll describe(**kwargs) until Status is status; returns it."""
        return wait_for(lambda: (lambda d: d if d["Status"] == status else None)(
            describe(**kwargs)), what="%s %s" % (kwargs, status))

    def wait_gone(self, describe, **kwargs):
        def gone():
            try:
                describe(**kwargs)
            except self.sm.exceptions.ResourceNotFound:
                return True
            return False
        wait_for(gone, what="%s gone" % kwargs)

    def make_domain(self, name="studio", **kwargs):
        kwargs.setdefault("AuthMode", "IAM")
        kwargs.setdefault("DefaultUserSettings", {"ExecutionRole": ROLE})
        kwargs.setdefault("SubnetIds", ["subnet-a", "subnet-b"])
        kwargs.setdefault("VpcId", "vpc-1")
        out = self.sm.create_domain(DomainName=name, **kwargs)
        self.wait_status(self.sm.describe_domain, "InService", DomainId=out["DomainId"])
        return out

    def make_profile(self, domain_id, name, **kwargs):
        out = self.sm.create_user_profile(DomainId=domain_id, UserProfileName=name, **kwargs)
        self.wait_status(self.sm.describe_user_profile, "InService", DomainId=domain_id,
                         UserProfileName=name)
        return out

    def make_space(self, domain_id, name, owner=None, app_type="JupyterLab", **kwargs):
        if owner:
            kwargs["OwnershipSettings"] = {"OwnerUserProfileName": owner}
            kwargs["SpaceSharingSettings"] = {"SharingType": "Private"}
        else:
            kwargs.setdefault("SpaceSharingSettings", {"SharingType": "Shared"})
        kwargs.setdefault("SpaceSettings", {"AppType": app_type})
        out = self.sm.create_space(DomainId=domain_id, SpaceName=name, **kwargs)
        self.wait_status(self.sm.describe_space, "InService", DomainId=domain_id,
                         SpaceName=name)
        return out

    # Named as the API's members, so an app's kwargs can be passed as they are.
    def make_app(self, DomainId, AppType="JupyterLab", AppName="default", **owner):
        app = dict(DomainId=DomainId, AppType=AppType, AppName=AppName, **owner)
        out = self.sm.create_app(**app)
        self.wait_status(self.sm.describe_app, "InService", **app)
        return out

    def delete_app(self, DomainId, AppType="JupyterLab", AppName="default", **owner):
        app = dict(DomainId=DomainId, AppType=AppType, AppName=AppName, **owner)
        self.sm.delete_app(**app)
        self.wait_status(self.sm.describe_app, "Deleted", **app)

    def with_extra_members(self, client, operation, extra):
        """Make client add extra members to operation's JSON body (after
        boto3's serializer, which drops nothing but knows only the model),
        to send what the model does not allow."""
        def inject(request, **_):
            body = json.loads(request.body or b"{}")
            body.update(extra)
            request.data = json.dumps(body).encode()
        client.meta.events.register("before-sign.sagemaker.%s" % operation, inject)
        return client


class DomainTest(StudioCase):
    def test_create_describe_list(self):
        out = self.sm.create_domain(
            DomainName="studio", AuthMode="IAM", VpcId="vpc-1", SubnetIds=["subnet-a"],
            DefaultUserSettings={"ExecutionRole": ROLE, "SecurityGroups": ["sg-1"]},
            AppNetworkAccessType="VpcOnly", KmsKeyId="key-1",
            Tags=[{"Key": "team", "Value": "ml"}])
        domain_id = out["DomainId"]
        self.assertRegex(domain_id, r"^d-[a-z0-9]{12}$")
        self.assertEqual(out["DomainArn"], PREFIX + "domain/" + domain_id)
        self.assertTrue(out["Url"].startswith("https://" + domain_id + "."), out["Url"])

        desc = self.wait_status(self.sm.describe_domain, "InService", DomainId=domain_id)
        self.assertEqual(desc["DomainName"], "studio")
        self.assertEqual(desc["DomainArn"], out["DomainArn"])
        self.assertEqual(desc["AuthMode"], "IAM")
        self.assertEqual(desc["VpcId"], "vpc-1")
        self.assertEqual(desc["SubnetIds"], ["subnet-a"])
        self.assertEqual(desc["AppNetworkAccessType"], "VpcOnly")
        self.assertEqual(desc["KmsKeyId"], "key-1")
        self.assertEqual(desc["DefaultUserSettings"],
                         {"ExecutionRole": ROLE, "SecurityGroups": ["sg-1"]})
        self.assertEqual(desc["Url"], out["Url"])
        self.assertRegex(desc["HomeEfsFileSystemId"], r"^fs-[0-9a-f]{17}$")
        self.assertLessEqual(desc["CreationTime"], desc["LastModifiedTime"])

        listed = self.sm.list_domains()["Domains"]
        self.assertEqual(len(listed), 1)
        summary = listed[0]
        self.assertEqual(set(summary), {"DomainArn", "DomainId", "DomainName", "Status",
                                        "CreationTime", "LastModifiedTime", "Url"})
        for key in summary:
            self.assertEqual(summary[key], desc[key], key)

    def test_duplicate_name(self):
        self.make_domain("studio")
        self.assertAwsError("ResourceInUse", self.make_domain, "studio")
        self.assertEqual(len(self.sm.list_domains()["Domains"]), 1)

    def test_update_merges_and_moves_last_modified(self):
        domain_id = self.make_domain(DefaultUserSettings={
            "ExecutionRole": ROLE,
            "JupyterServerAppSettings": {"DefaultResourceSpec": {"InstanceType": "system"}},
            "SecurityGroups": ["sg-1", "sg-2"]})["DomainId"]
        before = self.sm.describe_domain(DomainId=domain_id)
        again = self.sm.describe_domain(DomainId=domain_id)
        self.assertEqual(again["LastModifiedTime"], before["LastModifiedTime"],
                         "a read must not move LastModifiedTime")

        out = self.sm.update_domain(
            DomainId=domain_id,
            DefaultUserSettings={
                "JupyterServerAppSettings": {"LifecycleConfigArns": [LCC]},
                "SecurityGroups": ["sg-3"]},
            DomainSettingsForUpdate={"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME",
                                     "DockerSettings": {"EnableDockerAccess": "ENABLED"}},
            DefaultSpaceSettings={"ExecutionRole": ROLE})
        self.assertEqual(out["DomainArn"], before["DomainArn"])
        after = self.wait_status(self.sm.describe_domain, "InService", DomainId=domain_id)
        self.assertGreater(after["LastModifiedTime"], before["LastModifiedTime"])
        self.assertEqual(after["CreationTime"], before["CreationTime"])
        # Structures merge member by member; lists are replaced.
        self.assertEqual(after["DefaultUserSettings"], {
            "ExecutionRole": ROLE,
            "JupyterServerAppSettings": {"DefaultResourceSpec": {"InstanceType": "system"},
                                         "LifecycleConfigArns": [LCC]},
            "SecurityGroups": ["sg-3"]})
        self.assertEqual(after["DomainSettings"], {
            "ExecutionRoleIdentityConfig": "USER_PROFILE_NAME",
            "DockerSettings": {"EnableDockerAccess": "ENABLED"}})
        self.assertEqual(after["DefaultSpaceSettings"], {"ExecutionRole": ROLE})
        listed = self.sm.list_domains()["Domains"][0]
        self.assertEqual(listed["LastModifiedTime"], after["LastModifiedTime"])

    def test_immutable_fields_refused(self):
        """UpdateDomain has no DomainName or AuthMode: the model refuses
        them, naming the field."""
        domain_id = self.make_domain()["DomainId"]
        raw = self.with_extra_members(self.client("sagemaker", validate=False),
                                      "UpdateDomain", {"DomainName": "renamed"})
        err = self.assertAwsError("ValidationException", raw.update_domain, DomainId=domain_id)
        self.assertIn("DomainName", err.response["Error"]["Message"])
        self.assertEqual(self.sm.describe_domain(DomainId=domain_id)["DomainName"], "studio")

    def test_vpc_can_only_be_set_when_absent(self):
        domain_id = self.make_domain()["DomainId"]
        self.assertAwsError("ValidationException", self.sm.update_domain,
                            DomainId=domain_id, VpcId="vpc-2")
        out = self.sm.create_domain(DomainName="novpc", AuthMode="IAM",
                                    DefaultUserSettings={"ExecutionRole": ROLE})
        self.wait_status(self.sm.describe_domain, "InService", DomainId=out["DomainId"])
        self.sm.update_domain(DomainId=out["DomainId"], VpcId="vpc-2",
                              SubnetIds=["subnet-z"])
        desc = self.wait_status(self.sm.describe_domain, "InService",
                                DomainId=out["DomainId"])
        self.assertEqual((desc["VpcId"], desc["SubnetIds"]), ("vpc-2", ["subnet-z"]))

    def test_network_changes_refused_while_apps_run(self):
        domain_id = self.make_domain()["DomainId"]
        self.make_profile(domain_id, "alice")
        self.make_app(domain_id, "JupyterServer", "default", UserProfileName="alice")
        self.assertAwsError("ValidationException", self.sm.update_domain,
                            DomainId=domain_id, AppNetworkAccessType="VpcOnly")
        self.assertAwsError("ValidationException", self.sm.update_domain,
                            DomainId=domain_id, SubnetIds=["subnet-a"])
        # Adding a subnet removes nothing, so it is allowed.
        self.sm.update_domain(DomainId=domain_id, SubnetIds=["subnet-a", "subnet-b", "subnet-c"])
        self.wait_status(self.sm.describe_domain, "InService", DomainId=domain_id)
        self.delete_app(domain_id, "JupyterServer", "default", UserProfileName="alice")
        self.sm.update_domain(DomainId=domain_id, AppNetworkAccessType="VpcOnly",
                              SubnetIds=["subnet-c"])
        desc = self.wait_status(self.sm.describe_domain, "InService", DomainId=domain_id)
        self.assertEqual(desc["AppNetworkAccessType"], "VpcOnly")
        self.assertEqual(desc["SubnetIds"], ["subnet-c"])

    def test_delete(self):
        out = self.make_domain(Tags=[{"Key": "k", "Value": "v"}])
        domain_id = out["DomainId"]
        self.sm.delete_domain(DomainId=domain_id,
                              RetentionPolicy={"HomeEfsFileSystem": "Delete"})
        self.wait_gone(self.sm.describe_domain, DomainId=domain_id)
        self.assertEqual(self.sm.list_domains()["Domains"], [])
        # A deleted resource's tags go with it.
        self.assertAwsError("ValidationException", self.sm.list_tags,
                            ResourceArn=out["DomainArn"])
        # The name is free again.
        self.make_domain()

    def test_not_found(self):
        missing = "d-000000000000"
        for call, kwargs in [
                (self.sm.describe_domain, {}),
                (self.sm.update_domain, {"DefaultUserSettings": {"ExecutionRole": ROLE}}),
                (self.sm.delete_domain, {}),
                (self.sm.create_user_profile, {"UserProfileName": "alice"}),
                (self.sm.create_space, {"SpaceName": "s"}),
                (self.sm.create_app, {"UserProfileName": "alice", "AppType": "JupyterLab",
                                      "AppName": "default"})]:
            err = self.assertAwsError("ResourceNotFound", call, DomainId=missing, **kwargs)
            self.assertIn(missing, err.response["Error"]["Message"])
            self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 400)


class UserProfileTest(StudioCase):
    def setUp(self):
        super().setUp()
        self.domain_id = self.make_domain()["DomainId"]

    def test_crud(self):
        settings = {"ExecutionRole": ROLE, "SecurityGroups": ["sg-1"],
                    "SharingSettings": {"NotebookOutputOption": "Disabled"}}
        out = self.sm.create_user_profile(DomainId=self.domain_id, UserProfileName="alice",
                                          UserSettings=settings,
                                          Tags=[{"Key": "owner", "Value": "alice"}])
        self.assertEqual(out["UserProfileArn"],
                         PREFIX + "user-profile/%s/alice" % self.domain_id)
        desc = self.wait_status(self.sm.describe_user_profile, "InService",
                                DomainId=self.domain_id, UserProfileName="alice")
        self.assertEqual(desc["UserProfileArn"], out["UserProfileArn"])
        self.assertEqual(desc["DomainId"], self.domain_id)
        self.assertEqual(desc["UserSettings"], settings)
        self.assertRegex(desc["HomeEfsFileSystemUid"], r"^\d+$")

        listed = self.sm.list_user_profiles(DomainIdEquals=self.domain_id)["UserProfiles"]
        self.assertEqual(len(listed), 1)
        self.assertEqual(set(listed[0]), {"DomainId", "UserProfileName", "Status",
                                          "CreationTime", "LastModifiedTime"})
        for key in listed[0]:
            self.assertEqual(listed[0][key], desc[key], key)
        self.assertEqual(self.sm.list_tags(ResourceArn=out["UserProfileArn"])["Tags"],
                         [{"Key": "owner", "Value": "alice"}])

        self.sm.update_user_profile(DomainId=self.domain_id, UserProfileName="alice",
                                    UserSettings={"SharingSettings": {"S3OutputPath": "s3://b/p"},
                                                  "SecurityGroups": ["sg-2"]})
        after = self.wait_status(self.sm.describe_user_profile, "InService",
                                 DomainId=self.domain_id, UserProfileName="alice")
        self.assertGreater(after["LastModifiedTime"], desc["LastModifiedTime"])
        self.assertEqual(after["UserSettings"], {
            "ExecutionRole": ROLE, "SecurityGroups": ["sg-2"],
            "SharingSettings": {"NotebookOutputOption": "Disabled", "S3OutputPath": "s3://b/p"}})

        self.sm.delete_user_profile(DomainId=self.domain_id, UserProfileName="alice")
        self.wait_gone(self.sm.describe_user_profile, DomainId=self.domain_id,
                       UserProfileName="alice")
        self.assertEqual(self.sm.list_user_profiles()["UserProfiles"], [])

    def test_duplicate_and_not_found(self):
        self.make_profile(self.domain_id, "alice")
        self.assertAwsError("ResourceInUse", self.sm.create_user_profile,
                            DomainId=self.domain_id, UserProfileName="alice")
        for call in (self.sm.describe_user_profile, self.sm.update_user_profile,
                     self.sm.delete_user_profile):
            err = self.assertAwsError("ResourceNotFound", call, DomainId=self.domain_id,
                                      UserProfileName="bob")
            self.assertIn("bob", err.response["Error"]["Message"])

    def test_list_filters(self):
        other = self.make_domain("other")["DomainId"]
        for name in ("alice", "alan", "bob"):
            self.make_profile(self.domain_id, name)
        self.make_profile(other, "alice")

        def names(**kwargs):
            return [(p["DomainId"], p["UserProfileName"])
                    for p in self.sm.list_user_profiles(**kwargs)["UserProfiles"]]

        self.assertEqual(len(names()), 4)
        self.assertEqual(names(DomainIdEquals=other), [(other, "alice")])
        self.assertEqual(names(DomainIdEquals=self.domain_id, UserProfileNameContains="al"),
                         [(self.domain_id, "alice"), (self.domain_id, "alan")])

    def test_sso_identity(self):
        sso = self.sm.create_domain(DomainName="sso", AuthMode="SSO",
                                    DefaultUserSettings={"ExecutionRole": ROLE})["DomainId"]
        self.wait_status(self.sm.describe_domain, "InService", DomainId=sso)
        self.assertAwsError("ValidationException", self.sm.create_user_profile,
                            DomainId=sso, UserProfileName="carol")
        self.make_profile(sso, "carol", SingleSignOnUserIdentifier="UserName",
                          SingleSignOnUserValue="carol@example.com")
        desc = self.sm.describe_user_profile(DomainId=sso, UserProfileName="carol")
        self.assertEqual(desc["SingleSignOnUserValue"], "carol@example.com")
        self.assertAwsError("ValidationException", self.sm.create_user_profile,
                            DomainId=self.domain_id, UserProfileName="dave",
                            SingleSignOnUserIdentifier="UserName",
                            SingleSignOnUserValue="dave@example.com")

    def test_pagination(self):
        names = ["user-%02d" % i for i in range(25)]
        for name in names:
            self.sm.create_user_profile(DomainId=self.domain_id, UserProfileName=name)
        pages, token = [], None
        while True:
            kwargs = {"NextToken": token} if token else {}
            out = self.sm.list_user_profiles(DomainIdEquals=self.domain_id, MaxResults=10,
                                             **kwargs)
            pages.append([p["UserProfileName"] for p in out["UserProfiles"]])
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual([len(p) for p in pages], [10, 10, 5])
        seen = [n for page in pages for n in page]
        self.assertEqual(len(seen), len(set(seen)), "duplicates across pages")
        # Default order: CreationTime, ascending (as the model documents).
        self.assertEqual(seen, names)

        # MaxResults defaults to 10; the boto3 paginator walks the same pages.
        self.assertEqual(len(self.sm.list_user_profiles()["UserProfiles"]), 10)
        paginator = self.sm.get_paginator("list_user_profiles")
        walked = [p["UserProfileName"]
                  for page in paginator.paginate(SortOrder="Descending",
                                                 PaginationConfig={"PageSize": 7})
                  for p in page["UserProfiles"]]
        self.assertEqual(walked, names[::-1])

        # SortBy LastModifiedTime: an updated profile moves to the end.
        self.sm.update_user_profile(DomainId=self.domain_id, UserProfileName="user-03",
                                    UserSettings={"ExecutionRole": ROLE})
        self.wait_status(self.sm.describe_user_profile, "InService",
                         DomainId=self.domain_id, UserProfileName="user-03")
        by_mtime = [p["UserProfileName"]
                    for page in paginator.paginate(SortBy="LastModifiedTime")
                    for p in page["UserProfiles"]]
        self.assertEqual(by_mtime[-1], "user-03")
        self.assertEqual(sorted(by_mtime), names)


class SpaceTest(StudioCase):
    def setUp(self):
        super().setUp()
        self.domain_id = self.make_domain()["DomainId"]
        self.make_profile(self.domain_id, "alice")

    def test_crud(self):
        out = self.sm.create_space(
            DomainId=self.domain_id, SpaceName="alice-lab", SpaceDisplayName="Alice's lab",
            OwnershipSettings={"OwnerUserProfileName": "alice"},
            SpaceSharingSettings={"SharingType": "Private"},
            SpaceSettings={"AppType": "JupyterLab",
                           "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}},
                           "JupyterLabAppSettings": {"DefaultResourceSpec": {
                               "InstanceType": "ml.t3.medium"}}},
            Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(out["SpaceArn"], PREFIX + "space/%s/alice-lab" % self.domain_id)
        desc = self.wait_status(self.sm.describe_space, "InService", DomainId=self.domain_id,
                                SpaceName="alice-lab")
        self.assertEqual(desc["SpaceArn"], out["SpaceArn"])
        self.assertEqual(desc["SpaceDisplayName"], "Alice's lab")
        self.assertEqual(desc["OwnershipSettings"], {"OwnerUserProfileName": "alice"})
        self.assertEqual(desc["SpaceSharingSettings"], {"SharingType": "Private"})
        self.assertEqual(desc["SpaceSettings"]["JupyterLabAppSettings"],
                         {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}})

        self.make_space(self.domain_id, "team", SpaceDisplayName="Team")
        spaces = {s["SpaceName"]: s for s in
                  self.sm.list_spaces(DomainIdEquals=self.domain_id)["Spaces"]}
        self.assertEqual(set(spaces), {"alice-lab", "team"})
        self.assertEqual(spaces["alice-lab"]["SpaceSettingsSummary"], {
            "AppType": "JupyterLab",
            "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}}})
        self.assertEqual(spaces["alice-lab"]["SpaceSharingSettingsSummary"],
                         {"SharingType": "Private"})
        self.assertEqual(spaces["alice-lab"]["OwnershipSettingsSummary"],
                         {"OwnerUserProfileName": "alice"})
        self.assertEqual(spaces["alice-lab"]["LastModifiedTime"], desc["LastModifiedTime"])
        self.assertEqual(spaces["team"]["SpaceSharingSettingsSummary"], {"SharingType": "Shared"})
        self.assertNotIn("OwnershipSettingsSummary", spaces["team"])
        self.assertEqual([s["SpaceName"] for s in self.sm.list_spaces(
            SpaceNameContains="lab")["Spaces"]], ["alice-lab"])

        self.sm.update_space(DomainId=self.domain_id, SpaceName="alice-lab",
                             SpaceDisplayName="Lab",
                             SpaceSettings={"JupyterLabAppSettings": {"DefaultResourceSpec": {
                                 "InstanceType": "ml.m5.large"}}})
        after = self.wait_status(self.sm.describe_space, "InService", DomainId=self.domain_id,
                                 SpaceName="alice-lab")
        self.assertGreater(after["LastModifiedTime"], desc["LastModifiedTime"])
        self.assertEqual(after["SpaceDisplayName"], "Lab")
        self.assertEqual(after["SpaceSettings"]["JupyterLabAppSettings"],
                         {"DefaultResourceSpec": {"InstanceType": "ml.m5.large"}})
        self.assertEqual(after["SpaceSettings"]["SpaceStorageSettings"],
                         {"EbsStorageSettings": {"EbsVolumeSizeInGb": 5}})

        self.sm.delete_space(DomainId=self.domain_id, SpaceName="alice-lab")
        self.wait_gone(self.sm.describe_space, DomainId=self.domain_id, SpaceName="alice-lab")
        self.assertEqual([s["SpaceName"] for s in self.sm.list_spaces()["Spaces"]], ["team"])

    def test_refusals(self):
        self.make_space(self.domain_id, "lab", owner="alice")
        self.assertAwsError("ResourceInUse", self.sm.create_space, DomainId=self.domain_id,
                            SpaceName="lab")
        for call in (self.sm.describe_space, self.sm.update_space, self.sm.delete_space):
            self.assertAwsError("ResourceNotFound", call, DomainId=self.domain_id,
                                SpaceName="nope")
        # The owner must be a user profile of the domain.
        self.assertAwsError("ResourceNotFound", self.make_space, self.domain_id, "x",
                            owner="nobody")
        # A private space needs an owner.
        self.assertAwsError("ValidationException", self.sm.create_space,
                            DomainId=self.domain_id, SpaceName="y",
                            SpaceSharingSettings={"SharingType": "Private"})
        # The app type of a space cannot change.
        self.assertAwsError("ValidationException", self.sm.update_space,
                            DomainId=self.domain_id, SpaceName="lab",
                            SpaceSettings={"AppType": "CodeEditor"})
        # Ownership and sharing are not in UpdateSpace's input.
        raw = self.with_extra_members(
            self.client("sagemaker", validate=False), "UpdateSpace",
            {"OwnershipSettings": {"OwnerUserProfileName": "bob"}})
        err = self.assertAwsError("ValidationException", raw.update_space,
                                  DomainId=self.domain_id, SpaceName="lab")
        self.assertIn("OwnershipSettings", err.response["Error"]["Message"])
        desc = self.sm.describe_space(DomainId=self.domain_id, SpaceName="lab")
        self.assertEqual(desc["OwnershipSettings"], {"OwnerUserProfileName": "alice"})
        self.assertEqual(desc["SpaceSettings"]["AppType"], "JupyterLab")


class AppTest(StudioCase):
    def setUp(self):
        super().setUp()
        self.domain_id = self.make_domain()["DomainId"]
        self.make_profile(self.domain_id, "alice")
        self.make_space(self.domain_id, "lab", owner="alice")

    def test_lifecycle(self):
        out = self.sm.create_app(DomainId=self.domain_id, SpaceName="lab",
                                 AppType="JupyterLab", AppName="default",
                                 ResourceSpec={"InstanceType": "ml.t3.medium"},
                                 Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(out["AppArn"],
                         PREFIX + "app/%s/lab/jupyterlab/default" % self.domain_id)
        app = dict(DomainId=self.domain_id, SpaceName="lab", AppType="JupyterLab",
                   AppName="default")
        desc = self.wait_status(self.sm.describe_app, "InService", **app)
        self.assertEqual(desc["AppArn"], out["AppArn"])
        self.assertEqual(desc["ResourceSpec"], {"InstanceType": "ml.t3.medium"})
        self.assertNotIn("UserProfileName", desc)

        self.make_app(self.domain_id, "KernelGateway", "kg-1", UserProfileName="alice")
        listed = self.sm.list_apps(DomainIdEquals=self.domain_id)["Apps"]
        self.assertEqual([(a["AppType"], a["AppName"]) for a in listed],
                         [("JupyterLab", "default"), ("KernelGateway", "kg-1")])
        self.assertEqual(listed[0]["Status"], "InService")
        self.assertEqual(listed[0]["CreationTime"], desc["CreationTime"])
        self.assertEqual(listed[0]["ResourceSpec"], {"InstanceType": "ml.t3.medium"})
        self.assertEqual([a["AppName"] for a in self.sm.list_apps(
            UserProfileNameEquals="alice")["Apps"]], ["kg-1"])
        self.assertEqual([a["AppName"] for a in self.sm.list_apps(
            SpaceNameEquals="lab")["Apps"]], ["default"])
        self.assertAwsError("ValidationException", self.sm.list_apps,
                            UserProfileNameEquals="alice", SpaceNameEquals="lab")

        # Duplicate while running.
        self.assertAwsError("ResourceInUse", self.sm.create_app, **app)
        # Deleted apps stay listed and describable as Deleted.
        self.delete_app(**app)
        self.assertEqual(self.sm.list_apps(SpaceNameEquals="lab")["Apps"][0]["Status"],
                         "Deleted")
        self.assertAwsError("ResourceInUse", self.sm.delete_app, **app)
        # AWS answers tag calls on a Deleted app as for an unknown ARN.
        self.assertAwsError("ValidationException", self.sm.list_tags, ResourceArn=out["AppArn"])
        # The name can be used again.
        self.make_app(**app)
        self.assertEqual(len(self.sm.list_apps(SpaceNameEquals="lab")["Apps"]), 1)

    def test_refusals(self):
        base = dict(DomainId=self.domain_id, AppType="JupyterLab", AppName="default")
        self.assertAwsError("ResourceNotFound", self.sm.describe_app, SpaceName="lab", **base)
        self.assertAwsError("ResourceNotFound", self.sm.delete_app, SpaceName="lab", **base)
        self.assertAwsError("ResourceNotFound", self.sm.create_app, SpaceName="nope", **base)
        self.assertAwsError("ResourceNotFound", self.sm.create_app, UserProfileName="nope",
                            **base)
        # Exactly one owner.
        self.assertAwsError("ValidationException", self.sm.create_app, **base)
        self.assertAwsError("ValidationException", self.sm.create_app, SpaceName="lab",
                            UserProfileName="alice", **base)
        # A JupyterLab space runs JupyterLab apps only.
        self.assertAwsError("ValidationException", self.sm.create_app, DomainId=self.domain_id,
                            SpaceName="lab", AppType="CodeEditor", AppName="default")


class DeletionOrderTest(StudioCase):
    """Children before parents, as the SageMaker DG orders a teardown."""

    def test_teardown_order(self):
        d = self.make_domain()["DomainId"]
        self.make_profile(d, "alice")
        self.make_space(d, "private", owner="alice")
        self.make_space(d, "shared")
        self.make_app(d, "JupyterServer", "default", UserProfileName="alice")
        self.make_app(d, "JupyterLab", "default", SpaceName="private")
        self.make_app(d, "JupyterLab", "default", SpaceName="shared")

        in_use = lambda call, **kw: self.assertAwsError("ResourceInUse", call, **kw)  # noqa: E731
        in_use(self.sm.delete_domain, DomainId=d)
        in_use(self.sm.delete_space, DomainId=d, SpaceName="shared")
        in_use(self.sm.delete_space, DomainId=d, SpaceName="private")
        in_use(self.sm.delete_user_profile, DomainId=d, UserProfileName="alice")

        self.delete_app(d, "JupyterLab", "default", SpaceName="shared")
        self.sm.delete_space(DomainId=d, SpaceName="shared")
        self.wait_gone(self.sm.describe_space, DomainId=d, SpaceName="shared")

        self.delete_app(d, "JupyterServer", "default", UserProfileName="alice")
        # The profile still owns a space.
        in_use(self.sm.delete_user_profile, DomainId=d, UserProfileName="alice")
        self.delete_app(d, "JupyterLab", "default", SpaceName="private")
        self.sm.delete_space(DomainId=d, SpaceName="private")
        self.wait_gone(self.sm.describe_space, DomainId=d, SpaceName="private")
        in_use(self.sm.delete_domain, DomainId=d)  # the profile remains

        self.sm.delete_user_profile(DomainId=d, UserProfileName="alice")
        self.wait_gone(self.sm.describe_user_profile, DomainId=d, UserProfileName="alice")
        # Deleted apps do not hold the domain.
        self.sm.delete_domain(DomainId=d)
        self.wait_gone(self.sm.describe_domain, DomainId=d)
        self.assertEqual(self.sm.list_apps()["Apps"], [])

    def test_shared_space_alone_holds_the_domain(self):
        d = self.make_domain()["DomainId"]
        self.make_space(d, "shared")
        self.assertAwsError("ResourceInUse", self.sm.delete_domain, DomainId=d)
        self.sm.delete_space(DomainId=d, SpaceName="shared")
        self.wait_gone(self.sm.describe_space, DomainId=d, SpaceName="shared")
        self.sm.delete_domain(DomainId=d)
        self.wait_gone(self.sm.describe_domain, DomainId=d)


class TagTest(StudioCase):
    def test_round_trip(self):
        out = self.make_domain(Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        domain_arn, domain_id = out["DomainArn"], out["DomainId"]
        before = self.sm.describe_domain(DomainId=domain_id)["LastModifiedTime"]

        added = self.sm.add_tags(ResourceArn=domain_arn,
                                 Tags=[{"Key": "b", "Value": "two"}, {"Key": "c", "Value": "3"}])
        self.assertEqual(added["Tags"], [{"Key": "b", "Value": "two"}, {"Key": "c", "Value": "3"}])
        self.assertEqual(self.sm.list_tags(ResourceArn=domain_arn)["Tags"], [
            {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two"}, {"Key": "c", "Value": "3"}])
        self.sm.delete_tags(ResourceArn=domain_arn, TagKeys=["a", "missing"])
        self.assertEqual([t["Key"] for t in self.sm.list_tags(ResourceArn=domain_arn)["Tags"]],
                         ["b", "c"])
        # Tags are not a change of the resource itself.
        self.assertEqual(self.sm.describe_domain(DomainId=domain_id)["LastModifiedTime"], before)

        # Profiles, spaces and apps are taggable too.
        profile_arn = self.make_profile(domain_id, "alice")["UserProfileArn"]
        space_arn = self.make_space(domain_id, "lab", owner="alice")["SpaceArn"]
        app_arn = self.make_app(domain_id, SpaceName="lab")["AppArn"]
        for resource_arn in (profile_arn, space_arn, app_arn):
            self.sm.add_tags(ResourceArn=resource_arn, Tags=[{"Key": "x", "Value": "y"}])
            self.assertEqual(self.sm.list_tags(ResourceArn=resource_arn)["Tags"],
                             [{"Key": "x", "Value": "y"}])

    def test_limit_and_single_page(self):
        """SageMaker keeps at most 50 tags and ListTags pages hold at least
        50, so over the wire there is one page (paging itself is checked
        in process, InProcessAsyncTest.test_list_tags_pages)."""
        domain_arn = self.make_domain()["DomainArn"]
        keys = ["key-%02d" % i for i in range(50)]
        for i in range(0, 50, 25):
            self.sm.add_tags(ResourceArn=domain_arn,
                             Tags=[{"Key": k, "Value": k.upper()} for k in keys[i:i + 25]])
        out = self.sm.list_tags(ResourceArn=domain_arn, MaxResults=50)
        self.assertNotIn("NextToken", out)
        self.assertEqual([t["Key"] for t in out["Tags"]], keys)
        self.assertEqual(out["Tags"][7]["Value"], "KEY-07")
        self.assertAwsError("ValidationException", self.sm.add_tags, ResourceArn=domain_arn,
                            Tags=[{"Key": "one-too-many", "Value": ""}])
        # Overwriting an existing key is still fine at the limit.
        self.sm.add_tags(ResourceArn=domain_arn, Tags=[{"Key": "key-00", "Value": "new"}])

    def test_unknown_arn(self):
        missing = PREFIX + "domain/d-000000000000"
        self.assertAwsError("ValidationException", self.sm.list_tags, ResourceArn=missing)
        self.assertAwsError("ValidationException", self.sm.add_tags, ResourceArn=missing,
                            Tags=[{"Key": "a", "Value": "b"}])
        self.assertAwsError("ValidationException", self.sm.delete_tags, ResourceArn=missing,
                            TagKeys=["a"])


class ValidationTest(StudioCase):
    """The model checks apply to the Studio operations (the client-side
    checks are off, so only the emulator can refuse)."""

    def setUp(self):
        super().setUp()
        self.raw = self.client("sagemaker", validate=False)

    def test_bad_enum(self):
        err = self.assertAwsError("ValidationException", self.raw.create_domain,
                                  DomainName="d", AuthMode="Bogus",
                                  DefaultUserSettings={"ExecutionRole": ROLE})
        self.assertIn("authMode", err.response["Error"]["Message"])
        self.assertEqual(self.sm.list_domains()["Domains"], [])

    def test_missing_required_member(self):
        err = self.assertAwsError("ValidationException", self.raw.create_domain,
                                  AuthMode="IAM", DefaultUserSettings={"ExecutionRole": ROLE})
        self.assertIn("domainName", err.response["Error"]["Message"])

    def test_bad_name_and_range(self):
        self.assertAwsError("ValidationException", self.raw.create_domain,
                            DomainName="under_score", AuthMode="IAM",
                            DefaultUserSettings={"ExecutionRole": ROLE})
        self.assertAwsError("ValidationException", self.raw.list_domains, MaxResults=101)
        self.assertAwsError("ValidationException", self.raw.list_tags,
                            ResourceArn=PREFIX + "domain/d-000000000000", MaxResults=10)

    def test_bad_token(self):
        self.assertAwsError("ValidationException", self.sm.list_domains, NextToken="garbage")


class InProcessAsyncTest(unittest.TestCase):
    """Statuses against a fake clock, calling the handlers directly: the
    transitions, what is refused meanwhile, and LastModifiedTime."""

    def setUp(self):
        from emu.services import FRESH_STATE
        from emu.services import sagemaker_studio as studio
        from emu.state import State
        self.studio = studio
        state = State(ACCOUNT, REGION, FRESH_STATE)
        state.async_delay_s = 5.0
        self.ctx = types.SimpleNamespace(state=state, data=state.data["sagemaker"],
                                         account=ACCOUNT, region=REGION)
        self.clock = 1000.0
        patcher = mock.patch("emu.services.sagemaker_common.now",
                             side_effect=lambda: self.clock)
        patcher.start()
        self.addCleanup(patcher.stop)

    def call(self, op, **params):
        return self.studio.HANDLERS[op](self.ctx, params)

    def code_of(self, op, **params):
        from emu.errors import AwsError
        try:
            self.call(op, **params)
        except AwsError as err:
            return err.code
        return None

    def status(self, op, **params):
        return self.call(op, **params)["Status"]

    def test_domain_and_profile_transitions(self):
        d = self.call("CreateDomain", DomainName="s", AuthMode="IAM",
                      DefaultUserSettings={"ExecutionRole": ROLE})["DomainId"]
        self.assertEqual(self.status("DescribeDomain", DomainId=d), "Pending")
        # A Pending domain takes no children and no update.
        self.assertEqual(self.code_of("CreateUserProfile", DomainId=d, UserProfileName="a"),
                         "ResourceInUse")
        self.assertEqual(self.code_of("UpdateDomain", DomainId=d), "ResourceInUse")
        self.clock += 4.9
        self.assertEqual(self.status("DescribeDomain", DomainId=d), "Pending")
        self.clock += 0.2
        created = self.call("DescribeDomain", DomainId=d)
        self.assertEqual(created["Status"], "InService")
        self.assertGreater(created["LastModifiedTime"], created["CreationTime"])

        self.call("UpdateDomain", DomainId=d, TagPropagation="ENABLED")
        updating = self.call("DescribeDomain", DomainId=d)
        self.assertEqual(updating["Status"], "Updating")
        self.assertGreater(updating["LastModifiedTime"], created["LastModifiedTime"])
        self.assertEqual(self.code_of("UpdateDomain", DomainId=d), "ResourceInUse")
        self.assertEqual(self.code_of("DeleteDomain", DomainId=d), "ResourceInUse")
        # Profiles may be created while the domain is Updating.
        self.call("CreateUserProfile", DomainId=d, UserProfileName="a")
        self.clock += 5.1
        listed = self.call("ListDomains")["Domains"][0]
        self.assertEqual(listed["Status"], "InService")
        self.assertGreater(listed["LastModifiedTime"], updating["LastModifiedTime"])
        self.assertEqual(self.status("DescribeUserProfile", DomainId=d, UserProfileName="a"),
                         "InService")

        self.call("DeleteUserProfile", DomainId=d, UserProfileName="a")
        self.assertEqual(self.status("DescribeUserProfile", DomainId=d, UserProfileName="a"),
                         "Deleting")
        # Still there while Deleting, so the domain is still held.
        self.assertEqual(self.code_of("DeleteDomain", DomainId=d), "ResourceInUse")
        self.clock += 5.1
        self.assertEqual(self.code_of("DescribeUserProfile", DomainId=d, UserProfileName="a"),
                         "ResourceNotFound")
        self.call("DeleteDomain", DomainId=d)
        self.assertEqual(self.status("DescribeDomain", DomainId=d), "Deleting")
        self.clock += 5.1
        self.assertEqual(self.code_of("DescribeDomain", DomainId=d), "ResourceNotFound")
        self.assertEqual(self.call("ListDomains")["Domains"], [])

    def test_list_tags_pages(self):
        """NextToken paging of ListTags, with pages smaller than the wire
        allows (the handler does not re-check the model's minimum)."""
        d = self.call("CreateDomain", DomainName="s", AuthMode="IAM",
                      DefaultUserSettings={"ExecutionRole": ROLE})
        keys = ["k%02d" % i for i in range(45)]
        self.call("AddTags", ResourceArn=d["DomainArn"],
                  Tags=[{"Key": k, "Value": k} for k in keys])
        seen, token, pages = [], None, 0
        while True:
            extra = {"NextToken": token} if token else {}
            out = self.call("ListTags", ResourceArn=d["DomainArn"], MaxResults=20, **extra)
            pages += 1
            seen += [t["Key"] for t in out["Tags"]]
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual((pages, seen), (3, keys))

    def test_app_transitions(self):
        d = self.call("CreateDomain", DomainName="s", AuthMode="IAM",
                      DefaultUserSettings={"ExecutionRole": ROLE})["DomainId"]
        self.clock += 6
        self.call("CreateUserProfile", DomainId=d, UserProfileName="a")
        app = dict(DomainId=d, UserProfileName="a", AppType="JupyterServer", AppName="default")
        # The profile is still Pending.
        self.assertEqual(self.code_of("CreateApp", **app), "ResourceInUse")
        self.clock += 6
        self.call("CreateApp", **app)
        self.assertEqual(self.status("DescribeApp", **app), "Pending")
        self.assertEqual(self.code_of("DeleteApp", **app), "ResourceInUse")
        self.clock += 6
        self.assertEqual(self.status("DescribeApp", **app), "InService")
        self.call("DeleteApp", **app)
        self.assertEqual(self.status("DescribeApp", **app), "Deleting")
        self.assertEqual(self.code_of("DeleteUserProfile", DomainId=d, UserProfileName="a"),
                         "ResourceInUse")
        self.clock += 6
        self.assertEqual(self.status("DescribeApp", **app), "Deleted")
        self.assertEqual(self.call("ListApps")["Apps"][0]["Status"], "Deleted")
        self.call("DeleteUserProfile", DomainId=d, UserProfileName="a")


class AsyncDelayTest(StudioCase):
    """End to end with a real delay: boto3 sees the transient statuses.
    The delay leaves a second between a change and the next call, plenty
    even on a loaded machine, at the cost of a few seconds of waiting."""

    EXTRA_ARGS = ("--async-delay-ms", "1000")

    def test_transitions_seen_by_boto3(self):
        out = self.sm.create_domain(DomainName="slow", AuthMode="IAM",
                                    DefaultUserSettings={"ExecutionRole": ROLE})
        d = out["DomainId"]
        self.assertEqual(self.sm.describe_domain(DomainId=d)["Status"], "Pending")
        self.assertAwsError("ResourceInUse", self.sm.create_user_profile, DomainId=d,
                            UserProfileName="alice")
        self.wait_status(self.sm.describe_domain, "InService", DomainId=d)

        self.sm.update_domain(DomainId=d, TagPropagation="ENABLED")
        self.assertEqual(self.sm.describe_domain(DomainId=d)["Status"], "Updating")
        self.assertAwsError("ResourceInUse", self.sm.update_domain, DomainId=d,
                            TagPropagation="DISABLED")
        self.wait_status(self.sm.describe_domain, "InService", DomainId=d)

        self.make_profile(d, "alice")
        app = dict(DomainId=d, UserProfileName="alice", AppType="JupyterServer",
                   AppName="default")
        self.sm.create_app(**app)
        self.assertEqual(self.sm.describe_app(**app)["Status"], "Pending")
        self.wait_status(self.sm.describe_app, "InService", **app)
        self.sm.delete_app(**app)
        self.assertEqual(self.sm.describe_app(**app)["Status"], "Deleting")
        self.wait_status(self.sm.describe_app, "Deleted", **app)

        self.sm.delete_user_profile(DomainId=d, UserProfileName="alice")
        self.assertEqual(self.sm.describe_user_profile(DomainId=d, UserProfileName="alice")
                         ["Status"], "Deleting")
        self.wait_gone(self.sm.describe_user_profile, DomainId=d, UserProfileName="alice")
        self.sm.delete_domain(DomainId=d)
        self.assertEqual(self.sm.describe_domain(DomainId=d)["Status"], "Deleting")
        self.wait_gone(self.sm.describe_domain, DomainId=d)


class NoVerifyTest(EmuCase):
    """With --no-verify nothing checks the model, so a handler may meet a
    request it cannot serve: it must answer as AWS does (500
    InternalFailure) and go on serving, never drop the connection."""

    EXTRA_ARGS = ("--no-verify",)

    def test_handler_failure_is_an_internal_failure(self):
        sm = self.client("sagemaker", validate=False)
        err = self.assertAwsError("InternalFailure", sm.create_user_profile,
                                  UserProfileName="alice")
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        self.assertEqual(sm.list_domains()["Domains"], [])


if __name__ == "__main__":
    unittest.main()
