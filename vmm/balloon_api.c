/* SPDX-License-Identifier: MIT */
/* The balloon's calls on a VM (cvmm.h: cvmm_vm_set_balloon_target, ...):
 * its device found in the VM's device list, its own functions called. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "devices/balloon.h"
#include "vmm/vm.h"

#define API __attribute__((visibility("default")))

/* The VM's balloon in *g: 0, or the call's error set. live: not for a VM
 * that exited. */
static int vm_balloon(struct vm *vm, bool live, struct balloon **g)
{
	if (live && atomic_load(&vm->stopping))
		return err_shared_set(&vm->err, ESHUTDOWN, "VM has exited");
	for (unsigned i = 0; i < vm->nvdevs; i++) {
		if (vm->vdevs[i].k == &balloon_desc && vm->vdevs[i].vdev) {
			*g = vm->vdevs[i].model;
			return 0;
		}
	}
	return err_shared_set(&vm->err, ENODEV, "the VM has no balloon");
}

API int cvmm_vm_set_balloon_target(struct cvmm_vm *handle, uint32_t amount_mib)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	struct balloon *g = NULL;
	int r = vm_balloon(vm, true, &g);
	if (r < 0)
		return r;
	if ((uint64_t)amount_mib << 20 > vm->cfg.memory)
		return err_shared_set(&vm->err, EINVAL,
				      "balloon: %u MiB is more than the guest's memory (%llu MiB)",
				      amount_mib, (unsigned long long)(vm->cfg.memory >> 20));
	balloon_set_target(g, amount_mib * BALLOON_MIB_PAGES);
	return 0;
}

API int cvmm_vm_set_balloon_stats_interval(struct cvmm_vm *handle, unsigned seconds)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	struct balloon *g = NULL;
	int r = vm_balloon(vm, true, &g);
	if (r < 0)
		return r;
	r = balloon_set_interval(g, seconds);
	if (r == -EINVAL)
		return err_shared_set(&vm->err, EINVAL,
				      seconds && seconds <= BALLOON_INTERVAL_MAX
					      ? "balloon: statistics were not enabled at start"
					      : "balloon: statistics cannot be turned off once "
						"enabled (interval 1..65535 s)");
	if (r < 0)
		return err_shared_set(&vm->err, -r, "balloon: %s", strerror(-r));
	return 0;
}

API int cvmm_vm_balloon_config(struct cvmm_vm *handle, struct cvmm_balloon_config *out)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	struct balloon *g = NULL;
	int r = vm_balloon(vm, false, &g);
	if (r < 0)
		return r;
	struct balloon_state st;
	balloon_state(g, &st);
	*out = (struct cvmm_balloon_config){
		.amount_mib = st.target_pages / BALLOON_MIB_PAGES,
		.flags = (st.deflate_on_oom ? CVMM_BALLOON_DEFLATE_ON_OOM : 0) |
			 (st.reporting ? CVMM_BALLOON_FREE_PAGE_REPORTING : 0),
		.stats_interval_s = st.stats_interval_s,
	};
	return 0;
}

API int cvmm_vm_balloon_stats(struct cvmm_vm *handle, struct cvmm_balloon_stats *out)
{
	struct vm *vm = (struct vm *)handle;
	err_shared_begin(&vm->err);
	struct balloon *g = NULL;
	int r = vm_balloon(vm, false, &g);
	if (r < 0)
		return r;
	struct balloon_state st;
	balloon_state(g, &st);
	if (!st.stats_interval_s)
		return err_shared_set(&vm->err, EINVAL, "balloon: statistics are not enabled");
	memset(out, 0, sizeof(*out));
	out->target_pages = st.target_pages;
	out->actual_pages = st.actual_pages;
	out->target_mib = st.target_pages / BALLOON_MIB_PAGES;
	out->actual_mib = st.actual_pages / BALLOON_MIB_PAGES;
	out->present = st.stats.present;
	_Static_assert(CVMM_BALLOON_NSTATS == BALLOON_STATS_TAGS, "one value per tag");
	memcpy(out->val, st.stats.val, sizeof(out->val));
	out->updates = st.stats_updates;
	if (st.stats_updates) {
		uint64_t now = clock_mono_ms();
		out->last_ms_ago = now > st.stats_ms ? now - st.stats_ms : 0;
	}
	return 0;
}
