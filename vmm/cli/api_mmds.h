/* SPDX-License-Identifier: MIT */
/* The API's MMDS (docs/api.md): the document as the API holds it (json-c),
 * PUT and PATCH (RFC 7396's merge patch) on it within the size limit, its
 * text for the VM (cvmm_vm_mmds_put: compact, keys sorted as Firecracker's
 * serde_json writes them), and PUT /mmds/config's body. Answers are
 * Firecracker's status codes and messages. */
#ifndef CVMM_CLI_API_MMDS_H
#define CVMM_CLI_API_MMDS_H

#include <stdbool.h>
#include <stddef.h>

#include "cvmm/cvmm.h"

struct json_object;

struct api_mmds {
	struct json_object *doc;     /* owned, NULL: nothing PUT yet */
	unsigned limit;		     /* --mmds-size-limit; 0: the request body limit */
	struct cvmm_mmds_config cfg; /* PUT /mmds/config's (version 0: none); data NULL */
};

void api_mmds_free(struct api_mmds *m);
/* PUT (patch false) or PATCH /mmds with the body's len bytes: 0, or the
 * HTTP status (400, 413) with Firecracker's message in msg. */
__attribute__((warn_unused_result)) int api_mmds_update(struct api_mmds *m, const char *body,
							size_t len, bool patch, size_t limit,
							char *msg, size_t msglen);
/* The document's text (malloc'ed; "null" when nothing was PUT), its
 * length in *len; NULL: out of memory. */
char *api_mmds_text(const struct api_mmds *m, size_t *len);
/* PUT /mmds/config's body: version, network_interfaces (each one of the
 * nids interface ids, index i: net i), ipv4_address, imds_compat. 0 or
 * 400 with the message. */
__attribute__((warn_unused_result)) int api_mmds_config(struct api_mmds *m, const char *body,
							size_t len, const char *const *ids,
							unsigned nids, char *msg, size_t msglen);

/* PUT /mmds/config's settings as GET /vm/config shows them. */
struct json_object *api_mmds_config_json(const struct api_mmds *m, const char *const *ids,
					 unsigned nids);

#endif
