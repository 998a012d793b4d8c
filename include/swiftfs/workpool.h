/* A fixed pool of threads running queued jobs in FIFO order. Used for
 * read-ahead (and later uploads) so the number of concurrent transfers is
 * bounded no matter how many files are open. */
#ifndef SWIFTFS_WORKPOOL_H
#define SWIFTFS_WORKPOOL_H

#include <stdbool.h>

struct swiftfs_workpool;

typedef void (*workpool_fn)(void *arg);

int workpool_new(unsigned nthreads, struct swiftfs_workpool **out);
/* 0 or -ENOMEM. The job runs later on a pool thread. */
int workpool_submit(struct swiftfs_workpool *p, workpool_fn fn, void *arg);
/* Is every thread running a job (so a queued one waits for one to end)? */
bool workpool_all_busy(struct swiftfs_workpool *p);
/* Runs every queued job, then joins the threads. */
void workpool_free(struct swiftfs_workpool *p);

#endif
