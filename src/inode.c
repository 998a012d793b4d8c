/* Inode table (see inode.h for the reasoning). Two chained hash tables:
 * by number, and by (parent number, name). Both grow at load factor 1. */
#include "swiftfs/inode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t hash_u64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (size_t)v;
}

static size_t hash_name(uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ parent;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return hash_u64(h);
}

static void ino_insert(struct swiftfs_itable *t, struct swiftfs_inode *n)
{
	size_t b = hash_u64(n->ino) & (t->nbuckets - 1);
	n->ino_next = t->by_ino[b];
	t->by_ino[b] = n;
}

static void name_insert(struct swiftfs_itable *t, struct swiftfs_inode *n)
{
	size_t b = hash_name(n->parent ? n->parent->ino : 0, n->name) & (t->nbuckets - 1);
	n->name_next = t->by_name[b];
	t->by_name[b] = n;
	n->hashed = true;
}

static void name_remove(struct swiftfs_itable *t, struct swiftfs_inode *n)
{
	if (!n->hashed)
		return;
	size_t b = hash_name(n->parent ? n->parent->ino : 0, n->name) & (t->nbuckets - 1);
	for (struct swiftfs_inode **pp = &t->by_name[b]; *pp; pp = &(*pp)->name_next) {
		if (*pp == n) {
			*pp = n->name_next;
			break;
		}
	}
	n->hashed = false;
}

static void ino_remove(struct swiftfs_itable *t, struct swiftfs_inode *n)
{
	size_t b = hash_u64(n->ino) & (t->nbuckets - 1);
	for (struct swiftfs_inode **pp = &t->by_ino[b]; *pp; pp = &(*pp)->ino_next) {
		if (*pp == n) {
			*pp = n->ino_next;
			return;
		}
	}
}

static int grow(struct swiftfs_itable *t)
{
	size_t nb = t->nbuckets * 2;
	struct swiftfs_inode **bi = calloc(nb, sizeof(*bi));
	struct swiftfs_inode **bn = calloc(nb, sizeof(*bn));
	if (!bi || !bn) {
		free(bi);
		free(bn);
		return -ENOMEM;
	}
	struct swiftfs_inode **oi = t->by_ino;
	size_t ob = t->nbuckets;
	free(t->by_name);
	t->by_ino = bi;
	t->by_name = bn;
	t->nbuckets = nb;
	for (size_t i = 0; i < ob; i++) {
		struct swiftfs_inode *n = oi[i];
		while (n) {
			struct swiftfs_inode *next = n->ino_next;
			ino_insert(t, n);
			if (n->hashed)
				name_insert(t, n);
			n = next;
		}
	}
	free(oi);
	return 0;
}

int inode_table_init(struct swiftfs_itable *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->nbuckets = 1024;
	t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
	t->by_name = calloc(t->nbuckets, sizeof(*t->by_name));
	if (!t->by_ino || !t->by_name)
		return -ENOMEM;
	struct swiftfs_inode *root = calloc(1, sizeof(*root));
	if (!root)
		return -ENOMEM;
	root->ino = SWIFTFS_ROOT_INO;
	root->name = strdup("");
	root->nlookup = 1;
	root->attr.kind = DK_DIR;
	if (!root->name) {
		free(root);
		return -ENOMEM;
	}
	ino_insert(t, root);
	t->count = 1;
	return 0;
}

void dlref_put_locked(struct swiftfs_dlref *r)
{
	if (r && --r->refs == 0) {
		listing_dirlist_free(&r->dl);
		free(r);
	}
}

void overlay_free(struct swiftfs_overlay *o)
{
	while (o) {
		struct swiftfs_overlay *next = o->next;
		free(o->name);
		free(o->d.name);
		free(o->d.marker_name);
		free(o->d.etag);
		free(o->d.content_type);
		free(o);
		o = next;
	}
}

#define GHOST_SLOTS 16384

struct swiftfs_ghost {
	uint64_t parent_ino;
	char *name;
	struct swiftfs_attr attr;
};

static uint64_t ino_hash(const struct swiftfs_inode *parent, const char *name);

/* Ghosts are found by parent and name (a renamed inode's number is its
 * old name's). */
static void ghost_put(struct swiftfs_itable *t, const struct swiftfs_inode *n)
{
	if (!n->parent || !n->attr.exact || n->attr.kind == DK_DIR || !n->hashed)
		return;
	if (!t->ghosts)
		t->ghosts = calloc(GHOST_SLOTS, sizeof(*t->ghosts));
	if (!t->ghosts)
		return;
	struct swiftfs_ghost *g = &t->ghosts[ino_hash(n->parent, n->name) % GHOST_SLOTS];
	char *name = strdup(n->name);
	if (!name)
		return;
	free(g->name);
	g->parent_ino = n->parent->ino;
	g->name = name;
	g->attr = n->attr;
}

static void inode_free(struct swiftfs_inode *n)
{
	overlay_free(n->overlay);
	dlref_put_locked(n->list);
	free(n->name);
	free(n->symlink_target);
	free(n);
}

void inode_table_destroy(struct swiftfs_itable *t)
{
	for (size_t i = 0; i < t->nbuckets && t->by_ino; i++) {
		struct swiftfs_inode *n = t->by_ino[i];
		while (n) {
			struct swiftfs_inode *next = n->ino_next;
			inode_free(n);
			n = next;
		}
	}
	for (size_t i = 0; t->ghosts && i < GHOST_SLOTS; i++)
		free(t->ghosts[i].name);
	free(t->ghosts);
	free(t->by_ino);
	free(t->by_name);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	memset(t, 0, sizeof(*t));
}

struct swiftfs_inode *inode_find_locked(struct swiftfs_itable *t, uint64_t ino)
{
	for (struct swiftfs_inode *n = t->by_ino[hash_u64(ino) & (t->nbuckets - 1)]; n;
	     n = n->ino_next)
		if (n->ino == ino)
			return n;
	return NULL;
}

struct swiftfs_inode *inode_child_locked(struct swiftfs_itable *t, struct swiftfs_inode *parent,
					 const char *name)
{
	size_t b = hash_name(parent->ino, name) & (t->nbuckets - 1);
	for (struct swiftfs_inode *n = t->by_name[b]; n; n = n->name_next)
		if (n->parent == parent && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

/* Inode numbers are a hash of the parent's number and the name, so a
 * path keeps its number when the kernel forgets the inode (memory
 * pressure, drop_caches) and looks it up again: tar, rsync and find
 * compare st_ino. A number taken by another live inode moves on to the
 * next free one. */
static uint64_t ino_hash(const struct swiftfs_inode *parent, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ parent->ino;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	/* splitmix64 finalizer */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h & ((1ULL << SWIFTFS_INO_BITS) - 1);
}

static uint64_t ino_for(struct swiftfs_itable *t, const struct swiftfs_inode *parent,
			const char *name)
{
	const uint64_t mask = (1ULL << SWIFTFS_INO_BITS) - 1;
	uint64_t h = ino_hash(parent, name);
	while (h <= SWIFTFS_ROOT_INO || inode_find_locked(t, h))
		h = (h + 1) & mask;
	return h;
}

const struct swiftfs_attr *inode_ghost_find_locked(struct swiftfs_itable *t,
						   struct swiftfs_inode *parent, const char *name)
{
	if (!t->ghosts)
		return NULL;
	const struct swiftfs_ghost *g = &t->ghosts[ino_hash(parent, name) % GHOST_SLOTS];
	if (!g->name || g->parent_ino != parent->ino || strcmp(g->name, name) != 0)
		return NULL;
	return &g->attr;
}

struct swiftfs_inode *inode_link_locked(struct swiftfs_itable *t, struct swiftfs_inode *parent,
					const char *name, const struct swiftfs_attr *attr)
{
	struct swiftfs_inode *n = inode_child_locked(t, parent, name);
	if (n && n->attr.kind != attr->kind) {
		name_remove(t, n); /* stays alive until forgotten */
		n = NULL;
	}
	if (!n) {
		if (t->count >= t->nbuckets && grow(t))
			return NULL;
		n = calloc(1, sizeof(*n));
		if (!n)
			return NULL;
		n->name = strdup(name);
		if (!n->name) {
			free(n);
			return NULL;
		}
		n->ino = ino_for(t, parent, name);
		n->parent = parent;
		parent->refs++;
		ino_insert(t, n);
		name_insert(t, n);
		t->count++;
	}
	n->attr = *attr;
	n->nlookup++;
	return n;
}

static void maybe_free_locked(struct swiftfs_itable *t, struct swiftfs_inode *n)
{
	while (n && n->ino != SWIFTFS_ROOT_INO && n->nlookup == 0 && n->refs == 0) {
		struct swiftfs_inode *parent = n->parent;
		ghost_put(t, n);
		name_remove(t, n);
		ino_remove(t, n);
		t->count--;
		inode_free(n);
		if (!parent)
			break;
		parent->refs--;
		n = parent;
	}
}

void inode_forget_locked(struct swiftfs_itable *t, struct swiftfs_inode *n, uint64_t count)
{
	n->nlookup = count > n->nlookup ? 0 : n->nlookup - count;
	maybe_free_locked(t, n);
}

void inode_ref_locked(struct swiftfs_inode *n)
{
	n->refs++;
}

void inode_unref_locked(struct swiftfs_itable *t, struct swiftfs_inode *n)
{
	n->refs--;
	maybe_free_locked(t, n);
}

char *inode_path_locked(struct swiftfs_itable *t, struct swiftfs_inode *n)
{
	size_t len = 0;
	(void)t;
	for (struct swiftfs_inode *p = n; p && p->ino != SWIFTFS_ROOT_INO; p = p->parent)
		len += strlen(p->name) + 1;
	char *path = malloc(len + 1);
	if (!path)
		return NULL;
	path[len] = '\0';
	size_t pos = len;
	for (struct swiftfs_inode *p = n; p && p->ino != SWIFTFS_ROOT_INO; p = p->parent) {
		size_t l = strlen(p->name);
		pos -= l;
		memcpy(path + pos, p->name, l);
		if (pos > 0)
			path[--pos] = '/';
	}
	/* pos is 0 here, or 1 when the loop wrote a leading '/' we must drop */
	if (len > 0 && path[0] == '/')
		memmove(path, path + 1, len);
	return path;
}

int inode_move_locked(struct swiftfs_itable *t, struct swiftfs_inode *n,
		      struct swiftfs_inode *parent, const char *name)
{
	char *nn = strdup(name);
	if (!nn)
		return -ENOMEM;
	struct swiftfs_inode *old = inode_child_locked(t, parent, name);
	if (old && old != n)
		name_remove(t, old);
	name_remove(t, n);
	free(n->name);
	n->name = nn;
	if (n->parent != parent) {
		struct swiftfs_inode *op = n->parent;
		parent->refs++;
		n->parent = parent;
		op->refs--;
		/* op is still referenced by the caller's lookup; nothing to free */
	}
	name_insert(t, n);
	return 0;
}

void inode_unhash_locked(struct swiftfs_itable *t, struct swiftfs_inode *n)
{
	name_remove(t, n);
}
