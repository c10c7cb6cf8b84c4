/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vub_state: the daemon's record of one device, kept in a memfd that the
 * kernel's fd store holds (slot VUB_FD_SLOT_STATE), so that a daemon started
 * after this one died can carry on with the device where it was.
 *
 * The record is what the daemon knows that the kernel does not: the
 * device's vhost-net state (vub_dev.h), the NIC it is a queue pair of, and
 * what its vhost-user connection negotiated and was told (vu_frontend.h).
 * Every descriptor in it is named by the fd-store slot that holds a copy
 * (VUB_STATE_SLOT_NONE: none; VUB_STATE_SLOT_NOFD: the back-end was told
 * NOFD).
 *
 * The memfd holds two copies, A at offset 0 and B at VUB_STATE_COPY_SIZE
 * (room for the largest record); each write goes to the one with the older
 * generation, so a write torn by the daemon's death leaves the other
 * intact.  A copy is a header (magic, version, body length, generation,
 * flags, CRC-32C of header and body) and the body: struct vub_state's
 * fields before its arrays, then only the rings and regions in use (a
 * record is written twice per request: under 1 KiB for one queue pair).  The reader takes the valid copy with the highest generation
 * and rejects everything else: wrong magic, version or length, a bad
 * checksum, or a body whose fields are out of range (a bool that is not
 * 0/1, a count above its array, an unterminated string, a slot outside
 * the store).
 *
 * VUB_STATE_F_BUSY says that the daemon was talking to the back-end when
 * the record was written (set before a request's vhost-user exchange,
 * cleared after it): the connection's byte stream may be in the middle of
 * a message, so the next daemon must not use it, and reconnects instead.
 *
 * Pure code: no I/O.  Everything is native-endian: the record never leaves
 * the machine (nor the daemon's version: a record of another version is
 * rejected, and its devices fail with EIO).
 */
#ifndef VUB_STATE_H
#define VUB_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <linux/vhost_user_bridge.h>

#include "vu_codec.h"

#define VUB_STATE_MAGIC		0x53425556u	/* "VUBS" */
#define VUB_STATE_VERSION	2
#define VUB_STATE_MAX_RINGS	16	/* 8 queue pairs on one connection */
#define VUB_STATE_MAX_REGIONS	64
#define VUB_STATE_SLOT_NONE	UINT32_MAX
#define VUB_STATE_SLOT_NOFD	(UINT32_MAX - 1)

#define VUB_STATE_F_BUSY	0x1u

struct vub_state_region {
	uint64_t gpa, size, uaddr, fd_offset, file_dev, file_ino;
	uint32_t slot;
	uint32_t pad;
};

struct vub_state_ring {
	uint32_t num, base;
	struct vu_vring_addr addr;
	uint32_t have;
	uint32_t kick_slot, call_slot, err_slot;
	uint8_t want_started, started, stale, enable, enabled, pad[3];
};

struct vub_state {
	/* the device (struct vub_dev) */
	uint32_t dev_id, vmm_pid, instance_id, pair;
	char instance_socket[VUB_SOCKET_MAX];
	uint8_t lost, attached[2], features_set, tap_seen, in_nic, has_fe, pad0;
	uint32_t busyloop[2];
	uint64_t vmm_features, sent_features, offloads, missing, nr_reqs;
	uint32_t nr_reconnects, pad1;
	/* its NIC's key (struct vub_nic_key), when in_nic */
	uint32_t nic_vmm_pid, pad2;
	uint64_t nic_netns_dev, nic_netns_ino;
	char nic_ifname[16];
	char nic_backend[VUB_SOCKET_MAX];
	/* its connection (struct vu_frontend), when has_fe */
	uint8_t connected, has_proto, fe_features_set, features_sent, owner_sent,
		replay_owner, mem_set, mem_sent;
	uint8_t status, pad3[3];
	uint32_t conn_slot, backend_slot;
	uint64_t backend_features, backend_proto, proto, queue_num, max_mem_slots, features;
	uint32_t nr_rings, nmem, ninstalled, pad4;
	struct vub_state_ring ring[VUB_STATE_MAX_RINGS];
	struct vub_state_region mem[VUB_STATE_MAX_REGIONS];
	struct vub_state_region installed[VUB_STATE_MAX_REGIONS];
};

struct vub_state_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t len;		/* bytes of body: sizeof(struct vub_state) */
	uint32_t flags;		/* VUB_STATE_F_* */
	uint64_t generation;	/* from 1, one more per write */
	uint32_t crc;		/* CRC-32C of the header (crc 0) and the body */
	uint32_t reserved;	/* 0 */
};

/* One copy, rounded up to a page; the memfd is twice that. */
#define VUB_STATE_COPY_SIZE	((sizeof(struct vub_state_hdr) + sizeof(struct vub_state) + 4095) & ~(size_t)4095)

uint32_t vub_state_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * Encode @s as generation @gen with @flags into @buf (VUB_STATE_COPY_SIZE
 * bytes): the header, then the body (the fields before ring[], then the
 * nr_rings rings, the nmem and the ninstalled regions).  Returns the bytes
 * written; the rest of @buf is untouched.
 */
size_t vub_state_encode(const struct vub_state *s, uint64_t gen, uint32_t flags, void *buf);
/*
 * Decode one copy of @len bytes: 0 with *s, *gen and *flags, or -EBADMSG
 * (torn or foreign), -EPROTONOSUPPORT (another version) or -EINVAL (a
 * field out of range).
 */
int vub_state_decode(const void *buf, size_t len, struct vub_state *s, uint64_t *gen,
		     uint32_t *flags);
/*
 * The whole memfd content (both copies, @len bytes; a short or torn second
 * copy is fine): the valid copy with the highest generation.  Returns its
 * index (0 or 1) or the first copy's error when neither is valid.
 */
int vub_state_pick(const void *buf, size_t len, struct vub_state *s, uint64_t *gen,
		   uint32_t *flags);

#endif /* VUB_STATE_H */
