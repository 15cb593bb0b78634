/* eventapi-sandbox: the request as text: the one percent-decoder of the
 * sandbox, path segments and query params (docs/PROTOCOLS.md 4.1),
 * form-encoded fields, header and param lookups. */
#include "sandbox.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SEGMENTS 64
#define MAX_PARAMS 256

/* Value of one hex digit, or -1. */
static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (sandbox.h). */
size_t sb_percent_decode(const char *s, size_t n, int plus, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (plus && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* Decodes s[0..n) into a new string (sandbox.h). */
char *sb_decode_text(const char *s, size_t n, int plus) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t len = sb_percent_decode(s, n, plus, out);
    if (memchr(out, '\0', len)) { /* a C string would end at the NUL: keep the text as received */
        memcpy(out, s, n);
        len = n;
    }
    out[len] = '\0';
    return out;
}

/* Splits the raw URI into decoded path segments and query params (sandbox.h). */
int sb_parse_uri(sb_request *req, const char *uri) {
    const char *q = strchr(uri, '?');
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);
    const char *p = uri, *end = uri + path_len;
    if (p < end && *p == '/') p++;
    req->seg = calloc(MAX_SEGMENTS, sizeof *req->seg);
    req->query = calloc(MAX_PARAMS, sizeof *req->query);
    if (!req->seg || !req->query) return -1;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        if (req->nseg == MAX_SEGMENTS) return -1;
        if (!(req->seg[req->nseg++] = sb_decode_text(p, (size_t)(stop - p), 0))) return -1;
        if (!slash) break;
        p = slash + 1;
        if (p == end) { /* trailing slash: an empty last segment */
            if (req->nseg == MAX_SEGMENTS) return -1;
            if (!(req->seg[req->nseg++] = strdup(""))) return -1;
        }
    }
    if (!q) return 0;
    for (p = q + 1; *p;) {
        const char *amp = strchr(p, '&');
        const char *stop = amp ? amp : p + strlen(p);
        if (stop > p) {
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            sb_param *param;
            if (req->nquery == MAX_PARAMS) return -1;
            param = &req->query[req->nquery++];
            param->name = sb_decode_text(p, (size_t)((eq ? eq : stop) - p), 1);
            param->value = eq ? sb_decode_text(eq + 1, (size_t)(stop - eq - 1), 1) : strdup("");
            if (!param->name || !param->value) return -1;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return 0;
}

/* Frees what sb_parse_uri allocated, and the header list (sandbox.h). */
void sb_free_request(sb_request *req) {
    for (int i = 0; i < req->nseg; i++) free(req->seg[i]);
    for (int i = 0; i < req->nquery; i++) {
        free(req->query[i].name);
        free(req->query[i].value);
    }
    free(req->seg);
    free(req->query);
    free(req->headers);
}

/* The value of a form-encoded field of body[0..len) (sandbox.h). */
char *sb_form_get(const char *body, size_t len, const char *name, int *oom) {
    size_t n = strlen(name);
    const char *p = body, *end = body + len;
    *oom = 0;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t name_len = (size_t)((eq ? eq : stop) - p);
        char *decoded = sb_decode_text(p, name_len, 1);
        if (!decoded) {
            *oom = 1;
            return NULL;
        }
        int match = strlen(decoded) == n && memcmp(decoded, name, n) == 0;
        free(decoded);
        if (match) {
            char *value = eq ? sb_decode_text(eq + 1, (size_t)(stop - eq - 1), 1) : strdup("");
            if (!value) *oom = 1;
            return value;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

/* Header lookup, without regard to case (sandbox.h). */
const char *sb_header_get(const sb_request *req, const char *name) {
    for (int i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
    return NULL;
}

/* Query param lookup, exact name (sandbox.h). */
const char *sb_query_get(const sb_request *req, const char *name) {
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].name, name) == 0) return req->query[i].value;
    return NULL;
}

/* How many times a query param was given (sandbox.h). */
int sb_query_count(const sb_request *req, const char *name) {
    int n = 0;
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].name, name) == 0) n++;
    return n;
}

/* 1 when the Content-Type ct is exactly the media type, parameters allowed (sandbox.h). */
int sb_media_type_is(const char *ct, const char *type) {
    size_t n = strlen(type);
    if (!ct) return 0;
    while (*ct == ' ' || *ct == '\t') ct++;
    if (strncasecmp(ct, type, n) != 0) return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t') ct++;
    return *ct == '\0' || *ct == ';';
}
