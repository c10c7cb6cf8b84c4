// SPDX-License-Identifier: GPL-2.0
/*
 * vub_nic: several VMM devices of one multiqueue NIC on one vhost-user
 * connection (see vub_nic.h).
 */
#include "vub_nic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- the registry -------------------------------------------------------- */

static bool same_key(const struct vub_nic_key *a, const struct vub_nic_key *b)
{
	return a->vmm_pid == b->vmm_pid && a->netns_dev == b->netns_dev &&
	       a->netns_ino == b->netns_ino &&
	       !strncmp(a->ifname, b->ifname, sizeof(a->ifname)) &&
	       !strncmp(a->backend, b->backend, sizeof(a->backend));
}

struct vub_nic *vub_nic_find(const struct vub_nics *nics,
			     const struct vub_nic_key *key)
{
	struct vub_nic *nic;

	for (nic = nics->head; nic; nic = nic->next)
		if (same_key(&nic->key, key))
			return nic;
	return NULL;
}

struct vub_nic *vub_nic_new(struct vub_nics *nics, const struct vub_nic_key *key)
{
	struct vub_nic *nic = calloc(1, sizeof(*nic));

	if (!nic)
		return NULL;
	nic->key = *key;
	nic->next = nics->head;
	nics->head = nic;
	return nic;
}

int vub_nic_add(struct vub_nic *nic, const void *member, unsigned int max_pairs)
{
	unsigned int k;

	if (max_pairs > VUB_NIC_MAX_PAIRS)
		max_pairs = VUB_NIC_MAX_PAIRS;
	for (k = 0; k < max_pairs; k++) {
		if (!nic->pair[k]) {
			nic->pair[k] = member;
			nic->nr_members++;
			return (int)k;
		}
	}
	return -ENOBUFS;
}

unsigned int vub_nic_remove(struct vub_nic *nic, unsigned int k)
{
	if (k < VUB_NIC_MAX_PAIRS && nic->pair[k]) {
		nic->pair[k] = NULL;
		nic->nr_members--;
	}
	return nic->nr_members;
}

void vub_nic_free(struct vub_nics *nics, struct vub_nic *nic)
{
	struct vub_nic **p;

	for (p = &nics->head; *p; p = &(*p)->next) {
		if (*p == nic) {
			*p = nic->next;
			break;
		}
	}
	vu_frontend_free(nic->fe);
	free(nic);
}

unsigned int vub_nic_max_pairs(uint64_t proto, uint64_t queue_num)
{
	if (!(proto & (1ull << VU_PF_MQ)) || !queue_num)
		return 1;
	return queue_num < VUB_NIC_MAX_PAIRS ? (unsigned int)queue_num : VUB_NIC_MAX_PAIRS;
}

/* --- the tap ---------------------------------------------------------------- */

int vub_nic_key_from_tap(const struct vub_tap_info *ti, struct vub_nic_key *key)
{
	if (!ti->multi_queue)
		return -EOPNOTSUPP;
	memcpy(key->ifname, ti->ifname, sizeof(key->ifname));
	key->ifname[sizeof(key->ifname) - 1] = '\0';
	key->netns_dev = ti->netns_dev;
	key->netns_ino = ti->netns_ino;
	return 0;
}

/* --- on the shared connection --------------------------------------------- */

bool vub_nic_same_mem(const struct vu_frontend *fe,
		      const struct vu_frontend_region *regions, unsigned int n)
{
	struct vu_frontend_region *tmp;
	struct vu_err err;
	bool same = false;
	unsigned int i;

	if (!fe->mem_set || n > VU_FRONTEND_MAX_REGIONS)
		return false;
	tmp = calloc(n ? n : 1, sizeof(*tmp));
	if (!tmp)
		return false;
	for (i = 0; i < n; i++) {
		struct stat st;

		tmp[i] = regions[i];
		if (tmp[i].file_dev || tmp[i].file_ino)
			continue;
		if (fstat(tmp[i].fd, &st))
			goto out;
		tmp[i].file_dev = st.st_dev;
		tmp[i].file_ino = st.st_ino;
	}
	if (vu_frontend_mem_merge(tmp, &n, &err) || n != fe->nmem)
		goto out;
	for (i = 0; i < n; i++) {
		const struct vu_frontend_region *a = &tmp[i], *b = &fe->mem[i].r;

		if (a->gpa != b->gpa || a->size != b->size || a->uaddr != b->uaddr ||
		    a->fd_offset != b->fd_offset || a->file_dev != b->file_dev ||
		    a->file_ino != b->file_ino)
			goto out;
	}
	same = true;
out:
	free(tmp);
	return same;
}

static int replay_mem(struct vu_frontend *to, const struct vu_frontend *from)
{
	struct vu_frontend_region *r;
	unsigned int i;
	int ret = 0;

	r = calloc(from->nmem ? from->nmem : 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (i = 0; i < from->nmem; i++)
		r[i] = from->mem[i].r;		/* fds borrowed: @to dups them */
	if (!vub_nic_same_mem(to, r, from->nmem))
		ret = vu_frontend_set_mem_table(to, r, from->nmem);
	free(r);
	return ret;
}

static int replay_ring(struct vu_frontend *to, unsigned int g,
		       const struct vu_frontend_ring *r)
{
	struct vu_vring_addr a = r->addr;
	int ret = 0;

	vu_frontend_forget_vring(to, g);	/* what a former pair left */
	if (r->have & VU_FRONTEND_RING_NUM)
		ret = vu_frontend_set_vring_num(to, g, r->num);
	if (!ret && (r->have & VU_FRONTEND_RING_BASE))
		ret = vu_frontend_set_vring_base(to, g, r->base);
	if (!ret && (r->have & VU_FRONTEND_RING_ADDR)) {
		a.index = g;
		ret = vu_frontend_set_vring_addr(to, &a);
	}
	if (!ret && (r->have & VU_FRONTEND_RING_KICK))
		ret = vu_frontend_set_vring_kick(to, g, r->kick_fd);
	if (!ret && (r->have & VU_FRONTEND_RING_CALL))
		ret = vu_frontend_set_vring_call(to, g, r->call_fd);
	if (!ret && (r->have & VU_FRONTEND_RING_ERR))
		ret = vu_frontend_set_vring_err(to, g, r->err_fd);
	return ret;
}

int vub_nic_replay(struct vu_frontend *to, unsigned int base,
		   const struct vu_frontend *from)
{
	unsigned int i;
	int ret = 0;

	if (from->features_set && (!to->features_set || to->features != from->features))
		ret = vu_frontend_set_features(to, from->features);
	if (!ret && from->mem_set)
		ret = replay_mem(to, from);
	for (i = 0; !ret && i < 2; i++)
		ret = replay_ring(to, base + i, &from->ring[i]);
	return ret;
}

int vub_nic_refresh_others(struct vu_frontend *fe, unsigned int base)
{
	unsigned int i;
	int ret;

	for (i = 0; i < VU_FRONTEND_MAX_RINGS; i++) {
		if (i / 2 == base / 2)
			continue;
		ret = vu_frontend_refresh_vring(fe, i);
		if (ret)
			return ret;
	}
	return 0;
}

int vub_nic_drop_pair(struct vu_frontend *fe, unsigned int base)
{
	unsigned int i;
	uint32_t b;
	int ret = 0;

	for (i = base; !ret && i < base + 2; i++) {
		if (fe->ring[i].started) {
			if (fe->has_proto)
				ret = vu_frontend_set_vring_enable(fe, i, false);
			if (!ret)
				ret = vu_frontend_stop_vring(fe, i, &b);
		}
		vu_frontend_forget_vring(fe, i);
	}
	if (!ret)
		ret = vub_nic_refresh_others(fe, base);
	return ret;
}
