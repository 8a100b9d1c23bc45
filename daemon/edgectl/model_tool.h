/* Shared pieces of `edgectl model inspect|run|bench`: offline tools that
 * work on a local .tflite file through lib/infer (no daemon needed). */
#ifndef EDGECTL_MODEL_TOOL_H
#define EDGECTL_MODEL_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_infer.h"

/* Exit codes of the model subcommands. */
enum { MODEL_EXIT_OK = 0, MODEL_EXIT_FAIL = 1, MODEL_EXIT_USAGE = 2 };

/* A model file read into memory and loaded. */
struct model_file {
	const char *path;            /* borrowed */
	uint8_t *bytes;              /* owned */
	size_t len;
	edge_infer_model *model;     /* owned; NULL when loading failed */
	struct edge_infer_error err; /* why loading failed */
	int load_rc;
	size_t persistent_ref_bytes; /* prepared data without optimised kernels */
};

/* Read a whole file (at most max bytes) into a new malloc'd buffer.
 * 0 or -errno (-EFBIG when larger than max). */
int model_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
	__attribute__((warn_unused_result));

/* Read and load path. Returns 0 when the file was read (mf->model may still
 * be NULL: see mf->load_rc / mf->err), -errno when it could not be read
 * (message printed). Also measures the prepared bytes without the optimised
 * kernels' packed data. */
int model_file_open(struct model_file *mf, const char *path) __attribute__((warn_unused_result));
void model_file_close(struct model_file *mf); /* NULL-safe, idempotent */

/* Print "edgectl model: <path>: <error>" for a failed load. */
void model_print_load_error(const struct model_file *mf);

/* Persistent bytes of the optimised kernels (packed weights, sums, tables). */
size_t model_packed_bytes(const struct model_file *mf);

/* One operator of a model the engine refused. */
struct model_op_entry {
	int builtin;
	const char *name;            /* static */
	int supported;               /* the engine has a kernel for it */
};

/* List the operators of mf's file even when loading failed. 0 and a
 * malloc'd array (caller frees) or -1 when the file's structure is broken. */
int model_list_ops(const struct model_file *mf, struct model_op_entry **out, int *n_out)
	__attribute__((warn_unused_result));

/* "[1,49,10,1]" into buf. */
const char *model_shape_str(const int32_t *dims, int rank, char *buf, size_t len);

int model_cmd_inspect(int argc, char **argv);
int model_cmd_run(int argc, char **argv);
int model_cmd_bench(int argc, char **argv);
int model_cmd_pack(int argc, char **argv);
int model_cmd_verify(int argc, char **argv);

/* Signed packages (model_verify.c): does path start with the package magic;
 * the package view of `model inspect` (signatures checked against
 * trust_dir's *.pub when not NULL). Returns the exit code. */
bool model_is_package(const char *path);
int model_package_inspect(const char *path, const char *trust_dir, int as_json);


#endif
