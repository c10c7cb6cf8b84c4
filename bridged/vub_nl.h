/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vub_nl: the daemon's use of the administration API (generic netlink family
 * VUB_GENL_NAME, libnl-3): it reports each device's back-end connection
 * state and the features negotiated with the back-end, which vubctl shows
 * and the "events" group announces.
 */
#ifndef VUB_NL_H
#define VUB_NL_H

#include <stdint.h>

struct vub_nl;

/* Connect and resolve the family; NULL (errno set) if that fails. */
struct vub_nl *vub_nl_open(void);
void vub_nl_close(struct vub_nl *nl);
/*
 * VUB_CMD_BACKEND_SET: @state (enum vub_backend_state), the @features
 * negotiated with the back-end (0: not yet) and the offloads the guest may
 * use that the back-end lacks (@missing), and how often the daemon
 * reconnected it (@reconnects).  Returns 0 or -errno.
 */
int vub_nl_backend_state(struct vub_nl *nl, uint32_t dev_id, uint32_t state,
			 uint64_t features, uint64_t missing, uint32_t reconnects);

#endif /* VUB_NL_H */
