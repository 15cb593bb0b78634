/* eventapi.core uploads: a Losant upload action's form params checked and
 * described at the call (upload_form_part, from build.c), and a transfer
 * that posts them as multipart/form-data (core.upload): a curl_mime whose
 * parts are written as the official client's form-data package writes
 * them, a file from disk read as it is sent (never whole in memory).
 *
 * A part description (a Lua table, the list build.c leaves in the data slot):
 *   {name=, value=}                                  a text field
 *   {name=, data=, [filename=], content_type=, size=} bytes
 *   {name=, path=, filename=, content_type=, size=}  a file, read as it is sent */
#include "loop.h"
#include "operation.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define UPLOAD_MIME "eventapi.UploadMime" /* metatable of the box that owns a curl_mime until a transfer does */

/* ---- content types ---- */

/* The types the npm package mime-types (2.1.35, which form-data uses) gives
 * for common extensions; any other is application/octet-stream, as
 * form-data falls back to for a file or a Buffer (ipynb is not in its table). */
static const char *const TYPES[][2] = {
    {"7z", "application/x-7z-compressed"}, {"bmp", "image/bmp"}, {"bz2", "application/x-bzip2"},
    {"css", "text/css"}, {"csv", "text/csv"}, {"gif", "image/gif"}, {"gz", "application/gzip"},
    {"htm", "text/html"}, {"html", "text/html"}, {"jpeg", "image/jpeg"}, {"jpg", "image/jpeg"},
    {"js", "application/javascript"}, {"json", "application/json"}, {"log", "text/plain"},
    {"md", "text/markdown"}, {"mp3", "audio/mpeg"}, {"mp4", "video/mp4"}, {"pdf", "application/pdf"},
    {"png", "image/png"}, {"svg", "image/svg+xml"}, {"tar", "application/x-tar"}, {"tif", "image/tiff"},
    {"tiff", "image/tiff"}, {"tsv", "text/tab-separated-values"}, {"txt", "text/plain"},
    {"wasm", "application/wasm"}, {"webp", "image/webp"}, {"xml", "application/xml"},
    {"xz", "application/x-xz"}, {"yaml", "text/yaml"}, {"yml", "text/yaml"}, {"zip", "application/zip"},
};

/* The content type form-data gives a file named name (mime-types' lookup:
 * the extension of "x." .. name, case-insensitive), else octet-stream. */
static const char *type_of_name(const char *whole) {
    char name[256]; /* without trailing slashes, as Node's path.extname reads it */
    size_t len = strlen(whole);
    while (len > 0 && whole[len - 1] == '/') len--;
    if (len >= sizeof name) whole += len - (sizeof name - 1), len = sizeof name - 1; /* the end holds the extension */
    memcpy(name, whole, len);
    name[len] = '\0';
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    const char *ext;
    if (!slash) ext = dot ? dot + 1 : name; /* "x." .. name: a name with no dot is all extension */
    else ext = dot && dot > slash + 1 ? dot + 1 : ""; /* a leading dot starts no extension */
    char lower[8];
    size_t n = strlen(ext);
    if (n == 0 || n >= sizeof lower) return "application/octet-stream";
    for (size_t i = 0; i <= n; i++) lower[i] = (char)(ext[i] >= 'A' && ext[i] <= 'Z' ? ext[i] + 32 : ext[i]);
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (strcmp(TYPES[i][0], lower) == 0) return TYPES[i][1];
    return "application/octet-stream";
}

/* ---- at the call: checking a form param (build.c) ---- */

/* Raises InvalidParams {message=, param=} naming param p of s (message formatted). */
static int part_invalid(lua_State *L, const spec *s, const param *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap); /* +1 */
    va_end(ap);
    eventapi_push_error(L, "InvalidParams", "%s: %s %s", s->name, p->name, lua_tostring(L, -1)); /* +2 */
    lua_pushstring(L, p->name);
    lua_setfield(L, -2, "param");
    return lua_error(L);
}

/* 1 when the n bytes at text hold CR, LF or NUL (no header may carry them). */
static int has_control(const char *text, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (text[i] == '\r' || text[i] == '\n' || text[i] == '\0') return 1;
    return 0;
}

/* Reads the optional string field key of the file table at v into the part
 * at part (same key); raises unless it is a string without CR, LF or NUL.
 * Leaves the stack as it was. */
static const char *opt_text(lua_State *L, const spec *s, const param *p, int v, int part, const char *key) {
    int t = lua_getfield(L, v, key); /* +1 */
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    size_t n;
    const char *text = lua_tolstring(L, -1, &n);
    if (t != LUA_TSTRING || n == 0) part_invalid(L, s, p, "%s must be a non-empty string", key);
    if (has_control(text, n)) part_invalid(L, s, p, "%s must not contain CR, LF or NUL", key);
    lua_setfield(L, part, key); /* -1: the part keeps the string alive */
    lua_getfield(L, part, key);
    text = lua_tostring(L, -1);
    lua_pop(L, 1);
    return text;
}

/* Checks the file at path for param p (open it, stat it: a readable
 * regular file) and returns its size; raises InvalidParams naming why. */
static lua_Integer check_file(lua_State *L, const spec *s, const param *p, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY); /* O_NONBLOCK: a FIFO does not hang the call */
    struct stat st;
    if (fd < 0) return part_invalid(L, s, p, "cannot be read from '%s': %s", path, strerror(errno));
    int err = fstat(fd, &st) == 0 ? 0 : errno;
    close(fd);
    if (err) return part_invalid(L, s, p, "cannot be read from '%s': %s", path, strerror(err));
    if (S_ISDIR(st.st_mode)) return part_invalid(L, s, p, "names a directory, not a file: '%s'", path);
    if (!S_ISREG(st.st_mode)) return part_invalid(L, s, p, "must be a regular file: '%s' is not", path);
    return (lua_Integer)st.st_size;
}

/* The basename of path as form-data writes a stream's filename (Node's
 * path.basename: what follows the last '/'). */
static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Appends to the list at parts the description of form param p of s whose
 * value is at v (module comment): a kind=file param takes a string (its
 * bytes), {path=, [filename=], [content_type=]} or {data=, [filename=],
 * [content_type=]}; a text field what a string param takes (value_text:
 * its enum checked). A file is opened and stat'ed now. Raises InvalidParams
 * naming the param. Leaves the stack as it was. */
void upload_form_part(lua_State *L, const spec *s, const param *p, int v, int parts) {
    v = lua_absindex(L, v);
    parts = lua_absindex(L, parts);
    luaL_checkstack(L, 8, "an upload's part");
    lua_createtable(L, 0, 6); /* +1: the part */
    int part = lua_gettop(L);
    lua_pushstring(L, p->name);
    lua_setfield(L, part, "name");
    if (p->kind != KIND_FILE) { /* a text field: its text as a query value would have it */
        eventapi_buf b;
        eventapi_buf_init(L, &b); /* +2 */
        value_text(L, s, p, v, &b);
        eventapi_buf_finish(&b);
        lua_setfield(L, part, "value"); /* +1 */
    } else if (lua_type(L, v) == LUA_TSTRING) { /* bytes, as the official client sends a Buffer */
        lua_pushvalue(L, v);
        lua_setfield(L, part, "data");
        lua_pushinteger(L, (lua_Integer)lua_rawlen(L, v));
        lua_setfield(L, part, "size");
        lua_pushliteral(L, "application/octet-stream");
        lua_setfield(L, part, "content_type");
    } else if (lua_type(L, v) == LUA_TTABLE) {
        lua_pushnil(L); /* every key is one the file table takes */
        while (lua_next(L, v)) {
            lua_pop(L, 1);
            const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            if (strlen(k) != lua_rawlen(L, -1) /* a NUL inside: not one of the names */
                || (strcmp(k, "path") && strcmp(k, "data") && strcmp(k, "filename") && strcmp(k, "content_type")))
                part_invalid(L, s, p, "takes path or data, filename and content_type, not '%s'", luaL_tolstring(L, -1, NULL));
        }
        int has_path = lua_getfield(L, v, "path") != LUA_TNIL; /* +2 */
        int has_data = lua_getfield(L, v, "data") != LUA_TNIL; /* +3 */
        if (has_path == has_data) part_invalid(L, s, p, "must be a table with either path or data");
        if (has_data && lua_type(L, -1) != LUA_TSTRING)
            part_invalid(L, s, p, "data must be a string, not a %s", luaL_typename(L, -1));
        if (has_path && (lua_type(L, -2) != LUA_TSTRING || lua_rawlen(L, -2) == 0))
            part_invalid(L, s, p, "path must be a non-empty string");
        if (has_path && strlen(lua_tostring(L, -2)) != lua_rawlen(L, -2)) part_invalid(L, s, p, "path must not contain NUL");
        const char *filename = opt_text(L, s, p, v, part, "filename");
        const char *type = opt_text(L, s, p, v, part, "content_type");
        if (has_path) {
            const char *path = lua_tostring(L, -2);
            lua_Integer size = check_file(L, s, p, path);
            lua_pushvalue(L, -2);
            lua_setfield(L, part, "path");
            lua_pushinteger(L, size);
            lua_setfield(L, part, "size");
            if (!filename) {
                filename = base_name(path);
                if (!*filename) part_invalid(L, s, p, "names a directory, not a file: '%s'", path);
                if (strpbrk(filename, "\r\n")) /* a header line of its own: refused as an explicit filename is */
                    part_invalid(L, s, p, "the file's name must not contain CR or LF (give filename =)");
                lua_pushstring(L, filename);
                lua_setfield(L, part, "filename");
            }
        } else {
            lua_pushvalue(L, -1);
            lua_setfield(L, part, "data");
            lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
            lua_setfield(L, part, "size");
        }
        if (!type) {
            lua_pushstring(L, filename ? type_of_name(filename) : "application/octet-stream");
            lua_setfield(L, part, "content_type");
        }
        lua_pop(L, 2); /* +1 */
    } else {
        part_invalid(L, s, p, "must be a string (its bytes), {path=} or {data=}, not a %s", luaL_typename(L, v));
    }
    lua_rawseti(L, parts, (lua_Integer)lua_rawlen(L, parts) + 1); /* 0 */
}

/* ---- at the send: a curl_mime of the parts ---- */

/* A file part's source: the file, read at its offset as curl asks. */
typedef struct upload_file {
    int fd;
    curl_off_t size; /* the size at the call: exactly this many bytes are sent */
    curl_off_t pos;
} upload_file;

/* curl read callback of a file part: the next bytes; aborts the transfer
 * when the file cannot be read, ends early (truncated) or has grown by the
 * time its last byte is read: no partial or mixed upload is sent as a whole. */
static size_t file_read(char *buf, size_t size, size_t n, void *arg) {
    upload_file *f = arg;
    size_t want = size * n;
    if ((curl_off_t)want > f->size - f->pos) want = (size_t)(f->size - f->pos);
    if (want == 0) return 0;
    ssize_t got;
    do got = pread(f->fd, buf, want, (off_t)f->pos);
    while (got < 0 && errno == EINTR);
    if (got <= 0) return CURL_READFUNC_ABORT; /* a read error, or the file is shorter than at the call */
    f->pos += got;
    if (f->pos == f->size) {
        struct stat st;
        if (fstat(f->fd, &st) != 0 || st.st_size != f->size) return CURL_READFUNC_ABORT; /* it changed meanwhile */
    }
    return (size_t)got;
}

/* curl seek callback of a file part (a rewind to send it again). */
static int file_seek(void *arg, curl_off_t offset, int origin) {
    upload_file *f = arg;
    if (origin != SEEK_SET || offset < 0 || offset > f->size) return CURL_SEEKFUNC_FAIL;
    f->pos = offset;
    return CURL_SEEKFUNC_OK;
}

/* curl free callback of a file part: closes the file. */
static void file_free(void *arg) {
    upload_file *f = arg;
    close(f->fd);
    free(f);
}

/* The box of a curl_mime: owns it until a transfer does (then NULL). */
typedef struct upload_box {
    curl_mime *mime;
} upload_box;

/* __gc of a box: frees a curl_mime no transfer took (a raise midway). */
static int box_gc(lua_State *L) {
    upload_box *b = luaL_checkudata(L, 1, UPLOAD_MIME);
    curl_mime_free(b->mime); /* NULL: nothing */
    b->mime = NULL;
    return 0;
}

/* Frees the box's curl_mime now and raises an eventapi.Error of type with
 * the formatted message. */
static int box_fail(lua_State *L, upload_box *b, const char *type, const char *fmt, ...) {
    curl_mime_free(b->mime);
    b->mime = NULL;
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return eventapi_error(L, type, "%s", lua_tostring(L, -1));
}

/* Adds the file part at path (size bytes at the call) to part: opened now,
 * read as it is sent. -> NULL, or the message of why not (errno's text;
 * "changed" when its size is not the call's). No Lua call. */
static const char *add_file(curl_mimepart *part, const char *path, curl_off_t size, int *nomem) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return strerror(errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != size) {
        close(fd);
        return "it changed since the call";
    }
    upload_file *f = malloc(sizeof *f);
    if (!f) {
        close(fd);
        *nomem = 1;
        return "out of memory";
    }
    f->fd = fd;
    f->size = size;
    f->pos = 0;
    if (curl_mime_data_cb(part, size, file_read, file_seek, file_free, f) != CURLE_OK) {
        file_free(f);
        *nomem = 1;
        return "out of memory";
    }
    return NULL;
}

/* The string field key of the part table at part, or NULL (len: its length). Pushes nothing. */
static const char *field(lua_State *L, int part, const char *key, size_t *len) {
    lua_getfield(L, part, key);
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
    lua_pop(L, 1); /* the part table keeps it alive */
    return v;
}

/* Adds the part described by the table at idx to the box's mime; raises
 * (the mime freed) when it cannot. */
static void add_part(lua_State *L, upload_box *b, int idx) {
    size_t n = 0, dlen = 0;
    if (!lua_istable(L, idx)) box_fail(L, b, "InvalidParams", "an upload's part must be a table");
    const char *name = field(L, idx, "name", &n);
    const char *value = field(L, idx, "value", &dlen);
    const char *data = value ? value : field(L, idx, "data", &dlen);
    const char *path = field(L, idx, "path", &n);
    const char *filename = field(L, idx, "filename", &n);
    const char *type = field(L, idx, "content_type", &n);
    lua_getfield(L, idx, "size");
    int has_size = lua_isinteger(L, -1);
    curl_off_t size = (curl_off_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (!name || (!data && !path) || (path && (!has_size || size < 0)))
        box_fail(L, b, "InvalidParams", "an upload's part needs a name and a value, data or a path with its size");
    /* from here no Lua call until the part is added: nothing to leak if one raised */
    int nomem = 0;
    const char *why = NULL;
    curl_mimepart *part = curl_mime_addpart(b->mime);
    if (!part || curl_mime_name(part, name) != CURLE_OK) nomem = 1;
    else if (path) why = add_file(part, path, size, &nomem);
    else if (curl_mime_data(part, data, dlen) != CURLE_OK) nomem = 1;
    if (!nomem && !why && filename && curl_mime_filename(part, filename) != CURLE_OK) nomem = 1;
    if (!nomem && !why && type && !value && curl_mime_type(part, type) != CURLE_OK) nomem = 1;
    if (nomem) box_fail(L, b, "OutOfMemory", "out of memory");
    if (why) {
        eventapi_push_error(L, "InvalidParams", "%s: '%s' cannot be sent: %s", name, path, why);
        lua_pushstring(L, name);
        lua_setfield(L, -2, "param");
        curl_mime_free(b->mime);
        b->mime = NULL;
        lua_error(L);
    }
}

/* Sets up easy handle e for the upload of t (transfer.c's eventapi_start,
 * before the transfer starts): the MIME post, no total timeout (a long
 * upload is not cut; connect and idle limits stay), and send progress
 * stamps the transfer as active for its idle limit. The handle goes back to
 * the pool reset (t->large_body). -> curl's error. */
CURLcode upload_set(CURL *e, transfer *t, void *mime, const char *method) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL); /* a pooled handle keeps the last call's PATCH or DELETE */
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    CURLcode rc = curl_easy_setopt(e, CURLOPT_MIMEPOST, (curl_mime *)mime);
    if (rc == CURLE_OK && strcmp(method, "POST") != 0) rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (rc != CURLE_OK) return rc;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, upload_xferinfo);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    return CURLE_OK;
}

/* curl progress callback of an upload: bytes sent count as activity for
 * the idle limit (check_idle), as bytes received do. */
int upload_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    transfer *t = ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    if (ulnow != t->uploaded) {
        t->uploaded = ulnow;
        t->seen = t->lp->now;
    }
    return 0;
}

/* protected part of l_upload (the loop its upvalue 1): starts the transfer
 * (eventapi_start) of config 1, method 2, url 3, headers 5 with the mime
 * at 6 (a light userdata). Pushes the promise. */
static int start_upload(lua_State *L) {
    eventapi_extra x;
    memset(&x, 0, sizeof x);
    x.mime = lua_touserdata(L, 6);
    eventapi_start(L, 1, lua_tostring(L, 2), lua_tostring(L, 3), NULL, 0, 5, 0, NULL, 0, NULL, &x);
    return 1;
}

/* core.upload(config, method, url, parts, headers) -> promise, id: posts the
 * parts (a list of part descriptions, the module comment's) as
 * multipart/form-data, a file read from disk as it is sent. headers (a list
 * of "Name: value") replaces the config's lists and must not name a
 * Content-Type (curl writes the multipart one with its boundary). The
 * promise fulfils with the response table, as core.request's. Raises
 * InvalidParams when a file cannot be opened or changed since the call. */
static int l_upload(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_CONFIG);
    luaL_checkstring(L, 2);
    luaL_checkstring(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TTABLE);
    lua_settop(L, 5);
    upload_box *b = lua_newuserdatauv(L, sizeof *b, 0); /* 6 */
    b->mime = NULL;
    luaL_setmetatable(L, UPLOAD_MIME);
    b->mime = curl_mime_init(NULL);
    if (!b->mime) return eventapi_error(L, "OutOfMemory", "out of memory");
    lua_Integer n = (lua_Integer)lua_rawlen(L, 4);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 4, i); /* 7 */
        add_part(L, b, 7);
        lua_pop(L, 1);
    }
    /* The transfer owns the mime once eventapi_start returns; if it raises,
     * the box still does and frees it here. */
    lua_pushvalue(L, lua_upvalueindex(1)); /* the loop, which eventapi_start reads */
    lua_pushcclosure(L, start_upload, 1); /* 7 */
    for (int i = 1; i <= 5; i++) lua_pushvalue(L, i);
    lua_pushlightuserdata(L, b->mime);
    if (lua_pcall(L, 6, 1, 0) != LUA_OK) {
        curl_mime_free(b->mime);
        b->mime = NULL;
        return lua_error(L);
    }
    b->mime = NULL; /* 7: the promise */
    lua_pushinteger(L, eventapi_loop(L)->next_id);
    return 2;
}

/* core.upload_progress(id) -> sent, total: the bytes of an upload in flight
 * sent so far and its whole body's size (total -1 when unknown); nothing
 * when no transfer in flight has that id. */
static int l_upload_progress(lua_State *L) {
    loop *lp = eventapi_loop(L);
    lua_Integer id = luaL_checkinteger(L, 1);
    for (transfer *t = lp->active; t; t = t->next) {
        if (t->id != id) continue;
        curl_off_t sent = 0, total = -1;
        curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &sent);
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &total);
        lua_pushinteger(L, (lua_Integer)sent);
        lua_pushinteger(L, (lua_Integer)total);
        return 2;
    }
    return 0;
}

/* Registers core.upload and core.upload_progress into the module table on
 * top, the loop just below it as their upvalue 1, and makes the box's
 * metatable; leaves the stack as it was. */
void eventapi_open_upload(lua_State *L) {
    static const luaL_Reg fns[] = {{"upload", l_upload}, {"upload_progress", l_upload_progress}, {NULL, NULL}};
    if (luaL_newmetatable(L, UPLOAD_MIME)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, fns, 1);
}
