/* SPDX-License-Identifier: MIT */
/* MMDS in the library: the configuration's setter, the VM's store (made
 * before the interfaces open, freed after they are gone) and the call that
 * replaces the document. The document is JSON text here: parsing and
 * merging JSON (PUT, PATCH) is the caller's (the CLI's json-c); the store
 * checks that the text is JSON and within the limit (devices/mmds.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/mmds.h"
#include "vmm/config.h"
#include "vmm/vm.h"

#define API __attribute__((visibility("default")))

API int cvmm_config_set_mmds(struct cvmm_config *c, const struct cvmm_mmds_config *m)
{
	err_clear(&c->err);
	if (!m || !m->version) {
		free((char *)c->mmds.data);
		memset(&c->mmds, 0, sizeof(c->mmds));
		return 0;
	}
	if (m->version != CVMM_MMDS_V1 && m->version != CVMM_MMDS_V2)
		return err_set(&c->err, EINVAL, "MMDS: version %d, V1 (1) or V2 (2)", m->version);
	if (m->ipv4_addr && (m->ipv4_addr >> 16) != 0xa9fe)
		return err_set(&c->err, EINVAL, "MMDS: the IPv4 address is not link local");
	if (!m->net_mask || m->net_mask >> CVMM_MAX_NETS)
		return err_set(&c->err, EINVAL,
			       "MMDS: no network interface, or one beyond the %d there may be",
			       CVMM_MAX_NETS);
	size_t limit = m->size_limit ? m->size_limit : MMDS_DEFAULT_LIMIT;
	char *data = NULL;
	if (m->data) {
		if (m->data_len > limit)
			return err_set(&c->err, EFBIG, "MMDS: the document is over %zu bytes",
				       limit);
		if (!mmds_json_valid(m->data, m->data_len))
			return err_set(&c->err, EINVAL, "MMDS: the document is not JSON");
		data = malloc(m->data_len + 1);
		if (!data)
			return err_set(&c->err, ENOMEM, "out of memory");
		memcpy(data, m->data, m->data_len);
		data[m->data_len] = '\0';
	}
	free((char *)c->mmds.data);
	c->mmds = *m;
	c->mmds.data = data;
	return 0;
}

int vm_mmds_open(struct vm *vm, const struct cvmm_config *c, struct err *e)
{
	vm->cfg.mmds.data = NULL; /* the caller's */
	vm->cfg.mmds_store = NULL;
	if (!c->mmds.version)
		return 0;
	if (c->mmds.net_mask >> c->nnets)
		return err_set(e, EINVAL, "MMDS: on interface %u of %u",
			       31 - (unsigned)__builtin_clz(c->mmds.net_mask), c->nnets);
	struct mmds_store *s;
	int r = mmds_store_new(&s, c->mmds.version, c->mmds.ipv4_addr, c->mmds.imds_compat,
			       c->mmds.size_limit, e);
	if (r < 0)
		return r;
	vm->cfg.mmds_store = s;
	if (c->mmds.data && (r = mmds_store_put(s, c->mmds.data, c->mmds.data_len)) < 0)
		return err_set(e, -r, "MMDS: the document: %s", strerror(-r));
	return 0;
}

void vm_mmds_close(struct vm *vm)
{
	mmds_store_free(vm->cfg.mmds_store);
	vm->cfg.mmds_store = NULL;
}

API int cvmm_vm_mmds_put(struct cvmm_vm *handle, const char *json, unsigned long len)
{
	struct vm *vm = (struct vm *)handle;
	if (!vm->cfg.mmds_store)
		return err_shared_set(&vm->err, ENODEV, "the VM has no MMDS");
	int r = mmds_store_put(vm->cfg.mmds_store, json, len);
	if (r == -EFBIG)
		return err_shared_set(&vm->err, EFBIG, "MMDS: the document is over %zu bytes",
				      vm->cfg.mmds_store->limit);
	if (r < 0)
		return err_shared_set(&vm->err, -r, "MMDS: %s",
				      r == -EINVAL ? "the document is not JSON" : strerror(-r));
	return 0;
}
