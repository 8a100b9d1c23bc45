/* Reading and loading a model file for the `edgectl model` tools. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/edge_opt.h"
#include "model_tool.h"

#define MODEL_MAX_BYTES ((size_t)256 << 20)

int model_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	struct stat st;
	if (fstat(fileno(f), &st) != 0) {
		int e = -errno;
		fclose(f);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		fclose(f);
		return -EISDIR;
	}
	if ((uint64_t)st.st_size > max) {
		fclose(f);
		return -EFBIG;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	if (n && fread(buf, 1, n, f) != n) {
		int e = ferror(f) ? -EIO : -ENODATA;
		free(buf);
		fclose(f);
		return e;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

int model_file_open(struct model_file *mf, const char *path)
{
	memset(mf, 0, sizeof(*mf));
	mf->path = path;
	int rc = model_read_file(path, MODEL_MAX_BYTES, &mf->bytes, &mf->len);
	if (rc < 0) {
		fprintf(stderr, "edgectl model: %s: %s\n", path, strerror(-rc));
		return rc;
	}
	/* Load once without the optimised kernels to tell their packed data
	 * apart from the operators' own prepared data. */
	int best = edge_opt_isa_current();
	if (best != EDGE_OPT_ISA_NONE && edge_opt_set_isa(EDGE_OPT_ISA_NONE) == 0) {
		edge_infer_model *ref = NULL;
		if (edge_infer_model_load(mf->bytes, mf->len, NULL, &ref, NULL) == 0)
			mf->persistent_ref_bytes = edge_infer_model_persistent_bytes(ref);
		edge_infer_model_free(ref);
		if (edge_opt_set_isa(best) != 0)
			return -ENOTSUP;
	}
	mf->load_rc = edge_infer_model_load(mf->bytes, mf->len, NULL, &mf->model, &mf->err);
	if (mf->load_rc == 0 && best == EDGE_OPT_ISA_NONE)
		mf->persistent_ref_bytes = edge_infer_model_persistent_bytes(mf->model);
	return 0;
}

void model_file_close(struct model_file *mf)
{
	if (!mf)
		return;
	edge_infer_model_free(mf->model);
	mf->model = NULL;
	free(mf->bytes);
	mf->bytes = NULL;
}

void model_print_load_error(const struct model_file *mf)
{
	fprintf(stderr, "edgectl model: %s: %s (%s)\n", mf->path,
		mf->err.msg[0] ? mf->err.msg : edge_infer_strerror(mf->load_rc),
		edge_infer_errname(mf->load_rc));
}

size_t model_packed_bytes(const struct model_file *mf)
{
	if (!mf->model)
		return 0;
	size_t all = edge_infer_model_persistent_bytes(mf->model);
	return all > mf->persistent_ref_bytes ? all - mf->persistent_ref_bytes : 0;
}

const char *model_shape_str(const int32_t *dims, int rank, char *buf, size_t len)
{
	size_t at = 0;
	at += (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < rank && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%d", i ? "," : "", dims[i]);
	if (at < len)
		snprintf(buf + at, len - at, "]");
	return buf;
}
