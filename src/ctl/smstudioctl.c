/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl: the command-line face of smstudio. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "smstudio/log.h"

typedef struct ctl_verb {
        const char *name;
        int (*run)(const ctl_options *o, int argc, char **argv);
        const char *args;
        const char *help;
} ctl_verb;

static const ctl_verb verbs[] = {
        {"whoami", ctl_verb_whoami, "",
         "show the AWS identity, credential source, region and endpoint"},
        {"validate", ctl_verb_validate, "[DIR]", "check the daemon config and manifests offline"},
        {"import-seedfarmer", ctl_verb_import_seedfarmer, "FILE",
         "convert a seed-farmer manifest of the original module"},
        {"outputs", ctl_verb_outputs, "[DOMAIN]",
         "print the original module's outputs of a domain, read from AWS"},
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
                   "  --config FILE     daemon config (default /etc/smstudio/smstudiod.yaml)\n"
                   "  --profile NAME    AWS profile (default: AWS_PROFILE, else \"default\")\n"
                   "  --region REGION   AWS region (default: AWS_REGION, the profile, EC2 IMDS)\n"
                   "  -v, --verbose     debug messages on stderr\n"
                   "  -h, --help        this help\n"
                   "      --version     print the version\n"
                   "\n"
                   "Exit status: 0 success, 1 failure (validate: invalid), 2 import-seedfarmer\n"
                   "converted with values left to fill in, 3 outputs: a resource is not created\n"
                   "in AWS yet, 64 usage error.\n");
}

int main(int argc, char **argv)
{
        enum { OPT_JSON = 256, OPT_PROFILE, OPT_REGION, OPT_CONFIG, OPT_VERSION };
        static const struct option longopts[] = {
                {"json", no_argument, NULL, OPT_JSON},
                {"profile", required_argument, NULL, OPT_PROFILE},
                {"region", required_argument, NULL, OPT_REGION},
                {"config", required_argument, NULL, OPT_CONFIG},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {0},
        };
        ctl_options o = {0};
        int c;

        sm_log_set_target(SM_LOG_TARGET_STDERR);
        sm_log_set_max_level(LOG_WARNING);
        while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) >= 0) {
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
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[optind], verbs[i].name))
                        return verbs[i].run(&o, argc - optind, argv + optind);
        fprintf(stderr, "smstudioctl: unknown verb \"%s\" (see --help)\n", argv[optind]);
        return EXIT_USAGE;
}
