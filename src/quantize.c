/* quantize.c — zeta_quantize: executes the plan of quantize_mix.c. Checks the paths (never the
 * input as output), copies the metadata (general.quantization_version and general.file_type
 * appended as llama-quantize does), lays the output out with the GGUF writer in a temporary file
 * next to the destination, converts each tensor on the call's own threads (dequantize rows to f32,
 * quantize with the reference quantizers, write in place) and renames the file when complete. */
#include "zeta.h"
#include "gguf.h"
#include "gguf_write.h"
#include "quant.h"
#include "quantize_mix.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 512
#define CHUNK_ELEMS 65536      /* elements converted per work item */
#define QUANT_VERSION 2        /* ggml's GGML_QNT_VERSION */

zeta_quantize_params zeta_quantize_params_default(void) {
    zeta_quantize_params p;
    memset(&p, 0, sizeof p);
    return p;
}

const char *zeta_quantize_types(void) { return zq_ftype_names(); }

/* ------------------------------------------------------------------ per-type capabilities */

/* Whether zeta_dequantize_row knows the type: it writes nothing for types it does not know, so a
 * poisoned output that survives a conversion of one zero block means "no dequantizer". */
static bool can_dequantize(zeta_type type) {
    const zeta_type_traits *tr = zeta_type_get(type);
    if (!tr || tr->block_size > 256 || tr->type_size > 512) return false;
    if (type == ZETA_TYPE_F32 || type == ZETA_TYPE_F16 || type == ZETA_TYPE_BF16) return true;
    if (!tr->is_quantized) return false;
    uint8_t block[512];
    float out[256];
    memset(block, 0, sizeof block);
    const uint32_t poison = 0x7fc0dead;
    for (uint32_t i = 0; i < tr->block_size; i++) memcpy(&out[i], &poison, 4);
    zeta_dequantize_row(type, block, out, tr->block_size);
    uint32_t got;
    memcpy(&got, &out[0], 4);
    return got != poison;
}

/* ------------------------------------------------------------------ one tensor's conversion */

typedef struct job {
    const uint8_t *src;
    zeta_type from, to;
    uint64_t ne0, n_rows, rows_per_chunk, n_chunks;
    uint64_t src_row_bytes, dst_row_bytes;
    const char *name;
    int fd;
    uint64_t dst_off;
    const char *tmp_path;
    atomic_uint_fast64_t next_chunk;
    atomic_uint_fast64_t done_rows;
    atomic_bool stop;
    pthread_mutex_t mu;
    zeta_status status;        /* first failure (under mu) */
    char message[ZETA_ERROR_MESSAGE_MAX];
    /* progress, main thread only */
    bool (*on_progress)(void *user, float fraction);
    void *progress_user;
    uint64_t done_before, total;
    bool cancelled;
} job;

static void job_fail(job *j, zeta_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void job_fail(job *j, zeta_status st, const char *fmt, ...) {
    pthread_mutex_lock(&j->mu);
    if (j->status == ZETA_OK) {
        j->status = st;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->message, sizeof j->message, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&j->mu);
    atomic_store(&j->stop, true);
}

static bool write_all(int fd, const void *buf, uint64_t n, uint64_t off) {
    const uint8_t *p = buf;
    while (n) {
        size_t c = n > (1u << 30) ? (size_t)1 << 30 : (size_t)n;
        ssize_t w = pwrite(fd, p, c, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        off += (uint64_t)w;
        n -= (uint64_t)w;
    }
    return true;
}

static void work(job *j, bool is_main) {
    float *f = zeta_malloc_array((size_t)j->rows_per_chunk, (size_t)j->ne0 * sizeof *f);
    uint8_t *q = zeta_malloc_array((size_t)j->rows_per_chunk, (size_t)j->dst_row_bytes);
    if (!f || !q) {
        job_fail(j, ZETA_ERR_OUT_OF_MEMORY, "out of memory converting tensor '%s'", j->name);
        goto out;
    }
    while (!atomic_load(&j->stop)) {
        uint64_t c = atomic_fetch_add(&j->next_chunk, 1);
        if (c >= j->n_chunks) break;
        uint64_t r0 = c * j->rows_per_chunk, nr = j->n_rows - r0 < j->rows_per_chunk ? j->n_rows - r0 : j->rows_per_chunk;
        int64_t n = (int64_t)(nr * j->ne0);
        const uint8_t *s = j->src + r0 * j->src_row_bytes;
        zeta_dequantize_row(j->from, s, f, n);
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(f[i])) {
                job_fail(j, ZETA_ERR_FORMAT, "tensor '%s' has a non-finite value (%g) in row %" PRIu64 "; refusing to quantize it",
                         j->name, (double)f[i], r0 + (uint64_t)i / j->ne0);
                goto out;
            }
        }
        if (!zeta_quantize_row_ref(j->to, f, q, n)) {
            job_fail(j, ZETA_ERR_UNSUPPORTED, "tensor '%s': no %s quantizer", j->name, zeta_type_name(j->to));
            goto out;
        }
        if (!write_all(j->fd, q, nr * j->dst_row_bytes, j->dst_off + r0 * j->dst_row_bytes)) {
            job_fail(j, ZETA_ERR_IO, "%s: write failed: %s", j->tmp_path, strerror(errno));
            goto out;
        }
        uint64_t done = atomic_fetch_add(&j->done_rows, nr) + nr;
        if (is_main && j->on_progress) {
            float frac = (float)((double)(j->done_before + done * j->ne0) / (double)j->total);
            if (!j->on_progress(j->progress_user, frac)) {
                j->cancelled = true;
                atomic_store(&j->stop, true);
            }
        }
    }
out:
    free(f);
    free(q);
}

static void *worker(void *arg) {
    work(arg, false);
    return NULL;
}

/* Converts one tensor with up to n_threads threads (the calling thread is one of them). */
static zeta_status convert(job *j, int n_threads, zeta_error *err) {
    atomic_init(&j->next_chunk, 0);
    atomic_init(&j->done_rows, 0);
    atomic_init(&j->stop, false);
    j->status = ZETA_OK;
    j->cancelled = false;
    if (pthread_mutex_init(&j->mu, NULL) != 0) return zeta_fail(err, ZETA_ERR_INTERNAL, "cannot create a mutex");
    uint64_t want = j->n_chunks < (uint64_t)n_threads ? j->n_chunks : (uint64_t)n_threads;
    pthread_t th[MAX_THREADS];
    int started = 0;
    for (uint64_t i = 1; i < want; i++) {
        if (pthread_create(&th[started], NULL, worker, j) != 0) break; /* fewer threads is still correct */
        started++;
    }
    work(j, true);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j->mu);
    if (j->status != ZETA_OK) return zeta_fail(err, j->status, "%s", j->message);
    if (j->cancelled) return zeta_fail(err, ZETA_ERR_CANCELLED, "quantization cancelled at tensor '%s'", j->name);
    return ZETA_OK;
}

/* ------------------------------------------------------------------ output file */

static bool is_split_key(const char *k) {
    return !strcmp(k, "split.no") || !strcmp(k, "split.count") || !strcmp(k, "split.tensors.count");
}

/* The output's writer: the input's metadata (minus the keys llama-quantize replaces or drops),
 * then general.quantization_version and general.file_type, then the tensors in plan order. With
 * `sized` false every tensor is given 0 bytes (raw mode), which yields the header size alone. */
static zeta_status build_writer(const gguf_file *g, const zq_plan *plan, const uint64_t *sizes, uint32_t file_type,
                                bool sized, gguf_writer **out, zeta_error *err) {
    gguf_writer *w = NULL;
    zeta_status st = gguf_writer_new(&w, err);
    if (st != ZETA_OK) return st;
    if (!sized) gguf_writer_set_raw(w, true);
    for (uint64_t i = 0; i < g->n_kv && st == ZETA_OK; i++) {
        const gguf_kv *kv = &g->kv[i];
        if (!strcmp(kv->key, "general.quantization_version") || !strcmp(kv->key, "general.file_type") || is_split_key(kv->key))
            continue;
        st = gguf_writer_add_kv(w, kv, err);
    }
    if (st == ZETA_OK && gguf_find(g, "general.alignment")) st = gguf_writer_set_alignment(w, g->alignment, err);
    if (st == ZETA_OK) st = gguf_writer_add_u32(w, "general.quantization_version", QUANT_VERSION, err);
    if (st == ZETA_OK) st = gguf_writer_add_u32(w, "general.file_type", file_type, err);
    for (uint32_t k = 0; k < plan->n && st == ZETA_OK; k++) {
        const gguf_tensor *t = &g->tensors[plan->items[k].src];
        st = gguf_writer_add_tensor(w, t->name, plan->items[k].n_dims, t->ne, plan->items[k].to, NULL, sized ? sizes[k] : 0, err);
    }
    if (st != ZETA_OK) {
        gguf_writer_free(w);
        return st;
    }
    *out = w;
    return ZETA_OK;
}

/* Creates an empty temporary file next to `out` (same directory, so rename is atomic). */
static zeta_status make_temp(const char *out, char *tmp, size_t cap, zeta_error *err) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t salt = (uint64_t)ts.tv_nsec ^ ((uint64_t)(uintptr_t)tmp << 7);
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t r = salt + (uint64_t)attempt * 0x9e3779b97f4a7c15ull;
        if (snprintf(tmp, cap, "%s.tmp-%ld-%06" PRIx64, out, (long)getpid(), r & 0xffffff) >= (int)cap)
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "output path '%s' is too long", out);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            close(fd);
            return ZETA_OK;
        }
        if (errno != EEXIST)
            return zeta_fail(err, ZETA_ERR_IO, "%s: cannot create the output's temporary file %s: %s", out, tmp, strerror(errno));
    }
    return zeta_fail(err, ZETA_ERR_IO, "%s: cannot find a free temporary file name next to it", out);
}

/* ------------------------------------------------------------------ zeta_quantize */

static void report(const zeta_quantize_params *p, const gguf_file *g, const zq_plan *plan, uint32_t k,
                   const uint64_t *sizes, const char *note) {
    if (!p->on_tensor) return;
    const gguf_tensor *t = &g->tensors[plan->items[k].src];
    zeta_quantize_tensor info = {.index = k, .n_tensors = plan->n, .name = t->name, .n_dims = plan->items[k].n_dims,
                                 .from = plan->items[k].from, .to = plan->items[k].to, .bytes_in = t->n_bytes,
                                 .bytes_out = sizes[k], .note = note};
    memcpy(info.ne, t->ne, sizeof info.ne);
    p->on_tensor(p->tensor_user, &info);
}

zeta_status zeta_quantize(const char *in, const char *out, const char *type_name, const zeta_quantize_params *params,
                          zeta_quantize_result *result, zeta_error *err) {
    zeta_quantize_params p = params ? *params : zeta_quantize_params_default();
    if (result) memset(result, 0, sizeof *result);
    if (!in) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_quantize: input path is NULL");
    if (!out && !p.dry_run) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_quantize: output path is NULL");
    if (!type_name) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_quantize: type is NULL; valid types: %s", zq_ftype_names());
    if (p.n_threads < 0 || p.n_threads > MAX_THREADS)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_quantize: n_threads %d out of range (0..%d)", p.n_threads, MAX_THREADS);
    if (p.n_tensor_types && !p.tensor_types)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_quantize: n_tensor_types is %zu but tensor_types is NULL", p.n_tensor_types);
    const zq_ftype *ft = zq_ftype_find(type_name);
    if (!ft) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "'%s' is not a quantization type; valid types: %s", type_name, zq_ftype_names());
    const int n_threads = p.n_threads ? p.n_threads : (zeta_cpu_cores() > 0 ? zeta_cpu_cores() : 1);

    struct stat st_in, st_out;
    if (stat(in, &st_in) != 0) return zeta_fail(err, ZETA_ERR_IO, "%s: cannot open: %s", in, strerror(errno));
    if (!p.dry_run) {
        if (stat(out, &st_out) == 0) {
            if (st_out.st_dev == st_in.st_dev && st_out.st_ino == st_in.st_ino)
                return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "output '%s' is the input file '%s'; refusing to overwrite the input",
                                 out, in);
            if (S_ISDIR(st_out.st_mode))
                return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "output '%s' is a directory; give a file name", out);
        }
    }

    gguf_file *g = NULL;
    zq_plan plan = {0};
    uint64_t *sizes = NULL;
    gguf_writer *w = NULL;
    char tmp[4096] = "";
    bool created = false;
    int fd = -1;
    zeta_status st = gguf_open(in, true, &g, err);
    if (st != ZETA_OK) return st;
    if ((st = zq_plan_make(g, ft, p.pure, p.tensor_types, p.n_tensor_types, &plan, err))) goto done;
    if (!(sizes = zeta_calloc_array(plan.n, sizeof *sizes))) {
        st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }

    /* sizes, and what the run needs: a dequantizer for the source, a quantizer for the target */
    zeta_quantize_result res = {.n_tensors = plan.n, .n_fallback = plan.n_fallback, .file_type = ft->ftype};
    for (uint32_t k = 0; k < plan.n; k++) {
        const zq_item *it = &plan.items[k];
        const gguf_tensor *t = &g->tensors[it->src];
        uint64_t rows = t->n_elements / t->ne[0];
        if (!zeta_mul_u64(rows, zeta_row_bytes(it->to, t->ne[0]), &sizes[k]) || !zeta_add_u64(res.bytes_out, sizes[k], &res.bytes_out) ||
            !zeta_add_u64(res.n_elements, t->n_elements, &res.n_elements)) {
            st = zeta_fail(err, ZETA_ERR_FORMAT, "%s: tensor '%s' is too large", in, t->name);
            goto done;
        }
        res.bytes_in += t->n_bytes;
        if (it->from == it->to) continue;
        res.n_converted++;
        if (p.dry_run) continue;
        const char *from = zeta_type_name(it->from), *to = zeta_type_name(it->to);
        if (!can_dequantize(it->from)) {
            st = zeta_fail(err, ZETA_ERR_UNSUPPORTED, "%s: tensor '%s' is %s, which ZetaLm cannot convert to %s", in, t->name,
                           from ? from : "?", to);
            goto done;
        }
        if (zeta_type_get(it->from)->is_quantized && !p.allow_requantize) {
            st = zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                           "%s: tensor '%s' is already quantized (%s); requantizing to %s loses quality, allow it with "
                           "--allow-requantize (allow_requantize) or start from an F32/F16/BF16 model", in, t->name, from, to);
            goto done;
        }
        if (!zeta_type_can_quantize(it->to)) {
            st = zeta_fail(err, ZETA_ERR_UNSUPPORTED, "%s: ZetaLm has no %s quantizer yet (needed for tensor '%s' of %s)", to, to,
                           t->name, ft->name);
            goto done;
        }
    }

    if ((st = build_writer(g, &plan, sizes, ft->ftype, !p.dry_run, &w, err))) goto done;
    if (p.dry_run) {
        uint8_t *hdr = NULL;
        size_t hdr_n = 0;
        if ((st = gguf_writer_write_memory(w, &hdr, &hdr_n, err))) goto done;
        free(hdr);
        uint64_t a = g->alignment ? g->alignment : 32, total = gguf_writer_data_offset(w);
        for (uint32_t k = 0; k < plan.n; k++) total += (sizes[k] + a - 1) / a * a;
        res.file_bytes = total;
        for (uint32_t k = 0; k < plan.n; k++) {
            const zq_item *it = &plan.items[k];
            char note[320];
            snprintf(note, sizeof note, "%s", it->note);
            if (it->from != it->to) {
                size_t o = strlen(note);
                if (zeta_type_get(it->from)->is_quantized && !p.allow_requantize)
                    snprintf(note + o, sizeof note - o, "%srequantizing needs allow_requantize", o ? "; " : "");
                else if (!zeta_type_can_quantize(it->to))
                    snprintf(note + o, sizeof note - o, "%sno %s quantizer in ZetaLm yet", o ? "; " : "", zeta_type_name(it->to));
            }
            report(&p, g, &plan, k, sizes, note);
            if (p.on_progress && !p.on_progress(p.progress_user, (float)(k + 1) / (float)plan.n)) {
                st = zeta_fail(err, ZETA_ERR_CANCELLED, "dry run cancelled");
                goto done;
            }
        }
        if (result) *result = res;
        st = zeta_ok(err);
        goto done;
    }

    if ((st = make_temp(out, tmp, sizeof tmp, err))) goto done;
    created = true;
    if ((st = gguf_writer_write_file(w, tmp, err))) goto done;
    res.file_bytes = gguf_writer_file_size(w);
    fd = open(tmp, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        st = zeta_fail(err, ZETA_ERR_IO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    const uint64_t data = gguf_writer_data_offset(w);
    uint64_t done_elems = 0;
    for (uint32_t k = 0; k < plan.n; k++) {
        const zq_item *it = &plan.items[k];
        const gguf_tensor *t = &g->tensors[it->src];
        const uint64_t off = data + gguf_writer_tensor_offset(w, k);
        if (it->from == it->to) {
            if (!write_all(fd, t->data, t->n_bytes, off)) {
                st = zeta_fail(err, ZETA_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
                goto done;
            }
        } else {
            job j = {.src = t->data, .from = it->from, .to = it->to, .ne0 = t->ne[0], .n_rows = t->n_elements / t->ne[0],
                     .src_row_bytes = zeta_row_bytes(it->from, t->ne[0]), .dst_row_bytes = zeta_row_bytes(it->to, t->ne[0]),
                     .name = t->name, .fd = fd, .dst_off = off, .tmp_path = tmp, .on_progress = p.on_progress,
                     .progress_user = p.progress_user, .done_before = done_elems, .total = res.n_elements};
            j.rows_per_chunk = CHUNK_ELEMS / j.ne0 ? CHUNK_ELEMS / j.ne0 : 1;
            j.n_chunks = (j.n_rows + j.rows_per_chunk - 1) / j.rows_per_chunk;
            if ((st = convert(&j, n_threads, err))) goto done;
        }
        done_elems += t->n_elements;
        report(&p, g, &plan, k, sizes, it->note);
        if (p.on_progress && !p.on_progress(p.progress_user, (float)((double)done_elems / (double)res.n_elements))) {
            st = zeta_fail(err, ZETA_ERR_CANCELLED, "quantization cancelled after tensor '%s'", t->name);
            goto done;
        }
    }
    int rc = close(fd);
    fd = -1;
    if (rc != 0) {
        st = zeta_fail(err, ZETA_ERR_IO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, out) != 0) {
        st = zeta_fail(err, ZETA_ERR_IO, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
        goto done;
    }
    created = false;
    if (result) *result = res;
    st = zeta_ok(err);
done:
    if (fd >= 0) close(fd);
    if (created) unlink(tmp);
    gguf_writer_free(w);
    free(sizes);
    zq_plan_free(&plan);
    gguf_close(g);
    return st;
}
