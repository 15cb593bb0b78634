/* schema_regex.c: everything the validator asks of PCRE2. The contexts of
 * a schema route PCRE2's allocations through malloc (checked like the
 * rest), and compile ECMA 262 patterns to behave as ECMA's: UTF, \uXXXX and
 * \u{...} (ALT_BSUX and EXTRA_ALT_BSUX), $ only at the very end
 * (DOLLAR_ENDONLY), '.' stopping at CR and LF; never anchored: a pattern
 * matches anywhere in the string, as ECMA's test() does. Each pattern is
 * JIT-compiled when PCRE2 can (the interpreter runs it otherwise); matches
 * stop at SX_MATCH_LIMIT steps of backtracking. */
#include "schema_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *pcre_malloc(size_t n, void *data) {
    (void)data;
    return malloc(n);
}

static void pcre_free(void *p, void *data) {
    (void)data;
    free(p);
}

int sx_regex_init(schema *s) {
    s->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, NULL);
    if (!s->gctx) return -1;
    s->cctx = pcre2_compile_context_create(s->gctx);
    s->mctx = pcre2_match_context_create(s->gctx);
    if (!s->cctx || !s->mctx) return -1;
    pcre2_set_compile_extra_options(s->cctx, PCRE2_EXTRA_ALT_BSUX);
    pcre2_set_newline(s->cctx, PCRE2_NEWLINE_ANYCRLF);
    pcre2_set_match_limit(s->mctx, SX_MATCH_LIMIT);
    return 0;
}

void sx_regex_release(schema *s) {
    for (sx_regex *r = s->regexes; r; r = r->next) pcre2_code_free(r->re);
    pcre2_match_context_free(s->mctx);
    pcre2_compile_context_free(s->cctx);
    pcre2_general_context_free(s->gctx);
}

pcre2_code *sx_regex_compile(const schema *s, const char *src, size_t n, char *err, size_t cap) {
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, n, PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY, &code,
                                   &at, s->cctx);
    if (re) {
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* when it cannot, the interpreter runs it */
        return re;
    }
    if (code == PCRE2_ERROR_HEAP_FAILED || code == PCRE2_ERROR_NOMEMORY) {
        snprintf(err, cap, "%s", SCHEMA_OUT_OF_MEMORY);
    } else {
        char why[256];
        if (pcre2_get_error_message(code, (PCRE2_UCHAR *)why, sizeof why) < 0) snprintf(why, sizeof why, "error %d", code);
        snprintf(err, cap, "%s at offset %zu", why, (size_t)at);
    }
    return NULL;
}

/* Letters ECMA 262 (with the u flag) knows after a backslash; PCRE knows
 * more (\A \Z \z \G \Q \E \K \R \X \h ...), which a "regex" may not use. */
static int ecma_escapes_ok(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        char c = s[++i];
        if (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && !strchr("bBdDfnrtvsSwWcxukpP", c)) return 0;
    }
    return 1;
}

/* A "regex" format: 1 when src compiles as an ECMA 262 pattern would, 0
 * when not, -1 when out of memory. */
int sx_regex_format_ok(const schema *s, const char *src, size_t n) {
    char why[200];
    if (!ecma_escapes_ok(src, n)) return 0;
    pcre2_code *re = sx_regex_compile(s, src, n, why, sizeof why);
    if (re) {
        pcre2_code_free(re);
        return 1;
    }
    return strcmp(why, SCHEMA_OUT_OF_MEMORY) == 0 ? -1 : 0;
}
