/* Placeholder so the sandbox links while the service is being written; replaced by the service's implementation. */
#include "sandbox.h"

int sb_losant_schema(sqlite3 *db) { (void)db; return 0; }
int sb_losant_seed(sb_server *srv, json_t *seed, char *err, size_t errlen) { (void)srv; (void)seed; (void)err; (void)errlen; return 0; }
int sb_losant_route(sb_server *srv, const sb_request *req, sb_response *res) { (void)srv; (void)req; (void)res; return 0; }
