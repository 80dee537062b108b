/* SPDX-License-Identifier: MIT */
/* --config FILE: the whole VM as one JSON object, the same fields as the
 * command-line flags (docs/api.md). Parsed with json-c; no I/O besides the
 * caller's buffers, so it is unit-tested and fuzzed. */
#ifndef CVMM_CLI_CONFIG_JSON_H
#define CVMM_CLI_CONFIG_JSON_H

#include <stddef.h>

#include "cvmm/cvmm.h"

/* The largest config accepted (bytes). */
#define CLI_CONFIG_MAX (1u << 20)

/* Applies the JSON text (len bytes, no NUL needed) to cfg through the
 * cvmm_config_* setters. Returns 0, or a negative errno with a one-line
 * message in err naming the field: unknown fields, wrong types, values
 * the setters refuse and a missing "kernel" are all errors. */
__attribute__((warn_unused_result)) int cli_config_json(struct cvmm_config *cfg, const char *text,
							size_t len, char *err, size_t errlen);

#endif
