/* The writeback journal (-o writeback). With writeback, close() returns
 * once a file's data is staged and durable on local disk; the upload runs
 * in the background. What makes that safe across a crash, kill -9 or
 * reboot is one record per pending upload in <cache_dir>/writeback: the
 * object's name, its staged file, size, mtime, content type and metadata
 * headers. The staged file is fdatasync'ed, then the record is written to
 * a temporary name, fdatasync'ed and renamed into place (and the folder
 * synced): a record that exists is whole and its data is on disk. The
 * record is removed once the object is in Swift. The next mount uploads
 * what the records of its container name before it serves anything.
 *
 * Record format: text lines "key value", values percent-encoded (names
 * may hold any byte but NUL). */
#ifndef SWIFTFS_WRITEBACK_H
#define SWIFTFS_WRITEBACK_H

#include <stddef.h>
#include <stdint.h>

struct swiftfs_upload_cfg;

struct swiftfs_wb_record {
	char *account;       /* storage URL */
	char *container;
	char *object;
	char *staged;        /* path of the staged data */
	uint64_t size;
	char *mtime;         /* "seconds.micros", as X-Object-Meta-Mtime */
	char *content_type;  /* or NULL */
	char **headers;      /* "Name: value" */
	size_t nheaders;
	char *owner;         /* the live mount's owner lock in the folder, or NULL */
	char *base;          /* the ETag of the version the data replaces, "-" for
			      * none, NULL when not known */
};

/* Write rec durably as a new record in dir; *path (malloc'd) names it. */
int wb_record_write(const char *dir, const struct swiftfs_wb_record *rec, char **path);
int wb_record_read(const char *path, struct swiftfs_wb_record *rec);
void wb_record_free(struct swiftfs_wb_record *rec);

/* The owner lock of a live mount: a file in <dir>-owners (*name: its name) that
 * stays flock'ed while *fd is open. Records name their owner, and
 * recovery leaves the records of a live owner alone: mounts may share a
 * cache folder, and another mount's queued upload is not an interrupted
 * one. 0 or -errno. */
int wb_owner_take(const char *dir, char **name, int *fd);
/* Release it (the mount's records then belong to the next mount). */
void wb_owner_drop(const char *dir, char *name, int fd);

/* Upload every object that records in dir for this account and
 * container hold, oldest first, except records whose owner is still
 * alive. An object another client changed since the data was closed
 * (it is not the record's base version any more, nor this upload) is
 * left as it is: the data goes to <object>.swiftfs-conflict-<time>
 * instead; remove each record and staged file once its object is in
 * Swift; remove the lock files of owners gone. Returns how many are
 * still pending; stale (if not NULL) is told of each: its object, record
 * and staged file. */
int wb_recover(const char *dir, const char *account, const struct swiftfs_upload_cfg *cfg,
	       void (*stale)(void *arg, const char *object, const char *record,
			     const char *staged),
	       void *arg);

#endif
