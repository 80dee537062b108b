/* SPDX-License-Identifier: MIT */
#ifndef CVMM_KVM_H
#define CVMM_KVM_H

#include "core/err.h"

/* Opens /dev/kvm (path overridable for tests), checks the API version and
 * every capability cvmm relies on; the message names what is missing.
 * Returns the fd or a negative errno. */
__attribute__((warn_unused_result)) int kvm_open_checked(const char *path, struct err *e);
/* The most vCPUs KVM allows in one VM. */
unsigned kvm_max_vcpus(int kvm_fd);

#endif
