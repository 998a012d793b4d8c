/* listing: the parser on XML captured from Swift 2.30 (fixtures/), and
 * the directory builder: markers of both forms, subdir merge, file/dir
 * name clash, hostile names, control characters, names no path can hold. */
#include "check.h"

#include <errno.h>
#include <stdlib.h>

#include "swiftfs/listing.h"
#include "swiftfs/util.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct swiftfs_buf b = { 0 };
	char tmp[4096];
	size_t n;
	if (!f) {
		fprintf(stderr, "cannot open %s (run from tests/unit)\n", path);
		exit(2);
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	buf_terminate(&b);
	*len = b.len;
	return b.data;
}

static int load(const char *path, const char *prefix, struct swiftfs_lpage *pg,
		struct swiftfs_dirlist *dl)
{
	size_t len;
	char *xml = slurp(path, &len);
	memset(pg, 0, sizeof(*pg));
	int rc = listing_parse(xml, len, pg);
	free(xml);
	if (rc)
		return rc;
	return listing_to_dirlist(prefix, pg, dl);
}

static const struct swiftfs_dirent *find(struct swiftfs_dirlist *dl, const char *n)
{
	return listing_dirlist_find(dl, n);
}

int main(void)
{
	struct swiftfs_lpage pg;
	struct swiftfs_dirlist dl;

	CHECK_INT(load("fixtures/root.xml", "", &pg, &dl), 0);
	CHECK_INT(pg.raw_count, 23);
	/* sorted, unique */
	for (size_t i = 1; i < dl.n; i++)
		CHECK(strcmp(dl.v[i - 1].name, dl.v[i].name) < 0);
	const struct swiftfs_dirent *d;
	CHECK((d = find(&dl, "a")) && d->kind == DK_DIR);       /* dir hides file "a" */
	CHECK((d = find(&dl, "a.txt")) && d->kind == DK_FILE && d->size == 4);
	CHECK((d = find(&dl, "d")) && d->kind == DK_DIR && d->has_marker);
	CHECK((d = find(&dl, "e")) && d->kind == DK_DIR);       /* "e/" marker form */
	CHECK(find(&dl, "sp ace") && find(&dl, "pct%25") && find(&dl, "q?x"));
	CHECK(find(&dl, "h#1") && find(&dl, "plus+") && find(&dl, "amp&;"));
	CHECK(find(&dl, "quo'\"te") && find(&dl, "\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac"));
	CHECK(find(&dl, "ctl\nnl") != NULL);
	CHECK(find(&dl, "ctl\x01" "a") != NULL);                /* control byte kept */
	CHECK(find(&dl, ".") == NULL && find(&dl, "..") == NULL);
	CHECK((d = find(&dl, "s")) && d->kind == DK_DIR);
	CHECK((d = find(&dl, "dd")) && d->kind == DK_DIR);
	/* the 300-byte name, ".", ".." and the hidden file "a" are left out */
	CHECK_INT(dl.skipped, 4);
	for (size_t i = 0; i < dl.n; i++)
		CHECK(strncmp(dl.v[i].name, "long", 4) != 0);
	d = find(&dl, "a.txt");
	CHECK_STR(d->etag, "8d777f385d3dfec8815d20f7496026dc");
	CHECK(d->mtime.tv_sec > 1700000000);
	listing_dirlist_free(&dl);
	listing_page_free(&pg);

	/* names come back exactly, whatever they hold: a page that needs the
	 * escape (a control byte, U+FFFE) with a name that holds the escape's
	 * own private-use characters, and a page that needs none */
	{
		static const char *const names[] = {
			"pua\xef\x9c\x81",             /* U+F701: not "pua\x01" */
			"both\x01\xef\x9c\x81\xef\x9c\xa2", /* ^A, U+F701, U+F722 */
			"nonchar\xef\xbf\xbe\xef\xbf\xbf",   /* U+FFFE U+FFFF */
			"ctl\x02",
		};
		for (int with_bad = 0; with_bad < 2; with_bad++) {
			struct swiftfs_buf x = { 0 };
			buf_printf(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				       "<container name=\"c\">");
			for (size_t i = 0; i < 4; i++) {
				if (!with_bad && i != 0)
					continue;
				buf_printf(&x, "<object><name>%s</name><hash>h</hash><bytes>1</bytes>"
					       "<content_type>x</content_type><last_modified>2024-01-"
					       "01T00:00:00.000000</last_modified></object>", names[i]);
				buf_printf(&x, "<subdir name=\"%s/\"><name>%s/</name></subdir>",
					   names[i], names[i]);
			}
			buf_printf(&x, "</container>\n");
			memset(&pg, 0, sizeof(pg));
			CHECK_INT(listing_parse(x.data, x.len, &pg), 0);
			size_t want = with_bad ? 8 : 2;
			CHECK_INT(pg.n, want);
			for (size_t i = 0; i < pg.n && i < want; i++) {
				char sub[64];
				snprintf(sub, sizeof(sub), "%s/", names[i / 2]);
				CHECK_STR(pg.v[i].name, i % 2 ? sub : names[i / 2]);
			}
			listing_page_free(&pg);
			buf_free(&x);
		}
	}

	/* inside d/: its own "d/" marker is not an entry */
	CHECK_INT(load("fixtures/d.xml", "d/", &pg, &dl), 0);
	CHECK_INT(dl.n, 0);
	listing_dirlist_free(&dl);
	listing_page_free(&pg);

	/* "s//t": an empty segment cannot be a name */
	CHECK_INT(load("fixtures/s.xml", "s/", &pg, &dl), 0);
	CHECK_INT(dl.n, 0);
	CHECK_INT(dl.skipped, 1);
	listing_dirlist_free(&dl);
	listing_page_free(&pg);

	/* "dot/./x": "." is left out, "dot/x" is a file */
	CHECK_INT(load("fixtures/dot.xml", "dot/", &pg, &dl), 0);
	CHECK_INT(dl.n, 1);
	CHECK((d = find(&dl, "x")) && d->kind == DK_FILE);
	listing_dirlist_free(&dl);
	listing_page_free(&pg);

	/* a zero-byte, non-marker object might be a DLO */
	CHECK_INT(load("fixtures/e.xml", "e/", &pg, &dl), 0);
	CHECK((d = find(&dl, "x")) && d->kind == DK_FILE);
	listing_dirlist_free(&dl);
	listing_page_free(&pg);

	/* an empty container answers with an empty body */
	memset(&pg, 0, sizeof(pg));
	CHECK_INT(listing_parse("", 0, &pg), 0);
	CHECK_INT(pg.n, 0);
	listing_page_free(&pg);

	/* account listings */
	CHECK_INT(load("fixtures/account.xml", "", &pg, &dl), 0);
	CHECK(pg.n >= 1);
	CHECK(pg.v[0].count >= 1 || pg.v[0].bytes == 0);
	listing_dirlist_free(&dl);
	listing_page_free(&pg);

	/* hostile XML: external entities are not fetched or expanded, garbage fails */
	const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE c [<!ENTITY x SYSTEM "
			  "\"file:///etc/passwd\">]><container name=\"c\"><object><name>&x;</name>"
			  "<bytes>1</bytes></object></container>";
	memset(&pg, 0, sizeof(pg));
	int rc = listing_parse(xxe, strlen(xxe), &pg);
	CHECK(rc != 0 || (pg.n == 1 && strstr(pg.v[0].name, "root:") == NULL));
	listing_page_free(&pg);
	memset(&pg, 0, sizeof(pg));
	CHECK_INT(listing_parse("<notxml", 7, &pg), -EIO);
	listing_page_free(&pg);
	memset(&pg, 0, sizeof(pg));
	CHECK_INT(listing_parse("<foo/>", 6, &pg), -EIO);
	listing_page_free(&pg);

	CHECK(listing_is_dir_type("application/directory"));
	CHECK(listing_is_dir_type("text/directory; charset=utf-8"));
	CHECK(!listing_is_dir_type("application/directoryx"));
	CHECK(!listing_is_dir_type(NULL));
	CHECK(!listing_valid_segment("..", 2));
	CHECK(listing_valid_segment("...", 3));
	CHECK_DONE();
}
