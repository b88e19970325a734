/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl: the command-line face of smstudio. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "smstudio/daemonconfig.h"
#include "smstudio/log.h"

/* Options only some verbs take (they may still stand anywhere on the line). */
enum {
        VERB_WAIT = 1 << 0,
        VERB_FROM_DAEMON = 1 << 1,
};

typedef struct ctl_verb {
        const char *name;
        int (*run)(const ctl_options *o, int argc, char **argv);
        const char *args;
        const char *help;
        unsigned accepts;
} ctl_verb;

static const ctl_verb verbs[] = {
        {"status", ctl_verb_status, "", "show what smstudiod is doing and how the estate stands",
         0},
        {"resources", ctl_verb_resources, "[NAME]",
         "list the managed resources, or show one in full", 0},
        {"plan", ctl_verb_plan, "", "show what a pass would change now (dry run)", 0},
        {"reconcile", ctl_verb_reconcile, "[--wait]", "start a pass now", VERB_WAIT},
        {"pause", ctl_verb_pause, "REASON", "stop starting passes (kept across restarts)", 0},
        {"resume", ctl_verb_resume, "", "start passes again", 0},
        {"approve", ctl_verb_approve, "", "let the next pass make the deletions held", 0},
        {"metrics", ctl_verb_metrics, "", "print the daemon's Prometheus metrics", 0},
        {"log-level", ctl_verb_log_level, "LEVEL", "change the daemon's log level", 0},
        {"whoami", ctl_verb_whoami, "",
         "show the AWS identity, credential source, region and endpoint", 0},
        {"validate", ctl_verb_validate, "[DIR]", "check the daemon config and manifests offline",
         0},
        {"import-seedfarmer", ctl_verb_import_seedfarmer, "FILE",
         "convert a seed-farmer manifest of the original module", 0},
        {"outputs", ctl_verb_outputs, "[DOMAIN]",
         "print the original module's outputs of a domain, read from AWS", VERB_FROM_DAEMON},
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: smstudioctl [OPTIONS] VERB\n"
                   "\n"
                   "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char synopsis[64];

                snprintf(synopsis, sizeof(synopsis), "%s %s", verbs[i].name, verbs[i].args);
                fprintf(f, "  %-28s %s\n", synopsis, verbs[i].help);
        }
        fprintf(f, "\n"
                   "Options:\n"
                   "  --json            print JSON instead of text\n"
                   "  -s, --socket PATH the daemon's control socket (default: the config's\n"
                   "                    socket.path, /run/smstudio/smstudiod.sock)\n"
                   "  --timeout TIME    how long to wait for the daemon (\"30s\", \"5m\")\n"
                   "  --wait            reconcile: wait for the pass and print its summary\n"
                   "  --from-daemon     outputs: ask smstudiod instead of AWS\n"
                   "  --config FILE     daemon config (default /etc/smstudio/smstudiod.yaml)\n"
                   "  --profile NAME    AWS profile (default: AWS_PROFILE, else \"default\")\n"
                   "  --region REGION   AWS region (default: AWS_REGION, the profile, EC2 IMDS)\n"
                   "  -v, --verbose     debug messages on stderr\n"
                   "  -h, --help        this help\n"
                   "      --version     print the version\n"
                   "\n"
                   "Exit status: 0 success, 1 failure (validate: invalid; the daemon answered\n"
                   "an error), 2 import-seedfarmer converted with values left to fill in,\n"
                   "3 outputs: a resource is not created in AWS yet; status: something is\n"
                   "failing; reconcile --wait: the pass failed, 4 the daemon refused the call\n"
                   "(permission denied), 5 the daemon could not be reached, 64 usage error.\n");
}

int main(int argc, char **argv)
{
        enum {
                OPT_JSON = 256,
                OPT_PROFILE,
                OPT_REGION,
                OPT_CONFIG,
                OPT_VERSION,
                OPT_TIMEOUT,
                OPT_WAIT,
                OPT_FROM_DAEMON,
        };
        static const struct option longopts[] = {
                {"json", no_argument, NULL, OPT_JSON},
                {"profile", required_argument, NULL, OPT_PROFILE},
                {"region", required_argument, NULL, OPT_REGION},
                {"config", required_argument, NULL, OPT_CONFIG},
                {"socket", required_argument, NULL, 's'},
                {"timeout", required_argument, NULL, OPT_TIMEOUT},
                {"wait", no_argument, NULL, OPT_WAIT},
                {"from-daemon", no_argument, NULL, OPT_FROM_DAEMON},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {0},
        };
        ctl_options o = {0};
        unsigned used = 0;
        uint64_t sec;
        int c;

        sm_log_set_target(SM_LOG_TARGET_STDERR);
        sm_log_set_max_level(LOG_WARNING);
        while ((c = getopt_long(argc, argv, "vhs:", longopts, NULL)) >= 0) {
                switch (c) {
                case OPT_JSON:
                        o.json = true;
                        break;
                case OPT_PROFILE:
                        o.profile = optarg;
                        break;
                case OPT_REGION:
                        o.region = optarg;
                        break;
                case OPT_CONFIG:
                        o.config = optarg;
                        break;
                case 's':
                        o.socket = optarg;
                        break;
                case OPT_TIMEOUT:
                        if (sm_daemon_config_parse_duration(optarg, &sec) < 0 || sec == 0) {
                                fprintf(stderr,
                                        "smstudioctl: --timeout takes a duration (\"30\", "
                                        "\"90s\", \"5m\", \"1h\"), not \"%s\"\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        o.timeout_ms = sec * 1000;
                        break;
                case OPT_WAIT:
                        o.wait = true;
                        used |= VERB_WAIT;
                        break;
                case OPT_FROM_DAEMON:
                        o.from_daemon = true;
                        used |= VERB_FROM_DAEMON;
                        break;
                case 'v':
                        o.verbose++;
                        sm_log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case OPT_VERSION:
                        printf("smstudioctl %s\n", SM_VERSION);
                        return EXIT_SUCCESS;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(argv[optind], verbs[i].name))
                        continue;
                if (used & ~verbs[i].accepts) {
                        fprintf(stderr, "smstudioctl: %s takes no %s\n", verbs[i].name,
                                (used & ~verbs[i].accepts & VERB_WAIT) ? "--wait"
                                                                       : "--from-daemon");
                        return EXIT_USAGE;
                }
                return verbs[i].run(&o, argc - optind, argv + optind);
        }
        fprintf(stderr, "smstudioctl: unknown verb \"%s\" (see --help)\n", argv[optind]);
        return EXIT_USAGE;
}
