/* eventapi-sandbox: multipart/form-data bodies read as they stream in
 * (Losant's upload actions, docs/PROTOCOLS.md 1.12): each part's name,
 * filename, Content-Type, size and FNV-1a 64 digest, and its bytes when it
 * is small; the body itself is never held, so any size takes little
 * memory. Past --upload-max the rest is counted and dropped. */
#include "front.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PARTS 64          /* parts of one body at most */
#define MAX_HEADERS 8192      /* bytes of one part's header block at most */
#define MAX_BOUNDARY 70       /* RFC 2046 */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

enum where { W_PREAMBLE, W_AFTER, W_HEADERS, W_DATA, W_EPILOGUE, W_DONE };

struct sb_upload {
    enum sb_upload_state state;
    const char *why;                /* static text of a NOT_MULTIPART or MALFORMED state */
    char too_large[80];             /* the text of TOO_LARGE */
    enum where at;
    char delim[MAX_BOUNDARY + 5];   /* "\r\n--" boundary */
    size_t dlen, matched;           /* bytes of delim matched so far */
    char after[2];                  /* the two bytes after a delimiter */
    size_t nafter;
    char *head;                     /* the part's header block so far */
    size_t head_len;
    sb_part parts[MAX_PARTS];
    int nparts;
    size_t kept_cap;                /* room of the current part's bytes */
    uint64_t bytes;                 /* body bytes received */
};

/* Marks the body malformed with why (the rest is counted and dropped). */
static void malformed(sb_upload *u, const char *why) {
    if (u->state != SB_UPLOAD_OK) return;
    u->state = SB_UPLOAD_MALFORMED;
    u->why = why;
}

/* The boundary parameter of a multipart/form-data Content-Type into out
 * (room MAX_BOUNDARY + 1); 0, or -1 when there is none or it is bad. */
static int boundary_of(const char *ct, char *out) {
    const char *p = ct ? strchr(ct, ';') : NULL;
    if (!ct || !sb_media_type_is(ct, "multipart/form-data")) return -1;
    for (; p; p = strchr(p + 1, ';')) {
        const char *v = p + 1;
        while (*v == ' ' || *v == '\t') v++;
        if (strncasecmp(v, "boundary=", 9)) continue;
        v += 9;
        int quoted = *v == '"';
        size_t n = quoted ? strcspn(v + 1, "\"") : strcspn(v, "; \t");
        if (n == 0 || n > MAX_BOUNDARY || (quoted && v[1 + n] != '"')) return -1;
        memcpy(out, v + quoted, n);
        out[n] = '\0';
        return strpbrk(out, "\r\n") ? -1 : 0;
    }
    return -1;
}

/* A new upload reader (front.h). */
sb_upload *sb_upload_new(const char *content_type, long long declared) {
    char boundary[MAX_BOUNDARY + 1];
    sb_upload *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    if (boundary_of(content_type, boundary) < 0) {
        u->state = SB_UPLOAD_NOT_MULTIPART;
        u->why = "The body must be multipart/form-data with a boundary";
    } else {
        u->dlen = (size_t)snprintf(u->delim, sizeof u->delim, "\r\n--%s", boundary);
        u->matched = 2; /* the first boundary may open the body without a CRLF before it */
    }
    snprintf(u->too_large, sizeof u->too_large, "The upload is larger than %llu bytes",
             (unsigned long long)sb_cfg.upload_max);
    if (declared >= 0 && (uint64_t)declared > sb_cfg.upload_max) u->state = SB_UPLOAD_TOO_LARGE;
    return u;
}

/* Unquotes the value of a header parameter at v (a quoted string with
 * backslash escapes, or a token) into a new string; NULL when out of memory. */
static char *param_value(const char *v) {
    size_t n = strlen(v);
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    if (*v != '"') {
        size_t len = strcspn(v, ";");
        while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
        memcpy(out, v, len);
        out[len] = '\0';
        return out;
    }
    for (v++; *v && *v != '"'; v++) {
        if (*v == '\\' && v[1]) v++;
        *o++ = *v;
    }
    *o = '\0';
    return out;
}

/* The value of parameter name in a Content-Disposition value d (a new
 * string), NULL when absent; *oom set when out of memory. */
static char *disposition_param(const char *d, const char *name, int *oom) {
    size_t n = strlen(name);
    for (const char *p = d; *p;) {
        while (*p == ';' || *p == ' ' || *p == '\t') p++;
        if (!strncasecmp(p, name, n) && p[n] == '=') {
            char *v = param_value(p + n + 1);
            if (!v) *oom = 1;
            return v;
        }
        int quoted = 0; /* to the next ';' outside quotes */
        for (; *p && (quoted || *p != ';'); p++) {
            if (*p == '\\' && quoted && p[1]) p++;
            else if (*p == '"') quoted = !quoted;
        }
    }
    return NULL;
}

/* Reads one header line of a part into p; -1 when out of memory. */
static int part_header(sb_upload *u, sb_part *p, char *line) {
    char *colon = strchr(line, ':'), *v;
    int oom = 0;
    if (!colon) return 0;
    *colon = '\0';
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++) continue;
    for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--) e[-1] = '\0';
    if (!strcasecmp(line, "Content-Type")) {
        free(p->content_type);
        if (!(p->content_type = strdup(v))) return -1;
    } else if (!strcasecmp(line, "Content-Disposition")) {
        if (strncasecmp(v, "form-data", 9) || (v[9] && v[9] != ';' && v[9] != ' ')) {
            malformed(u, "A part's Content-Disposition must be form-data");
            return 0;
        }
        free(p->name);
        free(p->filename);
        p->name = disposition_param(v + 9, "name", &oom);
        p->filename = disposition_param(v + 9, "filename", &oom);
        if (oom) return -1;
    }
    return 0;
}

/* Starts a part from its complete header block; -1 when out of memory. */
static int begin_part(sb_upload *u) {
    if (u->nparts == MAX_PARTS) {
        malformed(u, "The body has more than 64 parts");
        return 0;
    }
    sb_part *p = &u->parts[u->nparts++];
    memset(p, 0, sizeof *p);
    p->fnv = FNV_OFFSET;
    u->kept_cap = 0;
    for (char *line = u->head, *end; line && *line; line = end ? end + 2 : NULL) {
        end = strstr(line, "\r\n");
        if (end) *end = '\0';
        if (part_header(u, p, line) < 0) return -1;
    }
    if (u->state == SB_UPLOAD_OK && (!p->name || !*p->name))
        malformed(u, "A part has no Content-Disposition: form-data with a name");
    return 0;
}

/* Adds content bytes to the current part; -1 when out of memory. */
static int part_data(sb_upload *u, const char *data, size_t n) {
    sb_part *p = &u->parts[u->nparts - 1];
    for (size_t i = 0; i < n; i++) p->fnv = (p->fnv ^ (unsigned char)data[i]) * FNV_PRIME;
    p->size += n;
    if (p->size > SB_PART_KEEP) { /* too large to keep: only counted */
        free(p->bytes);
        p->bytes = NULL;
        return 0;
    }
    if (p->size > u->kept_cap || !p->bytes) {
        size_t cap = u->kept_cap ? u->kept_cap : 256;
        while (cap < p->size) cap *= 2;
        char *b = realloc(p->bytes, cap + 1);
        if (!b) return -1;
        p->bytes = b;
        u->kept_cap = cap;
    }
    memcpy(p->bytes + p->size - n, data, n);
    p->bytes[p->size] = '\0';
    return 0;
}

/* Takes the bytes after a delimiter: "--" ends the body, CRLF (after
 * optional spaces) opens a part's headers. */
static void after_delimiter(sb_upload *u, char c) {
    if (u->nafter == 0 && (c == ' ' || c == '\t')) return;
    u->after[u->nafter++] = c;
    if (u->nafter < 2) return;
    u->nafter = 0;
    if (u->after[0] == '-' && u->after[1] == '-') u->at = W_EPILOGUE;
    else if (u->after[0] == '\r' && u->after[1] == '\n') u->at = W_HEADERS;
    else malformed(u, "A boundary is followed by neither CRLF nor --");
    u->head_len = 0;
}

/* Takes one header byte; at the blank line the part begins. -1 when out of memory. */
static int header_byte(sb_upload *u, char c) {
    if (!u->head && !(u->head = malloc(MAX_HEADERS + 1))) return -1;
    if (u->head_len == MAX_HEADERS) {
        malformed(u, "A part's headers are longer than 8192 bytes");
        return 0;
    }
    u->head[u->head_len++] = c;
    u->head[u->head_len] = '\0';
    int blank = (u->head_len == 2 && !memcmp(u->head, "\r\n", 2))
                || (u->head_len >= 4 && !memcmp(u->head + u->head_len - 4, "\r\n\r\n", 4));
    if (!blank) return 0;
    u->at = W_DATA;
    u->matched = 0;
    return begin_part(u);
}

/* Scans data for the delimiter: bytes before it are the part's content
 * (dropped in the preamble); at a whole delimiter the part ends. Returns
 * the bytes used (the rest goes to the next state) or -1 when out of memory. */
static long long scan_data(sb_upload *u, const char *data, size_t n) {
    size_t from = 0, i;
    int keep = u->at == W_DATA;
    for (i = 0; i < n; i++) {
        if (data[i] == u->delim[u->matched]) {
            if (++u->matched == u->dlen) {
                size_t start = from, len = i + 1 >= u->dlen + from ? i + 1 - u->dlen - from : 0;
                if (keep && len && part_data(u, data + start, len) < 0) return -1;
                u->matched = 0;
                u->at = W_AFTER;
                return (long long)(i + 1);
            }
            continue;
        }
        if (u->matched > 0) { /* a partial match was content; the delimiter has one CR, at its start */
            size_t held = u->matched, here = i - from; /* bytes of this chunk in the match: at most held */
            size_t before = here >= held ? here - held : 0;
            if (keep && before && part_data(u, data + from, before) < 0) return -1;
            if (keep && part_data(u, u->delim, held) < 0) return -1;
            from = i;
            u->matched = 0;
            if (data[i] == u->delim[0]) u->matched = 1;
            if (u->matched) continue;
        }
    }
    size_t tail = n - from; /* bytes of this chunk not yet given: content, except a partial match */
    size_t in_match = u->matched < tail ? u->matched : tail;
    if (keep && tail - in_match && part_data(u, data + from, tail - in_match) < 0) return -1;
    return (long long)n;
}

/* Gives the next body bytes (front.h). */
int sb_upload_feed(sb_upload *u, const char *data, size_t n) {
    u->bytes += n;
    if (u->state == SB_UPLOAD_OK && u->bytes > sb_cfg.upload_max) u->state = SB_UPLOAD_TOO_LARGE;
    while (n > 0 && u->state == SB_UPLOAD_OK && u->at != W_EPILOGUE) {
        long long used = 1;
        if (u->at == W_PREAMBLE || u->at == W_DATA) used = scan_data(u, data, n);
        else if (u->at == W_AFTER) after_delimiter(u, *data);
        else if (header_byte(u, *data) < 0) used = -1;
        if (used < 0) return -1;
        data += used;
        n -= (size_t)used;
    }
    return 0;
}

/* Marks the end of the body (front.h): one not closed by "--boundary--" is malformed. */
void sb_upload_finish(sb_upload *u) {
    if (u->state == SB_UPLOAD_OK && u->at != W_EPILOGUE)
        malformed(u, u->nparts || u->at != W_PREAMBLE ? "The body ends inside a part (no closing boundary)"
                                                     : "The body holds no multipart boundary");
    u->at = W_DONE;
    free(u->head);
    u->head = NULL;
}

/* Frees an upload and its parts (front.h). */
void sb_upload_free(sb_upload *u) {
    if (!u) return;
    for (int i = 0; i < u->nparts; i++) {
        free(u->parts[i].name);
        free(u->parts[i].filename);
        free(u->parts[i].content_type);
        free(u->parts[i].bytes);
    }
    free(u->head);
    free(u);
}

/* The state of an upload and, unless OK, why (sandbox.h). */
enum sb_upload_state sb_upload_state(const sb_upload *u, const char **why) {
    if (why) *why = u->state == SB_UPLOAD_TOO_LARGE ? u->too_large : u->why;
    return u->state;
}

/* The number of parts read (sandbox.h). */
int sb_upload_count(const sb_upload *u) {
    return u->nparts;
}

/* Part i (sandbox.h). */
const sb_part *sb_upload_part(const sb_upload *u, int i) {
    return i >= 0 && i < u->nparts ? &u->parts[i] : NULL;
}

/* Body bytes received (sandbox.h). */
uint64_t sb_upload_bytes(const sb_upload *u) {
    return u->bytes;
}

/* The base64 text of b[0..n) as a JSON string (new reference), NULL when out of memory. */
static json_t *base64_json(const char *b, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)b[i] << 16 | (i + 1 < n ? (unsigned char)b[i + 1] << 8 : 0)
                     | (i + 2 < n ? (unsigned char)b[i + 2] : 0);
        *o++ = A[v >> 18 & 63];
        *o++ = A[v >> 12 & 63];
        *o++ = i + 1 < n ? A[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? A[v & 63] : '=';
    }
    *o = '\0';
    json_t *j = json_string(out);
    free(out);
    return j;
}

/* One part for the record: name, filename, content_type, size, fnv1a64,
 * and its bytes as data (UTF-8 text) or data_base64; NULL when out of memory. */
static json_t *part_json(const sb_part *p) {
    char fnv[17];
    snprintf(fnv, sizeof fnv, "%016llx", (unsigned long long)p->fnv);
    json_t *j = json_pack("{s:s, s:s?, s:s?, s:I, s:s}", "name", p->name ? p->name : "", "filename", p->filename,
                          "content_type", p->content_type, "size", (json_int_t)p->size, "fnv1a64", fnv);
    if (!j || p->size > SB_PART_KEEP) return j;
    const char *b = p->bytes ? p->bytes : "";
    json_t *text = json_stringn(b, (size_t)p->size);
    int rc = text ? json_object_set_new(j, "data", text) : json_object_set_new(j, "data_base64", base64_json(b, (size_t)p->size));
    if (rc < 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* The parts as a JSON list (front.h). */
json_t *sb_upload_json(const sb_upload *u) {
    json_t *list = json_array();
    for (int i = 0; list && i < u->nparts; i++)
        if (json_array_append_new(list, part_json(&u->parts[i])) < 0) {
            json_decref(list);
            list = NULL;
        }
    return list;
}
