/* eventapi.core: a parser of server-sent events (the text/event-stream
 * format of the HTML standard), fed the bytes of a stream as they come. No
 * Lua here: the fuzz target links it alone.
 *
 * Lines end with CRLF, LF or CR, also split across reads; a leading UTF-8
 * byte order mark is skipped; ':' starts a comment (a keep-alive); the fields
 * event, data (lines joined by LF), id (kept across messages, one holding a
 * NUL is ignored) and retry (digits only) are read; a blank line dispatches
 * the message when it has data. Only the line not finished yet is held, and
 * the held line, data and event type together never exceed max_message
 * bytes. */
#ifndef EVENTAPI_SSE_H
#define EVENTAPI_SSE_H

#include <stddef.h>

enum { SSE_OK = 0, SSE_TOO_LARGE, SSE_NO_MEMORY, SSE_STOP };

/* A dispatched message: event type ("message" when none was named), data,
 * the last event id ("" when none), and the retry field in milliseconds
 * (-1 when no retry field came since the last message). Returns SSE_OK or
 * another code, which the feed returns at once. */
typedef int (*sse_dispatch)(void *ud, const char *event, size_t event_len, const char *data, size_t data_len,
                            const char *id, size_t id_len, long retry_ms);

typedef struct sse_text {
    char *s;
    size_t len, cap;
} sse_text;

typedef struct sse_parser {
    sse_text line, data, event, id;
    size_t max_message;
    long retry_ms;    /* a retry field not yet passed to a dispatch, or -1 */
    int skip_lf;      /* the last read ended with CR: a leading LF belongs to it */
    int bom;          /* bytes of a leading byte order mark matched so far; 3: past the start */
    unsigned long comments; /* comment lines seen (keep-alives) */
    sse_dispatch dispatch;
    void *ud;
} sse_parser;

void sse_init(sse_parser *p, size_t max_message, sse_dispatch dispatch, void *ud);
int sse_feed(sse_parser *p, const char *bytes, size_t n); /* SSE_OK, or the first failure */
void sse_free(sse_parser *p);

#endif
