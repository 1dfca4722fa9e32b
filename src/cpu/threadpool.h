/* threadpool.h — a fixed pool of worker threads owned by one session. pool_run() runs fn on every
 * thread (the caller is thread 0) and returns when all are done. Workers spin briefly for the next
 * job (decode issues hundreds of jobs per token), then sleep on a condition variable. */
#ifndef ZETA_THREADPOOL_H
#define ZETA_THREADPOOL_H

typedef void (*pool_fn)(void *arg, int ith, int nth);
typedef struct threadpool threadpool;

/* n_threads >= 1 (1 = no workers, everything runs on the caller). NULL on failure. */
threadpool *pool_new(int n_threads);
void pool_free(threadpool *p);
int pool_size(const threadpool *p);
void pool_run(threadpool *p, pool_fn fn, void *arg);

#endif
