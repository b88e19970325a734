/* SPDX-License-Identifier: Apache-2.0 */
/* The status store. Records live in one array sorted by name: a round's
 * findings arrive sorted too, so a round is a merge, and a lookup is a
 * binary search. Strings that repeat across records (manifest files,
 * operations, error codes, messages such as "in sync") are interned with a
 * reference count, so 10,000 converged resources share one message. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "smstudio/status.h"
#include "smstudio/timeutil.h"

/* ---- interned strings --------------------------------------------------- */

typedef struct istr {
        unsigned refs;
        uint32_t hash;
        char s[];
} istr;

/* Open addressing with linear probing; removal shifts the run back, so no
 * tombstones accumulate in a daemon that runs for months. */
typedef struct ipool {
        istr **slots;
        size_t cap; /* power of two, or 0 */
        size_t n;
} ipool;

static uint32_t str_hash(const char *s)
{
        uint32_t h = 2166136261u; /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h;
}

static istr *istr_of(const char *s)
{
        return (istr *)(void *)(s - offsetof(istr, s));
}

static int ipool_grow(ipool *p)
{
        size_t cap = p->cap ? p->cap * 2 : 64;
        istr **slots = calloc(cap, sizeof(*slots));

        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < p->cap; i++) {
                istr *e = p->slots[i];
                size_t j;

                if (!e)
                        continue;
                for (j = e->hash & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
                        ;
                slots[j] = e;
        }
        free(p->slots);
        p->slots = slots;
        p->cap = cap;
        return 0;
}

/* A counted reference to the pooled copy of s; NULL for NULL or on ENOMEM. */
static const char *intern(ipool *p, const char *s)
{
        uint32_t h;
        size_t i, len;
        istr *e;

        if (!s)
                return NULL;
        if ((p->n + 1) * 4 > p->cap * 3 && ipool_grow(p) < 0)
                return NULL;
        h = str_hash(s);
        for (i = h & (p->cap - 1); p->slots[i]; i = (i + 1) & (p->cap - 1))
                if (p->slots[i]->hash == h && streq(p->slots[i]->s, s)) {
                        p->slots[i]->refs++;
                        return p->slots[i]->s;
                }
        len = strlen(s);
        e = malloc(sizeof(*e) + len + 1);
        if (!e)
                return NULL;
        e->refs = 1;
        e->hash = h;
        memcpy(e->s, s, len + 1);
        p->slots[i] = e;
        p->n++;
        return e->s;
}

static void unintern(ipool *p, const char *s)
{
        istr *e;
        size_t i, j;

        if (!s)
                return;
        e = istr_of(s);
        if (--e->refs > 0)
                return;
        for (i = e->hash & (p->cap - 1); p->slots[i] != e; i = (i + 1) & (p->cap - 1))
                ;
        p->slots[i] = NULL;
        /* Backward shift: move up every later entry of the run whose home
         * slot is not in (i, j], so probes never stop at the hole. */
        for (j = (i + 1) & (p->cap - 1); p->slots[j]; j = (j + 1) & (p->cap - 1)) {
                size_t home = p->slots[j]->hash & (p->cap - 1);

                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        p->slots[i] = p->slots[j];
                        p->slots[j] = NULL;
                        i = j;
                }
        }
        p->n--;
        free(e);
}

/* Replace *slot with an interned s (NULL allowed). -ENOMEM leaves it alone. */
static int intern_replace(ipool *p, const char **slot, const char *s)
{
        const char *n;

        if (streq_ptr(*slot, s))
                return 0;
        n = intern(p, s);
        if (s && !n)
                return -ENOMEM;
        unintern(p, *slot);
        *slot = n;
        return 0;
}

static void ipool_done(ipool *p)
{
        for (size_t i = 0; i < p->cap; i++)
                free(p->slots[i]);
        free(p->slots);
        *p = (ipool){0};
}

/* ---- records ------------------------------------------------------------ */

typedef struct res_error {
        const char *code;    /* interned */
        const char *message; /* interned; may be NULL */
        char *request_id;
        double time;
} res_error;

typedef struct resource {
        char *name;
        const char *message; /* interned */
        const char *file;    /* interned; NULL when no manifest names it */
        unsigned line;
        const char *last_op; /* interned; NULL before any call */
        double last_action_time;
        res_error *error;
        unsigned drift_repaired;
        unsigned seen; /* round sequence number of the last finding naming it */
        uint8_t kind;  /* sm_finding_kind of that finding */
        uint8_t phase; /* sm_phase, pause not applied */
        uint8_t last_outcome;
        bool failed;         /* an action failed this pass, none succeeded since */
        bool prev_converged; /* converged when this pass started */
        bool drift_counted;  /* drift counted in this pass already */
} resource;

typedef struct pass_info {
        unsigned number;
        char *trigger;
        double started, finished;
        const char *result; /* static */
        unsigned rounds, changes, failures, api_calls;
        char *error;
} pass_info;

typedef struct call_count {
        const char *service, *operation, *outcome; /* interned */
        uint64_t n;
} call_count;

static const double duration_buckets[] = {0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};

static const char *const pass_results[] = {"nothing-to-do", "changed", "failed",
                                           "changed-and-failed", "error"};

struct sm_status {
        ipool pool;
        resource *res; /* sorted by name */
        size_t n_res;

        bool running;
        pass_info cur, last;
        bool have_last;
        unsigned round_seq; /* bumped for every round's findings */
        unsigned cur_round; /* round whose findings were recorded last, 0 none */
        bool cur_had_round; /* the running pass recorded findings */
        bool cur_degraded;  /* feeding it failed (ENOMEM): drop nothing at its end */
        unsigned cur_deletions_held;
        unsigned deletions_held;

        bool paused;
        char *pause_reason;
        double next_pass;

        uint64_t passes[ELEMENTSOF(pass_results)];
        uint64_t duration_bucket[ELEMENTSOF(duration_buckets)];
        uint64_t duration_count;
        double duration_sum;
        uint64_t drift_total;

        call_count *calls; /* sorted by service, operation, outcome */
        size_t n_calls;
        uint64_t retries, throttles;
};

static void res_error_free(sm_status *s, res_error *e)
{
        if (!e)
                return;
        unintern(&s->pool, e->code);
        unintern(&s->pool, e->message);
        free(e->request_id);
        free(e);
}

static void resource_done(sm_status *s, resource *r)
{
        free(r->name);
        unintern(&s->pool, r->message);
        unintern(&s->pool, r->file);
        unintern(&s->pool, r->last_op);
        res_error_free(s, r->error);
}

static void pass_info_done(pass_info *p)
{
        free(p->trigger);
        free(p->error);
        *p = (pass_info){0};
}

sm_status *sm_status_new(void)
{
        return calloc(1, sizeof(sm_status));
}

sm_status *sm_status_free(sm_status *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_res; i++)
                resource_done(s, &s->res[i]);
        free(s->res);
        for (size_t i = 0; i < s->n_calls; i++) {
                unintern(&s->pool, s->calls[i].service);
                unintern(&s->pool, s->calls[i].operation);
                unintern(&s->pool, s->calls[i].outcome);
        }
        free(s->calls);
        pass_info_done(&s->cur);
        pass_info_done(&s->last);
        free(s->pause_reason);
        ipool_done(&s->pool);
        free(s);
        return NULL;
}

static resource *find_resource(const sm_status *s, const char *name)
{
        size_t lo = 0, hi = s->n_res;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(name, s->res[mid].name);

                if (c == 0)
                        return &s->res[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

static sm_phase phase_of(sm_finding_kind kind, bool failed)
{
        switch (kind) {
        case SM_FINDING_IN_SYNC:
                return SM_PHASE_CONVERGED;
        case SM_FINDING_CHANGE:
        case SM_FINDING_WAITING:
        case SM_FINDING_BLOCKED:
                return failed ? SM_PHASE_FAILING : SM_PHASE_PENDING;
        case SM_FINDING_CONFLICT:
        case SM_FINDING_REPLACE_REFUSED:
                return SM_PHASE_CONFLICT;
        case SM_FINDING_DELETION_GUARDED:
                return SM_PHASE_HELD;
        case SM_FINDING_FAILED:
        case SM_FINDING_INVALID:
        default:
                return SM_PHASE_FAILING;
        }
}

/* Which of two findings for one resource in one round speaks for it. */
static const uint8_t phase_severity[_SM_PHASE_MAX] = {
        [SM_PHASE_CONVERGED] = 0, [SM_PHASE_PENDING] = 1, [SM_PHASE_HELD] = 2,
        [SM_PHASE_CONFLICT] = 3,  [SM_PHASE_FAILING] = 4,
};

static sm_phase effective_phase(const sm_status *s, const resource *r)
{
        if (s->paused && r->phase == SM_PHASE_PENDING)
                return SM_PHASE_HELD;
        return r->phase;
}

/* ---- passes ------------------------------------------------------------- */

int sm_status_pass_started(sm_status *s, unsigned number, const char *trigger, double now)
{
        char *t;

        if (!s || !trigger)
                return -EINVAL;
        t = strdup(trigger);
        if (!t)
                return -ENOMEM;
        if (s->running)
                (void)sm_status_pass_finished(s, NULL, "superseded by a new pass", false, now);

        pass_info_done(&s->cur);
        s->cur.number = number;
        s->cur.trigger = t;
        s->cur.started = now;
        s->cur.result = "running";
        s->running = true;
        s->cur_round = 0;
        s->cur_had_round = false;
        s->cur_degraded = false;
        s->cur_deletions_held = s->deletions_held;
        for (size_t i = 0; i < s->n_res; i++) {
                resource *r = &s->res[i];

                r->prev_converged = r->phase == SM_PHASE_CONVERGED;
                r->failed = false;
                r->drift_counted = false;
        }
        return 0;
}

static int finding_idx_cmp(size_t a, size_t b, const sm_finding *f)
{
        return strcmp(f[a].resource, f[b].resource);
}

/* The planner sorts its findings; should a plan come unsorted, its indexes
 * are merge-sorted (C11 qsort has no context argument for the plan). */
static void sort_idx(size_t *idx, size_t *tmp, size_t n, const sm_finding *f)
{
        size_t mid, i, j, k;

        if (n < 2)
                return;
        mid = n / 2;
        sort_idx(idx, tmp, mid, f);
        sort_idx(idx + mid, tmp, n - mid, f);
        for (i = 0, j = mid, k = 0; i < mid || j < n;)
                if (j >= n || (i < mid && finding_idx_cmp(idx[i], idx[j], f) <= 0))
                        tmp[k++] = idx[i++];
                else
                        tmp[k++] = idx[j++];
        memcpy(idx, tmp, n * sizeof(*idx));
}

/* Set r's view from finding f of the current round. */
static int apply_finding(sm_status *s, resource *r, const sm_finding *f, bool again)
{
        sm_phase p = phase_of(f->kind, r->failed);
        int ret;

        /* Two findings for one resource in a round: the worse one speaks. */
        if (again && phase_severity[p] <= phase_severity[r->phase])
                return 0;
        ret = intern_replace(&s->pool, &r->message, f->message ? f->message : "");
        if (ret < 0)
                return ret;
        ret = intern_replace(&s->pool, &r->file, f->source.file);
        if (ret < 0)
                return ret;
        r->line = f->source.file ? f->source.line : 0;
        r->kind = (uint8_t)f->kind;
        r->phase = (uint8_t)p;
        r->seen = s->round_seq;
        return 0;
}

static int record_findings(sm_status *s, const sm_plan *plan)
{
        _cleanup_free_ size_t *idx = NULL, *tmp = NULL;
        size_t m = plan->n_findings, n_new = 0, i, j, k;
        bool sorted = true;
        resource *merged;
        int r;

        s->round_seq++;
        s->cur_deletions_held = plan->n_deletions_held;
        if (m == 0)
                return 0;
        idx = malloc(m * sizeof(*idx));
        if (!idx)
                return -ENOMEM;
        for (i = 0; i < m; i++) {
                idx[i] = i;
                if (i > 0 && strcmp(plan->findings[i - 1].resource, plan->findings[i].resource) > 0)
                        sorted = false;
        }
        if (!sorted) {
                tmp = malloc(m * sizeof(*tmp));
                if (!tmp)
                        return -ENOMEM;
                sort_idx(idx, tmp, m, plan->findings);
        }

        /* Count the names not yet known (each once). */
        for (i = 0, j = 0; i < m; i++) {
                const char *name = plan->findings[idx[i]].resource;
                int c = 1;

                if (i > 0 && streq(name, plan->findings[idx[i - 1]].resource))
                        continue;
                while (j < s->n_res && (c = strcmp(s->res[j].name, name)) < 0)
                        j++;
                if (j >= s->n_res || c != 0)
                        n_new++;
        }

        if (n_new > 0) {
                merged = calloc(s->n_res + n_new, sizeof(*merged));
                if (!merged)
                        return -ENOMEM;
                for (i = 0, j = 0, k = 0; i < m || j < s->n_res;) {
                        const char *name = i < m ? plan->findings[idx[i]].resource : NULL;
                        int c = !name ? -1 : j >= s->n_res ? 1 : strcmp(s->res[j].name, name);

                        if (c <= 0) {
                                merged[k++] = s->res[j++];
                                if (c == 0)
                                        i++;
                                continue;
                        }
                        if (k == 0 || !streq(merged[k - 1].name, name)) {
                                merged[k].name = strdup(name);
                                if (!merged[k].name)
                                        goto fail_merge;
                                merged[k].phase = SM_PHASE_PENDING;
                                merged[k].kind = SM_FINDING_CHANGE;
                                k++;
                        }
                        i++;
                }
                free(s->res);
                s->res = merged;
                s->n_res = k;
        }

        for (i = 0; i < m; i++) {
                const sm_finding *f = &plan->findings[idx[i]];
                resource *rec = find_resource(s, f->resource);
                bool again = i > 0 && streq(f->resource, plan->findings[idx[i - 1]].resource);

                if (!rec)
                        continue;
                r = apply_finding(s, rec, f, again);
                if (r < 0)
                        return r;
        }
        return 0;

fail_merge:
        /* The old records are still s->res's: free only the names made
         * here, those not found among them. */
        for (i = 0; i < k; i++)
                if (!find_resource(s, merged[i].name))
                        free(merged[i].name);
        free(merged);
        return -ENOMEM;
}

/* What repairs drift on a resource that exists: an update or tag call, or
 * an IAM attach / put of a policy that went missing. */
static bool is_drift_repair(const sm_action *a)
{
        if (a->verb == SM_VERB_UPDATE || a->verb == SM_VERB_TAG)
                return true;
        return a->operation && a->verb != SM_VERB_DELETE &&
               (strncmp(a->operation, "Attach", 6) == 0 || strncmp(a->operation, "Put", 3) == 0);
}

static int record_error(sm_status *s, resource *rec, const sm_action_result *res, double now)
{
        const char *code = res->error.code;
        const char *msg = res->failure_reason ? res->failure_reason : res->error.message;
        res_error *e = rec->error;
        char *rid = NULL;

        if (!code)
                code = res->outcome == SM_OUTCOME_TIMED_OUT ? "SettleTimeout" : "Failed";
        if (!e) {
                e = calloc(1, sizeof(*e));
                if (!e)
                        return -ENOMEM;
                rec->error = e;
        }
        if (res->error.request_id) {
                rid = strdup(res->error.request_id);
                if (!rid)
                        return -ENOMEM;
        }
        if (intern_replace(&s->pool, &e->code, code) < 0 ||
            intern_replace(&s->pool, &e->message, msg) < 0) {
                free(rid);
                return -ENOMEM;
        }
        free(e->request_id);
        e->request_id = rid;
        e->time = now;
        return 0;
}

static int record_outcomes(sm_status *s, const sm_plan *round_plan, const sm_apply_report *report,
                           double now)
{
        const sm_plan *plan = report->plan ? report->plan : round_plan;
        int ret = 0;

        for (size_t i = 0; i < report->n_results && plan && i < plan->n_actions; i++) {
                const sm_action *a = &plan->actions[i];
                const sm_action_result *res = &report->results[i];
                resource *rec = a->resource ? find_resource(s, a->resource) : NULL;
                int r = 0;

                switch (res->outcome) {
                case SM_OUTCOME_APPLIED:
                case SM_OUTCOME_ALREADY:
                        s->cur.changes++;
                        break;
                case SM_OUTCOME_FAILED:
                case SM_OUTCOME_TIMED_OUT:
                        s->cur.failures++;
                        break;
                default:
                        break;
                }
                if (!rec || res->outcome == SM_OUTCOME_PENDING ||
                    res->outcome == SM_OUTCOME_SKIPPED)
                        continue;

                if (intern_replace(&s->pool, &rec->last_op, a->operation) < 0)
                        r = -ENOMEM;
                rec->last_outcome = (uint8_t)res->outcome;
                rec->last_action_time = now;

                switch (res->outcome) {
                case SM_OUTCOME_APPLIED:
                case SM_OUTCOME_ALREADY:
                        res_error_free(s, rec->error);
                        rec->error = NULL;
                        rec->failed = false;
                        rec->phase = (uint8_t)phase_of(rec->kind, false);
                        if (res->outcome == SM_OUTCOME_APPLIED && rec->prev_converged &&
                            !rec->drift_counted && is_drift_repair(a)) {
                                rec->drift_counted = true;
                                rec->drift_repaired++;
                                s->drift_total++;
                        }
                        break;
                case SM_OUTCOME_BLOCKED:
                        if (res->error.code && record_error(s, rec, res, now) < 0)
                                r = -ENOMEM;
                        break;
                case SM_OUTCOME_FAILED:
                case SM_OUTCOME_TIMED_OUT:
                        if (record_error(s, rec, res, now) < 0)
                                r = -ENOMEM;
                        rec->failed = true;
                        rec->phase = (uint8_t)phase_of(rec->kind, true);
                        break;
                default:
                        break;
                }
                if (r < 0)
                        ret = r;
        }
        return ret;
}

int sm_status_pass_round(sm_status *s, unsigned round, const sm_plan *plan,
                         const sm_apply_report *report, double now)
{
        int r;

        if (!s || !s->running || !plan)
                return -EINVAL;
        if (!s->cur_had_round || round != s->cur_round) {
                s->cur_round = round;
                s->cur_had_round = true;
                s->cur.rounds++;
                r = record_findings(s, plan);
                if (r < 0) {
                        /* Some records may lack this round's mark. */
                        s->cur_degraded = true;
                        return r;
                }
        }
        if (report)
                return record_outcomes(s, plan, report, now);
        return 0;
}

int sm_status_pass_finished(sm_status *s, const sm_pass_result *result, const char *error,
                            bool complete, double now)
{
        double duration;
        size_t i, k;

        if (!s || !s->running)
                return -EINVAL;
        s->running = false;
        s->cur.finished = now;
        s->cur.result = sm_pass_result_name(result);
        if (result) {
                s->cur.rounds = result->rounds;
                s->cur.changes = result->changes;
                s->cur.failures = result->failures;
        }
        if (streq(s->cur.result, "error")) {
                const char *why = error                     ? error
                                  : result && result->r < 0 ? strerror(-result->r)
                                                            : "the pass could not run";

                free(s->cur.error);
                s->cur.error = strdup(why); /* NULL on ENOMEM: the IDL allows null */
                complete = false;
        }

        if (s->cur_had_round) {
                s->deletions_held = s->cur_deletions_held;
                if (complete && !s->cur_degraded) {
                        for (i = 0, k = 0; i < s->n_res; i++) {
                                if (s->res[i].seen != s->round_seq) {
                                        resource_done(s, &s->res[i]);
                                        continue;
                                }
                                s->res[k++] = s->res[i];
                        }
                        s->n_res = k;
                }
        }

        for (i = 0; i < ELEMENTSOF(pass_results); i++)
                if (streq(pass_results[i], s->cur.result))
                        s->passes[i]++;
        duration = now - s->cur.started;
        if (!(duration >= 0)) /* a wall clock stepped back, or NaN */
                duration = 0;
        for (i = 0; i < ELEMENTSOF(duration_buckets); i++)
                if (duration <= duration_buckets[i])
                        s->duration_bucket[i]++;
        s->duration_count++;
        s->duration_sum += duration;

        pass_info_done(&s->last);
        s->last = s->cur;
        s->cur = (pass_info){0};
        s->have_last = true;
        return 0;
}

/* ---- AWS calls ---------------------------------------------------------- */

static int call_cmp(const call_count *c, const char *service, const char *operation,
                    const char *outcome)
{
        int r = strcmp(c->service, service);

        if (r == 0)
                r = strcmp(c->operation, operation);
        if (r == 0)
                r = strcmp(c->outcome, outcome);
        return r;
}

void sm_status_observe_call(const sm_aws_call_info *info, void *userdata)
{
        sm_status *s = userdata;
        const char *service, *operation, *outcome;
        size_t lo = 0, hi;
        call_count *c;

        if (!s || !info)
                return;
        service = info->service_name ? info->service_name : "unknown";
        operation = info->operation ? info->operation : "unknown";
        outcome = info->outcome ? info->outcome : "unknown";
        if (info->attempts > 1)
                s->retries += info->attempts - 1;
        s->throttles += info->throttles;
        if (s->running)
                s->cur.api_calls++;

        for (hi = s->n_calls; lo < hi;) {
                size_t mid = lo + (hi - lo) / 2;
                int r = call_cmp(&s->calls[mid], service, operation, outcome);

                if (r == 0) {
                        s->calls[mid].n++;
                        return;
                }
                if (r > 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        /* New series: rare (a bounded set of operations), so grow by one. */
        c = realloc(s->calls, (s->n_calls + 1) * sizeof(*c));
        if (!c)
                return;
        s->calls = c;
        memmove(&c[lo + 1], &c[lo], (s->n_calls - lo) * sizeof(*c));
        c[lo] = (call_count){
                .service = intern(&s->pool, service),
                .operation = intern(&s->pool, operation),
                .outcome = intern(&s->pool, outcome),
                .n = 1,
        };
        if (!c[lo].service || !c[lo].operation || !c[lo].outcome) {
                unintern(&s->pool, c[lo].service);
                unintern(&s->pool, c[lo].operation);
                unintern(&s->pool, c[lo].outcome);
                memmove(&c[lo], &c[lo + 1], (s->n_calls - lo) * sizeof(*c));
                return;
        }
        s->n_calls++;
}

/* ---- small accessors ---------------------------------------------------- */

int sm_status_set_paused(sm_status *s, bool paused, const char *reason)
{
        char *r = NULL;

        if (paused && reason) {
                r = strdup(reason);
                if (!r)
                        return -ENOMEM;
        }
        free(s->pause_reason);
        s->pause_reason = r;
        s->paused = paused;
        return 0;
}

bool sm_status_is_paused(const sm_status *s)
{
        return s->paused;
}

void sm_status_set_next_pass(sm_status *s, double when)
{
        s->next_pass = when;
}

unsigned sm_status_deletions_held(const sm_status *s)
{
        return s->deletions_held;
}

bool sm_status_pass_running(const sm_status *s)
{
        return s->running;
}

void sm_status_get_counts(const sm_status *s, sm_status_counts *ret)
{
        *ret = (sm_status_counts){0};
        for (size_t i = 0; i < s->n_res; i++)
                ret->n[effective_phase(s, &s->res[i])]++;
}

size_t sm_status_n_resources(const sm_status *s)
{
        return s->n_res;
}

int sm_status_resource_phase(const sm_status *s, const char *name)
{
        const resource *r = name ? find_resource(s, name) : NULL;

        return r ? (int)effective_phase(s, r) : -ENOENT;
}

unsigned sm_status_resource_drift_repaired(const sm_status *s, const char *name)
{
        const resource *r = name ? find_resource(s, name) : NULL;

        return r ? r->drift_repaired : 0;
}

static const char *const phase_names[_SM_PHASE_MAX] = {
        [SM_PHASE_CONVERGED] = "converged", [SM_PHASE_PENDING] = "pending",
        [SM_PHASE_FAILING] = "failing",     [SM_PHASE_CONFLICT] = "conflict",
        [SM_PHASE_HELD] = "held",
};

const char *sm_phase_to_string(sm_phase p)
{
        if ((unsigned)p >= _SM_PHASE_MAX)
                return NULL;
        return phase_names[p];
}

/* ---- JSON --------------------------------------------------------------- */

/* Add key = value, stealing value; false when out of memory. */
static bool add(json_t *obj, const char *key, json_t *value)
{
        return value && json_object_set_new(obj, key, value) == 0;
}

/* Whole Unix seconds; anything a time cannot be (NaN, before 1970, past
 * year 9999) becomes 0 rather than undefined behaviour in the cast. */
static int64_t whole_seconds(double t)
{
        return t >= 0 && t < 253402300800.0 ? (int64_t)floor(t) : 0;
}

static json_t *time_json(double t)
{
        char buf[21];

        sm_format_iso8601(whole_seconds(t), buf);
        return json_string(buf);
}

json_t *sm_status_counts_to_json(const sm_status *s)
{
        sm_status_counts c;
        json_t *o = json_object();

        if (!o)
                return NULL;
        sm_status_get_counts(s, &c);
        for (unsigned p = 0; p < _SM_PHASE_MAX; p++)
                if (!add(o, phase_names[p], json_integer(c.n[p]))) {
                        json_decref(o);
                        return NULL;
                }
        return o;
}

static json_t *pass_json(const pass_info *p, bool running)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        if (!add(o, "number", json_integer(p->number)) ||
            !add(o, "trigger", json_string(p->trigger ? p->trigger : "")) ||
            !add(o, "started", time_json(p->started)) ||
            !add(o, "finished", running ? json_null() : time_json(p->finished)) ||
            !add(o, "result", json_string(running ? "running" : p->result)) ||
            !add(o, "rounds", json_integer(p->rounds)) ||
            !add(o, "changes", json_integer(p->changes)) ||
            !add(o, "failures", json_integer(p->failures)) ||
            !add(o, "api_calls", json_integer(p->api_calls)) ||
            !add(o, "error", p->error ? json_string(p->error) : json_null())) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *sm_status_pass_to_json(const sm_status *s, bool running)
{
        if (running)
                return s->running ? pass_json(&s->cur, true) : json_null();
        return s->have_last ? pass_json(&s->last, false) : json_null();
}

static json_t *error_json(const res_error *e)
{
        json_t *o = json_object();

        if (!o || !add(o, "code", json_string(e->code)) ||
            !add(o, "message", e->message ? json_string(e->message) : json_null()) ||
            !add(o, "request_id", e->request_id ? json_string(e->request_id) : json_null()) ||
            !add(o, "time", time_json(e->time))) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* Each value is added as soon as it is made (add() takes it even when it
 * fails), so an out-of-memory exit leaks nothing. */
static json_t *resource_json(const sm_status *s, const resource *r)
{
        const char *slash = strchr(r->name, '/');
        _cleanup_free_ char *manifest = NULL, *action = NULL;
        json_t *o = json_object();

        if (!o)
                return NULL;
        if (r->file) {
                manifest = r->line ? sm_strf("%s:%u", r->file, r->line) : strdup(r->file);
                if (!manifest)
                        goto fail;
        }
        if (r->last_op) {
                action =
                        sm_strf("%s: %s", r->last_op, sm_action_outcome_to_string(r->last_outcome));
                if (!action)
                        goto fail;
        }
        if (!add(o, "name", json_string(r->name)) ||
            !add(o, "kind",
                 slash ? json_stringn(r->name, (size_t)(slash - r->name)) : json_string(r->name)) ||
            !add(o, "phase", json_string(phase_names[effective_phase(s, r)])) ||
            !add(o, "message", json_string(r->message ? r->message : "")) ||
            !add(o, "manifest", manifest ? json_string(manifest) : json_null()) ||
            !add(o, "last_action", action ? json_string(action) : json_null()) ||
            !add(o, "last_action_time",
                 r->last_op ? time_json(r->last_action_time) : json_null()) ||
            !add(o, "last_error", r->error ? error_json(r->error) : json_null()) ||
            !add(o, "drift_repaired", json_integer(r->drift_repaired)))
                goto fail;
        return o;

fail:
        json_decref(o);
        return NULL;
}

int sm_status_resources_to_json(const sm_status *s, const char *name, json_t **ret)
{
        json_t *a;

        if (name && !find_resource(s, name))
                return -ENOENT;
        a = json_array();
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_res; i++) {
                json_t *o;

                if (name && !streq(name, s->res[i].name))
                        continue;
                o = resource_json(s, &s->res[i]);
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return -ENOMEM;
                }
        }
        *ret = a;
        return 0;
}

int sm_status_append_status_json(const sm_status *s, json_t *obj)
{
        if (!add(obj, "paused", json_boolean(s->paused)) ||
            !add(obj, "pause_reason",
                 s->paused && s->pause_reason ? json_string(s->pause_reason) : json_null()) ||
            !add(obj, "deletions_held", json_integer(s->deletions_held)) ||
            !add(obj, "running", sm_status_pass_to_json(s, true)) ||
            !add(obj, "last_pass", sm_status_pass_to_json(s, false)) ||
            !add(obj, "next_pass",
                 !s->paused && s->next_pass > 0 ? time_json(s->next_pass) : json_null()) ||
            !add(obj, "counts", sm_status_counts_to_json(s)))
                return -ENOMEM;
        return 0;
}

/* ---- the STATUS= line --------------------------------------------------- */

typedef struct line {
        char buf[512];
        size_t len;
} line;

static void line_printf(line *l, const char *fmt, ...) _printf_(2, 3);
static void line_printf(line *l, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (l->len >= sizeof(l->buf) - 1)
                return;
        va_start(ap, fmt);
        n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
        va_end(ap);
        if (n > 0)
                l->len += (size_t)n < sizeof(l->buf) - l->len ? (size_t)n
                                                              : sizeof(l->buf) - 1 - l->len;
}

/* Append text a user or AWS wrote: control characters (a newline would
 * end the STATUS= assignment) become spaces; at most max bytes, cut on a
 * UTF-8 character boundary. */
static void line_put_text(line *l, const char *t, size_t max)
{
        size_t n = strlen(t), room = sizeof(l->buf) - 1 - l->len;

        if (max > room)
                max = room;
        if (n > max) {
                n = max;
                while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
                        n--;
        }
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)t[i];

                l->buf[l->len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        }
        l->buf[l->len] = '\0';
}

static void hms(double t, char out[9])
{
        time_t tt = (time_t)whole_seconds(t);
        struct tm tm;

        if (!gmtime_r(&tt, &tm)) {
                memcpy(out, "??:??:??", 9);
                return;
        }
        snprintf(out, 9, "%02u:%02u:%02u", (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
                 (unsigned)tm.tm_sec % 100u);
}

void sm_status_summary(const sm_status *s, char out[SM_STATUS_SUMMARY_MAX + 1])
{
        sm_status_counts c;
        line l = {.len = 0};
        char t[9];
        size_t n;

        l.buf[0] = '\0';
        sm_status_get_counts(s, &c);
        line_printf(&l, "%u converged, %u pending, %u failing", c.n[SM_PHASE_CONVERGED],
                    c.n[SM_PHASE_PENDING], c.n[SM_PHASE_FAILING]);
        if (c.n[SM_PHASE_CONFLICT])
                line_printf(&l, ", %u conflict", c.n[SM_PHASE_CONFLICT]);
        if (c.n[SM_PHASE_HELD])
                line_printf(&l, ", %u held", c.n[SM_PHASE_HELD]);
        if (s->running) {
                hms(s->cur.started, t);
                line_printf(&l, "; pass %u running since %s", s->cur.number, t);
        }
        if (s->have_last) {
                const pass_info *p = &s->last;

                hms(p->finished, t);
                line_printf(&l, "; last pass %s ", t);
                if (streq(p->result, "error")) {
                        line_printf(&l, "error: ");
                        line_put_text(&l, p->error ? p->error : "unknown", 80);
                } else if (p->changes > 0 && p->failures > 0)
                        line_printf(&l, "changed %u, failed %u", p->changes, p->failures);
                else if (p->failures > 0)
                        line_printf(&l, "failed %u", p->failures);
                else if (p->changes > 0)
                        line_printf(&l, "changed %u", p->changes);
                else
                        line_printf(&l, "nothing to do");
        }
        if (s->paused) {
                line_printf(&l, "; paused");
                if (s->pause_reason) {
                        line_printf(&l, ": ");
                        line_put_text(&l, s->pause_reason, 120);
                }
        } else if (s->next_pass > 0 && !s->running) {
                hms(s->next_pass, t);
                line_printf(&l, "; next %s", t);
        }

        n = l.len;
        if (n > SM_STATUS_SUMMARY_MAX) {
                /* Cut on a UTF-8 character boundary and say it was cut. */
                n = SM_STATUS_SUMMARY_MAX - 3;
                while (n > 0 && ((unsigned char)l.buf[n] & 0xc0) == 0x80)
                        n--;
                memcpy(l.buf + n, "...", 3);
                n += 3;
        }
        memcpy(out, l.buf, n);
        out[n] = '\0';
}

/* ---- metrics ------------------------------------------------------------ */

/* A label value per the exposition format: \ " and newline escaped. */
static int put_label(sm_buf *b, const char *name, const char *value, bool first)
{
        int r = sm_buf_printf(b, "%s%s=\"", first ? "" : ",", name);

        for (const char *p = value; r >= 0 && *p; p++)
                r = *p == '\\'   ? sm_buf_puts(b, "\\\\")
                    : *p == '"'  ? sm_buf_puts(b, "\\\"")
                    : *p == '\n' ? sm_buf_puts(b, "\\n")
                                 : sm_buf_putc(b, *p);
        return r < 0 ? r : sm_buf_putc(b, '"');
}

static int put_header(sm_buf *b, const char *name, const char *type, const char *help)
{
        return sm_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int sm_status_metrics(const sm_status *s, sm_buf *out)
{
        sm_status_counts c;
        int r;

#define CHECK(x)                                                                                   \
        do {                                                                                       \
                r = (x);                                                                           \
                if (r < 0)                                                                         \
                        return r;                                                                  \
        } while (0)

        CHECK(put_header(out, "smstudio_passes_total", "counter",
                         "Reconcile passes finished, by result."));
        for (size_t i = 0; i < ELEMENTSOF(pass_results); i++)
                CHECK(sm_buf_printf(out, "smstudio_passes_total{result=\"%s\"} %" PRIu64 "\n",
                                    pass_results[i], s->passes[i]));

        /* A histogram, not a summary: buckets aggregate across instances and
         * over any time range, and cost no clock or sliding window here. */
        CHECK(put_header(out, "smstudio_pass_duration_seconds", "histogram",
                         "Duration of reconcile passes."));
        for (size_t i = 0; i < ELEMENTSOF(duration_buckets); i++)
                CHECK(sm_buf_printf(
                        out, "smstudio_pass_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                        duration_buckets[i], s->duration_bucket[i]));
        CHECK(sm_buf_printf(out,
                            "smstudio_pass_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                            "smstudio_pass_duration_seconds_sum %.9g\n"
                            "smstudio_pass_duration_seconds_count %" PRIu64 "\n",
                            s->duration_count, s->duration_sum, s->duration_count));

        CHECK(put_header(out, "smstudio_aws_calls_total", "counter",
                         "AWS API calls finished (after retries), by outcome."));
        for (size_t i = 0; i < s->n_calls; i++) {
                const call_count *cc = &s->calls[i];

                CHECK(sm_buf_puts(out, "smstudio_aws_calls_total{"));
                CHECK(put_label(out, "service", cc->service, true));
                CHECK(put_label(out, "operation", cc->operation, false));
                CHECK(put_label(out, "outcome", cc->outcome, false));
                CHECK(sm_buf_printf(out, "} %" PRIu64 "\n", cc->n));
        }

        CHECK(put_header(out, "smstudio_aws_retries_total", "counter",
                         "AWS requests sent again after a failed attempt."));
        CHECK(sm_buf_printf(out, "smstudio_aws_retries_total %" PRIu64 "\n", s->retries));
        CHECK(put_header(out, "smstudio_aws_throttles_total", "counter",
                         "AWS answers asking to slow down."));
        CHECK(sm_buf_printf(out, "smstudio_aws_throttles_total %" PRIu64 "\n", s->throttles));

        sm_status_get_counts(s, &c);
        CHECK(put_header(out, "smstudio_resources", "gauge", "Managed resources by phase."));
        for (unsigned p = 0; p < _SM_PHASE_MAX; p++)
                CHECK(sm_buf_printf(out, "smstudio_resources{phase=\"%s\"} %u\n", phase_names[p],
                                    c.n[p]));

        CHECK(put_header(out, "smstudio_drift_repaired_total", "counter",
                         "Changes made to resources a previous pass had left converged."));
        CHECK(sm_buf_printf(out, "smstudio_drift_repaired_total %" PRIu64 "\n", s->drift_total));

        CHECK(put_header(out, "smstudio_last_pass_timestamp_seconds", "gauge",
                         "When the last reconcile pass finished (Unix time; 0: none yet)."));
        CHECK(sm_buf_printf(out, "smstudio_last_pass_timestamp_seconds %.3f\n",
                            s->have_last ? s->last.finished : 0.0));

        CHECK(put_header(out, "smstudio_paused", "gauge", "1 while passes are paused."));
        CHECK(sm_buf_printf(out, "smstudio_paused %d\n", s->paused ? 1 : 0));
        CHECK(put_header(out, "smstudio_deletions_held", "gauge",
                         "Deletions the guard holds until approved."));
        CHECK(sm_buf_printf(out, "smstudio_deletions_held %u\n", s->deletions_held));
#undef CHECK
        return 0;
}
