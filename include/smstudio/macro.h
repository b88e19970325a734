/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers every module uses: scope-bound cleanup and ownership hand-over.
 * GNU attributes and __typeof__ work under -std=c11 with gcc and clang. */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define _cleanup_(f)         __attribute__((cleanup(f)))
#define _unused_             __attribute__((unused))
#define _printf_(a, b)       __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hand a pointer over: returns its value and leaves NULL behind, so the
 * cleanup attribute on the old owner does nothing. */
#define TAKE_PTR(p)                                                                                \
        __extension__({                                                                            \
                __typeof__(p) _take_tmp = (p);                                                     \
                (p) = NULL;                                                                        \
                _take_tmp;                                                                         \
        })

/* For a destructor `T *f(T *)` (accepts NULL, returns NULL) define `void fp(T **)`. */
#define DEFINE_POINTER_CLEANUP(type, func)                                                         \
        static inline void func##p(type **p)                                                       \
        {                                                                                          \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline bool streq(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static inline bool isempty(const char *s)
{
        return !s || !*s;
}

/* Free *p and set it to a strdup of s (NULL stays NULL). Returns -ENOMEM on failure. */
int sm_strdup_replace(char **p, const char *s);
