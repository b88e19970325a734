/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl import-seedfarmer FILE: the smstudio manifest equivalent to a
 * seed-farmer manifest of the original module, on stdout; warnings and the
 * values left to fill in on stderr ("path:line:column: warning: ...").
 *
 * Exit status: 0 converted completely (warnings possible); 2 converted, but
 * values are left to fill in (each marked "# TODO:" above a "<TODO>"
 * placeholder that no smstudio check accepts); 1 not converted (unreadable,
 * not YAML, not a module manifest of sagemaker-studio); 64 usage.
 * With --json: {"manifest": TEXT or null, "values_to_fill": N,
 * "warnings": [diag...], "errors": [diag...]} on stdout, same exit status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "smstudio/strbuf.h"
#include "smstudio/seedfarmer.h"

/* 16 MiB: far above any manifest; the YAML reader's own limit (1 MiB)
 * gives the precise message. */
#define IMPORT_READ_MAX (16u << 20)

static int read_file(const char *path, sm_buf *b)
{
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
        char chunk[8192];
        size_t n;
        int r = 0;

        if (!f)
                return -errno;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
                if (b->len + n > IMPORT_READ_MAX) {
                        r = -EFBIG;
                        break;
                }
                r = sm_buf_append(b, chunk, n);
                if (r < 0)
                        break;
        }
        if (r >= 0 && ferror(f))
                r = -EIO;
        if (f != stdin)
                fclose(f);
        return r;
}

static int print_json(const sm_buf *manifest, int r, const sm_diags *notes, const sm_diags *errors)
{
        json_t *w = sm_diags_to_json(notes), *e = sm_diags_to_json(errors);
        json_t *obj = NULL;
        char *s = NULL;

        if (w && e)
                obj = json_pack(
                        "{s:o,s:i,s:O,s:O}", "manifest",
                        r >= 0 ? json_stringn(manifest->data ? manifest->data : "", manifest->len)
                               : json_null(),
                        "values_to_fill", r > 0 ? r : 0, "warnings", w, "errors", e);
        if (obj)
                s = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
                puts(s);
        free(s);
        json_decref(obj);
        json_decref(w);
        json_decref(e);
        return s ? 0 : -ENOMEM;
}

int ctl_verb_import_seedfarmer(const ctl_options *o, int argc, char **argv)
{
        sm_buf in = {0}, manifest = {0}, report = {0};
        sm_diags notes = {0}, errors = {0};
        const char *path;
        int r, ret = EXIT_FAILURE;

        if (argc != 2) {
                fprintf(stderr, "Usage: smstudioctl import-seedfarmer FILE\n"
                                "Prints the smstudio manifest equivalent to FILE, a seed-farmer "
                                "manifest of the\nsagemaker-studio module (- reads stdin). "
                                "Exit status: 0 converted, 2 converted\nwith values to fill in "
                                "(marked TODO), 1 not converted, 64 usage error.\n");
                return EXIT_USAGE;
        }
        path = argv[1];
        r = read_file(path, &in);
        if (r < 0) {
                char *msg = sm_strf("cannot read %s: %s", path,
                                    r == -EFBIG ? "file too large" : strerror(-r));

                ctl_print_error(o, "ReadError", msg ? msg : path);
                free(msg);
                goto done;
        }
        r = sm_seedfarmer_import(path, in.data ? in.data : "", in.len, &manifest, &notes, &errors);
        if (r == -ENOMEM) {
                ctl_print_error(o, "OutOfMemory", "out of memory");
                goto done;
        }
        if (o->json) {
                if (print_json(&manifest, r, &notes, &errors) < 0) {
                        fprintf(stderr, "smstudioctl: out of memory\n");
                        goto done;
                }
        } else if (r >= 0) {
                fwrite(manifest.data, 1, manifest.len, stdout);
        }
        if (sm_seedfarmer_report(path, r, &notes, &errors, &report) < 0) {
                fprintf(stderr, "smstudioctl: out of memory\n");
                goto done;
        }
        fputs(report.data ? report.data : "", stderr);
        if (r < 0)
                goto done;
        ret = r > 0 ? 2 : EXIT_SUCCESS;
        if (fflush(stdout) != 0)
                ret = EXIT_FAILURE;
done:
        sm_buf_done(&in);
        sm_buf_done(&manifest);
        sm_buf_done(&report);
        sm_diags_done(&notes);
        sm_diags_done(&errors);
        return ret;
}
