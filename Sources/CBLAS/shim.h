#ifndef FLOWOOD_CBLAS_SHIM_H
#define FLOWOOD_CBLAS_SHIM_H
#include <cblas.h>

/* LAPACK routines (Fortran calling convention, column-major) exported by libopenblas but
   declared in no installed header (liblapacke-dev is not needed for these). */
void sgetrf_(const blasint *m, const blasint *n, float *a, const blasint *lda, blasint *ipiv, blasint *info);
void dgetrf_(const blasint *m, const blasint *n, double *a, const blasint *lda, blasint *ipiv, blasint *info);
void sgetri_(const blasint *n, float *a, const blasint *lda, const blasint *ipiv, float *work,
             const blasint *lwork, blasint *info);
void dgetri_(const blasint *n, double *a, const blasint *lda, const blasint *ipiv, double *work,
             const blasint *lwork, blasint *info);

#endif
