# SPDX-License-Identifier: Apache-2.0
"""The install layout and the systemd units, offline: `meson install
--destdir` of the build under test into a temporary directory, then the
files and modes where they belong, the unit's settings (and that they agree
with the daemon's compiled-in paths), `systemd-analyze verify` clean,
`systemd-analyze security --offline=true` exposure at most 2.0, the
sysusers.d and tmpfiles.d snippets applied to an empty root with
systemd-sysusers/systemd-tmpfiles --root (the user exists; the manifest
directory they create passes the daemon's own trust check), and an edited
/etc/smstudio/smstudiod.yaml kept by a second install.

None of this needs systemd as PID 1: verify, security --offline, sysusers
--root and tmpfiles --root all work on files."""

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

BUILD_ROOT = os.environ.get("SM_BUILD_ROOT")
SOURCE_ROOT = os.environ.get("SM_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
MAX_EXPOSURE = 2.0


def run(args, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(args, **kw)


def pkg_config_var(pkg, var, defines=()):
    if not shutil.which("pkg-config"):
        return ""
    args = ["pkg-config"]
    for name, value in defines:
        args += ["--define-variable=%s=%s" % (name, value)]
    r = run(args + ["--variable=" + var, pkg])
    return r.stdout.strip() if r.returncode == 0 else ""


def parse_unit(path):
    """{section: {key: [values in order]}}: systemd keys repeat."""
    out, section = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = out.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            section.setdefault(key.strip(), []).append(value.strip())
    return out


def header_define(name):
    path = os.path.join(SOURCE_ROOT, "include", "smstudio", "daemonconfig.h")
    with open(path, encoding="utf-8") as f:
        m = re.search(r"#define\s+%s\s+\"([^\"]*)\"" % name, f.read())
    assert m, name
    return m.group(1)


@unittest.skipUnless(BUILD_ROOT, "SM_BUILD_ROOT is not set (run through meson test)")
class UnitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smstudio-units-")
        cls.dest = os.path.join(cls.tmp, "dest")
        cls.install()
        opts = json.loads(run(["meson", "introspect", "--buildoptions", BUILD_ROOT],
                              check=True).stdout)
        cls.opt = {o["name"]: o["value"] for o in opts}
        prefix = cls.opt["prefix"]
        cls.prefix = prefix

        def under_prefix(d):
            return d if os.path.isabs(d) else os.path.join(prefix, d)

        cls.sbindir = under_prefix(cls.opt["sbindir"])
        cls.bindir = under_prefix(cls.opt["bindir"])
        cls.datadir = under_prefix(cls.opt["datadir"])
        cls.mandir = under_prefix(cls.opt["mandir"])
        # The same choice as meson.build: option, pkg-config, fallback.
        cls.unitdir = (cls.opt["systemdsystemunitdir"]
                       or pkg_config_var("systemd", "systemdsystemunitdir")
                       or os.path.join(prefix, "lib/systemd/system"))
        cls.sysusersdir = (cls.opt["sysusersdir"] or pkg_config_var("systemd", "sysusersdir")
                           or os.path.join(prefix, "lib/sysusers.d"))
        cls.tmpfilesdir = (cls.opt["tmpfilesdir"] or pkg_config_var("systemd", "tmpfilesdir")
                           or os.path.join(prefix, "lib/tmpfiles.d"))
        cls.bashcompdir = (cls.opt["bashcompletiondir"]
                           or pkg_config_var("bash-completion", "completionsdir",
                                             [("datadir", cls.datadir)])
                           or os.path.join(cls.datadir, "bash-completion/completions"))
        cls.service = cls.d(cls.unitdir, "smstudiod.service")
        cls.socket = cls.d(cls.unitdir, "smstudiod.socket")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def install(cls):
        r = run(["meson", "install", "-C", BUILD_ROOT, "--destdir", cls.dest, "--no-rebuild",
                 "--quiet"])
        if r.returncode != 0:
            raise AssertionError("meson install failed:\n" + r.stdout + r.stderr)

    @classmethod
    def d(cls, *parts):
        """The path of an installed file inside the destdir."""
        return cls.dest + os.path.join(*parts)

    def assertFileMode(self, path, mode):
        self.assertTrue(os.path.isfile(path), "not installed: " + path)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), mode,
                         "%s: mode %o" % (path, stat.S_IMODE(os.stat(path).st_mode)))

    def test_files_and_modes(self):
        expected = {
                (self.sbindir, "smstudiod"): 0o755,
                (self.bindir, "smstudioctl"): 0o755,
                (self.unitdir, "smstudiod.service"): 0o644,
                (self.unitdir, "smstudiod.socket"): 0o644,
                (self.sysusersdir, "smstudio.conf"): 0o644,
                (self.tmpfilesdir, "smstudio.conf"): 0o644,
                (self.mandir, "man8", "smstudiod.8"): 0o644,
                (self.mandir, "man1", "smstudioctl.1"): 0o644,
                (self.mandir, "man5", "smstudio.d.5"): 0o644,
                (self.mandir, "man5", "smstudiod.yaml.5"): 0o644,
                (self.bashcompdir, "smstudioctl"): 0o644,
                (self.prefix, "lib/systemd/catalog/smstudio.catalog"): 0o644,
                (self.datadir, "smstudio/lifecycle/idle-shutdown.sh"): 0o755,
                (self.datadir, "doc/smstudio/examples/smstudiod.yaml"): 0o644,
                (self.datadir, "doc/smstudio/examples/smstudio.d/alice.yaml"): 0o644,
                (self.datadir, "doc/smstudio/README.md"): 0o644,
                (self.datadir, "doc/smstudio/iam-policy.json"): 0o644,
                ("/etc/smstudio/smstudiod.yaml",): 0o644,
        }
        for parts, mode in expected.items():
            with self.subTest(path=os.path.join(*parts)):
                self.assertFileMode(self.d(*parts), mode)
        with open(os.path.join(SOURCE_ROOT, "config", "smstudiod.yaml"), encoding="utf-8") as f:
            shipped = f.read()
        with open(self.d("/etc/smstudio/smstudiod.yaml"), encoding="utf-8") as f:
            self.assertEqual(f.read(), shipped)
        # The installed daemon is the one built, and runs.
        r = run([self.d(self.sbindir, "smstudiod"), "--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("smstudiod "), r.stdout)

    def test_existing_config_kept(self):
        conf = self.d("/etc/smstudio/smstudiod.yaml")
        with open(conf, "w", encoding="utf-8") as f:
            f.write("interval: 10m\n")
        try:
            self.install()
            with open(conf, encoding="utf-8") as f:
                self.assertEqual(f.read(), "interval: 10m\n")
        finally:
            shutil.copyfile(os.path.join(SOURCE_ROOT, "config", "smstudiod.yaml"), conf)

    def test_service_settings(self):
        svc = parse_unit(self.service)["Service"]

        def one(key):
            self.assertIn(key, svc)
            return svc[key][-1]

        self.assertEqual(one("Type"), "notify")
        self.assertEqual(one("ExecStart"), os.path.join(self.sbindir, "smstudiod"))
        self.assertRegex(one("ExecReload"), r"kill -HUP \$MAINPID$")
        self.assertTrue(one("WatchdogSec"))
        self.assertEqual(one("Restart"), "on-failure")
        self.assertEqual(one("User"), "smstudio")
        self.assertEqual(one("Group"), "smstudio")
        self.assertEqual(one("CapabilityBoundingSet"), "")
        self.assertRegex(one("UMask"), r"^0[0-7]77$")
        # The directories systemd makes are the daemon's defaults.
        self.assertEqual("/var/lib/" + one("StateDirectory"),
                         header_define("SM_DAEMON_DEFAULT_STATE_DIR"))
        self.assertEqual("/run/" + one("RuntimeDirectory"),
                         os.path.dirname(header_define("SM_DAEMON_DEFAULT_SOCKET_PATH")))
        self.assertEqual("/etc/" + one("ConfigurationDirectory"),
                         os.path.dirname(header_define("SM_DAEMON_CONFIG_PATH")))
        self.assertEqual(set(one("RestrictAddressFamilies").split()),
                         {"AF_UNIX", "AF_INET", "AF_INET6"})
        self.assertEqual(one("ProtectSystem"), "strict")
        for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
                    "ProtectControlGroups", "ProtectClock", "ProtectHostname",
                    "RestrictNamespaces", "LockPersonality", "MemoryDenyWriteExecute"):
            with self.subTest(key=key):
                self.assertEqual(one(key), "yes")
        self.assertEqual(svc["SystemCallFilter"][0], "@system-service")
        self.assertEqual(one("SystemCallArchitectures"), "native")

        sock = parse_unit(self.socket)["Socket"]
        self.assertEqual(sock["ListenStream"], [header_define("SM_DAEMON_DEFAULT_SOCKET_PATH")])
        self.assertEqual(sock["SocketMode"], ["0660"])
        self.assertEqual(sock["SocketGroup"], ["smstudio"])

    def test_verify(self):
        # verify checks that ExecStart= exists: the installed binary is in the
        # destdir, so a copy of each unit points there. Documentation='s man:
        # pages are looked up in the destdir's mandir when man is there.
        vdir = os.path.join(self.tmp, "verify")
        os.makedirs(vdir, exist_ok=True)
        binary = self.d(self.sbindir, "smstudiod")
        units = []
        for src in (self.service, self.socket):
            with open(src, encoding="utf-8") as f:
                text = f.read()
            text = re.sub(r"^ExecStart=\S+", "ExecStart=" + binary, text, flags=re.M)
            path = os.path.join(vdir, os.path.basename(src))
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            units.append(path)
        env = dict(os.environ, SYSTEMD_LOG_COLOR="0", SYSTEMD_COLORS="0")
        args = ["systemd-analyze", "verify"]
        if shutil.which("man"):
            env["MANPATH"] = self.d(self.mandir)
        else:
            args.append("--man=no")
        r = run(args + units, env=env)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_security_exposure(self):
        env = dict(os.environ, SYSTEMD_COLORS="0")
        r = run(["systemd-analyze", "security", "--offline=true", "--no-pager", self.service],
                env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"Overall exposure level for smstudiod\.service: (\d+\.\d+)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, r.stdout)

    def test_sysusers_and_tmpfiles(self):
        root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        r = run(["systemd-sysusers", "--root=" + root,
                 self.d(self.sysusersdir, "smstudio.conf")])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(root, "etc", "passwd"), encoding="utf-8") as f:
            users = {l.split(":")[0]: l.rstrip("\n").split(":") for l in f}
        with open(os.path.join(root, "etc", "group"), encoding="utf-8") as f:
            groups = {l.split(":")[0]: l.split(":") for l in f}
        self.assertIn("smstudio", users)
        user = users["smstudio"]
        self.assertEqual(user[3], groups["smstudio"][2])  # primary group smstudio
        self.assertLess(int(user[2]), 1000)               # a system user
        self.assertEqual(user[5], header_define("SM_DAEMON_DEFAULT_STATE_DIR"))
        self.assertTrue(user[6].endswith("nologin"), user)

        r = run(["systemd-tmpfiles", "--root=" + root, "--create",
                 self.d(self.tmpfilesdir, "smstudio.conf")])
        self.assertEqual(r.returncode, 0, r.stderr)
        manifests = os.path.join(root, "etc", "smstudio.d")
        st = os.stat(manifests)
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o755)
        if os.geteuid() == 0:
            self.assertEqual((st.st_uid, st.st_gid), (0, 0))
            # The daemon's own loader accepts the directory as trusted.
            r = run([self.d(self.bindir, "smstudioctl"), "validate", manifests])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
