/* Worker pool: a mutex-guarded FIFO and a condition variable. */
#include "swiftfs/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct job {
	workpool_fn fn;
	void *arg;
	struct job *next;
};

struct swiftfs_workpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail; /* lock */
	bool stopping;           /* lock */
	unsigned running;        /* lock: workers running a job */
	unsigned nthreads;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct swiftfs_workpool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		struct job *j = p->head;
		if (!j)
			break;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->running++;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&p->lock);
		p->running--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int workpool_new(unsigned nthreads, struct swiftfs_workpool **out)
{
	struct swiftfs_workpool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		workpool_free(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
}

bool workpool_all_busy(struct swiftfs_workpool *p)
{
	pthread_mutex_lock(&p->lock);
	bool busy = p->running >= p->nthreads;
	pthread_mutex_unlock(&p->lock);
	return busy;
}

int workpool_submit(struct swiftfs_workpool *p, workpool_fn fn, void *arg)
{
	struct job *j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void workpool_free(struct swiftfs_workpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
