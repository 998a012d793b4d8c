/* inode table: link, lookup counts, forget, paths, kind change. */
#include "check.h"

#include <stdlib.h>

#include "swiftfs/inode.h"

int main(void)
{
	struct swiftfs_itable t;
	CHECK_INT(inode_table_init(&t), 0);
	struct swiftfs_inode *root = inode_find_locked(&t, SWIFTFS_ROOT_INO);
	CHECK(root != NULL);
	struct swiftfs_attr dir = { .kind = DK_DIR }, file = { .kind = DK_FILE, .size = 3 };

	struct swiftfs_inode *a = inode_link_locked(&t, root, "a", &dir);
	struct swiftfs_inode *b = inode_link_locked(&t, a, "b c", &file);
	CHECK(a && b);
	char *p = inode_path_locked(&t, b);
	CHECK_STR(p, "a/b c");
	free(p);
	p = inode_path_locked(&t, root);
	CHECK_STR(p, "");
	free(p);
	CHECK(inode_link_locked(&t, a, "b c", &file) == b);
	CHECK_INT(b->nlookup, 2);
	CHECK(inode_child_locked(&t, a, "b c") == b);

	/* many entries force the hashes to grow */
	for (int i = 0; i < 5000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		CHECK(inode_link_locked(&t, a, name, &file) != NULL);
	}
	CHECK(inode_child_locked(&t, a, "f4999") != NULL);
	CHECK(inode_child_locked(&t, a, "b c") == b);

	/* a kind change gives a new inode; the old one lives until forgotten */
	uint64_t bino = b->ino;
	struct swiftfs_inode *b2 = inode_link_locked(&t, a, "b c", &dir);
	CHECK(b2 != b);
	CHECK(inode_find_locked(&t, bino) == b);
	inode_forget_locked(&t, b, 2);
	CHECK(inode_find_locked(&t, bino) == NULL);

	/* a parent lives while a child is referenced */
	uint64_t aino = a->ino;
	inode_forget_locked(&t, a, 1);
	CHECK(inode_find_locked(&t, aino) == a);
	for (int i = 0; i < 5000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		inode_forget_locked(&t, inode_child_locked(&t, a, name), 1);
	}
	inode_forget_locked(&t, b2, 1);
	CHECK(inode_find_locked(&t, aino) == NULL);
	CHECK_INT(t.count, 1);

	/* a path forgotten and looked up again keeps its number; numbers stay
	 * in the table's range */
	struct swiftfs_inode *x = inode_link_locked(&t, root, "x", &dir);
	struct swiftfs_inode *y = inode_link_locked(&t, x, "y", &file);
	uint64_t xino = x->ino, yino = y->ino;
	CHECK(xino < (1ULL << SWIFTFS_INO_BITS) && yino < (1ULL << SWIFTFS_INO_BITS));
	CHECK(xino > SWIFTFS_ROOT_INO && yino > SWIFTFS_ROOT_INO);
	inode_forget_locked(&t, y, 1);
	inode_forget_locked(&t, x, 1);
	CHECK(inode_find_locked(&t, xino) == NULL);
	x = inode_link_locked(&t, root, "x", &dir);
	y = inode_link_locked(&t, x, "y", &file);
	CHECK_INT(x->ino, xino);
	CHECK_INT(y->ino, yino);
	inode_forget_locked(&t, y, 1);
	inode_forget_locked(&t, x, 1);
	inode_table_destroy(&t);
	CHECK_DONE();
}
