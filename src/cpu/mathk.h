/* mathk.h — vector math helpers of the CPU backend that have ISA-specific versions: softmax over
 * a row (max, exp, sum). zk_softmax_select() returns the best version for this CPU. */
#ifndef ZETA_MATHK_H
#define ZETA_MATHK_H

/* x[i] = exp(x[i] * scale - max_j(x[j] * scale)) for i < n; returns the sum of the new x[i]. */
typedef double (*zk_softmax_fn)(float *x, int n, float scale);

double zk_softmax_scalar(float *x, int n, float scale);
zk_softmax_fn zk_softmax_avx2_fn(void);   /* NULL when not compiled in */
zk_softmax_fn zk_softmax_select(void);

#endif
