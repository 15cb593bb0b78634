/* eventapi-sandbox: Losant's upload actions (losant.h, docs/PROTOCOLS.md
 * 1.12): application.import, applications.import, file.upload and
 * notebook.upload, whose multipart/form-data bodies the front parsed as
 * they came (sb_request.upload, upload.c). The parts are checked against
 * the action's form; the imports answer 202 with a queued job, the others
 * the file or notebook. */
#include "losant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One upload action's form: the required part first, then the others. */
typedef struct upload_form {
    const char *action;
    const char *const parts[8];
} upload_form;

static const upload_form FORMS[] = {
    {"application.import", {"importBundle", "email", NULL}},
    {"applications.import",
     {"importBundle", "ownerId", "ownerType", "includeDevices", "includeDataTableRows", "includeFiles", "email", NULL}},
    {"file.upload", {"file", NULL}},
    {"notebook.upload", {"jupyterFile", NULL}},
    {NULL, {NULL}},
};

/* The part named name, or NULL. */
static const sb_part *part_named(const sb_upload *u, const char *name) {
    for (int i = 0; i < sb_upload_count(u); i++)
        if (!strcmp(sb_upload_part(u, i)->name, name)) return sb_upload_part(u, i);
    return NULL;
}

/* 1 when name is one of the form's parts. */
static int form_takes(const upload_form *f, const char *name) {
    for (int i = 0; f->parts[i]; i++)
        if (!strcmp(f->parts[i], name)) return 1;
    return 0;
}

/* The body's state, then every part against the form (known, given once,
 * the required one present); 0, or -1 with 413 or 400 answered. */
static int check_parts(const lg_call *g, const upload_form *f, const sb_upload *u) {
    const char *why;
    enum sb_upload_state st = sb_upload_state(u, &why);
    if (st != SB_UPLOAD_OK) {
        if (st == SB_UPLOAD_TOO_LARGE) sb_reply_error(g->c.res, 413, "PayloadTooLarge", "%s", why);
        else sb_reply_error(g->c.res, 400, "Validation", "%s", why);
        return -1;
    }
    for (int i = 0; i < sb_upload_count(u); i++) {
        const char *name = sb_upload_part(u, i)->name;
        if (!form_takes(f, name) || part_named(u, name) != sb_upload_part(u, i)) {
            sb_reply_error(g->c.res, 400, "Validation", "%s part '%s'", form_takes(f, name) ? "Repeated" : "Unknown",
                           name);
            return -1;
        }
    }
    if (!part_named(u, f->parts[0])) {
        sb_reply_error(g->c.res, 400, "Validation", "%s is required", f->parts[0]);
        return -1;
    }
    return 0;
}

/* 1 when the text part name is absent, or its bytes are one of the
 * values (NULL-terminated) or, with hex24, 24 hexadecimal characters. */
static int text_ok(const sb_upload *u, const char *name, const char *const *values, int hex24) {
    const sb_part *p = part_named(u, name);
    if (!p) return 1;
    if (!p->bytes || strlen(p->bytes) != p->size) return 0;
    if (hex24) return sb_is_hex24(p->bytes);
    for (int i = 0; values[i]; i++)
        if (!strcmp(values[i], p->bytes)) return 1;
    return 0;
}

/* The imports: ownerType and ownerId checked (400), then 202 with a queued job. */
static void import_job(const lg_call *g, const sb_upload *u) {
    static const char *const OWNER_TYPES[] = {"user", "organization", NULL};
    char id[25];
    if (!text_ok(u, "ownerType", OWNER_TYPES, 0)) {
        sb_reply_error(g->c.res, 400, "Validation", "ownerType must be user or organization");
        return;
    }
    if (!text_ok(u, "ownerId", NULL, 1)) {
        sb_reply_error(g->c.res, 400, "Validation", "ownerId must be 24 hexadecimal characters");
        return;
    }
    lg_new_id(g->c.req->now, id);
    lg_answer(g, 202, json_pack("{s:b, s:s, s:b}", "jobQueued", 1, "jobId", id, "success", 1));
}

/* Sets the members of a file or notebook document after an upload of part p;
 * 0 or -1 (out of memory). */
static int mark_uploaded(json_t *doc, const lg_call *g, const sb_part *p, int file) {
    char now[32];
    sb_ls_iso((long long)(g->c.req->now * 1000.0), now);
    if (json_object_set_new(doc, "lastUpdated", json_string(now)) < 0) return -1;
    if (!file)
        return p->filename ? json_object_set_new(doc, "jupyterFileName", json_string(p->filename)) : 0;
    if (json_object_set_new(doc, "status", json_string("completed")) < 0
        || json_object_set_new(doc, "fileSize", json_integer((json_int_t)p->size)) < 0
        || (p->content_type && json_object_set_new(doc, "contentType", json_string(p->content_type)) < 0)
        || (g->c.app && json_object_set_new(doc, "applicationId", json_string(g->c.app)) < 0))
        return -1;
    if (!json_object_get(doc, "type") && json_object_set_new(doc, "type", json_string("file")) < 0) return -1;
    if (!json_object_get(doc, "name") && p->filename && json_object_set_new(doc, "name", json_string(p->filename)) < 0)
        return -1;
    return 0;
}

/* file.upload and notebook.upload: the kept document (a notebook must
 * exist: check_ids answered 404; a file the sandbox does not keep is
 * answered from the path) updated and answered 200. */
static void upload_into(const lg_call *g, const sb_upload *u, int file) {
    char coll[128];
    json_t *doc = NULL;
    const char *id = g->seg[3];
    snprintf(coll, sizeof coll, "applications/%s/%s", g->c.app, file ? "files" : "notebooks");
    int found = lg_doc_get(g->c.srv->db, coll, id, &doc);
    if (found == 0 && file) doc = json_pack("{s:s}", "id", id);
    int failed = found < 0 || !doc || mark_uploaded(doc, g, part_named(u, file ? "file" : "jupyterFile"), file) < 0
                 || (found > 0 && lg_doc_put(g->c.srv->db, coll, id, doc) < 0);
    if (found == 0 && !file) {
        lg_not_found(g, "notebookId");
        return;
    }
    if (failed) json_decref(doc);
    lg_answer(g, g->a->status, failed ? NULL : doc);
}

/* The upload actions (losant.h). */
int lg_upload_action(const lg_call *g) {
    const upload_form *f = FORMS;
    while (f->action && strcmp(f->action, g->a->name)) f++;
    if (!f->action) return 0;
    if (!g->c.req->upload) { /* not read as an upload (a HEAD, say): nothing to check */
        sb_reply_error(g->c.res, 400, "Validation", "The body must be multipart/form-data with a boundary");
        return 1;
    }
    if (check_parts(g, f, g->c.req->upload) < 0) return 1;
    if (strstr(f->action, "import")) import_job(g, g->c.req->upload);
    else upload_into(g, g->c.req->upload, !strcmp(f->action, "file.upload"));
    return 1;
}
